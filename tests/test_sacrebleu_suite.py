"""The expected values of sacrebleu's own test suite (sacrebleu 2.6.0's source distribution, test/), reproduced
through evalharness: its metric objects built from the scoring settings a run or ``score`` takes (``tokenize``,
``lowercase``, several references), the ``score`` command itself, and its paired significance tests.

The tables below restate the inputs and expected numbers that sacrebleu's tests check; they are not computed
here. sacrebleu's significance data (``wmt17_en_de_systems.pkl.bz2``, 1.7 MB of WMT17 en-de system outputs) is
not committed: ``make sacrebleu-tests`` unpacks sacrebleu's source distribution from PyPI into
``build/sacrebleu-tests`` and ``.ci/run`` points ``EVALHARNESS_SACREBLEU_TESTS`` at it, so those tests run in CI.
"""

from __future__ import annotations

import bz2
import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from evalharness.cli import main
from evalharness.scoring.metrics import METRICS, get_metric, get_metrics, stack_references
from evalharness.scoring.significance import paired_test

# sacrebleu test/test_bleu.py: the README example, two references per segment
HYPS = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
REFS = [["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
        ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."]]

# (tokenize, expected corpus BLEU) with both references — test_bleu.py's test_corpus_bleu_cases
CORPUS_BLEU = [("13a", 48.530827), ("none", 49.1919566), ("intl", 43.91623493)]

# test_sentence_bleu.py (issue #98 of sacrebleu): exp smoothing, effective order; (tokenize, lowercase, expected)
SENT_REF = "producţia de zahăr brut se exprimă în zahăr alb;"
SENT_SYS = "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;"
SENTENCE_BLEU = [("13a", False, 8.493), ("none", False, 7.347), ("intl", False, 8.493), ("char", False, 40.8759),
                 ("char", True, 42.0267)]

# test_chrf.py: sentence-level chrF (Czech), and corpus chrF of single segments — both with sacrebleu's
# eps_smoothing=True (the chrF++.py reference implementation's mode; the corpus cases with beta=3), then the
# corpus cases with sacrebleu's default smoothing (effective order), which evalharness uses
SENTENCE_CHRF = [
    ("Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.",
     "Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.", 39.14078509),
    ("Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.",
     "A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.", 31.22557079),
    ("Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.",
     "Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.", 57.15704367),
]
CORPUS_CHRF = [
    (["abcdefg"], ["hijklmnop"], 0.0), (["a"], ["b"], 0.0), ([""], ["b"], 0.0), (["aa"], ["ab"], 8.3333),
    (["a", "b"], ["a", "c"], 8.3333), (["a"], ["a"], 16.6667), (["a b c"], ["a b c"], 50.0),
    (["a b c"], ["abc"], 50.0),
    ([" risk assessment must be made of those who are qualified and expertise in the sector - these are the "
      "scientists ."],
     ["risk assessment has to be undertaken by those who are qualified and expert in that area - that is the "
      "scientists ."], 63.361730),
    (["Niemand hat die Absicht, eine Mauer zu errichten"], ["Niemand hat die Absicht, eine Mauer zu errichten"],
     100.0),
]
CORPUS_CHRF_DEFAULT = [
    (["a"], ["a"], 100.0), ([""], ["reference"], 0.0), (["a b c"], ["a b c"], 100.0), (["a b c"], ["abc"], 100.0),
    ([""], ["c"], 0.0), (["a", "b"], ["a", "c"], 50.0), (["aa"], ["ab"], 25.0),
]

# test_ter.py: corpus TER (as a fraction there; ×100 here)
CORPUS_TER = [
    (["aaaa bbbb cccc dddd"], ["aaaa bbbb cccc dddd"], 0.0), (["dddd eeee ffff"], ["aaaa bbbb cccc"], 1.0),
    ([""], ["a"], 1.0), (["a"], [""], 1.0), ([""], [""], 0.0), (["d e f g h a b c"], ["a b c d e f g h"], 1 / 8),
]


@pytest.mark.parametrize(("tokenize", "expected"), CORPUS_BLEU)
def test_multi_reference_corpus_bleu_per_tokenizer(tokenize: str, expected: float) -> None:
    (bleu,) = get_metrics(["bleu"], scoring={"tokenize": tokenize})
    assert bleu.corpus_score(HYPS, REFS) == pytest.approx(expected, abs=1e-6)
    assert f"nrefs:2|case:mixed|eff:no|tok:{tokenize}|" in bleu.signature


def test_multi_reference_from_stacked_corpus_references() -> None:
    """The corpus layout (a first reference per segment, others per segment) gives sacrebleu's layout."""
    others = [[r] for r in REFS[1]]
    (bleu,) = get_metrics(["bleu"])
    assert bleu.corpus_score(HYPS, stack_references(REFS[0], others)) == pytest.approx(48.530827, abs=1e-6)
    # fewer references for some segments: sacrebleu's None, its signature says nrefs:var
    ragged = stack_references(REFS[0], [[REFS[1][0]], [], [REFS[1][2]]])
    assert ragged == [REFS[0], [REFS[1][0], None, REFS[1][2]]]
    import sacrebleu

    assert bleu.corpus_score(HYPS, ragged) == pytest.approx(sacrebleu.corpus_bleu(HYPS, ragged).score, abs=1e-9)
    assert "nrefs:var" in bleu.signature


@pytest.mark.parametrize(("tokenize", "lowercase", "expected"), SENTENCE_BLEU)
def test_sentence_bleu_tokenizers_and_lowercase(tokenize: str, lowercase: bool, expected: float) -> None:
    (bleu,) = get_metrics(["bleu"], scoring={"tokenize": tokenize, "lowercase": lowercase})
    assert bleu.segment_scores([SENT_SYS], [SENT_REF])[0] == pytest.approx(expected, abs=1e-3)
    assert ("case:lc" if lowercase else "case:mixed") in bleu.segment_signature


@pytest.mark.parametrize(("hyp", "ref", "expected"), SENTENCE_CHRF)
def test_sentence_chrf_eps_smoothing(hyp: str, ref: str, expected: float) -> None:
    assert get_metric("chrf", eps_smoothing=True).segment_scores([hyp], [ref])[0] == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize(("hyps", "refs", "expected"), CORPUS_CHRF)
def test_corpus_chrf_eps_smoothing(hyps: list[str], refs: list[str], expected: float) -> None:
    chrf = get_metric("chrf", eps_smoothing=True, beta=3)
    assert chrf.corpus_score(hyps, refs) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize(("hyps", "refs", "expected"), CORPUS_CHRF_DEFAULT)
def test_corpus_chrf_defaults(hyps: list[str], refs: list[str], expected: float) -> None:
    assert get_metric("chrf", beta=3).corpus_score(hyps, refs) == pytest.approx(expected, abs=1e-4)


def test_chrf_lowercase_reaches_chrf_and_lowercase_does_not() -> None:
    """sacrebleu's CLI: -lc is BLEU's alone, --chrf-lowercase chrF's; lowercasing an all-caps hypothesis must make
    it exact. (sacrebleu's tests have no lowercase chrF case.)"""
    hyp, ref = ["NIEMAND HAT DIE ABSICHT"], ["niemand hat die absicht"]
    chrf, ter = get_metrics(["chrf", "ter"], scoring={"chrf_lowercase": True})
    assert chrf.corpus_score(hyp, ref) == pytest.approx(100.0)
    assert get_metric("chrf").corpus_score(hyp, ref) < 50
    assert "case:lc" in chrf.signature
    (chrf_lc,) = get_metrics(["chrf"], scoring={"lowercase": True})
    assert chrf_lc.options == {} and chrf_lc.corpus_score(hyp, ref) < 50
    assert ter.options == {}  # sacrebleu's TER ignores case already (case:lc in its default signature)


@pytest.mark.parametrize(("hyps", "refs", "expected"), CORPUS_TER)
def test_corpus_ter(hyps: list[str], refs: list[str], expected: float) -> None:
    assert get_metric("ter").corpus_score(hyps, refs) == pytest.approx(100 * expected, abs=1e-3)


def test_default_settings_record_no_options() -> None:
    """A default run records ``{}``, as runs made before the settings existed, so old baselines stay comparable."""
    assert all(METRICS.get(name).settings_from_scoring() == {} for name in ("bleu", "chrf", "chrf++", "ter"))
    assert METRICS.get("bleu").settings_from_scoring(tokenize="intl", lowercase=True) == {"tokenize": "intl",
                                                                                  "lowercase": True}


@pytest.mark.parametrize(("tokenize", "expected"), CORPUS_BLEU)
def test_score_command_with_two_references_and_tokenizer(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         tokenize: str, expected: float) -> None:
    ref1, ref2, hyp = tmp_path / "ref1", tmp_path / "ref2", tmp_path / "hyp"
    ref1.write_text("\n".join(REFS[0]) + "\n", encoding="utf-8")
    ref2.write_text("\n".join(REFS[1]) + "\n", encoding="utf-8")
    hyp.write_text("\n".join(HYPS) + "\n", encoding="utf-8")
    assert main(["score", "--ref", str(ref1), "--ref", str(ref2), "--hyp", str(hyp), "--metrics", "bleu",
                 "--tokenize", tokenize, "--format", "json"]) == 0
    import json

    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    bleu = report["systems"][0]["scores"]["bleu"]
    assert bleu["score"] == pytest.approx(expected, abs=1e-6)
    assert f"tok:{tokenize}" in bleu["signature"] and "nrefs:2" in bleu["signature"]


def test_score_command_lowercase(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref, hyp = tmp_path / "ref", tmp_path / "hyp"
    ref.write_text(SENT_REF + "\n", encoding="utf-8")
    hyp.write_text(SENT_SYS + "\n", encoding="utf-8")
    assert main(["score", "--ref", str(ref), "--hyp", str(hyp), "--metrics", "bleu", "--sentence-level", "-tok",
                 "char", "-lc"]) == 0
    out = capsys.readouterr().out
    assert "case:lc" in out and "tok:char" in out
    assert out.strip().splitlines()[-1].split("\t") == ["1", "42.03"]


# --------------------------------------------------------------------------- significance (sacrebleu's data)

def _significance_data() -> Path:
    folder = os.environ.get("EVALHARNESS_SACREBLEU_TESTS")
    path = Path(folder) / "wmt17_en_de_systems.pkl.bz2" if folder else None
    if path is None or not path.is_file():
        if folder:  # CI sets the variable: the data must be there
            pytest.fail(f"EVALHARNESS_SACREBLEU_TESTS={folder} holds no wmt17_en_de_systems.pkl.bz2")
        pytest.skip("sacrebleu's significance test data is not at hand: run 'make sacrebleu-tests' and set "
                    "EVALHARNESS_SACREBLEU_TESTS=build/sacrebleu-tests")
    return path


# sacrebleu test/test_significance.py: p-values of the paired bootstrap (2,000 resamples) from Moses'
# significance script, and of approximate randomization (10,000 trials) from multeval; BLEU with tokenize none
MOSES_P = {"C-3MA.4959": 0.0, "FBK.4870": 0.01267, "KIT.4950": 0.02233, "LMU-nmt-reranked.4934": 0.04383,
           "LMU-nmt-single.4893": 0.20783, "online-A.0": 0.0, "online-B.0": 0.381, "online-F.0": 0.0,
           "online-G.0": 0.0, "PROMT-Rule-based.4735": 0.0, "RWTH-nmt-ensemble.4921": 0.01167,
           "SYSTRAN.4847": 0.20983, "TALP-UPC.4834": 0.0, "uedin-nmt.4722": 0.0, "xmu.4910": 0.25483}
MULTEVAL_P = {"C-3MA.4959": 0.0001, "FBK.4870": 0.0218, "KIT.4950": 0.0410, "LMU-nmt-reranked.4934": 0.09029,
              "LMU-nmt-single.4893": 0.58494, "online-A.0": 0.0001, "online-B.0": 0.94111, "online-F.0": 0.0001,
              "online-G.0": 0.0001, "PROMT-Rule-based.4735": 0.0001, "RWTH-nmt-ensemble.4921": 0.0207,
              "SYSTRAN.4847": 0.59914, "TALP-UPC.4834": 0.0001, "uedin-nmt.4722": 0.0001, "xmu.4910": 0.71073}


@pytest.fixture(scope="module")
def wmt17() -> tuple[list[str], dict[str, list[str]], list[str]]:
    with bz2.BZ2File(_significance_data(), "rb") as f:
        systems: list[tuple[str, list[str]]] = pickle.load(f)  # sacrebleu's own test data
    _, (refs,) = systems.pop()  # one reference set
    baseline_name, baseline = systems[0]
    outputs = {name.removeprefix("newstest2017.").removesuffix(".en-de"): hyps for name, hyps in systems[1:]}
    assert baseline_name.startswith("newstest2017.") and set(outputs) == set(MOSES_P)
    return baseline, outputs, refs


@pytest.mark.slow
@pytest.mark.parametrize("test", ["bs", "ar"])
def test_paired_significance_reproduces_sacrebleus_expected_p_values(
        wmt17: tuple[list[str], dict[str, list[str]], list[str]], test: str) -> None:
    import sacrebleu
    from sacrebleu.significance import PairedTest

    baseline, outputs, refs = wmt17
    (bleu,) = get_metrics(["bleu"], scoring={"tokenize": "none"})
    base_stats = bleu.segment_stats(baseline, refs)
    samples, expected = (2000, MOSES_P) if test == "bs" else (10000, MULTEVAL_P)
    ours = {name: paired_test(bleu, base_stats, bleu.segment_stats(hyps, refs), test=test,  # type: ignore[arg-type]
                              samples=samples, seed=12345).p_value for name, hyps in outputs.items()}
    for name, p in ours.items():  # within sacrebleu's own tolerance of the reference tools' values
        assert abs(p - expected[name]) < 1e-2, (name, p, expected[name])
    # and equal to sacrebleu's own PairedTest on the same data and seed
    named = [("baseline", baseline), *outputs.items()]
    theirs = PairedTest(named, {"BLEU": sacrebleu.BLEU(references=[refs], tokenize="none")}, references=None,
                        test_type=test, n_samples=samples)()[1]
    for name, result in zip(theirs["System"][1:], theirs["BLEU"][1:], strict=True):
        assert ours[name] == pytest.approx(result.p_value, abs=1e-12), name
