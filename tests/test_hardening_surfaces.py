"""Hostile cases of issue 23 against the newer surfaces, each with the real thing: a scoring worker killed with
SIGKILL, a COMET "environment" whose worker (a real subprocess) breaks the protocol, JSON the loader cannot take,
a trickling HTTP server on 127.0.0.1, a FIFO in a mirror, SIGTERM in the middle of a run.

Every failure must be one stderr line and exit 2 (bad input) or 3 (internal error): never 1, which ``check``
uses for a regression, so CI would read a crash as a quality verdict.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from evalharness.cli import main
from tests.conftest import REPO, cache_hub_model


def _one_line(capsys: pytest.CaptureFixture[str], code: int, expected_code: int, *words: str) -> str:
    err = capsys.readouterr().err
    assert code == expected_code, err
    assert err.count("\n") == 1 and err.startswith("evalharness: error: "), err
    for word in words:
        assert word in err, err
    return err


# --------------------------------------------------------------------------- a crash is exit 3, never 1


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(k) for k in text.split()]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the pool's workers through /proc")
def test_a_killed_scoring_worker_is_exit_3_and_one_line(tmp_path: Path, cli_env: dict[str, str]) -> None:
    # 6,000 segments: past the pool's threshold (1,500), so two spawned workers score them
    words = ["the", "cat", "sat", "on", "a", "mat", "with", "some", "other", "words", "here", "and", "there"]
    lines = [" ".join(words[(i * 7 + k) % len(words)] for k in range(25)) for i in range(6000)]
    (tmp_path / "ref.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "hyp.txt").write_text("\n".join(reversed(lines)) + "\n", encoding="utf-8")
    env = {**cli_env, "EVALHARNESS_SCORING_PROCESSES": "2", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "evalharness", "score", "--ref", "ref.txt", "--hyp", "hyp.txt",
                             "--metrics", "chrf,bleu"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.monotonic() + 60
    while killed is None and proc.poll() is None and time.monotonic() < deadline:
        for kid in _children(proc.pid):
            try:
                cmdline = Path(f"/proc/{kid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmdline:  # a pool worker (the resource tracker runs resource_tracker.main)
                os.kill(kid, signal.SIGKILL)
                killed = kid
                break
        time.sleep(0.01)
    _, err = proc.communicate(timeout=120)
    assert killed is not None, "no scoring worker was seen"
    assert proc.returncode == 3, err
    assert err.count("\n") == 1 and "a scoring worker process died" in err, err
    assert "EVALHARNESS_SCORING_PROCESSES=1" in err and "Traceback" not in err


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_scoring_processes_that_are_not_a_count_are_refused(value: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ref.txt").write_text("a b c\n", encoding="utf-8")
    monkeypatch.setenv("EVALHARNESS_SCORING_PROCESSES", value)
    code = main(["score", "--ref", str(tmp_path / "ref.txt"), "--hyp", str(tmp_path / "ref.txt")])
    _one_line(capsys, code, 2, f"EVALHARNESS_SCORING_PROCESSES={value!r}", "above 0")


def test_scoring_processes_are_capped_at_the_usable_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    from evalharness.scoring.parallel import PoolSettings, usable_cores

    monkeypatch.setenv("EVALHARNESS_SCORING_PROCESSES", "1000")
    assert PoolSettings().resolved_processes() == usable_cores()
    monkeypatch.setenv("EVALHARNESS_SCORING_PROCESSES", "1")
    assert PoolSettings().resolved_processes() == 1


@pytest.mark.parametrize("content, words", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"format": 1, "sets": {}, "n": ' + "9" * 5000 + "}", "5000 digits"),
])
def test_json_the_loader_cannot_take_is_exit_2_in_a_registry_and_a_baseline(
        content: str, words: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    monkeypatch.setenv("EVALHARNESS_TESTSETS_REGISTRY", str(bad))
    _one_line(capsys, main(["testsets", "list"]), 2, str(bad), words, "EVALHARNESS_TESTSETS_REGISTRY")
    monkeypatch.delenv("EVALHARNESS_TESTSETS_REGISTRY")
    for argv in (["check", "--baseline", str(bad), str(bad)], ["compare", str(bad), str(bad)]):
        _one_line(capsys, main(argv), 2, str(bad), words)


def test_an_unexpected_internal_error_is_exit_3_and_one_line(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    import evalharness.commands.corpus as corpus_command

    def buggy(args: object) -> int:  # stands in for a bug no code path expects
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(corpus_command, "corpus_list", buggy)
    assert main(["corpus", "list"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: ZeroDivisionError: division by zero" in err, err
    assert "EVALHARNESS_DEBUG=1" in err
    monkeypatch.setenv("EVALHARNESS_DEBUG", "1")
    assert main(["corpus", "list"]) == 3
    assert "Traceback" in capsys.readouterr().err


# --------------------------------------------------------------------------- the COMET worker protocol

_FAKE_COMET = '''#!{python}
"""A stand-in COMET environment: answers the version probe, then speaks the worker protocol badly ($FAKE_COMET)."""
import json, os, sys, time
mode = os.environ["FAKE_COMET"]
if sys.argv[1] == "-c":  # the version probe
    print("null" if mode == "probe-null" else json.dumps({{"python": "3.11", "unbabel-comet": "2.2.7",
          "torch": "2.13.0", "transformers": "4.57.0", "numpy": "1.26.4"}}))
    sys.exit(0)
def say(message):
    sys.stdout.write(message if isinstance(message, str) else json.dumps(message) + "\\n")
    sys.stdout.flush()
if mode == "silent-hello":
    time.sleep(3600)
if mode == "garbage-hello":
    say("Loading lightning...\\n")
    time.sleep(3600)
say({{"hello": True, "protocol": 2, "comet": "2.2.7"}})
for line in sys.stdin:
    request = json.loads(line)
    n, rid = len(request["triples"]), request["id"]
    if mode == "die":
        sys.stderr.write("Segmentation fault in the tokenizer\\n")
        sys.stderr.flush()
        os._exit(139)
    if mode == "silent":
        time.sleep(3600)
    replies = {{"nan": '{{"id": %d, "scores": [%s]}}\\n' % (rid, ", ".join(["NaN"] * n)),
               "huge": {{"id": rid, "scores": [1e6] * n}},
               "strings": {{"id": rid, "scores": ["0.5"] * n}},
               "list": [rid, 0.5],
               "no-scores": {{"id": rid, "system_score": 0.5}},
               "not-json": "scores: 0.5\\n",
               "short": {{"id": rid, "scores": [0.5] * (n - 1)}},
               "ok": {{"id": rid, "scores": [0.5] * n}}}}
    if mode == "replay":  # the bytes of $FAKE_REPLY, as they are
        sys.stdout.buffer.write(open(os.environ["FAKE_REPLY"], "rb").read().replace(b"ID", str(rid).encode()))
        sys.stdout.flush()
        continue
    say(replies[mode])
'''


@pytest.fixture
def fake_comet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``$EVALHARNESS_COMET_PYTHON`` pointed at a script that is a real subprocess speaking a broken protocol."""
    script = tmp_path / "fake-comet-python"
    script.write_text(_FAKE_COMET.format(python=sys.executable), encoding="utf-8")
    script.chmod(0o755)
    monkeypatch.setenv("EVALHARNESS_COMET_PYTHON", str(script))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # the model "cached", as the offline check wants it
    cache_hub_model(tmp_path / "hf-home", "Unbabel/wmt22-comet-da")
    return script


