"""The run pipeline, top to bottom: corpus → systems → translations → metrics → results files.

Everything that can be checked before translating (config, corpus, metric names, backends) is checked
first; nothing is written until every system has finished, so a failed run leaves no partial results.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from evalharness import __version__
from evalharness.store.sqlite import TranslationCache, default_cache_path, translate_with_cache
from evalharness.runs.config import CorpusFiles, RunConfig, Statistics
from evalharness.corpus import Corpus, Segment, load_corpus, load_plain_pair
from evalharness.corpus.sentences import split_sentences
from evalharness.errors import HypothesisError, InputError
from evalharness.scoring.flags import (
    LID_LANGUAGES,
    FlagSettings,
    count_flags,
    detect_languages,
    flag_segment,
    language_id_info,
    reference_ratio,

)
from evalharness.scoring.metrics import Metric, get_metrics
from evalharness.scoring.slices import slice_scores
from evalharness.runs.schema import SCHEMA_VERSION, DirectionResult, ResultsFile, SegmentRecord, write_run
from evalharness.scoring.significance import confidence_interval
from evalharness.corpus.tags import matches, parse_where, tags_for
from evalharness.render.summary import render_summary
from evalharness.systems import System, Translation, create_system
from evalharness.systems.hf import HFModelSystem, hash_model_dir

ProgressFactory = Callable[[str, int], Any]
"""Makes a progress bar: (description, total) → object with ``update(n)`` and ``close()``."""


@dataclass
class RunOutput:
    """What a finished run produced."""

    run_dir: Path
    results: ResultsFile
    segments: list[SegmentRecord]
    summary: str


def open_corpus(config: RunConfig) -> Corpus:
    """The corpus named or given as files by the config."""
    if isinstance(config.corpus, CorpusFiles):
        return load_plain_pair({"ms": config.corpus.ms, "en": config.corpus.en})
    return load_corpus(config.corpus)


def package_versions(*names: str) -> dict[str, str | None]:
    """Installed versions, read from package metadata (no import: torch stays unloaded for a files run)."""
    out: dict[str, str | None] = {"python": platform.python_version(), "evalharness": __version__}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


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


Stats = dict[str, list[list[float]]]


def score_direction(metrics: list[Metric], hypotheses: list[str], references: list[str],
                    statistics: Statistics) -> tuple[dict[str, Any], dict[str, list[float]], Stats]:
    """Corpus scores (with signatures and bootstrap intervals) and per-segment scores for one system × direction."""
    corpus_scores: dict[str, Any] = {}
    segment_scores: dict[str, list[float]] = {}
    all_stats: dict[str, list[list[float]]] = {}
    for metric in metrics:
        stats, segment_scores[metric.name] = metric.evaluate(hypotheses, references)
        all_stats[metric.name] = stats
        score = metric.score_from_stats(stats)
        low, high = confidence_interval(metric, stats, resamples=statistics.resamples, seed=statistics.seed,
                                        confidence=statistics.confidence)
        # sacrebleu fills in a signature only once the metric has scored something (it records nrefs).
        corpus_scores[metric.name] = {
            "score": score,
            "ci": [low, high],
            "signature": metric.signature,
            "segment_signature": metric.segment_signature,
            "higher_is_better": metric.higher_is_better,
        }
    return corpus_scores, segment_scores, all_stats


def run_direction(system: System, direction: str, segments: list[Segment], config: RunConfig,
                  metrics: list[Metric], cache: TranslationCache | None, progress: ProgressFactory | None, *,
                  corpus_name: str) -> tuple[DirectionResult, list[SegmentRecord]]:
    """One system in one direction: select, translate (cached), rejoin, score, flag, slice."""
    src, tgt = direction.split("-")
    where = parse_where(config.where)
    keep = [i for i, seg in enumerate(segments) if matches(tags_for(seg.kind, seg.fidelity, seg.texts[src]), where)]
    if not keep:
        raise InputError(f"--where {' '.join(config.where)} selects no segment of {corpus_name!r} in {direction}")
    chosen = [segments[i] for i in keep]
    sources = [seg.texts[src] for seg in chosen]
    references = [seg.texts[tgt] for seg in chosen]
    asked = segments if system.whole_corpus else chosen
    units, per_segment = translation_units(asked, src, system.config.segmentation)
    bar = progress(f"{system.name} {direction}", len(units)) if progress else None
    load_before, t0 = system.load_s, time.perf_counter()
    unit_out, cache_stats = translate_with_cache(system, units, src, tgt, cache, bar.update if bar else None)
    elapsed = time.perf_counter() - t0 - (system.load_s - load_before)
    if bar:
        bar.close()
    if len(unit_out) != len(units):
        raise HypothesisError(f"system {system.name!r} returned {len(unit_out)} outputs for {len(units)} inputs")
    translations = rejoin(unit_out, per_segment)
    if system.whole_corpus:
        translations = [translations[i] for i in keep]
    hypotheses = [t.text for t in translations]
    corpus_scores, seg_scores, stats = score_direction(metrics, hypotheses, references, config.statistics)
    settings = FlagSettings((config.flags.length_ratio[0], config.flags.length_ratio[1]),
                            config.flags.copy_similarity, config.flags.language_confidence, config.flags.enabled)
    expected = reference_ratio(sources, references)
    languages = detect_languages(hypotheses, cache) if settings.enabled and tgt in LID_LANGUAGES else None
    flags = [flag_segment(s, t.text, src, tgt, expected_ratio=expected, hit_limit=t.hit_limit, settings=settings,
                          language=languages[i] if languages else None)
             for i, (s, t) in enumerate(zip(sources, translations, strict=True))]
    tags = [tags_for(seg.kind, seg.fidelity, seg.texts[src]) for seg in chosen]
    result: DirectionResult = {
        "segments": len(sources),
        "scores": corpus_scores,
        "translate_s": round(elapsed, 4),
        "segments_per_s": round(len(sources) / elapsed, 2) if elapsed > 0 else 0.0,
        "output_tokens": sum(t.tokens for t in translations),
        "cache": cache_stats,
        "flags": count_flags(flags),
        "slices": slice_scores(metrics, stats, tags),
    }
    records: list[SegmentRecord] = [{
        "system": system.name, "direction": direction, "id": seg.id,
        "source": sources[i], "reference": references[i], "hypothesis": hypotheses[i],
        "scores": {m: seg_scores[m][i] for m in seg_scores},
        "output_tokens": translations[i].tokens, "hit_limit": translations[i].hit_limit,
        "flags": flags[i], "tags": tags[i],
    } for i, seg in enumerate(chosen)]
    return result, records


def open_cache(config: RunConfig) -> TranslationCache | None:
    """The translation cache the config asks for, or None when it is disabled."""
    if not config.cache.enabled:
        return None
    path = Path(config.cache.path).expanduser() if config.cache.path else default_cache_path()
    return TranslationCache(path)


def attach_cache(system: System, cache: TranslationCache | None) -> None:
    """Let checkpoint systems memoise directory hashes in the cache and keep converted models beside it."""
    if cache is None or not isinstance(system, HFModelSystem):
        return
    system.dir_hasher = lambda folder: cache.dir_hash(folder, hash_model_dir)
    if hasattr(system, "models_dir"):
        system.models_dir = cache.path.parent / "ct2-models"


def default_run_dir(config: RunConfig, config_path: Path | None, now: datetime) -> Path:
    """``<output_dir>/<UTC timestamp>-<config name>``."""
    stem = config_path.stem if config_path else "run"
    return Path(config.output_dir) / f"{now.strftime('%Y%m%dT%H%M%SZ')}-{stem}"


def run(config: RunConfig, *, config_path: Path | None = None, run_dir: Path | None = None,
        progress: ProgressFactory | None = None) -> RunOutput:
    """Translate the corpus with every system in every direction, score, and write the run directory."""
    started = datetime.now(timezone.utc)
    metrics = get_metrics(config.metrics)
    corpus = open_corpus(config)
    segments: list[Segment] = corpus.segments(config.level)
    parse_where(config.where)  # a bad filter fails before any model loads
    systems: list[System] = [create_system(s, seed=config.seed, index=i) for i, s in enumerate(config.systems)]
    for system in systems:
        system.preflight()

    results: dict[str, dict[str, DirectionResult]] = {}
    records: list[SegmentRecord] = []
    manifests: dict[str, Any] = {}
    cache = open_cache(config)
    try:
        for system in systems:
            attach_cache(system, cache)
            results[system.name] = {}
            try:
                for direction in config.system_directions(system.config):
                    result, direction_records = run_direction(system, direction, segments, config, metrics, cache,
                                                              progress, corpus_name=corpus.name)
                    results[system.name][direction] = result
                    records.extend(direction_records)
                manifests[system.name] = {**system.manifest(), "directions": list(results[system.name])}
            finally:
                system.close()
    finally:
        if cache is not None:
            cache.close()

    finished = datetime.now(timezone.utc)
    results_file: ResultsFile = {
        "schema_version": SCHEMA_VERSION,
        "manifest": {
            "tool": "evalharness",
            "config_path": str(config_path) if config_path else None,
            "config": config.model_dump(mode="json"),
            "corpus": {
                "name": corpus.name, "version": corpus.version, "content_hash": corpus.content_hash,
                "origin": corpus.origin, "level": config.level, "segments": len(segments),
            },
            "systems": manifests,
            "metrics": {m.name: {"signature": m.signature, "segment_signature": m.segment_signature,
                                 "higher_is_better": m.higher_is_better} for m in metrics},
            "versions": package_versions("sacrebleu", "torch", "transformers", "sentencepiece", "ctranslate2",
                                         "lingua-language-detector", "sentencex"),
            "platform": {"system": platform.platform(), "machine": platform.machine(),
                         "argv": list(sys.argv)},
            "seed": config.seed,
            "where": list(config.where),
            "flags": {**config.flags.model_dump(mode="json"), "language_id": language_id_info()},
            "cache": str(cache.path) if cache is not None else None,
            "statistics": {"bootstrap_resamples": config.statistics.resamples, "bootstrap_seed": config.statistics.seed,
                           "confidence": config.statistics.confidence},
            "started_at": started.isoformat(timespec="seconds"),
            "finished_at": finished.isoformat(timespec="seconds"),
            "duration_s": round((finished - started).total_seconds(), 3),
        },
        "results": results,
    }
    summary = render_summary(results_file, records)
    target = run_dir or default_run_dir(config, config_path, started)
    write_run(target, results_file, records, summary)
    return RunOutput(target, results_file, records, summary)
