"""The run pipeline, top to bottom: corpus → systems (translate stage) → metrics (evaluate stage) → run directory.

Everything that can be checked before translating (config, corpus, metric names, backends, models) is checked
first. The translate stage asks every system for every direction (through the translation store) and closes
each system when it is done; the evaluate stage scores, flags and slices what came back. Nothing is written
until both have finished, so a failed run leaves no partial results.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalharness.corpus import Corpus, Segment, load_corpus, load_plain_pair
from evalharness.corpus.sentences import split_sentences
from evalharness.corpus.tags import matches, parse_where, tags_for
from evalharness.errors import HypothesisError, InputError
from evalharness.runs.config import CorpusFiles, RunConfig, Statistics
from evalharness.runs.executor import RayExecutor
from evalharness.runs.files import write_run
from evalharness.runs.manifest import build_manifest
from evalharness.runs.schema import (
    RESULTS_FILE,
    SCHEMA_VERSION,
    SEGMENTS_FILE,
    SUMMARY_FILE,
    DirectionResult,
    MetricScore,
    Results,
    SegmentRecord,
    references_hash,
)
from evalharness.scoring.flags import count_flags, flag_outputs
from evalharness.scoring.metrics import Metric, References, get_metrics, score_metrics, stack_references
from evalharness.scoring.parallel import PoolSettings
from evalharness.scoring.significance import confidence_interval
from evalharness.scoring.slices import slice_scores
from evalharness.store import TranslationCache, default_cache_path
from evalharness.systems import System, Translation, create_system
from evalharness.systems.cached import CachedSystem
from evalharness.systems.settings import FilesSettings, ModelSettings, looks_like_path

if TYPE_CHECKING:
    import numpy as np

ProgressFactory = Callable[[str, int], Any]
"""Makes a progress bar: (description, total) → object with ``update(n)`` and ``close()``."""

Summarizer = Callable[[Results, list[SegmentRecord]], str]
"""Renders ``summary.md`` (``evalharness.render.summary.render_summary``; given by the caller, since rendering
sits above runs in the layout)."""


@dataclass
class RunOutput:
    """What a finished run produced."""

    run_dir: Path
    results: Results
    segments: list[SegmentRecord]
    summary: str


@dataclass
class Translated:
    """What the translate stage hands the evaluate stage for one system × direction."""

    system: str
    direction: str
    segments: list[Segment]  # the segments chosen by ``where``, in corpus order
    translations: list[Translation]  # one per chosen segment
    translate_s: float
    cache: dict[str, int]


def open_corpus(config: RunConfig) -> Corpus:
    """The corpus named or given as files by the config (one with ``corpora`` runs through runs/multi.py)."""
    if config.corpora is not None:
        raise InputError("a config with 'corpora' is a run over several test sets: run it with runs.multi.run_set")
    corpus = load_plain_pair(config.corpus.files) if isinstance(config.corpus, CorpusFiles) else \
        load_corpus(config.corpus)
    for i, direction in enumerate(config.directions):
        corpus.check_direction(direction, where=f"directions.{i}")  # a direction in a language it lacks
    return corpus


def translation_units(segments: list[Segment], src: str, segmentation: str) -> tuple[list[str], list[int]]:
    """What the system is asked to translate: whole segments, or their sentences (and how many per segment).

    Sentence mode uses the corpus's own sentence alignment where it has one, else sentencex.
    """
    if segmentation == "paragraph":
        return [seg.texts[src] for seg in segments], [1] * len(segments)
    units: list[str] = []
    counts: list[int] = []
    for seg in segments:
        sentences = list(seg.sentences.get(src, ())) or split_sentences(seg.texts[src], src) or [seg.texts[src]]
        units.extend(sentences)
        counts.append(len(sentences))
    return units, counts


def rejoin(outputs: list[Translation], counts: list[int]) -> list[Translation]:
    """One output per segment: its sentences' translations joined by a space."""
    out: list[Translation] = []
    pos = 0
    for n in counts:
        part = outputs[pos : pos + n]
        pos += n
        out.append(Translation(" ".join(t.text for t in part if t.text), sum(t.tokens for t in part),
                               any(t.hit_limit for t in part)))
    return out


