"""The COMET environment: a virtualenv of its own, made by ``evalharness metrics setup comet``, found, and checked.

``unbabel-comet`` 2.2.7 requires ``transformers<5``, ``numpy<2``, ``huggingface-hub<1`` and ``protobuf<5``;
evalharness runs on transformers 5, so the two cannot share one environment. The harness keeps COMET in a
virtualenv of its own and talks to it through a worker process (:mod:`evalharness.scoring.comet.client`).
Which Python runs the worker, first match wins: the config's ``comet.python``, ``$EVALHARNESS_COMET_PYTHON``
(either may name the Python or the environment's folder), then the environment ``setup`` makes under the
user cache directory.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalharness.errors import MissingDependencyError, OutputError
from evalharness.paths import default_cache_dir

COMET_VERSION = "2.2.7"
"""The unbabel-comet release ``setup`` installs (and the worker protocol is written against)."""

ENV_VAR = "EVALHARNESS_COMET_PYTHON"
SETUP_COMMAND = "evalharness metrics setup comet"
MARKER = "evalharness-comet.json"
"""Written into an environment by ``setup`` once it is complete: versions and how long it took."""

DEFAULT_TORCH = "torch==2.13.0"
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"

_PACKAGE = Path(__file__).resolve().parent


def worker_script() -> Path:
    """The worker file the COMET environment's Python runs (it imports nothing from evalharness)."""
    return _PACKAGE / "worker.py"


def constraints_file() -> Path:
    """The pinned versions ``setup`` installs with (shipped as package data)."""
    return _PACKAGE / "constraints.txt"


def default_venv() -> Path:
    """``<user cache dir>/comet-env`` (``$EVALHARNESS_CACHE_DIR`` and ``$XDG_CACHE_HOME`` move it)."""
    return default_cache_dir() / "comet-env"


def venv_python(venv: Path) -> Path:
    """The Python of the virtualenv in ``venv``."""
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _missing(detail: str) -> MissingDependencyError:
    return MissingDependencyError(f"COMET runs in an environment of its own: {detail}; run '{SETUP_COMMAND}' "
                                  f"(or set {ENV_VAR} to the Python of an environment with unbabel-comet "
                                  f"{COMET_VERSION})")


def comet_python(configured: str | None = None) -> Path:
    """The Python that runs the COMET worker: ``configured`` (``comet.python``), ``$EVALHARNESS_COMET_PYTHON``,
    else the default environment's. Each may be the interpreter or the environment's folder.

    Raises :class:`MissingDependencyError` naming the setup command when there is none.
    """
    for source, value in (("comet.python", configured), (ENV_VAR, os.environ.get(ENV_VAR))):
        if value:
            path = Path(value).expanduser()
            python = venv_python(path) if path.is_dir() else path
            if not python.is_file():
                raise _missing(f"{source} is {value}, and there is no Python there")
            return python
    python = venv_python(default_venv())
    if not python.is_file():
        raise _missing(f"none is set up (looked for {python})")
    return python


@dataclass(frozen=True)
class EnvInfo:
    """What an environment holds, as its own Python reports it."""

    python: Path
    comet: str
    torch: str
    transformers: str
    numpy: str


_PROBE = """
import json, sys
from importlib.metadata import version, PackageNotFoundError
out = {"python": sys.version.split()[0]}
for name in ("unbabel-comet", "torch", "transformers", "numpy"):
    try:
        out[name] = version(name)
    except PackageNotFoundError:
        out[name] = None
print(json.dumps(out))
"""


@functools.lru_cache(maxsize=8)
def probe(python: Path) -> EnvInfo:
    """The versions in the environment of ``python``, read from package metadata (fast: nothing is imported).

    Raises :class:`MissingDependencyError` naming the setup command if it cannot run or lacks unbabel-comet 2.x
    or torch.
    """
    try:
        done = subprocess.run([str(python), "-c", _PROBE], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise _missing(f"{python} does not run ({err})") from None
    try:
        found: Any = json.loads(done.stdout)
    except (ValueError, RecursionError):
        found = None
    if not isinstance(found, dict):  # not JSON, or JSON of another shape (``null``): not the probe's answer
        said = done.stdout.strip()
        tail = (done.stderr.strip().splitlines() or [f"it printed {said[:80]!r}" if said else "no output"])[-1]
        raise _missing(f"{python} does not run the version probe ({tail})") from None
    comet, torch = found.get("unbabel-comet"), found.get("torch")
    if comet is None or torch is None:
        lacking = " and ".join(n for n, v in (("unbabel-comet", comet), ("torch", torch)) if v is None)
        raise _missing(f"the environment of {python} has no {lacking}")
    if not str(comet).startswith("2."):
        raise _missing(f"the environment of {python} has unbabel-comet {comet}; evalharness speaks to 2.x")
    return EnvInfo(python, str(comet), str(torch), str(found.get("transformers")), str(found.get("numpy")))


@dataclass(frozen=True)
class SetupResult:
    """A finished ``setup``: where, what, and how long each step took."""

    venv: Path
    info: EnvInfo
    seconds: dict[str, float]


def _pip(python: Path, args: list[str], step: str, log: Any) -> None:
    """``python -m pip install ARGS``; its output goes to ``log``; a failure is one line naming the step."""
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=env)
    if log is not None and done.stdout:
        log.write(done.stdout)
    if done.returncode != 0:
        lines = [ln for ln in done.stdout.splitlines() if ln.strip() and "is ignored" not in ln]
        tail = lines[-1].strip() if lines else f"pip exited with {done.returncode}"
        raise OutputError(f"COMET setup: {step} failed: {tail}")


