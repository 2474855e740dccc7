"""The result files of a run and their schema.

A run directory holds:

- ``results.json`` (:class:`ResultsFile`): the manifest and, per system × direction, each metric's
  corpus score with its sacrebleu signature;
- ``segments.jsonl`` (:class:`SegmentRecord` a line): every segment's source, reference, hypothesis
  and segment scores;
- ``summary.md``: the human-readable table (see :mod:`evalharness.render.summary`).

Every file is written through a temporary file and a rename, so a crash never leaves half a file.
Bump :data:`SCHEMA_VERSION` on any change that breaks a reader.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypedDict

from evalharness.errors import InputError
from evalharness.textio import atomic_write_lines, atomic_write_text, read_text

SCHEMA_VERSION = 1
RESULTS_FILE, SEGMENTS_FILE, SUMMARY_FILE = "results.json", "segments.jsonl", "summary.md"


class MetricScore(TypedDict):
    """A corpus score and everything needed to reproduce and read it."""

    score: float
    ci: list[float]  # [low, high] percentile bootstrap interval (manifest.statistics gives resamples, seed)
    signature: str  # sacrebleu signature of the corpus score
    segment_signature: str  # sacrebleu signature of the per-segment scores
    higher_is_better: bool


class DirectionResult(TypedDict):
    """One system in one direction."""

    segments: int
    scores: dict[str, MetricScore]  # metric name -> score
    translate_s: float  # wall time of translation (model loading excluded)
    segments_per_s: float
    output_tokens: int  # tokens generated (0 for systems without a model)
    cache: dict[str, int]  # {"hits": n, "misses": n} in the translation cache
    flags: dict[str, int]  # segments raising each flag (evalharness.scoring.flags.FLAG_NAMES) and "any"
    slices: dict[str, dict[str, Any]]  # "kind=body" -> {"segments": n, "scores": {metric: score}}


class ResultsFile(TypedDict):
    """``results.json``."""

    schema_version: int
    manifest: dict[str, Any]  # config, corpus (name/version/hash), systems, versions, times
    results: dict[str, dict[str, DirectionResult]]  # system -> direction ("ms-en") -> result


class SegmentRecord(TypedDict):
    """One line of ``segments.jsonl``; ``id`` is the corpus's stable segment id."""

    system: str
    direction: str
    id: str
    source: str
    reference: str
    hypothesis: str
    scores: dict[str, float]
    output_tokens: int
    hit_limit: bool  # generation stopped at max_new_tokens
    flags: dict[str, Any]  # flag name -> the value that raised it (evalharness.scoring.flags)
    tags: dict[str, str]  # slice tags: kind, fidelity, length


def write_run(run_dir: Path, results: ResultsFile, segments: list[SegmentRecord], summary: str) -> None:
    """Write the three files of a run; segments and summary first, so results.json marks completion."""
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_lines(run_dir / SEGMENTS_FILE, (json.dumps(s, ensure_ascii=False) for s in segments))
    atomic_write_text(run_dir / SUMMARY_FILE, summary)
    atomic_write_text(run_dir / RESULTS_FILE, json.dumps(results, ensure_ascii=False, indent=2) + "\n")


def load_results(path: Path) -> ResultsFile:
    """Read ``results.json`` (or the one inside a run directory), checking the schema version."""
    file = path / RESULTS_FILE if path.is_dir() else path
    try:
        data = json.loads(read_text(file, "results file"))
    except json.JSONDecodeError as err:
        raise InputError(f"{file}:{err.lineno}: invalid JSON: {err.msg}") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise InputError(f"{file}: not an evalharness results file (no schema_version)")
    if data["schema_version"] != SCHEMA_VERSION:
        raise InputError(
            f"{file}: results schema version {data['schema_version']}, this evalharness reads {SCHEMA_VERSION}"
        )
    return data  # type: ignore[return-value]


def load_segments(path: Path) -> list[SegmentRecord]:
    """Read ``segments.jsonl`` (or the one inside a run directory)."""
    file = path / SEGMENTS_FILE if path.is_dir() else path
    out: list[SegmentRecord] = []
    for lineno, line in enumerate(read_text(file, "segments file").splitlines(), start=1):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise InputError(f"{file}:{lineno}: invalid JSON: {err.msg}") from None
    return out


class RunData:
    """A run (or a baseline) in memory: results plus hypotheses grouped by system and direction."""

    def __init__(self, origin: Path, results: ResultsFile, segments: list[SegmentRecord]) -> None:
        self.origin = origin
        self.results = results
        self.manifest = results["manifest"]
        self.gate: dict[str, Any] | None = None  # a baseline's own gate settings
        self.segments: dict[tuple[str, str], list[SegmentRecord]] = {}
        for record in segments:
            self.segments.setdefault((record["system"], record["direction"]), []).append(record)

    def pairs(self) -> list[tuple[str, str]]:
        """(system, direction) pairs with results, in file order."""
        return [(s, d) for s, by_dir in self.results["results"].items() for d in by_dir]


def load_run(path: Path) -> RunData:
    """Load a run directory, its ``results.json``, or a baseline file written by ``baseline update``."""
    if not path.exists():
        raise InputError(f"{path}: no such run directory, results.json or baseline file")
    if path.is_dir() or path.name == RESULTS_FILE:
        results = load_results(path)
        run_dir = path if path.is_dir() else path.parent
        if not (run_dir / SEGMENTS_FILE).is_file():
            raise InputError(f"{run_dir}: no {SEGMENTS_FILE} beside {RESULTS_FILE}; is this a complete run directory?")
        return RunData(run_dir, results, load_segments(run_dir))
    from evalharness.runs.baseline import read_baseline

    return read_baseline(path)
