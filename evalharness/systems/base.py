"""The interface every MT system implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

if TYPE_CHECKING:
    from evalharness.systems.settings import SystemConfig


class Translation(NamedTuple):
    """One output: its text, how many tokens were generated, and whether it stopped at max_new_tokens."""

    text: str
    tokens: int = 0
    hit_limit: bool = False


BatchFn = Callable[[Sequence[int], Sequence[Translation]], None]
"""Called as each batch finishes with the input positions of the batch and their translations."""


class System(ABC):
    """Translates batches of text from one language to another; describes itself for the manifest."""

    cacheable: ClassVar[bool] = False
    """True for systems whose outputs the translation cache may keep (model systems)."""

    whole_corpus: ClassVar[bool] = False
    """True for systems whose outputs are line-aligned with the whole corpus (files): they are always asked for
    every segment, and a ``--where`` filter picks from their outputs."""

    def __init__(self, config: SystemConfig, *, seed: int = 0, index: int = 0) -> None:
        self.config = config
        self.name = config.name
        self.seed = seed
        self.key = f"systems.{index}"  # where this system sits in the config, for error messages
        self.load_s = 0.0

    def preflight(self) -> None:  # noqa: B027 - optional hook
        """Cheap checks (files exist, model reachable) run for every system before any translates."""

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Load what translating needs (model weights); called only when something must be translated."""

    def identity(self) -> dict[str, Any]:
        """Everything that determines the outputs (the translation cache key is built from it)."""
        return self.manifest()

    @abstractmethod
    def translate(self, texts: Sequence[str], src: str, tgt: str, *,
                  on_batch: BatchFn | None = None) -> list[Translation]:
        """One output per input, in input order; ``on_batch`` hears about each finished batch."""

    def manifest(self) -> dict[str, Any]:
        """What identifies this system's outputs: backend, model, revision, settings."""
        return {"backend": self.config.backend}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release memory held by the system (model weights)."""
