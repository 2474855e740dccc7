"""Several test sets in one run (``corpora: [rt-2013-russia-japan-2plus2, flores200-devtest]``).

A run set is a folder holding one ordinary run directory per corpus (named after it) and ``runset.json``
(:class:`~evalharness.runs.schema.RunSetIndex`), plus a ``summary.md`` of all of them. Each member is exactly
the run of the same config with ``corpus:`` set to that corpus, so everything that reads a run (compare,
report, the gate) works on a member unchanged, and scores never mix segments of two test sets. The whole set is
built beside its destination and renamed into place: a failure in the second corpus leaves nothing.

A baseline set (:class:`~evalharness.runs.schema.BaselineSetFile`) holds one baseline per member.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evalharness.corpus import Corpus
from evalharness.errors import ConfigError, InputError
from evalharness.runs.config import CORPUS_PLACEHOLDER, RunConfig
from evalharness.runs.executor import RayExecutor
from evalharness.runs.files import (
    REGENERATE,
    _check_version,
    _dump,
    _invalid,
    _json,
    baseline_document,
    staged_directory,
)
from evalharness.runs.pipeline import (
    RunOutput,
    Summarizer,
    check_run_dir,
    check_target,
    default_run_dir,
    finish_run,
    open_corpus,
    open_store,
    plan_run,
    run,
    run_inputs,
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
from evalharness.systems.settings import FilesSettings
from evalharness.textio import atomic_write_text


@dataclass
class Member:
    """One corpus of a run set, before it runs: its name, its folder, its single-corpus config, the corpus."""

    name: str
    folder: str
    config: RunConfig
    corpus: Corpus


@dataclass
class RunSetOutput:
    """What a finished run set produced: its folder and each member's run, in config order."""

    run_dir: Path
    members: list[tuple[str, RunOutput]]


def members(config: RunConfig) -> list[Member]:
    """Each corpus of ``config.corpora`` opened (a named test set is fetched and verified now, before any model
    loads), with the config that runs it alone; two corpora of one name are refused."""
    if config.corpora is None:
        raise InputError("this config has no 'corpora' list")
    out: list[Member] = []
    for i, spec in enumerate(config.corpora):
        single = config.model_copy(update={"corpus": spec, "corpora": None})
        corpus = open_corpus(single)
        folder = re.sub(r"[^A-Za-z0-9._+-]+", "_", corpus.name).strip(".") or f"corpus-{i + 1}"
        for other in out:
            if other.name == corpus.name or other.folder == folder:
                raise InputError(f"corpora.{i}: corpus {corpus.name!r} is already in the run (corpora lists each "
                                 "corpus once)")
        out.append(Member(corpus.name, folder, _files_for(single, folder, several=len(config.corpora) > 1), corpus))
    return out


def _files_for(config: RunConfig, folder: str, *, several: bool) -> RunConfig:
    """``config`` with ``{corpus}`` in each files system's hypotheses paths replaced by the test set's folder name,
    so one config names one hypotheses file per test set; a file that is not there is an error naming both.

    With ``several`` test sets, a path without ``{corpus}`` is refused: one file would be scored against every
    test set's references, silently wrong wherever two sets have the same number of segments."""
    systems = []
    for i, system in enumerate(config.systems):
        if several and isinstance(system, FilesSettings):
            for direction, path in system.hypotheses.items():
                if CORPUS_PLACEHOLDER not in path:
                    raise ConfigError(f"systems.{i}.hypotheses.{direction}: {path} would be read for every test set "
                                      f"of the run; put {CORPUS_PLACEHOLDER} in the path (one file per test set, "
                                      f"e.g. hyps/{CORPUS_PLACEHOLDER}.en)")
        if isinstance(system, FilesSettings) and any(CORPUS_PLACEHOLDER in p for p in system.hypotheses.values()):
            hypotheses = {d: p.replace(CORPUS_PLACEHOLDER, folder) for d, p in system.hypotheses.items()}
            for direction, path in hypotheses.items():
                if not Path(path).expanduser().is_file():
                    raise ConfigError(f"systems.{i}.hypotheses.{direction}: file not found for test set {folder}: "
                                      f"{path}")
            system = system.model_copy(update={"hypotheses": hypotheses})
        systems.append(system)
    return config.model_copy(update={"systems": systems})