# --------------------------------------------------------------------------- translate stage


def chosen_segments(segments: list[Segment], where: Sequence[str], direction: str, corpus_name: str) -> list[int]:
    """Positions of the segments whose tags in ``direction`` match ``where``; none is an error."""
    src = direction.split("-")[0]
    filters = parse_where(where)
    keep = [i for i, seg in enumerate(segments) if matches(tags_for(seg.kind, seg.fidelity, seg.texts[src]), filters)]
    if not keep:
        raise InputError(f"--where {' '.join(where)} selects no segment of {corpus_name!r} in {direction}")
    return keep


def translate_direction(system: System, direction: str, segments: list[Segment], keep: list[int],
                        progress: ProgressFactory | None) -> Translated:
    """One system in one direction: the chosen segments translated (or split, translated and rejoined)."""
    src, tgt = direction.split("-")
    chosen = [segments[i] for i in keep]
    asked = segments if system.whole_corpus else chosen
    units, per_segment = translation_units(asked, src, system.segmentation)
    bar = progress(f"{system.name} {direction}", len(units)) if progress else None
    load_before, t0 = system.load_s, time.perf_counter()
    unit_out = system.translate(units, src, tgt, on_batch=(lambda idx, _: bar.update(len(idx))) if bar else None)
    elapsed = time.perf_counter() - t0 - (system.load_s - load_before)
    if bar:
        bar.close()
    if len(unit_out) != len(units):
        raise HypothesisError(f"system {system.name!r} returned {len(unit_out)} outputs for {len(units)} inputs")
    cache = ({"hits": system.hits, "misses": system.misses} if isinstance(system, CachedSystem)
             else {"hits": 0, "misses": len(units)})
    translations = rejoin(unit_out, per_segment)
    if system.whole_corpus:
        translations = [translations[i] for i in keep]
    return Translated(system.name, direction, chosen, translations, elapsed, cache)


# --------------------------------------------------------------------------- evaluate stage


Stats = dict[str, "np.ndarray"]
"""Per metric, the segments' statistics (segments × statistics)."""


def score_direction(metrics: list[Metric], hypotheses: list[str], references: References, statistics: Statistics,
                    sources: list[str] | None = None) -> tuple[dict[str, MetricScore], dict[str, list[float]], Stats]:
    """Corpus scores (with signatures and bootstrap intervals) and per-segment scores for one system × direction.

    Every metric's statistics come from one pass over the text, on every core for large inputs; ``sources`` go to
    the metrics that read them (COMET)."""
    corpus_scores: dict[str, MetricScore] = {}
    segment_scores: dict[str, list[float]] = {}
    all_stats: Stats = {}
    scored_all = score_metrics(metrics, hypotheses, references, segment_scores=True, sources=sources)
    for metric, scored in zip(metrics, scored_all, strict=True):
        stats = scored.stats
        all_stats[metric.name] = stats
        segment_scores[metric.name] = [] if scored.scores is None else scored.scores.tolist()
        low, high = confidence_interval(metric, stats, resamples=statistics.resamples, seed=statistics.seed,
                                        confidence=statistics.confidence)
        # sacrebleu fills in a signature only once the metric has scored something (it records nrefs).
        corpus_scores[metric.name] = MetricScore(
            score=metric.score_from_stats(stats), ci=(low, high), signature=metric.signature,
            segment_signature=metric.segment_signature, higher_is_better=metric.higher_is_better,
            breakdown=metric.breakdown(stats))
    return corpus_scores, segment_scores, all_stats


