"""Any engine with a command line (marian-decoder, Bergamot's ``translator-cli``, ``ct2-translator``, a shell
pipeline): segments on its standard input, translations on its standard output, one a line (or JSON lines).

``{source_language}`` and ``{target_language}`` in the argv are replaced by the direction's language codes. A
process that exits with an error, prints more or fewer lines than it was given, or gives no result within
``timeout_s`` ends the run with one line naming the command and what its standard error said last. With
``batch_size`` each batch is its own process (``max_concurrent`` of them at a time), and each finished batch is
handed to the translation cache at once, so a rerun after a failure translates only the batches that failed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, StrictInt, field_validator

from evalharness.errors import ConfigError, TranslationError
from evalharness.systems.base import BatchFn, System, Translation
from evalharness.systems.batching import run_concurrently
from evalharness.systems.postprocess import check_rules, finish, ordered
from evalharness.systems.settings import SystemSettings

STDERR_TAIL = 300
"""Characters of a failed command's standard error that its message quotes (the end: where the error is)."""


class CommandSettings(SystemSettings):
    """A command, how it reads and writes, how long it may take, and how the corpus is split among processes."""

    backend: Literal["command"] = "command"
    command: list[str] = Field(min_length=1)
    io: Literal["lines", "jsonl"] = "lines"
    timeout_s: float = Field(default=600.0, gt=0, le=86_400, allow_inf_nan=False)
    batch_size: StrictInt | None = Field(default=None, ge=1)  # None: the whole direction in one process
    max_concurrent: StrictInt = Field(default=1, ge=1, le=256)
    postprocess: list[str] = Field(default_factory=list)
    cache: bool = True  # false for a command whose outputs change behind the same argv (a script being edited)

    _rules = field_validator("postprocess")(check_rules)

    @field_validator("command")
    @classmethod
    def _program_named(cls, command: list[str]) -> list[str]:
        if not command[0].strip():
            raise ValueError("the first item is the program to run; it is empty")
        return command


def executable_hash(program: str) -> str | None:
    """SHA-256 of the program the command runs (found on ``$PATH``), so that a new build misses the cache."""
    path = shutil.which(program)
    if path is None:
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


