"""Registries: a third-party backend arrives through a real package entry point; names and types are checked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from evalharness.errors import UnknownNameError
from evalharness.registry import Registry, RegistryError
from evalharness.systems import System
from tests.conftest import REPO

PLUGIN = '''
from collections.abc import Sequence
from typing import Literal

from evalharness.systems import System, Translation
from evalharness.systems.settings import SystemSettings


class ShoutSettings(SystemSettings):
    backend: Literal["shout"] = "shout"
    suffix: str = "!"


class ShoutSystem(System):
    """Upper-cases the source: a stand-in for someone else's MT engine."""

    Settings = ShoutSettings

    def translate(self, texts: Sequence[str], src: str, tgt: str, *, on_batch=None) -> list[Translation]:
        out = [Translation(t.upper() + self.settings.suffix) for t in texts]
        if on_batch:
            on_batch(range(len(out)), out)
        return out
'''


def _install_plugin(site: Path, name: str, target: str) -> None:
    """A distribution on sys.path with an ``evalharness.backends`` entry point, as pip would leave it."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "shout_plugin.py").write_text(PLUGIN, encoding="utf-8")
    info = site / "shout_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shout-plugin\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[evalharness.backends]\n{name} = {target}\n", encoding="utf-8")


def _cli(tmp_path: Path, site: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]),
           "EVALHARNESS_CACHE_DIR": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "evalharness", *argv], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120, check=False)


def test_a_backend_from_an_entry_point_runs_with_its_own_settings(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install_plugin(site, "shout", "shout_plugin:ShoutSystem")
    config = tmp_path / "c.yaml"
    config.write_text("systems:\n  - name: loud\n    backend: shout\n    suffix: ' !!'\nmetrics: [chrf]\n",
                      encoding="utf-8")
    done = _cli(tmp_path, site, "run", "-c", str(config), "--run-dir", str(tmp_path / "out"), "-q")
    assert done.returncode == 0, done.stderr
    first = (tmp_path / "out" / "segments.jsonl").read_text(encoding="utf-8").split("\n")[0]
    assert " !!" in first and '"system": "loud"' in first
    # Its settings are its own: another backend's key is refused, naming the key.
    config.write_text("systems:\n  - name: loud\n    backend: shout\n    model: x\n", encoding="utf-8")
    done = _cli(tmp_path, site, "run", "-c", str(config), "--run-dir", str(tmp_path / "out2"), "-q")
    assert done.returncode == 2 and "systems.0.model: unknown key" in done.stderr
    assert done.stderr.count("\n") == 1 and not (tmp_path / "out2").exists()


def test_a_plugin_cannot_take_a_builtin_name(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install_plugin(site, "copy", "shout_plugin:ShoutSystem")
    config = tmp_path / "c.yaml"
    config.write_text("systems:\n  - name: floor\n    backend: copy\n", encoding="utf-8")
    done = _cli(tmp_path, site, "run", "-c", str(config), "--run-dir", str(tmp_path / "out"), "-q")
    assert done.returncode == 2, done.stderr
    assert "system backend 'copy' is registered twice" in done.stderr and done.stderr.count("\n") == 1


def test_registry_checks_the_class_and_suggests_a_name() -> None:
    registry: Registry[System] = Registry("system backend", System)
    registry.register("files", "evalharness.systems.files:FilesSystem")
    registry.register("not-a-system", "evalharness.corpus.model:Corpus")
    registry.register("missing", "evalharness.systems.files:NoSuchClass")
    assert registry.get("files").__name__ == "FilesSystem"
    with pytest.raises(RegistryError, match=re.escape("is not a subclass of evalharness.systems.base.System")):
        registry.get("not-a-system")
    with pytest.raises(RegistryError, match=re.escape("cannot import evalharness.systems.files:NoSuchClass")):
        registry.get("missing")
    with pytest.raises(UnknownNameError, match="did you mean 'files'"):
        registry.get("file")
    with pytest.raises(RegistryError, match="registered twice"):
        registry.register("files", "evalharness.systems.files:CopySystem")
