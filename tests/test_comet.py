"""COMET: the metric's arithmetic and its refusals (fast), and the real unbabel-comet in its own environment (slow).

The slow tests build a random-weight COMET checkpoint with comet's own classes (``tiny_model.build_comet``),
run the real CLI with it, and hold every segment score equal to what ``comet.load_from_checkpoint(...).predict``
gives on the same triples when called directly in the COMET environment. They need that environment
(``evalharness metrics setup comet`` or ``$EVALHARNESS_COMET_PYTHON``) and skip without it, unless
``EVALHARNESS_REQUIRE_COMET=1`` (set by ``.ci/run``) makes its absence a failure.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from evalharness.cli import main
from evalharness.corpus import load_corpus
from evalharness.scoring.comet.env import ENV_VAR, SETUP_COMMAND, default_venv, venv_python
from evalharness.scoring.metrics import METRICS, get_metric
from evalharness.scoring.significance import bootstrap_scores
from tests.conftest import CORPUS_NAME, cache_hub_model, read_segments, write_hypotheses

# Where 'metrics setup comet' puts the environment by default, read before the autouse fixture moves the cache dir.
_DEFAULT_PYTHON = venv_python(default_venv())


# --------------------------------------------------------------------------- fast: no environment needed


def test_comet_is_registered_as_a_higher_is_better_metric_needing_sources() -> None:
    cls = METRICS.get("comet")
    assert (cls.name, cls.label, cls.higher_is_better) == ("comet", "COMET", True) and "sources" in cls.reads
    assert cls.default_tolerance == 1.0  # COMET points (×100 scale)
    assert "sources" not in METRICS.get("chrf").reads


def test_statistics_are_score_and_count_and_the_corpus_score_is_the_mean_times_100() -> None:
    metric = get_metric("comet")
    rng = random.Random(7)
    raw = [rng.uniform(-0.5, 1.0) for _ in range(40)]
    stats = [[r, 1.0] for r in raw]
    assert metric.score_from_stats(stats) == pytest.approx(100 * sum(raw) / len(raw), abs=1e-12)
    assert metric.raw_scores(stats) == raw
    sums = [[sum(r for r in raw[:k]), float(k)] for k in range(1, 41)]
    vectorised = metric.scores_of_sums(sums)
    assert list(vectorised) == pytest.approx([metric.score_of_sum(row) for row in sums], abs=1e-12)
    # bootstrap resamples re-aggregate the same statistics: every resample's score is a mean of segment scores
    resampled = bootstrap_scores(metric, stats, resamples=200, seed=1)
    assert min(resampled) >= 100 * min(raw) - 1e-4 and max(resampled) <= 100 * max(raw) + 1e-4
    assert metric.score_from_stats([]) == 0.0


def _comet_config(tmp_path: Path, *, model: str = "Unbabel/wmt22-comet-da", extra: str = "") -> Path:
    path = tmp_path / "comet.yaml"
    path.write_text(f"metrics: [chrf, comet]\ncomet: {{model: {model}}}\n{extra}systems:\n"
                    "  - name: copy-source\n    backend: copy\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("where", ["nowhere", "env_var"])
def test_missing_environment_fails_before_translating_in_one_line_naming_the_setup_command(
        where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    if where == "env_var":
        monkeypatch.setenv(ENV_VAR, str(tmp_path / "no-such-env" / "bin" / "python"))
    config = _comet_config(tmp_path)
    assert main(["run", "-c", str(config), "--run-dir", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and SETUP_COMMAND in err and ENV_VAR in err, err
    assert ("none is set up" if where == "nowhere" else "no-such-env") in err
    assert not (tmp_path / "out").exists()
    # the translation store is opened only after every check has passed: nothing was translated
    assert not (tmp_path / "evalharness-cache" / "translations.sqlite3").exists()


def test_an_environment_without_comet_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ENV_VAR, sys.executable)  # evalharness's own environment: no unbabel-comet in it
    assert main(["run", "-c", str(_comet_config(tmp_path)), "--run-dir", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "has no unbabel-comet" in err and SETUP_COMMAND in err and err.count("\n") == 1


@pytest.mark.slow
def test_offline_with_the_model_not_cached_fails_at_once_naming_it(tmp_path: Path, cli_env: dict[str, str],
                                                                   comet_env: Path) -> None:
    """Offline and not in the Hugging Face cache: one line naming the model before the worker starts (comet's own
    KeyError came after ~18 s); the same model in that cache passes the check, on to the worker."""
    import subprocess
    import sys
    import time

    for name, text in (("ref.txt", "a b c\n"), ("hyp.txt", "a b\n"), ("src.txt", "x y z\n")):
        (tmp_path / name).write_text(text, encoding="utf-8")
    env = {**cli_env, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "EVALHARNESS_COMET_PYTHON": str(comet_env)}
    argv = [sys.executable, "-m", "evalharness", "score", "--ref", "ref.txt", "--hyp", "hyp.txt", "--src", "src.txt",
            "--metrics", "comet"]
    start = time.monotonic()
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - start
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "Unbabel/wmt22-comet-da is not in the local Hugging Face cache and the hub is offline" in done.stderr
    assert elapsed < 10, elapsed  # the process's start and the environment's version probe, nothing more
    # the hub cache's own layout (what comet's download_model leaves): the check lets it through, and the worker,
    # which finds a stand-in file where the checkpoint should be, is what fails
    cache_hub_model(tmp_path / "hf", "Unbabel/wmt22-comet-da")
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode in (2, 3) and "not in the local Hugging Face cache" not in done.stderr, done.stderr
    assert "COMET" in done.stderr


def test_score_with_comet_needs_the_sources(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ref.txt").write_text("a b c\n", encoding="utf-8")
    (tmp_path / "hyp.txt").write_text("a b\n", encoding="utf-8")
    code = main(["score", "--ref", str(tmp_path / "ref.txt"), "--hyp", str(tmp_path / "hyp.txt"),
                 "--metrics", "comet"])
    err = capsys.readouterr().err
    assert code == 2 and "--src FILE" in err and err.count("\n") == 1
    code = main(["score", "--ref", str(tmp_path / "ref.txt"), "--hyp", str(tmp_path / "hyp.txt"),
                 "--metrics", "chrf", "--comet-model", "x"])
    assert code == 2 and "--comet-model goes with --metrics comet" in capsys.readouterr().err


def test_config_refuses_bad_comet_settings_and_comet_in_the_segment_rule(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for extra, words in (("comet: {device: gpu}\n", "comet.device"),
                         ("comet: {precision: fp8}\n", "comet.precision"),
                         ("gate: {segments: {metric: comet}}\n", "reads the sources")):
        path = tmp_path / "c.yaml"
        path.write_text(f"metrics: [chrf]\n{extra}systems:\n  - name: c\n    backend: copy\n", encoding="utf-8")
        assert main(["run", "-c", str(path), "--run-dir", str(tmp_path / "out"), "-q"]) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1, err


# --------------------------------------------------------------------------- slow: the real comet


def _comet_python() -> Path:
    configured = os.environ.get(ENV_VAR)
    python = Path(configured) if configured else _DEFAULT_PYTHON
    if python.is_dir():
        python = venv_python(python)
    if not python.is_file():
        message = (f"no COMET environment ({python}): run '{SETUP_COMMAND}' or set {ENV_VAR} "
                   "(.ci/run sets it up and requires it)")
        if os.environ.get("EVALHARNESS_REQUIRE_COMET") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return python


@pytest.fixture(scope="module")
def comet_env() -> Path:
    """The COMET environment's Python (skips without one, fails without one in CI)."""
    return _comet_python()


