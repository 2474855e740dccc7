"""Significance, compare, baseline and the CI gate, through the library and the real CLI."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from sacrebleu.significance import Result, _paired_ar_test, _paired_bs_test

from evalharness.cli import main
from evalharness.corpus import load_corpus
from evalharness.gate.check import is_regression
from evalharness.gate.compare import Comparison, verdict
from evalharness.runs.config import Gate, GateRule
from evalharness.scoring.metrics import get_metric
from evalharness.scoring.significance import confidence_interval, paired_test
from tests.conftest import CORPUS_NAME, REPO

CORPUS = load_corpus(CORPUS_NAME)
REFS = {"en": [p.text("en") for p in CORPUS.pairs], "ms": [p.text("ms") for p in CORPUS.pairs]}


def _drop_last_word(texts: list[str], every: int = 3) -> list[str]:
    return [" ".join(t.split()[:-1]) if i % every == 0 else t for i, t in enumerate(texts)]


# --------------------------------------------------------------------------- statistics


@pytest.mark.parametrize("metric_name", ["bleu", "chrf", "chrf++", "ter"])
@pytest.mark.parametrize("test", ["bs", "ar"])
def test_paired_p_values_equal_sacrebleu(metric_name: str, test: str) -> None:
    refs = REFS["en"]
    sys_a = _drop_last_word(refs)
    sys_b = list(sys_a)
    for i in (2, 11, 20):
        sys_b[i] = REFS["ms"][i]
    metric = get_metric(metric_name)
    stats_a, stats_b = metric.segment_stats(sys_a, refs), metric.segment_stats(sys_b, refs)
    ours = paired_test(metric, stats_a, stats_b, test=test, seed=12345)  # type: ignore[arg-type]
    baseline = {metric_name: (np.array(stats_a, dtype="float32"), Result(metric.score_from_stats(stats_a)))}
    fn = _paired_bs_test if test == "bs" else _paired_ar_test
    _, theirs = fn(baseline, "b", sys_b, [refs], {metric_name: get_metric(metric_name).corpus_metric},
                   n_samples=1000 if test == "bs" else 10000, seed=12345)
    assert ours.p_value == pytest.approx(theirs[metric_name].p_value, abs=1e-12)
    assert ours.b == pytest.approx(theirs[metric_name].score, abs=1e-9)


def test_identical_systems_have_p_one_and_zero_delta() -> None:
    metric = get_metric("bleu")
    stats = metric.segment_stats(REFS["en"][:10], REFS["en"][:10])
    result = paired_test(metric, stats, stats)
    assert (result.delta, result.p_value, result.ci_low, result.ci_high) == (0.0, 1.0, 0.0, 0.0)


def test_confidence_interval_contains_the_score_and_is_seeded() -> None:
    metric = get_metric("chrf")
    hyps = _drop_last_word(REFS["en"], every=2)
    stats = metric.segment_stats(hyps, REFS["en"])
    low, high = confidence_interval(metric, stats, seed=1)
    assert low < metric.score_from_stats(stats) < high
    assert confidence_interval(metric, stats, seed=1) == (low, high)
    assert confidence_interval(metric, stats, seed=2) != (low, high)


VERDICTS = [  # delta, higher_is_better, p, alpha, expected
    (+2.0, True, 0.01, 0.05, "better"),
    (-2.0, True, 0.01, 0.05, "worse"),
    (-2.0, True, 0.20, 0.05, "no significant difference"),
    (+2.0, False, 0.01, 0.05, "worse"),  # TER up
    (-2.0, False, 0.01, 0.05, "better"),  # TER down
    (0.0, True, 0.001, 0.05, "no significant difference"),
]


@pytest.mark.parametrize(("delta", "hib", "p", "alpha", "expected"), VERDICTS)
def test_verdict_honours_direction(delta: float, hib: bool, p: float, alpha: float, expected: str) -> None:
    assert verdict(delta, hib, p, alpha) == expected


REGRESSIONS = [  # delta, higher_is_better, p, tolerance, alpha, regression?
    (-3.0, True, 0.01, 1.0, 0.05, True),  # worse, large, significant
    (-3.0, True, 0.20, 1.0, 0.05, False),  # not significant
    (-0.5, True, 0.001, 1.0, 0.05, False),  # significant but within tolerance
    (-1.0, True, 0.001, 1.0, 0.05, False),  # exactly at tolerance is not beyond it
    (+3.0, True, 0.001, 1.0, 0.05, False),  # better
    (+3.0, False, 0.01, 1.0, 0.05, True),  # TER increase is a regression
    (-3.0, False, 0.01, 1.0, 0.05, False),  # TER decrease is not
    (-3.0, True, 0.03, 1.0, 0.01, False),  # stricter alpha
]


@pytest.mark.parametrize(("delta", "hib", "p", "tol", "alpha", "expected"), REGRESSIONS)
def test_regression_needs_tolerance_and_significance(delta: float, hib: bool, p: float, tol: float, alpha: float,
                                                     expected: bool) -> None:
    row = Comparison("s", "ms-en", "bleu" if hib else "ter", hib, 50.0, 50.0 + delta, delta, 0.0, 0.0, p, "", 1.0, 29)
    assert is_regression(row, tol, alpha) is expected


def test_gate_rule_per_direction() -> None:
    gate = Gate(tolerance={"bleu": 1.0, "ter": 2.0}, alpha=0.05,
                per_direction={"en-ms": GateRule(tolerance={"bleu": 3.0}, alpha=0.01)})
    assert gate.rule("ms-en", "bleu") == (1.0, 0.05)
    assert gate.rule("en-ms", "bleu") == (3.0, 0.01)
    assert gate.rule("en-ms", "ter") == (2.0, 0.01)
    assert gate.rule("ms-en", "chrf") == (1.0, 0.05)  # unset metrics keep their default, not 0


# --------------------------------------------------------------------------- the CLI with the files system


def _files_run(tmp_path: Path, name: str, ms_en: list[str], en_ms: list[str], gate: str = "") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "ms-en.txt").write_text("".join(f"{h}\n" for h in ms_en), encoding="utf-8")
    (folder / "en-ms.txt").write_text("".join(f"{h}\n" for h in en_ms), encoding="utf-8")
    config = folder / "config.yaml"
    config.write_text(
        "systems:\n  - name: mt\n    backend: files\n    hypotheses:\n"
        f"      ms-en: {folder / 'ms-en.txt'}\n      en-ms: {folder / 'en-ms.txt'}\n{gate}", encoding="utf-8")
    assert main(["run", "-c", str(config), "--run-dir", str(folder / "run"), "-q"]) == 0
    return folder / "run"


@pytest.fixture
def good_baseline(tmp_path: Path) -> Path:
    """A strong system (references with a word dropped in every third segment) as the committed baseline."""
    run = _files_run(tmp_path, "good", _drop_last_word(REFS["en"]), _drop_last_word(REFS["ms"]))
    baseline = tmp_path / "baseline.json"
    assert main(["baseline", "update", str(run), "-o", str(baseline)]) == 0
    return baseline


def test_identical_runs_never_fail(tmp_path: Path, good_baseline: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(10):
        run = _files_run(tmp_path, f"same{i}", _drop_last_word(REFS["en"]), _drop_last_word(REFS["ms"]))
        assert main(["check", "--baseline", str(good_baseline), str(run), "-q"]) == 0
        assert "PASS: no regression" in capsys.readouterr().out


def test_copying_the_source_in_ten_percent_of_segments_fails(tmp_path: Path, good_baseline: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    damaged = _drop_last_word(REFS["en"])
    for i in (4, 13, 22):  # 3 of 29 segments: the Malay source instead of an English translation
        damaged[i] = REFS["ms"][i]
    run = _files_run(tmp_path, "copy", damaged, _drop_last_word(REFS["ms"]))
    assert main(["check", "--baseline", str(good_baseline), str(run), "-q"]) == 1
    out = capsys.readouterr().out
    # The family test over all 8 rows rarely sees 3 of 29 segments (~14 % of the time, README calibration);
    # the segment rule always does: each copied paragraph newly earns the copy flag.
    broken = [line for line in out.splitlines() if line.startswith("BROKEN")]
    assert [line.split(":")[0] for line in broken] == [f"BROKEN mt ms-en {CORPUS.pairs[i].id}" for i in (4, 13, 22)]
    assert all("new flag: copy" in line for line in broken)
    # Tested row by row (gate.test: bs, no family correction) the rates of the copy and wrong-language flags
    # regress too (0 → 3 of 29); the corpus scores do not move by significantly more than their tolerance.
    per_row = _files_run(tmp_path, "per-row", damaged, _drop_last_word(REFS["ms"]), gate="gate: {test: bs}\n")
    assert main(["check", "--baseline", str(good_baseline), str(per_row), "-q"]) == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("REGRESSION")]
    assert lines and all(" ms-en " in line for line in lines)  # en-ms was not touched
    assert any(line.startswith("REGRESSION mt ms-en flag:copy: baseline 0.00, new 10.34") and "tolerance 0.00" in line
               and "p=" in line and "test:bs|sided:one" in line for line in lines), lines


def test_truncated_outputs_fail(tmp_path: Path, good_baseline: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cut = [" ".join(t.split()[: len(t.split()) // 2]) for t in _drop_last_word(REFS["ms"])]
    run = _files_run(tmp_path, "cut", _drop_last_word(REFS["en"]), cut)
    junit, md = tmp_path / "junit.xml", tmp_path / "check.md"
    assert main(["check", "--baseline", str(good_baseline), str(run), "--junit", str(junit),
                 "--summary-md", str(md)]) == 1
    out = capsys.readouterr().out
    # Halving every paragraph: the corpus scores regress, and every paragraph is cut off mid-sentence.
    broken = [line for line in out.splitlines() if line.startswith("BROKEN mt en-ms ")]
    assert len(broken) == 29 and all("new flag: truncated" in line for line in broken)
    # 4 metrics regress, and so does the rate of truncated outputs (0 % → 100 %: a row of the paired test)
    assert f"FAIL: 5 regression(s), {len(broken)} broken segment(s)" in out
    assert any(line.startswith("REGRESSION mt en-ms flag:truncated: baseline 0.00, new 100.00")
               for line in out.splitlines()), out
    assert "Minimum detectable difference on these 29 segments" in out
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == str(9 + len(broken)) and suite.get("failures") == str(5 + len(broken))
    failed = {(c.get("classname"), c.get("name")) for c in suite if c.find("failure") is not None}
    assert {("evalharness.mt.en-ms", m) for m in ("BLEU", "chrF", "chrF++", "TER", "flag:truncated")} <= failed
    assert len(failed) == 5 + len(broken)
    assert f"**FAIL: 5 regression(s), {len(broken)} broken segment(s)**" in md.read_text(encoding="utf-8")


def test_improvement_passes_and_step_summary_is_appended(tmp_path: Path, good_baseline: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run = _files_run(tmp_path, "perfect", REFS["en"], REFS["ms"])
    assert main(["check", "--baseline", str(good_baseline), str(run), "-q"]) == 0
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n") and "**PASS: no regression**" in text


def test_tolerance_from_the_config_gate_section(tmp_path: Path, good_baseline: Path) -> None:
    cut = [" ".join(t.split()[: len(t.split()) // 2]) for t in _drop_last_word(REFS["ms"])]
    # Tolerances govern corpus scores; the halved paragraphs also broke (dropped sentences), which the segment
    # rule would catch on its own, so this config switches that rule off to test the tolerances alone.
    lenient = ("gate:\n  tolerance: {bleu: 1.0, chrf: 1.0, chrf++: 1.0, ter: 1.0}\n"
               "  per_direction:\n    en-ms: {tolerance: {bleu: 90, chrf: 90, chrf++: 90, ter: 90}}\n"
               "  segments: {enabled: false}\n")
    run = _files_run(tmp_path, "cut", _drop_last_word(REFS["en"]), cut, gate=lenient)
    assert main(["check", "--baseline", str(good_baseline), str(run), "-q"]) == 0


def test_compare_json_and_direction_of_goodness(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    worse = _files_run(tmp_path, "worse", _drop_last_word(REFS["en"], every=1), REFS["ms"])
    better = _files_run(tmp_path, "better", REFS["en"], REFS["ms"])
    capsys.readouterr()
    assert main(["compare", str(worse), str(better), "--format", "json", "--metrics", "bleu,ter"]) == 0
    rows = {(r["direction"], r["metric"]): r for r in json.loads(capsys.readouterr().out)["comparisons"]}
    assert rows[("ms-en", "ter")]["delta"] < 0 and rows[("ms-en", "ter")]["verdict"] == "better"
    assert rows[("ms-en", "bleu")]["delta"] > 0 and rows[("ms-en", "bleu")]["verdict"] == "better"
    assert rows[("en-ms", "bleu")]["verdict"] == "no significant difference"
    assert main(["compare", str(worse), str(better)]) == 0
    assert "CI of Δ (1−α, test's)" in capsys.readouterr().out


# --------------------------------------------------------------------------- bad baselines


def _edit_baseline(good_baseline: Path, tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    doc = json.loads(good_baseline.read_text(encoding="utf-8"))
    edit(doc)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


BAD_BASELINES = {
    "other corpus version": (lambda d: d["manifest"]["corpus"].update(version="0.9.0"), "corpus version"),
    "other corpus hash": (lambda d: d["manifest"]["corpus"].update(content_hash="sha256:00"), "content_hash"),
    "other signature": (lambda d: d["results"]["mt"]["ms-en"]["scores"]["bleu"].update(
        signature="nrefs:1|case:lc|eff:no|tok:13a|smooth:exp|version:2.6.0"), "signatures differ"),
    "system missing from run": (
        lambda d: (d["results"].update(other=d["results"]["mt"]), d["segments"].update(other=d["segments"]["mt"])),
        "has no results for other"),
    "damaged": (lambda d: d.pop("results"), "damaged baseline file: results: Field required"),
    "ids and hypotheses": (lambda d: d["segments"]["mt"]["ms-en"]["hypotheses"].pop(), "29 ids but 28 hypotheses"),
    "not a baseline": (lambda d: d.update(kind="something"), "not an evalharness baseline"),
}


@pytest.mark.parametrize("case", sorted(BAD_BASELINES))
def test_bad_baseline_is_exit_2(case: str, tmp_path: Path, good_baseline: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    edit, expected = BAD_BASELINES[case]
    baseline = _edit_baseline(good_baseline, tmp_path, edit)
    run = _files_run(tmp_path, "run", _drop_last_word(REFS["en"]), _drop_last_word(REFS["ms"]))
    assert main(["check", "--baseline", str(baseline), str(run), "-q"]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1, err


def test_invalid_json_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "b.json"
    path.write_text('{"kind": "evalharness-baseline",\n', encoding="utf-8")
    run = _files_run(tmp_path, "run", REFS["en"], REFS["ms"])
    assert main(["check", "--baseline", str(path), str(run)]) == 2
    assert f"{path}:2: invalid JSON in baseline file" in capsys.readouterr().err


def test_baseline_update_on_a_bad_run_dir_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "half").mkdir()
    out = tmp_path / "b.json"
    assert main(["baseline", "update", str(tmp_path / "half"), "-o", str(out)]) == 2
    assert "half: not a run directory (no results.json)" in capsys.readouterr().err
    assert not out.exists()


# --------------------------------------------------------------------------- the tiny model


@pytest.mark.slow
def test_tiny_model_gate_identical_runs_pass_and_a_damaged_run_fails(
        tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = REPO / "configs" / "ci-example.yaml"
    model = ["--set", f"systems.1.model={tiny_model_dir}", "--set", "systems.1.generation.max_new_tokens=16"]
    assert main(["run", "-c", str(config), *model, "--run-dir", str(tmp_path / "base"), "-q"]) == 0
    baseline = tmp_path / "baseline.json"
    assert main(["baseline", "update", str(tmp_path / "base"), "-o", str(baseline)]) == 0
    for i in range(10):
        assert main(["check", "--baseline", str(baseline), "--config", str(config), *model, "--no-cache",
                     "--run-dir", str(tmp_path / f"again{i}"), "-q"]) == 0
    capsys.readouterr()
    # Damage: the same model with its outputs truncated by a tight max_new_tokens.
    truncated = ["--set", f"systems.1.model={tiny_model_dir}", "--set", "systems.1.generation.max_new_tokens=3"]
    assert main(["check", "--baseline", str(baseline), "--config", str(config), *truncated,
                 "--run-dir", str(tmp_path / "cut"), "-q"]) == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("REGRESSION")]
    assert any(line.startswith("REGRESSION tiny-marian ms-en chrF:") for line in lines), lines
    assert any(line.startswith("REGRESSION tiny-marian en-ms chrF:") for line in lines), lines
    assert not any("copy-source" in line for line in lines)


@pytest.mark.parametrize("metric_name", ["bleu", "chrf", "chrf++", "ter"])
def test_vectorised_scores_equal_sacrebleu_row_by_row(metric_name: str) -> None:
    from evalharness.scoring.significance import scores_of_sums

    metric = get_metric(metric_name)
    hyps = _drop_last_word(REFS["en"], every=2)
    hyps[3], hyps[7], hyps[9] = "", "x", REFS["ms"][9]  # empty, one-word and wrong-language outputs
    stats = np.array(metric.segment_stats(hyps, REFS["en"]), dtype="float64")
    rng = np.random.default_rng(0)
    rows = [stats[rng.choice(len(stats), size=k)].sum(0) for k in (1, 1, 2, 3, 29, 29, 29)]
    rows += [stats[3], stats[7], np.zeros_like(stats[0])]  # single degenerate segments, all-zero statistics
    ours = scores_of_sums(metric, np.array(rows))
    theirs = [metric.corpus_metric._compute_score_from_stats(list(map(float, r))).score for r in rows]
    assert ours == pytest.approx(theirs, abs=1e-9)


# --------------------------------------------------------------------------- a baseline is not a run


def test_a_baseline_where_a_run_is_needed_is_refused(tmp_path: Path, good_baseline: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # The baseline keeps no references: scored again it compared empty strings (BLEU 0.00 vs 0.00) and the gate
    # said PASS even for a run with real regressions.
    cut = [" ".join(t.split()[: len(t.split()) // 2]) for t in _drop_last_word(REFS["ms"])]
    bad_run = _files_run(tmp_path, "cut", _drop_last_word(REFS["en"]), cut)
    bad_baseline = tmp_path / "bad-baseline.json"
    assert main(["baseline", "update", str(bad_run), "-o", str(bad_baseline)]) == 0
    capsys.readouterr()
    for argv in (["compare", str(bad_run), str(good_baseline)],
                 ["check", "--baseline", str(good_baseline), str(bad_baseline)],
                 ["report", str(good_baseline), "-o", str(tmp_path / "r.html")],
                 ["baseline", "update", str(good_baseline), "-o", str(tmp_path / "again.json")]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{good_baseline if 'check' not in argv else bad_baseline} is a baseline " \
            "file, not a run" in err, (argv, err)
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "again.json").exists()
    # As A (the reference side) a baseline is what compare and check are for.
    assert main(["check", "--baseline", str(good_baseline), str(bad_run), "-q"]) == 1
    assert main(["compare", str(good_baseline), str(bad_run)]) == 0


DAMAGED_RUNS = {
    "manifest missing": ("results.json", lambda d: d.pop("manifest"), "manifest: Field required"),
    "system null": ("results.json", lambda d: d["results"].update(mt=None), "results.mt: Input should be a valid"),
    "score a string": ("results.json", lambda d: d["results"]["mt"]["ms-en"]["scores"]["bleu"].update(score="x"),
                       "results.mt.ms-en.scores.bleu.score: Input should be a valid number"),
    "unknown key": ("results.json", lambda d: d.update(extra=1), "extra: unexpected key"),
}


@pytest.mark.parametrize("case", sorted(DAMAGED_RUNS))
def test_damaged_run_files_are_one_line(tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]) -> None:
    name, damage, expected = DAMAGED_RUNS[case]
    run = _files_run(tmp_path, "r", REFS["en"], REFS["ms"])
    path = run / name
    doc = json.loads(path.read_text(encoding="utf-8"))
    damage(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")
    capsys.readouterr()
    assert main(["compare", str(run), str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "damaged results file" in err and expected in err, err


@pytest.mark.parametrize(("line", "expected"), [("[1, 2]", "Input should be a valid dictionary"),
                                                ('{"system": "mt"}', "direction: Field required"),
                                                ("{not json", "invalid JSON")])
def test_damaged_segment_line_is_one_line(tmp_path: Path, line: str, expected: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    run = _files_run(tmp_path, "r", REFS["en"], REFS["ms"])
    lines = (run / "segments.jsonl").read_text(encoding="utf-8").split("\n")
    lines[3] = line
    (run / "segments.jsonl").write_text("\n".join(lines), encoding="utf-8")
    capsys.readouterr()
    assert main(["report", str(run), "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "segments.jsonl:4" in err and expected in err, err


def test_a_hypothesis_with_unicode_line_separators_reads_back(tmp_path: Path) -> None:
    odd = list(REFS["en"])
    odd[3] = "first part\u2028second part\u0085third\x0cfourth"
    run = _files_run(tmp_path, "odd", odd, REFS["ms"])
    assert main(["compare", str(run), str(run)]) == 0
    assert main(["report", str(run), "-o", str(tmp_path / "r.html")]) == 0


# --------------------------------------------------------------------------- segment-level breakage


@pytest.mark.parametrize("damage", ["emptied", "garbled", "source copied"])
def test_one_broken_paragraph_fails_the_check(tmp_path: Path, damage: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import random

    good = _drop_last_word(REFS["en"])
    baseline_run = _files_run(tmp_path, "good", good, _drop_last_word(REFS["ms"]))
    baseline = tmp_path / "b.json"
    assert main(["baseline", "update", str(baseline_run), "-o", str(baseline)]) == 0
    bad = list(good)
    i = 5  # one long body paragraph of 29: the corpus scores hardly move
    if damage == "emptied":
        bad[i] = ""
    elif damage == "garbled":  # shuffled, two words in three replaced by noise (chrF ~30, README calibration)
        words = bad[i].split()
        random.Random(0).shuffle(words)
        bad[i] = " ".join(w if k % 3 == 0 else "xq" for k, w in enumerate(words))
    else:
        bad[i] = REFS["ms"][i]
    run = _files_run(tmp_path, "bad", bad, _drop_last_word(REFS["ms"]))
    capsys.readouterr()
    assert main(["check", "--baseline", str(baseline), str(run)]) == 1
    out = capsys.readouterr().out
    broken = [line for line in out.splitlines() if line.startswith("BROKEN")]
    assert len(broken) == 1 and broken[0].startswith(f"BROKEN mt ms-en {CORPUS.pairs[i].id}: "), out
    assert "before: " in out and "after: " in out
    if damage == "source copied":
        assert "new flag: copy" in broken[0]
    # With one breakage allowed (gate.segments.allowed), it is listed but no longer fails the check by itself.
    allowed = _files_run(tmp_path, "allowed", bad, _drop_last_word(REFS["ms"]), gate="gate: {segments: {allowed: 1}}\n")
    code = main(["check", "--baseline", str(baseline), str(allowed)])
    out = capsys.readouterr().out
    assert "1 did, 1 allowed" in out and not any(line.startswith("BROKEN") for line in out.splitlines())
    assert code == 0 or "REGRESSION" in out
