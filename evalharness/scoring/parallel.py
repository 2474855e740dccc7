"""Segment statistics of many segments, in chunks, on every core.

sacrebleu extracts each segment's statistics on its own (TER's shift search, chrF's n-gram counts), so a test
set splits into chunks that worker processes score independently; the chunks' results are put back in input
order. A segment's statistics depend on that segment alone, so the results do not depend on the chunk size,
the number of processes or which worker scored what (a test holds them to that). Chunks also bound the memory:
sacrebleu caches the n-grams of every reference it is given at once (~50 KB a segment for chrF), a chunk's worth
here.

Workers are started with ``spawn``: a forked copy of a process that has loaded torch (``run`` translates first)
would inherit its threads and its memory; a spawned worker imports only this module, the metric classes and
sacrebleu. Small inputs (the reference corpus: 29 segments) are scored in this process, since starting workers
costs more than it saves below :attr:`PoolSettings.threshold` segments.
"""

from __future__ import annotations

import os
import pickle
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    import numpy as np
    from sacrebleu.metrics.base import Metric as SacreMetric

PROCESSES_ENV = "EVALHARNESS_SCORING_PROCESSES"
"""Environment variable: how many processes score segments (1: this process only; at most the usable cores);
default, every usable core."""

Chunk = tuple[Sequence[str], Sequence[Sequence[str | None]]]
"""Hypotheses and their reference sets (sacrebleu's layout: one sequence per set), aligned."""

Spec = tuple[type, dict[str, Any]]


class Metric(Protocol):
    """What this module needs of a metric of sacrebleu's family (:class:`~evalharness.scoring.sacrebleu_metrics.
    SacrebleuMetric`): its sacrebleu objects and the settings that build it again in a worker."""

    options: dict[str, Any]
    corpus_metric: SacreMetric
    segment_metric: SacreMetric
"""How a worker rebuilds a metric: its class (pickled by reference) and its options."""


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), or the machine's count where that is unknown."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class PoolSettings:
    """How segments are scored: ``processes`` (None: :data:`PROCESSES_ENV`, else every usable core), segments
    per chunk, and the fewest segments worth starting workers for (fewer are scored in this process)."""

    processes: int | None = None
    chunk_size: int = 500
    threshold: int = 1500

    def resolved_processes(self) -> int:
        """The number of processes to use, at least 1. :data:`PROCESSES_ENV` counts at most the usable cores (more
        only queue for the same cores, each holding its own copy of sacrebleu), and one that is not a whole number
        above 0 is a :class:`ConfigError`; ``processes`` given in code is taken as it is (tests ask for a pool on
        a one-core machine)."""
        cores = usable_cores()
        if self.processes is not None:
            return max(1, self.processes)
        value = os.environ.get(PROCESSES_ENV, "").strip()
        if not value:
            return cores
        try:
            wanted = int(value)
        except ValueError:
            wanted = 0
        if wanted < 1:
            from evalharness.errors import ConfigError

            raise ConfigError(f"{PROCESSES_ENV}={value!r}: expected a whole number of processes above 0, e.g. 2 "
                              f"(1 scores in this process; more than the {cores} usable cores count as {cores}); "
                              "unset it to use every core")
        return min(wanted, cores)


@dataclass(frozen=True)
class Scored:
    """One metric's result for a run of segments: statistics (segments × statistics, float64: the counts are
    whole numbers, exact in float64) and, when asked for, each segment's score as sacrebleu's ``sentence_score``
    gives it."""

    stats: np.ndarray
    scores: np.ndarray | None


# --------------------------------------------------------------------------- the worker side

_BUILT: dict[tuple[type, str], Metric] = {}


def _built(spec: Spec) -> Metric:
    """The metric of ``spec``, built once per process (building sacrebleu's tokenizers is not free)."""
    cls, options = spec
    key = (cls, repr(sorted(options.items())))
    if key not in _BUILT:
        _BUILT[key] = cls(**options)
    return _BUILT[key]


