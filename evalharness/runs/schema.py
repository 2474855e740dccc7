"""The written schema of run directories and baseline files, validated whenever one is read.

A run directory holds:

- ``results.json`` (:class:`Results`): the manifest and, per system × direction, each metric's corpus score
  with its sacrebleu signature;
- ``segments.jsonl`` (:class:`SegmentRecord` a line): every segment's source, reference, hypothesis and
  segment scores;
- ``summary.md``: the human-readable tables (:mod:`evalharness.render.summary`).

A baseline file (:class:`BaselineFile`) keeps a run's manifest, scores and hypotheses — not its references,
which the corpus hash pins. A run and a baseline are different things: :class:`Run` can be scored again,
:class:`Baseline` only compared against. Field order here is the order written. Bump
:data:`SCHEMA_VERSION` on any change that breaks a reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION: Literal[1] = 1
RESULTS_FILE, SEGMENTS_FILE, SUMMARY_FILE = "results.json", "segments.jsonl", "summary.md"
BASELINE_KIND: Literal["evalharness-baseline"] = "evalharness-baseline"


class Record(BaseModel):
    """Strict about its own keys: a damaged or misplaced file fails on read, not halfway through a command."""

    model_config = ConfigDict(extra="forbid")


class MetricScore(Record):
    """A corpus score and everything needed to reproduce and read it."""

    score: float
    ci: tuple[float, float]  # percentile bootstrap interval (manifest.statistics gives resamples, seed)
    signature: str  # sacrebleu signature of the corpus score
    segment_signature: str  # sacrebleu signature of the per-segment scores
    higher_is_better: bool


class SliceResult(Record):
    """The corpus scores of the segments carrying one tag value (``kind=body``)."""

    segments: int
    scores: dict[str, float]


class DirectionResult(Record):
    """One system in one direction."""

    segments: int
    scores: dict[str, MetricScore]  # metric name -> score
    translate_s: float  # wall time of translation (model loading excluded)
    segments_per_s: float
    # The fields below came after the first schema-1 files (the committed baselines of early users lack them).
    output_tokens: int = 0  # tokens generated (0 for systems without a model)
    cache: dict[str, int] = Field(default_factory=dict)  # {"hits": n, "misses": n} in the translation cache
    flags: dict[str, int] = Field(default_factory=dict)  # segments raising each flag (FLAG_NAMES) and "any"
    slices: dict[str, SliceResult] = Field(default_factory=dict)


class CorpusInfo(Record):
    """Which text was scored: the corpus's name, version and content hash, and the level."""

    name: str
    version: str
    content_hash: str
    origin: str
    level: Literal["paragraph", "sentence"]
    segments: int


class MetricInfo(Record):
    """A metric's signatures and direction, as the run computed them."""

    signature: str
    segment_signature: str
    higher_is_better: bool


class StatisticsInfo(Record):
    """How the confidence intervals were resampled."""

    bootstrap_resamples: int
    bootstrap_seed: int
    confidence: float


class Manifest(Record):
    """Everything needed to reproduce a run: config, corpus, systems, versions, seeds, times."""

    tool: Literal["evalharness"]
    config_path: str | None
    config: dict[str, Any]  # the resolved config (evalharness.runs.config.RunConfig)
    corpus: CorpusInfo
    systems: dict[str, dict[str, Any]]  # per system: backend, model, revisions, settings, classes, load time
    metrics: dict[str, MetricInfo]
    versions: dict[str, str | None]
    platform: dict[str, Any]
    seed: int
    where: list[str] = Field(default_factory=list)  # where/flags/cache: absent from the first schema-1 files
    flags: dict[str, Any] = Field(default_factory=dict)
    cache: str | None = None
    statistics: StatisticsInfo
    started_at: str
    finished_at: str
    duration_s: float


Scores = dict[str, dict[str, DirectionResult]]
"""system -> direction ("ms-en") -> result."""


class Results(Record):
    """``results.json``."""

    schema_version: Literal[1]
    manifest: Manifest
    results: Scores


class SegmentRecord(Record):
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


class BaselineOutputs(Record):
    """One system × direction of a baseline: segment ids and hypotheses, in corpus order."""

    ids: list[str]
    hypotheses: list[str]

    @model_validator(mode="after")
    def _aligned(self) -> BaselineOutputs:
        if len(self.ids) != len(self.hypotheses):
            raise ValueError(f"{len(self.ids)} ids but {len(self.hypotheses)} hypotheses")
        return self


class BaselineFile(Record):
    """A baseline file (``evalharness baseline update``)."""

    schema_version: Literal[1]
    kind: Literal["evalharness-baseline"]
    created_at: str
    source_run: str
    gate: dict[str, Any] | None  # the source run's gate settings, validated when a check uses them
    manifest: Manifest
    results: Scores
    segments: dict[str, dict[str, BaselineOutputs]]


def pairs_of(results: Scores) -> list[tuple[str, str]]:
    """(system, direction) pairs with results, in file order."""
    return [(s, d) for s, by_dir in results.items() for d in by_dir]


@dataclass
class Run:
    """A run read back: scores, manifest, and every segment with its reference — it can be scored again."""

    origin: Path
    results: Results
    records: list[SegmentRecord]
    segments: dict[tuple[str, str], list[SegmentRecord]] = field(init=False)

    def __post_init__(self) -> None:
        self.segments = {}
        for record in self.records:
            self.segments.setdefault((record.system, record.direction), []).append(record)

    @property
    def manifest(self) -> Manifest:
        """The run's manifest."""
        return self.results.manifest

    @property
    def scores(self) -> Scores:
        """system -> direction -> result."""
        return self.results.results

    @property
    def gate(self) -> dict[str, Any] | None:
        """The gate settings the run's config carried, if any."""
        gate: dict[str, Any] | None = self.manifest.config.get("gate")
        return gate

    def pairs(self) -> list[tuple[str, str]]:
        """(system, direction) pairs with results, in file order."""
        return pairs_of(self.scores)

    def hypotheses(self, system: str, direction: str) -> tuple[list[str], list[str]]:
        """Segment ids and hypotheses of one system × direction, in corpus order."""
        records = self.segments.get((system, direction), [])
        return [r.id for r in records], [r.hypothesis for r in records]


@dataclass
class Baseline:
    """A baseline read back: scores, manifest, hypotheses — no references, so it is only compared against."""

    origin: Path
    document: BaselineFile

    @property
    def manifest(self) -> Manifest:
        """The source run's manifest."""
        return self.document.manifest

    @property
    def scores(self) -> Scores:
        """system -> direction -> result."""
        return self.document.results

    @property
    def gate(self) -> dict[str, Any] | None:
        """The gate settings stored with the baseline."""
        return self.document.gate

    def pairs(self) -> list[tuple[str, str]]:
        """(system, direction) pairs with results, in file order."""
        return pairs_of(self.scores)

    def hypotheses(self, system: str, direction: str) -> tuple[list[str], list[str]]:
        """Segment ids and hypotheses of one system × direction, in corpus order."""
        outputs = self.document.segments.get(system, {}).get(direction)
        return (list(outputs.ids), list(outputs.hypotheses)) if outputs else ([], [])