@pytest.fixture(scope="module")
def tiny_comet(comet_env: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight COMET checkpoint built by comet's own classes in the COMET environment."""
    from evalharness.tiny_model import build_comet

    return build_comet(tmp_path_factory.mktemp("tiny-comet") / "model", python=comet_env)


# comet's own predict, called directly in the COMET environment: the reference the harness must equal
_PREDICT = """
import json, sys
from comet import load_from_checkpoint
request = json.load(sys.stdin)
model = load_from_checkpoint(request["ckpt"], local_files_only=True)
samples = [{"src": s, "mt": h, "ref": r} for s, h, r in request["triples"]]
out = model.predict(samples, batch_size=request["batch_size"], gpus=0, progress_bar=False)
sys.__stdout__.write(json.dumps({"scores": [float(x) for x in out.scores]}) + "\\n")
"""


def comets_own_predict(python: Path, checkpoint: Path, triples: list[tuple[str, str, str]], batch_size: int,
                       tmp_path: Path) -> list[float]:
    """Segment scores from ``comet.load_from_checkpoint(...).predict`` in the COMET environment itself."""
    request = {"ckpt": str(checkpoint / "checkpoints" / "model.ckpt"), "triples": triples, "batch_size": batch_size}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(python), "-c", _PREDICT], input=json.dumps(request), capture_output=True,
                          text=True, timeout=600, cwd=tmp_path, env={**env, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    scores: list[float] = json.loads(done.stdout.strip().splitlines()[-1])["scores"]
    return scores


def _files_system_config(tmp_path: Path, tiny_comet: Path, hyps: dict[str, list[str]], *, name: str) -> Path:
    folder = write_hypotheses(tmp_path / name, hyps)
    config = folder / "config.yaml"
    config.write_text(
        "metrics: [comet]\n"  # COMET alone: the gate's verdict below is COMET's
        f"comet: {{model: {tiny_comet}, batch_size: 4}}\n"
        "gate: {tolerance: {comet: 0.0}, segments: {enabled: false}}\n"
        "systems:\n  - name: outside\n    backend: files\n    hypotheses:\n"
        + "".join(f"      {d}: {folder / f'{d}.txt'}\n" for d in hyps),
        encoding="utf-8")
    return config


def _damaged(texts: list[str]) -> list[str]:
    """Every segment cut to its first three words: a system that drops most of each translation."""
    return [" ".join(t.split()[:3]) for t in texts]


@pytest.mark.slow
def test_run_scores_equal_comets_own_predict_and_check_gates_on_comet(
        comet_env: Path, tiny_comet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ENV_VAR, str(comet_env))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    corpus = load_corpus(CORPUS_NAME)
    good = {"ms-en": [p.text("en") for p in corpus.pairs], "en-ms": [p.text("ms") for p in corpus.pairs]}
    # a system that is neither perfect nor broken: every other segment is the reference, the rest cut short
    mixed = {d: [t if i % 2 else " ".join(t.split()[: max(3, len(t.split()) // 2)]) for i, t in enumerate(ts)]
             for d, ts in good.items()}
    run_dir = tmp_path / "run"
    assert main(["run", "-c", str(_files_system_config(tmp_path, tiny_comet, mixed, name="mixed")),
                 "--run-dir", str(run_dir), "-q"]) == 0
    records = read_segments(run_dir)
    triples = [(r["source"], r["hypothesis"], r["reference"]) for r in records]
    theirs = comets_own_predict(comet_env, tiny_comet, triples, 4, tmp_path)
    ours = [r["raw_scores"]["comet"] for r in records]
    worst = max(abs(a - b) for a, b in zip(ours, theirs, strict=True))
    with capsys.disabled():
        print(f"\nCOMET per-segment: {len(ours)} segments, max |evalharness - comet predict| = {worst:.3g}")
    assert worst <= 1e-6
    assert all(r["scores"]["comet"] == pytest.approx(100 * r["raw_scores"]["comet"], abs=1e-9) for r in records)
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    for direction in ("ms-en", "en-ms"):
        score = results["results"]["outside"][direction]["scores"]["comet"]
        mine = [100 * r["raw_scores"]["comet"] for r in records if r["direction"] == direction]
        assert score["score"] == pytest.approx(sum(mine) / len(mine), abs=1e-9)
        assert score["ci"][0] <= score["score"] <= score["ci"][1]
        assert f"model:{tiny_comet}|comet:2." in score["signature"] and "precision:fp32|batch:4|device:cpu" in (
            score["signature"])

    # the scores are cached: a re-gate scores nothing again (one cached row per distinct triple)
    cache = tmp_path / "evalharness-cache" / "translations.sqlite3"
    with sqlite3.connect(cache) as db:
        cached = db.execute("SELECT COUNT(*) FROM segment_scores").fetchone()[0]
    assert cached == len(set(triples))

    baseline = tmp_path / "baseline.json"
    assert main(["baseline", "update", str(run_dir), "-o", str(baseline)]) == 0
    capsys.readouterr()
    assert main(["check", "--baseline", str(baseline), str(run_dir)]) == 0
    assert "COMET" in capsys.readouterr().out
    with sqlite3.connect(cache) as db:
        assert db.execute("SELECT COUNT(*) FROM segment_scores").fetchone()[0] == cached
    # check --config runs the same config again (all cached) and gates it: a comet section is no mismatch
    config = _files_system_config(tmp_path, tiny_comet, mixed, name="mixed-again")
    assert main(["check", "--baseline", str(baseline), "--config", str(config), "--run-dir",
                 str(tmp_path / "again"), "-q"]) == 0

    # the gate on COMET alone (tolerance 0): a significant move down is a regression, a move up is not. A
    # random-weight model has no notion of quality, so which of two systems it prefers is its own business: the
    # references themselves and the references cut to three words are each checked against the other, and
    # exactly the check whose COMET fell must fail, on COMET rows only.
    runs = {}
    for name, hyps in (("good", good), ("damaged", {d: _damaged(t) for d, t in good.items()})):
        runs[name] = tmp_path / f"run-{name}"
        config = _files_system_config(tmp_path, tiny_comet, hyps, name=name)
        assert main(["run", "-c", str(config), "--run-dir", str(runs[name]), "-q"]) == 0
        assert main(["baseline", "update", str(runs[name]), "-o", str(tmp_path / f"baseline-{name}.json")]) == 0
    capsys.readouterr()
    outcomes = {}
    for a, b in (("good", "damaged"), ("damaged", "good")):
        label = f"{a} -> {b}"
        code = main(["check", "--baseline", str(tmp_path / f"baseline-{a}.json"), str(runs[b]), "--format", "json"])
        report = json.loads(capsys.readouterr().out)
        outcomes[label] = (code, report)
    with capsys.disabled():
        print({label: (code, report["failures"]) for label, (code, report) in outcomes.items()})
    codes = sorted(code for code, _ in outcomes.values())
    assert codes == [0, 1], {k: v[0] for k, v in outcomes.items()}
    for code, report in outcomes.values():
        text = json.dumps(report)
        assert "comet" in text
        if code == 1:
            assert "REGRESSION" in text and " COMET:" in text

    report = tmp_path / "report.html"
    assert main(["report", str(run_dir), "-o", str(report)]) == 0
    assert "COMET" in report.read_text(encoding="utf-8")


@pytest.mark.slow
def test_score_with_src_equals_comets_own_predict(comet_env: Path, tiny_comet: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ENV_VAR, str(comet_env))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    corpus = load_corpus(CORPUS_NAME)
    src = [p.text("ms") for p in corpus.pairs][:12]
    ref = [p.text("en") for p in corpus.pairs][:12]
    hyp = [" ".join(r.split()[::-1]) for r in ref]  # every reference with its words reversed
    for name, lines in (("src", src), ("ref", ref), ("hyp", hyp)):
        (tmp_path / f"{name}.txt").write_text("".join(f"{x}\n" for x in lines), encoding="utf-8")
    args = ["score", "--ref", str(tmp_path / "ref.txt"), "--hyp", str(tmp_path / "hyp.txt"), "--src",
            str(tmp_path / "src.txt"), "--metrics", "comet", "--comet-model", str(tiny_comet),
            "--comet-batch-size", "5"]
    assert main([*args, "--sentence-level", "--format", "json"]) == 0
    lines: list[dict[str, Any]] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    theirs = comets_own_predict(comet_env, tiny_comet, list(zip(src, hyp, ref, strict=True)), 5, tmp_path)
    assert [x["scores"]["comet"] for x in lines] == pytest.approx([100 * t for t in theirs], abs=1e-4)
    assert main([*args, "--confidence"]) == 0
    out = capsys.readouterr().out
    assert "COMET" in out and "|bs:1000|seed:12345" in out