def score_chunk(specs: Sequence[Spec], hypotheses: Sequence[str], reference_sets: Sequence[Sequence[str | None]],
                segment_scores: bool) -> list[Scored]:
    """Every metric's statistics (and segment scores) of one chunk; what a worker runs."""
    return score_with([_built(spec) for spec in specs], hypotheses, reference_sets, segment_scores)


def score_with(metrics: Sequence[Metric], hypotheses: Sequence[str], reference_sets: Sequence[Sequence[str | None]],
               segment_scores: bool) -> list[Scored]:
    """Every metric's statistics (and segment scores) of one chunk, by these metric objects.

    Each statistic is extracted once; a segment score is sacrebleu's formula applied to that segment's own
    statistics, which is what ``sentence_score`` computes after extracting them a second time.
    """
    import numpy as np

    from evalharness.scoring import sacrebleu_adapter as sb

    out = []
    for metric in metrics:
        rows = sb.extract_stats(metric.corpus_metric, hypotheses, reference_sets, warn=False)
        stats = np.asarray(rows, dtype="float64").reshape(len(rows), -1)
        scores = (np.array([sb.score_from_sum(metric.segment_metric, row) for row in rows], dtype="float64")
                  if segment_scores else None)
        out.append(Scored(stats, scores))
    return out


def _score_task(task: tuple[Sequence[Spec], Sequence[str], Sequence[Sequence[str | None]], bool]) -> list[Scored]:
    return score_chunk(*task)


def _watch_parent(parent: int) -> None:
    """Worker initializer: exit when the process that started the pool is gone (killed by a signal it could not
    handle), instead of finishing its chunks for nobody."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


# --------------------------------------------------------------------------- the pool

_POOL: tuple[int, ProcessPoolExecutor] | None = None


def _pool(processes: int) -> ProcessPoolExecutor:
    """A pool of ``processes`` spawned workers, kept for the next call of this process (``run`` scores every
    system × direction, ``compare`` every row)."""
    global _POOL
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    if _POOL is not None and _POOL[0] == processes:
        return _POOL[1]
    shutdown()
    executor = ProcessPoolExecutor(max_workers=processes, mp_context=get_context("spawn"),
                                   initializer=_watch_parent, initargs=(os.getpid(),))
    _POOL = (processes, executor)
    return executor


def shutdown() -> None:
    """Stop the kept pool's workers, if there is one (the interpreter also does at exit)."""
    global _POOL
    if _POOL is not None:
        _POOL[1].shutdown(wait=True, cancel_futures=True)
        _POOL = None


def _abandon_pool() -> None:
    """Forget a broken pool and end its surviving workers, so that the next call starts a fresh one and this
    process can exit: Python 3.11's own clean-up of a broken pool can wait forever on a worker that still holds
    the task pipe (its queue feeder blocks in a write nobody reads)."""
    global _POOL
    import multiprocessing

    if _POOL is None:
        return
    executor = _POOL[1]
    _POOL = None
    for child in multiprocessing.active_children():  # our pool's workers: evalharness starts no other children
        child.kill()
        child.join(5)
    executor.shutdown(wait=True, cancel_futures=True)


def _specs(metrics: Sequence[Metric]) -> list[Spec] | None:
    """How workers rebuild the metrics; None when one cannot be sent (a class defined inside a function)."""
    specs: list[Spec] = [(type(m), dict(m.options)) for m in metrics]
    try:
        pickle.dumps(specs)
    except (pickle.PicklingError, AttributeError, TypeError):
        return None
    return specs


def _chunked(chunks: Iterable[Chunk], size: int) -> Iterator[Chunk]:
    """The input re-cut into chunks of ``size`` segments (the last may be shorter), so that the caller's
    reading unit and the scoring unit are independent."""
    hyps: list[str] = []
    refs: list[list[str | None]] = []
    for chunk_hyps, chunk_refs in chunks:
        if not refs:
            refs = [[] for _ in chunk_refs]
        start = 0
        if hyps:  # complete the partial chunk first
            start = min(size - len(hyps), len(chunk_hyps))
            hyps.extend(chunk_hyps[:start])
            for acc, more in zip(refs, chunk_refs, strict=True):
                acc.extend(more[:start])
            if len(hyps) < size:
                continue
            yield hyps, refs
            hyps, refs = [], [[] for _ in chunk_refs]
        while len(chunk_hyps) - start >= size:
            yield list(chunk_hyps[start : start + size]), [list(r[start : start + size]) for r in chunk_refs]
            start += size
        hyps = list(chunk_hyps[start:])
        refs = [list(r[start:]) for r in chunk_refs]
    if hyps:
        yield hyps, refs


