"""Segment-level breakage: the gate's rule for one paragraph that broke while the corpus score hardly moved.

A segment fails when, compared with the baseline, it newly earns a breakage flag (emptied or cut off mid-sentence,
a copy of the source, the wrong language, an output cut at the length limit) or its score collapses: it falls by
more than ``drop`` points to below ``below``. Only what broke counts; a segment that was already broken in the
baseline does not fail again.

The gate judges both sides itself, with this version's flags and the run's thresholds, against the run's sources
and references: the flags a run or an older baseline stored (or did not store, with ``flags.enabled: false``) do
not decide. Only flags that real systems of equal quality do not raise segment by segment are breakage flags
(:data:`evalharness.scoring.flags.BREAKAGE_FLAGS`; measured by ``benchmarks/gate_calibration.py``).

The rule is for small reference sets, where one broken segment is one golden example lost. Above
``max_segments`` it is off as a whole: on a large set the rare segment that one real system gets wrong and
another right turns up in almost every check, and the metric rows see any breakage frequent enough to matter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evalharness.gate.compare import scored_metric
from evalharness.runs.config import SegmentRule
from evalharness.runs.schema import Baseline, Run
from evalharness.scoring.flags import FlagSettings, flag_outputs
from evalharness.scoring.metrics import Metric, metric_label, stack_references

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike


@dataclass(frozen=True)
class SegmentFailure:
    """One segment that broke: where, why, and its output before and after."""

    system: str
    direction: str
    id: str
    reason: str  # "new flag: copy" or "chrF 62.10 → 3.40"
    before: str
    after: str
    # the error spans a metric found in ``after`` (xCOMET's), by metric; empty where the run has none
    spans: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def marked_after(self) -> str:
        """``after`` with each span of the first span metric in brackets and its severity: ``[the m]{major}``."""
        spans = next(iter(self.spans.values()), [])
        out, at = [], 0
        for s in sorted(spans, key=lambda s: s["start"]):
            if s["start"] < at:
                continue
            out += [self.after[at:s["start"]], f"[{self.after[s['start']:s['end']]}]{{{s['severity']}}}"]
            at = s["end"]
        return "".join([*out, self.after[at:]])

    def line(self) -> str:
        """The one line a CI log shows."""
        return f"BROKEN {self.system} {self.direction} {self.id}: {self.reason}"


def decisive(name: str, value: Any, rule: SegmentRule) -> bool:
    """Whether one segment raising flag ``name`` (with ``value``) is evidence enough to fail a check: always, but
    for a close language (Malay read as Indonesian) only on a long output identified surely."""
    if name == "wrong_language" and isinstance(value, dict) and "words" in value:
        return bool(value["words"] >= rule.close_language_words
                    and value["confidence"] >= rule.close_language_confidence)
    return True


def broken_segments(flags_a: Sequence[Mapping[str, Any]], flags_b: Sequence[Mapping[str, Any]],
                    scores_a: Sequence[float], scores_b: Sequence[float], reference_words: Sequence[int],
                    rule: SegmentRule, *, higher_is_better: bool = True, label: str = "chrF") -> list[tuple[int, str]]:
    """(index, reason) of each segment of B that broke relative to A: a breakage flag of ``rule.flags`` that A's
    output of the segment does not raise (:func:`decisive` on its own), or a collapse of its score
    (``rule.drop`` / ``below`` / ``min_words``).

    The decision itself, on per-segment flags and scores: ``check`` and the calibration benchmark both call it.
    """
    out = []
    gated = set(rule.flags)
    for i, (fa, fb) in enumerate(zip(flags_a, flags_b, strict=True)):
        new = sorted(name for name in (set(fb) & gated) - set(fa) if decisive(name, fb[name], rule))
        reasons = [f"new flag: {', '.join(new)}"] if new else []
        before, after = scores_a[i], scores_b[i]
        if not higher_is_better:  # a collapse is a rise for TER
            before, after = -before, -after
        floor = rule.below if higher_is_better else -rule.below
        if reference_words[i] >= rule.min_words and before - after > rule.drop and after < floor:
            reasons.append(f"{label} {scores_a[i]:.2f} → {scores_b[i]:.2f}")
        if reasons:
            out.append((i, "; ".join(reasons)))
    return out


def gate_flags(sources: Sequence[str], references: Sequence[str], hypotheses: Sequence[str], direction: str,
               rule: SegmentRule, settings: FlagSettings, stored: Sequence[set[str]] | None) -> list[dict[str, Any]]:
    """The breakage flags of ``rule.flags`` each output raises (name → value), judged now; ``max_tokens`` (a fact
    of generation, not of the text) comes from the ``stored`` flag names."""
    src, tgt = direction.split("-")
    if not rule.flags:
        return [{} for _ in hypotheses]
    out = flag_outputs(sources, references, hypotheses, src, tgt, settings=settings, only=rule.flags)
    if stored is not None and "max_tokens" in rule.flags:
        for mine, theirs in zip(out, stored, strict=True):
            if "max_tokens" in theirs:
                mine["max_tokens"] = True
    return out


def run_flag_settings(run: Run) -> FlagSettings:
    """The flag thresholds of ``run``'s config (defaults where it has none), judging flags whether or not the run
    raised them (``enabled`` is the report's switch, not the gate's)."""
    section = run.manifest.config.get("flags") or {}
    return FlagSettings.model_validate(section).model_copy(update={"enabled": True})


@dataclass(frozen=True)
class JudgedFlags:
    """The breakage flags of each segment of one system × direction, judged now on both sides."""

    ids: list[str]
    flags_a: list[dict[str, Any]]  # per segment, flag name → the value that raised it
    flags_b: list[dict[str, Any]]
    differing: int = 0  # segments whose outputs differ between A and B
    note: str | None = None  # what could not be judged


class FlagRate:
    """A flag's rate as a row of the gate's paired test: the share of segments (%) raising it, lower is better.

    Each segment's statistics are (raised, 1); a permutation exchanges A's and B's outputs of a segment, flags and
    all, so the row is an exact paired (McNemar-type) test of B raising the flag more often than A.
    """

    higher_is_better = False
    default_tolerance = 0.0

    def __init__(self, flag: str) -> None:
        self.flag = flag

    @property
    def name(self) -> str:
        """``flag:copy``."""
        return f"{FLAG_ROW_PREFIX}{self.flag}"

    @property
    def label(self) -> str:
        """``copy %``."""
        return f"{self.flag} %"

    @staticmethod
    def stats(flags: Sequence[Mapping[str, Any]], flag: str) -> np.ndarray:
        """(raised, 1) per segment."""
        import numpy as np

        return np.array([[1.0 if flag in f else 0.0, 1.0] for f in flags]).reshape(-1, 2)

    def scores_of_sums(self, sums: ArrayLike) -> np.ndarray:
        """Percent of segments raising the flag, per row of summed statistics."""
        import numpy as np

        arr = np.asarray(sums, dtype="float64").reshape(-1, 2)
        result: np.ndarray = 100.0 * arr[:, 0] / np.maximum(arr[:, 1], 1.0)
        return result

    def score_of_sum(self, summed: Any) -> float:
        """Percent of segments raising the flag, from one row of summed statistics."""
        return float(self.scores_of_sums(summed)[0])

    def score_from_stats(self, stats: ArrayLike) -> float:
        """Percent of the segments raising the flag."""
        import numpy as np

        return float(self.scores_of_sums(np.asarray(stats, dtype="float64").sum(0))[0])


FLAG_ROW_PREFIX = "flag:"
"""Gate rows named ``flag:<name>`` compare a breakage flag's rate, not a metric."""


