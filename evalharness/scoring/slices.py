"""Slice scores: the corpus score of every tag value (``kind=body``, ``length=short``, …) from segment statistics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from evalharness.corpus.tags import SLICE_KEYS

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from evalharness.scoring.metrics import Metric


def slice_scores(metrics: Sequence[Metric], stats: Mapping[str, ArrayLike],
                 tags: Sequence[Mapping[str, str]]) -> dict[str, dict[str, Any]]:
    """Corpus scores of every slice (``kind=body``, ``length=short``, …) from the segments' statistics
    (per metric, segments × statistics)."""
    import numpy as np

    arrays = {m.name: np.asarray(stats[m.name], dtype="float64") for m in metrics}
    out: dict[str, dict[str, Any]] = {}
    for key in SLICE_KEYS:
        for value in sorted({t[key] for t in tags}):
            rows = [i for i, t in enumerate(tags) if t[key] == value]
            out[f"{key}={value}"] = {
                "segments": len(rows),
                "scores": {m.name: m.score_from_stats(arrays[m.name][rows]) for m in metrics},
            }
    return out
