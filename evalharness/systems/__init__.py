"""MT systems behind one small interface, in a registry that imports a backend only when it is used.

Third-party backends register through the package entry-point group ``evalharness.backends``
(``name = "package.module:SystemClass"``); the class names its own settings model (``System.Settings``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evalharness.registry import Registry
from evalharness.systems.base import BatchFn, Store, System, Translation
from evalharness.systems.settings import SystemSettings

SYSTEMS: Registry[System] = Registry("system backend", System, group="evalharness.backends")
SYSTEMS.register("transformers", "evalharness.systems.hf:TransformersSystem")
SYSTEMS.register("files", "evalharness.systems.files:FilesSystem")
SYSTEMS.register("copy", "evalharness.systems.files:CopySystem")
SYSTEMS.register("ct2", "evalharness.systems.ct2:CT2System")
SYSTEMS.register("openai", "evalharness.systems.openai:OpenAISystem")
SYSTEMS.register("command", "evalharness.systems.command:CommandSystem")

__all__ = ["SYSTEMS", "BatchFn", "Store", "System", "SystemSettings", "Translation", "create_system", "parse_system"]


def create_system(settings: SystemSettings, *, seed: int = 0, index: int = 0, store: Store | None = None,
                  notify: Callable[[str], None] | None = None) -> System:
    """The backend named by ``settings.backend`` (weights load later), behind ``store`` when it caches outputs."""
    from evalharness.systems.cached import CachedSystem

    system = SYSTEMS.get(settings.backend)(settings, seed=seed, key=f"systems.{index}", store=store, notify=notify)
    return CachedSystem(system, store) if store is not None and system.cacheable and system.repeatable() else system


def parse_system(data: Any) -> SystemSettings:
    """Validate one ``systems:`` item with its backend's own settings model.

    Raises :class:`pydantic.ValidationError` (wrong keys or values) or
    :class:`evalharness.errors.UnknownNameError` (no such backend).
    """
    if isinstance(data, SystemSettings):
        return data
    if not isinstance(data, dict):
        return SystemSettings.model_validate(data)  # raises the type error with pydantic's wording
    settings: type[SystemSettings] = SYSTEMS.get(str(data.get("backend", "transformers"))).Settings
    return settings.model_validate(data)
