"""Confidence intervals and paired significance tests on stored segment statistics.

Statistics are extracted from text once per system; every resample only re-aggregates them, as
sacrebleu does. The paired tests follow sacrebleu's definitions (``sacrebleu.significance``): paired
bootstrap resampling (Koehn 2004, as in Moses' script) and approximate randomization (Riezler &
Maxwell 2005), with sacrebleu's own p-value helper; only the input differs — statistics, not text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np

    from evalharness.scoring.metrics import Metric

DEFAULT_RESAMPLES = 1000
DEFAULT_AR_TRIALS = 10000
DEFAULT_SEED = 12345  # sacrebleu's default (SACREBLEU_SEED)
CONFIDENCE = 0.95
Test = Literal["bs", "ar"]


def _array(stats: Sequence[Sequence[float]]) -> np.ndarray:
    import numpy as np

    return np.asarray(stats, dtype="float32")  # float32 as sacrebleu uses, so results match it


def _score(metric: Metric, summed: Any) -> float:
    return float(metric.corpus_metric._compute_score_from_stats(summed).score)


def scores_of_sums(metric: Metric, sums: np.ndarray) -> np.ndarray:
    """Corpus scores for many rows of summed statistics at once.

    BLEU (exp smoothing), chrF/chrF++ and TER with sacrebleu's default options are computed with numpy,
    following sacrebleu's formulas line by line (tests hold them equal to sacrebleu's own per-row result);
    any other configuration falls back to sacrebleu, one row at a time.
    """
    import numpy as np

    m: Any = metric.corpus_metric  # the concrete sacrebleu class, read by its own attributes below
    name = type(m).__name__
    sums = np.asarray(sums, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "TER":
            edits, ref = sums[:, 0], sums[:, 1]
            return 100 * np.where(ref > 0, edits / np.where(ref > 0, ref, 1), np.where(edits > 0, 1.0, 0.0))
        if name == "CHRF" and not m.eps_smoothing:
            eps, factor = 1e-16, m.beta**2
            hyp, ref, match = sums[:, 0::3], sums[:, 1::3], sums[:, 2::3]
            prec = np.where(hyp > 0, match / np.where(hyp > 0, hyp, 1), eps)
            rec = np.where(ref > 0, match / np.where(ref > 0, ref, 1), eps)
            both = (hyp > 0) & (ref > 0)
            order = both.sum(axis=1)
            avg_prec = np.where(order > 0, (prec * both).sum(axis=1) / np.maximum(order, 1), 0.0)
            avg_rec = np.where(order > 0, (rec * both).sum(axis=1) / np.maximum(order, 1), 0.0)
            total = avg_prec + avg_rec
            score = (1 + factor) * avg_prec * avg_rec / np.where(total > 0, factor * avg_prec + avg_rec, 1)
            return np.where(total > 0, 100 * score, 0.0)
        if name == "BLEU" and m.smooth_method == "exp" and not m.effective_order:
            n = m.max_ngram_order
            sys_len, ref_len = sums[:, 0], sums[:, 1]
            correct, total = sums[:, 2 : 2 + n], sums[:, 2 + n : 2 + 2 * n]
            bp = np.where(sys_len < ref_len, np.where(sys_len > 0, np.exp(1 - ref_len / np.where(sys_len > 0,
                                                                                             sys_len, 1)), 0.0), 1.0)
            # exp smoothing: the k-th order with zero matches gets 100 / (2^k * total)
            zero = correct == 0
            halvings = np.cumsum(zero, axis=1)
            safe_total = np.where(total > 0, total, 1)
            prec = np.where(zero, 100.0 / (2.0**halvings * safe_total), 100.0 * correct / safe_total)
            # orders after the first with no n-grams at all are not reached (sacrebleu breaks the loop)
            reached = np.cumprod(total > 0, axis=1).astype(bool)
            logs = np.where(reached & (prec > 0), np.log(np.where(prec > 0, prec, 1)), -9999999999.0)  # my_log
            score = bp * np.exp(logs.sum(axis=1) / n)
            return np.where(correct.any(axis=1), score, 0.0)
    return np.array([_score(metric, row) for row in sums])


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
    from sacrebleu.significance import _compute_p_value

    a_arr, b_arr = _array(stats_a), _array(stats_b)
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"paired test needs statistics of the same shape: {a_arr.shape} vs {b_arr.shape}")
    # Real scores from the exact (float64) statistics, as sacrebleu's real difference is.
    score_a, score_b = metric.score_from_stats(stats_a), metric.score_from_stats(stats_b)
    n = len(a_arr)
    rng = np.random.default_rng(seed)
    if test == "bs":
        samples = samples or DEFAULT_RESAMPLES
        idx = rng.choice(n, size=(samples, n), replace=True)
        res_a = np.array([_score(metric, a_arr[i].sum(0)) for i in idx])
        res_b = np.array([_score(metric, b_arr[i].sum(0)) for i in idx])
        diffs = res_b - res_a
        spread = np.abs(diffs)
        p = _compute_p_value(spread - spread.mean(), abs(score_b - score_a))
    else:
        samples = samples or DEFAULT_AR_TRIALS
        swap = rng.integers(2, size=(samples, n), dtype=bool)
        # sacrebleu's AR mixes float32 baseline and integer system statistics, i.e. it works in float64.
        # Precision matters here: a trial that swaps only identical segments ties the real difference,
        # and ties do not count (strict >); float32 rounding would count about half of them.
        a64, b64 = a_arr.astype("float64"), b_arr.astype("float64")
        shuf_a = swap @ a64 + ~swap @ b64
        shuf_b = ~swap @ a64 + swap @ b64
        trial = np.abs(np.array([_score(metric, x) for x in shuf_a]) - np.array([_score(metric, x) for x in shuf_b]))
        p = _compute_p_value(trial, abs(score_b - score_a))
        idx = rng.choice(n, size=(DEFAULT_RESAMPLES, n), replace=True)
        diffs = np.array([_score(metric, b_arr[i].sum(0)) - _score(metric, a_arr[i].sum(0)) for i in idx])
    if np.array_equal(a_arr, b_arr):
        p = 1.0
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return PairedResult(score_a, score_b, score_b - score_a, float(low), float(high), float(p), test, samples, seed)
