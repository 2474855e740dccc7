"""Paired comparison of two runs (or a baseline and a run) on the same segments.

Runs are compared only when they are comparable: same corpus (version and content hash), same level,
same segment ids, same metric signatures. Anything else is an :class:`InputError` naming what differs,
never a silent comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from evalharness.corpus.tags import matches, parse_where
from evalharness.errors import InputError
from evalharness.runs.schema import Baseline, Run
from evalharness.scoring.defaults import DEFAULT_SEED
from evalharness.scoring.metrics import Metric, get_metric, metric_label
from evalharness.scoring.significance import Test, min_detectable_difference, paired_test


@dataclass(frozen=True)
class Comparison:
    """One system × direction × metric: A, B, the difference and whether it is significant."""

    system: str
    direction: str
    metric: str
    higher_is_better: bool
    a: float
    b: float
    delta: float  # b - a
    ci_low: float
    ci_high: float
    p_value: float
    verdict: str  # "better", "worse", "no significant difference"
    mdd: float  # ≈ minimum detectable difference on these segments
    segments: int

    def to_json(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return asdict(self)


def verdict(delta: float, higher_is_better: bool, p_value: float, alpha: float) -> str:
    """``better`` / ``worse`` for B relative to A when significant at ``alpha``, honouring the metric's direction."""
    if p_value >= alpha or delta == 0:
        return "no significant difference"
    return "better" if (delta > 0) == higher_is_better else "worse"


def check_comparable(a: Run | Baseline, b: Run) -> None:
    """Raise :class:`InputError` naming the first thing that makes ``a`` and ``b`` incomparable."""
    ca, cb = a.manifest.corpus, b.manifest.corpus
    for key in ("name", "version", "content_hash", "level"):
        if getattr(ca, key) != getattr(cb, key):
            raise InputError(f"{a.origin} and {b.origin} are on different corpora: corpus {key} "
                             f"{getattr(ca, key)!r} vs {getattr(cb, key)!r}; compare runs on the same corpus version")


def compare_runs(a: Run | Baseline, b: Run, *, metrics: Sequence[str] | None = None, test: Test = "bs",
                 samples: int | None = None, seed: int = DEFAULT_SEED, alpha: float = 0.05,
                 require_all_of_a: bool = False, where: Sequence[str] = (),
                 systems: tuple[str, str] | None = None) -> list[Comparison]:
    """Compare every system × direction × metric that ``a`` and ``b`` share (systems matched by name).

    ``b`` must be a run: its references (which the corpus hash guarantees are ``a``'s too) score both sides.
    ``systems`` = (name in A, name in B) compares those two instead, in every direction both have (``a`` and
    ``b`` may be the same run). ``where`` keeps only segments whose tags in ``b`` match (``kind=body`` …);
    corpus-level scores are then recomputed from the kept segments' statistics.
    """
    check_comparable(a, b)
    filters = parse_where(where)
    pairs_b = set(b.pairs())
    if systems is not None:
        name_a, name_b = systems
        for name, run in ((name_a, a), (name_b, b)):
            if name not in {s for s, _ in run.pairs()}:
                known = ", ".join(sorted({s for s, _ in run.pairs()}))
                raise InputError(f"{run.origin} has no system {name!r} (its systems: {known})")
        matched = [(name_a, name_b, d) for s, d in a.pairs() if s == name_a and (name_b, d) in pairs_b]
        if not matched:
            raise InputError(f"systems {name_a!r} ({a.origin}) and {name_b!r} ({b.origin}) share no direction")
    else:
        matched = [(s, s, d) for s, d in a.pairs() if (s, d) in pairs_b]
        missing = [(s, d) for s, d in a.pairs() if (s, d) not in pairs_b]
        if require_all_of_a and missing:
            listed = ", ".join(f"{s} {d}" for s, d in missing)
            raise InputError(f"{b.origin} has no results for {listed} (present in {a.origin}); "
                             "run the same systems and directions, or update the baseline")
        if not matched:
            raise InputError(f"{a.origin} and {b.origin} share no system × direction (systems are matched by name; "
                             "--system-a/--system-b compare two systems of other names)")
    out: list[Comparison] = []
    for name_a, name_b, direction in matched:
        system = name_a if name_a == name_b else f"{name_a} → {name_b}"
        ids_a, hyps_a = a.hypotheses(name_a, direction)
        seg_b = b.segments.get((name_b, direction), [])
        ids_b = [r.id for r in seg_b]
        if ids_a != ids_b:
            raise InputError(f"{system} {direction}: segment ids differ between {a.origin} ({len(ids_a)} segments) "
                             f"and {b.origin} ({len(ids_b)})")
        keep = [i for i, r in enumerate(seg_b) if matches(r.tags, filters)]
        if filters and not keep:
            raise InputError(f"--where {' '.join(where)} selects no segment of {system} {direction}")
        refs = [seg_b[i].reference for i in keep]
        chosen_a, chosen_b = [hyps_a[i] for i in keep], [seg_b[i].hypothesis for i in keep]
        scores_a, scores_b = a.scores[name_a][direction].scores, b.scores[name_b][direction].scores
        names = [m for m in (metrics or list(scores_a)) if m in scores_a]
        for name in names:
            if name not in scores_b:
                raise InputError(f"{b.origin}: no {name} score for {system} {direction} (the baseline has one)")
            sig_a, sig_b = scores_a[name].signature, scores_b[name].signature
            if sig_a != sig_b:
                raise InputError(f"{metric_label(name)} signatures differ for {system} {direction}: {sig_a} "
                                 f"({a.origin}) vs {sig_b} ({b.origin}); scores are not comparable")
            metric: Metric = get_metric(name)
            stats_a = metric.segment_stats(chosen_a, refs)
            stats_b = metric.segment_stats(chosen_b, refs)
            result = paired_test(metric, stats_a, stats_b, test=test, samples=samples, seed=seed)
            mdd = min_detectable_difference(metric, stats_a, stats_b, alpha=alpha, seed=seed)
            out.append(Comparison(system, direction, name, metric.higher_is_better, result.a, result.b,
                                  result.delta, result.ci_low, result.ci_high, result.p_value,
                                  verdict(result.delta, metric.higher_is_better, result.p_value, alpha), mdd,
                                  len(keep)))
    return out
