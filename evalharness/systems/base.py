"""The interface every MT system implements, and what a system may ask of the store it is given."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, Protocol

from evalharness.systems.settings import SystemSettings


class Translation(NamedTuple):
    """One output: its text, how many tokens were generated, and whether it stopped at max_new_tokens.

    ``notes`` names the post-processing rules that changed the text (``think``, ``preamble``: see
    :mod:`evalharness.systems.postprocess`); ``raw`` is the text as the engine gave it, when a rule changed it —
    what the translation cache keeps, so a rerun served from it reports the same notes.
    """

    text: str
    tokens: int = 0
    hit_limit: bool = False
    notes: tuple[str, ...] = ()
    raw: str | None = None


BatchFn = Callable[[Sequence[int], Sequence[Translation]], None]
"""Called as each batch finishes with the input positions of the batch and their translations."""


class Store(Protocol):
    """The translation store as systems see it (``evalharness.store`` implements it)."""

    @property
    def data_dir(self) -> Path:
        """A folder where a backend may keep what it derives from a model (converted checkpoints)."""

    def dir_hash(self, folder: Path, compute: Callable[[Path], str]) -> str:
        """``compute(folder)``, memoised while the folder's files are unchanged."""

    def get_many(self, keys: Sequence[str]) -> dict[str, Translation]:
        """The stored translations among ``keys``."""

    def put_many(self, identity: str, description: dict[str, Any], src: str, tgt: str,
                 items: Iterable[tuple[str, Translation]]) -> None:
        """Store translations (committed before returning)."""

    def get_facts(self, identity: str) -> dict[str, Any] | None:
        """What was learnt when the system with this identity was last loaded, if it ever was."""

    def put_facts(self, identity: str, facts: dict[str, Any]) -> None:
        """Keep what loading the system taught (classes, parameter count, device) for cached reruns."""


class System(ABC):
    """Translates batches of text from one language to another; describes itself for the manifest."""

    Settings: ClassVar[type[SystemSettings]] = SystemSettings
    """The settings model of this backend (see :func:`evalharness.systems.settings.parse_system`)."""

    cacheable: ClassVar[bool] = False
    """True for systems whose outputs the translation cache may keep (model systems)."""

    runs_on_driver: ClassVar[bool] = False
    """True for systems whose work happens elsewhere (an HTTP endpoint): on a Ray cluster they run in the driver,
    so that their concurrency and rate limits hold for the whole run instead of once per worker."""

    whole_corpus: ClassVar[bool] = False
    """True for systems whose outputs are line-aligned with the whole corpus (files): they are always asked for
    every segment, and a ``--where`` filter picks from their outputs."""

    def __init__(self, settings: SystemSettings, *, seed: int = 0, key: str = "systems.0",
                 store: Store | None = None, notify: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.name = settings.name
        self.seed = seed
        self.key = key  # where this system sits in the config, for error messages
        self.store = store
        self.notify = notify or (lambda message: None)  # one-line status (loading a model) for the user
        self.load_s = 0.0

    @property
    def segmentation(self) -> str:
        """``paragraph`` (each segment one input) or ``sentence`` (split, translate, rejoin)."""
        return "paragraph"

    @property
    def loaded(self) -> bool:
        """True once :meth:`prepare` has loaded what :meth:`facts` describes (always, without a model)."""
        return True

    def preflight(self, segments: int) -> None:  # noqa: B027 - optional hook
        """Cheap checks (files exist and fit, model reachable) run for every system before any translates.

        ``segments``: how many segments the corpus has at the run's level (what line-aligned outputs must match).
        """

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Load what translating needs (model weights); called only when something must be translated."""

    def identity(self) -> dict[str, Any]:
        """Everything that determines the outputs (the translation cache key is built from it)."""
        return self.manifest()

    def repeatable(self) -> bool:
        """True when asking again gives the same outputs; only then may the translation cache serve them (an LLM
        sampled at a temperature above 0 with no seed is not)."""
        return True

    def finish(self, raw: Translation, source: str) -> Translation:
        """A stored output (its ``raw`` text) made into what :meth:`translate` returns: post-processing again."""
        return raw

    def facts(self) -> dict[str, Any]:
        """What is known only once the system is loaded (classes, parameter count, device); None before."""
        return {}

    @abstractmethod
    def translate(self, texts: Sequence[str], src: str, tgt: str, *,
                  on_batch: BatchFn | None = None) -> list[Translation]:
        """One output per input, in input order; ``on_batch`` hears about each finished batch."""

    def manifest(self) -> dict[str, Any]:
        """What identifies this system's outputs: backend, model, revision, settings."""
        return {"backend": self.settings.backend}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release memory held by the system (model weights)."""
