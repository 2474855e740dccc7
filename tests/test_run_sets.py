"""Several test sets in one run: scored, flagged, sliced, gated and reported per test set; one baseline for all."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from evalharness.cli import main
from evalharness.corpus import load_corpus
from evalharness.errors import ConfigError
from evalharness.runs.config import load_config
from tests.conftest import CORPUS_NAME

MS = [f"Ayat nombor {i} ini ialah ayat ujian yang agak panjang tentang pasar pagi di kampung." for i in range(12)]
EN = [f"Sentence number {i} is a fairly long test sentence about the morning market in the village." for i in range(12)]
SET = "tiny-set"


def _drop_last(text: str) -> str:
    return " ".join(text.split()[:-1])


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registered 12-line test set in a local mirror, hypotheses for it and the article, and a config."""
    ms, en = ("".join(f"{t}\r\n" for t in MS)).encode(), ("".join(f"{t}\n" for t in EN)).encode()
    (tmp_path / "mirror" / SET).mkdir(parents=True)
    (tmp_path / "mirror" / SET / "t.ms").write_bytes(ms)
    (tmp_path / "mirror" / SET / "t.en").write_bytes(en)
    entry = {"description": "made in the test", "languages": {"ms": "zsm_Latn", "en": "eng_Latn"}, "original": "en",
             "lines": len(MS), "licence": "CC0-1.0", "citation": "this test", "repository": "local/test",
             "commit": "1" * 40, "files": {
                 "ms": {"url": "https://example.invalid/t.ms", "sha256": hashlib.sha256(ms).hexdigest()},
                 "en": {"url": "https://example.invalid/t.en", "sha256": hashlib.sha256(en).hexdigest()}}}
    (tmp_path / "registry.json").write_text(json.dumps({"format": 1, "sets": {SET: entry}}), encoding="utf-8")
    monkeypatch.setenv("EVALHARNESS_TESTSETS_REGISTRY", str(tmp_path / "registry.json"))
    monkeypatch.setenv("EVALHARNESS_TESTSETS_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("EVALHARNESS_TESTSETS_DIR", str(tmp_path / "testsets"))
    article = load_corpus(CORPUS_NAME)
    hyp = tmp_path / "hyp"
    hyp.mkdir()
    for name, texts in ((CORPUS_NAME, {"en": [p.text("en") for p in article.pairs],
                                       "ms": [p.text("ms") for p in article.pairs]}), (SET, {"en": EN, "ms": MS})):
        for lang in ("en", "ms"):
            (hyp / f"{name}.{lang}").write_text("".join(_drop_last(t) + "\n" for t in texts[lang]), encoding="utf-8")
    (tmp_path / "c.yaml").write_text(
        f"corpora: [{CORPUS_NAME}, {SET}]\nsystems:\n  - name: mt\n    backend: files\n    hypotheses:\n"
        f"      ms-en: {hyp}/{{corpus}}.en\n      en-ms: {hyp}/{{corpus}}.ms\n  - name: floor\n    backend: copy\n"
        "statistics: {resamples: 200}\ngate: {samples: 1000}\n", encoding="utf-8")
    return tmp_path


def _run(setup: Path, name: str) -> Path:
    assert main(["run", "-c", str(setup / "c.yaml"), "--run-dir", str(setup / name), "-q"]) == 0
    return setup / name


@pytest.mark.slow
def test_each_test_set_is_its_own_run(setup: Path) -> None:
    run = _run(setup, "run")
    index = json.loads((run / "runset.json").read_text(encoding="utf-8"))
    assert [m["name"] for m in index["members"]] == [CORPUS_NAME, SET]
    tiny = json.loads((run / SET / "results.json").read_text(encoding="utf-8"))
    assert tiny["manifest"]["corpus"]["name"] == SET and tiny["manifest"]["corpus"]["segments"] == 12
    assert tiny["manifest"]["config"]["corpus"] == SET and tiny["manifest"]["config"]["corpora"] is None
    assert tiny["results"]["floor"]["ms-en"]["flags"]["copy"] == 12  # flagged per test set
    assert set(tiny["results"]["mt"]["ms-en"]["slices"]) >= {"kind=line", "length=medium"}  # sliced per test set
    article = json.loads((run / CORPUS_NAME / "results.json").read_text(encoding="utf-8"))
    assert article["results"]["mt"]["ms-en"]["segments"] == 29
    summary = (run / "summary.md").read_text(encoding="utf-8")
    assert f"## Test set `{CORPUS_NAME}`" in summary and f"## Test set `{SET}`" in summary
    hyps = (setup / "hyp" / f"{SET}.en").read_text(encoding="utf-8").splitlines()
    import sacrebleu

    assert tiny["results"]["mt"]["ms-en"]["scores"]["bleu"]["score"] == pytest.approx(
        sacrebleu.corpus_bleu(hyps, [EN]).score, abs=1e-9)


@pytest.mark.slow
def test_a_baseline_holds_every_set_and_check_against_itself_passes(
        setup: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(setup, "run")
    assert main(["baseline", "update", str(run), "-o", str(setup / "base.json")]) == 0
    base = json.loads((setup / "base.json").read_text(encoding="utf-8"))
    assert base["kind"] == "evalharness-baseline-set" and list(base["baselines"]) == [CORPUS_NAME, SET]
    capsys.readouterr()
    assert main(["check", "--baseline", str(setup / "base.json"), str(run), "--junit", str(setup / "j.xml")]) == 0
    assert "PASS: no regression in 2 test sets" in capsys.readouterr().out
    assert 'name="evalharness.check.tiny-set"' in (setup / "j.xml").read_text(encoding="utf-8")
    # check --config runs the set and checks it in one go
    assert main(["check", "--baseline", str(setup / "base.json"), "--config", str(setup / "c.yaml"),
                 "--run-dir", str(setup / "again"), "-q"]) == 0


@pytest.mark.slow
def test_a_damaged_second_set_fails_naming_it(setup: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(setup, "run")
    assert main(["baseline", "update", str(run), "-o", str(setup / "base.json")]) == 0
    (setup / "hyp" / f"{SET}.en").write_text("".join(f"{t}\n" for t in MS), encoding="utf-8")  # copies the source
    damaged = _run(setup, "damaged")
    capsys.readouterr()
    assert main(["check", "--baseline", str(setup / "base.json"), str(damaged), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["passed"] and report["test_sets"][CORPUS_NAME]["passed"]
    assert report["failures"] and all(f.startswith(f"{SET}: ") for f in report["failures"])
    assert any(f.startswith(f"{SET}: REGRESSION mt ms-en") for f in report["failures"])
    assert any(f.startswith(f"{SET}: BROKEN mt ms-en L0001: new flag: copy") for f in report["failures"])
    assert main(["check", "--baseline", str(setup / "base.json"), str(damaged)]) == 1
    assert f"FAIL: test set(s) {SET}" in capsys.readouterr().out


def test_an_edited_member_file_is_an_input_error_naming_the_set(
        setup: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(setup, "run")
    assert main(["baseline", "update", str(run), "-o", str(setup / "base.json")]) == 0
    segments = run / SET / "segments.jsonl"
    segments.write_text(segments.read_text(encoding="utf-8").replace("village", "town", 1), encoding="utf-8")
    capsys.readouterr()
    assert main(["check", "--baseline", str(setup / "base.json"), str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"evalharness: error: test set '{SET}': ") and "damaged run" in err and err.count("\n") == 1


def test_a_failing_second_set_writes_nothing(setup: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (setup / "hyp" / f"{SET}.en").write_text("too few lines\n", encoding="utf-8")
    assert main(["run", "-c", str(setup / "c.yaml"), "--run-dir", str(setup / "run"), "-q"]) == 2
    assert not (setup / "run").exists() and not list(setup.glob(".run.*"))
    (setup / "hyp" / f"{SET}.en").unlink()
    assert main(["run", "-c", str(setup / "c.yaml"), "--run-dir", str(setup / "run"), "-q"]) == 2
    assert f"file not found for test set {SET}" in capsys.readouterr().err


@pytest.mark.slow
def test_commands_of_one_run_point_to_the_members(setup: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(setup, "run")
    capsys.readouterr()
    assert main(["report", str(run), "-o", str(setup / "r.html")]) == 2
    assert f"give one test set's run directory ({run / CORPUS_NAME}, {run / SET})" in capsys.readouterr().err
    assert main(["report", str(run / SET), "-o", str(setup / "r.html")]) == 0
    assert main(["run", "-c", str(setup / "c.yaml"), "--run-dir", str(run), "-q"]) == 2  # not empty
    assert main(["run", "-c", str(setup / "c.yaml"), "--run-dir", str(run), "-q", "--overwrite"]) == 0


def test_corpus_and_corpora_are_exclusive(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("corpus: a\ncorpora: [a, b]\nsystems: [{name: f, backend: copy}]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"corpus \(one\) or corpora \(a list\), not both"):
        load_config(config)
    config.write_text(f"corpora: [{CORPUS_NAME}, {CORPUS_NAME}]\nsystems: [{{name: f, backend: copy}}]\n",
                      encoding="utf-8")
    assert main(["run", "-c", str(config), "--run-dir", str(tmp_path / "r"), "-q"]) == 2


def test_a_files_system_without_the_test_set_in_its_path_is_refused(setup: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """One file for every test set would be scored against each set's references (silently, where two sets have
    the same number of segments)."""
    config = setup / "c.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("/{corpus}.en", f"/{SET}.en"), encoding="utf-8")
    assert main(["run", "-c", str(config), "--run-dir", str(setup / "never"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "systems.0.hypotheses.ms-en:" in err and "would be read for every test set" in err and "{corpus}" in err
    assert not (setup / "never").exists()


@pytest.mark.slow
def test_a_compact_baseline_set_is_still_recognised(setup: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A baseline set reformatted (jq -c, an editor) is still a baseline set."""
    run = _run(setup, "run")
    assert main(["baseline", "update", str(run), "-o", str(setup / "base.json")]) == 0
    data = json.loads((setup / "base.json").read_text(encoding="utf-8"))
    (setup / "compact.json").write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    capsys.readouterr()
    assert main(["check", "--baseline", str(setup / "compact.json"), str(run)]) == 0
    assert "PASS: no regression in 2 test sets" in capsys.readouterr().out


@pytest.mark.slow
def test_the_rows_of_every_test_set_are_one_family(setup: Path) -> None:
    """The gate's false-alarm rate is per check: rows of all test sets are tested as one maxt family. The first
    set's rows keep their permutation draws, so their p-values can only rise when other sets' rows join; here
    the article is paired with a copy of itself as a second test set (independent draws, as a second set has)."""
    from evalharness.gate.check import check, check_all
    from evalharness.runs.config import Gate
    from evalharness.runs.files import read_run

    run = _run(setup, "run")
    for lang in ("en", "ms"):  # another system of similar quality: a word less in every 3rd segment
        path = setup / "hyp" / f"{CORPUS_NAME}.{lang}"
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text("".join((_drop_last(t) if i % 3 == 1 else t) + "\n" for i, t in enumerate(lines)),
                        encoding="utf-8")
    other = _run(setup, "other")
    pair = (read_run(run / CORPUS_NAME), read_run(other / CORPUS_NAME))
    gate = Gate(samples=1000)
    together = check_all([pair, pair], gate, labels=["first", "second"])
    alone = check(*pair, gate)
    p_together = [r.comparison.p_value for r in together[0].rows]
    p_alone = [r.comparison.p_value for r in alone.rows]
    metric_rows = [r for r in alone.rows if not r.comparison.metric.startswith("flag:")]
    assert len(metric_rows) == 16  # 2 systems × 2 directions × 4 metrics, and the rates of the flags raised
    assert len(p_together) == len(p_alone)
    assert all(t >= a for t, a in zip(p_together, p_alone, strict=True))
    assert any(t > a for t, a in zip(p_together, p_alone, strict=True)), (p_together, p_alone)
    assert all(r.comparison.test.startswith("test:maxt|sided:one|n:1000|") for report in together
               for r in report.rows)
