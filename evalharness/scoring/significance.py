"""Confidence intervals and paired significance tests on stored segment statistics.

Statistics are extracted from text once per system; every resample only re-aggregates them, as
sacrebleu does. The paired tests follow sacrebleu's definitions (``sacrebleu.significance``): paired
bootstrap resampling (Koehn 2004, as in Moses' script) and approximate randomization (Riezler &
Maxwell 2005), with sacrebleu's own p-value helper; only the input differs — statistics, not text.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import Field, StrictInt

from evalharness.scoring import sacrebleu_adapter as sb
from evalharness.scoring.defaults import (
    CONFIDENCE,
    DEFAULT_AR_TRIALS,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    MAX_SAMPLES,
    MAX_SEED,
)
from evalharness.systems.settings import Strict

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike

    from evalharness.scoring.metrics import Metric

Test = Literal["bs", "ar"]


class Bootstrap(Strict):
    """Settings of a bootstrap confidence interval: resamples, seed (written into the signature), level; a run
    config's ``statistics`` section and ``score --confidence``'s."""

    resamples: StrictInt = Field(default=DEFAULT_RESAMPLES, ge=100, le=MAX_SAMPLES)
    seed: StrictInt = Field(default=DEFAULT_SEED, ge=0, le=MAX_SEED)
    confidence: float = Field(default=CONFIDENCE, gt=0.5, lt=1.0, allow_inf_nan=False)



class Aggregate(Protocol):
    """What the family test needs of a row's scorer: its direction and the formula from summed statistics to a
    score. Every :class:`~evalharness.scoring.metrics.Metric` is one; so is a gate's flag-rate row."""

    @property
    def name(self) -> str:
        """Registered name (``bleu``), or the row's own (``flag:copy``)."""

    @property
    def label(self) -> str:
        """As people write it."""

    @property
    def higher_is_better(self) -> bool:
        """Direction of a change for the better."""

    def scores_of_sums(self, sums: ArrayLike) -> np.ndarray:
        """Scores of many rows of summed statistics."""

    def score_from_stats(self, stats: ArrayLike) -> float:
        """Score of the summed segment statistics."""

    def score_of_sum(self, summed: Any) -> float:
        """Score of one row of summed statistics."""


def _array(stats: ArrayLike) -> np.ndarray:
    import numpy as np

    return np.asarray(stats, dtype="float32")  # float32 as sacrebleu uses, so results match it


def scores_of_sums(metric: Metric, sums: ArrayLike) -> np.ndarray:
    """Corpus scores for many rows of summed statistics at once: the metric's own (vectorised) formula."""
    return metric.scores_of_sums(sums)


def _draws(rng: np.random.Generator, n: int, count: int) -> Iterator[np.ndarray]:
    """``count`` bootstrap resamples of ``n`` segments (rows of segment indices), a block of rows at a time.

    The same draws as one ``rng.choice(n, size=(count, n))`` (numpy draws them one after another; a test holds
    it), without its ``count × n`` integers at once: 1.6 GB for 1000 resamples of 200,000 segments.
    """
    block = _block(n)
    for lo in range(0, count, block):
        yield rng.choice(n, size=(min(block, count - lo), n), replace=True)


def _resampled_sums(draws: np.ndarray, stats: np.ndarray) -> np.ndarray:
    """Summed statistics of each resample: how often it drew each segment, times the (float64) statistics.

    Exact for whole-number statistics, where summing a gathered ``stats[draws]`` in float32 is not once a
    corpus's counts pass 2^24, and without the gathered copy (resamples × segments × statistics).
    """
    import numpy as np

    rows, n = draws.shape
    counts = np.bincount((draws + n * np.arange(rows)[:, None]).ravel(), minlength=rows * n)
    result: np.ndarray = counts.reshape(rows, n).astype("float64") @ stats
    return result


def bootstrap_scores(metric: Metric, stats: ArrayLike, *, resamples: int = DEFAULT_RESAMPLES,
                     seed: int = DEFAULT_SEED) -> list[float]:
    """Corpus scores of ``resamples`` bootstrap resamples of the segments (in blocks, to bound the memory)."""
    import numpy as np

    arr = _array(stats).astype("float64")
    rng = np.random.default_rng(seed)
    sums = np.concatenate([_resampled_sums(idx, arr) for idx in _draws(rng, len(arr), resamples)])
    return [float(x) for x in scores_of_sums(metric, sums)]


