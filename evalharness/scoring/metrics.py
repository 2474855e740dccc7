"""Metrics: thin, signature-keeping wrappers over sacrebleu, in a registry.

Each metric computes sufficient statistics per segment once; corpus scores (and, later, resampling)
aggregate those statistics. Segment scores use sacrebleu's ``sentence_score`` (BLEU with effective
order, as sacrebleu recommends for single sentences). sacrebleu itself does not check its inputs:
a bare reference list scores 0.0 and extra hypotheses are dropped, so :func:`check_aligned` runs first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalharness.errors import HypothesisError
from evalharness.registry import Registry

if TYPE_CHECKING:
    from sacrebleu.metrics.base import Metric as SacreMetric


@dataclass
class Metric:
    """A scorer with its sacrebleu objects, signatures and direction of goodness."""

    name: str
    higher_is_better: bool
    corpus_metric: SacreMetric
    segment_metric: SacreMetric

    @property
    def signature(self) -> str:
        """sacrebleu signature of the corpus score."""
        return str(self.corpus_metric.get_signature())

    @property
    def segment_signature(self) -> str:
        """sacrebleu signature of the segment scores (BLEU: effective order on)."""
        return str(self.segment_metric.get_signature())

    def segment_stats(self, hypotheses: Sequence[str], references: Sequence[str]) -> list[list[float]]:
        """Sufficient statistics of each segment, the input of :meth:`score_from_stats`."""
        check_aligned(hypotheses, references)
        stats: list[list[float]] = self.corpus_metric._extract_corpus_statistics(
            list(hypotheses), [list(references)]
        )
        return stats

    def score_from_stats(self, stats: Sequence[Sequence[float]]) -> float:
        """Corpus score aggregated from segment statistics (any subset or resample of them)."""
        return float(self.corpus_metric._aggregate_and_compute([list(s) for s in stats]).score)

    def corpus_score(self, hypotheses: Sequence[str], references: Sequence[str]) -> float:
        """Corpus score of aligned hypotheses and references (one reference each)."""
        return self.score_from_stats(self.segment_stats(hypotheses, references))

    def segment_scores(self, hypotheses: Sequence[str], references: Sequence[str]) -> list[float]:
        """One score per segment, each as sacrebleu's ``sentence_score`` gives it."""
        return self.evaluate(hypotheses, references)[1]

    def evaluate(self, hypotheses: Sequence[str], references: Sequence[str]) -> tuple[list[list[float]], list[float]]:
        """Segment statistics and segment scores, the statistics extracted once for both.

        ``sentence_score`` would extract them again per segment; the score it computes from them is the same.
        One real ``sentence_score`` call records what sacrebleu needs for the segment signature.
        """
        stats = self.segment_stats(hypotheses, references)
        if hypotheses:
            self.segment_metric.sentence_score(hypotheses[0], [references[0]])
        return stats, [float(self.segment_metric._compute_score_from_stats(list(s)).score) for s in stats]


def check_aligned(hypotheses: Sequence[str], references: Sequence[str]) -> None:
    """Raise :class:`HypothesisError` unless both are equally long sequences of strings."""
    for what, seq in (("hypotheses", hypotheses), ("references", references)):
        if isinstance(seq, str) or not all(isinstance(s, str) for s in seq):
            raise HypothesisError(f"{what} must be a sequence of strings, one per segment")
    if len(hypotheses) != len(references):
        raise HypothesisError(f"{len(hypotheses)} hypotheses for {len(references)} references")


class BleuMetric(Metric):
    """BLEU; segment scores with effective order."""

    def __init__(self) -> None:
        from sacrebleu.metrics.bleu import BLEU

        super().__init__("bleu", True, BLEU(), BLEU(effective_order=True))


class ChrfMetric(Metric):
    """chrF (character n-grams only)."""

    def __init__(self) -> None:
        from sacrebleu.metrics.chrf import CHRF

        super().__init__("chrf", True, CHRF(), CHRF())


class ChrfPlusPlusMetric(Metric):
    """chrF++ (character n-grams and word bigrams)."""

    def __init__(self) -> None:
        from sacrebleu.metrics.chrf import CHRF

        super().__init__("chrf++", True, CHRF(word_order=2), CHRF(word_order=2))


class TerMetric(Metric):
    """TER (lower is better)."""

    def __init__(self) -> None:
        from sacrebleu.metrics.ter import TER

        super().__init__("ter", False, TER(), TER())


METRICS: Registry[Metric] = Registry("metric", Metric, group="evalharness.metrics")
METRICS.register("bleu", "evalharness.scoring.metrics:BleuMetric")
METRICS.register("chrf", "evalharness.scoring.metrics:ChrfMetric")
METRICS.register("chrf++", "evalharness.scoring.metrics:ChrfPlusPlusMetric")
METRICS.register("ter", "evalharness.scoring.metrics:TerMetric")


def get_metric(name: str) -> Metric:
    """A fresh metric object for ``name`` (``bleu``, ``chrf``, ``chrf++``, ``ter``)."""
    factory: Any = METRICS.get(name)  # each registered class builds its sacrebleu objects itself
    metric: Metric = factory()
    return metric


def get_metrics(names: Sequence[str]) -> list[Metric]:
    """Metric objects for ``names``, in order; unknown names fail before any work is done."""
    return [get_metric(n) for n in names]


def score_files(reference: Path, hypotheses: Sequence[Path], metric_names: Sequence[str],
                where: Sequence[str] = ()) -> dict[str, Any]:
    """Score line-aligned plain-text hypothesis files against one reference file.

    BOM and CRLF are normalised; an empty file or a line-count mismatch raises :class:`HypothesisError`
    naming both files and their counts.
    """
    from evalharness.corpus.tags import length_bucket, matches, parse_where
    from evalharness.textio import read_lines

    metrics = get_metrics(metric_names)
    filters = parse_where(where)
    if set(filters) - {"length"}:
        raise HypothesisError("plain-text files carry no kind or fidelity tags: score --where takes length= only")
    refs = read_lines(reference, "reference file")
    if not refs:
        raise HypothesisError(f"{reference}: reference file is empty")
    keep = [i for i, r in enumerate(refs) if matches({"length": length_bucket(r)}, filters)]
    systems = []
    for path in hypotheses:
        hyps = read_lines(path, "hypothesis file")
        if len(hyps) != len(refs):
            raise HypothesisError(
                f"{path} has {len(hyps)} lines but {reference} has {len(refs)}: "
                "hypotheses and references must be line-aligned, one segment a line"
            )
        chosen_h, chosen_r = [hyps[i] for i in keep], [refs[i] for i in keep]
        scores = {
            m.name: {"score": m.corpus_score(chosen_h, chosen_r), "signature": m.signature,
                     "higher_is_better": m.higher_is_better}
            for m in metrics
        }
        systems.append({"hypotheses": str(path), "scores": scores})
    return {"references": str(reference), "segments": len(keep), "where": list(where), "systems": systems}
