"""The harness's side of the COMET worker: one process per environment, JSON lines over its stdin/stdout.

The worker (:mod:`evalharness.scoring.comet.worker`, run by the COMET environment's Python) loads each model
once and keeps it, so a run scores every system × direction with one process and one model load. It stops
when its stdin closes: :meth:`CometWorker.close`, or this process ending, whichever comes first. Its stderr
(lightning's and torch's chatter) goes to a temporary file; the last lines of it are quoted when it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from evalharness.errors import MissingDependencyError, ModelLoadError
from evalharness.scoring.comet.env import SETUP_COMMAND, EnvInfo, probe, worker_script

PROTOCOL = 1


class CometWorkerError(ModelLoadError):
    """The COMET worker failed: it died, or could not load or run a model. The message quotes its own words."""


class CometWorker:
    """A running COMET worker for the environment of ``python``; started on first use."""

    def __init__(self, python: Path) -> None:
        self.python = python
        self.info: EnvInfo = probe(python)
        self.hello: dict[str, Any] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._next_id = 0

    def _tail(self) -> str:
        """The worker's last meaningful stderr line (a Python error is its last line)."""
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        lines = [ln.strip() for ln in self._stderr.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        return lines[-1] if lines else ""

    def start(self) -> dict[str, Any]:
        """Start the worker and read its hello (versions); idempotent."""
        if self._proc is not None and self.hello is not None:
            return self.hello
        self._workdir = tempfile.TemporaryDirectory(prefix="evalharness-comet-")
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115  # lives as long as the worker; closed by close()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false",
               "PYTHONWARNINGS": "ignore"}
        env.pop("PYTHONPATH", None)  # evalharness's own path must not leak into the other environment
        try:
            self._proc = subprocess.Popen([str(self.python), str(worker_script()), "serve"], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=self._stderr, cwd=self._workdir.name,
                                          env=env)
        except OSError as err:
            raise MissingDependencyError(f"the COMET worker does not start with {self.python} ({err}); "
                                         f"run '{SETUP_COMMAND}'") from None
        hello = self._read()
        if not hello.get("hello"):
            self.close()
            raise MissingDependencyError(f"the COMET environment of {self.python} is broken "
                                         f"({hello.get('error', 'no hello')}); run '{SETUP_COMMAND}' again")
        if hello.get("protocol") != PROTOCOL or hello.get("comet") != self.info.comet:
            self.close()
            raise MissingDependencyError(f"the COMET worker of {self.python} speaks protocol {hello.get('protocol')} "
                                         f"with comet {hello.get('comet')}, expected protocol {PROTOCOL} with comet "
                                         f"{self.info.comet}; run '{SETUP_COMMAND}' again")
        self.hello = hello
        return hello

    def _pipes(self) -> tuple[subprocess.Popen[bytes], IO[bytes], IO[bytes]]:
        """The running worker and its stdin, stdout; a worker that is gone is an error naming how it went."""
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise CometWorkerError(f"the COMET worker ({self.python}) is not running")
        return proc, proc.stdin, proc.stdout

    def _read(self) -> dict[str, Any]:
        proc, _, stdout = self._pipes()
        line = stdout.readline()
        if not line:
            code = proc.wait()
            tail = self._tail()
            self._proc = None
            raise CometWorkerError(f"the COMET worker ({self.python}) stopped (exit code {code})"
                                   + (f": {tail}" if tail else ""))
        message: dict[str, Any] = json.loads(line)
        return message

    def score(self, model: str, triples: Sequence[tuple[str, str, str]], *, batch_size: int, device: str,
              precision: str) -> list[float]:
        """COMET's per-segment scores (its own scale, about 0–1) of (source, hypothesis, reference) triples."""
        self.start()
        _, stdin, _ = self._pipes()
        self._next_id += 1
        request = {"id": self._next_id, "model": model, "batch_size": batch_size, "device": device,
                   "precision": precision, "triples": [list(t) for t in triples]}
        try:
            stdin.write(json.dumps(request, ensure_ascii=True).encode("ascii") + b"\n")
            stdin.flush()
        except BrokenPipeError:
            self._read()  # reports how it stopped
        reply = self._read()
        if "error" in reply:
            raise CometWorkerError(f"COMET model {model}: {reply['error']}")
        scores = [float(x) for x in reply["scores"]]
        if len(scores) != len(triples):
            raise CometWorkerError(f"the COMET worker returned {len(scores)} scores for {len(triples)} segments")
        return scores

    def close(self) -> None:
        """Close the worker's stdin (it exits) and wait for it."""
        if self._proc is not None:
            if self._proc.stdin is not None:
                self._proc.stdin.close()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None
        self.hello = None