def judge_flags(a: Run | Baseline, b: Run, rule: SegmentRule) -> dict[tuple[str, str], JudgedFlags]:
    """Per system × direction that both have (same segments), the breakage flags of ``rule.flags`` on both sides,
    judged with this version's flags and ``b``'s thresholds against ``b``'s sources and references.

    ``max_tokens`` is a fact of generation, not of the text: a run knows it (``hit_limit``), a baseline from the
    flags it kept; a baseline that kept none (made before flags were kept, or with flags off) cannot say, and the
    flag is then judged on neither side.
    """
    if not rule.enabled:
        return {}
    settings = run_flag_settings(b)
    out = {}
    pairs_b = set(b.pairs())
    for system, direction in a.pairs():
        if (system, direction) not in pairs_b:
            continue  # compare_runs names a missing system × direction
        ids_a, hyps_a = a.hypotheses(system, direction)
        records = b.segments.get((system, direction), [])
        if ids_a != [r.id for r in records]:
            continue  # compare_runs refuses runs whose segment ids differ, with the details
        sources, references = [r.source for r in records], [r.reference or "" for r in records]
        hyps_b = [r.hypothesis for r in records]
        limits_b: list[set[str]] = [{"max_tokens"} if r.hit_limit else set() for r in records]
        limits_a = _limits(a, system, direction)
        note = None
        if limits_a is None:
            if "max_tokens" in rule.flags:
                note = (f"{system} {direction}: {a.origin} kept no segment flags (made before they were kept, or "
                        "with flags off): max_tokens is not judged; regenerate it with 'evalharness baseline update'")
            limits_a, limits_b = [set() for _ in records], [set() for _ in records]
        out[(system, direction)] = JudgedFlags(
            ids_a, gate_flags(sources, references, hyps_a, direction, rule, settings, limits_a),
            gate_flags(sources, references, hyps_b, direction, rule, settings, limits_b),
            sum(x != y for x, y in zip(hyps_a, hyps_b, strict=True)), note)
    return out


