"""Family-wise procedures for the gate: Holm–Bonferroni and the max-statistic permutation test."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evalharness.corpus import load_corpus
from evalharness.scoring.metrics import get_metric
from evalharness.scoring.significance import (
    FamilyRow,
    holm,
    holm_rejections,
    max_statistic_test,
    paired_bootstrap_p_values,
    paired_test,
    westfall_young,
)
from tests.conftest import CORPUS_NAME, REPO

CORPUS = load_corpus(CORPUS_NAME)
REFS = {"en": [p.text("en") for p in CORPUS.pairs], "ms": [p.text("ms") for p in CORPUS.pairs]}
METRICS = ("bleu", "chrf", "chrf++", "ter")


def _drop_word(texts: list[str], every: int, offset: int = 0) -> list[str]:
    """Drop the last word of every ``every``-th text (from ``offset``): a slightly different system."""
    return [" ".join(t.split()[:-1]) if i % every == offset else t for i, t in enumerate(texts)]


def _rows(outputs_a: dict[str, list[str]], outputs_b: dict[str, list[str]]) -> list[FamilyRow]:
    """Rows of a check: every metric × direction (keyed by reference language) of A against B."""
    rows = []
    for lang, refs in REFS.items():
        for name in METRICS:
            metric = get_metric(name)
            rows.append(FamilyRow(lang, metric, metric.segment_stats(outputs_a[lang], refs),
                                  metric.segment_stats(outputs_b[lang], refs)))
    return rows


def _halve(texts: list[str], every: int) -> list[str]:
    """Keep the first half of the words of every ``every``-th text: a clearly worse system."""
    return [" ".join(t.split()[: len(t.split()) // 2]) if i % every == 0 else t for i, t in enumerate(texts)]


SYS_A = {lang: _drop_word(refs, 3) for lang, refs in REFS.items()}
SYS_B = {lang: _halve(_drop_word(refs, 2, 1), 3) for lang, refs in REFS.items()}


# --------------------------------------------------------------------------- Holm


def test_holm_matches_a_hand_checked_example() -> None:
    # sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → raised to 0.06 (step-down)
    p = [0.01, 0.04, 0.03, 0.005]
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # classic Holm: 0.005 ≤ 0.05/4 and 0.01 ≤ 0.05/3 are rejected, 0.03 > 0.05/2 stops the procedure
    assert holm_rejections(p, 0.05) == [True, False, False, True]


@pytest.mark.parametrize(("p", "expected"), [
    ([], []),
    ([0.2], [0.2]),
    ([0.5, 0.6], [1.0, 1.0]),  # capped at 1, never decreasing along the sorted order
    ([0.01, 0.01, 0.01], [0.03, 0.03, 0.03]),  # ties
])
def test_holm_edge_cases(p: list[float], expected: list[float]) -> None:
    assert holm(p) == pytest.approx(expected)


# --------------------------------------------------------------------------- max-statistic test


def test_identical_systems_have_family_p_one() -> None:
    result = max_statistic_test(_rows(SYS_A, SYS_A), trials=500)
    assert result.family_p_values == (1.0,) * 8
    assert result.p_values == (1.0,) * 8
    assert result.deltas == (0.0,) * 8


@pytest.mark.parametrize("standardise", [True, False])
def test_family_p_is_at_least_each_rows_own_p(standardise: bool) -> None:
    result = max_statistic_test(_rows(SYS_A, SYS_B), trials=2000, standardise=standardise)
    assert len(result.family_p_values) == 8
    assert all(0 < p <= 1 for p in result.family_p_values)
    for own, family in zip(result.p_values, result.family_p_values, strict=True):
        assert family >= own
    assert min(result.family_p_values) < 0.05  # B lost half of every third paragraph: a real difference


def test_max_statistic_test_is_deterministic_for_a_seed() -> None:
    rows = _rows(SYS_A, SYS_B)
    first = max_statistic_test(rows, trials=300, seed=7)
    assert max_statistic_test(rows, trials=300, seed=7) == first
    assert (first.trials, first.seed, first.standardise) == (300, 7, True)


def test_rows_own_p_values_equal_paired_test() -> None:
    """One group: the same exchanges and resamples as paired_test with the same seed, the same p-values."""
    rows = [r for r in _rows(SYS_A, SYS_B) if r.group == "en"]
    family = max_statistic_test(rows, trials=1000, seed=12345)
    boot = paired_bootstrap_p_values(rows, resamples=1000, seed=12345)
    for row, ar_p, bs_p in zip(rows, family.p_values, boot, strict=True):
        assert ar_p == pytest.approx(paired_test(row.metric, row.stats_a, row.stats_b, test="ar",  # type: ignore[arg-type]
                                                 samples=1000).p_value, abs=1e-12)
        assert bs_p == pytest.approx(paired_test(row.metric, row.stats_a, row.stats_b,  # type: ignore[arg-type]
                                                 samples=1000).p_value, abs=1e-12)


def test_a_difference_in_one_segment_is_not_significant() -> None:
    """Every trial that exchanges the one differing segment ties the real difference: ties count (≥)."""
    broken = list(REFS["en"])
    broken[4] = REFS["ms"][4]  # the source left untranslated in one paragraph
    metric = get_metric("chrf")
    rows = [FamilyRow("en", metric, metric.segment_stats(REFS["en"], REFS["en"]),
                      metric.segment_stats(broken, REFS["en"]))]
    result = max_statistic_test(rows, trials=1000)
    assert result.family_p_values[0] > 0.4  # about ½: half the trials exchange it
    assert result.p_values[0] < 0.01  # sacrebleu's strict convention calls it significant


def test_standardising_balances_rows_of_different_spread() -> None:
    """A row ten times as noisy does not drown a quiet row's clear difference once statistics are standardised."""
    rng = np.random.default_rng(0)
    null = rng.normal(size=(4000, 2)) * [1.0, 10.0]  # permuted Δ of a quiet row and of a noisy one
    real = np.array([4.0, 0.0])  # the quiet row moved by 4 of its standard deviations
    assert westfall_young(real, null)[0] < 0.01
    assert westfall_young(real, null, standardise=False)[0] > 0.5  # raw: the noisy row's |Δ| exceeds 4 most times


