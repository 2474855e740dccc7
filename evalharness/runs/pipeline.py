"""The run pipeline, top to bottom: corpus → systems (translate stage) → metrics (evaluate stage) → run directory.

One path for every run: a config with ``corpus:`` is a run set of one test set, written as a plain run directory;
one with ``corpora:`` writes a run set folder (:mod:`evalharness.runs.multi`) with a run directory per test set.
Everything that can be checked before translating (config, corpora, metric names, backends, models, the run
directory) is checked first. The translate stage is the config's :class:`~evalharness.runs.executor.Executor`
(chosen once, by :func:`executor_for`), given every test set at once; the evaluate stage scores, flags and slices
what came back. Nothing is written until both have finished, so a failed run leaves no partial results.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalharness.corpus import Corpus, Segment, load_corpus, load_plain_pair
from evalharness.corpus.tags import matches, parse_where, tags_for
from evalharness.errors import ConfigError, CorpusError, HypothesisError, InputError
from evalharness.runs.config import CORPUS_PLACEHOLDER, CorpusFiles, RunConfig
from evalharness.runs.executor import Executor, LocalExecutor, RaySettings, TestSetWork, Translations
from evalharness.runs.files import staged_directory, write_run
from evalharness.runs.manifest import build_manifest
from evalharness.runs.multi import write_set_files
from evalharness.runs.schema import (
    SCHEMA_VERSION,
    DirectionResult,
    MetricScore,
    Results,
    SegmentRecord,
    references_hash,
)
from evalharness.runs.target import check_run_dir, check_set_dir, default_run_dir, run_inputs
from evalharness.runs.translate import ProgressFactory, Translated
from evalharness.scoring.flags import count_flags, flag_outputs
from evalharness.scoring.metrics import METRICS, REFERENCES, Metric, References, get_metrics, stack_references
from evalharness.scoring.parallel import PoolSettings
from evalharness.scoring.scorer import score_metrics
from evalharness.scoring.significance import Bootstrap, confidence_interval
from evalharness.scoring.slices import slice_scores
from evalharness.store import TranslationStore, default_cache_path
from evalharness.systems import System, create_system
from evalharness.systems.settings import FilesSettings

if TYPE_CHECKING:
    import numpy as np

Summarizer = Callable[[Results, list[SegmentRecord]], str]
"""Renders ``summary.md`` (``evalharness.render.summary.render_summary``; given by the caller, since rendering
sits above runs in the layout)."""


@dataclass
class RunOutput:
    """What a finished run of one test set produced."""

    run_dir: Path
    results: Results
    segments: list[SegmentRecord]
    summary: str


@dataclass
class RunSetOutput:
    """What a finished run produced: its folder and each test set's run, in config order.

    ``single``: the config named one ``corpus:``, and ``run_dir`` is that test set's run directory itself (the
    one member's ``run_dir``); otherwise ``run_dir`` is a run set folder holding one run directory per member."""

    run_dir: Path
    members: list[tuple[str, RunOutput]]
    single: bool


# --------------------------------------------------------------------------- the test sets of a run


@dataclass
class Member:
    """One test set of a run, before it runs: its name, its folder in a run set ("" for a run of one corpus),
    its single-corpus config, the corpus."""

    name: str
    folder: str
    config: RunConfig
    corpus: Corpus


def open_corpus(config: RunConfig) -> Corpus:
    """The corpus named or given as files by a config of one corpus (one with ``corpora``: :func:`members`)."""
    if config.corpora is not None:
        raise InputError("a config with 'corpora' is a run over several test sets: open them with members()")
    corpus = load_plain_pair(config.corpus.files) if isinstance(config.corpus, CorpusFiles) else \
        load_corpus(config.corpus)
    for i, direction in enumerate(config.directions):
        src, tgt = corpus.check_direction(direction, where=f"directions.{i}")  # a direction in a language it lacks
        check_sides(corpus, src, tgt, config.metrics, where=f"directions.{i}")
    return corpus


def check_sides(corpus: Corpus, src: str, tgt: str, metrics: Sequence[str], *, where: str) -> None:
    """Refuse, in one line, a direction a corpus of sources only cannot run: from its missing side, or into it with a
    metric that reads references (QE metrics alone score a corpus without references)."""
    if src in corpus.missing_sides:
        raise CorpusError(f"{where}: corpus {corpus.name!r} has no {src} side (sources only, in {tgt}), so there is "
                          f"nothing to translate from in {src}-{tgt}; set directions to {tgt}-{src}")
    if tgt in corpus.missing_sides:
        needing = [METRICS.get(m).label for m in metrics if REFERENCES in METRICS.get(m).reads]
        if needing:
            raise ConfigError(f"metrics: {', '.join(needing)} read(s) the references, and corpus {corpus.name!r} has "
                              f"no {tgt} side (sources only): score {src}-{tgt} with reference-free metrics alone "
                              "(cometkiwi)")


