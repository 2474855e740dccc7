"""Where a run writes, and what it must never replace: its run directory (or run set folder) checked before any
work and again just before writing."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from evalharness.corpus import Corpus
from evalharness.errors import InputError
from evalharness.runs.config import RunConfig
from evalharness.runs.multi import read_index
from evalharness.runs.schema import RESULTS_FILE, RUN_SET_FILE, SEGMENTS_FILE, SUMMARY_FILE
from evalharness.store import default_cache_path
from evalharness.systems.settings import FilesSettings, ModelSettings, looks_like_path


def default_run_dir(config: RunConfig, config_path: Path | None, now: datetime) -> Path:
    """``<output_dir>/<UTC timestamp>-<config name>``, with ``-2``, ``-3``… if that is taken (same second)."""
    stem = config_path.stem if config_path else "run"
    base = Path(config.output_dir) / f"{now.strftime('%Y%m%dT%H%M%SZ')}-{stem}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def run_inputs(config: RunConfig, config_path: Path | None, corpus: Corpus) -> list[Path]:
    """Every file or folder a run reads: its run directory must hold none of them."""
    paths: list[Path] = [*([config_path] if config_path else []), *corpus.files]
    for system in config.systems:
        if isinstance(system, ModelSettings) and looks_like_path(system.model):
            paths.append(Path(system.model).expanduser())
        if isinstance(system, FilesSettings):
            paths += [Path(p).expanduser() for p in system.hypotheses.values()]
    if config.cache.enabled:
        paths.append(Path(config.cache.path).expanduser() if config.cache.path else default_cache_path())
    return paths


RUN_DIR_FILES = frozenset({RESULTS_FILE, SEGMENTS_FILE, SUMMARY_FILE, "report.html"})
"""What a run directory holds: ``--overwrite`` replaces nothing else."""


def check_target(target: Path, inputs: list[Path]) -> None:
    """Refuse an output folder that is a file, or that is or holds an input of the run."""
    if target.exists() and not target.is_dir():
        raise InputError(f"{target}: exists and is not a directory; give a new run directory")
    resolved = target.resolve()
    for path in inputs:
        where = path.resolve()
        if where == resolved or resolved in where.parents:
            raise InputError(f"{target}: the run directory would replace {path}, an input of this run; "
                             "give another run directory")


def check_run_dir(target: Path, *, overwrite: bool, inputs: list[Path]) -> None:
    """Refuse, before any work, a run directory that would replace something it should not.

    A non-empty directory is replaced only with ``overwrite`` and only if it is a run directory; a directory
    that holds (or is) an input of the run is never replaced.
    """
    check_target(target, inputs)
    if target.is_dir() and any(target.iterdir()):
        if not overwrite:
            raise InputError(f"{target}: run directory exists and is not empty; pass --overwrite to replace it "
                             "as a whole, or give a new --run-dir")
        if not (target / RESULTS_FILE).is_file():
            raise InputError(f"{target}: not a run directory (no {RESULTS_FILE}), and only a run directory is "
                             "replaced: give another run directory")
        foreign = sorted(p.name for p in target.iterdir() if p.name not in RUN_DIR_FILES)
        if foreign:  # a file the user put there (a baseline, notes) would go with the old run
            raise InputError(f"{target}: holds {', '.join(foreign[:3])}{' …' if len(foreign) > 3 else ''}, which "
                             "is not part of a run and would be deleted with it: move it, or give another run "
                             "directory")


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
