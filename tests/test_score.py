"""``evalharness score`` on plain-text files: identity, BOM/CRLF, the input errors, and sacrebleu's CLI habits
(standard input, several references, --sentence-level, --confidence) checked against sacrebleu's own CLI."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sacrebleu

from evalharness.cli import main
from evalharness.errors import HypothesisError
from tests.conftest import CORPUS_NAME, REPO


@pytest.fixture
def ref_file(tmp_path: Path) -> Path:
    path = tmp_path / "ref.en"
    assert main(["corpus", "export", CORPUS_NAME, "--lang", "en", "-o", str(path)]) == 0
    return path


def test_reference_against_itself(ref_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", "--ref", str(ref_file), "--hyp", str(ref_file), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    scores = report["systems"][0]["scores"]
    assert report["segments"] == 29
    assert scores["bleu"]["score"] == pytest.approx(100.0)
    assert scores["chrf"]["score"] == pytest.approx(100.0)
    assert scores["chrf++"]["score"] == pytest.approx(100.0)
    assert scores["ter"]["score"] == pytest.approx(0.0)
    assert scores["ter"]["higher_is_better"] is False


def test_several_hypotheses_and_text_format(ref_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    refs = ref_file.read_text(encoding="utf-8").splitlines()
    hyps = [" ".join(r.split()[:-2]) for r in refs]  # each segment loses its last two words
    hyp = tmp_path / "cut.en"
    # BOM and CRLF, as Windows tools and NTREX-128 write them
    hyp.write_bytes(("\ufeff" + "\r\n".join(hyps) + "\r\n").encode("utf-8"))
    assert main(["score", "--ref", str(ref_file), "--hyp", str(hyp), "--hyp", str(ref_file),
                 "--metrics", "bleu,ter"]) == 0
    out = capsys.readouterr().out
    expected = sacrebleu.corpus_bleu(hyps, [refs]).score
    assert f"BLEU    {expected:6.2f}  nrefs:1|case:mixed|eff:no" in out
    assert "BLEU    100.00" in out and "chrF" not in out


def test_line_count_mismatch_names_both_files(ref_file: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    hyp = tmp_path / "short.en"
    hyp.write_text("one\ntwo\n", encoding="utf-8")
    assert main(["score", "--ref", str(ref_file), "--hyp", str(hyp)]) == 2
    err = capsys.readouterr().err
    assert f"{hyp} has 2 lines but {ref_file} has 29" in err and err.count("\n") == 1


def test_empty_and_non_utf8_files(ref_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.en"
    empty.write_text("", encoding="utf-8")
    assert main(["score", "--ref", str(empty), "--hyp", str(ref_file)]) == 2
    assert "reference file is empty" in capsys.readouterr().err
    assert main(["score", "--ref", str(ref_file), "--hyp", str(empty)]) == 2
    assert "has 0 lines" in capsys.readouterr().err
    latin1 = tmp_path / "latin1.en"
    latin1.write_bytes("caf\xe9\n".encode("latin-1"))
    assert main(["score", "--ref", str(ref_file), "--hyp", str(latin1)]) == 2
    err = capsys.readouterr().err
    assert f"{latin1}:1: hypothesis file is not valid UTF-8" in err
    assert main(["score", "--ref", str(tmp_path / "missing.en"), "--hyp", str(ref_file)]) == 2
    assert "missing.en: reference file not found" in capsys.readouterr().err


def test_help_does_not_import_heavy_modules() -> None:
    import subprocess
    import sys

    code = ("import sys; from evalharness.cli import build_parser; build_parser().format_help(); "
            "heavy = [m for m in ('torch', 'transformers', 'sacrebleu', 'pydantic') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unwritable_output_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    assert main(["corpus", "export", CORPUS_NAME, "--lang", "ms", "-o", str(blocker / "out.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a-file is a file, not a folder" in err


# --------------------------------------------------------------------------- sacrebleu's CLI habits
#
# Each habit is checked against sacrebleu's own command line, run as a subprocess on the same files, to the
# precision it prints (-w 4): the numbers must be sacrebleu's, not merely close to them.

WIDTH = 4  # digits after the point that sacrebleu prints (-w 4); our JSON carries full floats
SACREBLEU_NAMES = {"bleu": "bleu", "chrf": "chrf", "ter": "ter"}  # chrF++ is -m chrf --chrf-word-order 2


@dataclass(frozen=True)
class Files:
    ref: Path
    ref2: Path
    hyp: Path


def _perturb(line: str, rng: random.Random, *, kind: str) -> str:
    words = line.split()
    if kind == "hyp":
        if len(words) > 4 and rng.random() < 0.3:
            return " ".join(words[:3])  # short: no 4-gram matches, where effective order matters
        if len(words) > 3:
            del words[rng.randrange(len(words))]
            i = rng.randrange(len(words) - 1)
            words[i], words[i + 1] = words[i + 1], words[i]
            j = rng.randrange(len(words))
            words[j] = words[j].lower() if words[j][0].isupper() else words[j].upper()
        return " ".join(words)
    # a second reference: the same meaning worded a little differently
    swaps = {"the": "this", "and": "as well as", "said": "stated", "to": "towards"}
    words = [swaps.get(w, w) for w in words]
    if len(words) > 5:
        words.insert(rng.randrange(len(words)), "indeed")
    return " ".join(words)


@pytest.fixture
def files(tmp_path: Path) -> Files:
    """Sentence-level English of the shipped corpus as reference, a reworded second reference (every third line as
    the hypothesis has it), and a perturbed hypothesis (dropped, swapped and recased words, a few cut to three
    words, one empty line)."""
    from evalharness.corpus import load_corpus

    refs = [seg.texts["en"] for seg in load_corpus(CORPUS_NAME).segments("sentence")]
    rng = random.Random(13)
    hyps = [_perturb(r, rng, kind="hyp") for r in refs]
    hyps[5] = ""
    ref2 = [_perturb(r, rng, kind="ref") for r in refs]
    for i in range(0, len(refs), 3):  # where the second translator worded it as the system did, it is the best
        ref2[i] = hyps[i]
    paths = Files(tmp_path / "ref.en", tmp_path / "ref2.en", tmp_path / "hyp.en")
    for path, lines in ((paths.ref, refs), (paths.ref2, ref2), (paths.hyp, hyps)):
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return paths


def _sacrebleu(*args: str | Path, stdin: str | None = None) -> list[str]:
    """sacrebleu's own CLI, score only (-b) as text, WIDTH digits; one printed line per score."""
    env = {**os.environ, "SACREBLEU_SEED": "12345"}  # its default, pinned against a user's environment
    out = subprocess.run([sys.executable, "-m", "sacrebleu", *map(str, args), "-b", "-f", "text", "-w", str(WIDTH)],
                         input=stdin, capture_output=True, text=True, check=True, env=env).stdout
    return out.splitlines()


