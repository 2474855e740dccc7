"""The gate on outputs shaped like real systems': merges, close languages, one-sided tests, breakage.

Small files built in the test (the article and variants of it); real systems' outputs are measured by
``benchmarks/gate_calibration.py --systems`` (README, *Calibration*), not shipped.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest

from evalharness.cli import main
from evalharness.corpus import load_corpus
from evalharness.gate.segments import FlagRate
from evalharness.scoring.flags import FlagSettings, detect_language, flag_segment
from evalharness.scoring.metrics import get_metric, get_metrics
from evalharness.scoring.significance import FamilyRow, max_statistic_test, paired_test
from tests.conftest import CORPUS_NAME
from tests.test_flags import INDONESIAN_P20

INDONESIAN_P21 = ("Moskow telah mengusulkan untuk mengadakan pertemuan tambahan dengan Tokyo mengenai kekhawatiran "
                  "Rusia atas langkah Washington untuk memasang sistem pertahanan rudal di sepanjang busur Laut Cina "
                  "Selatan, termasuk radar pertahanan rudal baru di Jepang bagian barat yang akan bergabung dengan "
                  "radar yang sudah ada di prefektur Aomori di utara.")
CORPUS = load_corpus(CORPUS_NAME)
PAIRS = {p.id: p for p in CORPUS.pairs}
IDS = [p.id for p in CORPUS.pairs]
REFS = {"en": [p.text("en") for p in CORPUS.pairs], "ms": [p.text("ms") for p in CORPUS.pairs]}


def _run(tmp_path: Path, name: str, ms_en: list[str], en_ms: list[str]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "ms-en.txt").write_text("".join(f"{h}\n" for h in ms_en), encoding="utf-8")
    (folder / "en-ms.txt").write_text("".join(f"{h}\n" for h in en_ms), encoding="utf-8")
    config = folder / "config.yaml"
    config.write_text("systems:\n  - name: mt\n    backend: files\n    hypotheses:\n"
                      f"      ms-en: {folder / 'ms-en.txt'}\n      en-ms: {folder / 'en-ms.txt'}\n"
                      "statistics: {resamples: 100}\ncache: {enabled: false}\n", encoding="utf-8")
    assert main(["run", "-c", str(config), "--run-dir", str(folder / "run"), "-q"]) == 0
    return folder / "run"


def _baseline(tmp_path: Path, ms_en: list[str], en_ms: list[str]) -> Path:
    run = _run(tmp_path, "base", ms_en, en_ms)
    baseline = tmp_path / "baseline.json"
    assert main(["baseline", "update", str(run), "-o", str(baseline)]) == 0
    return baseline


def _check(baseline: Path, run: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """Exit code, and the lines of standard output (standard error's when it fails on bad input)."""
    capsys.readouterr()
    code = main(["check", "--baseline", str(baseline), str(run)])
    captured = capsys.readouterr()
    return code, (captured.err if code == 2 else captured.out).splitlines()


# --------------------------------------------------------------------------- flags that measure what they say


def test_a_sentence_merge_that_keeps_content_earns_no_flag() -> None:
    pair = PAIRS["p12"]
    source, reference = pair.text("en"), pair.text("ms")
    first, second = pair.sides["ms"].sentences
    merged = f"{first.rstrip('.')}, dan {second[0].lower()}{second[1:]}"  # two sentences joined by "dan"
    dropped = first  # the second sentence lost
    settings = FlagSettings()
    flags = flag_segment(source, merged, "en", "ms", expected_ratio=1.0, hit_limit=False, settings=settings,
                         reference=reference)
    assert "dropped_sentences" not in flags and "truncated" not in flags
    lost = flag_segment(source, dropped, "en", "ms", expected_ratio=1.0, hit_limit=False, settings=settings,
                        reference=reference)
    assert lost["dropped_sentences"]["output"] == 1 and lost["dropped_sentences"]["source"] == 2
    # the human reference never earns it, whatever its sentence count
    for p in CORPUS.pairs:
        for src, tgt in (("en", "ms"), ("ms", "en")):
            assert not flag_segment(p.text(src), p.text(tgt), src, tgt, expected_ratio=1.0, hit_limit=False,
                                    settings=settings, reference=p.text(tgt))


def _variants(text: str, count: int, seed: int) -> list[str]:
    """Near-reference variants: a word dropped, two neighbours swapped, a Malay synonym."""
    rng = random.Random(seed)
    synonyms = {"menambah": "menambahkan", "bersetuju": "setuju", "lawatan": "kunjungan", "tetap": "berkala",
                "pemerhati": "pemantau", "yang lalu": "yang lepas", "mengadakan": "melakukan"}
    out = []
    for _ in range(count):
        words = text.split()
        for _ in range(rng.randint(1, 3)):
            move = rng.choice(("drop", "swap", "synonym"))
            i = rng.randrange(len(words) - 1)
            if move == "drop":
                del words[i]
            elif move == "swap":
                words[i], words[i + 1] = words[i + 1], words[i]
            else:
                joined = " ".join(words)
                old = rng.choice(sorted(synonyms))
                words = joined.replace(old, synonyms[old]).split()
        out.append(" ".join(words))
    return out


def test_near_reference_malay_variants_of_p12_do_not_flip_wrong_language(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pair = PAIRS["p12"]
    reference = pair.text("ms")
    assert detect_language(reference)["id"] > 0.5  # lingua reads the article's own Malay p12 as Indonesian
    variants = _variants(reference, 60, seed=12)
    settings = FlagSettings()
    for text in variants:
        flags = flag_segment(pair.text("en"), text, "en", "ms", expected_ratio=1.0, hit_limit=False,
                             settings=settings, reference=reference)
        assert "wrong_language" not in flags, (text, detect_language(text))
    # and through the gate: a baseline and a run that differ only in a variant of p12 pass
    i = IDS.index("p12")
    baseline = _baseline(tmp_path, REFS["en"], REFS["ms"])
    en_ms = list(REFS["ms"])
    en_ms[i] = variants[0]
    code, lines = _check(baseline, _run(tmp_path, "variant", REFS["en"], en_ms), capsys)
    assert code == 0 and not any(line.startswith("BROKEN") for line in lines)


# --------------------------------------------------------------------------- breakage still fails, from one segment


@pytest.mark.parametrize(("pid", "damage", "reason"), [
    ("p20", "indonesian", "new flag: wrong_language"),
    ("p07", "the", "new flag: truncated"),
    ("p21", "emptied", "new flag: truncated"),
    ("p21", "half", "new flag: truncated"),
    ("p05", "source", "new flag: copy"),
])
def test_one_broken_segment_fails_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str], pid: str,
                                            damage: str, reason: str) -> None:
    i = IDS.index(pid)
    baseline = _baseline(tmp_path, REFS["en"], REFS["ms"])
    en_ms = list(REFS["ms"])
    words = en_ms[i].split()
    en_ms[i] = {"indonesian": INDONESIAN_P20, "the": "the", "emptied": "", "half": " ".join(words[: len(words) // 2]),
                "source": REFS["en"][i]}[damage]
    code, lines = _check(baseline, _run(tmp_path, "bad", REFS["en"], en_ms), capsys)
    broken = [line for line in lines if line.startswith("BROKEN")]
    assert code == 1 and len(broken) == 1 and broken[0].startswith(f"BROKEN mt en-ms {pid}: {reason}"), lines


def test_a_baseline_that_raises_the_flag_itself_is_compared_by_rate(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # A system whose Malay often reads as Indonesian (as real ones do: FLORES-200, one system on 42 % of its lines):
    # one more such paragraph is its habit, not a break; the rate row compares the counts.
    i = IDS.index("p20")
    base_ms = list(REFS["ms"])
    base_ms[IDS.index("p21")] = INDONESIAN_P21
    baseline = _baseline(tmp_path, REFS["en"], base_ms)
    en_ms = list(base_ms)
    en_ms[i] = INDONESIAN_P20
    code, lines = _check(baseline, _run(tmp_path, "new", REFS["en"], en_ms), capsys)
    assert not any(line.startswith("BROKEN") for line in lines), lines
    assert any("the baseline itself raises wrong_language on 1 of 29 segments" in line for line in lines), lines
    assert any(" flag:wrong_language " in f" {line} " for line in lines)  # the rate is a row of the test
    assert code == 0  # 1 → 2 of 29 is no significant rise


# --------------------------------------------------------------------------- equal quality passes


def _system(refs: list[str], lang: str, seed: int) -> list[str]:
    """A real-like system: references with words dropped or swapped, two sentences merged in some paragraphs and a
    sentence lost in one (as sentence-trained models do)."""
    rng = random.Random(seed)
    joiner = " dan " if lang == "ms" else " and "
    out = []
    for k, (text, pair) in enumerate(zip(refs, CORPUS.pairs, strict=True)):
        sentences = pair.sides[lang].sentences
        if len(sentences) > 1 and rng.random() < 0.4:
            text = sentences[0].rstrip(".") + joiner + " ".join(sentences[1:])  # merged
        elif len(sentences) > 1 and k % 7 == seed % 7:
            text = " ".join(sentences[:-1])  # a sentence lost
        words = [w for w in text.split() if rng.random() > 0.08 or len(text.split()) < 8]
        for j in range(len(words) - 1):
            if rng.random() < 0.05:
                words[j], words[j + 1] = words[j + 1], words[j]
        out.append(" ".join(words))
    return out


def test_equal_quality_mixes_of_two_real_like_systems_pass_20_of_20(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    x = {lang: _system(REFS[lang], lang, seed=1) for lang in ("en", "ms")}
    y = {lang: _system(REFS[lang], lang, seed=2) for lang in ("en", "ms")}
    assert x["ms"] != y["ms"] and x["en"] != y["en"]
    rng = random.Random(22)
    codes = []
    for trial in range(20):
        sides = []
        for _ in range(2):  # A and B: independent per-segment mixes of X and Y
            pick = {lang: [rng.random() < 0.5 for _ in IDS] for lang in ("en", "ms")}
            sides.append({lang: [x[lang][j] if pick[lang][j] else y[lang][j] for j in range(len(IDS))]
                          for lang in ("en", "ms")})
        folder = tmp_path / f"t{trial}"
        folder.mkdir()
        baseline = folder / "baseline.json"
        assert main(["baseline", "update", str(_run(folder, "a", sides[0]["en"], sides[0]["ms"])), "-o",
                     str(baseline)]) == 0
        code, lines = _check(baseline, _run(folder, "b", sides[1]["en"], sides[1]["ms"]), capsys)
        codes.append((code, [line for line in lines if line.startswith(("REGRESSION", "BROKEN"))]))
    assert [c for c, _ in codes] == [0] * 20, [c for c in codes if c[0]]


# --------------------------------------------------------------------------- one-sided tests, intervals to the bit


def _stats(seed: int, n: int = 29) -> tuple[list[str], list[str], list[str]]:
    rng = random.Random(seed)
    refs = REFS["en"][:n]
    a = [" ".join(w for w in r.split() if rng.random() > 0.1) for r in refs]
    b = [" ".join(w for w in r.split() if rng.random() > 0.1) for r in refs]
    return refs, a, b


def test_gate_tests_are_one_sided_and_intervals_agree_with_verdicts() -> None:
    metrics = get_metrics(["bleu", "chrf", "ter"])
    for seed in range(12):
        refs, a, b = _stats(seed)
        rows = [FamilyRow(0, m, m.segment_stats(a, refs), m.segment_stats(b, refs)) for m in metrics]
        two = max_statistic_test(rows, trials=2000, seed=seed)
        for tolerance in (0.0, 1.0):
            one = max_statistic_test(rows, trials=2000, seed=seed, one_sided=True, tolerances=[tolerance] * 3)
            for i, m in enumerate(metrics):
                worse_by = -one.deltas[i] if m.higher_is_better else one.deltas[i]
                if worse_by <= tolerance:
                    assert one.family_p_values[i] == 1.0  # not worse by more than the tolerance: never a regression
                bound = -tolerance if m.higher_is_better else tolerance  # the tolerance, on the bad side
                for alpha in (0.01, 0.05, 0.2, 0.5):
                    low, high = one.interval(i, alpha)
                    assert (low == -math.inf) == m.higher_is_better and (high == math.inf) != m.higher_is_better
                    beyond = high < bound if m.higher_is_better else low > bound
                    assert (one.family_p_values[i] < alpha) == beyond, (seed, m.name, alpha, tolerance)
                    end = high if m.higher_is_better else low  # the bound shown: Δ ± margin, moved by rounding only
                    expected = one.deltas[i] - one.worse[i] * one.margin(i, alpha)  # type: ignore[index]
                    assert one.identical[i] or math.isclose(end, expected, rel_tol=1e-9, abs_tol=1e-9), \
                        (seed, m.name, alpha, tolerance, end, expected)
        for i in range(len(metrics)):
            for alpha in (0.01, 0.05, 0.2, 0.5):
                low2, high2 = two.interval(i, alpha)
                assert (two.family_p_values[i] < alpha) == (not low2 <= 0 <= high2)
        for test in ("bs", "ar"):
            for m in metrics:
                for tolerance in (0.0, 1.0):
                    r = paired_test(m, m.segment_stats(a, refs), m.segment_stats(b, refs),  # type: ignore[arg-type]
                                    test=test, samples=500, seed=seed, confidence=0.95, one_sided=True,
                                    margin=tolerance)
                    bound = -tolerance if m.higher_is_better else tolerance
                    beyond = r.ci_high < bound if m.higher_is_better else r.ci_low > bound
                    assert (r.p_value < 0.05) == beyond, (seed, m.name, test, tolerance)
                    shown = r.ci_high if m.higher_is_better else r.ci_low
                    assert (shown - r.delta) * (1 if m.higher_is_better else -1) >= -1e-9  # Δ's side, not past it


def test_a_difference_of_zero_or_at_float_noise_is_never_a_rejection() -> None:
    metric = get_metric("chrf")
    refs = REFS["en"][:10]
    hyps = [" ".join(r.split()[:-1]) for r in refs]
    stats = np.asarray(metric.segment_stats(hyps, refs), dtype="float64")
    # the same statistics in another order of segments: the same corpus score, Δ exactly 0 or within float noise
    other = stats[::-1].copy()
    for test in ("bs", "ar"):
        r = paired_test(metric, stats, other, test=test, samples=200, one_sided=True)  # type: ignore[arg-type]
        assert r.delta == 0.0 and r.p_value == 1.0 and r.ci_low <= 0 <= r.ci_high
    family = max_statistic_test([FamilyRow(0, metric, stats, other)], trials=500, one_sided=True)
    assert family.deltas[0] == 0.0 and family.family_p_values[0] == 1.0
    low, high = family.interval(0, 0.05)  # the same Δ, but not the same segments: not a point interval
    assert low == -math.inf and high > 0
    same = max_statistic_test([FamilyRow(0, metric, stats, stats.copy())], trials=500, one_sided=True)
    assert same.interval(0, 0.05) == (0.0, 0.0) and same.family_p_values[0] == 1.0


def test_flag_rate_row_is_a_paired_count() -> None:
    rate = FlagRate("copy")
    a = [{} for _ in range(20)]
    b = [{"copy": 0.95} if i < 8 else {} for i in range(20)]
    sa, sb = FlagRate.stats(a, "copy"), FlagRate.stats(b, "copy")
    assert rate.score_from_stats(sa) == 0.0 and rate.score_from_stats(sb) == 40.0
    family = max_statistic_test([FamilyRow(0, rate, sa, sb)], trials=4000, one_sided=True)
    assert family.family_p_values[0] < 0.01  # 8 of 8 discordant segments the bad way: 2^-8
    back = max_statistic_test([FamilyRow(0, rate, sb, sa)], trials=4000, one_sided=True)
    assert back.family_p_values[0] == 1.0  # fewer flags is never a regression


# --------------------------------------------------------------------------- nothing turns the gate off silently


def _copy_broken(refs: list[str]) -> list[str]:
    out = list(refs)
    out[IDS.index("p05")] = REFS["en"][IDS.index("p05")]  # the English source as the Malay output
    return out


@pytest.mark.parametrize(("extra", "expected"), [
    # flags off in the run: the report has none, the gate judges its own, still sees the copy, and says so
    ("flags: {enabled: false}\n", (1, "BROKEN mt en-ms p05: new flag: copy")),
    ("flags: {enabled: false}\n", (1, "FAIL: 1 broken segment(s) (the run's flags.enabled is false: breakage "
                                       "judged by the gate itself)")),
    # the segment rule off: the verdict says so
    ("gate: {segments: {enabled: false}}\n", (0, "PASS: no regression (breakage not checked: gate.segments.enabled "
                                                  "is false)")),
])
def test_switches_in_the_run_never_turn_the_gate_off_silently(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              extra: str, expected: tuple[int, str]) -> None:
    baseline = _baseline(tmp_path, REFS["en"], REFS["ms"])
    run = _run(tmp_path, "bad", REFS["en"], _copy_broken(REFS["ms"]))
    config = run.parent / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")
    off = run.parent / "off"
    assert main(["run", "-c", str(config), "--run-dir", str(off), "-q"]) == 0
    code, lines = _check(baseline, off, capsys)
    assert code == expected[0] and any(line.startswith(expected[1]) for line in lines), lines


def test_a_run_without_its_reference_hash_or_with_foreign_results_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    baseline = _baseline(tmp_path, REFS["en"], REFS["ms"])
    run = _run(tmp_path, "new", REFS["en"], REFS["ms"])
    # every reference replaced by its hypothesis, and the hash that would give it away deleted
    doctored = tmp_path / "doctored"
    doctored.mkdir()
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    del results["manifest"]["corpus"]["references"]
    (doctored / "results.json").write_text(json.dumps(results), encoding="utf-8")
    lines = []
    for line in (run / "segments.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        record["reference"] = record["hypothesis"] = record["hypothesis"][:-1]
        lines.append(json.dumps(record, ensure_ascii=False))
    (doctored / "segments.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (doctored / "summary.md").write_text("", encoding="utf-8")
    code, out = _check(baseline, doctored, capsys)
    assert code == 2 and len(out) == 1 and "no corpus.references hash" in out[0], out
    # a bad run's results.json beside a good run's segments.jsonl: the scores on file are not the outputs' scores
    bad = _run(tmp_path, "bad", REFS["en"], [" ".join(t.split()[:3]) for t in REFS["ms"]])
    (bad / "segments.jsonl").write_bytes((run / "segments.jsonl").read_bytes())
    code, out = _check(baseline, bad, capsys)
    assert code == 2 and len(out) == 1 and "from its segments' outputs" in out[0], out


def test_a_tolerance_beyond_any_score_is_refused_and_unbounded_allowance_is_stated(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(tmp_path, "new", REFS["en"], _copy_broken(REFS["ms"]))
    config = run.parent / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "gate: {tolerance: {bleu: 1e308}}\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["run", "-c", str(config), "--run-dir", str(tmp_path / "x"), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "beyond any score's range" in err[0] and "gate.tolerance" in err[0], err
    baseline = _baseline(tmp_path, REFS["en"], REFS["ms"])
    config.write_text(config.read_text(encoding="utf-8").replace("gate: {tolerance: {bleu: 1e308}}",
                                                                 "gate: {segments: {allowed: 1000000000}}"),
                      encoding="utf-8")
    allowed = tmp_path / "allowed"
    assert main(["run", "-c", str(config), "--run-dir", str(allowed), "-q"]) == 0
    code, lines = _check(baseline, allowed, capsys)
    assert code == 0 and any("broken segments cannot fail this check" in line for line in lines), lines


def test_with_no_breakage_flags_the_collapse_rule_still_checks(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    baseline = _baseline(tmp_path, REFS["en"], REFS["ms"])
    en_ms = list(REFS["ms"])
    en_ms[IDS.index("p21")] = ""
    run = _run(tmp_path, "bad", REFS["en"], en_ms)
    config = run.parent / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "gate: {segments: {flags: []}}\n", encoding="utf-8")
    again = run.parent / "again"
    assert main(["run", "-c", str(config), "--run-dir", str(again), "-q"]) == 0
    code, lines = _check(baseline, again, capsys)
    broken = [line for line in lines if line.startswith("BROKEN")]
    assert code == 1 and len(broken) == 1 and broken[0].startswith("BROKEN mt en-ms p21: chrF "), lines


@pytest.mark.parametrize("test", ["bs", "ar"])
def test_one_changed_flag_is_not_significant_under_any_test(test: str) -> None:
    # one segment of 29 newly flagged: every permutation that exchanges it ties; the gate's one-sided tests count
    # ties (sacrebleu's strict count would give p = 1/(N+1) and call it significant)
    rate = FlagRate("truncated")
    a = [{} for _ in range(29)]
    b = [{"truncated": {"ratio": 0.0}} if i == 4 else {} for i in range(29)]
    r = paired_test(rate, FlagRate.stats(a, "truncated"), FlagRate.stats(b, "truncated"),  # type: ignore[arg-type]
                    test=test, samples=1000, one_sided=True)
    assert r.p_value > 0.05 and r.ci_low <= 0 <= r.ci_high, r  # ar: about 0.5; the bootstrap is coarser


def test_a_config_nested_too_deeply_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "deep.yaml"
    config.write_text("systems: " + "[" * 600 + "]" * 600 + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["run", "-c", str(config), "--run-dir", str(tmp_path / "r"), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nested too deeply" in err[0] and str(config) in err[0]
    assert not (tmp_path / "r").exists()
