"""Confidence intervals and paired significance tests on stored segment statistics.

Statistics are extracted from text once per system; every resample only re-aggregates them, as
sacrebleu does. The paired tests follow sacrebleu's definitions (``sacrebleu.significance``): paired
bootstrap resampling (Koehn 2004, as in Moses' script) and approximate randomization (Riezler &
Maxwell 2005), with sacrebleu's own p-value helper; only the input differs — statistics, not text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from evalharness.scoring import sacrebleu_adapter as sb
from evalharness.scoring.defaults import CONFIDENCE, DEFAULT_AR_TRIALS, DEFAULT_RESAMPLES, DEFAULT_SEED

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike

    from evalharness.scoring.metrics import Metric

Test = Literal["bs", "ar"]


def _array(stats: Sequence[Sequence[float]]) -> np.ndarray:
    import numpy as np

    return np.asarray(stats, dtype="float32")  # float32 as sacrebleu uses, so results match it


def scores_of_sums(metric: Metric, sums: ArrayLike) -> np.ndarray:
    """Corpus scores for many rows of summed statistics at once: the metric's own (vectorised) formula."""
    return metric.scores_of_sums(sums)


def bootstrap_scores(metric: Metric, stats: Sequence[Sequence[float]], *, resamples: int = DEFAULT_RESAMPLES,
                     seed: int = DEFAULT_SEED) -> list[float]:
    """Corpus scores of ``resamples`` bootstrap resamples of the segments."""
    import numpy as np

    arr = _array(stats)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(arr), size=(resamples, len(arr)), replace=True)
    return [float(x) for x in scores_of_sums(metric, arr[idx].sum(axis=1))]


def confidence_interval(metric: Metric, stats: Sequence[Sequence[float]], *, resamples: int = DEFAULT_RESAMPLES,
                        seed: int = DEFAULT_SEED, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile bootstrap interval of the corpus score."""
    import numpy as np

    scores = np.asarray(bootstrap_scores(metric, stats, resamples=resamples, seed=seed))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return float(low), float(high)


def standard_error(metric: Metric, stats: Sequence[Sequence[float]], *, resamples: int = DEFAULT_RESAMPLES,
                   seed: int = DEFAULT_SEED) -> float:
    """Bootstrap standard error of the corpus score."""
    import numpy as np

    return float(np.std(bootstrap_scores(metric, stats, resamples=resamples, seed=seed), ddof=1))


def min_detectable_difference(metric: Metric, stats_a: Sequence[Sequence[float]],
                              stats_b: Sequence[Sequence[float]] | None = None, *, alpha: float = 0.05,
                              resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> float:
    """≈ the smallest score difference a test at level ``alpha`` can tell from noise on these segments.

    z(1 − α/2) · √(SE_A² + SE_B²), with SE the bootstrap standard error of each system's corpus score
    (B defaults to a system as variable as A). Paired tests see somewhat less when both systems find the
    same segments hard; this is the honest order of size, not an exact power calculation.
    """
    from statistics import NormalDist  # statistics is slow to import; --help reads this module

    z = NormalDist().inv_cdf(1 - alpha / 2)
    se_a = standard_error(metric, stats_a, resamples=resamples, seed=seed)
    se_b = se_a if stats_b is None else standard_error(metric, stats_b, resamples=resamples, seed=seed)
    return float(z * (se_a**2 + se_b**2) ** 0.5)


@dataclass(frozen=True)
class PairedResult:
    """Outcome of a paired test of system B against system A on the same segments."""

    a: float
    b: float
    delta: float  # b - a
    ci_low: float  # percentile bootstrap interval of the delta
    ci_high: float
    p_value: float
    test: Test
    samples: int
    seed: int


def paired_test(metric: Metric, stats_a: Sequence[Sequence[float]], stats_b: Sequence[Sequence[float]], *,
                test: Test = "bs", samples: int | None = None, seed: int = DEFAULT_SEED,
                confidence: float = CONFIDENCE) -> PairedResult:
    """Two-sided paired test (``bs`` bootstrap, ``ar`` approximate randomization) of B against A.

    Identical statistics give p = 1: sacrebleu's p-value would be 1/(N+1) there, which reads as
    "significant" for two identical systems.
    """
    import numpy as np

    a_arr, b_arr = _array(stats_a), _array(stats_b)
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"paired test needs statistics of the same shape: {a_arr.shape} vs {b_arr.shape}")
    # Real scores from the exact (float64) statistics, as sacrebleu's real difference is.
    score_a, score_b = metric.score_from_stats(stats_a), metric.score_from_stats(stats_b)
    n = len(a_arr)
    rng = np.random.default_rng(seed)
    # Each resample is scored by sacrebleu itself, row by row, so p-values equal sacrebleu's own tests'.
    score = metric.score_of_sum
    if test == "bs":
        samples = samples or DEFAULT_RESAMPLES
        idx = rng.choice(n, size=(samples, n), replace=True)
        res_a = np.array([score(a_arr[i].sum(0)) for i in idx])
        res_b = np.array([score(b_arr[i].sum(0)) for i in idx])
        diffs = res_b - res_a
        spread = np.abs(diffs)
        p = sb.p_value(spread - spread.mean(), abs(score_b - score_a))
    else:
        samples = samples or DEFAULT_AR_TRIALS
        swap = rng.integers(2, size=(samples, n), dtype=bool)
        # sacrebleu's AR mixes float32 baseline and integer system statistics, i.e. it works in float64.
        # Precision matters here: a trial that swaps only identical segments ties the real difference,
        # and ties do not count (strict >); float32 rounding would count about half of them.
        a64, b64 = a_arr.astype("float64"), b_arr.astype("float64")
        shuf_a = swap @ a64 + ~swap @ b64
        shuf_b = ~swap @ a64 + swap @ b64
        trial = np.abs(np.array([score(x) for x in shuf_a]) - np.array([score(x) for x in shuf_b]))
        p = sb.p_value(trial, abs(score_b - score_a))
        idx = rng.choice(n, size=(DEFAULT_RESAMPLES, n), replace=True)
        diffs = np.array([score(b_arr[i].sum(0)) - score(a_arr[i].sum(0)) for i in idx])
    if np.array_equal(a_arr, b_arr):
        p = 1.0
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return PairedResult(score_a, score_b, score_b - score_a, float(low), float(high), float(p), test, samples, seed)