def evaluate_direction(translated: Translated, config: RunConfig, metrics: list[Metric],
                       memo: TranslationCache | None) -> tuple[DirectionResult, list[SegmentRecord]]:
    """Scores, flags and slices of one system × direction."""
    src, tgt = translated.direction.split("-")
    chosen, translations = translated.segments, translated.translations
    sources = [seg.texts[src] for seg in chosen]
    references = [seg.texts[tgt] for seg in chosen]
    others = [seg.other_references.get(tgt, ()) for seg in chosen]
    hypotheses = [t.text for t in translations]
    try:
        corpus_scores, seg_scores, stats = score_direction(metrics, hypotheses, stack_references(references, others),
                                                           config.statistics, sources)
    except HypothesisError as err:
        raise HypothesisError(f"system {translated.system!r}, {translated.direction}: {err} (the translations "
                              "are in the cache: a rerun does not translate again)") from None
    flags = flag_outputs(sources, references, hypotheses, src, tgt, settings=config.flags.settings(),
                         hit_limits=[t.hit_limit for t in translations], memo=memo)
    tags = [tags_for(seg.kind, seg.fidelity, seg.texts[src]) for seg in chosen]
    elapsed = translated.translate_s
    result = DirectionResult(
        segments=len(sources),
        scores=corpus_scores,
        translate_s=round(elapsed, 4),
        segments_per_s=round(len(sources) / elapsed, 2) if elapsed > 0 else 0.0,
        output_tokens=sum(t.tokens for t in translations),
        cache=translated.cache,
        flags=count_flags(flags),
        slices=slice_scores(metrics, stats, tags),  # type: ignore[arg-type]
    )
    raw = {m.name: values for m in metrics if (values := m.raw_scores(stats[m.name])) is not None}
    records = [SegmentRecord(
        system=translated.system, direction=translated.direction, id=seg.id,
        source=sources[i], reference=references[i], hypothesis=hypotheses[i],
        scores={m: seg_scores[m][i] for m in seg_scores}, raw_scores={m: raw[m][i] for m in raw},
        output_tokens=translations[i].tokens, hit_limit=translations[i].hit_limit,
        flags=flags[i], tags=tags[i], other_references=list(others[i]),
    ) for i, seg in enumerate(chosen)]
    return result, records


# --------------------------------------------------------------------------- the whole run


def metric_options(config: RunConfig) -> dict[str, dict[str, Any]]:
    """Per metric name, what its constructor takes from the config: COMET its section and the store's path."""
    options: dict[str, dict[str, Any]] = {}
    if "comet" in config.metrics:
        cache = (str(Path(config.cache.path).expanduser() if config.cache.path else default_cache_path())
                 if config.cache.enabled else None)
        options["comet"] = {**(config.comet.model_dump() if config.comet else {}), "cache": cache}
    return options


def translate_locally(config: RunConfig, systems: list[System], segments: list[Segment], keep: dict[str, list[int]],
                      progress: ProgressFactory | None) -> tuple[list[Translated], dict[str, Any]]:
    """The translate stage in this process: each system in each of its directions, then closed."""
    translated: list[Translated] = []
    manifests: dict[str, Any] = {}
    for system in systems:
        try:
            directions = config.system_directions(system.settings)
            translated += [translate_direction(system, d, segments, keep[d], progress) for d in directions]
            manifests[system.name] = {**system.manifest(), "directions": directions}
        finally:
            system.close()
    return translated, manifests


def open_store(config: RunConfig) -> TranslationCache | None:
    """The translation store the config asks for, or None when it is disabled."""
    if not config.cache.enabled:
        return None
    path = Path(config.cache.path).expanduser() if config.cache.path else default_cache_path()
    return TranslationCache(path)


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


def run(config: RunConfig, *, summarize: Summarizer, config_path: Path | None = None, run_dir: Path | None = None,
        overwrite: bool = False, progress: ProgressFactory | None = None,
        notify: Callable[[str], None] | None = None, protect: Sequence[Path] = ()) -> RunOutput:
    """Translate the corpus with every system in every direction, score, and write the run directory.

    ``run_dir`` (default: a new ``<output_dir>/<timestamp>-<config>``) must be new or empty unless
    ``overwrite``, which replaces an existing run directory as a whole once the new run is complete.
    ``notify`` hears one-line status messages (a model being loaded) that a progress bar cannot show;
    ``protect`` names more files the run directory must not hold (a baseline being checked against).
    """
    plan = plan_run(config, config_path=config_path, run_dir=run_dir, overwrite=overwrite, protect=protect)
    store = open_store(config)
    try:
        systems = plan.systems(store, notify)
        executor: dict[str, Any] = {"kind": "local"}
        if isinstance(config.executor, RayExecutor):  # the same translations, made on a Ray cluster
            from evalharness.runs.ray_executor import translate_on_ray

            translated, manifests, executor = translate_on_ray(config.executor, config, systems, plan.segments,
                                                               plan.keep, test_set=plan.corpus.name,
                                                               progress=progress, notify=notify)
        else:
            translated, manifests = translate_locally(config, systems, plan.segments, plan.keep, progress)
        return finish_run(plan, translated, manifests, executor, store, summarize=summarize, overwrite=overwrite)
    finally:
        for metric in plan.metrics:
            metric.close()
        if store is not None:
            store.close()


