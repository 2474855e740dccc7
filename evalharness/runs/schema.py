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

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

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
    # what sacrebleu prints after the score, where it prints anything (BLEU: precisions, bp, ratio, hyp_len,
    # ref_len and its own line of them, verbose_score); absent for other metrics and from older files
    breakdown: dict[str, Any] | None = None

    @model_serializer(mode="wrap")
    def _omit_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("breakdown") is None:
            data.pop("breakdown", None)
        return data


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
    # per direction, sha256 over the scored segments' ids and references ("id<TAB>reference<LF>" each): what the
    # run was scored against, so an edited segments.jsonl or another --where/--limit selection shows
    references: dict[str, str] = Field(default_factory=dict)


class MetricInfo(Record):
    """A metric's signatures and direction, as the run computed them."""

    signature: str
    segment_signature: str
    higher_is_better: bool
    # the sacrebleu options it was built with, beyond sacrebleu's defaults ({"tokenize": "intl"}); compare and
    # check build the metric again with them (absent from files written before the scoring settings: defaults)
    options: dict[str, Any] = Field(default_factory=dict)


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
    executor: dict[str, Any] = Field(default_factory=dict)  # kind; on Ray: nodes, resources, shards, retries
    statistics: StatisticsInfo
    started_at: str
    finished_at: str
    duration_s: float


Scores = dict[str, dict[str, DirectionResult]]
"""system -> direction ("ms-en") -> result."""


def _check_scores(manifest: Manifest, results: Scores) -> None:
    """Every result carries exactly the manifest's metrics: a deleted score must not drop out of a gate."""
    metrics = set(manifest.metrics)
    if not results:
        raise ValueError("results is empty: no system × direction was scored")
    for system, by_dir in results.items():
        if not by_dir:
            raise ValueError(f"results.{system} holds no direction")
        for direction, res in by_dir.items():
            if set(res.scores) != metrics:
                raise ValueError(f"results.{system}.{direction}.scores has {sorted(res.scores)} but the manifest's "
                                 f"metrics are {sorted(metrics)}")


class Results(Record):
    """``results.json``."""

    schema_version: Literal[1]
    manifest: Manifest
    results: Scores

    @model_validator(mode="after")
    def _consistent(self) -> Results:
        _check_scores(self.manifest, self.results)
        return self


class SegmentRecord(Record):
    """One line of ``segments.jsonl``; ``id`` is the corpus's stable segment id."""

    system: str
    direction: str
    id: str
    source: str
    reference: str | None = None  # None, and left out of the file: a corpus of sources only (reference-free metrics)
    hypothesis: str
    scores: dict[str, float]
    output_tokens: int
    hit_limit: bool  # generation stopped at max_new_tokens
    flags: dict[str, Any]  # flag name -> the value that raised it (evalharness.scoring.flags)
    tags: dict[str, str]  # slice tags: kind, fidelity, length
    # The fields below are written only when they hold something, so other runs read and write as before.
    other_references: list[str] = Field(default_factory=list)  # more references than ``reference`` (corpus has them)
    # metric name -> its own value where the score rescales it (COMET: 0–1, the score is ×100)
    raw_scores: dict[str, float] = Field(default_factory=dict)
    # the post-processing rules that changed the system's answer (``think``, ``preamble``: systems/postprocess.py)
    postprocessed: list[str] = Field(default_factory=list)
    # metric name -> the error spans it found in the hypothesis (xCOMET: {start, end, severity, confidence, text},
    # character offsets), only for segments with at least one span
    error_spans: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)

    @model_serializer(mode="wrap")
    def _omit_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key in ("other_references", "raw_scores", "postprocessed", "error_spans"):
            if not data.get(key):
                data.pop(key, None)
        if data.get("reference", "") is None:
            data.pop("reference")
        return data

    def references(self) -> list[str]:
        """Every reference of the segment, ``reference`` first; none for a corpus of sources only."""
        return [] if self.reference is None else [self.reference, *self.other_references]


