"""Human MQM annotations read back into a run: Marot / MQM-Viewer TSV → one MQM penalty a segment (``mqm``).

The TSV has one row an error (or a ``No-error`` row for a clean segment), with the columns ``system, doc,
docSegId, globalSegId, rater, source, target, category, severity, metadata`` (a header line naming them is
optional; ``metadata`` may be left off). ``source`` and ``target`` carry the annotated span between ``<v>`` and
``</v>``; with the marks removed they are the run's source and hypothesis, which is how a row finds its segment
(with its system). WMT's weights (:data:`evalharness.scoring.mqm.WEIGHTS`): Major 5, Minor 1, Minor
Fluency/Punctuation 0.1, Non-translation 25, Neutral and No-error 0; a segment's penalty is the sum over a rater's
errors, averaged over its raters. MQM is recorded as that penalty, lower is better.

Every segment of every system × direction the file annotates must be annotated (a corpus score over some of
them would not compare with another run's); the run's other system × directions must be annotated too, since a
run's results carry the same metrics everywhere.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from evalharness.errors import InputError
from evalharness.runs.schema import MetricInfo, MetricScore, Results, Run, SegmentRecord, SliceResult
from evalharness.scoring.mqm import WEIGHTS, MqmMetric, mqm_key

COLUMNS = ("system", "doc", "docSegId", "globalSegId", "rater", "source", "target", "category", "severity",
           "metadata")
"""Marot's TSV columns, in order."""

Annotated = dict[tuple[str, str, str], float]
"""(system, source, hypothesis) → the segment's MQM penalty."""


def error_weight(category: str, severity: str, *, where: str) -> float:
    """WMT's weight of one annotated error; an unknown severity raises :class:`InputError` naming ``where``."""
    cat, sev = category.strip().lower(), severity.strip().lower()
    if cat.startswith("non-translation"):
        return WEIGHTS["non-translation"]
    if cat in ("no-error", "no error", "") or sev in ("no-error", "no error", "neutral"):
        return 0.0
    if sev == "major":
        return WEIGHTS["major"]
    if sev == "minor":
        return WEIGHTS["minor/punctuation"] if cat == "fluency/punctuation" else WEIGHTS["minor"]
    raise InputError(f"{where}: severity {severity!r}: expected Major, Minor, Neutral or No-error")


def _unmarked(text: str) -> str:
    """The text without Marot's span marks."""
    return text.replace("<v>", "").replace("</v>", "")


