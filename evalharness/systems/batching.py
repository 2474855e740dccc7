"""Length-sorted batches: little padding per batch, and the caller restores input order."""

from __future__ import annotations

from collections.abc import Sequence


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
