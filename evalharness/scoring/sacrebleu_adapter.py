"""The one place that calls sacrebleu's private functions.

sacrebleu's public API scores text; evalharness extracts each segment's statistics once and re-aggregates
them for corpus scores, slices and resamples, which needs the hooks sacrebleu keeps private (its own
significance tests use them the same way). Keeping every such call here means a sacrebleu upgrade that
renames one breaks this module alone, and its tests say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sacrebleu.metrics.base import Metric as SacreMetric


def extract_stats(metric: SacreMetric, hypotheses: Sequence[str], references: Sequence[str]) -> list[list[float]]:
    """Sufficient statistics of each segment (one reference per hypothesis)."""
    stats: list[list[float]] = metric._extract_corpus_statistics(list(hypotheses), [list(references)])
    return stats


def score_from_segments(metric: SacreMetric, stats: Sequence[Sequence[float]]) -> float:
    """Corpus score of per-segment statistics, summed as sacrebleu sums them."""
    return float(metric._aggregate_and_compute([list(s) for s in stats]).score)


def score_from_sum(metric: SacreMetric, summed: Any) -> float:
    """Score of one row of already summed statistics (a list or a numpy array, passed on unchanged)."""
    return float(metric._compute_score_from_stats(summed).score)


def p_value(samples: Any, real_difference: float) -> float:
    """sacrebleu's p-value of ``real_difference`` among the resampled differences ``samples`` (a numpy array)."""
    from sacrebleu.significance import _compute_p_value

    return float(_compute_p_value(samples, real_difference))


def signature(metric: SacreMetric) -> str:
    """The metric's sacrebleu signature (``nrefs:1|case:mixed|…``); complete once it has scored something."""
    return str(metric.get_signature())
