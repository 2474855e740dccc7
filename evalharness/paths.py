"""Where evalharness keeps and finds files outside a run directory: the user cache, and shipped data.

Shipped data is the reference corpus (``corpora/``) and the example configs (``configs/``). A checkout
keeps them at the top level of the repository, beside the package; a wheel ships the same folders inside
the package, as ``evalharness/_data/corpora`` and ``evalharness/_data/configs`` (see ``[tool.setuptools]``
in pyproject.toml). :func:`bundled_corpora_dir` and :func:`bundled_configs_dir` find them either way.
"""

from __future__ import annotations

import os
from pathlib import Path

from evalharness.errors import ConfigError

_PACKAGE = Path(__file__).resolve().parent


def default_cache_dir() -> Path:
    """``$EVALHARNESS_CACHE_DIR``, else ``$XDG_CACHE_HOME/evalharness``, else ``~/.cache/evalharness``."""
    if os.environ.get("EVALHARNESS_CACHE_DIR"):
        return Path(os.environ["EVALHARNESS_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "evalharness"


def _shipped(folder: str) -> Path:
    # An installed wheel has the folder inside the package; a checkout (editable install, or the source
    # tree on sys.path) has it beside the package. Never the current directory or the environment.
    installed = _PACKAGE / "_data" / folder
    return installed if installed.is_dir() else _PACKAGE.parent / folder


def bundled_corpora_dir() -> Path:
    """The folder of the corpora shipped with evalharness (the article corpus lives here)."""
    return _shipped("corpora")


def bundled_configs_dir() -> Path:
    """The folder of the configs shipped with evalharness (``default.yaml``, ``nllb.yaml``, …)."""
    return _shipped("configs")


def bundled_configs() -> dict[str, Path]:
    """Shipped configs by name (the file's stem), sorted by name."""
    folder = bundled_configs_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.yaml")) if p.is_file()}


def resolve_config_path(path: Path) -> Path:
    """``path`` if it is a file; else the shipped config of that name (``default`` → …/configs/default.yaml).

    A name that is neither raises :class:`ConfigError` naming it and listing the shipped configs, so that
    ``evalharness run -c default`` works from any directory, with or without a checkout.
    """
    if path.is_file():
        return path
    shipped = bundled_configs()
    if str(path) in shipped:
        return shipped[str(path)]
    from evalharness.registry import did_you_mean

    hint = did_you_mean(str(path), shipped)
    names = ", ".join(shipped) or "none"
    what = "not a file" if path.exists() else "config file not found"
    raise ConfigError(f"{path}: {what}, and not the name of a shipped config{hint} (shipped configs: {names})")
