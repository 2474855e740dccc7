"""Shared fixtures: paths to the shipped corpus and the raw article."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS_NAME = "rt-2013-russia-japan-2plus2"
CORPUS_DIR = REPO / "corpora" / CORPUS_NAME
SEED = REPO.parent / "shared" / "seed" / "rt-2013-russia-japan-2plus2.ms-en.txt"


@pytest.fixture
def seed_path() -> Path:
    """The raw article; only present in a checkout that has ../shared beside it."""
    if not SEED.is_file():
        pytest.skip(f"raw article not found at {SEED} (../shared/seed is laid beside the checkout in CI)")
    return SEED