def setup(venv: Path | None = None, *, python: str | None = None, torch: str = DEFAULT_TORCH,
          torch_index: str | None = None, notify: Any = None, log: Any = None) -> SetupResult:
    """Create (or complete) the COMET virtualenv: CPU or CUDA torch first, then pinned unbabel-comet.

    ``python`` makes the environment (default: the Python running evalharness); ``torch_index`` is where pip
    takes torch from (``https://download.pytorch.org/whl/cpu`` for the CPU build, ~200 MB instead of ~3 GB of
    CUDA wheels; left out, pip's own index decides). Running it again on a complete environment re-checks it
    and changes nothing. ``notify`` hears one line per step.
    """
    venv = (venv or default_venv()).expanduser()
    say = notify or (lambda _msg: None)
    seconds: dict[str, float] = {}
    maker = python or sys.executable
    interpreter = venv_python(venv)
    t0 = time.perf_counter()
    if not interpreter.is_file():
        if venv.exists() and any(venv.iterdir()):
            raise OutputError(f"{venv}: exists, is not empty and is not a virtualenv; remove it or pass --venv DIR")
        say(f"creating a virtualenv in {venv} with {maker}")
        done = subprocess.run([maker, "-m", "venv", str(venv)], capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise OutputError(f"COMET setup: '{maker} -m venv {venv}' failed: {tail}")
    seconds["venv"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    say(f"installing {torch}" + (f" from {torch_index}" if torch_index else ""))
    _pip(interpreter, [torch, *(["--index-url", torch_index] if torch_index else [])], f"installing {torch}", log)
    seconds["torch"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    say(f"installing unbabel-comet=={COMET_VERSION} with {constraints_file().name}")
    _pip(interpreter, ["-c", str(constraints_file()), f"unbabel-comet=={COMET_VERSION}", "setuptools<81",
                       "sentencepiece"], "installing unbabel-comet", log)
    seconds["comet"] = time.perf_counter() - t2
    probe.cache_clear()
    info = probe(interpreter)
    seconds["total"] = time.perf_counter() - t0
    marker = {"comet": info.comet, "torch": info.torch, "transformers": info.transformers, "numpy": info.numpy,
              "seconds": {k: round(v, 1) for k, v in seconds.items()},
              "made_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (venv / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    return SetupResult(venv, info, seconds)


def check_model_reachable(model: str) -> None:
    """Raise :class:`~evalharness.errors.ModelLoadError` at once for a hub model that is not in the local Hugging Face
    cache while the hub is offline (``HF_HUB_OFFLINE=1``): the worker would start, import comet and torch, and fail
    with comet's own ``KeyError`` only after that (about 18 s)."""
    from evalharness.errors import ModelLoadError

    if os.environ.get("HF_HUB_OFFLINE", "") in ("", "0"):
        return
    from huggingface_hub import try_to_load_from_cache

    # the hub's own cache resolution, read now (huggingface_hub reads it once, at its import)
    home = os.environ.get("HF_HOME") or str(Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser()
                                            / "huggingface")
    cache = os.environ.get("HF_HUB_CACHE") or str(Path(home) / "hub")
    if isinstance(try_to_load_from_cache(model, "checkpoints/model.ckpt", cache_dir=cache), str):
        return
    raise ModelLoadError(f"comet.model: {model} is not in the local Hugging Face cache and the hub is offline "
                         f"(HF_HUB_OFFLINE=1): download it once where the hub is reachable ('hf download {model}'; "
                         "some COMET models are gated: accept their licence on the hub first), or give a local COMET "
                         "model folder")
