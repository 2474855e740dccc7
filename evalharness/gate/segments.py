"""Segment-level breakage: the gate's rule for one paragraph that broke while the corpus score hardly moved.

A segment fails when, compared with the baseline, it newly earns a breakage flag (a copy of the source, the
wrong language, dropped sentences, an output cut at the length limit) or its score collapses: it falls by more
than ``drop`` points to below ``below``. Only what broke counts; a segment that was already broken in the
baseline does not fail again.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalharness.gate.compare import scored_metric
from evalharness.runs.config import SegmentRule
from evalharness.runs.schema import Baseline, Run
from evalharness.scoring.metrics import Metric, metric_label, stack_references


@dataclass(frozen=True)
class SegmentFailure:
    """One segment that broke: where, why, and its output before and after."""

    system: str
    direction: str
    id: str
    reason: str  # "new flag: copy" or "chrF 62.10 → 3.40"
    before: str
    after: str

    def line(self) -> str:
        """The one line a CI log shows."""
        return f"BROKEN {self.system} {self.direction} {self.id}: {self.reason}"


def segment_failures(a: Run | Baseline, b: Run, rule: SegmentRule) -> tuple[list[SegmentFailure], list[str]]:
    """Segments of ``b`` that broke relative to ``a`` (matched by system, direction and segment id), and notes.

    A note says what could not be checked (a baseline made before segment flags were kept).
    """
    if not rule.enabled:
        return [], []
    metric: Metric | None = None
    label = metric_label(rule.metric)
    failures: list[SegmentFailure] = []
    notes: list[str] = []
    pairs_b = set(b.pairs())
    for system, direction in a.pairs():
        if (system, direction) not in pairs_b:
            continue  # compare_runs names a missing system × direction
        ids_a, hyps_a = a.hypotheses(system, direction)
        records = b.segments.get((system, direction), [])
        if ids_a != [r.id for r in records]:
            continue  # compare_runs refuses runs whose segment ids differ, with the details
        refs = stack_references([r.reference for r in records], [r.other_references for r in records])
        metric = metric or scored_metric(a, b, rule.metric)
        collapse = rule.max_segments == 0 or len(records) <= rule.max_segments
        hyps_b = [r.hypothesis for r in records]
        scores_a = metric.segment_scores(hyps_a, refs)
        scores_b = metric.segment_scores(hyps_b, refs)
        if not collapse:
            notes.append(f"{system} {direction}: {len(records)} segments, more than gate.segments.max_segments "
                         f"({rule.max_segments}): only new flags are checked, not {label} collapses")
        flags_a = a.flags(system, direction)
        old = (f"{a.origin} keeps no segment flags (an older baseline): only {label} collapses are checked; "
               "regenerate it with 'evalharness baseline update'")
        if flags_a is None and rule.flags and old not in notes:
            notes.append(old)
        for i, record in enumerate(records):
            new = sorted(set(record.flags) & set(rule.flags) - (flags_a[i] if flags_a is not None else set(rule.flags)))
            before, after = scores_a[i], scores_b[i]
            if not metric.higher_is_better:  # a collapse is a rise for TER
                before, after = -before, -after
            reasons = [f"new flag: {', '.join(new)}"] if new else []
            long_enough = len(record.reference.split()) >= rule.min_words
            if collapse and long_enough and before - after > rule.drop and \
                    after < (rule.below if metric.higher_is_better else -rule.below):
                reasons.append(f"{label} {scores_a[i]:.2f} → {scores_b[i]:.2f}")
            if reasons:
                failures.append(SegmentFailure(system, direction, record.id, "; ".join(reasons), hyps_a[i],
                                               record.hypothesis))
    return failures, notes