class CommandSystem(System):
    """Runs a command per direction (or per batch) with the segments on its standard input."""

    Settings = CommandSettings
    settings: CommandSettings
    cacheable: ClassVar[bool] = True

    def __init__(self, settings: CommandSettings, **context: Any) -> None:
        super().__init__(settings, **context)  # seed, key, store, notify: see System
        self.processes = 0
        self.postprocessed: dict[str, int] = {}
        self._program: str | None = None

    def repeatable(self) -> bool:
        """As configured: ``cache: false`` for a command whose outputs may change."""
        return self.settings.cache

    def program(self) -> str:
        """The hash of the executable (or its name, when not found: preflight reports that)."""
        if self._program is None:
            self._program = executable_hash(self.settings.command[0]) or self.settings.command[0]
        return self._program

    def identity(self) -> dict[str, Any]:
        """The argv, the program's hash, the I/O form, the batching and the post-processing rules."""
        s = self.settings
        return {"backend": "command", "command": s.command, "program": self.program(), "io": s.io,
                "batch_size": s.batch_size, "postprocess": ordered(s.postprocess)}

    def manifest(self) -> dict[str, Any]:
        """Identity plus what this run did."""
        return {**self.identity(), "timeout_s": self.settings.timeout_s, "max_concurrent": self.settings.max_concurrent,
                "processes": self.processes, "postprocessed": dict(sorted(self.postprocessed.items()))}

    def preflight(self, segments: int) -> None:
        """The program exists and is executable, before any system translates."""
        program = self.settings.command[0]
        found = shutil.which(program)
        if found is None:
            what = "is not executable" if Path(program).exists() else "not found"
            raise ConfigError(f"{self.key}.command: {program!r} {what} (system {self.name!r}); give the program's "
                              "path or put it on PATH")

    def argv(self, src: str, tgt: str) -> list[str]:
        """The command with the direction's language codes put in."""
        return [a.replace("{source_language}", src).replace("{target_language}", tgt) for a in self.settings.command]

    def finish(self, raw: Translation, source: str) -> Translation:
        """The configured clean-up rules applied, each removal (and a multi-line answer) noted and counted."""
        return finish(raw, source, self.settings.postprocess, self.postprocessed)

    def translate(self, texts: Sequence[str], src: str, tgt: str, *,
                  on_batch: BatchFn | None = None) -> list[Translation]:
        """One process per batch (the whole input without ``batch_size``), outputs in input order."""
        if not texts:
            return []
        if self.settings.io == "lines":
            for i, text in enumerate(texts):
                if "\n" in text or "\r" in text:
                    raise TranslationError(f"system {self.name!r}: segment {i + 1} holds a line break, which "
                                           f"io: lines cannot pass to the command; set {self.key}.io: jsonl")
        size = self.settings.batch_size or len(texts)
        batches = [list(range(i, min(i + size, len(texts)))) for i in range(0, len(texts), size)]
        argv = self.argv(src, tgt)
        return run_concurrently(batches, lambda b: self._run(argv, [texts[i] for i in b], b[0], len(texts)),
                                self.settings.max_concurrent, on_batch)

    def _label(self, argv: list[str]) -> str:
        text = shlex.join(argv)
        return text if len(text) <= 80 else text[:77] + "..."

    def _run(self, argv: list[str], texts: list[str], first: int, total: int) -> list[Translation]:
        """One process over ``texts`` (segments ``first`` + 1 …): its outputs, post-processed."""
        s = self.settings
        where = f"segments {first + 1}-{first + len(texts)} of {total}" if len(texts) < total else "all segments"
        label = f"system {self.name!r}: command {self._label(argv)} ({where})"
        if s.io == "lines":
            payload = "".join(t + "\n" for t in texts)
        else:
            payload = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
        try:
            # its own process group: a shell pipeline's children die with it on a timeout
            process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       start_new_session=True)
        except OSError as err:
            raise TranslationError(f"{label}: cannot start ({err.strerror or err}); check {self.key}.command"
                                   ) from None
        self.processes += 1
        try:
            out, err_bytes = process.communicate(payload.encode("utf-8"), timeout=s.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            out, err_bytes = process.communicate()
            raise TranslationError(f"{label}: no result within timeout_s {s.timeout_s:g}, killed"
                                   f"{_stderr_tail(err_bytes)}; raise {self.key}.timeout_s if it is just slow"
                                   ) from None
        except BaseException:
            _kill_group(process)
            process.communicate()
            raise
        if process.returncode != 0:
            how = (f"was killed by signal {-process.returncode}" if process.returncode < 0
                   else f"exited with status {process.returncode}")
            raise TranslationError(f"{label}: {how}{_stderr_tail(err_bytes)}")
        try:
            stdout = out.decode("utf-8")
        except UnicodeDecodeError as err:
            raise TranslationError(f"{label}: output is not UTF-8 (byte {err.start})") from None
        lines = stdout.splitlines() if s.io == "jsonl" else stdout.split("\n")
        if s.io == "lines":
            if lines and lines[-1] == "":
                lines.pop()  # the final line's newline
            lines = [line.removesuffix("\r") for line in lines]
        if len(lines) != len(texts):
            raise TranslationError(f"{label}: printed {len(lines)} lines for {len(texts)} segments; it must print "
                                   f"exactly one line per input line{_stderr_tail(err_bytes)}")
        outputs = [self._parse(line, n + first, label) for n, line in enumerate(lines)]
        for n, text in enumerate(outputs):  # a NUL is no translation: a binary or a broken pipe somewhere
            if "\0" in text:
                raise TranslationError(f"{label}: output line {n + first + 1} holds a NUL byte; a translation is "
                                       "text (is the command writing binary output?)")
        return [self.finish(Translation(text), source) for text, source in zip(outputs, texts, strict=True)]

    def _parse(self, line: str, position: int, label: str) -> str:
        if self.settings.io == "lines":
            return line
        try:
            value = json.loads(line)
        except ValueError:
            raise TranslationError(f"{label}: output line {position + 1} is not JSON (io: jsonl)") from None
        if isinstance(value, dict):
            value = value.get("text", value.get("translation"))
        if not isinstance(value, str):
            raise TranslationError(f"{label}: output line {position + 1} is neither a JSON string nor an object with "
                                   "\"text\" (io: jsonl)")
        return value


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()


def _stderr_tail(data: bytes | None) -> str:
    """``; stderr: …`` with the end of what the command wrote there, on one line; empty when it wrote nothing."""
    text = (data or b"").decode("utf-8", "replace").strip()
    if not text:
        return ""
    text = " | ".join(line.strip() for line in text.splitlines() if line.strip())
    return f"; stderr: {'…' + text[-STDERR_TAIL:] if len(text) > STDERR_TAIL else text}"
