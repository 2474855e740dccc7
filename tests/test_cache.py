"""Translation cache: key parts, resume after SIGKILL, concurrent writers; the ct2 backend."""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evalharness.cli import main
from evalharness.store.sqlite import TranslationStore
from evalharness.systems.base import Translation
from evalharness.systems.cached import entry_key, identity_hash
from tests.conftest import REPO, read_results, read_segments

DEFAULT = REPO / "configs" / "default.yaml"


def _run(tmp_path: Path, name: str, model: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    out = tmp_path / name
    argv = ["run", "-c", str(DEFAULT), "--set", f"systems.0.model={model}", "--set", f"systems.1.model={model}",
            "--set", "systems.0.generation.max_new_tokens=16", "--set", "systems.1.generation.max_new_tokens=16",
            "--set", "systems.0.generation.num_beams=1", "--run-dir", str(out), "-q", *extra]
    assert main(argv) == 0
    return read_results(out)  # type: ignore[return-value]


def _misses(results: dict) -> dict[str, int]:  # type: ignore[type-arg]
    return {f"{s} {d}": r["cache"]["misses"] for s, by in results["results"].items() for d, r in by.items()}


@pytest.mark.slow
def test_metrics_change_hits_generation_change_misses(tiny_model_dir: Path, tmp_path: Path) -> None:
    first = _run(tmp_path, "a", tiny_model_dir)
    assert _misses(first) == {"opus-mt-mul-en ms-en": 29, "opus-mt-en-mul en-ms": 29}
    again = _run(tmp_path, "b", tiny_model_dir, "--set", "metrics=[chrf]")
    assert _misses(again) == {"opus-mt-mul-en ms-en": 0, "opus-mt-en-mul en-ms": 0}
    # The model was never loaded, yet the manifest describes it as the first run's did (facts kept in the store).
    described = again["manifest"]["systems"]["opus-mt-mul-en"]
    assert described["load_s"] == 0.0
    assert described["model_class"] == "MarianMTModel" and described["tokenizer_class"] == "MarianTokenizer"
    timings = ("load_s",)
    for name, system in first["manifest"]["systems"].items():
        mine = again["manifest"]["systems"][name]
        assert {k: v for k, v in mine.items() if k not in timings} == \
            {k: v for k, v in system.items() if k not in timings}
    beams = _run(tmp_path, "c", tiny_model_dir, "--set", "systems.0.generation.num_beams=2")
    assert _misses(beams) == {"opus-mt-mul-en ms-en": 29, "opus-mt-en-mul en-ms": 0}
    prefix = _run(tmp_path, "d", tiny_model_dir, "--set", "systems.1.target_prefix={ms: '>>ind<<'}")
    assert _misses(prefix)["opus-mt-en-mul en-ms"] == 29
    hyps = [s["hypothesis"] for s in read_segments(tmp_path / "a")]
    assert hyps == [s["hypothesis"] for s in read_segments(tmp_path / "b")]
    bypass = _run(tmp_path, "e", tiny_model_dir, "--no-cache")
    assert _misses(bypass) == {"opus-mt-mul-en ms-en": 29, "opus-mt-en-mul en-ms": 29}
    assert [s["hypothesis"] for s in read_segments(tmp_path / "e")] == hyps


BASE = {"backend": "transformers", "model": "/m", "resolved_revision": "sha256:1",
        "generation": {"num_beams": 1, "max_new_tokens": 256, "batch_size": 8}, "target_prefix": {}, "lang_codes": {}}


@pytest.mark.parametrize("change", [
    {"backend": "ct2"}, {"model": "/other"}, {"resolved_revision": "sha256:2"},
    {"generation": {**BASE["generation"], "num_beams": 4}},  # type: ignore[dict-item]
    {"generation": {**BASE["generation"], "max_new_tokens": 128}},  # type: ignore[dict-item]
    {"target_prefix": {"ms": ">>zsm_Latn<<"}}, {"lang_codes": {"ms": "zsm_Latn", "en": "eng_Latn"}},
])
def test_every_identity_part_changes_the_key(change: dict) -> None:  # type: ignore[type-arg]
    base = entry_key(identity_hash(BASE), "en", "ms", "Hello.")
    assert entry_key(identity_hash({**BASE, **change}), "en", "ms", "Hello.") != base


def test_languages_and_text_change_the_key() -> None:
    ident = identity_hash(BASE)
    keys = {entry_key(ident, "en", "ms", "Hello."), entry_key(ident, "ms", "en", "Hello."),
            entry_key(ident, "en", "ms", "Hello!"), entry_key(ident, "en", "id", "Hello.")}
    assert len(keys) == 4


def test_directory_hash_changes_with_the_weights(tmp_path: Path) -> None:
    from evalharness.systems.hf import hash_model_dir

    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"weights-1")
    with TranslationStore(tmp_path / "c.sqlite3") as cache:
        first = cache.dir_hash(model, hash_model_dir)
        assert cache.dir_hash(model, lambda _: "not called") == first  # memoised on name/size/mtime
        (model / "model.safetensors").write_bytes(b"weights-22")
        assert cache.dir_hash(model, hash_model_dir) != first


