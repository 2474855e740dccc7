"""The Makefile's set-up targets connect to what evalharness then does: ``make setup EXTRAS=…`` installs what it
names into an existing .venv, and ``make comet-setup`` writes the COMET environment where evalharness looks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evalharness.scoring.comet.env import ENV_VAR, comet_python, default_venv, venv_python
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _dry_run(*args: str, venv: Path) -> list[str]:
    """The commands ``make -n`` would run, against a stand-in .venv."""
    done = subprocess.run(["make", "-n", "-C", str(REPO), f"VENV={venv}", *args], capture_output=True, text=True,
                          check=True)
    return done.stdout.splitlines()


def _installed(venv: Path, extras: str) -> None:
    """A .venv that ``make setup EXTRAS=extras`` has set up: its stamp newer than what it depends on."""
    venv.mkdir(parents=True, exist_ok=True)
    stamp = venv / f".installed-{extras.replace(',', '-')}"
    stamp.touch()
    newest = max((REPO / name).stat().st_mtime for name in ("pyproject.toml", "constraints.txt"))
    os.utime(stamp, (newest + 10, newest + 10))


def test_setup_with_other_extras_installs_them_into_an_existing_venv(tmp_path: Path) -> None:
    venv = tmp_path / ".venv"
    _installed(venv, "dev,ct2")
    assert not any("pip install" in line for line in _dry_run("setup", venv=venv))  # the same extras: nothing to do
    ray = _dry_run("setup", "EXTRAS=dev,ct2,ray", venv=venv)
    assert any("pip install" in line and "'.[dev,ct2,ray]'" in line for line in ray), ray


def test_comet_setup_writes_where_evalharness_looks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make comet-setup` runs `metrics setup comet` without --venv, so the environment lands in default_venv(),
    the place comet_python() finds with no variable set (what `make comet-setup && make test` relies on)."""
    venv = tmp_path / ".venv"
    _installed(venv, "dev,ct2")
    (line,) = [cmd for cmd in _dry_run("comet-setup", venv=venv) if "metrics setup comet" in cmd]
    assert "--venv" not in line
    monkeypatch.delenv(ENV_VAR, raising=False)
    python = venv_python(default_venv())  # under this test's own cache dir (conftest's autouse fixture)
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)
    assert comet_python() == python