def run_set(config: RunConfig, *, summarize: Summarizer, config_path: Path | None = None,
            run_dir: Path | None = None, overwrite: bool = False, progress: Any = None,
            notify: Callable[[str], None] | None = None, protect: Sequence[Path] = ()) -> RunSetOutput:
    """Run ``config`` on each of its corpora and write the run set: all members, or nothing."""
    started = datetime.now(timezone.utc)
    parts = members(config)
    target = run_dir or default_run_dir(config, config_path, started)
    inputs = [p for m in parts for p in run_inputs(m.config, config_path, m.corpus)]
    check_set_dir(target, overwrite=overwrite, inputs=[*inputs, *protect])
    with staged_directory(target) as staging:
        outputs: list[tuple[str, RunOutput]] = []
        if isinstance(config.executor, RayExecutor):  # one dispatch for every test set
            outputs = _run_set_on_ray(config.executor, parts, staging, summarize=summarize, config_path=config_path,
                                      progress=progress, notify=notify)
        else:
            for m in parts:
                if notify is not None:
                    notify(f"test set {m.name} ({len(outputs) + 1} of {len(parts)})")
                output = run(m.config, summarize=summarize, config_path=config_path, run_dir=staging / m.folder,
                             progress=progress, notify=notify)
                outputs.append((m.name, output))
        index = RunSetIndex(schema_version=SCHEMA_VERSION, kind=RUN_SET_KIND,
                            config_path=str(config_path) if config_path else None,
                            members=[RunSetMember(name=m.name, folder=m.folder) for m in parts])
        (staging / RUN_SET_FILE).write_text(_dump(index, indent=2) + "\n", encoding="utf-8")
        (staging / SUMMARY_FILE).write_text(set_summary([(n, o.summary) for n, o in outputs]), encoding="utf-8")
        check_set_dir(target, overwrite=overwrite, inputs=[])  # again: another process may have written there
    return RunSetOutput(target, [(name, RunOutput(target / m.folder, o.results, o.segments, o.summary))
                                 for (name, o), m in zip(outputs, parts, strict=True)])


def _run_set_on_ray(settings: RayExecutor, parts: list[Member], staging: Path, *, summarize: Summarizer,
                    config_path: Path | None, progress: Any, notify: Callable[[str], None] | None
                    ) -> list[tuple[str, RunOutput]]:
    """Every test set's run with one Ray dispatch for all of them: the shards of every test set share the workers,
    so each system's model is loaded once per worker for the whole set, then each test set is scored and written
    as its own run (the same files a run per test set writes)."""
    from evalharness.runs.ray_executor import TestSetWork, translate_sets_on_ray

    plans = [plan_run(m.config, config_path=config_path, run_dir=staging / m.folder) for m in parts]
    store = open_store(parts[0].config)  # the members' configs differ in their corpus alone
    for plan in plans:
        for metric in plan.metrics:
            metric.store = store
    try:
        works = [TestSetWork(m.name, plan.systems(store, notify), plan.segments, plan.keep)
                 for m, plan in zip(parts, plans, strict=True)]
        translated, executor = translate_sets_on_ray(settings, parts[0].config, works, progress=progress,
                                                     notify=notify)
        return [(m.name, finish_run(plan, *translated[m.name], executor, store, summarize=summarize,
                                    overwrite=False)) for m, plan in zip(parts, plans, strict=True)]
    finally:
        for plan in plans:
            for metric in plan.metrics:
                metric.close()
        if store is not None:
            store.close()


def set_summary(summaries: list[tuple[str, str]]) -> str:
    """``summary.md`` of a run set: each member's summary under a heading that names its test set."""
    out = [f"# evalharness run over {len(summaries)} test sets: {', '.join(n for n, _ in summaries)}", "",
           "Each test set is scored, flagged, sliced and gated on its own; its run directory is the folder of "
           "the same name.", ""]
    for name, summary in summaries:
        out += [f"## Test set `{name}`", "", summary.rstrip("\n"), ""]
    return "\n".join(out)


def check_set_dir(target: Path, *, overwrite: bool, inputs: list[Path]) -> None:
    """:func:`check_run_dir` for a run set: a non-empty folder is replaced only with ``overwrite`` and only if it
    is a run set holding nothing else; a folder that is or holds an input of the run is never replaced."""
    check_target(target, inputs)
    if not (target.is_dir() and any(target.iterdir())):
        return
    if not overwrite:
        check_run_dir(target, overwrite=False, inputs=[])  # its message: not empty, pass --overwrite
    if not (target / RUN_SET_FILE).is_file():
        raise InputError(f"{target}: not a run set (no {RUN_SET_FILE}), and a run over several test sets replaces "
                         "only a run set: give another run directory")
    known = {RUN_SET_FILE, SUMMARY_FILE, *(m.folder for m in read_index(target).members)}
    foreign = sorted(p.name for p in target.iterdir() if p.name not in known)
    if foreign:
        raise InputError(f"{target}: holds {', '.join(foreign[:3])}, which is not part of the run set and would be "
                         "deleted with it: move it, or give another run directory")


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
    from evalharness.runs.files import read_run

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