def _theirs(refs: list[Path], hyp: Path, metric: str, *extra: str) -> list[str]:
    """sacrebleu's printed score(s) of one of our metric names (chrf++ spelled the sacrebleu way)."""
    name, more = ("chrf", ["--chrf-word-order", "2"]) if metric == "chrf++" else (metric, [])
    return _sacrebleu(*refs, "-i", hyp, "-m", name, *more, *extra)


def _ours(argv: list[str], capsys: pytest.CaptureFixture[str]) -> Any:
    assert main(["score", *argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("nrefs", [1, 2])
def test_corpus_scores_equal_sacrebleu_cli(files: Files, nrefs: int, capsys: pytest.CaptureFixture[str]) -> None:
    """`sacrebleu REF [REF2] -i HYP -m bleu chrf ter -b` and -m chrf --chrf-word-order 2, one or two references."""
    refs = [files.ref, files.ref2][:nrefs]
    ref_args = [a for r in refs for a in ("--ref", str(r))]
    scores = _ours([*ref_args, "--hyp", str(files.hyp)], capsys)["systems"][0]["scores"]
    theirs = _sacrebleu(*refs, "-i", files.hyp, "-m", "bleu", "chrf", "ter")  # sacrebleu sorts: BLEU, chrF, TER
    assert [f"{scores[m]['score']:.{WIDTH}f}" for m in ("bleu", "chrf", "ter")] == theirs
    assert [f"{scores['chrf++']['score']:.{WIDTH}f}"] == _theirs(refs, files.hyp, "chrf++")
    assert all(s["signature"].startswith(f"nrefs:{nrefs}|") for s in scores.values())
    if nrefs == 2:  # several references really count: not the first one alone
        one = _ours(["--ref", str(files.ref), "--hyp", str(files.hyp)], capsys)["systems"][0]["scores"]
        assert all(one[m]["score"] != scores[m]["score"] for m in scores)
        # --ref A B is --ref A --ref B
        assert _ours(["--ref", str(files.ref), str(files.ref2), "--hyp", str(files.hyp)], capsys)["systems"][0][
            "scores"] == scores


def test_text_output_with_two_references(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", "--ref", str(files.ref), "--ref", str(files.ref2), "--hyp", str(files.hyp),
                 "--metrics", "ter"]) == 0
    lines = capsys.readouterr().out.splitlines()
    theirs = _sacrebleu(files.ref, files.ref2, "-i", files.hyp, "-m", "ter")[0]
    assert lines[0] == f"{files.hyp} (37 segments)"
    assert lines[1].startswith(f"  TER     {float(theirs):6.2f}  nrefs:2|case:lc|tok:tercom")


def _evalharness(argv: list[str], stdin: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evalharness", "score", *argv], input=stdin, capture_output=True,
                          text=True, env=env, cwd=REPO)


@pytest.mark.parametrize("hyp_args", [[], ["--hyp", "-"], ["-i", "-"]], ids=["no --hyp", "--hyp -", "-i -"])
def test_hypotheses_from_standard_input(files: Files, hyp_args: list[str], cli_env: dict[str, str]) -> None:
    """`sacrebleu REF < HYP`: both read the hypotheses from standard input (a BOM and CRLF are fine here too)."""
    text = files.hyp.read_text(encoding="utf-8")
    proc = _evalharness(["--ref", str(files.ref), *hyp_args, "--format", "json", "--metrics", "bleu,chrf,ter"],
                        "\ufeff" + text.replace("\n", "\r\n"), cli_env)
    assert proc.returncode == 0, proc.stderr
    system = json.loads(proc.stdout)["systems"][0]
    assert system["hypotheses"] == "<stdin>"
    theirs = _sacrebleu(files.ref, "-m", "bleu", "chrf", "ter", stdin=text)  # sacrebleu's stdin mode
    assert [f"{system['scores'][m]['score']:.{WIDTH}f}" for m in ("bleu", "chrf", "ter")] == theirs


def test_empty_or_short_standard_input_is_one_line(files: Files, cli_env: dict[str, str]) -> None:
    empty = _evalharness(["--ref", str(files.ref)], "", cli_env)
    assert empty.returncode == 2 and empty.stdout == ""
    assert empty.stderr.count("\n") == 1 and "<stdin>: standard input is empty" in empty.stderr
    short = _evalharness(["--ref", str(files.ref), "--hyp", "-"], "one\ntwo\n", cli_env)
    assert short.returncode == 2 and short.stderr.count("\n") == 1
    assert f"<stdin> has 2 lines but {files.ref} has 37" in short.stderr


@pytest.mark.parametrize("metric", ["bleu", "chrf", "chrf++", "ter"])
@pytest.mark.parametrize("nrefs", [1, 2])
def test_sentence_level_equals_sacrebleu_cli(files: Files, metric: str, nrefs: int,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """`sacrebleu REF [REF2] -i HYP --sentence-level -m METRIC -b` (BLEU with effective order, as sacrebleu does)."""
    refs = [files.ref, files.ref2][:nrefs]
    ref_args = [a for r in refs for a in ("--ref", str(r))]
    assert main(["score", *ref_args, "--hyp", str(files.hyp), "--sentence-level", "--format", "json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # JSON Lines
    assert [r["line"] for r in records] == list(range(1, 38))
    ours = [f"{r['scores'][metric]:.{WIDTH}f}" for r in records]
    assert ours == _theirs(refs, files.hyp, metric, "--sentence-level")
    assert records[0]["signatures"][metric].startswith(f"nrefs:{nrefs}|")
    if metric == "bleu":
        assert "eff:yes" in records[0]["signatures"]["bleu"]


def test_sentence_level_text_is_a_table_of_line_numbers(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", "--ref", str(files.ref), "--hyp", str(files.hyp), "--sentence-level",
                 "--metrics", "bleu,ter", "--where", "length=short"]) == 0
    lines = capsys.readouterr().out.splitlines()
    refs = files.ref.read_text(encoding="utf-8").splitlines()
    short = [i + 1 for i, r in enumerate(refs) if len(r.split()) < 15]
    assert short and lines[0] == f"{files.hyp} ({len(short)} segments, one score each)"
    assert lines[1].startswith("  BLEU    nrefs:1|case:mixed|eff:yes|") and lines[2].startswith("  TER     nrefs:1|")
    assert lines[3] == "line\tBLEU\tTER"
    rows = [row.split("\t") for row in lines[4:]]
    assert [int(row[0]) for row in rows] == short  # the files' own line numbers, not a count of the kept ones
    theirs = _theirs([files.ref], files.hyp, "bleu", "--sentence-level")
    assert [row[1] for row in rows] == [f"{float(theirs[i - 1]):.2f}" for i in short]


def test_confidence_interval(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    """`sacrebleu REF -i HYP --confidence -m bleu chrf ter -b` prints `score (μ = mean ± half-width)`.

    The point scores must be sacrebleu's exactly. sacrebleu's bootstrap is its own code, but it draws the
    resamples as significance.bootstrap_scores does (numpy default_rng(seed).choice over segments, float32
    statistics) with the same default seed 12345, so the interval widths agree too — up to how the 2.5th and
    97.5th percentiles are taken (sacrebleu: order statistics n//40 from each end; we: numpy's interpolated
    percentiles), which moves an end by a fraction of the gap between neighbouring resampled scores. Our own
    seed makes the interval reproducible and is written into the signature.
    """
    argv = ["--ref", str(files.ref), "--hyp", str(files.hyp), "--metrics", "bleu,chrf,ter", "--confidence"]
    report = _ours(argv, capsys)
    scores = report["systems"][0]["scores"]
    assert report["bootstrap"] == {"resamples": 1000, "seed": 12345, "confidence": 0.95}
    theirs = _sacrebleu(files.ref, "-i", files.hyp, "-m", "bleu", "chrf", "ter", "--confidence")
    for name, printed in zip(("bleu", "chrf", "ter"), theirs, strict=True):
        match = re.fullmatch(r"(\S+) \(μ = (\S+) ± (\S+)\)", printed)
        assert match, printed
        score, (low, high) = scores[name]["score"], scores[name]["ci"]
        assert f"{score:.{WIDTH}f}" == match[1]
        assert low < score < high
        assert (high - low) / 2 == pytest.approx(float(match[3]), abs=0.02)
        assert "|bs:1000|seed:12345|" in scores[name]["signature"]
    assert _ours(argv, capsys) == report  # reproducible: the seed is fixed
    other = _ours([*argv, "--seed", "7", "--confidence-n", "200"], capsys)["systems"][0]["scores"]
    assert other["bleu"]["score"] == scores["bleu"]["score"] and other["bleu"]["ci"] != scores["bleu"]["ci"]
    assert "|bs:200|seed:7|" in other["bleu"]["signature"]


def test_confidence_text_prints_low_and_high(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", "--ref", str(files.ref), "--hyp", str(files.hyp), "--metrics", "bleu", "--confidence"]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert re.fullmatch(r"  BLEU +\d+\.\d\d  \[\d+\.\d\d, \d+\.\d\d\] +nrefs:1\|bs:1000\|seed:12345\|case:mixed\|.*",
                        line)


@pytest.mark.parametrize(("extra", "message"), [
    (["--confidence", "--sentence-level"], "--confidence is an interval of a corpus score"),
    (["--confidence", "--confidence-n", "99"], "--confidence-n 99: give between 100 and 100000"),
    (["--confidence", "--confidence-n", "100001"], "--confidence-n 100001: give between 100 and 100000"),
    (["--confidence", "--seed", "-1"], "--seed -1: give a seed between 0 and"),
    (["--confidence-n", "500"], "--confidence-n goes with --confidence"),
    (["--seed", "1"], "--seed goes with --confidence"),
    (["--hyp", "-", "--hyp", "-"], "standard input can be read only once"),
])
def test_option_errors_are_one_line(files: Files, extra: list[str], message: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    hyp = [] if "-" in extra else ["--hyp", str(files.hyp)]
    assert main(["score", "--ref", str(files.ref), *hyp, *extra]) == 2
    out = capsys.readouterr()
    assert message in out.err and out.err.count("\n") == 1 and out.out == ""


def test_reference_files_must_agree(files: Files, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """sacrebleu would zip the references silently (dropping lines); the second file is named."""
    short = tmp_path / "short-ref.en"
    short.write_text("one\ntwo\n", encoding="utf-8")
    assert main(["score", "--ref", str(files.ref), "--ref", str(short), "--hyp", str(files.hyp)]) == 2
    err = capsys.readouterr().err
    assert f"{short} has 2 lines but {files.ref} has 37" in err and err.count("\n") == 1
    assert main(["score", "--ref", "-", "--hyp", str(files.hyp)]) == 2
    assert "--ref -: references are read from files" in capsys.readouterr().err


def test_help_names_each_sacrebleu_habit(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    text = capsys.readouterr().out
    for habit in ("score REF < HYP", "score REF -i HYP -m bleu chrf ter", "score REF1 REF2 -i HYP",
                  "-t flores200-devtest -l ms-en -i HYP", "-tok intl -lc", "--chrf-lowercase", "--sentence-level",
                  "--confidence", "--confidence-n N", "--seed", "[low, high]", "standard input"):
        assert habit in text, habit


# --------------------------------------------------------------------------- several references in the library


def test_metrics_take_several_reference_sets(files: Files) -> None:
    """Metric.corpus_score/segment_stats with sacrebleu's layout [refs_a, refs_b] give sacrebleu's numbers; one flat
    list of references is what it always was."""
    from evalharness.scoring.metrics import check_aligned, get_metrics

    refs = files.ref.read_text(encoding="utf-8").splitlines()
    ref2 = files.ref2.read_text(encoding="utf-8").splitlines()
    hyps = files.hyp.read_text(encoding="utf-8").splitlines()
    theirs = {"bleu": sacrebleu.BLEU(), "chrf": sacrebleu.CHRF(), "chrf++": sacrebleu.CHRF(word_order=2),
              "ter": sacrebleu.TER()}
    for metric in get_metrics(list(theirs)):
        assert metric.corpus_score(hyps, [refs, ref2]) == theirs[metric.name].corpus_score(hyps, [refs, ref2]).score
        assert "nrefs:2|" in metric.signature
        assert (metric.segment_stats(hyps, refs) == metric.segment_stats(hyps, [refs])).all()
        assert metric.corpus_score(hyps, refs) == theirs[metric.name].corpus_score(hyps, [refs]).score
        assert "nrefs:1|" in metric.signature
    with pytest.raises(HypothesisError, match="37 hypotheses for 2 references in reference set 2 of 2"):
        check_aligned(hyps, [refs, ref2[:2]])
    with pytest.raises(HypothesisError, match="sequence of such sequences"):
        check_aligned(hyps, [refs, "a"])


def test_adapter_refuses_a_flat_reference_list() -> None:
    """sacrebleu would read each reference string as a set of one-character references and score about 0."""
    from evalharness.scoring import sacrebleu_adapter as sb
    from evalharness.scoring.metrics import get_metric

    with pytest.raises(TypeError, match="sequence of reference sets"):
        sb.extract_stats(get_metric("bleu").corpus_metric, ["a b"], ["a b"])


# --------------------------------------------------------------------------- sacrebleu's own argument forms


@pytest.mark.parametrize("form", [
    ["{ref}", "-i", "{hyp}", "-m", "bleu", "chrf", "ter", "-lc"],
    ["{ref}", "--input", "{hyp}", "-m", "bleu", "chrf", "ter", "--lowercase"],
    ["--ref", "{ref}", "--hyp", "{hyp}", "--metrics", "bleu,chrf,ter", "-lc"],
    ["-m", "bleu,chrf", "ter", "-lc", "--ref", "{ref}", "-i", "{hyp}"],
], ids=["positional -i -m A B -lc", "--input --lowercase", "--ref --hyp --metrics a,b", "mixed"])
def test_sacrebleu_argument_forms_equal_sacrebleu_cli(files: Files, form: list[str],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """`sacrebleu REF -i HYP -m bleu chrf ter -lc -b`: the same forms, the same numbers; -lc lowercases BLEU alone
    (chrF keeps case, TER ignores it anyway), as sacrebleu's -lc does."""
    argv = [a.format(ref=files.ref, hyp=files.hyp) for a in form]
    scores = _ours(argv, capsys)["systems"][0]["scores"]
    theirs = _sacrebleu(files.ref, "-i", files.hyp, "-m", "bleu", "chrf", "ter", "-lc")
    assert [f"{scores[m]['score']:.{WIDTH}f}" for m in ("bleu", "chrf", "ter")] == theirs
    assert "case:lc" in scores["bleu"]["signature"] and "case:mixed" in scores["chrf"]["signature"]
    # the hypotheses' recased words make case count: -lc changes BLEU, not chrF
    plain = _ours([str(files.ref), "-i", str(files.hyp), "-m", "bleu", "chrf"], capsys)["systems"][0]["scores"]
    assert plain["bleu"]["score"] != scores["bleu"]["score"] and plain["chrf"]["score"] == scores["chrf"]["score"]


def test_chrf_lowercase_equals_sacrebleu_cli(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    """`sacrebleu REF -i HYP -m chrf --chrf-lowercase` (and chrF++ with word order 2)."""
    scores = _ours([str(files.ref), "-i", str(files.hyp), "-m", "chrf", "chrf++", "--chrf-lowercase"],
                   capsys)["systems"][0]["scores"]
    assert [f"{scores['chrf']['score']:.{WIDTH}f}"] == _theirs([files.ref], files.hyp, "chrf", "--chrf-lowercase")
    assert [f"{scores['chrf++']['score']:.{WIDTH}f}"] == _theirs([files.ref], files.hyp, "chrf++", "--chrf-lowercase")
    assert all("case:lc" in s["signature"] for s in scores.values())


def test_two_positional_references_equal_sacrebleu_cli(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    """`sacrebleu REF1 REF2 -i HYP -m bleu chrf ter`."""
    scores = _ours([str(files.ref), str(files.ref2), "-i", str(files.hyp), "-m", "bleu", "chrf", "ter"],
                   capsys)["systems"][0]["scores"]
    theirs = _sacrebleu(files.ref, files.ref2, "-i", files.hyp, "-m", "bleu", "chrf", "ter")
    assert [f"{scores[m]['score']:.{WIDTH}f}" for m in ("bleu", "chrf", "ter")] == theirs
    assert scores["bleu"]["signature"].startswith("nrefs:2|")


def _tiny_testset(files: Files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A registered test set whose English side is ``files.ref`` (Malay: the second reference), in a local mirror."""
    import hashlib

    name, mirror = "tiny-flores", tmp_path / "mirror"
    (mirror / name).mkdir(parents=True)
    sides = {"ms": files.ref2, "en": files.ref}
    entry: dict[str, Any] = {
        "description": "made in the test", "languages": {"ms": "zsm_Latn", "en": "eng_Latn"}, "original": "en",
        "lines": 37, "licence": "CC0-1.0", "citation": "this test", "repository": "local/test", "commit": "0" * 40,
        "line_endings": "lf", "files": {}}
    for lang, path in sides.items():
        data = path.read_bytes()
        (mirror / name / f"side.{lang}").write_bytes(data)
        entry["files"][lang] = {"url": f"https://example.invalid/side.{lang}",
                                "sha256": hashlib.sha256(data).hexdigest()}
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps({"format": 1, "sets": {name: entry}}), encoding="utf-8")
    monkeypatch.setenv("EVALHARNESS_TESTSETS_REGISTRY", str(registry))
    monkeypatch.setenv("EVALHARNESS_TESTSETS_MIRROR", str(mirror))
    monkeypatch.setenv("EVALHARNESS_TESTSETS_DIR", str(tmp_path / "testsets-cache"))
    return name


def test_named_test_set_with_t_and_l(files: Files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """`score -t NAME -l ms-en -i HYP` scores against the set's English side: the numbers of `sacrebleu EN -i HYP`;
    `-t` is the test set, not an abbreviation of -tok; --echo prints a side as sacrebleu --echo does."""
    name = _tiny_testset(files, tmp_path, monkeypatch)
    report = _ours(["-t", name, "-l", "ms-en", "-i", str(files.hyp), "-m", "bleu", "chrf", "ter"], capsys)
    scores = report["systems"][0]["scores"]
    theirs = _sacrebleu(files.ref, "-i", files.hyp, "-m", "bleu", "chrf", "ter")
    assert [f"{scores[m]['score']:.{WIDTH}f}" for m in ("bleu", "chrf", "ter")] == theirs
    assert report["references"].endswith("side.en")
    assert main(["score", "-t", name, "-l", "ms-en", "--echo", "ref"]) == 0
    assert capsys.readouterr().out == files.ref.read_text(encoding="utf-8")
    assert main(["score", "-t", name, "-l", "en-ms", "--echo", "src"]) == 0
    assert capsys.readouterr().out == files.ref.read_text(encoding="utf-8")


@pytest.mark.parametrize(("argv", "message"), [
    (["-t", "tiny-flores", "-i", "{hyp}"], "-t tiny-flores needs the direction: add -l SRC-TGT"),
    (["-t", "tiny-flores", "-l", "ms-fr", "-i", "{hyp}"], "-l ms-fr: tiny-flores has the directions ms-en, en-ms"),
    (["{ref}", "-t", "tiny-flores", "-l", "ms-en", "-i", "{hyp}"], "-t tiny-flores brings its own references"),
    (["-t", "tiny-flore", "-l", "ms-en", "-i", "{hyp}"], "unknown test set 'tiny-flore'"),
    (["{ref}", "-l", "ms-en", "-i", "{hyp}"], "-l/--language-pair goes with -t NAME"),
    (["-i", "{hyp}"], "name the reference file(s): score REF -i HYP"),
    (["{ref}", "-i", "{hyp}", "-m", "bleu", "{ref}"], "is a file: name reference files first"),
    (["{ref}", "-i", "{hyp}", "--bogus"], "unrecognized arguments: --bogus (see 'evalharness score --help')"),
])
def test_argument_form_errors_are_one_line(files: Files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    _tiny_testset(files, tmp_path, monkeypatch)
    assert main(["score", *(a.format(ref=files.ref, hyp=files.hyp) for a in argv)]) == 2
    out = capsys.readouterr()
    assert message in out.err and out.err.count("\n") == 1 and out.out == ""


# --------------------------------------------------------------------------- BLEU's breakdown


def _sacrebleu_verbose(*args: str | Path) -> str:
    """sacrebleu's text line for BLEU, its verbose part: everything after ``= SCORE ``."""
    out = subprocess.run([sys.executable, "-m", "sacrebleu", *map(str, args), "-m", "bleu", "-f", "text"],
                         capture_output=True, text=True, check=True).stdout.strip()
    return out.split(" = ", 1)[1].split(" ", 1)[1]


@pytest.mark.parametrize("nrefs", [1, 2])
def test_bleu_breakdown_equals_sacrebleu_verbose_line(files: Files, nrefs: int,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """`sacrebleu REF -i HYP -m bleu` prints `100.0/76.6/63.0/52.1 (BP = … ratio = … hyp_len = … ref_len = …)`;
    score's JSON carries it (and its parts), its text prints it under BLEU's score."""
    refs = [files.ref, files.ref2][:nrefs]
    theirs = _sacrebleu_verbose(*refs, "-i", files.hyp)
    scores = _ours([*map(str, refs), "-i", str(files.hyp), "-m", "bleu", "chrf"], capsys)["systems"][0]["scores"]
    details = scores["bleu"]["breakdown"]
    assert details["verbose_score"] == theirs and "breakdown" not in scores["chrf"]
    assert f"hyp_len = {details['hyp_len']} ref_len = {details['ref_len']}" in theirs
    assert "/".join(f"{p:.1f}" for p in details["precisions"]) == theirs.split(" ")[0]
    assert main(["score", *map(str, refs), "-i", str(files.hyp), "-m", "bleu"]) == 0
    assert capsys.readouterr().out.splitlines()[2].strip() == theirs


def test_a_nul_byte_and_a_blank_reference_each_warn_once_and_scores_stay_sacrebleus(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    refs = ["The cat sat on the mat.", "", "A dog barked at night.", "", "Birds sing."]
    hyps = ["The cat sat on a mat.", "Something.", "A dog\0 barked.", "Other.", "Birds\0 sing."]
    ref, hyp = tmp_path / "ref.en", tmp_path / "hyp.en"
    ref.write_text("".join(f"{x}\n" for x in refs), encoding="utf-8")
    hyp.write_text("".join(f"{x}\n" for x in hyps), encoding="utf-8")
    assert main(["score", str(ref), "-i", str(hyp), "-m", "bleu", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    warnings = err.strip().splitlines()
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith(f"warning: {ref}:2: blank reference line (and 1 more)")
    assert warnings[1].startswith(f"warning: {hyp}:3: hypothesis file has a NUL byte (and 1 more lines)")
    bleu = json.loads(out)["systems"][0]["scores"]["bleu"]["score"]
    assert bleu == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-9)
    clean = tmp_path / "clean.en"
    clean.write_text("".join(f"{x}\n" for x in refs if x), encoding="utf-8")
    assert main(["score", str(clean), "-i", str(clean), "-m", "bleu"]) == 0
    assert capsys.readouterr().err == ""  # nothing to say about clean files
