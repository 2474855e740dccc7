"""The ``xcomet`` metric: xCOMET (``Unbabel/XCOMET-XL``) by the COMET worker, a score and error spans per segment.

The score is COMET's arithmetic (:class:`~evalharness.scoring.comet.metric.CometMetric`); the spans comet gives
in ``metadata.error_spans`` (``{start, end, severity, confidence, text}``, character offsets in the hypothesis)
are kept with the score in the translation store, so a segment served from the cache has its spans too, and
reach the segment records (``error_spans``), the report and the human-evaluation export.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from evalharness.scoring.comet.metric import CometMetric
from evalharness.scoring.comet.settings import CometSettings, XcometSettings
from evalharness.scoring.metrics import References

Spans = list[dict[str, Any]]
"""One segment's error spans."""


class XcometMetric(CometMetric):
    """xCOMET: COMET's score of (source, hypothesis, reference), and the error spans it found in the hypothesis."""

    name = "xcomet"
    label = "xCOMET"
    Settings: ClassVar[type[CometSettings]] = XcometSettings
    section = None
    licence = "CC-BY-NC-SA-4.0"
    gated = True

    def __init__(self, **kwargs: Any) -> None:
        """As :class:`CometMetric`; spans found are kept by segment key for :meth:`error_spans`."""
        super().__init__(**kwargs)
        self._spans: dict[str, Spans] = {}

    def _cached(self, keys: Sequence[str]) -> dict[str, float]:
        """Scores whose spans are cached too: a segment without its spans is scored again."""
        if self.store is None:
            return {}
        spans = self.store.get_spans(keys)
        self._spans.update(spans)
        return {k: v for k, v in self.store.get_scores(keys).items() if k in spans}

    def _keep(self, keys: Sequence[str], scores: Sequence[float], spans: list[Spans] | None) -> None:
        """Keep the worker's spans beside the scores (here and in the store)."""
        from evalharness.errors import ModelLoadError

        if spans is None:
            raise ModelLoadError(f"{self.settings_key()}.model: {self.settings.model} gave no error spans; xcomet "
                                 "takes an xCOMET model (Unbabel/XCOMET-XL); use comet for other COMET models")
        self._spans.update(zip(keys, spans, strict=True))
        if self.store is not None:
            self.store.put_spans(self.name, zip(keys, spans, strict=True))
        super()._keep(keys, scores, spans)

    def error_spans(self, hypotheses: Sequence[str], references: References, *,
                    sources: Sequence[str] | None = None) -> list[Spans] | None:
        """The spans of each segment scored by :meth:`evaluate` (an empty list: none found)."""
        if sources is None:
            return None
        refs = self._references(hypotheses, references)
        keys = [self._key(s, h, r) for s, h, r in zip(sources, hypotheses, refs, strict=True)]
        return [self._spans.get(k, []) for k in keys]