class BaselineOutputs(Record):
    """One system × direction of a baseline: segment ids and hypotheses, in corpus order."""

    ids: list[str]
    hypotheses: list[str]
    flags: list[list[str]] | None = None  # each segment's flag names (absent from baselines made before 0.2)

    @model_validator(mode="after")
    def _aligned(self) -> BaselineOutputs:
        if len(self.ids) != len(self.hypotheses):
            raise ValueError(f"{len(self.ids)} ids but {len(self.hypotheses)} hypotheses")
        if self.flags is not None and len(self.flags) != len(self.ids):
            raise ValueError(f"{len(self.ids)} ids but {len(self.flags)} flag lists")
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

    @model_validator(mode="after")
    def _consistent(self) -> BaselineFile:
        _check_scores(self.manifest, self.results)
        scored = set(pairs_of(self.results))
        kept = {(s, d) for s, by_dir in self.segments.items() for d in by_dir}
        if scored != kept:
            odd = sorted(scored ^ kept)
            raise ValueError(f"results and segments cover different system × direction pairs ({odd[0][0]} "
                             f"{odd[0][1]} is in only one)")
        for system, direction in scored:
            if self.results[system][direction].segments != len(self.segments[system][direction].ids):
                raise ValueError(f"{system} {direction}: results count {self.results[system][direction].segments} "
                                 f"segments, segments holds {len(self.segments[system][direction].ids)}")
        return self


def references_hash(items: Iterable[tuple[str, Sequence[str]]]) -> str:
    """sha256 over ``id<TAB>reference<LF>`` of each scored segment, in order; a segment with several references
    has them all on its line, tab-separated (one reference hashes as before several were possible)."""
    digest = hashlib.sha256()
    for sid, references in items:
        digest.update(f"{sid}\t{chr(9).join(references)}\n".encode("utf-8", "surrogatepass"))
    return "sha256:" + digest.hexdigest()


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
        scored = set(self.pairs())
        expected_refs = self.manifest.corpus.references
        for (system, direction), records in self.segments.items():
            want = expected_refs.get(direction)
            if want is None:  # without it, references edited after scoring would pass unseen
                raise ValueError(f"{system} {direction}: the manifest has no corpus.references hash for {direction}, "
                                 f"so the references in {SEGMENTS_FILE} cannot be trusted; run it again")
            if references_hash((r.id, r.references()) for r in records) != want:
                raise ValueError(f"{system} {direction}: the references in {SEGMENTS_FILE} are not the ones the run "
                                 "was scored against (the manifest's corpus.references hash)")
        for pair in sorted(scored | set(self.segments)):
            count = len(self.segments.get(pair, []))
            expected = self.scores[pair[0]][pair[1]].segments if pair in scored else 0
            if count != expected:
                raise ValueError(f"{pair[0]} {pair[1]}: {RESULTS_FILE} counts {expected} segments, "
                                 f"{SEGMENTS_FILE} holds {count}")

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

    def flags(self, system: str, direction: str) -> list[set[str]] | None:
        """Each segment's flag names, in corpus order."""
        return [set(r.flags) for r in self.segments.get((system, direction), [])]


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

    def flags(self, system: str, direction: str) -> list[set[str]] | None:
        """Each segment's flag names, in corpus order; None for a baseline made before flags were kept."""
        outputs = self.document.segments.get(system, {}).get(direction)
        return [set(f) for f in outputs.flags] if outputs is not None and outputs.flags is not None else None


# --------------------------------------------------------------------------- several test sets in one run

RUN_SET_FILE = "runset.json"
RUN_SET_KIND: Literal["evalharness-run-set"] = "evalharness-run-set"
BASELINE_SET_KIND: Literal["evalharness-baseline-set"] = "evalharness-baseline-set"


class RunSetMember(Record):
    """One test set of a run set: its corpus name and the folder (inside the run set) holding its run."""

    name: str
    folder: str


class RunSetIndex(Record):
    """``runset.json``: a run over several corpora (``corpora:`` in a config) is one ordinary run directory per
    corpus, side by side, and this index; each member is scored, flagged, sliced, gated and reported alone."""

    schema_version: Literal[1]
    kind: Literal["evalharness-run-set"]
    config_path: str | None
    members: list[RunSetMember] = Field(min_length=1)


class BaselineSetFile(Record):
    """A baseline of a run set: one baseline per test set, by corpus name, in run order."""

    schema_version: Literal[1]
    kind: Literal["evalharness-baseline-set"]
    created_at: str
    source_run: str
    baselines: dict[str, BaselineFile] = Field(min_length=1)
