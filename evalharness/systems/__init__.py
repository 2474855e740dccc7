"""MT systems behind one small interface, in a registry that imports a backend only when it is used."""

from __future__ import annotations

from typing import Any

from evalharness.registry import Registry
from evalharness.systems.base import BatchFn, System, Translation

SYSTEMS: Registry[System] = Registry("system backend", System, group="evalharness.backends")
SYSTEMS.register("transformers", "evalharness.systems.hf:TransformersSystem")
SYSTEMS.register("files", "evalharness.systems.files:FilesSystem")
SYSTEMS.register("copy", "evalharness.systems.files:CopySystem")
SYSTEMS.register("ct2", "evalharness.systems.ct2:CT2System")

__all__ = ["SYSTEMS", "BatchFn", "System", "Translation", "create_system"]


def create_system(config: Any, *, seed: int = 0, index: int = 0) -> System:
    """Instantiate the backend named by ``config.backend`` (loading of weights is deferred)."""
    return SYSTEMS.get(config.backend)(config, seed=seed, index=index)