@dataclass
class RunPlan:
    """A run checked and ready to translate: what it scores with, on which segments, where it writes."""

    config: RunConfig
    config_path: Path | None
    started: datetime
    metrics: list[Metric]
    corpus: Corpus
    target: Path
    segments: list[Segment]
    keep: dict[str, list[int]]  # per direction, the positions of the segments scored

    def systems(self, store: TranslationCache | None, notify: Callable[[str], None] | None) -> list[System]:
        """The config's systems, each checked against the corpus (a ``files`` system's line count)."""
        systems = [create_system(s, seed=self.config.seed, index=i, store=store, notify=notify)
                   for i, s in enumerate(self.config.systems)]
        for system in systems:
            system.preflight(len(self.segments))
        return systems


def plan_run(config: RunConfig, *, config_path: Path | None = None, run_dir: Path | None = None,
             overwrite: bool = False, protect: Sequence[Path] = ()) -> RunPlan:
    """Everything a run checks before it loads a model: metrics ready, corpus, run directory, filters."""
    started = datetime.now(timezone.utc)
    metrics = get_metrics(config.metrics, metric_options(config), **config.scoring.model_dump())
    for metric in metrics:
        metric.check_ready()  # e.g. COMET's environment: before any model loads or translates
    PoolSettings().resolved_processes()  # a bad $EVALHARNESS_SCORING_PROCESSES: now, not after translating
    corpus = open_corpus(config)
    target = run_dir or default_run_dir(config, config_path, started)
    check_run_dir(target, overwrite=overwrite, inputs=[*run_inputs(config, config_path, corpus), *protect])
    segments: list[Segment] = corpus.segments(config.level)
    parse_where(config.where)  # a bad filter fails before any model loads
    used = {d for s in config.systems for d in config.system_directions(s)}
    keep: dict[str, list[int]] = {d: chosen_segments(segments, config.where, d, corpus.name)[: config.limit]
                                  for d in config.directions if d in used}
    return RunPlan(config, config_path, started, metrics, corpus, target, segments, keep)


def finish_run(plan: RunPlan, translated: list[Translated], manifests: dict[str, Any], executor: dict[str, Any],
               store: TranslationCache | None, *, summarize: Summarizer, overwrite: bool) -> RunOutput:
    """The evaluate stage and the run directory, from the translate stage's output."""
    config, segments, keep = plan.config, plan.segments, plan.keep
    results: dict[str, dict[str, DirectionResult]] = {s.name: {} for s in config.systems}
    records: list[SegmentRecord] = []
    for item in translated:
        result, direction_records = evaluate_direction(item, config, plan.metrics, store)
        results[item.system][item.direction] = result
        records.extend(direction_records)
    references = {d: references_hash((segments[i].id, segments[i].references(d.split("-")[1]))
                                     for i in keep[d]) for d in keep}
    manifest = build_manifest(config, plan.config_path, plan.corpus, len(segments), manifests, plan.metrics,
                              str(store.path) if store is not None else None, plan.started,
                              datetime.now(timezone.utc), references)
    manifest = manifest.model_copy(update={"executor": executor})
    results_file = Results(schema_version=SCHEMA_VERSION, manifest=manifest, results=results)
    summary = summarize(results_file, records)
    check_run_dir(plan.target, overwrite=overwrite, inputs=[])  # again: another process may have written there
    write_run(plan.target, results_file, records, summary)
    return RunOutput(plan.target, results_file, records, summary)