def read_mqm(path: Path) -> Annotated:
    """Each annotated segment's MQM penalty (per rater summed, over raters averaged), from a Marot TSV file."""
    from evalharness.textio import read_lines

    per_rater: dict[tuple[str, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for lineno, line in enumerate(read_lines(path, "MQM file"), 1):
        fields = line.split("\t")
        if not line.strip() or (lineno == 1 and fields[0].strip().lower() == "system"):
            continue
        if len(fields) not in (len(COLUMNS), len(COLUMNS) - 1):
            raise InputError(f"{path}:{lineno}: {len(fields)} tab-separated fields; a Marot MQM row has "
                             f"{len(COLUMNS) - 1} or {len(COLUMNS)} ({', '.join(COLUMNS)})")
        system, rater, source, target, category, severity = (fields[0], fields[4], fields[5], fields[6],
                                                             fields[7], fields[8])
        weight = error_weight(category, severity, where=f"{path}:{lineno}")
        per_rater[(system, _unmarked(source), _unmarked(target))][rater] += weight
    if not per_rater:
        raise InputError(f"{path}: no MQM rows ({', '.join(COLUMNS)}, tab-separated)")
    return {key: statistics.fmean(raters.values()) for key, raters in per_rater.items()}


@dataclass(frozen=True)
class Imported:
    """What an import added: segments scored, per system × direction."""

    run: Path
    segments: int
    pairs: list[tuple[str, str]]


def _penalties(run: Run, annotated: Annotated, path: Path) -> dict[tuple[str, str], list[float]]:
    """Every segment's penalty, per system × direction; a segment without annotations raises :class:`InputError`."""
    out: dict[tuple[str, str], list[float]] = {}
    for (system, direction), records in run.segments.items():
        scores = [annotated.get((system, r.source, r.hypothesis)) for r in records]
        missing = [r.id for r, s in zip(records, scores, strict=True) if s is None]
        if missing:
            raise InputError(f"{path}: {system} {direction} segment {missing[0]} ({len(missing)} of {len(records)} "
                             f"in all) has no MQM row; the import needs every segment of the run {run.origin} "
                             "annotated (rows match a segment by system, source and target)")
        out[(system, direction)] = [float(s) for s in scores if s is not None]
    return out


def with_mqm(run: Run, penalties: dict[tuple[str, str], list[float]]) -> tuple[Results, list[SegmentRecord]]:
    """The run's results and records with MQM added (or replaced): corpus scores with intervals, slices, segments."""
    import numpy as np

    from evalharness.scoring.significance import confidence_interval
    from evalharness.scoring.slices import slice_scores

    metric = MqmMetric()
    stats_info = run.manifest.statistics
    results = run.results.model_copy(deep=True)
    results.manifest.metrics["mqm"] = MetricInfo(signature=metric.signature, segment_signature=metric.signature,
                                                 higher_is_better=False)
    by_key: dict[tuple[str, str, str], float] = {}
    for (system, direction), values in penalties.items():
        records = run.segments[(system, direction)]
        stats = np.column_stack([np.asarray(values, dtype="float64"), np.ones(len(values))])
        low, high = confidence_interval(metric, stats, resamples=stats_info.bootstrap_resamples,
                                        seed=stats_info.bootstrap_seed, confidence=stats_info.confidence)
        result = results.results[system][direction]
        result.scores["mqm"] = MetricScore(score=metric.score_from_stats(stats), ci=(low, high),
                                           signature=metric.signature, segment_signature=metric.signature,
                                           higher_is_better=False)
        for key, entry in slice_scores([metric], {"mqm": stats}, [r.tags for r in records]).items():
            if key in result.slices:
                result.slices[key].scores["mqm"] = entry["scores"]["mqm"]
            else:
                result.slices[key] = SliceResult(segments=entry["segments"], scores=entry["scores"])
        by_key.update({(system, direction, r.id): v for r, v in zip(records, values, strict=True)})
    records = [r.model_copy(update={"scores": {**r.scores, "mqm": by_key[(r.system, r.direction, r.id)]}})
               for r in run.records]
    return Results.model_validate(results.model_dump()), records


def import_mqm(path: Path, run_dir: Path, *, replace: bool = False) -> Imported:
    """Add the MQM penalties of ``path`` (Marot TSV) to the run in ``run_dir``: its files rewritten as a whole, and
    the penalties kept in the run's translation store, where ``compare`` and ``check`` read MQM like any metric.

    One (source, output) has one MQM penalty in the store, whichever run it came from, so that a paired test sees
    the same number for the same text on both sides. A penalty other than the one stored for the same text (an
    earlier import) is refused unless ``replace``: annotate each distinct output once."""
    from evalharness.render.summary import render_summary
    from evalharness.runs.files import read_run, rewrite_run
    from evalharness.store import TranslationStore, default_cache_path

    run = read_run(run_dir)
    penalties = _penalties(run, read_mqm(path), path)
    results, records = with_mqm(run, penalties)
    new = {mqm_key(r.source, r.hypothesis): r.scores["mqm"] for r in records}
    store = TranslationStore(Path(run.manifest.cache).expanduser() if run.manifest.cache else default_cache_path())
    try:
        stored = store.get_scores(list(new))
        differ = [k for k, v in new.items() if k in stored and stored[k] != v]
        if differ and not replace:
            raise InputError(f"{path}: {len(differ)} segment(s) get another MQM penalty than the one already imported "
                             "for the same source and output (one text has one penalty, whichever run it is in): "
                             "annotate each distinct output once, or import with --replace")
        rewrite_run(run_dir, results, records, render_summary(results, records))
        store.put_scores("mqm", new.items())
    finally:
        store.close()
    return Imported(run_dir, len(records), sorted(penalties))
