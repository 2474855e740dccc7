"""A run's chosen segments handed to human evaluation: an ESA (Error Span Annotation) campaign.

Two formats. ``pearmut``: a Pearmut campaign (``campaign_id``, ``info`` with ``protocol: ESA`` and
``assignment: task-based``, ``data``: one task of one-item documents); each item has ``src``, ``ref`` (where the
run has references), ``tgt`` (``{system: hypothesis}``), an ``item_id`` naming the segment, and ``error_spans``
(``{system: [{start_i, end_i, severity, category}]}``, inclusive character indices, as Pearmut's annotation page
reads them) prefilled from xCOMET where the run has its spans. ``appraise``: Appraise's ESA batches, as WMT's
preparation scripts write them: one batch a direction, ``{"items": [...], "task": {...}}``, each item with
``sourceText``, ``targetText``, ``documentID``, ``itemID``, ``itemType: TGT`` and ``mqm`` (the prefilled spans,
``end_i`` exclusive as the WMT scripts copy them).

ESA has two severities: xCOMET's ``critical`` is handed over as ``major``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from evalharness.errors import InputError
from evalharness.runs.schema import Run, SegmentRecord

Format = Literal["pearmut", "appraise"]
SPAN_METRICS = ("xcomet",)
"""Metrics whose error spans prefill the campaign, first found first."""
RANKING_METRICS = ("xcomet", "comet", "cometkiwi", "chrf", "bleu")
"""The metric ``--worst`` ranks by when none is named: the first the run has (else its first metric)."""


def ranking_metric(run: Run, metric: str | None) -> str:
    """The metric the worst segments are ranked by: ``metric``, else the first of :data:`RANKING_METRICS`."""
    have = list(run.manifest.metrics)
    if metric is not None:
        if metric not in have:
            raise InputError(f"--by {metric}: {run.origin} has no {metric} scores (it has {', '.join(have)})")
        return metric
    return next((m for m in RANKING_METRICS if m in have), have[0])


def worst(run: Run, n: int, metric: str | None = None) -> list[SegmentRecord]:
    """The ``n`` worst segments of the run (over every system × direction) by ``metric``'s segment score."""
    if n < 1:
        raise InputError(f"--worst {n}: give a number of segments of at least 1")
    name = ranking_metric(run, metric)
    sign = 1.0 if run.manifest.metrics[name].higher_is_better else -1.0
    ranked = sorted(run.records, key=lambda r: (sign * r.scores[name], r.system, r.direction, r.id))
    return ranked[:n]


def regressed(run: Run, baseline_path: Path) -> list[SegmentRecord]:
    """The segments ``check`` lists as broken in the run against the baseline (its segment rule)."""
    from evalharness.gate.check import resolve_gate
    from evalharness.gate.segments import segment_failures
    from evalharness.runs.files import read

    baseline = read(baseline_path)
    failures, _ = segment_failures(baseline, run, resolve_gate(run, baseline).segments)
    broken = {(f.system, f.direction, f.id) for f in failures}
    return [r for r in run.records if (r.system, r.direction, r.id) in broken]


def _spans(record: SegmentRecord, *, inclusive: bool) -> list[dict[str, Any]]:
    """The segment's prefilled ESA spans, from the first span metric it has."""
    found = next((record.error_spans[m] for m in SPAN_METRICS if m in record.error_spans), [])
    return [{"start_i": s["start"], "end_i": s["end"] - 1 if inclusive else s["end"],
             "severity": "minor" if s["severity"] == "minor" else "major"} for s in found if s["end"] > s["start"]]


def pearmut_campaign(records: Sequence[SegmentRecord], campaign_id: str) -> dict[str, Any]:
    """A Pearmut ESA campaign of ``records``: one task, one document a segment."""
    documents = []
    for r in records:
        item: dict[str, Any] = {"item_id": f"{r.system}/{r.direction}/{r.id}", "src": r.source}
        if r.reference is not None:
            item["ref"] = r.reference
        item["tgt"] = {r.system: r.hypothesis}
        spans = [{**s, "category": None} for s in _spans(r, inclusive=True)]
        if spans:
            item["error_spans"] = {r.system: spans}
        documents.append([item])
    return {"campaign_id": campaign_id,
            "info": {"assignment": "task-based", "protocol": "ESA", "shuffle": False},
            "data": [documents]}


def appraise_batches(records: Sequence[SegmentRecord], campaign_id: str) -> list[dict[str, Any]]:
    """Appraise ESA batches of ``records``: one batch a direction, items in the given order."""
    from evalharness.languages import language, split_direction

    batches: list[dict[str, Any]] = []
    for direction in dict.fromkeys(r.direction for r in records):
        src, tgt = split_direction(direction)
        items = [{"mqm": _spans(r, inclusive=False), "documentID": f"{r.id}#{r.system}", "sourceID": campaign_id,
                  "targetID": f"{campaign_id}.{r.system}", "sourceText": r.source, "targetText": r.hypothesis,
                  "_item": f"{r.system} | {r.direction} | {r.id}", "itemID": i, "itemType": "TGT",
                  "isCompleteDocument": False}
                 for i, r in enumerate((r for r in records if r.direction == direction), 1)]
        batches.append({"items": items, "task": {"batchNo": len(batches) + 1, "randomSeed": 123456,
                                                 "requiredAnnotations": 1,
                                                 "sourceLanguage": language(src).iso639_3,
                                                 "targetLanguage": language(tgt).iso639_3}})
    return batches


def export_esa(run_dir: Path, out: Path, *, worst_n: int | None = None, baseline: Path | None = None,
               by: str | None = None, fmt: Format = "pearmut") -> int:
    """Write the chosen segments of the run in ``run_dir`` to ``out`` as an ESA campaign; how many were written.

    ``worst_n``: the worst segments by ``by`` (default: :func:`ranking_metric`); ``baseline``: the segments that
    broke against it; neither: every segment. The file is written whole (a temporary file renamed into place)."""
    from evalharness.runs.files import read_run
    from evalharness.textio import atomic_write_text, check_outputs

    check_outputs({"-o": out}, [run_dir] + ([baseline] if baseline is not None else []))
    if worst_n is not None and baseline is not None:
        raise InputError("--worst and --regressed choose segments in two ways: give one of them")
    run = read_run(run_dir)
    chosen = worst(run, worst_n, by) if worst_n is not None else \
        regressed(run, baseline) if baseline is not None else list(run.records)
    if not chosen:
        raise InputError(f"no segment of {run_dir} broke against {baseline}: nothing to hand to annotators")
    campaign_id = f"evalharness-{run_dir.resolve().name}"
    data: Any = pearmut_campaign(chosen, campaign_id) if fmt == "pearmut" else appraise_batches(chosen, campaign_id)
    atomic_write_text(out, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return len(chosen)
