"""Calibration of the regression gate by simulation: false alarms and detection of candidate procedures.

Prints figures and asserts nothing. A *check* is what ``evalharness check`` sees for one system: 4 metrics
(BLEU, chrF, chrF++, TER) × 2 directions (ms→en, en→ms) = 8 rows. A row is a regression when it is worse
than the baseline by more than its tolerance (1.0 point) **and** significant; a check fails when any row is.

Systems are simulated from the references of each direction (ms→en: the English texts; en→ms: the Malay):

- *equal quality*: baseline A and new run B are two independent perturbations of the references (10 % of
  the words dropped, then 8 % of neighbouring words swapped); a new pair every trial, so the baseline is
  fresh each time. Every failing check is a false alarm.
- *damaged*: B as above, with d % of its segments (at least one) damaged: emptied, truncated to the first
  half of their words, or replaced by the source text (one of the three at random per segment).

Test sets: the article corpus at paragraph level (29 segments) and sentence level (37), and a **synthetic**
1,000-segment set (no standard test set can be downloaded here): pseudo-sentences of 8–40 words drawn with a
fixed seed from the article's word frequencies, Malay and English sides drawn separately. It has the size,
not the language, of a real test set.

Perturbations come from a pool: for every segment ``--pool`` perturbations are drawn and their statistics
extracted once; a trial draws two different pool entries per segment for A and B (for every segment
independently), so pairs repeat within a segment but hardly ever across a whole test set. Extracting fresh
text every trial (TER costs ~6 s per 1,000 segments) would not fit the time budget.

Candidates (each as the gate would run it, with its fixed seed 12345 for resampling):

- ``bs``: paired bootstrap per row, p < α (today's default; ``--resamples``);
- ``ar``: approximate randomization per row, p < α (sacrebleu's convention; ``--ar-trials``);
- ``bs+holm`` / ``ar+holm``: the same p-values, Holm–Bonferroni over the 8 rows of the check;
- ``maxT``: one max-statistic permutation test over all rows (standardised |Δ|), family-wise p < α;
- ``maxT-raw``: the same with raw |Δ| (shows why the statistic is standardised);
- ``segment`` and ``maxT+segment``: the proposed segment rule, alone and added to ``maxT``.

Then the segment rule ("a segment fails when its chrF falls by more than X points to below Y"): the largest
per-segment chrF drop over equal-quality checks, the chrF of damaged segments (emptied, truncated, garbled =
words shuffled and half of them replaced by random words of the article in the same language, copy of the
source), and trip rates on a grid. Its false trips come from the tail of each segment's chrF, so this part
draws from a larger, chrF-only pool (``--segment-pool``).

Sizes and seeds are printed with the figures; ``--json PATH`` writes all of them.

    python benchmarks/gate_calibration.py                  # full run (see --help for sizes)
    python benchmarks/gate_calibration.py --quick --json /tmp/calibration.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Many small matrix products: OpenBLAS threads cost more than they save (7× slower on a busy 2-core
# machine). The script runs trials in processes instead. Set before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from evalharness.corpus import load_corpus  # noqa: E402  (after the path set-up above)
from evalharness.scoring.defaults import DEFAULT_SEED  # noqa: E402
from evalharness.scoring.metrics import Metric, get_metrics  # noqa: E402
from evalharness.scoring.significance import (  # noqa: E402
    FamilyRow,
    holm,
    paired_bootstrap_p_values,
    permutation_differences,
    randomization_p_values,
    westfall_young,
)

CORPUS = "rt-2013-russia-japan-2plus2"
METRIC_NAMES = ("bleu", "chrf", "chrf++", "ter")
DIRECTIONS = {"ms-en": ("ms", "en"), "en-ms": ("en", "ms")}  # direction: (source language, reference language)
DROP, SWAP = 0.10, 0.08  # equal-quality perturbation: share of words dropped, of neighbours swapped
DAMAGE_LEVELS = (0.01, 0.02, 0.05, 0.10, 0.20)
DAMAGES = ("emptied", "truncated", "source")  # what a damaged segment of B becomes in the detection runs
ALPHA = 0.05
SIM_SEED = 20240601  # the simulation's own seed (data); the tests inside use the gate's DEFAULT_SEED
GARBLED = 4  # garbled versions drawn per segment for the segment-rule table

# Segment rules "a segment fails when its chrF falls by more than DROP points from the baseline's to below
# FLOOR", on segments whose reference has at least MIN_WORDS words (shorter ones, headings, are exempt: one
# dropped word moves their chrF by tens of points). The first is the proposal, chosen from this script's
# measurements; the others show what moving each knob costs.
SEGMENT_RULES: tuple[tuple[float, float, int], ...] = (
    (25.0, 35.0, 8),
    (25.0, 35.0, 0),
    (25.0, 30.0, 8),
    (25.0, 40.0, 8),
    (25.0, 60.0, 8),
    (25.0, 15.0, 8),
)
SEGMENT_DROP, SEGMENT_FLOOR, SEGMENT_MIN_WORDS = SEGMENT_RULES[0]
GRID_DROPS = (10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0)
GRID_FLOORS = (10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 60.0)

CANDIDATES = ("bs", "ar", "bs+holm", "ar+holm", "maxT", "maxT-raw", "segment", "maxT+segment")


# --------------------------------------------------------------------------- test sets and their texts


@dataclass(frozen=True)
class TestSet:
    """Segments to simulate on: per direction the references and the source texts."""

    name: str
    label: str
    synthetic: bool
    refs: dict[str, list[str]]
    sources: dict[str, list[str]]

    @property
    def n(self) -> int:
        """Number of segments."""
        return len(next(iter(self.refs.values())))


def _by_direction(texts: dict[str, list[str]]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    refs = {d: texts[ref] for d, (_, ref) in DIRECTIONS.items()}
    sources = {d: texts[src] for d, (src, _) in DIRECTIONS.items()}
    return refs, sources


def article_sets() -> list[TestSet]:
    """The article at paragraph and at sentence level."""
    corpus = load_corpus(CORPUS)
    out = []
    for level in ("paragraph", "sentence"):
        segments = corpus.segments(level)  # type: ignore[arg-type]
        refs, sources = _by_direction({lang: [s.texts[lang] for s in segments] for lang in ("ms", "en")})
        out.append(TestSet(f"article-{level}", f"article, {level} level ({len(segments)} segments)", False,
                           refs, sources))
    return out


def vocabulary() -> dict[str, list[str]]:
    """Every word token of the article per language, with repeats (drawing from it follows word frequency)."""
    corpus = load_corpus(CORPUS)
    return {lang: [w for s in corpus.segments("paragraph") for w in s.texts[lang].split()] for lang in ("ms", "en")}


def synthetic_set(size: int, seed: int) -> TestSet:
    """``size`` pseudo-sentences of 8–40 words per language, drawn from the article's word frequencies."""
    rng = np.random.default_rng([seed, 1000])
    vocab = vocabulary()
    texts: dict[str, list[str]] = {"ms": [], "en": []}
    for _ in range(size):
        for lang in ("ms", "en"):
            words = rng.choice(len(vocab[lang]), size=int(rng.integers(8, 41)))
            texts[lang].append(" ".join(vocab[lang][i] for i in words))
    refs, sources = _by_direction(texts)
    return TestSet(f"synthetic-{size}", f"SYNTHETIC {size:,} pseudo-sentences of 8–40 article words", True,
                   refs, sources)