def _writer(path: str, worker: int, n: int) -> None:
    with TranslationStore(Path(path)) as cache:
        for start in range(0, n, 10):
            items = [(f"k{i}", Translation(f"w{worker}-{i}", i, False)) for i in range(start, start + 10)]
            items += [(f"own{worker}-{i}", Translation("x")) for i in range(start, start + 10)]
            cache.put_many(f"id{worker}", {"backend": "test"}, "en", "ms", items)


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), w, 200)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    with TranslationStore(path) as cache:
        assert cache.integrity() == "ok"
        assert cache.info()["entries"] == 200 + 4 * 200  # shared keys once, each worker's own keys all
        own = cache.get_many([f"own{w}-{i}" for w in range(4) for i in range(200)])
        assert len(own) == 800


@pytest.mark.slow
def test_killed_run_resumes_to_identical_results(tiny_model_dir: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "kill-cache"
    env = dict(os.environ, HF_HUB_OFFLINE="1", EVALHARNESS_CACHE_DIR=str(cache_dir), PYTHONUNBUFFERED="1")
    slow = ["--set", f"systems.0.model={tiny_model_dir}", "--set", f"systems.1.model={tiny_model_dir}",
            "--set", "systems.0.generation.batch_size=1", "--set", "systems.1.generation.batch_size=1",
            "--set", "systems.0.generation.max_new_tokens=32", "--set", "systems.1.generation.max_new_tokens=32",
            "--set", "systems.0.generation.num_beams=1", "--set", "systems.1.generation.num_beams=1"]
    cmd = [sys.executable, "-m", "evalharness", "run", "-c", str(DEFAULT), *slow, "-q"]
    proc = subprocess.Popen([*cmd, "--run-dir", str(tmp_path / "killed")], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = cache_dir / "translations.sqlite3"
    deadline = time.monotonic() + 120
    entries = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=1) as conn:
                    entries = conn.execute("SELECT COUNT(*) FROM translations").fetchone()[0]
            except sqlite3.Error:
                entries = 0
            if entries >= 5:
                break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed; make it slower"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed" / "results.json").exists()
    with TranslationStore(db) as cache:
        assert cache.integrity() == "ok"
        kept = cache.info()["entries"]
    assert 5 <= kept < 58
    resumed = subprocess.run([*cmd, "--run-dir", str(tmp_path / "resumed")], env=env, cwd=REPO,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    results = read_results(tmp_path / "resumed")
    hits = sum(r["cache"]["hits"] for by in results["results"].values() for r in by.values())
    assert hits == kept
    fresh = subprocess.run([*cmd, "--run-dir", str(tmp_path / "fresh"), "--no-cache"], env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=600)
    assert fresh.returncode == 0, fresh.stderr
    assert [s["hypothesis"] for s in read_segments(tmp_path / "resumed")] == \
        [s["hypothesis"] for s in read_segments(tmp_path / "fresh")]
    a = json.loads((tmp_path / "resumed" / "results.json").read_text())["results"]
    b = json.loads((tmp_path / "fresh" / "results.json").read_text())["results"]
    assert {s: {d: r["scores"] for d, r in by.items()} for s, by in a.items()} == \
        {s: {d: r["scores"] for d, r in by.items()} for s, by in b.items()}


def test_cache_info_and_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.sqlite3"
    assert main(["cache", "info"]) == 0  # the default location, not made yet
    assert "no cache yet" in capsys.readouterr().out
    assert main(["cache", "info", "--path", str(path)]) == 2  # a path given by hand that does not exist: a typo?
    assert f"{path}: no such file" in capsys.readouterr().err
    with TranslationStore(path) as cache:
        cache.put_many("i", {"backend": "transformers", "model": "m", "resolved_revision": "r"}, "en", "ms",
                       [("a", Translation("x")), ("b", Translation("y"))])
    assert main(["cache", "info", "--path", str(path)]) == 0
    out = capsys.readouterr().out
    assert "2 entries" in out and "transformers  m  r" in out
    assert main(["cache", "clear", "--path", str(path)]) == 0
    assert "removed 2 entries" in capsys.readouterr().out


def test_unwritable_cache_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    config = tmp_path / "c.yaml"
    config.write_text(f"systems:\n  - name: c\n    backend: copy\ncache: {{path: {blocker / 'sub' / 'c.sqlite3'}}}\n")
    assert main(["run", "-c", str(config), "--run-dir", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "cannot open the translation cache" in err and "--no-cache" in err


# --------------------------------------------------------------------------- CTranslate2


needs_ct2 = pytest.mark.skipif(importlib.util.find_spec("ctranslate2") is None,
                               reason="the ct2 extra is not installed (pip install 'evalharness[ct2]')")


def _system(cls, backend: str, model: Path, store: Path | None = None,  # type: ignore[no-untyped-def]
            **generation: object):
    """The backend itself (no cache wrapper); ``store``: a folder whose store keeps converted models."""
    from evalharness.systems import parse_system

    gen = {"num_beams": 1, "max_new_tokens": 20, "batch_size": 4, "device": "cpu", **generation}
    settings = parse_system({"name": backend, "backend": backend, "model": str(model), "generation": gen,
                             "target_prefix": {"ms": ">>zsm_Latn<<"}})
    return cls(settings, store=TranslationStore(store / "store.sqlite3") if store else None)


@needs_ct2
@pytest.mark.slow
def test_ct2_greedy_float32_equals_transformers(tiny_model_dir: Path, tmp_path: Path) -> None:
    from evalharness.corpus import load_corpus
    from evalharness.systems.ct2 import CT2System
    from evalharness.systems.hf import TransformersSystem

    texts = [p.text("en") for p in load_corpus("rt-2013-russia-japan-2plus2").pairs]

    hf = _system(TransformersSystem, "transformers", tiny_model_dir).translate(texts, "en", "ms")
    engine = _system(CT2System, "ct2", tiny_model_dir, tmp_path, compute_type="float32")
    fast = engine.translate(texts, "en", "ms")
    # Same token sequences in, greedy decoding in float32 on both engines: the same outputs come back.
    # (A Marian output that stops at max_new_tokens has the same text in both; hit_limit agrees too.)
    assert [t.text for t in fast] == [t.text for t in hf]
    assert [t.hit_limit for t in fast] == [t.hit_limit for t in hf]
    converted = list((tmp_path / "ct2-models").iterdir())  # kept beside the store's file
    assert len(converted) == 1 and (converted[0] / "model.bin").is_file()
    again = _system(CT2System, "ct2", tiny_model_dir, tmp_path, compute_type="float32")
    assert [t.text for t in again.translate(texts[:3], "en", "ms")] == [t.text for t in hf[:3]]
    assert again.convert_s == 0.0  # loaded from the converted-model cache, not converted again


def test_ct2_without_the_extra_names_the_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "ctranslate2", None)  # import fails as if not installed
    config = tmp_path / "c.yaml"
    config.write_text("systems:\n  - name: fast\n    backend: ct2\n    model: Helsinki-NLP/opus-mt-mul-en\n")
    assert main(["run", "-c", str(config), "--run-dir", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'evalharness[ct2]'" in err and err.count("\n") == 1


@pytest.fixture
def two_torch_threads():  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield torch
    torch.set_num_threads(before)


@needs_ct2
@pytest.mark.slow
def test_loading_ct2_leaves_torch_threads_alone(tiny_model_dir: Path, tmp_path: Path,
                                                 two_torch_threads) -> None:  # type: ignore[no-untyped-def]
    # CTranslate2 sets the loading thread's OpenMP thread count to its intra_threads, and PyTorch shares it: a
    # transformers system run after a ct2 one would decode on one core.
    from evalharness.systems.ct2 import CT2System

    engine = _system(CT2System, "ct2", tiny_model_dir, tmp_path, threads=1, inter_threads=2)
    engine.prepare()
    assert two_torch_threads.get_num_threads() == 2


@pytest.mark.slow
def test_transformers_threads_hold_only_while_it_translates(tiny_model_dir: Path,
                                                            two_torch_threads) -> None:  # type: ignore[no-untyped-def]
    from evalharness.systems.hf import TransformersSystem

    seen: list[int] = []
    system = _system(TransformersSystem, "transformers", tiny_model_dir, threads=1)
    system.translate(["Good morning.", "Thank you."], "en", "ms",
                     on_batch=lambda _batch, _done: seen.append(two_torch_threads.get_num_threads()))
    assert seen == [1]
    assert two_torch_threads.get_num_threads() == 2  # the next system starts from the process's own setting


@pytest.mark.slow
def test_a_store_without_facts_loads_the_model_to_describe_it(tiny_model_dir: Path, tmp_path: Path) -> None:
    import sqlite3

    first = _run(tmp_path, "a", tiny_model_dir)
    store = next((tmp_path / "evalharness-cache").glob("*.sqlite3"))
    with sqlite3.connect(store) as db:  # as a store written before facts were kept
        db.execute("DELETE FROM facts")
    again = _run(tmp_path, "b", tiny_model_dir)
    assert _misses(again) == {"opus-mt-mul-en ms-en": 0, "opus-mt-en-mul en-ms": 0}
    described = again["manifest"]["systems"]["opus-mt-mul-en"]
    assert described["load_s"] > 0 and described["parameters"] == \
        first["manifest"]["systems"]["opus-mt-mul-en"]["parameters"]


def _digest(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cache_commands_never_create_or_change_a_file_that_is_not_a_cache(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    other = tmp_path / "someone-else.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (text)")
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    before = {p: _digest(p) for p in (other, empty)}
    for target in (other, empty):
        for action in ("info", "clear"):
            assert main(["cache", action, "--path", str(target)]) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and "not an evalharness translation cache" in err
    assert {p: _digest(p) for p in (other, empty)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db", "someone-else.db"]  # no -wal, no -shm
    typo = tmp_path / "typo" / "dir" / "x.sqlite3"
    assert main(["cache", "clear", "--path", str(typo)]) == 2
    assert not (tmp_path / "typo").exists()
    config = tmp_path / "c.yaml"  # a run refuses someone else's database as its cache, too
    config.write_text(f"systems:\n  - name: c\n    model: {tmp_path}/m\ncache: {{path: {other}}}\n")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    assert main(["run", "-c", str(config), "--run-dir", str(tmp_path / "out"), "-q"]) == 2
    assert "not an evalharness translation cache" in capsys.readouterr().err
    assert _digest(other) == before[other] and not (tmp_path / "out").exists()


def test_a_cache_that_fails_mid_run_is_a_warning_and_the_run_completes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.sqlite3"
    with TranslationStore(path) as cache:  # a real store with many pages, then its pages overwritten
        cache.put_many("i", {"backend": "x"}, "en", "ms", [(f"k{i}", Translation("y" * 500)) for i in range(400)])
        cache._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = 4096
    data[2 * page:] = b"\xff" * (len(data) - 2 * page)  # keep the header and schema page, ruin the rest
    path.write_bytes(bytes(data))
    with TranslationStore(path) as cache, pytest.warns(Warning, match="the translation cache failed"):
        assert cache.get_many([f"k{i}" for i in range(400)]) == {}
        cache.put_many("i", {"backend": "x"}, "en", "ms", [("new", Translation("z"))])  # ignored, no raise
        assert cache.broken is not None


def test_cache_info_says_what_tells_cached_systems_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.sqlite3"
    with TranslationStore(path) as cache:
        for beams in (1, 4):
            ident = {**BASE, "generation": {**BASE["generation"], "num_beams": beams}}  # type: ignore[dict-item]
            cache.put_many(identity_hash(ident), ident, "en", "ms", [(f"k{beams}", Translation("x"))])
    assert main(["cache", "info", "--path", str(path)]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert len(rows) == 2 and {r.split()[-1] for r in rows} == {"num_beams=1", "num_beams=4"}
