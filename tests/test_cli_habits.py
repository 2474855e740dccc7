"""What a newcomer and a script expect of the command line: quiet output, JSON, shortcuts, pipes, readable tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalharness.cli import main
from evalharness.corpus import load_corpus
from tests.conftest import CORPUS_NAME, REPO

CORPUS = load_corpus(CORPUS_NAME)
REFS = {"en": [p.text("en") for p in CORPUS.pairs], "ms": [p.text("ms") for p in CORPUS.pairs]}


def _config(tmp_path: Path) -> Path:
    """A files-backend config (no model): the references with words dropped, and a copy-the-source floor."""
    (tmp_path / "ms-en.txt").write_text("".join(" ".join(t.split()[:-2]) + "\n" for t in REFS["en"]),
                                        encoding="utf-8")
    (tmp_path / "en-ms.txt").write_text("".join(t + "\n" for t in REFS["ms"]), encoding="utf-8")
    config = tmp_path / "c.yaml"
    config.write_text("systems:\n  - name: mt\n    backend: files\n    hypotheses:\n"
                      f"      ms-en: {tmp_path / 'ms-en.txt'}\n      en-ms: {tmp_path / 'en-ms.txt'}\n"
                      "  - name: floor\n    backend: copy\nstatistics: {resamples: 200}\n", encoding="utf-8")
    return config


def test_quiet_prints_only_the_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["run", "-c", str(_config(tmp_path)), "--run-dir", str(tmp_path / "r"), "-q"]) == 0
    out, err = capsys.readouterr()
    assert out == f"{tmp_path / 'r'}\n" and err == ""


def test_run_prints_an_aligned_table_and_the_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["run", "-c", str(_config(tmp_path)), "--run-dir", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "| ---" not in out  # not raw Markdown
    assert "floor ms-en: 29/29 segments flagged: copy 29" in out
    assert all(len(line) <= 80 for line in out.splitlines() if not line.startswith("wrote ")), out


def test_intervals_hold_the_score_as_printed(tmp_path: Path) -> None:
    assert main(["run", "-c", str(_config(tmp_path)), "--run-dir", str(tmp_path / "r"), "-q"]) == 0
    summary = (tmp_path / "r" / "summary.md").read_text(encoding="utf-8")
    import re

    for score, low, high in re.findall(r"(\d+\.\d\d) \[(\d+\.\d\d), (\d+\.\d\d)\]", summary):
        assert float(low) <= float(score) <= float(high), (score, low, high)


def test_json_output_of_run_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path)
    capsys.readouterr()
    assert main(["run", "-c", str(config), "--run-dir", str(tmp_path / "r"), "-q", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["run_dir"] == str(tmp_path / "r") and doc["results"]["mt"]["ms-en"]["segments"] == 29
    assert main(["baseline", "update", str(tmp_path / "r"), "-o", str(tmp_path / "b.json")]) == 0
    capsys.readouterr()
    assert main(["check", "--baseline", str(tmp_path / "b.json"), str(tmp_path / "r"), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    metric_rows = [r for r in report["rows"] if not r["metric"].startswith("flag:")]
    flag_rows = [r for r in report["rows"] if r["metric"].startswith("flag:")]
    assert report["passed"] is True and len(metric_rows) == 16 and report["failures"] == []
    # the copy floor raises copy and wrong_language on both sides: their rates are rows too, unchanged
    assert {r["metric"] for r in flag_rows} >= {"flag:copy"} and all(r["delta"] == 0 for r in flag_rows)
    assert {"tolerance", "alpha", "status", "p_value"} <= set(report["rows"][0])


def test_limit_and_where_are_said_in_the_summary(tmp_path: Path) -> None:
    assert main(["run", "-c", str(_config(tmp_path)), "--run-dir", str(tmp_path / "r"), "-q", "--limit", "5",
                 "--where", "kind=body"]) == 0
    results = json.loads((tmp_path / "r" / "results.json").read_text(encoding="utf-8"))
    assert results["results"]["mt"]["ms-en"]["segments"] == 5
    summary = (tmp_path / "r" / "summary.md").read_text(encoding="utf-8")
    assert "29 segments" in summary and "--where kind=body and --limit 5 keeps 5 (ms-en), 5 (en-ms)" in summary


def test_compare_two_systems_of_one_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "-c", str(_config(tmp_path)), "--run-dir", str(tmp_path / "r"), "-q"]) == 0
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "r"), "--system-a", "floor", "--system-b", "mt", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["comparisons"]
    assert {r["system"] for r in rows} == {"floor → mt"} and all(r["verdict"] == "better" for r in rows)
    assert main(["compare", str(tmp_path / "r"), "--system-a", "floor", "--system-b", "nope"]) == 2
    assert "has no system 'nope' (its systems: floor, mt)" in capsys.readouterr().err


def test_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("".join(f"Baris {i} yang agak panjang untuk mengisi paip.\n" for i in range(20000)),
                   encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "evalharness", "corpus", "export", "--ms", str(big), "--en",
                             str(big), "--lang", "ms"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and err == "", err


def test_cache_clear_asks_only_on_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evalharness.store import TranslationStore
    from evalharness.systems import Translation

    path = tmp_path / "c.sqlite3"
    with TranslationStore(path) as cache:
        cache.put_many("i", {"backend": "x"}, "en", "ms", [("k", Translation("y"))])
    done = subprocess.run([sys.executable, "-m", "evalharness", "cache", "clear", "--path", str(path)],
                          input="", capture_output=True, text=True, cwd=REPO, check=False)  # stdin not a terminal
    assert done.returncode == 0 and "removed 1 entries" in done.stdout


@pytest.mark.slow
def test_model_shortcut_sets_every_model_system(tiny_model_dir: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["run", "-c", "default", "--model", f"opus-mt-mul-en={tiny_model_dir}",
                 "--model", f"opus-mt-en-mul={tiny_model_dir}", "--device", "cpu", "--batch-size", "4",
                 "--limit", "3", "--set", "systems.0.generation.max_new_tokens=8",
                 "--set", "systems.1.generation.max_new_tokens=8", "--run-dir", str(tmp_path / "r"), "-q"]) == 0
    systems = json.loads((tmp_path / "r" / "results.json").read_text(encoding="utf-8"))["manifest"]["systems"]
    assert {s["model"] for s in systems.values()} == {str(tiny_model_dir)}
    assert {s["generation"]["batch_size"] for s in systems.values()} == {4}
    assert "loading" not in capsys.readouterr().err  # -q: no status lines either


def test_one_model_for_several_model_systems_is_refused(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The default config has a model per direction: one --model for both would translate en-ms with mul-en."""
    assert main(["run", "-c", "default", "--model", str(tmp_path), "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "2 model systems (opus-mt-mul-en, opus-mt-en-mul)" in err[0], err
    assert "--model SYSTEM=ID_OR_DIR" in err[0] and "--set systems.N.model=" in err[0]
    assert not (tmp_path / "r").exists()
    one = tmp_path / "c.yaml"  # named in messages only
    from evalharness.commands.options import model_overrides

    assert model_overrides(one, {0: "only"}, [str(tmp_path)]) == [f"systems.0.model={tmp_path}"]
    assert model_overrides(one, {0: "a", 1: "b"}, ["b=x/y"]) == ["systems.1.model=x/y"]


def test_run_keeps_the_bleu_breakdown(tmp_path: Path) -> None:
    """results.json and summary.md carry BLEU's breakdown as sacrebleu prints it for the same outputs."""
    assert main(["run", "-c", str(_config(tmp_path)), "--run-dir", str(tmp_path / "r"), "-q"]) == 0
    results = json.loads((tmp_path / "r" / "results.json").read_text(encoding="utf-8"))
    scores = results["results"]["mt"]["ms-en"]["scores"]
    assert "breakdown" not in scores["chrf"]
    verbose = scores["bleu"]["breakdown"]["verbose_score"]
    ref = tmp_path / "ref.en"
    ref.write_text("".join(t + "\n" for t in REFS["en"]), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "sacrebleu", str(ref), "-i", str(tmp_path / "ms-en.txt"), "-m",
                           "bleu", "-f", "text"], capture_output=True, text=True, check=True)
    assert done.stdout.strip().endswith(f" {verbose}")
    summary = (tmp_path / "r" / "summary.md").read_text(encoding="utf-8")
    assert f"- mt ms-en BLEU: `{verbose}`" in summary


def test_check_quiet_prints_only_failures_and_the_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """-q means the same in every command: no tables or notes. check -q prints the failures and the verdict line;
    without -q the table and notes stay."""
    config = _config(tmp_path)
    assert main(["run", "-c", str(config), "--run-dir", str(tmp_path / "good"), "-q"]) == 0
    assert main(["baseline", "update", str(tmp_path / "good"), "-o", str(tmp_path / "b.json")]) == 0
    capsys.readouterr()
    assert main(["check", "--baseline", str(tmp_path / "b.json"), str(tmp_path / "good"), "-q"]) == 0
    assert capsys.readouterr().out == "PASS: no regression\n"
    # a much worse system: half of every hypothesis gone
    (tmp_path / "ms-en.txt").write_text("".join(" ".join(t.split()[: len(t.split()) // 2]) + "\n"
                                                for t in REFS["en"]), encoding="utf-8")
    assert main(["run", "-c", str(config), "--run-dir", str(tmp_path / "bad"), "-q"]) == 0
    capsys.readouterr()
    assert main(["check", "--baseline", str(tmp_path / "b.json"), str(tmp_path / "bad"), "-q"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("FAIL: ") and len(lines) >= 2
    assert all(line.startswith("REGRESSION ") or "broken" in line or "fails" in line for line in lines[:-1]), lines
    assert not any("tolerance" in line and "status" in line for line in lines)  # no table header
    assert main(["check", "--baseline", str(tmp_path / "b.json"), str(tmp_path / "bad")]) == 1
    full = capsys.readouterr().out
    assert "status" in full and "Test: one permutation test" in full and full.endswith(lines[-1] + "\n")


def test_check_help_says_what_q_does_and_the_default_test(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "paired bootstrap" not in text and "test maxt" in text
    assert "only the failures and the verdict line" in text
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "only the run directory" in " ".join(capsys.readouterr().out.split())


def test_run_html_names_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["run", "-c", str(_config(tmp_path)), "--run-dir", str(tmp_path / "r"), "--html"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith(f"wrote {tmp_path / 'r'} and the report {tmp_path / 'r' / 'report.html'}")
    assert (tmp_path / "r" / "report.html").is_file()


@pytest.mark.slow
def test_progress_in_a_log_is_one_line_per_bar_without_carriage_returns(tiny_model_dir: Path,
                                                                       tmp_path: Path) -> None:
    """stderr a pipe (a CI log): no tqdm redraws (\\r) mixed with the "loading …" lines, one line per bar."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", EVALHARNESS_CACHE_DIR=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-m", "evalharness", "run", "-c", "default",
                           "--model", f"opus-mt-mul-en={tiny_model_dir}", "--model", f"opus-mt-en-mul={tiny_model_dir}",
                           "--limit", "3", "--set", "systems.0.generation.max_new_tokens=8",
                           "--set", "systems.1.generation.max_new_tokens=8", "--run-dir", str(tmp_path / "r")],
                          capture_output=True, text=True, cwd=REPO, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr
    lines = done.stderr.splitlines()
    assert any(line.startswith("opus-mt-mul-en ms-en: 3/3 seg in ") for line in lines), lines
    assert any(line.startswith("opus-mt-en-mul en-ms: 3/3 seg in ") for line in lines), lines
