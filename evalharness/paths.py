"""Where evalharness keeps and finds files outside a run directory: the user cache, and shipped data."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$EVALHARNESS_CACHE_DIR``, else ``$XDG_CACHE_HOME/evalharness``, else ``~/.cache/evalharness``."""
    if os.environ.get("EVALHARNESS_CACHE_DIR"):
        return Path(os.environ["EVALHARNESS_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "evalharness"