def score_stream(metrics: Sequence[Metric], chunks: Iterable[Chunk], *, segment_scores: bool = False,
                 settings: PoolSettings | None = None) -> Iterator[list[Scored]]:
    """Each chunk's results (one :class:`Scored` per metric), in input order, as they are ready.

    The input is read only as far as the workers need: at most two chunks per process are waiting at a time,
    so a large file is never held whole. Until :attr:`PoolSettings.threshold` segments have been seen nothing
    starts; an input that ends before that is scored in this process.
    """
    from concurrent.futures import BrokenExecutor

    from evalharness.errors import WorkerError
    from evalharness.scoring import sacrebleu_adapter as sb

    settings = settings or PoolSettings()
    processes = settings.resolved_processes()
    periods = [0] * len(metrics)

    def counted(chunks: Iterable[Chunk]) -> Iterator[Chunk]:
        """The chunks, counting what sacrebleu's tokenized-period warning counts; it warns at the end."""
        for hyps, refs in chunks:
            for k, metric in enumerate(metrics):
                periods[k] += sb.tokenized_periods(metric.corpus_metric, hyps)
            yield hyps, refs
        if any(p >= 100 for p in periods):
            sb.warn_tokenized(max(periods))


    pieces = _chunked(counted(chunks), max(1, settings.chunk_size))
    specs = _specs(metrics)
    held: list[Chunk] = []
    seen = 0
    if processes > 1 and specs is not None:
        for piece in pieces:
            held.append(piece)
            seen += len(piece[0])
            if seen >= settings.threshold:
                break
    if processes <= 1 or specs is None or seen < settings.threshold:
        for hyps, refs in chain(held, pieces):
            yield score_with(metrics, hyps, refs, segment_scores)
        return
    executor = _pool(processes)
    waiting: deque[Future[list[Scored]]] = deque()
    source = chain(held, pieces)
    try:
        for hyps, refs in source:
            waiting.append(executor.submit(_score_task, (specs, hyps, refs, segment_scores)))
            if len(waiting) >= 2 * processes:
                yield waiting.popleft().result()
        while waiting:
            yield waiting.popleft().result()
    except BrokenExecutor:
        _abandon_pool()
        raise WorkerError(f"a scoring worker process died (killed, or out of memory); run again, or set "
                          f"{PROCESSES_ENV}=1 to score in this process") from None


def score_segments(metrics: Sequence[Metric], hypotheses: Sequence[str], reference_sets: Sequence[Sequence[str | None]],
                   *, segment_scores: bool = False, settings: PoolSettings | None = None) -> list[Scored]:
    """Every metric's statistics (and segment scores) of aligned hypotheses and reference sets, all at once."""
    import numpy as np

    settings = settings or PoolSettings()
    parts = list(score_stream(metrics, [(hypotheses, reference_sets)], segment_scores=segment_scores,
                              settings=settings))
    return [concatenate([p[k] for p in parts], segment_scores) for k in range(len(metrics))] if parts else [
        Scored(np.zeros((0, 0)), np.zeros(0) if segment_scores else None) for _ in metrics]


def concatenate(parts: Sequence[Scored], segment_scores: bool) -> Scored:
    """One :class:`Scored` of consecutive runs of segments."""
    import numpy as np

    stats = np.concatenate([p.stats for p in parts]) if len(parts) > 1 else parts[0].stats
    scores = None
    if segment_scores:
        scores = np.concatenate([p.scores for p in parts if p.scores is not None])
    return Scored(stats, scores)
