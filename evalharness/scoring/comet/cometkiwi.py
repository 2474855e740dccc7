"""The ``cometkiwi`` metric: reference-free quality estimation (``Unbabel/wmt22-cometkiwi-da``) by the COMET worker.

CometKiwi reads the source and the hypothesis alone, so it scores test sets that have no reference (its
signature says ``nrefs:0``). Everything else, the worker, the cache, the (score, 1) statistics and the 0–100
scale, is COMET's (:class:`~evalharness.scoring.comet.metric.CometMetric`). QE scores can be fooled by output in
the wrong language (WMT24): keep the ``wrong_language`` flag on in runs gated on it.
"""

from __future__ import annotations

from typing import ClassVar

from evalharness.scoring.comet.metric import CometMetric
from evalharness.scoring.comet.settings import CometKiwiSettings, CometSettings
from evalharness.scoring.metrics import HYPOTHESES, SOURCES


class CometKiwiMetric(CometMetric):
    """CometKiwi: a COMET model that reads (source, hypothesis) and no reference."""

    name = "cometkiwi"
    label = "CometKiwi"
    reads: ClassVar[frozenset[str]] = frozenset({HYPOTHESES, SOURCES})
    Settings: ClassVar[type[CometSettings]] = CometKiwiSettings
    section = None
    licence = "CC-BY-NC-SA-4.0"
    gated = True