def perturb(text: str, rng: np.random.Generator) -> str:
    """Drop each word with probability DROP, then swap each neighbour pair with probability SWAP."""
    words = [w for w in text.split() if rng.random() >= DROP]
    i = 0
    while i < len(words) - 1:
        if rng.random() < SWAP:
            words[i], words[i + 1] = words[i + 1], words[i]
            i += 2  # a word moves one place at most
        else:
            i += 1
    return " ".join(words)


def truncate(text: str) -> str:
    """The first half of the words."""
    words = text.split()
    return " ".join(words[: len(words) // 2])


def garble(text: str, rng: np.random.Generator, vocab: Sequence[str]) -> str:
    """Words shuffled and half of them replaced by random words of the same language."""
    words = text.split()
    rng.shuffle(words)
    for i in rng.choice(len(words), size=len(words) // 2, replace=False):
        words[i] = vocab[int(rng.integers(len(vocab)))]
    return " ".join(words)


# --------------------------------------------------------------------------- statistics, extracted once


_METRICS: list[Metric] = []


def _metrics() -> list[Metric]:
    if not _METRICS:
        _METRICS.extend(get_metrics(METRIC_NAMES))
    return _METRICS


def _extract(job: tuple[list[str], list[str]]) -> np.ndarray:
    """Segment statistics of every metric side by side: segments × (all metrics' columns)."""
    hyps, refs = job
    return np.hstack([np.asarray(m.segment_stats(hyps, refs), dtype="float64").reshape(len(hyps), -1)
                      for m in _metrics()])


def column_slices() -> dict[str, slice]:
    """Where each metric's statistics sit in :func:`_extract`'s columns."""
    out, start = {}, 0
    for m in _metrics():
        width = len(m.segment_stats(["a b"], ["a b"])[0])
        out[m.name] = slice(start, start + width)
        start += width
    return out


def extract_many(hyps: list[str], refs: list[str], jobs: int) -> np.ndarray:
    """:func:`_extract` of many segments, in ``jobs`` processes."""
    if jobs <= 1 or len(hyps) < 200:
        return _extract((hyps, refs))
    chunks = jobs * 4
    bounds = np.linspace(0, len(hyps), chunks + 1).astype(int)
    parts = [(hyps[lo:hi], refs[lo:hi]) for lo, hi in itertools.pairwise(bounds) if hi > lo]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return np.vstack(list(pool.map(_extract, parts)))


@dataclass
class Pool:
    """One test set × direction: statistics (and segment chrF) of everything a trial can draw."""

    stats: np.ndarray  # pool × segments × columns: equal-quality perturbations
    truncated: np.ndarray  # pool × segments × columns: the same, truncated to half
    emptied: np.ndarray  # segments × columns
    source: np.ndarray  # segments × columns: the source text as output
    words: np.ndarray  # reference words per segment
    chrf: dict[str, np.ndarray] = field(default_factory=dict)  # segment chrF of each of the above, and "garbled"


def build_pool(ts: TestSet, direction: str, size: int, seed: int, jobs: int, chrf: Metric,
               columns: dict[str, slice]) -> Pool:
    """Draw the perturbations of one direction and extract their statistics once."""
    n = ts.n
    refs, sources = ts.refs[direction], ts.sources[direction]
    rng = np.random.default_rng([seed, list(DIRECTIONS).index(direction), n])
    lang = DIRECTIONS[direction][1]
    vocab = vocabulary()[lang]
    perturbed = [perturb(refs[i], rng) for _ in range(size) for i in range(n)]
    garbled = [garble(refs[i], rng, vocab) for _ in range(GARBLED) for i in range(n)]
    texts = perturbed + [truncate(t) for t in perturbed] + [""] * n + list(sources)
    stats = extract_many(texts, refs * (2 * size + 2), jobs)
    k = size * n
    pool = Pool(stats[:k].reshape(size, n, -1), stats[k : 2 * k].reshape(size, n, -1), stats[2 * k : 2 * k + n],
                stats[2 * k + n :], np.array([len(r.split()) for r in refs]))
    cols = columns["chrf"]
    for name in ("stats", "truncated", "emptied", "source"):
        arr: np.ndarray = getattr(pool, name)
        pool.chrf[name] = chrf.scores_of_sums(arr[..., cols].reshape(-1, cols.stop - cols.start)).reshape(
            arr.shape[:-1])
    # garbled text only enters the segment-rule study: chrF alone (TER of shuffled text is very slow)
    pool.chrf["garbled"] = chrf.scores_of_sums(chrf.segment_stats(garbled, refs * GARBLED)).reshape(GARBLED, n)
    return pool


def _chrf_block(job: tuple[list[str], tuple[int, ...], int]) -> np.ndarray:
    """Segment chrF of ``count`` fresh perturbations of ``refs``: count × segments."""
    refs, seed, count = job
    rng = np.random.default_rng(seed)
    chrf = next(m for m in _metrics() if m.name == "chrf")
    hyps = [perturb(r, rng) for _ in range(count) for r in refs]
    return chrf.scores_of_sums(chrf.segment_stats(hyps, refs * count)).reshape(count, len(refs))


def segment_chrf_pool(ts: TestSet, direction: str, size: int, seed: int, jobs: int) -> np.ndarray:
    """Segment chrF of ``size`` equal-quality perturbations per segment (chrF alone: cheap enough for the
    many draws the tail of the segment rule needs), in blocks of 50 with their own seeds."""
    refs = ts.refs[direction]
    blocks = [(refs, (seed, list(DIRECTIONS).index(direction), ts.n, 31, k), min(50, size - lo))
              for k, lo in enumerate(range(0, size, 50))]
    if jobs <= 1 or len(blocks) == 1:
        return np.vstack([_chrf_block(b) for b in blocks])
    with ProcessPoolExecutor(max_workers=jobs) as ex:
        return np.vstack(list(ex.map(_chrf_block, blocks)))


# --------------------------------------------------------------------------- one check, every candidate


@dataclass(frozen=True)
class Setup:
    """What every trial of one test set needs (sent once to each worker process)."""

    pools: dict[str, Pool]
    columns: dict[str, slice]
    resamples: int
    ar_trials: int
    pool_size: int
    seed: int


def segment_trips(chrf_a: np.ndarray, chrf_b: np.ndarray, words: np.ndarray, drop: float = SEGMENT_DROP,
                  floor: float = SEGMENT_FLOOR, min_words: int = SEGMENT_MIN_WORDS) -> np.ndarray:
    """The segment rule, per segment (last axis): chrF fell by more than ``drop`` to below ``floor``, on a
    segment whose reference has at least ``min_words`` words."""
    trips: np.ndarray = (chrf_a - chrf_b > drop) & (chrf_b < floor) & (words >= min_words)
    return trips


def check_outcomes(setup: Setup, a: dict[str, np.ndarray], b: dict[str, np.ndarray], chrf_a: dict[str, np.ndarray],
                   chrf_b: dict[str, np.ndarray]) -> dict[str, bool]:
    """Whether each candidate fails the check of B against A (both directions, every metric)."""
    cols = setup.columns
    rows = [FamilyRow(d, m, a[d][:, cols[m.name]], b[d][:, cols[m.name]]) for d in a for m in _metrics()]
    p_bs = paired_bootstrap_p_values(rows, resamples=setup.resamples, seed=DEFAULT_SEED)
    real, null = permutation_differences(rows, trials=setup.ar_trials, seed=DEFAULT_SEED)
    p_ar = randomization_p_values(real, null)  # no row has identical A and B here: no p = 1 special case needed
    worse = np.array([-r if row.metric.higher_is_better else r for r, row in zip(real, rows, strict=True)])
    beyond = worse > np.array([row.metric.default_tolerance for row in rows])

    def fails(p: Sequence[float]) -> bool:
        return bool(np.any(beyond & (np.asarray(p) < ALPHA)))

    segment = any(bool(segment_trips(chrf_a[d], chrf_b[d], setup.pools[d].words).any()) for d in a)
    max_t = fails(westfall_young(real, null))
    return {"bs": fails(p_bs), "ar": fails(p_ar), "bs+holm": fails(holm(p_bs)), "ar+holm": fails(holm(p_ar)),
            "maxT": max_t, "maxT-raw": fails(westfall_young(real, null, standardise=False)), "segment": segment,
            "maxT+segment": max_t or segment}


def damage_count(level: float, n: int) -> int:
    """Segments damaged at ``level``: the nearest whole number, at least one."""
    return max(1, round(level * n))


CONDITIONS = ("equal", *(f"{level:.0%}" for level in DAMAGE_LEVELS))
BLOCK = 25  # trials per task; each block has its own seed, so results do not depend on --jobs

_SETUP: list[Setup] = []  # the worker process's Setup


def _init_worker(setup: Setup) -> None:
    _SETUP[:] = [setup]


def _run_block(job: tuple[int, int]) -> dict[str, dict[str, int]]:
    block, trials = job
    return simulate_block(_SETUP[0], block, trials)


def simulate_block(setup: Setup, block: int, trials: int) -> dict[str, dict[str, int]]:
    """Failing checks per condition (``equal`` and each damage level) and candidate, over ``trials`` trials."""
    pools = setup.pools
    n = next(iter(pools.values())).emptied.shape[0]
    rng = np.random.default_rng([setup.seed, n, 7, block])
    size, segs = setup.pool_size, np.arange(n)
    counts = {c: dict.fromkeys(CANDIDATES, 0) for c in CONDITIONS}
    for _ in range(trials):
        a: dict[str, np.ndarray] = {}
        b: dict[str, np.ndarray] = {}
        ca: dict[str, np.ndarray] = {}
        cb: dict[str, np.ndarray] = {}
        picks: dict[str, np.ndarray] = {}
        for d, pool in pools.items():
            ia: np.ndarray = rng.integers(size, size=(n,))
            ib = (ia + rng.integers(1, size, size=(n,))) % size  # another perturbation of the segment
            picks[d] = ib
            a[d], b[d] = pool.stats[ia, segs], pool.stats[ib, segs]
            ca[d], cb[d] = pool.chrf["stats"][ia, segs], pool.chrf["stats"][ib, segs]
        for cand, failed in check_outcomes(setup, a, b, ca, cb).items():
            counts["equal"][cand] += failed
        for level, cond in zip(DAMAGE_LEVELS, CONDITIONS[1:], strict=True):
            bd: dict[str, np.ndarray] = {}
            cbd: dict[str, np.ndarray] = {}
            for d, pool in pools.items():
                bd[d], cbd[d] = b[d].copy(), cb[d].copy()
                hit = rng.choice(n, size=damage_count(level, n), replace=False)
                for i, kind in zip(hit, rng.integers(len(DAMAGES), size=len(hit)), strict=True):
                    if DAMAGES[kind] == "emptied":
                        bd[d][i], cbd[d][i] = pool.emptied[i], pool.chrf["emptied"][i]
                    elif DAMAGES[kind] == "truncated":
                        j = picks[d][i]
                        bd[d][i], cbd[d][i] = pool.truncated[j, i], pool.chrf["truncated"][j, i]
                    else:
                        bd[d][i], cbd[d][i] = pool.source[i], pool.chrf["source"][i]
            for cand, failed in check_outcomes(setup, a, bd, ca, cbd).items():
                counts[cond][cand] += failed
    return counts


def simulate_checks(setup: Setup, trials: int, jobs: int) -> dict[str, dict[str, int]]:
    """:func:`simulate_block` over ``trials`` trials in blocks, in ``jobs`` processes."""
    blocks = [(k, min(BLOCK, trials - k * BLOCK)) for k in range((trials + BLOCK - 1) // BLOCK)]
    if jobs <= 1 or len(blocks) == 1:
        parts = [simulate_block(setup, k, t) for k, t in blocks]
    else:
        with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=(setup,)) as ex:
            parts = list(ex.map(_run_block, blocks))
    return {c: {cand: sum(part[c][cand] for part in parts) for cand in CANDIDATES} for c in CONDITIONS}


# --------------------------------------------------------------------------- the segment rule


def segment_rule_study(pools: dict[str, Pool], chrf_pools: dict[str, np.ndarray], trials: int,
                       seed: int) -> dict[str, Any]:
    """Per-segment chrF over many equal-quality checks and of damaged segments.

    Baseline and new run are drawn from ``chrf_pools`` (segment chrF of many perturbations per segment):
    a rule's false trips come from the tail of each segment's chrF, which a small pool cannot show.
    """
    rng = np.random.default_rng([seed, 99])
    size = next(iter(chrf_pools.values())).shape[0]
    n = next(iter(pools.values())).emptied.shape[0]
    segs = np.arange(n)
    words = np.concatenate([p.words for p in pools.values()])
    max_drop: list[np.ndarray] = []
    min_b: list[np.ndarray] = []
    grids = {w: np.zeros((len(GRID_DROPS), len(GRID_FLOORS))) for w in sorted({0, SEGMENT_MIN_WORDS})}
    rule_trips = np.zeros(len(SEGMENT_RULES))
    below_floor_drop: dict[float, list[np.ndarray]] = {y: [] for y in GRID_FLOORS}
    chunk = max(1, 1_000_000 // (2 * n))
    done = 0
    while done < trials:
        t = min(chunk, trials - done)
        drops, bs = [], []
        for chrf_pool in chrf_pools.values():
            ia = rng.integers(size, size=(t, n))
            ib = (ia + rng.integers(1, size, size=(t, n))) % size
            ca, cb = chrf_pool[ia, segs], chrf_pool[ib, segs]
            drops.append(ca - cb)
            bs.append(cb)
        drop, b = np.hstack(drops), np.hstack(bs)  # trials × (segments of both directions)
        max_drop.append(drop.max(axis=1))
        min_b.append(b.min(axis=1))
        for j, y in enumerate(GRID_FLOORS):
            low = b < y
            below_floor_drop[y].append(np.where(low, drop, -np.inf).max(axis=1))
            for min_words, grid in grids.items():
                low_long = low & (words >= min_words)
                for i, x in enumerate(GRID_DROPS):
                    grid[i, j] += np.any(low_long & (drop > x), axis=1).sum()
        for r, (x, y, w) in enumerate(SEGMENT_RULES):
            rule_trips[r] += segment_trips(b + drop, b, words, x, y, w).any(axis=1).sum()
        done += t
    damage: dict[str, dict[str, float]] = {}
    damage_trips: dict[str, list[float]] = {}
    for kind, key in (("emptied", "emptied"), ("truncated", "truncated"), ("garbled", "garbled"),
                      ("copy of source", "source")):
        after, base_all, dmg_all, words_all = [], [], [], []
        for d, pool in pools.items():
            base = chrf_pools[d]  # every perturbation as a possible baseline: draws × segments
            dmg = pool.chrf[key]
            if key in ("emptied", "source"):  # one version per segment
                dmg = np.broadcast_to(dmg, base.shape)
            elif key == "garbled":  # every garbled version against every baseline
                dmg = np.tile(dmg, (base.shape[0], 1))
                base = np.repeat(base, pool.chrf[key].shape[0], axis=0)
            else:  # truncated: each perturbation of the check pool against its own truncation
                base = pool.chrf["stats"]
            after.append(dmg.ravel())
            base_all.append(base.ravel())
            dmg_all.append(dmg.ravel())
            words_all.append(np.broadcast_to(pool.words, base.shape).ravel())
        a_all, b_all, d_all, w_all = (np.concatenate(x) for x in (after, base_all, dmg_all, words_all))
        drop_all = b_all - d_all
        damage[kind] = {"chrf_min": float(a_all.min()), "chrf_median": float(np.median(a_all)),
                        "chrf_max": float(a_all.max()), "drop_min": float(drop_all.min()),
                        "drop_median": float(np.median(drop_all))}
        # trip rates over the segments each rule covers (exempt short segments are not counted)
        damage_trips[kind] = [float(segment_trips(b_all, d_all, w_all, x, y, w)[w_all >= w].mean())
                              for x, y, w in SEGMENT_RULES]
    md, mb = np.concatenate(max_drop), np.concatenate(min_b)
    floors = {}
    for y in GRID_FLOORS:
        v = np.concatenate(below_floor_drop[y])
        some = np.isfinite(v)
        v = np.where(some, v, 0.0)
        floors[f"{y:g}"] = {"share_any_below": float(some.mean()), "p95": float(np.percentile(v, 95)),
                            "p99": float(np.percentile(v, 99)), "max": float(v.max())}
    equal_chrf = np.concatenate([p.ravel() for p in chrf_pools.values()])
    rules = []
    for r, (x, y, w) in enumerate(SEGMENT_RULES):
        rate_eq = rule_trips[r] / trials
        rules.append({"drop": x, "floor": y, "min_words": w, "exempt_segments": int((words < w).sum()),
                      "equal_trip_rate": float(rate_eq), "equal_trip_se": float((rate_eq * (1 - rate_eq) / trials)
                                                                                ** 0.5),
                      "damage_trip_rate": {kind: trips[r] for kind, trips in damage_trips.items()}})
    return {
        "trials": trials,
        "draws_per_segment": size,
        "segments_both_directions": int(words.size),
        "segment_chrf": {"min": float(equal_chrf.min()), "p1": float(np.percentile(equal_chrf, 1)),
                         "median": float(np.median(equal_chrf))},
        "max_drop": {q: float(np.percentile(md, p)) for q, p in (("median", 50), ("p95", 95), ("p99", 99))}
        | {"max": float(md.max())},
        "min_chrf_b": {q: float(np.percentile(mb, p)) for q, p in (("median", 50), ("p5", 5), ("p1", 1))},
        "drop_to_below_floor": floors,
        "grid": {str(w): {f"{x:g}/{y:g}": float(g[i, j] / trials) for i, x in enumerate(GRID_DROPS)
                          for j, y in enumerate(GRID_FLOORS)} for w, g in grids.items()},
        "damage": damage,
        "rules": rules,  # the first is the proposal
    }


# --------------------------------------------------------------------------- output


def rate(count: int, trials: int) -> dict[str, float]:
    """Share and binomial standard error."""
    p = count / trials
    return {"rate": p, "se": (p * (1 - p) / trials) ** 0.5, "count": count, "trials": trials}


def fmt(r: dict[str, float]) -> str:
    """``5.2 % ± 0.7``."""
    return f"{100 * r['rate']:.1f} % ± {100 * r['se']:.1f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def print_checks(ts: TestSet, result: dict[str, Any], trials: int) -> None:
    """The false-alarm / detection table of one test set."""
    levels = [f"{level:.0%}" for level in DAMAGE_LEVELS]
    print(f"\n### {ts.label}: whole checks (8 rows), {trials} trials per column\n")
    if ts.synthetic:
        print("**Synthetic test set**: pseudo-sentences drawn from the article's words, not a real test set.\n")
    damaged = ", ".join(f"{lv} → {damage_count(level, ts.n)}" for lv, level in zip(levels, DAMAGE_LEVELS,
                                                                                     strict=True))
    print(f"Damaged segments per direction: {damaged}.\n")
    rows = [[cand, fmt(result[cand]["equal"])] + [fmt(result[cand][lv]) for lv in levels] for cand in CANDIDATES]
    print(table(["candidate", "false alarm (equal quality)", *(f"detect {lv}" for lv in levels)], rows))
    print("\nThe `segment` rule's false alarms here come from the small pool of the checks, which thins the tail of "
          "each segment's chrF: the segment-rule study below measures them properly.")


def print_segment_study(ts: TestSet, s: dict[str, Any]) -> None:
    """The segment-rule tables of one test set."""
    print(f"\n### {ts.label}: segment chrF ({s['trials']:,} equal-quality checks, "
          f"{s['segments_both_directions']} segments in both directions)\n")
    print(f"A and B are drawn from {s['draws_per_segment']:,} perturbations per segment (chrF only). A rate of "
          f"0 means no drawn perturbation of any covered segment qualifies; the rule of three then bounds the "
          f"per-check rate at about 3/{s['draws_per_segment']:,} = {300 / s['draws_per_segment']:.2g} % (95 %).\n")
    c = s["segment_chrf"]
    print(f"Segment chrF of equal-quality outputs: min {c['min']:.1f}, 1st percentile {c['p1']:.1f}, "
          f"median {c['median']:.1f}.\n")
    md, mb = s["max_drop"], s["min_chrf_b"]
    print(table(["per check (all segments, both directions)", "median", "95th pct", "99th pct", "max"],
                [["largest segment chrF drop A→B", f"{md['median']:.1f}", f"{md['p95']:.1f}", f"{md['p99']:.1f}",
                  f"{md['max']:.1f}"]]))
    print(f"\nLowest segment chrF of B per check: median {mb['median']:.1f}, 5th percentile {mb['p5']:.1f}, "
          f"1st percentile {mb['p1']:.1f}.")
    print("\nLargest drop of a segment that ends below the floor Y, per check (0 when none is below Y):\n")
    rows = [[y, f"{100 * v['share_any_below']:.2f} %", f"{v['p95']:.1f}", f"{v['p99']:.1f}", f"{v['max']:.1f}"]
            for y, v in s["drop_to_below_floor"].items()]
    print(table(["floor Y", "checks with a segment below Y", "drop 95th pct", "drop 99th pct", "drop max"], rows))
    for words, grid in s["grid"].items():
        which = "every segment" if words == "0" else f"segments of ≥ {words} reference words"
        print(f"\n% of equal-quality checks the rule \"drop > X to below Y\" trips, {which} (rows X, columns Y):\n")
        rows = [[f"{x:g}"] + [f"{100 * grid[f'{x:g}/{y:g}']:.2f}" for y in GRID_FLOORS] for x in GRID_DROPS]
        print(table(["X \\ Y", *(f"{y:g}" for y in GRID_FLOORS)], rows))
    print("\nSegment chrF after damage, and its drop from the baseline (every segment × every baseline draw):\n")
    rows = [[kind, f"{d['chrf_min']:.1f}", f"{d['chrf_median']:.1f}", f"{d['chrf_max']:.1f}", f"{d['drop_min']:.1f}",
             f"{d['drop_median']:.1f}"] for kind, d in s["damage"].items()]
    print(table(["damage", "chrF min", "chrF median", "chrF max", "drop min", "drop median"], rows))
    print("\nCandidate rules: equal-quality checks tripped, and damaged segments tripped (of the segments the rule "
          "covers; the first rule is the proposal):\n")
    kinds = list(s["damage"])
    rows = [[f"drop > {r['drop']:g} to < {r['floor']:g}, ≥ {r['min_words']} words",
             str(r["exempt_segments"]), f"{100 * r['equal_trip_rate']:.2f} % ± {100 * r['equal_trip_se']:.2f}"]
            + [f"{100 * r['damage_trip_rate'][k]:.1f} %" for k in kinds] for r in s["rules"]]
    print(table(["rule", "exempt segments", "equal quality", *kinds], rows))


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Options; ``--quick`` shrinks every size for a smoke test."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--trials", type=int, default=None,
                    help="checks simulated per condition on the article sets (default 1000; quick 12)")
    ap.add_argument("--synthetic-trials", type=int, default=None,
                    help="checks per condition on the synthetic set (default 200; quick 6)")
    ap.add_argument("--segment-trials", type=int, default=None,
                    help="equal-quality checks of the segment-rule study (default 20000; quick 500)")
    ap.add_argument("--synthetic-size", type=int, default=None, help="segments of the synthetic set (1000; quick 80)")
    ap.add_argument("--segment-pool", type=int, default=None,
                    help="perturbations per segment (chrF only) for the segment-rule study "
                         "(default 1000 article / 50 synthetic; quick 20)")
    ap.add_argument("--pool", type=int, default=None,
                    help="perturbations drawn per segment (default 40 article / 6 synthetic; quick 4)")
    ap.add_argument("--resamples", type=int, default=None, help="bootstrap resamples per test (1000; quick 200)")
    ap.add_argument("--ar-trials", type=int, default=None,
                    help="approximate-randomization trials per test, shared by ar and maxT (1000; quick 200)")
    ap.add_argument("--seed", type=int, default=SIM_SEED, help=f"simulation seed (default {SIM_SEED})")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="processes extracting statistics (default: 2 or the CPUs, if fewer)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: checks that the script runs")
    ap.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write every figure as JSON")
    args = ap.parse_args(argv)
    defaults = {"trials": (1000, 12), "synthetic_trials": (200, 6), "segment_trials": (20000, 500),
                "synthetic_size": (1000, 80), "resamples": (1000, 200), "ar_trials": (1000, 200)}
    for key, (full, quick) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, quick if args.quick else full)
    return args


def run_set(ts: TestSet, args: argparse.Namespace, trials: int, pool_size: int, segment_pool: int,
            log: Callable[[str], None]) -> dict[str, Any]:
    """Pools, checks and the segment study of one test set."""
    start = time.perf_counter()
    chrf = next(m for m in _metrics() if m.name == "chrf")
    columns = column_slices()
    pools = {d: build_pool(ts, d, pool_size, args.seed, args.jobs, chrf, columns) for d in DIRECTIONS}
    built = time.perf_counter()
    log(f"{ts.name}: pools of {pool_size} perturbations × {ts.n} segments × 2 directions in {built - start:.0f} s")
    setup = Setup(pools, columns, args.resamples, args.ar_trials, pool_size, args.seed)
    counts = simulate_checks(setup, trials, args.jobs)
    checked = time.perf_counter()
    log(f"{ts.name}: {trials} trials × {1 + len(DAMAGE_LEVELS)} conditions in {checked - built:.0f} s")
    chrf_pools = {d: segment_chrf_pool(ts, d, segment_pool, args.seed, args.jobs) for d in DIRECTIONS}
    study = segment_rule_study(pools, chrf_pools, args.segment_trials, args.seed)
    log(f"{ts.name}: segment study ({segment_pool} perturbations per segment) in "
        f"{time.perf_counter() - checked:.0f} s")
    result = {cand: {cond: rate(counts[cond][cand], trials) for cond in counts} for cand in CANDIDATES}
    return {"label": ts.label, "synthetic": ts.synthetic, "segments": ts.n, "pool": pool_size, "trials": trials,
            "checks": result, "segment_rule": study, "seconds": time.perf_counter() - start}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulation, print the tables, write the JSON."""
    args = parse_args(argv)
    start = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - start:6.0f} s] {msg}", file=sys.stderr, flush=True)

    pool_article = args.pool or (4 if args.quick else 40)
    pool_synthetic = args.pool or (4 if args.quick else 6)
    segment_article = args.segment_pool or (20 if args.quick else 1000)
    segment_synthetic = args.segment_pool or (20 if args.quick else 50)
    sets = [(ts, args.trials, pool_article, segment_article) for ts in article_sets()]
    sets.append((synthetic_set(args.synthetic_size, args.seed), args.synthetic_trials, pool_synthetic,
                 segment_synthetic))
    results = {ts.name: run_set(ts, args, trials, pool, seg, log) for ts, trials, pool, seg in sets}
    seconds = time.perf_counter() - start

    print("# Gate calibration by simulation\n")
    print(f"α = {ALPHA}, tolerance 1.0 point on every metric; a check = 4 metrics × 2 directions of one system. "
          f"Equal quality: two independent perturbations of the references (drop {DROP:.0%} of words, swap "
          f"{SWAP:.0%} of neighbours), a fresh pair per trial from a pool of {pool_article} (article) / "
          f"{pool_synthetic} (synthetic) perturbations per segment. Damage: emptied, truncated to half, or the "
          f"source text. Tests inside a check: {args.resamples} bootstrap resamples, {args.ar_trials} "
          f"randomization trials (shared by ar and maxT), seed {DEFAULT_SEED} as the gate uses; simulation seed "
          f"{args.seed}. Rates ± binomial standard error. `segment`: a segment's chrF falls by more than "
          f"{SEGMENT_DROP:g} points to below {SEGMENT_FLOOR:g} (segments of ≥ {SEGMENT_MIN_WORDS} reference "
          f"words), in either direction.")
    for ts, trials, _, _ in sets:
        print_checks(ts, results[ts.name]["checks"], trials)
    for ts, *_ in sets:
        print_segment_study(ts, results[ts.name]["segment_rule"])
    print(f"\nRun time: {seconds:.0f} s ({args.jobs} extraction processes).")
    if args.json:
        payload = {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
                   | {"alpha": ALPHA, "drop": DROP, "swap": SWAP, "test_seed": DEFAULT_SEED,
                      "damage_levels": list(DAMAGE_LEVELS), "segment_rule": [SEGMENT_DROP, SEGMENT_FLOOR,
                                                                             SEGMENT_MIN_WORDS]},
                   "sets": results, "seconds": seconds}
        args.json.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
