"""The interface every MT system implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalharness.config import SystemConfig

ProgressFn = Callable[[int], None]
"""Called with the number of segments just finished, so the caller can advance a progress bar."""


class System(ABC):
    """Translates batches of text from one language to another; describes itself for the manifest."""

    def __init__(self, config: SystemConfig, *, seed: int = 0, index: int = 0) -> None:
        self.config = config
        self.name = config.name
        self.seed = seed
        self.key = f"systems.{index}"  # where this system sits in the config, for error messages

    def preflight(self) -> None:  # noqa: B027 - optional hook
        """Cheap checks (files exist, model reachable) run for every system before any translates."""

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Load what translating needs (model weights), so load time is not counted as translation time."""

    @abstractmethod
    def translate(self, texts: Sequence[str], src: str, tgt: str, *,
                  progress: ProgressFn | None = None) -> list[str]:
        """One output per input, in input order."""

    def manifest(self) -> dict[str, Any]:
        """What identifies this system's outputs: backend, model, revision, settings."""
        return {"backend": self.config.backend}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release memory held by the system (model weights)."""
