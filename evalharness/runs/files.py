"""Reading and writing runs and baselines: one place that knows which file is which, and validates on read.

:func:`read` tells a run (a directory, or its ``results.json``) from a baseline file (``"kind":
"evalharness-baseline"``); :func:`read_run` refuses a baseline where a run is needed, since a baseline holds
no references and would be scored against empty strings. A run directory is written beside its destination
and renamed into place as a whole, so a reader never sees a partial run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from evalharness.errors import InputError, OutputError
from evalharness.runs.schema import (
    BASELINE_KIND,
    RESULTS_FILE,
    SCHEMA_VERSION,
    SEGMENTS_FILE,
    SUMMARY_FILE,
    Baseline,
    BaselineFile,
    BaselineOutputs,
    Results,
    Run,
    SegmentRecord,
)
from evalharness.textio import atomic_write_text, current_umask, parse_json, read_lines, read_text, remove_stale_temps

REGENERATE = "regenerate it with 'evalharness baseline update RUN_DIR -o FILE'"


def _invalid(file: Path, what: str, err: ValidationError, fix: str) -> InputError:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    msg = "unexpected key" if first["type"] == "extra_forbidden" else first["msg"]
    return InputError(f"{file}: damaged {what}: {key}: {msg}{more}; {fix}")


def _json(file: Path, what: str) -> Any:
    return parse_json(read_text(file, what), str(file), what)


def _check_version(file: Path, what: str, data: Any, fix: str) -> None:
    if not isinstance(data, dict) or "schema_version" not in data:
        raise InputError(f"{file}: not an evalharness {what} (no schema_version)")
    if data["schema_version"] != SCHEMA_VERSION or not isinstance(data["schema_version"], int):
        raise InputError(f"{file}: {what} has schema_version {data['schema_version']!r}; this evalharness reads "
                         f"the integer {SCHEMA_VERSION}; {fix}")


# --------------------------------------------------------------------------- reading


def load_results(path: Path) -> Results:
    """Read and validate ``results.json`` (or the one inside a run directory)."""
    file = path / RESULTS_FILE if path.is_dir() else path
    fix = "rerun 'evalharness run' to write it again"
    data = _json(file, "results file")
    _check_version(file, "results file", data, fix)
    try:
        return Results.model_validate(data)
    except ValidationError as err:
        raise _invalid(file, "results file", err, fix) from None


def load_segments(path: Path) -> list[SegmentRecord]:
    """Read and validate ``segments.jsonl`` (or the one inside a run directory).

    Lines are split on ``\\n`` only: a hypothesis may hold U+2028 or U+0085, which ``json.dumps`` keeps as
    they are and ``str.splitlines`` would take for line ends.
    """
    file = path / SEGMENTS_FILE if path.is_dir() else path
    out: list[SegmentRecord] = []
    for lineno, line in enumerate(read_lines(file, "segments file"), start=1):
        try:
            out.append(SegmentRecord.model_validate(parse_json(line, f"{file}:{lineno}", one_line=True)))
        except ValidationError as err:
            raise _invalid(Path(f"{file}:{lineno}"), "segment record", err,
                           "rerun 'evalharness run' to write it again") from None
    return out


def load_baseline_file(path: Path) -> Baseline:
    """Read and validate a baseline file."""
    data = _json(path, "baseline file")
    if not isinstance(data, dict) or data.get("kind") != BASELINE_KIND:
        raise InputError(f"{path}: not an evalharness baseline (write one with 'evalharness baseline update')")
    _check_version(path, "baseline file", data, REGENERATE)
    try:
        return Baseline(path, BaselineFile.model_validate(data))
    except ValidationError as err:
        raise _invalid(path, "baseline file", err, REGENERATE) from None


def read(path: Path) -> Run | Baseline:
    """A run directory (or its ``results.json``), or a baseline file, each read as what it is."""
    if not path.exists():
        raise InputError(f"{path}: no such run directory, results.json or baseline file")
    if path.is_dir() or path.name == RESULTS_FILE:
        run_dir = path if path.is_dir() else path.parent
        if (run_dir / "runset.json").is_file() and not (run_dir / RESULTS_FILE).is_file():  # runs/multi.py
            folders = ", ".join(str(p) for p in sorted(run_dir.iterdir()) if (p / RESULTS_FILE).is_file())
            raise InputError(f"{run_dir}: a run over several test sets; give one test set's run directory "
                             f"({folders}), or check it with 'evalharness check'")
        if not (run_dir / RESULTS_FILE).is_file():
            raise InputError(f"{run_dir}: not a run directory (no {RESULTS_FILE})")
        results = load_results(run_dir)
        if not (run_dir / SEGMENTS_FILE).is_file():
            raise InputError(f"{run_dir}: no {SEGMENTS_FILE} beside {RESULTS_FILE}; is this a complete run directory?")
        try:
            return Run(run_dir, results, load_segments(run_dir))
        except ValueError as err:  # the two files disagree: one of them was edited or cut short
            raise InputError(f"{run_dir}: damaged run: {err}; rerun 'evalharness run' to write it again") from None
    return load_baseline_file(path)


def read_run(path: Path, *, role: str = "a run") -> Run:
    """A run; a baseline file is refused (it has no references to score against)."""
    found = read(path)
    if isinstance(found, Baseline):
        raise InputError(f"{path} is a baseline file, not a run: {role} must be a run directory (a baseline keeps "
                         "no references, so its segments cannot be scored again)")
    return found


# --------------------------------------------------------------------------- writing


def _dump(model: BaseModel, **options: Any) -> str:
    return json.dumps(model.model_dump(mode="json"), ensure_ascii=False, **options)


def write_run(run_dir: Path, results: Results, segments: list[SegmentRecord], summary: str) -> None:
    """Write the three files of a run into a new directory beside ``run_dir``, then rename it into place.

    An existing ``run_dir`` is replaced as a whole (the caller decides whether that is allowed); nothing is
    left behind if writing fails, and the error names ``run_dir``, not the temporary directory.
    """
    with staged_directory(run_dir) as tmp:
        (tmp / SEGMENTS_FILE).write_text("".join(_dump(s) + "\n" for s in segments), encoding="utf-8")
        (tmp / SUMMARY_FILE).write_text(summary, encoding="utf-8")
        (tmp / RESULTS_FILE).write_text(_dump(results, indent=2) + "\n", encoding="utf-8")


def rewrite_run(run_dir: Path, results: Results, segments: list[SegmentRecord], summary: str) -> None:
    """Replace the three files of the existing run ``run_dir`` (an import added a metric), keeping whatever else
    the folder holds (a report): a copy is staged beside it and renamed into place, so nothing is half-written."""
    with staged_directory(run_dir) as tmp:
        shutil.copytree(run_dir, tmp, dirs_exist_ok=True)
        (tmp / SEGMENTS_FILE).write_text("".join(_dump(s) + "\n" for s in segments), encoding="utf-8")
        (tmp / SUMMARY_FILE).write_text(summary, encoding="utf-8")
        (tmp / RESULTS_FILE).write_text(_dump(results, indent=2) + "\n", encoding="utf-8")


@contextlib.contextmanager
def staged_directory(target: Path) -> Iterator[Path]:
    """A new folder beside ``target`` for the block to write into; when the block ends without error it replaces
    ``target`` as a whole. Nothing is left behind either way, and a write that fails is an :class:`OutputError`
    naming ``target``, not the temporary folder."""
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(target)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700; results are meant to be shared
        yield tmp
        for file in tmp.iterdir():
            if file.is_file():
                os.chmod(file, 0o666 & ~current_umask())
        _replace_dir(tmp, target)
    except OSError as err:
        raise OutputError(f"{target}: cannot write the run: {err.strerror or err}; nothing was written "
                          "(check free space, the folder and its permissions)") from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _replace_dir(new: Path, target: Path) -> None:
    """Put directory ``new`` at ``target``; an existing ``target`` is moved aside first and removed after."""
    if not target.exists():
        os.rename(new, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    os.rename(target, old / "dir")
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old / "dir", target)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def baseline_document(run: Run) -> BaselineFile:
    """The baseline made from ``run``: its manifest, scores and hypotheses."""
    segments: dict[str, dict[str, BaselineOutputs]] = {}
    for system, direction in run.pairs():
        ids, hypotheses = run.hypotheses(system, direction)
        flags = [sorted(r.flags) for r in run.segments.get((system, direction), [])]
        segments.setdefault(system, {})[direction] = BaselineOutputs(ids=ids, hypotheses=hypotheses, flags=flags)
    return BaselineFile(
        schema_version=SCHEMA_VERSION, kind=BASELINE_KIND,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), source_run=str(run.origin),
        gate=run.gate, manifest=run.manifest, results=run.scores, segments=segments,
    )


def write_baseline(run: Run, out: Path) -> None:
    """Write the baseline of ``run`` to ``out`` atomically."""
    atomic_write_text(out, _dump(baseline_document(run), indent=1) + "\n")
