"""The harness's side of the COMET worker: one process per environment, JSON lines over its stdin/stdout.

The worker (:mod:`evalharness.scoring.comet.worker`, run by the COMET environment's Python) loads each model
once and keeps it, so a run scores every system × direction with one process and one model load. It stops
when its stdin closes: :meth:`CometWorker.close`, or this process ending, whichever comes first. Its stderr
(lightning's and torch's chatter) goes to a temporary file; the last lines of it are quoted when it fails.

Nothing the worker says is trusted: the hello and every reply must come within a deadline
(:data:`HELLO_TIMEOUT_S`; :data:`REPLY_TIMEOUT_S` plus :data:`REPLY_PER_SEGMENT_S` a segment), be one JSON
object of the expected shape, and hold one finite score within :data:`RAW_SCORE_LIMIT` per segment. Anything
else ends the worker and is a :class:`CometProtocolError` (exit 3), before a score reaches a row or the cache.
"""

from __future__ import annotations

import json
import math
import os
import select
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from evalharness.environment import env_seconds
from evalharness.errors import ConfigError, MissingDependencyError, ModelLoadError, WorkerError
from evalharness.scoring.comet.env import SETUP_COMMAND, EnvInfo, probe, worker_script

PROTOCOL = 2  # worker.PROTOCOL: null references, spans in replies
HELLO_TIMEOUT_S = 300.0
"""How long the worker may take to start and say hello (it imports torch and comet: seconds, a minute from a
cold disk)."""
REPLY_TIMEOUT_S = 600.0
"""How long a reply may take beyond its segments' share: the first request of a model loads it (or downloads
it, 2.3 GB for ``Unbabel/wmt22-comet-da``)."""
REPLY_PER_SEGMENT_S = 1.0
"""Each segment of a request adds this to its deadline (XLM-R large on one CPU core: well under 1 s)."""
ENV_TIMEOUT = "EVALHARNESS_COMET_TIMEOUT"
"""Environment variable: seconds that replace :data:`HELLO_TIMEOUT_S` and :data:`REPLY_TIMEOUT_S` (a slow
link downloading a model, or a test that wants a silent worker found out at once)."""
RAW_SCORE_LIMIT = 10.0
"""A COMET value (its own scale) beyond ±10 is no COMET score: COMET-22 gives about 0–1, the older DA models
z-scores of about −3 to 2."""
SEVERITIES = ("minor", "major", "critical")
"""The severities of xCOMET's error spans (comet's ``error_labels``)."""
_MAX_LINE = 64 << 20  # a reply line longer than this (64 MiB: ~4 million scores) is not a reply


class CometWorkerError(ModelLoadError):
    """The COMET worker could not load or run a model (exit 2). The message quotes its own words."""


class CometProtocolError(WorkerError):
    """The COMET worker died, stopped answering, or answered something that is not a reply (exit 3)."""


