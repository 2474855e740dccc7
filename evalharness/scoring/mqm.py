"""The ``mqm`` metric: human MQM penalties imported from annotators' TSV (``evalharness import mqm``), kept per segment.

MQM here is WMT's penalty (Freitag et al. 2021; the WMT MQM campaigns): each error weighs Major 5, Minor 1, a Minor
Fluency/Punctuation error 0.1 and a Non-translation 25; a segment's penalty is the sum of its errors' weights,
averaged over the raters who annotated it. It is **lower-is-better** (0: no error found); the negated score that
some papers report (−penalty, higher is better) is the same number with the other sign, not used here.

Nothing computes MQM from text: the import puts each segment's penalty into the translation store under a key
over (source, hypothesis), and this metric reads it back, so that ``compare``, intervals, paired tests and the gate
treat MQM like any metric; a segment nobody annotated is an error naming the import command. Statistics are
(penalty, 1): a mean, as COMET's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from evalharness.errors import HypothesisError
from evalharness.scoring.metrics import HYPOTHESES, SOURCES, Metric, References
from evalharness.scoring.signature import Signature

if TYPE_CHECKING:
    import numpy as np

WEIGHTS: dict[str, float] = {"major": 5.0, "minor": 1.0, "minor/punctuation": 0.1, "non-translation": 25.0}
"""WMT's MQM weights (``minor/punctuation``: a Minor error of category Fluency/Punctuation)."""


def mqm_key(source: str, hypothesis: str) -> str:
    """The store key of a segment's MQM penalty."""
    text = json.dumps(["mqm", source, hypothesis], ensure_ascii=False).encode("utf-8", "surrogatepass")
    return "mqm:" + hashlib.sha256(text).hexdigest()


class MqmMetric(Metric):
    """Imported human MQM penalties (lower is better), read from the translation store by (source, hypothesis)."""

    name = "mqm"
    label = "MQM"
    higher_is_better = False
    default_tolerance = 1.0  # one MQM point (a Minor error a segment, on average) before the gate may call it
    reads: ClassVar[frozenset[str]] = frozenset({HYPOTHESES, SOURCES})

    @property
    def signature(self) -> str:
        """``mqm:wmt|major:5|minor:1|punct:0.1|nontrans:25|raters:mean``: the weights that made the number."""
        return str(Signature([("mqm", "wmt"), ("major", 5), ("minor", 1), ("punct", 0.1), ("nontrans", 25),
                              ("raters", "mean")]))

    def segment_stats(self, hypotheses: Sequence[str], references: References, *,
                      sources: Sequence[str] | None = None) -> np.ndarray:
        """(penalty, 1) per segment, from the store; a segment without one is a :class:`HypothesisError`."""
        import numpy as np

        if sources is None or len(sources) != len(hypotheses):
            raise HypothesisError("MQM is looked up by source and hypothesis: give the source of every segment")
        keys = [mqm_key(s, h) for s, h in zip(sources, hypotheses, strict=True)]
        found = self.store.get_scores(keys) if self.store is not None else {}
        missing = [i for i, k in enumerate(keys) if k not in found]
        if missing:
            raise HypothesisError(f"segment {missing[0] + 1} ({len(missing)} in all) has no MQM score: import its "
                                  "annotations first (evalharness import mqm FILE.tsv --run RUN_DIR)")
        raw = [found[k] for k in keys]
        return np.column_stack([np.asarray(raw, dtype="float64"), np.ones(len(raw))]) if raw else np.zeros((0, 2))

    def score_of_sum(self, summed: Any) -> float:
        """The mean penalty: Σ / n."""
        total, count = float(summed[0]), float(summed[1])
        return total / count if count > 0 else 0.0
