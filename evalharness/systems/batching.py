"""Length-sorted batches (little padding per batch; the caller restores input order), and batches run on threads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from evalharness.systems.base import BatchFn, Translation


def plan_batches(lengths: Sequence[int], *, batch_size: int, batch_tokens: int | None = None) -> list[list[int]]:
    """Input positions grouped into batches, longest first.

    A batch holds at most ``batch_size`` segments and, when ``batch_tokens`` is set, at most that many
    padded tokens (segments × longest length), except that a single over-long segment still gets a batch.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = lengths[current[0]] if current else lengths[i]
        too_many = len(current) >= batch_size
        too_big = batch_tokens is not None and current and (len(current) + 1) * longest > batch_tokens
        if current and (too_many or too_big):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def run_concurrently(batches: Sequence[Sequence[int]], work: Callable[[Sequence[int]], list[Translation]],
                     workers: int, on_batch: BatchFn | None) -> list[Translation]:
    """``work(batch)`` for every batch of input positions on up to ``workers`` threads; outputs in input order.

    Finished batches are reported to ``on_batch`` in the calling thread, as they finish (the translation cache
    writes there: its SQLite connection belongs to this thread). After a failure no new batch starts; those in
    flight finish and are reported, then the first error is raised, so what came back is kept.
    """
    total = sum(len(b) for b in batches)
    outputs: list[Translation | None] = [None] * (max((max(b) for b in batches if b), default=-1) + 1)
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(batches)))) as pool:
        # all queued at once: a free thread takes the next batch itself, without waiting for this thread to wake
        running: dict[Future[list[Translation]], Sequence[int]] = {pool.submit(work, b): b for b in batches}
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            positions: list[int] = []
            finished: list[Translation] = []
            for future in done:
                batch = running.pop(future)
                if future.cancelled():
                    continue
                try:
                    result = future.result()
                except BaseException as err:  # the first error is the one reported; the rest are the same outage
                    if failure is None:
                        failure = err
                        for queued in running:  # no new batch starts; those in flight finish and are reported
                            queued.cancel()
                    continue
                for i, t in zip(batch, result, strict=True):
                    outputs[i] = t
                positions += batch
                finished += result
            if positions and on_batch:
                on_batch(positions, finished)
    if failure is not None:
        raise failure
    done_count = sum(o is not None for o in outputs)
    if done_count != total:  # every batch returned: cannot be, but an empty output must never be scored silently
        raise RuntimeError(f"{total - done_count} of {total} inputs got no output")
    return [o for o in outputs if o is not None]