def confidence_interval(metric: Metric, stats: ArrayLike, *, resamples: int = DEFAULT_RESAMPLES,
                        seed: int = DEFAULT_SEED, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile bootstrap interval of the corpus score."""
    import numpy as np

    scores = np.asarray(bootstrap_scores(metric, stats, resamples=resamples, seed=seed))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class PairedResult:
    """Outcome of a paired test of system B against system A on the same segments."""

    a: float
    b: float
    delta: float  # b - a
    ci_low: float  # delta ± the test's critical value (see test_interval): excludes 0 exactly when p < 1 - confidence
    ci_high: float
    p_value: float
    test: Test
    samples: int
    seed: int


def paired_test(metric: Aggregate, stats_a: ArrayLike, stats_b: ArrayLike, *,
                test: Test = "bs", samples: int | None = None, seed: int = DEFAULT_SEED,
                confidence: float = CONFIDENCE, one_sided: bool = False, margin: float = 0.0) -> PairedResult:
    """Paired test (``bs`` bootstrap, ``ar`` approximate randomization) of B against A: two-sided, or with
    ``one_sided`` only against B being worse by more than ``margin`` points (the gate's question, the margin its
    tolerance; the metric's direction says which way is worse).

    Identical statistics give p = 1: sacrebleu's p-value would be 1/(N+1) there, which reads as
    "significant" for two identical systems; so does a Δ of 0 (or at floating-point noise), and one-sided a Δ in
    the good direction. The interval of Δ at ``confidence`` comes from the same resamples or trials as p
    (:func:`shift_interval`; one-sided, open on the good side), so it excludes 0 (one-sided: the margin on the bad
    side) exactly when p < 1 − ``confidence``.
    """
    import numpy as np

    a_arr, b_arr = _array(stats_a), _array(stats_b)
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"paired test needs statistics of the same shape: {a_arr.shape} vs {b_arr.shape}")
    # Real scores from the exact (float64) statistics, as sacrebleu's real difference is.
    score_a, score_b = metric.score_from_stats(stats_a), metric.score_from_stats(stats_b)
    rng = np.random.default_rng(seed)
    delta = denoise(score_b - score_a, score_a, score_b)
    # one-sided: every difference oriented so that positive means "B worse"; two-sided: its size
    worse = worse_sign(metric) if one_sided else None
    null, samples = _null_distribution(metric, a_arr, b_arr, rng, test, samples, worse)
    # one-sided with a margin: is B worse by more than ``margin`` points (the gate's tolerance)?
    statistic = delta * worse - margin if worse is not None else abs(delta)
    if worse is None:
        p = sb.p_value(null, statistic)  # sacrebleu's convention (strict >), so compare's p equals sacrebleu's
    else:
        # the gate's one-sided test counts ties, as maxt does: with few values (one differing segment, a flag's
        # rate) nearly every trial ties the real difference, and a strict count would call that p = 1/(N+1)
        tie = _TIE * max(1.0, abs(statistic))
        p = float((np.count_nonzero(null >= statistic - tie) + 1) / (len(null) + 1))
    if np.array_equal(a_arr, b_arr) or statistic <= 0 or delta == 0:
        # identical, Δ = 0, or (one-sided) not worse by more than the margin: never a rejection
        p = 1.0
    low, high = shift_interval(delta, critical_value(null, 1 - confidence), worse)
    low, high = agree(low, high, rejected=p < 1 - confidence, at=margin * worse if worse is not None else 0.0)
    return PairedResult(score_a, score_b, delta, low, high, float(p), test, samples, seed)


def _null_distribution(metric: Aggregate, a_arr: np.ndarray, b_arr: np.ndarray, rng: np.random.Generator,
                       test: Test, samples: int | None, worse: int | None) -> tuple[np.ndarray, int]:
    """The test's null distribution of Δ (oriented "B worse" one-sided, its size two-sided) and the number of
    resamples (``bs``) or trials (``ar``) it took."""
    import numpy as np

    score = metric.score_of_sum  # each resample scored by the metric's own formula, row by row
    if test == "bs":
        samples = samples or DEFAULT_RESAMPLES
        res_a, res_b = [], []
        for block in _draws(rng, len(a_arr), samples):
            res_a += [score(a_arr[i].sum(0)) for i in block]
            res_b += [score(b_arr[i].sum(0)) for i in block]
        moved = np.array(res_b) - np.array(res_a)
        spread = moved * worse if worse is not None else np.abs(moved)
        return spread - spread.mean(), samples  # sacrebleu's bootstrap null: the centred resampled Δ
    samples = samples or DEFAULT_AR_TRIALS
    swap = rng.integers(2, size=(samples, len(a_arr)), dtype=bool)
    # sacrebleu's AR mixes float32 baseline and integer system statistics, i.e. it works in float64.
    # Precision matters here: a trial that swaps only identical segments ties the real difference,
    # and ties do not count (strict >); float32 rounding would count about half of them.
    a64, b64 = a_arr.astype("float64"), b_arr.astype("float64")
    shuf_a = swap @ a64 + ~swap @ b64
    shuf_b = ~swap @ a64 + swap @ b64
    moved = np.array([score(x) for x in shuf_b]) - np.array([score(x) for x in shuf_a])
    return (moved * worse if worse is not None else np.abs(moved)), samples


def worse_sign(metric: Aggregate) -> int:
    """+1 when a rise of ``metric`` is a change for the worse (TER), −1 when a fall is (BLEU, chrF)."""
    return -1 if metric.higher_is_better else 1


NOISE = 1e-9
"""Relative size below which a difference of two scores is floating-point noise, not a difference."""


def denoise(delta: float, *scores: float) -> float:
    """``delta``, or 0.0 where it is floating-point noise relative to the ``scores`` it is the difference of."""
    return 0.0 if abs(delta) <= NOISE * max([1.0, *(abs(s) for s in scores)]) else delta


def agree(low: float, high: float, *, rejected: bool, at: float = 0.0) -> tuple[float, float]:
    """The interval, nudged by at most rounding so that it excludes ``at`` (0, or the tolerance on the bad side)
    exactly when the test ``rejected``.

    The verdict comes from counting trials (p < α); the interval from Δ ± critical value × spread in score
    points. The two are the same inequality, but rounded differently: where rounding alone puts an end on the
    wrong side of ``at``, the end moves to the nearest float on the right side.
    """
    import math

    if rejected and low <= at <= high:
        if high < math.inf and (low == -math.inf or abs(high - at) <= abs(low - at)):
            return low, math.nextafter(at, -math.inf)
        return math.nextafter(at, math.inf), high
    if not rejected and (high < at or low > at):
        return (low, at) if high < at else (at, high)
    return low, high


def critical_value(null: ArrayLike, alpha: float) -> float:
    """The statistic at which a test with this ``null`` sample starts to reject at ``alpha``.

    With p = (count + 1) / (N + 1), count = null values beyond the statistic, p < α exactly when
    count ≤ K = ⌈α(N + 1)⌉ − 2, i.e. when the statistic passes the (K+1)-th largest null value (a statistic equal
    to it is the boundary: rejected where ties do not count, as in sacrebleu's tests, not where they do, as in
    :func:`westfall_young`). ``inf`` when N is too small for any p below α.
    """
    import math

    import numpy as np

    values = np.sort(np.asarray(null, dtype="float64").ravel())[::-1]
    k = math.ceil(alpha * (len(values) + 1)) - 2
    if k < 0:
        return math.inf
    return float(values[min(k, len(values) - 1)])


def shift_interval(delta: float, critical: float, worse: int | None = None) -> tuple[float, float]:
    """Δ ± the test's critical value: the shifts of B the test would not tell from Δ (a shift model: the test
    inverted). It excludes 0 exactly when the test rejects, so interval and verdict cannot disagree; infinite
    when the samples cannot reach the level. Where ties do not count (sacrebleu's ``bs`` and ``ar``) a Δ exactly
    at the critical value is rejected: the interval is open there, its end 0 itself (one differing segment under
    ``ar`` gives such ties); where ties count (``maxt``) it is closed.

    One-sided (``worse`` = :func:`worse_sign`): only the bound on the bad side, the other end infinite —
    ``(−∞, Δ + c]`` for a metric where higher is better, ``[Δ − c, +∞)`` for TER."""
    import math

    margin = max(critical, 0.0)
    if worse is None:
        return delta - margin, delta + margin
    return (-math.inf, delta + margin) if worse < 0 else (delta - margin, math.inf)


# --------------------------------------------------------------------------- families of rows
#
# A check tests many rows at once (system × direction × metric); each tested alone at α, some row of an
# unchanged system fails far more often than α. The functions below test the rows of a check as one family.
# They take the same stored statistics and score many resamples at once with the metric's vectorised
# formula (``Metric.scores_of_sums``) instead of sacrebleu's one row at a time.

_TIE = 1e-9  # score points: permuted differences this close to the real one are ties (rounding, not chance)


def _block(segments: int) -> int:
    """Resamples or trials per block: about 4 million float64 values (32 MB) at a time."""
    return max(1, (1 << 22) // max(1, segments))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the order given.

    The k-th smallest of m p-values is multiplied by m − k + 1, capped at 1 and made non-decreasing in that
    order (step-down). Rejecting the rows whose adjusted p is below α keeps the family-wise error rate at α
    whatever the dependence between the rows.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * float(p_values[i])))
        adjusted[i] = running
    return adjusted


def holm_rejections(p_values: Sequence[float], alpha: float = 0.05) -> list[bool]:
    """Which rows Holm–Bonferroni rejects at family-wise level ``alpha`` (adjusted p < ``alpha``)."""
    return [p < alpha for p in holm(p_values)]


@dataclass(frozen=True)
class FamilyRow:
    """One row of a family: a metric and the segment statistics of A and B.

    Rows with the same ``group`` (one system × direction) are the same segments scored by different metrics:
    a resample or permutation treats them alike. Rows of different groups are resampled independently.
    """

    group: Hashable
    metric: Aggregate
    stats_a: ArrayLike  # segments × statistics: ``Metric.segment_stats`` or a numpy array of it
    stats_b: ArrayLike


def _groups(rows: Sequence[FamilyRow]) -> list[tuple[list[int], list[tuple[np.ndarray, np.ndarray]]]]:
    """Row indices and float64 statistics of each group, groups in order of first appearance."""
    import numpy as np

    members: dict[Hashable, list[int]] = {}
    for i, row in enumerate(rows):
        members.setdefault(row.group, []).append(i)
    out = []
    for group, idx in members.items():
        arrays: list[tuple[np.ndarray, np.ndarray]] = []
        for i in idx:
            # through float32 as paired_test goes, so both see the same statistics
            a = np.asarray(rows[i].stats_a, dtype="float32").astype("float64")
            b = np.asarray(rows[i].stats_b, dtype="float32").astype("float64")
            if a.shape != b.shape or a.ndim != 2:
                raise ValueError(f"group {group!r}, {rows[i].metric.label}: statistics of A and B must be "
                                 f"segments × statistics of the same shape: {a.shape} vs {b.shape}")
            if arrays and a.shape[0] != arrays[0][0].shape[0]:
                raise ValueError(f"group {group!r}: every metric must score the same segments: "
                                 f"{arrays[0][0].shape[0]} vs {a.shape[0]}")
            arrays.append((a, b))
        out.append((idx, arrays))
    return out


def paired_bootstrap_p_values(rows: Sequence[FamilyRow], *, resamples: int = DEFAULT_RESAMPLES,
                              seed: int = DEFAULT_SEED) -> list[float]:
    """Each row's paired bootstrap p-value, as :func:`paired_test` (``bs``) gives it, all rows at once.

    Every group draws the resamples :func:`paired_test` would (a fresh generator seeded with ``seed``), and the
    p-value is sacrebleu's ((count + 1) / (resamples + 1), count of centred resampled |Δ| > real |Δ|): the
    same p-values up to float rounding of the vectorised formula. Not adjusted for the family.
    """
    import numpy as np

    p = [1.0] * len(rows)
    for idx, arrays in _groups(rows):
        n = arrays[0][0].shape[0]
        rng = np.random.default_rng(seed)
        # every metric's A and B statistics side by side: one matrix product for the whole group, with how
        # often each resample draws each segment (in blocks of resamples, to bound the memory)
        stacked = np.hstack([x for pair in arrays for x in pair])
        resampled = np.concatenate([_resampled_sums(idx, stacked) for idx in _draws(rng, n, resamples)])
        start = 0
        for i, (a, b) in zip(idx, arrays, strict=True):
            width = a.shape[1]
            res_a, res_b = resampled[:, start : start + width], resampled[:, start + width : start + 2 * width]
            start += 2 * width
            if np.array_equal(a, b):
                continue  # identical: p = 1, as paired_test
            metric = rows[i].metric
            real = abs(metric.score_from_stats(b) - metric.score_from_stats(a))
            spread = np.abs(metric.scores_of_sums(res_b) - metric.scores_of_sums(res_a))
            p[i] = sb.p_value(spread - spread.mean(), real)
    return p


def permutation_differences(rows: Sequence[FamilyRow], *, trials: int = DEFAULT_AR_TRIALS,
                            seed: int = DEFAULT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Real differences (B − A, one per row) and their ``trials`` × rows approximate-randomization copies.

    A trial exchanges A's and B's output of each segment with probability ½, the same segments for every
    metric of a group (they score the same outputs) and independently between groups (other segments). The
    first group draws the same exchanges as :func:`paired_test` (``ar``) with this seed. Real and permuted
    differences come from the same vectorised formula, so a trial that exchanges only identical segments
    reproduces the real difference (exactly for integer statistics; within the tie margin of
    :func:`westfall_young` and :func:`randomization_p_values` otherwise).
    """
    import numpy as np

    real = np.zeros(len(rows))
    null = np.zeros((trials, len(rows)))
    rng = np.random.default_rng(seed)
    for idx, arrays in _groups(rows):
        n = arrays[0][0].shape[0]
        keep = rng.integers(2, size=(trials, n), dtype=bool)  # True: the segment stays on its side
        # A's side after the exchange is sum(B) + Σ_kept (a − b), B's is sum(A) − the same: one matrix
        # product for all metrics of the group (in blocks of trials, to bound the memory)
        diff = np.hstack([a - b for a, b in arrays])
        moved = np.empty((trials, diff.shape[1]))
        block = _block(n)
        for lo in range(0, trials, block):
            moved[lo : lo + block] = keep[lo : lo + block].astype("float64") @ diff
        start = 0
        for i, (a, b) in zip(idx, arrays, strict=True):
            width = a.shape[1]
            kept = moved[:, start : start + width]
            start += width
            sum_a, sum_b = a.sum(0), b.sum(0)
            scores = rows[i].metric.scores_of_sums
            score_a, score_b = scores(np.stack([sum_a, sum_b]))
            real[i] = denoise(float(score_b - score_a), float(score_a), float(score_b))
            null[:, i] = scores(sum_a - kept) - scores(sum_b + kept)  # B's side minus A's side
    return real, null


def westfall_young(real: np.ndarray, null: np.ndarray, *, standardise: bool = True,
                   worse: Sequence[int] | None = None, margins: Sequence[float] | None = None) -> list[float]:
    """Family-wise p-values, single-step max-statistic (Westfall & Young 1993), from
    :func:`permutation_differences`.

    A row's statistic is its |Δ|, divided by the standard deviation of its own permuted Δ when
    ``standardise`` (so BLEU, chrF and TER rows of different spreads weigh alike; raw, the noisiest row sets
    the maximum and a quiet row can hardly reach it). Row r's p is (count + 1) / (trials + 1), count = trials
    whose maximum over all rows is ≥ row r's real statistic — sacrebleu's convention, except that ties count
    (≥, as a permutation test counts its own real arrangement): a difference that comes from one segment is
    matched by every trial that exchanges it, and is not significant.

    ``worse`` (one sign per row, :func:`worse_sign`): one-sided, against "B is worse" only — each row's statistic
    is its Δ oriented so that worse is positive (not its size), less the row's ``margins`` (score points: "worse by
    more than the tolerance"), and a row that is not worse by more than its margin has p = 1.
    """
    import numpy as np

    real_abs, null_abs = _oriented(real, null, worse)
    if worse is not None and margins is not None:
        real_abs = real_abs - np.asarray(margins, dtype="float64")
    if standardise:
        spread = np.asarray(null, dtype="float64").std(axis=0)
        scale = np.where(spread > 0, spread, 1.0)
        real_abs = np.where(spread > 0, real_abs / scale, 0.0)  # no spread at all: no evidence
        null_abs = np.where(spread > 0, null_abs / scale, 0.0)
    trials = null_abs.shape[0]
    top = null_abs.max(axis=1) if null_abs.shape[1] else np.zeros(trials)
    count = (top[:, None] >= real_abs[None, :] - _TIE * np.maximum(1.0, np.abs(real_abs))).sum(axis=0)
    p = (count + 1) / (trials + 1)
    return [1.0 if r <= 0 else float(x) for r, x in zip(real_abs, p, strict=True)]


def _oriented(real: ArrayLike, null: ArrayLike, worse: Sequence[int] | None) -> tuple[np.ndarray, np.ndarray]:
    """Real and permuted statistics: |Δ| (two-sided), or Δ times each row's worse-sign (one-sided)."""
    import numpy as np

    r, n = np.asarray(real, dtype="float64"), np.asarray(null, dtype="float64")
    if worse is None:
        return np.abs(r), np.abs(n)
    sign = np.asarray(worse, dtype="float64")
    return r * sign, n * sign[None, :] if n.ndim == 2 else n * sign


def randomization_p_values(real: np.ndarray, null: np.ndarray, worse: Sequence[int] | None = None) -> list[float]:
    """Each row's own approximate-randomization p-value from :func:`permutation_differences`, not adjusted.

    sacrebleu's convention, as :func:`paired_test` (``ar``): (count + 1) / (trials + 1), count = trials whose
    |Δ| exceeds the real |Δ| (strict: ties do not count). Unlike :func:`paired_test` it does not know whether
    A and B are identical (p = 1 there); :func:`max_statistic_test` does. ``worse``: one-sided, as
    :func:`westfall_young`.
    """
    import numpy as np

    real_abs, null_abs = _oriented(real, null, worse)
    exceed = (null_abs > real_abs + _TIE * np.maximum(1.0, np.abs(real_abs))).sum(axis=0)
    p = (exceed + 1) / (null_abs.shape[0] + 1)
    return [1.0 if r <= 0 else float(x) for r, x in zip(real_abs, p, strict=True)]


@dataclass(frozen=True)
class FamilyResult:
    """Outcome of a max-statistic permutation test of a family of rows (in the order given)."""

    deltas: tuple[float, ...]  # B − A per row, from the vectorised formula
    p_values: tuple[float, ...]  # each row alone: approximate randomization, sacrebleu's convention
    family_p_values: tuple[float, ...]  # family-wise (Westfall–Young single-step max-statistic)
    trials: int
    seed: int
    standardise: bool
    scales: tuple[float, ...] = ()  # per row, the spread its |Δ| is divided by (1.0 unstandardised)
    maxima: tuple[float, ...] = ()  # per trial, the largest scaled |Δ| (one-sided: worse-side Δ) over all rows
    worse: tuple[int, ...] | None = None  # one-sided: per row the sign that makes "worse" positive
    tolerances: tuple[float, ...] | None = None  # one-sided: per row the points B must be worse by
    identical: tuple[bool, ...] = ()  # per row, A's and B's statistics are the same

    def interval(self, row: int, alpha: float) -> tuple[float, float]:
        """Simultaneous interval of row ``row``'s Δ at family-wise level ``alpha``: Δ ± c · scale, c the family's
        critical value (one-sided: the bad-side bound only); it excludes 0 (one-sided: the tolerance on the bad
        side) exactly when the row's family p is below ``alpha``."""
        if self.identical and self.identical[row]:
            return 0.0, 0.0  # identical statistics: no difference at all
        worse = self.worse[row] if self.worse is not None else None
        low, high = shift_interval(self.deltas[row], self.margin(row, alpha), worse)
        at = worse * self.tolerances[row] if worse is not None and self.tolerances is not None else 0.0
        return agree(low, high, rejected=self.family_p_values[row] < alpha, at=at)

    def margin(self, row: int, alpha: float) -> float:
        """How far row ``row``'s Δ must be from 0 (score points) for the family test to reject it at ``alpha``."""
        return critical_value(self.maxima, alpha) * self.scales[row]


def max_statistic_test(rows: Sequence[FamilyRow], *, trials: int = DEFAULT_AR_TRIALS, seed: int = DEFAULT_SEED,
                       standardise: bool = True, one_sided: bool = False,
                       tolerances: Sequence[float] | None = None) -> FamilyResult:
    """One paired permutation test over all rows of a check: family-wise p-value per row.

    Trials as :func:`permutation_differences`, p-values as :func:`westfall_young`. Rejecting the rows whose
    family p is below α keeps the chance that any row of an unchanged system is rejected at about α,
    whatever the correlation between metrics. ``p_values`` are the rows' own approximate-randomization
    p-values from the same trials (strict >, (count + 1) / (trials + 1), identical statistics p = 1, as
    :func:`paired_test`), never above the family ones.

    ``one_sided``: the gate's question, "is B worse by more than the row's ``tolerances`` (score points, 0 if
    none)?" — each row's Δ oriented by its metric's direction (:func:`worse_sign`), the maximum taken over the
    oriented Δ; a row that is not worse by more than its tolerance has p = 1. The verdict and the one-sided
    interval then say the same: the interval lies wholly beyond the tolerance exactly when p < α. Two-sided
    (``compare``) a move either way counts.
    """
    import numpy as np

    real, null = permutation_differences(rows, trials=trials, seed=seed)
    worse = tuple(worse_sign(row.metric) for row in rows) if one_sided else None
    margins = tuple(float(t) for t in tolerances) if one_sided and tolerances is not None else None
    family = westfall_young(real, null, standardise=standardise, worse=worse, margins=margins)
    spread = null.std(axis=0) if standardise else np.ones(len(rows))
    scales = np.where(spread > 0, spread, 1.0)
    _, oriented = _oriented(real, null, worse)
    maxima = (oriented / scales).max(axis=1) if len(rows) else np.zeros(trials)
    single = randomization_p_values(real, null, worse)
    identical = tuple(bool(np.array_equal(np.asarray(row.stats_a), np.asarray(row.stats_b))) for row in rows)
    for i in range(len(rows)):
        if identical[i] or real[i] == 0.0:
            single[i] = family[i] = 1.0
    return FamilyResult(tuple(float(d) for d in real), tuple(single), tuple(family), trials, seed, standardise,
                        tuple(float(s) for s in scales), tuple(float(m) for m in maxima), worse, margins, identical)


def paired_mdd(metric: Aggregate, stats_a: ArrayLike, stats_b: ArrayLike, *, alpha: float = 0.05,
               power: float = 0.8, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
               margin: float | None = None, one_sided: bool = False) -> float:
    """≈ the smallest difference a paired test at level ``alpha`` detects with probability ``power`` here.

    (z(1 − α/2) + z(power)) · SE(Δ) (``one_sided``: z(1 − α)), SE(Δ) the standard deviation of B − A over paired
    bootstrap resamples of the segments (both systems resampled together, as the paired tests see them). A test
    with a critical value of its own (``margin``: the family's, for ``maxt``, in score points) rejects beyond it
    instead: margin + z(power) · SE(Δ). An estimate: it assumes Δ roughly normal, which a few very different
    segments can break (then the tests themselves say little).
    """
    from statistics import NormalDist

    import numpy as np

    a, b = np.asarray(stats_a, dtype="float64"), np.asarray(stats_b, dtype="float64")
    n = len(a)
    if n == 0:
        return 0.0
    rng = np.random.default_rng(seed)
    pairs = [(_resampled_sums(idx, a), _resampled_sums(idx, b)) for idx in _draws(rng, n, resamples)]
    deltas = (metric.scores_of_sums(np.concatenate([y for _, y in pairs]))
              - metric.scores_of_sums(np.concatenate([x for x, _ in pairs])))
    se = float(np.std(deltas, ddof=1))
    if margin is not None:
        return margin + NormalDist().inv_cdf(power) * se
    return (NormalDist().inv_cdf(1 - (alpha if one_sided else alpha / 2)) + NormalDist().inv_cdf(power)) * se