def test_westfall_young_counts_ties_and_adds_one() -> None:
    null = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    # max per trial 1, 2, 3; real 2 is reached by 2 trials: (2 + 1) / (3 + 1)
    assert westfall_young(np.array([2.0, 0.0]), null, standardise=False) == [0.75, 1.0]


def test_rows_of_a_group_must_score_the_same_segments() -> None:
    metric = get_metric("chrf")
    stats = metric.segment_stats(REFS["en"], REFS["en"])
    with pytest.raises(ValueError, match="same segments"):
        max_statistic_test([FamilyRow("g", metric, stats, stats), FamilyRow("g", metric, stats[:5], stats[:5])])
    with pytest.raises(ValueError, match="same shape"):
        max_statistic_test([FamilyRow("g", metric, stats, stats[:5])])


# --------------------------------------------------------------------------- the calibration script


def _calibration(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The benchmark script as a module (registered while the test runs: its dataclasses look themselves up)."""
    path = REPO / "benchmarks" / "gate_calibration.py"
    spec = importlib.util.spec_from_file_location("gate_calibration", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_calibration_script_runs_on_systems_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The benchmark end to end on three small systems made here (the article with words dropped), the gate's
    own functions inside and two checks through the real CLI: every design printed, rates in [0, 1]."""
    import random

    from evalharness.corpus import load_corpus

    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")  # the script sets it on import; undone after the test
    calibration = _calibration(monkeypatch)
    corpus = load_corpus(CORPUS_NAME)
    for direction, tgt in (("ms-en", "en"), ("en-ms", "ms")):
        folder = tmp_path / "systems" / direction
        folder.mkdir(parents=True)
        for name, drop, seed in (("x", 0.05, 1), ("y", 0.05, 2), ("worse", 0.4, 3)):
            rng = random.Random(seed)
            lines = [" ".join(w for w in p.text(tgt).split() if rng.random() > drop) for p in corpus.pairs]
            (folder / f"{name}.txt").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    out = tmp_path / "calibration.json"
    assert calibration.main(["--systems", str(tmp_path / "systems"), "--testset", CORPUS_NAME, "--sizes", "10",
                             "--full-trials", "4", "--subset-trials", "6", "--near", "100", "--worse-by", "20",
                             "--perturbations", "2", "--permutations", "200", "--jobs", "1", "--cli-checks", "1",
                             "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Equal quality: every failure is a false alarm" in printed and "Realistic regressions" in printed
    assert "through the real CLI" in printed and "2 of 2 verdicts equal" in printed, printed
    data = json.loads(out.read_text(encoding="utf-8"))
    kinds = {(d["direction"], d["kind"], d["size"]) for d in data}
    for direction in ("ms-en", "en-ms"):
        assert {(direction, k, 29) for k in ("mix", "regression")} <= kinds
        assert {(direction, k, 10) for k in ("mix", "fixed", "perturbed", "regression")} <= kinds
    for design in data:
        assert len(design["outcomes"]) == (4 if design["size"] == 29 else 6)
        assert all(set(o) == {"metric_rows", "flag_rows", "segments"} for o in design["outcomes"])
    full = [d for d in data if d["kind"] == "regression" and d["k"] == 100 and d["size"] == 29]
    assert full and all(any(o["metric_rows"] for o in d["outcomes"]) for d in full)  # 40 % of words lost: seen


def test_blocks_of_resamples_give_the_same_p_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resamples and trials are processed in blocks to bound memory on large test sets: blocks change nothing."""
    import evalharness.scoring.significance as significance

    rows = _rows(SYS_A, SYS_B)
    whole = (max_statistic_test(rows, trials=300), paired_bootstrap_p_values(rows, resamples=300))
    monkeypatch.setattr(significance, "_block", lambda segments: 7)
    assert (max_statistic_test(rows, trials=300), paired_bootstrap_p_values(rows, resamples=300)) == whole


# --------------------------------------------------------------------------- interval and verdict agree


def _perturbed(texts: list[str], rng: np.random.Generator, drop: float) -> list[str]:
    """Each text with words dropped at random (probability ``drop`` each): a system of a given quality."""
    return [" ".join(w for w in t.split() if rng.random() >= drop) for t in texts]


@pytest.mark.parametrize("test", ["bs", "ar"])
def test_single_test_interval_excludes_zero_exactly_when_p_is_below_alpha(test: str) -> None:
    """Across pairs from equal to clearly different quality and several levels, the interval of Δ (from the
    test's own resamples) and p never disagree — the disagreement the issue measured (p = .048, CI [−9.8, +0.9])."""
    rng = np.random.default_rng(7)
    metric = get_metric("chrf")
    seen = {True: 0, False: 0}
    for trial in range(12):
        a = _perturbed(REFS["en"], rng, 0.10)
        b = _perturbed(REFS["en"], rng, 0.10 + 0.02 * trial)
        stats_a, stats_b = metric.segment_stats(a, REFS["en"]), metric.segment_stats(b, REFS["en"])
        for alpha in (0.01, 0.05, 0.2):
            r = paired_test(metric, stats_a, stats_b, test=test, samples=999, seed=trial, confidence=1 - alpha)  # type: ignore[arg-type]
            excludes = not (r.ci_low <= 0.0 <= r.ci_high)
            assert excludes == (r.p_value < alpha) or abs(abs(r.delta) - (r.ci_high - r.delta)) < 1e-9, \
                (trial, alpha, r)
            assert r.ci_low <= r.delta <= r.ci_high
            seen[excludes] += 1
    assert seen[True] and seen[False]  # both outcomes occurred: the check was not vacuous


def test_family_interval_excludes_zero_exactly_when_family_p_is_below_alpha() -> None:
    rng = np.random.default_rng(11)
    seen = {True: 0, False: 0}
    for trial in range(8):
        a = {lang: _perturbed(refs, rng, 0.10) for lang, refs in REFS.items()}
        b = {lang: _perturbed(refs, rng, 0.10 + 0.025 * trial) for lang, refs in REFS.items()}
        family = max_statistic_test(_rows(a, b), trials=999, seed=trial)
        for alpha in (0.01, 0.05, 0.2):
            for i, p in enumerate(family.family_p_values):
                low, high = family.interval(i, alpha)
                excludes = not (low <= 0.0 <= high)
                assert excludes == (p < alpha), (trial, alpha, i, p, low, high)
                seen[excludes] += 1
    assert seen[True] and seen[False]


def test_identical_rows_have_a_point_interval() -> None:
    same = {lang: list(refs) for lang, refs in REFS.items()}
    family = max_statistic_test(_rows(same, same), trials=199)
    assert all(family.interval(i, 0.05) == (0.0, 0.0) for i in range(len(family.deltas)))
