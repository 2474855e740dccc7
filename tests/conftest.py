"""Shared fixtures: paths to the shipped corpus and the raw article."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS_NAME = "rt-2013-russia-japan-2plus2"
CORPUS_DIR = REPO / "corpora" / CORPUS_NAME
REPO_ROOT = REPO
SEED = REPO.parent / "shared" / "seed" / "rt-2013-russia-japan-2plus2.ms-en.txt"


@pytest.fixture
def seed_path() -> Path:
    """The raw article; only present in a checkout that has ../shared beside it."""
    if not SEED.is_file():
        pytest.skip(f"raw article not found at {SEED} (../shared/seed is laid beside the checkout in CI)")
    return SEED


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own translation cache under tmp_path: never the user's ~/.cache."""
    monkeypatch.setenv("EVALHARNESS_CACHE_DIR", str(tmp_path / "evalharness-cache"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight MarianMT model with real MarianTokenizer files, trained on the corpus text.

    Built once per test session with ``save_pretrained``; loaded back by the tests through the same
    ``from_pretrained`` path a hub model takes.
    """
    from evalharness.tiny_model import build_marian

    return build_marian(tmp_path_factory.mktemp("tiny-marian"))


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for CLI subprocesses: offline hub, an empty HF cache under tmp_path, no user files touched."""
    import os

    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf-home"), PYTHONUNBUFFERED="1",
               XDG_CACHE_HOME=str(tmp_path / "xdg-cache"))
    return env


def read_results(path: Path) -> Any:
    """``results.json`` of a run directory as written on disk (plain JSON), after the library validated it."""
    from evalharness.runs.files import load_results

    file = path / "results.json" if path.is_dir() else path
    load_results(file)
    return json.loads(file.read_text(encoding="utf-8"))


def read_segments(path: Path) -> list[Any]:
    """``segments.jsonl`` of a run directory as written on disk, after the library validated it."""
    from evalharness.runs.files import load_segments

    file = path / "segments.jsonl" if path.is_dir() else path
    load_segments(file)
    return [json.loads(line) for line in file.read_text(encoding="utf-8").split("\n") if line]


def cache_hub_model(hf_home: Path, model: str, *files: str) -> None:
    """Put ``model`` in the Hugging Face cache under ``hf_home`` as the hub client leaves it (``refs/main`` naming a
    snapshot that holds ``files``, default COMET's checkpoint): for stand-ins of a model that the offline check
    must find cached. The files hold nothing a real model needs."""
    revision = "0" * 40
    folder = hf_home / "hub" / f"models--{model.replace('/', '--')}"
    for name in files or ("checkpoints/model.ckpt",):
        path = folder / "snapshots" / revision / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"stand-in")
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / "main").write_text(revision, encoding="utf-8")


def write_hypotheses(folder: Path, hyps: dict[str, list[str]]) -> Path:
    """``folder`` (made now) holding one hypothesis file per direction, ``DIRECTION.txt``, one line a segment: what a
    ``files`` system of a test's config reads."""
    folder.mkdir()
    for direction, lines in hyps.items():
        (folder / f"{direction}.txt").write_text("".join(f"{h}\n" for h in lines), encoding="utf-8")
    return folder