def members(config: RunConfig) -> list[Member]:
    """The test sets of a run, each opened (a named test set is fetched and verified now, before any model loads),
    with the config that runs it alone: the corpus of a config with ``corpus:``, else each of ``corpora`` (two
    corpora of one name are refused)."""
    if config.corpora is None:
        corpus = open_corpus(config)
        return [Member(corpus.name, "", config, corpus)]
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


def member_inputs(parts: Sequence[Member], config_path: Path | None) -> list[Path]:
    """Every file or folder the run of these test sets reads."""
    return [p for m in parts for p in run_inputs(m.config, config_path, m.corpus)]


def executor_for(config: RunConfig) -> Executor:
    """The executor ``executor.kind`` asks for; Ray's module is imported only when it is chosen."""
    if isinstance(config.executor, RaySettings):
        from evalharness.runs.ray_executor import RayExecutor

        return RayExecutor(config.executor, seed=config.seed)
    return LocalExecutor(name_sets=config.corpora is not None)


# --------------------------------------------------------------------------- planning


def chosen_segments(segments: list[Segment], where: Sequence[str], direction: str, corpus_name: str) -> list[int]:
    """Positions of the segments whose tags in ``direction`` match ``where``; none is an error."""
    src = direction.split("-")[0]
    filters = parse_where(where)
    keep = [i for i, seg in enumerate(segments) if matches(tags_for(seg.kind, seg.fidelity, seg.texts[src]), filters)]
    if not keep:
        raise InputError(f"--where {' '.join(where)} selects no segment of {corpus_name!r} in {direction}")
    return keep


@dataclass
class RunPlan:
    """One test set's run checked and ready to translate: what it scores with and on which segments."""

    config: RunConfig
    config_path: Path | None
    started: datetime
    metrics: list[Metric]
    corpus: Corpus
    segments: list[Segment]
    keep: dict[str, list[int]]  # per direction, the positions of the segments scored

    def work(self, name: str, store: TranslationStore | None, notify: Callable[[str], None] | None) -> TestSetWork:
        """The translate stage's work: the config's systems, each checked against the corpus (a ``files``
        system's line count), with their directions."""
        systems: list[System] = [create_system(s, seed=self.config.seed, index=i, store=store, notify=notify)
                                 for i, s in enumerate(self.config.systems)]
        for system in systems:
            system.preflight(len(self.segments))
        directions = [self.config.system_directions(s.settings) for s in systems]
        return TestSetWork(name, systems, directions, self.segments, self.keep)


def plan_run(config: RunConfig, corpus: Corpus, *, config_path: Path | None = None) -> RunPlan:
    """Everything one test set's run checks before it loads a model: metrics ready, filters, segments kept."""
    started = datetime.now(timezone.utc)
    metrics = get_metrics(config.metrics, config.metric_settings, scoring=config.scoring.model_dump())
    for metric in metrics:
        metric.check_ready()  # e.g. COMET's environment: before any model loads or translates
    PoolSettings().resolved_processes()  # a bad $EVALHARNESS_SCORING_PROCESSES: now, not after translating
    segments: list[Segment] = corpus.segments(config.level)
    parse_where(config.where)  # a bad filter fails before any model loads
    used = {d for s in config.systems for d in config.system_directions(s)}
    keep: dict[str, list[int]] = {d: chosen_segments(segments, config.where, d, corpus.name)[: config.limit]
                                  for d in config.directions if d in used}
    return RunPlan(config, config_path, started, metrics, corpus, segments, keep)


def open_store(config: RunConfig) -> TranslationStore | None:
    """The translation store the config asks for, or None when it is disabled."""
    if not config.cache.enabled:
        return None
    path = Path(config.cache.path).expanduser() if config.cache.path else default_cache_path()
    return TranslationStore(path)


# --------------------------------------------------------------------------- evaluate stage


Stats = dict[str, "np.ndarray"]
"""Per metric, the segments' statistics (segments × statistics)."""


def score_direction(metrics: list[Metric], hypotheses: list[str], references: References | None,
                    statistics: Bootstrap,
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
                       store: TranslationStore | None) -> tuple[DirectionResult, list[SegmentRecord]]:
    """Scores, flags and slices of one system × direction."""
    src, tgt = translated.direction.split("-")
    chosen, translations = translated.segments, translated.translations
    sources = [seg.texts[src] for seg in chosen]
    missing = bool(chosen) and tgt not in chosen[0].texts  # a corpus of sources only: reference-free metrics alone
    references = [seg.texts.get(tgt, "") for seg in chosen]
    others = [seg.other_references.get(tgt, ()) for seg in chosen]
    hypotheses = [t.text for t in translations]
    stacked = None if missing else stack_references(references, others)
    try:
        corpus_scores, seg_scores, stats = score_direction(metrics, hypotheses, stacked, config.statistics, sources)
    except HypothesisError as err:
        raise HypothesisError(f"system {translated.system!r}, {translated.direction}: {err} (the translations "
                              "are in the cache: a rerun does not translate again)") from None
    flags = flag_outputs(sources, references, hypotheses, src, tgt, settings=config.flags,
                         hit_limits=[t.hit_limit for t in translations], store=store)
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
    spans = {m.name: found for m in metrics if (found := m.error_spans(hypotheses, stacked or [], sources=sources))}
    records = [SegmentRecord(
        system=translated.system, direction=translated.direction, id=seg.id,
        source=sources[i], reference=None if missing else references[i], hypothesis=hypotheses[i],
        scores={m: seg_scores[m][i] for m in seg_scores}, raw_scores={m: raw[m][i] for m in raw},
        output_tokens=translations[i].tokens, hit_limit=translations[i].hit_limit,
        flags=flags[i], tags=tags[i], other_references=list(others[i]),
        postprocessed=list(translations[i].notes),
        error_spans={m: spans[m][i] for m in spans if spans[m][i]},
    ) for i, seg in enumerate(chosen)]
    return result, records


