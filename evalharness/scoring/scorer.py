"""Every metric of a run over the same segments at once: sacrebleu's family together, each other metric alone.

Above the metric families, so that neither imports the other: :mod:`evalharness.scoring.metrics` is the
protocol, :mod:`evalharness.scoring.sacrebleu_metrics` one family, COMET and plug-ins others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from evalharness.errors import HypothesisError
from evalharness.scoring.metrics import (
    REFERENCES,
    SOURCES,
    Metric,
    References,
    check_aligned,
    check_finite,
    reference_sets,
)
from evalharness.scoring.sacrebleu_metrics import SacrebleuMetric, score_family

if TYPE_CHECKING:
    from evalharness.scoring.parallel import PoolSettings, Scored


def score_metrics(metrics: Sequence[Metric], hypotheses: Sequence[str], references: References | None, *,
                  segment_scores: bool = False, sources: Sequence[str] | None = None,
                  settings: PoolSettings | None = None) -> list[Scored]:
    """Every metric's segment statistics (and, with ``segment_scores``, its segment scores) at once.

    Inputs are checked first (:func:`check_aligned`, each metric's length limit). sacrebleu's family is scored
    together, the text read once per chunk for all of them, on every core for large inputs
    (:mod:`evalharness.scoring.parallel`); any other metric through its own :meth:`~Metric.evaluate`, given
    ``sources`` when it reads them. The results do not depend on how the work was split. ``references`` None: there
    are none (a corpus of sources only), and only metrics that read none can score.
    """
    import numpy as np

    from evalharness.scoring import parallel

    if references is None:
        needing = [m.label for m in metrics if REFERENCES in m.reads]
        if needing:
            raise HypothesisError(f"{', '.join(needing)} read(s) references, and there are none; score with "
                                  "reference-free metrics (cometkiwi) alone, or give the references")
        references = [""] * len(hypotheses)  # never read: no metric here reads references
    sets = reference_sets(references)
    check_aligned(hypotheses, sets)
    for metric in metrics:
        metric.check_lengths(hypotheses, sets)
    family = [m for m in metrics if isinstance(m, SacrebleuMetric)]
    results = dict(zip(map(id, family), score_family(family, hypotheses, sets, segment_scores=segment_scores,
                                                     settings=settings), strict=True))
    out = []
    for metric in metrics:
        if id(metric) in results:
            out.append(results[id(metric)])
            continue
        if SOURCES in metric.reads and sources is None:
            raise HypothesisError(f"{metric.label} reads the source of every segment too; give the sources "
                                  "(score: --src FILE)")
        stats, scores = metric.evaluate(hypotheses, references, sources=sources)
        result = parallel.Scored(np.asarray(stats, dtype="float64"),
                                 np.asarray(scores, dtype="float64") if segment_scores else None)
        check_finite(metric, result)
        out.append(result)
    return out