def _timeout(default: float) -> float:
    """``default``, or ``$EVALHARNESS_COMET_TIMEOUT`` where it is set (a number of seconds above 0)."""
    return env_seconds(ENV_TIMEOUT, default, ConfigError, "1200")


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
        self._buffer = bytearray()
        self._busy = False  # a request is out and unanswered: an interrupted run leaves it so

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
                                          env=env, bufsize=0)
        except OSError as err:
            raise MissingDependencyError(f"the COMET worker does not start with {self.python} ({err}); "
                                         f"run '{SETUP_COMMAND}'") from None
        self._buffer.clear()
        seconds = _timeout(HELLO_TIMEOUT_S)
        hello = self._read(time.monotonic() + seconds, seconds, "hello")
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

    def _fail(self, what: str) -> CometProtocolError:
        """End the worker (it cannot be trusted with another request) and say what it did."""
        self._kill()
        tail = self._tail()
        return CometProtocolError(f"the COMET worker ({self.python}) {what}"
                                  + (f"; its last words: {tail}" if tail else "")
                                  + f"; run again, and if it recurs, '{SETUP_COMMAND}' again")

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            for pipe in (self._proc.stdin, self._proc.stdout):
                if pipe is not None:
                    pipe.close()
            self._proc = None

    def _line(self, deadline: float, seconds: float, what: str) -> bytes:
        """The worker's next line by ``deadline`` (``seconds`` after the request); its end or silence is an error."""
        proc, _, stdout = self._pipes()
        fd = stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._fail(f"sent no {what} within {seconds:g} s (set {ENV_TIMEOUT}=SECONDS for a slow "
                                 "machine or a model still downloading)")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                code = proc.wait()
                raise self._fail(f"stopped (exit code {code}) instead of sending its {what}")
            self._buffer.extend(chunk)
            if len(self._buffer) > _MAX_LINE:
                raise self._fail(f"sent more than {_MAX_LINE >> 20} MiB without a line end instead of its {what}")
        end = self._buffer.index(b"\n")
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line

    def _send(self, data: bytes, deadline: float, seconds: float) -> None:
        """Write a request to the worker by ``deadline``: a worker that stops reading cannot block us."""
        _, stdin, _ = self._pipes()
        fd = stdin.fileno()
        os.set_blocking(fd, False)
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._fail(f"did not read its request within {seconds:g} s (set {ENV_TIMEOUT}=SECONDS for "
                                 "a slow machine)")
            _, ready, _ = select.select([], [fd], [], left)
            if not ready:
                continue
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                continue
            except BrokenPipeError:
                self._read(deadline, seconds, "reply")  # raises, saying how it stopped
                raise self._fail("closed its input") from None

    def _read(self, deadline: float, seconds: float, what: str) -> dict[str, Any]:
        """The worker's next message by ``deadline``: one JSON object on one line."""
        line = self._line(deadline, seconds, what)
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            raise self._fail(f"sent {line[:80]!r} as its {what}, which is not a JSON line") from None
        if not isinstance(message, dict):
            raise self._fail(f"sent a JSON {type(message).__name__} as its {what}, expected an object")
        return message

    def score(self, model: str, triples: Sequence[tuple[str, str, str | None]], *, batch_size: int, device: str,
              precision: str) -> tuple[list[float], list[list[dict[str, Any]]] | None]:
        """COMET's per-segment scores (its own scale, about 0–1) of (source, hypothesis, reference) triples (the
        reference None for a reference-free model), and each segment's error spans where the model gives them."""
        self.start()
        self._next_id += 1
        request = {"id": self._next_id, "model": model, "batch_size": batch_size, "device": device,
                   "precision": precision, "triples": [list(t) for t in triples]}
        seconds = _timeout(REPLY_TIMEOUT_S) + REPLY_PER_SEGMENT_S * len(triples)
        deadline = time.monotonic() + seconds
        self._busy = True
        self._send(json.dumps(request, ensure_ascii=True).encode("ascii") + b"\n", deadline, seconds)
        reply = self._read(deadline, seconds, "reply")
        self._busy = False
        if "error" in reply:
            error = str(reply["error"])
            if "not supported by COMET" in error:  # comet's KeyError when a hub model could not be fetched
                error = (f"{error} (comet says so of a hub model it could not download: is the hub reachable, or "
                         "the model in the local Hugging Face cache? Offline, download it once where the hub is "
                         "reachable, or give a local COMET model folder)")
            raise CometWorkerError(f"COMET model {model}: {error}")
        if reply.get("id") != self._next_id:
            raise self._fail(f"answered request {reply.get('id')!r} when {self._next_id} was asked")
        raw = reply.get("scores")
        if not isinstance(raw, list):
            raise self._fail("sent a reply without a list of scores")
        if len(raw) != len(triples):
            raise self._fail(f"returned {len(raw)} scores for {len(triples)} segments")
        for i, x in enumerate(raw):
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) \
                    or abs(x) > RAW_SCORE_LIMIT:
                raise self._fail(f"returned {x!r} as the score of segment {i + 1} of {len(triples)}: not a COMET "
                                 f"score (a finite number within ±{RAW_SCORE_LIMIT:g}); nothing was cached")
        spans = reply.get("spans")
        if spans is not None:
            self._check_spans(spans, [t[1] for t in triples])
        return [float(x) for x in raw], spans

    def _check_spans(self, spans: Any, hypotheses: Sequence[str]) -> None:
        """Each segment's spans a list of {start, end, severity, confidence, text} within its hypothesis."""
        if not isinstance(spans, list) or len(spans) != len(hypotheses):
            raise self._fail(f"sent spans that are not one list per segment ({len(hypotheses)} segments)")
        for i, (segment, hyp) in enumerate(zip(spans, hypotheses, strict=True)):
            for sp in segment if isinstance(segment, list) else [None]:
                ok = isinstance(sp, dict) and isinstance(sp.get("start"), int) and isinstance(sp.get("end"), int) \
                    and 0 <= sp["start"] <= sp["end"] <= len(hyp) and sp.get("severity") in SEVERITIES \
                    and isinstance(sp.get("confidence"), float) and isinstance(sp.get("text"), str)
                if not ok:
                    raise self._fail(f"sent {sp!r} as an error span of segment {i + 1}: not a span of its hypothesis "
                                     "({start, end, severity, confidence, text}); nothing was cached")

    def close(self) -> None:
        """Close the worker's stdin (it exits) and wait for it."""
        if self._proc is not None and self._busy:  # interrupted mid-request (SIGTERM, Ctrl-C): no answer is wanted
            self._kill()
        if self._proc is not None:
            if self._proc.stdin is not None:
                self._proc.stdin.close()
            try:
                self._proc.wait(timeout=5)  # an idle worker exits at once on end of input
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
        self._busy = False
