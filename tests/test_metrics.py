"""Metric values against sacrebleu: a table of known values, the identity case, and input checks."""

from __future__ import annotations

import pytest
import sacrebleu

from evalharness.errors import HypothesisError, UnknownNameError
from evalharness.scoring.metrics import get_metric, get_metrics

EPS = 1e-9

# (hypotheses, references, metric, expected corpus score) — values from sacrebleu 2.x, also recomputed below.
KNOWN = [
    (["the cat sat on the mat"], ["the cat sat on the mat"], "bleu", 100.0),
    (["the cat sat on the mat"], ["the cat sat on the mat"], "ter", 0.0),
    (["the cat sat on the mat"], ["the cat sat on the mat"], "chrf", 100.0),
    (["xyz"], ["the cat sat on the mat"], "bleu", 0.0),
    (["the cat sat on the mat", "a dog"], ["the cat sat on a mat", "the dog"], "bleu", 50.000000000000014),
    (["the cat sat on the mat", "a dog"], ["the cat sat on a mat", "the dog"], "ter", 25.0),
    (["the cat sat on the mat", "a dog"], ["the cat sat on a mat", "the dog"], "chrf", 63.35826100018153),
    (["the cat sat on the mat", "a dog"], ["the cat sat on a mat", "the dog"], "chrf++", 63.14396813348003),
    (["Rusia dan Jepun bersetuju."], ["Rusia dan Jepun bersetuju untuk mengadakan mesyuarat 2 + 2."], "ter",
     70.0),
]


def _sacrebleu_corpus(metric: str, hyps: list[str], refs: list[str]) -> float:
    fn = {"bleu": sacrebleu.corpus_bleu, "chrf": sacrebleu.corpus_chrf, "ter": sacrebleu.corpus_ter}
    if metric == "chrf++":
        return float(sacrebleu.corpus_chrf(hyps, [refs], word_order=2).score)
    return float(fn[metric](hyps, [refs]).score)


@pytest.mark.parametrize(("hyps", "refs", "metric", "expected"), KNOWN)
def test_known_corpus_values(hyps: list[str], refs: list[str], metric: str, expected: float) -> None:
    ours = get_metric(metric).corpus_score(hyps, refs)
    assert ours == pytest.approx(expected, abs=1e-6)
    assert ours == pytest.approx(_sacrebleu_corpus(metric, hyps, refs), abs=EPS)


SEGMENTS = (
    ["Rusia dan Jepun bersetuju.", "Mereka membincangkan keselamatan antarabangsa.", "", "Tokyo."],
    ["Rusia dan Jepun bersetuju untuk mengadakan mesyuarat.", "Mereka membincangkan keselamatan.", "Ya.", "Tokyo."],
)


def test_segment_scores_equal_sacrebleu_sentence_functions() -> None:
    hyps, refs = SEGMENTS
    expected = {
        "bleu": [sacrebleu.sentence_bleu(h, [r]).score for h, r in zip(hyps, refs, strict=True)],
        "chrf": [sacrebleu.sentence_chrf(h, [r]).score for h, r in zip(hyps, refs, strict=True)],
        "chrf++": [sacrebleu.sentence_chrf(h, [r], word_order=2).score for h, r in zip(hyps, refs, strict=True)],
        "ter": [sacrebleu.sentence_ter(h, [r]).score for h, r in zip(hyps, refs, strict=True)],
    }
    for metric in get_metrics(list(expected)):
        assert metric.segment_scores(hyps, refs) == pytest.approx(expected[metric.name], abs=EPS)


def test_corpus_score_from_segment_stats_equals_direct() -> None:
    hyps, refs = SEGMENTS
    for metric in get_metrics(["bleu", "chrf", "chrf++", "ter"]):
        stats = metric.segment_stats(hyps, refs)
        assert len(stats) == len(hyps)
        assert metric.score_from_stats(stats) == pytest.approx(_sacrebleu_corpus(metric.name, hyps, refs), abs=EPS)


def test_reference_against_itself_is_perfect() -> None:
    _, refs = SEGMENTS
    scores = {m.name: m.corpus_score(refs, refs) for m in get_metrics(["bleu", "chrf", "chrf++", "ter"])}
    assert scores == pytest.approx({"bleu": 100.0, "chrf": 100.0, "chrf++": 100.0, "ter": 0.0}, abs=1e-9)


def test_signatures_and_direction() -> None:
    bleu, ter = get_metric("bleu"), get_metric("ter")
    bleu.corpus_score(["a b"], ["a b"])
    bleu.segment_scores(["a b"], ["a b"])
    assert "eff:no" in bleu.signature and "eff:yes" in bleu.segment_signature
    assert bleu.higher_is_better and not ter.higher_is_better


def test_misaligned_inputs_are_refused() -> None:
    bleu = get_metric("bleu")
    with pytest.raises(HypothesisError, match="2 hypotheses for 1 references"):
        bleu.corpus_score(["a", "b"], ["a"])
    with pytest.raises(HypothesisError, match="sequence of strings"):
        bleu.corpus_score(["a"], "a")  # a bare string would silently score against characters


def test_unknown_metric_suggests() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'chrf'"):
        get_metric("chrF")