def evaluate_run(plan: RunPlan, translations: Translations, executor: dict[str, Any],
                 store: TranslationStore | None, *, summarize: Summarizer, run_dir: Path) -> RunOutput:
    """The evaluate stage of one test set: its results, segment records and summary (nothing written yet)."""
    config, segments, keep = plan.config, plan.segments, plan.keep
    results: dict[str, dict[str, DirectionResult]] = {s.name: {} for s in config.systems}
    records: list[SegmentRecord] = []
    for item in translations.translated:
        result, direction_records = evaluate_direction(item, config, plan.metrics, store)
        results[item.system][item.direction] = result
        records.extend(direction_records)
    references = {d: references_hash((segments[i].id, segments[i].references(d.split("-")[1]))
                                     for i in keep[d]) for d in keep}
    manifest = build_manifest(config, plan.config_path, plan.corpus, len(segments), translations.systems,
                              plan.metrics, str(store.path) if store is not None else None, plan.started,
                              datetime.now(timezone.utc), references)
    manifest = manifest.model_copy(update={"executor": executor})
    results_file = Results(schema_version=SCHEMA_VERSION, manifest=manifest, results=results)
    return RunOutput(run_dir, results_file, records, summarize(results_file, records))


# --------------------------------------------------------------------------- the whole run


def run(config: RunConfig, *, summarize: Summarizer, config_path: Path | None = None, run_dir: Path | None = None,
        overwrite: bool = False, progress: ProgressFactory | None = None,
        notify: Callable[[str], None] | None = None, protect: Sequence[Path] = ()) -> RunSetOutput:
    """Translate every test set of the config with every system in every direction, score, and write the run.

    ``run_dir`` (default: a new ``<output_dir>/<timestamp>-<config>``) must be new or empty unless
    ``overwrite``, which replaces an existing run (of the same shape) as a whole once the new one is complete.
    ``notify`` hears one-line status messages (a model being loaded) that a progress bar cannot show;
    ``protect`` names more files the run directory must not hold (a baseline being checked against).
    """
    single = config.corpora is None
    parts = members(config)
    target = run_dir or default_run_dir(config, config_path, datetime.now(timezone.utc))
    check_output = check_run_dir if single else check_set_dir
    check_output(target, overwrite=overwrite, inputs=[*member_inputs(parts, config_path), *protect])
    plans: list[RunPlan] = []
    store = None
    try:
        for m in parts:
            plans.append(plan_run(m.config, m.corpus, config_path=config_path))
        store = open_store(config)
        for plan in plans:
            for metric in plan.metrics:
                metric.store = store  # a metric slow to score (COMET) keeps its segment scores beside the outputs
        works = [plan.work(m.name, store, notify) for m, plan in zip(parts, plans, strict=True)]
        translations, executor = executor_for(config).translate(works, progress=progress, notify=notify)
        outputs = [(m.name, evaluate_run(plan, done, executor, store, summarize=summarize,
                                         run_dir=target / m.folder if m.folder else target))
                   for m, plan, done in zip(parts, plans, translations, strict=True)]
    finally:
        for plan in plans:
            for metric in plan.metrics:
                metric.close()
        if store is not None:
            store.close()
    write_output(RunSetOutput(target, outputs, single), parts, config_path, overwrite=overwrite)
    return RunSetOutput(target, outputs, single)


def write_output(output: RunSetOutput, parts: Sequence[Member], config_path: Path | None, *,
                 overwrite: bool) -> None:
    """Write a finished run: a run directory, or a run set folder built beside its destination and renamed into
    place (all members, or nothing). The destination is checked again: another process may have written there."""
    if output.single:
        only = output.members[0][1]
        check_run_dir(output.run_dir, overwrite=overwrite, inputs=[])
        write_run(only.run_dir, only.results, only.segments, only.summary)
        return
    with staged_directory(output.run_dir) as staging:
        for m, (_, member) in zip(parts, output.members, strict=True):
            write_run(staging / m.folder, member.results, member.segments, member.summary)
        write_set_files(staging, [(m.name, m.folder) for m in parts], [(n, o.summary) for n, o in output.members],
                        config_path)
        check_set_dir(output.run_dir, overwrite=overwrite, inputs=[])