def _comet_run(tmp_path: Path) -> list[str]:
    config = tmp_path / "comet.yaml"
    config.write_text("metrics: [chrf, comet]\nstatistics: {resamples: 100}\n"
                      "systems:\n  - name: copy-source\n    backend: copy\n", encoding="utf-8")
    return ["run", "-c", str(config), "--run-dir", str(tmp_path / "out"), "-q"]


def _cached_comet_scores(tmp_path: Path) -> int:
    path = tmp_path / "evalharness-cache" / "translations.sqlite3"
    if not path.is_file():
        return 0
    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return db.execute("SELECT COUNT(*) FROM segment_scores").fetchone()[0] if "segment_scores" in tables else 0


@pytest.mark.parametrize("mode, words", [
    ("die", "stopped (exit code 139) instead of sending its reply; its last words: Segmentation fault"),
    ("garbage-hello", "sent b'Loading lightning...' as its hello, which is not a JSON line"),
    ("nan", "nan"),
    ("huge", "1000000.0"),
    ("strings", "'0.5'"),
    ("list", "JSON list"),
    ("no-scores", "without a list of scores"),
    ("not-json", "not a JSON line"),
    ("short", "28 scores for 29 segments"),
])
def test_a_comet_worker_that_breaks_the_protocol_is_exit_3_and_nothing_is_kept(
        mode: str, words: str, fake_comet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FAKE_COMET", mode)
    err = _one_line(capsys, main(_comet_run(tmp_path)), 3, "the COMET worker", words)
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()
    assert _cached_comet_scores(tmp_path) == 0  # a NaN or 1e6 never becomes a cached value


def test_a_comet_worker_that_answers_well_is_used(fake_comet: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_COMET", "ok")  # the control: the same stand-in, speaking the protocol
    assert main(_comet_run(tmp_path)) == 0
    assert json.loads((tmp_path / "out" / "results.json").read_text())["results"]["copy-source"]["ms-en"][
        "scores"]["comet"]["score"] == pytest.approx(50.0)


@pytest.mark.parametrize("mode, words", [
    ("silent-hello", "sent no hello within 1 s"),
    ("silent", "sent no reply within 2 s"),
])
def test_a_silent_comet_worker_is_given_up_on_within_its_deadline(
        mode: str, words: str, fake_comet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FAKE_COMET", mode)
    monkeypatch.setenv("EVALHARNESS_COMET_TIMEOUT", "1")
    for name, text in (("src.txt", "satu dua tiga\n"), ("ref.txt", "one two three\n"), ("hyp.txt", "one two\n")):
        (tmp_path / name).write_text(text, encoding="utf-8")
    started = time.monotonic()
    code = main(["score", "--src", str(tmp_path / "src.txt"), "--ref", str(tmp_path / "ref.txt"),
                 "--hyp", str(tmp_path / "hyp.txt"), "--metrics", "comet", "--comet-model", "Unbabel/wmt22-comet-da"])
    assert time.monotonic() - started < 20
    _one_line(capsys, code, 3, words, "EVALHARNESS_COMET_TIMEOUT")


def test_a_comet_probe_that_prints_null_is_one_line(fake_comet: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FAKE_COMET", "probe-null")
    _one_line(capsys, main(_comet_run(tmp_path)), 2, "does not run the version probe", "printed 'null'")


# --------------------------------------------------------------------------- segment length caps


@pytest.mark.parametrize("metric, label", [("bleu", "BLEU"), ("chrf", "chrF"), ("chrf++", "chrF++")])
def test_an_overlong_segment_is_refused_by_every_metric_not_scored_for_minutes(
        metric: str, label: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref, hyp = tmp_path / "ref.txt", tmp_path / "hyp.txt"
    ref.write_text("one two three\n" + "w" * 10 + "\n", encoding="utf-8")
    hyp.write_text("one two\n" + "abc " * 2_000_000 + "\n", encoding="utf-8")  # one 8 MB line (BLEU: ~10 s, 1.5 GB)
    started = time.monotonic()
    code = main(["score", "--ref", str(ref), "--hyp", str(hyp), "--metrics", metric])
    assert time.monotonic() - started < 10
    _one_line(capsys, code, 2, "segment 2: the hypothesis has 8,000,000 characters",
              f"{label} takes at most 100,000 characters")
    hyp.write_text("one two\n" + "abc " * 20_000 + "\n", encoding="utf-8")  # 80,000: a long paragraph, still scored
    assert main(["score", "--ref", str(ref), "--hyp", str(hyp), "--metrics", metric]) == 0


def test_the_length_cap_holds_for_run_scoring_too() -> None:
    from evalharness.errors import HypothesisError
    from evalharness.scoring.metrics import get_metrics
    from evalharness.scoring.scorer import score_metrics

    with pytest.raises(HypothesisError, match="the reference has 100,001 characters; BLEU takes at most 100,000"):
        score_metrics(get_metrics(["bleu", "chrf"]), ["short"], ["x" * 100_001])


# --------------------------------------------------------------------------- Ray settings


@pytest.mark.parametrize("resources, words", [
    ("{num_cpus: 1e-9}", "num_cpus 1e-09: Ray counts resources in steps of 0.0001"),
    ("{num_cpus: 1, num_gpus: 0.00001}", "num_gpus 1e-05: Ray counts resources in steps of 0.0001"),
    ("{num_cpus: 0}", "a worker must ask for some num_cpus or num_gpus"),
])
def test_ray_resources_below_rays_precision_are_refused_in_one_line(
        resources: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "ray.yaml"
    config.write_text(f"systems:\n  - name: c\n    backend: copy\nexecutor: {{kind: ray, resources: {resources}}}\n",
                      encoding="utf-8")
    _one_line(capsys, main(["run", "-c", str(config), "--run-dir", str(tmp_path / "out"), "-q"]), 2,
              "executor.resources", words)
    assert not (tmp_path / "out").exists()


def test_ray_workers_are_bounded_by_whole_cpus_and_by_the_shards() -> None:
    from evalharness.runs.executor import RaySettings, Resources
    from evalharness.runs.ray_executor import worker_slots

    def slots(nodes: list[dict[str, float]], shards: int, **resources: float) -> int:
        return worker_slots(nodes, RaySettings(kind="ray", resources=Resources(**resources)), "auto", shards)

    two_cores = [{"CPU": 2.0, "GPU": 0.0}]
    assert slots(two_cores, 8, num_cpus=0.001) == 2  # was 2,000 (one model-loading worker per shard: 8)
    assert slots(two_cores, 1, num_cpus=0.001) == 1  # never more workers than shards
    assert slots(two_cores, 8, num_cpus=1) == 2
    assert slots([{"CPU": 16.0, "GPU": 2.0}, {"CPU": 8.0, "GPU": 1.0}], 100, num_cpus=2, num_gpus=1) == 3
    assert slots([{"CPU": 16.0, "GPU": 1.0}], 100, num_cpus=1, num_gpus=0.25) == 4  # four small models a GPU


# --------------------------------------------------------------------------- non-finite scores


def test_a_metric_that_gives_non_finite_scores_is_an_error_never_a_row() -> None:
    """Any metric scored outside sacrebleu (COMET, a plug-in) is held to finite numbers, whatever its worker did."""
    from typing import Any

    import numpy as np

    from evalharness.errors import InternalError
    from evalharness.scoring.metrics import Metric
    from evalharness.scoring.scorer import score_metrics

    class Broken(Metric):
        name, label, higher_is_better = "broken", "Broken", True
        reads = frozenset({"hypotheses", "references", "sources"})

        def __init__(self, value: float) -> None:
            super().__init__()
            self.value = value

        @property
        def signature(self) -> str:
            return "broken"

        def segment_stats(self, hypotheses: Any, references: Any, *, sources: Any = None) -> Any:
            return self.evaluate(hypotheses, references, sources=sources)[0]

        def score_of_sum(self, summed: Any) -> float:
            return float(summed[0])

        def evaluate(self, hypotheses: Any, references: Any, *, sources: Any = None) -> Any:
            stats = np.array([[0.5, 1.0], [self.value, 1.0]])
            return stats, [100 * float(s[0]) for s in stats]

    for value in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(InternalError, match=r"Broken gave \[.*\] as the statistic of segment 2 .*not finite"):
            score_metrics([Broken(value)], ["a", "b"], ["a", "b"], sources=["x", "y"], segment_scores=True)
    assert score_metrics([Broken(0.25)], ["a", "b"], ["a", "b"], sources=["x", "y"])[0].stats[1, 0] == 0.25


# --------------------------------------------------------------------------- SIGTERM leaves nothing behind


def _wait_for(proc: subprocess.Popen[str], condition: Callable[[], bool], seconds: float = 60) -> None:
    """Wait until ``condition()`` holds while ``proc`` runs; its stderr is the message if it ends first."""
    deadline = time.monotonic() + seconds
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"ended early with {proc.returncode}: {proc.communicate()[1]}")
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_sigterm_during_a_run_set_leaves_nothing_behind(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """The COMET worker (a real subprocess) never answers, so the run set is caught mid-way, scoring, when SIGTERM
    comes: no run set folder, no staging folder (``.out.XXXX.tmp``, made only once every test set is scored)."""
    script = tmp_path / "fake-comet-python"
    script.write_text(_FAKE_COMET.format(python=sys.executable), encoding="utf-8")
    script.chmod(0o755)
    corpus = REPO / "corpora" / "rt-2013-russia-japan-2plus2"
    config = tmp_path / "set.yaml"
    config.write_text(f"corpora: [{corpus}, {corpus}/pairs.jsonl]\nmetrics: [chrf, comet]\n"
                      "systems:\n  - name: copy-source\n    backend: copy\n", encoding="utf-8")
    cache_hub_model(Path(cli_env["HF_HOME"]), "Unbabel/wmt22-comet-da")  # the offline check finds it cached
    env = {**cli_env, "PYTHONPATH": str(REPO), "EVALHARNESS_COMET_PYTHON": str(script), "FAKE_COMET": "silent",
           "EVALHARNESS_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "evalharness", "run", "-c", str(config), "--run-dir",
                             str(tmp_path / "out"), "-q"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(proc, lambda: any(
            b"fake-comet-python" in Path(f"/proc/{k}/cmdline").read_bytes() for k in _children(proc.pid)))
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert err.strip() == "evalharness: terminated", err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert not (tmp_path / "out").exists()


def test_sigterm_during_a_download_removes_the_temporary_file(tmp_path: Path, cli_env: dict[str, str]) -> None:
    from tests.test_testsets import EN, MS, SET, Server, _registry

    server = Server({"/files/tiny.ms": MS.encode() * 100, "/files/tiny.en": EN.encode()}, trickle={"/files/tiny.ms"})
    server.start()
    cache = tmp_path / "testsets-cache"
    env = {**cli_env, "PYTHONPATH": str(REPO), "EVALHARNESS_TESTSETS_DIR": str(cache),
           "EVALHARNESS_TESTSETS_REGISTRY": str(_registry(tmp_path / "r.json", server.base))}
    env.pop("EVALHARNESS_TESTSETS_MIRROR", None)
    proc = subprocess.Popen([sys.executable, "-m", "evalharness", "testsets", "get", SET], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(proc, lambda: any(p.name.endswith(".tmp") for p in cache.rglob("*")))  # the download is under way
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        server.stop()
    assert proc.returncode == 143, err
    assert err.splitlines()[-1] == "evalharness: terminated", err
    assert [p for p in cache.rglob("*") if p.is_file()] == []


def test_a_bad_scoring_processes_value_stops_a_run_in_its_checks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("systems:\n  - name: c\n    backend: copy\n", encoding="utf-8")
    monkeypatch.setenv("EVALHARNESS_SCORING_PROCESSES", "-1")
    _one_line(capsys, main(["run", "-c", str(config), "--run-dir", str(tmp_path / "out"), "-q"]), 2,
              "EVALHARNESS_SCORING_PROCESSES='-1'")
    assert not (tmp_path / "out").exists()


def test_references_that_are_all_empty_are_refused_not_scored_perfect(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """1,000,000 empty reference and hypothesis lines scored TER 0.00, "perfect", with no word of warning."""
    empty = tmp_path / "empty.txt"
    empty.write_text("\n" * 1_000_000, encoding="utf-8")
    code = main(["score", "--ref", str(empty), "--hyp", str(empty), "--metrics", "ter"])
    _one_line(capsys, code, 2, f"{empty}: every one of its 1,000,000 lines is empty")
    some = tmp_path / "some.txt"
    some.write_text("\n" * 5 + "one reference\n", encoding="utf-8")  # some empty lines are the file's business
    assert main(["score", "--ref", str(some), "--hyp", str(some), "--metrics", "ter"]) == 0


# --------------------------------------------------------------------------- fuzz of the new inputs


@pytest.mark.slow  # ~25 s: every damaged reply starts a worker, and a reply with no line end waits out its deadline
def test_fuzz_registries_and_worker_replies_are_one_line_and_never_exit_1(
        tmp_path: Path, fake_comet: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Damaged copies (truncated, bytes flipped, JSON fields deleted or retyped) of a test-set registry and of a
    COMET worker's reply: exit 0 or one line with exit 2 (a registry: the user's file) or 3 (a reply: the worker)."""
    import random

    from tests.test_hardening import _damaged
    from tests.test_testsets import _registry

    rng = random.Random(20261202)
    good_registry = _registry(tmp_path / "good.json", "https://example.org", ms_bytes=95).read_bytes()
    for round_ in range(4):
        for label, data in _damaged(good_registry, rng):
            path = tmp_path / f"r{round_}.json"
            path.write_bytes(data)
            monkeypatch.setenv("EVALHARNESS_TESTSETS_REGISTRY", str(path))
            for argv in (["testsets", "list"], ["testsets", "info", "tiny-set"]):
                code = main(argv)
                err = capsys.readouterr().err
                assert code in (0, 2), (label, argv, code, err)
                assert code == 0 or err.count("\n") == 1, (label, err)
    monkeypatch.delenv("EVALHARNESS_TESTSETS_REGISTRY")
    good_reply = b'{"id": ID, "scores": [0.5], "system_score": 0.5, "seconds": 0.1}\n'
    for name, text in (("src.txt", "satu dua\n"), ("ref.txt", "one two\n"), ("hyp.txt", "one\n")):
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.setenv("FAKE_COMET", "replay")
    monkeypatch.setenv("EVALHARNESS_COMET_TIMEOUT", "1")
    for round_ in range(4):
        for label, data in _damaged(good_reply.replace(b"ID", b"1"), rng):
            reply = tmp_path / f"reply{round_}"
            reply.write_bytes(data)
            monkeypatch.setenv("FAKE_REPLY", str(reply))
            code = main(["score", "--src", str(tmp_path / "src.txt"), "--ref", str(tmp_path / "ref.txt"), "--hyp",
                         str(tmp_path / "hyp.txt"), "--metrics", "comet", "--comet-model", f"model-{round_}-{label}"])
            err = capsys.readouterr().err
            assert code in (0, 2, 3), (label, data, code, err)
            assert code == 0 or (err.count("\n") == 1 and "Traceback" not in err), (label, data, err)
