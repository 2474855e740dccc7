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
from evalharness.render.summary import LABELS
from evalharness.runs.schema import RunData
from evalharness.scoring.metrics import Metric, get_metric
from evalharness.scoring.significance import DEFAULT_SEED, Test, min_detectable_difference, paired_test


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


def check_comparable(a: RunData, b: RunData) -> None:
    """Raise :class:`InputError` naming the first thing that makes ``a`` and ``b`` incomparable."""
    ca, cb = a.manifest["corpus"], b.manifest["corpus"]
    for key in ("name", "version", "content_hash", "level"):
        if ca.get(key) != cb.get(key):
            raise InputError(f"{a.origin} and {b.origin} are on different corpora: corpus {key} "
                             f"{ca.get(key)!r} vs {cb.get(key)!r}; compare runs on the same corpus version")


def compare_runs(a: RunData, b: RunData, *, metrics: Sequence[str] | None = None, test: Test = "bs",
                 samples: int | None = None, seed: int = DEFAULT_SEED, alpha: float = 0.05,
                 require_all_of_a: bool = False, where: Sequence[str] = ()) -> list[Comparison]:
    """Compare every system × direction × metric that ``a`` and ``b`` share (``b`` must be a run).

    ``where`` keeps only segments whose tags in ``b`` match (``kind=body`` …); corpus-level scores are then
    recomputed from the kept segments' statistics.
    """
    check_comparable(a, b)
    filters = parse_where(where)
    shared = [p for p in a.pairs() if p in set(b.pairs())]
    missing = [p for p in a.pairs() if p not in set(b.pairs())]
    if require_all_of_a and missing:
        listed = ", ".join(f"{s} {d}" for s, d in missing)
        raise InputError(f"{b.origin} has no results for {listed} (present in {a.origin}); "
                         "run the same systems and directions, or update the baseline")
    if not shared:
        raise InputError(f"{a.origin} and {b.origin} share no system × direction (systems are matched by name)")
    out: list[Comparison] = []
    for system, direction in shared:
        seg_a, seg_b = a.segments.get((system, direction), []), b.segments.get((system, direction), [])
        ids_a, ids_b = [r["id"] for r in seg_a], [r["id"] for r in seg_b]
        if ids_a != ids_b:
            raise InputError(f"{system} {direction}: segment ids differ between {a.origin} ({len(ids_a)} segments) "
                             f"and {b.origin} ({len(ids_b)})")
        keep = [i for i, r in enumerate(seg_b) if matches(r.get("tags", {}), filters)]
        if filters and not keep:
            raise InputError(f"--where {' '.join(where)} selects no segment of {system} {direction}")
        seg_a, seg_b = [seg_a[i] for i in keep], [seg_b[i] for i in keep]
        refs = [r["reference"] for r in seg_b]  # a baseline stores no references: the corpus hash pins them
        scores_a = a.results["results"][system][direction]["scores"]
        scores_b = b.results["results"][system][direction]["scores"]
        names = [m for m in (metrics or list(scores_a)) if m in scores_a]
        for name in names:
            if name not in scores_b:
                raise InputError(f"{b.origin}: no {name} score for {system} {direction} (the baseline has one)")
            sig_a, sig_b = scores_a[name]["signature"], scores_b[name]["signature"]
            if sig_a != sig_b:
                raise InputError(f"{LABELS.get(name, name)} signatures differ for {system} {direction}: {sig_a} "
                                 f"({a.origin}) vs {sig_b} ({b.origin}); scores are not comparable")
            metric: Metric = get_metric(name)
            stats_a = metric.segment_stats([r["hypothesis"] for r in seg_a], refs)
            stats_b = metric.segment_stats([r["hypothesis"] for r in seg_b], refs)
            result = paired_test(metric, stats_a, stats_b, test=test, samples=samples, seed=seed)
            mdd = min_detectable_difference(metric, stats_a, stats_b, alpha=alpha, seed=seed)
            out.append(Comparison(system, direction, name, metric.higher_is_better, result.a, result.b,
                                  result.delta, result.ci_low, result.ci_high, result.p_value,
                                  verdict(result.delta, metric.higher_is_better, result.p_value, alpha), mdd,
                                  len(keep)))
    return out


def render_table(rows: Sequence[Comparison], *, markdown: bool = True, extra_header: Sequence[str] = (),
                 extra_cells: Sequence[Sequence[str]] = ()) -> str:
    """The comparison as a Markdown table, or aligned plain text; ``extra_*`` add columns on the right."""
    head = ["system", "direction", "metric", "A", "B", "Δ", "95% CI of Δ", "p", "≈MDD", "verdict", *extra_header]
    body = []
    for i, r in enumerate(rows):
        arrow = "↑" if r.higher_is_better else "↓"
        body.append([r.system, r.direction, f"{LABELS.get(r.metric, r.metric)} {arrow}", f"{r.a:.2f}", f"{r.b:.2f}",
                     f"{r.delta:+.2f}", f"[{r.ci_low:+.2f}, {r.ci_high:+.2f}]", f"{r.p_value:.3f}", f"{r.mdd:.2f}",
                     r.verdict, *(extra_cells[i] if extra_cells else ())])
    if markdown:
        return "\n".join("| " + " | ".join(row) + " |" for row in [head, ["---"] * len(head), *body])
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in [head, *body])


def mdd_note(rows: Sequence[Comparison], alpha: float) -> str:
    """One sentence per metric: how small a change this corpus can see at all."""
    if not rows:
        return ""
    worst: dict[str, float] = {}
    for r in rows:
        worst[r.metric] = max(worst.get(r.metric, 0.0), r.mdd)
    parts = ", ".join(f"{LABELS.get(m, m)} ≈{v:.1f}" for m, v in worst.items())
    return (f"Minimum detectable difference on these {rows[0].segments} segments (α={alpha}, largest over systems "
            f"and directions): {parts} points. Smaller changes cannot be told from noise with this corpus.")
