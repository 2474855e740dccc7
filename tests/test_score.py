"""``evalharness score`` on plain-text files: identity, BOM/CRLF, and the input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sacrebleu

from evalharness.cli import main
from tests.conftest import CORPUS_NAME


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
    assert err.count("\n") == 1 and "a-file" in err and "permissions" in err
