"""The run set format: several test sets in one run (``corpora: [rt-2013-russia-japan-2plus2, flores200-devtest]``).

A run set is a folder holding one ordinary run directory per corpus (named after it) and ``runset.json``
(:class:`~evalharness.runs.schema.RunSetIndex`), plus a ``summary.md`` of all of them. Each member is exactly
the run of the same config with ``corpus:`` set to that corpus, so everything that reads a run (compare,
report, the gate) works on a member unchanged, and scores never mix segments of two test sets. The run itself is
:func:`evalharness.runs.pipeline.run`, the same for one corpus or several; this module reads and writes the
files that only a run set has.

A baseline set (:class:`~evalharness.runs.schema.BaselineSetFile`) holds one baseline per member.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from pydantic import ValidationError

from evalharness.errors import InputError
from evalharness.runs.files import (
    REGENERATE,
    _check_version,
    _dump,
    _invalid,
    _json,
    baseline_document,
    read,
    read_run,
)
from evalharness.runs.schema import (
    BASELINE_SET_KIND,
    RUN_SET_FILE,
    RUN_SET_KIND,
    SCHEMA_VERSION,
    SUMMARY_FILE,
    Baseline,
    BaselineSetFile,
    Run,
    RunSetIndex,
    RunSetMember,
)
from evalharness.textio import atomic_write_text


def write_set_files(folder: Path, members: Sequence[tuple[str, str]], summaries: list[tuple[str, str]],
                    config_path: Path | None) -> None:
    """A run set's own files in ``folder``: ``runset.json`` (``members``: name and folder of each test set, in
    order) and the ``summary.md`` of all of them."""
    index = RunSetIndex(schema_version=SCHEMA_VERSION, kind=RUN_SET_KIND,
                        config_path=str(config_path) if config_path else None,
                        members=[RunSetMember(name=name, folder=sub) for name, sub in members])
    (folder / RUN_SET_FILE).write_text(_dump(index, indent=2) + "\n", encoding="utf-8")
    (folder / SUMMARY_FILE).write_text(set_summary(summaries), encoding="utf-8")


def set_summary(summaries: list[tuple[str, str]]) -> str:
    """``summary.md`` of a run set: each member's summary under a heading that names its test set."""
    out = [f"# evalharness run over {len(summaries)} test sets: {', '.join(n for n, _ in summaries)}", "",
           "Each test set is scored, flagged, sliced and gated on its own; its run directory is the folder of "
           "the same name.", ""]
    for name, summary in summaries:
        out += [f"## Test set `{name}`", "", summary.rstrip("\n"), ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- reading


def is_run_set(path: Path) -> bool:
    """True for a run set's folder (it holds ``runset.json``)."""
    return path.is_dir() and (path / RUN_SET_FILE).is_file()


def read_index(path: Path) -> RunSetIndex:
    """The validated ``runset.json`` of a run set."""
    file = path / RUN_SET_FILE
    fix = "rerun 'evalharness run' to write it again"
    data = _json(file, "run-set index")
    _check_version(file, "run-set index", data, fix)
    try:
        return RunSetIndex.model_validate(data)
    except ValidationError as err:
        raise _invalid(file, "run-set index", err, fix) from None


def read_run_set(path: Path) -> list[tuple[str, Run]]:
    """Each member of a run set read as a run, in order; a damaged member is named."""
    out = []
    for member in read_index(path).members:
        folder = path / member.folder
        if Path(member.folder).name != member.folder or member.folder in ("", ".", ".."):
            raise InputError(f"{path / RUN_SET_FILE}: member {member.name!r} has folder {member.folder!r}; expected "
                             "a folder name inside the run set")
        try:
            found = read_run(folder, role=f"test set {member.name!r} of {path}")
        except InputError as err:
            raise InputError(f"test set {member.name!r}: {err}") from None
        if found.manifest.corpus.name != member.name:
            raise InputError(f"{folder}: holds a run of corpus {found.manifest.corpus.name!r}, but {RUN_SET_FILE} "
                             f"says {member.name!r}; rerun 'evalharness run' to write it again")
        out.append((member.name, found))
    return out


def is_baseline_set(path: Path) -> bool:
    """True when ``path`` is a file whose JSON names the baseline-set kind (however it is formatted)."""
    if not path.is_file():
        return False
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return False  # not ours to judge here: the baseline reader names what is wrong with it
    return isinstance(data, dict) and data.get("kind") == BASELINE_SET_KIND


def load_baseline_set(path: Path) -> list[tuple[str, Baseline]]:
    """Each member's baseline, in order; ``origin`` names the file and the test set (``b.json[flores200-devtest]``)."""
    data = _json(path, "baseline file")
    if not isinstance(data, dict) or data.get("kind") != BASELINE_SET_KIND:
        raise InputError(f"{path}: not a baseline of several test sets")
    _check_version(path, "baseline file", data, REGENERATE)
    try:
        document = BaselineSetFile.model_validate(data)
    except ValidationError as err:
        raise _invalid(path, "baseline file", err, REGENERATE) from None
    out = []
    for name, baseline in document.baselines.items():
        if baseline.manifest.corpus.name != name:
            raise InputError(f"{path}: baselines.{name} is of corpus {baseline.manifest.corpus.name!r}; {REGENERATE}")
        out.append((name, Baseline(Path(f"{path}[{name}]"), baseline)))
    return out


def write_baseline_set(members: list[tuple[str, Run]], source: Path, out: Path) -> None:
    """Write the baseline of a run set (one baseline per test set) to ``out`` atomically."""
    document = BaselineSetFile(schema_version=SCHEMA_VERSION, kind=BASELINE_SET_KIND,
                               created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                               source_run=str(source), baselines={n: baseline_document(r) for n, r in members})
    atomic_write_text(out, _dump(document, indent=1) + "\n")


# --------------------------------------------------------------------------- either shape


def read_baselines(path: Path) -> tuple[list[tuple[str, Run | Baseline]], bool]:
    """The baselines a file holds, each under its test set's name, and whether it is a single baseline (a
    baseline file of one corpus, or a run directory used as one) rather than a baseline set."""
    if is_baseline_set(path):
        return list(load_baseline_set(path)), False
    baseline = read(path)
    return [(baseline.manifest.corpus.name, baseline)], True


def read_runs(path: Path, *, role: str) -> tuple[list[tuple[str, Run]], bool]:
    """The runs a folder holds, each under its test set's name, and whether it is a single run directory rather
    than a run set; ``role`` names a single run in errors."""
    if is_run_set(path):
        return read_run_set(path), False
    run = read_run(path, role=role)
    return [(run.manifest.corpus.name, run)], True