def _limits(a: Run | Baseline, system: str, direction: str) -> list[set[str]] | None:
    """Per segment, ``{"max_tokens"}`` where generation stopped at the limit; None where ``a`` cannot say."""
    if isinstance(a, Run):
        return [{"max_tokens"} if r.hit_limit else set() for r in a.segments.get((system, direction), [])]
    if (a.manifest.config.get("flags") or {}).get("enabled") is False:
        return None  # flags off: the stored (empty) flags say nothing
    stored = a.flags(system, direction)
    return None if stored is None else [f & {"max_tokens"} for f in stored]


def habits(judged: JudgedFlags, rule: SegmentRule) -> dict[str, int]:
    """Breakage flags the baseline itself raises on more than ``rule.habit`` segments, with how many: that system's
    habit, compared by rate (a row of the paired test), not segment by segment."""
    counts = {flag: sum(flag in f for f in judged.flags_a) for flag in rule.flags}
    return {flag: n for flag, n in counts.items() if n > rule.habit}


Judged = dict[tuple[str, str], JudgedFlags]
"""Per system × direction, both sides' breakage flags (:func:`judge_flags`)."""


def segment_failures(a: Run | Baseline, b: Run, rule: SegmentRule,
                     judged: Judged | None = None) -> tuple[list[SegmentFailure], list[str]]:
    """Segments of ``b`` that broke relative to ``a`` (matched by system, direction and segment id), and notes.

    ``judged``: :func:`judge_flags` of the two, when already done. A note says what was not checked (the rule
    switched off, a set above ``max_segments``, a flag the baseline raises too often to judge one segment by).
    """
    if not rule.enabled:
        return [], ["segments were not checked one by one (gate.segments.enabled: false)"]
    judged = judge_flags(a, b, rule) if judged is None else judged
    metric: Metric | None = None
    label = metric_label(rule.metric)
    failures: list[SegmentFailure] = []
    notes: list[str] = []
    for (system, direction), flags in judged.items():
        records = b.segments[(system, direction)]
        if flags.note:
            notes.append(flags.note)
        if records and records[0].reference is None:
            notes.append(f"{system} {direction}: no references (a corpus of sources only): segments are not checked "
                         f"one by one on {label} (the metric rows gate it)")
            continue
        if rule.allowed >= len(records):
            notes.append(f"{system} {direction}: gate.segments.allowed ({rule.allowed}) is at least its {len(records)} "
                         "segments: broken segments cannot fail this check")
        if rule.max_segments and len(records) > rule.max_segments:
            notes.append(f"{system} {direction}: {len(records)} segments, more than gate.segments.max_segments "
                         f"({rule.max_segments}): no segment is checked on its own here (the metric and flag-rate "
                         "rows gate it)")
            continue
        habit = habits(flags, rule)
        if habit:
            listed = ", ".join(f"{flag} on {n}" for flag, n in habit.items())
            notes.append(f"{system} {direction}: the baseline itself raises {listed} of {len(records)} segments: "
                         "compared by rate (flag rows), not segment by segment")
        gated = rule.model_copy(update={"flags": [f for f in rule.flags if f not in habit]})
        refs = stack_references([r.reference or "" for r in records], [r.other_references for r in records])
        metric = metric or scored_metric(a, b, rule.metric)
        hyps_a, hyps_b = a.hypotheses(system, direction)[1], [r.hypothesis for r in records]
        broken = broken_segments(flags.flags_a, flags.flags_b, metric.segment_scores(hyps_a, refs),
                                 metric.segment_scores(hyps_b, refs), [len(str(r.reference).split()) for r in records],
                                 gated, higher_is_better=metric.higher_is_better, label=label)
        failures += [SegmentFailure(system, direction, records[i].id, reason, hyps_a[i], records[i].hypothesis,
                                    dict(records[i].error_spans)) for i, reason in broken]
    return failures, notes
