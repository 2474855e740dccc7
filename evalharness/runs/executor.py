"""Where the translate stage runs: the :class:`Executor` interface, its settings, and the local executor.

A run hands its executor every test set's work at once (a run of one corpus is a run set of one) and gets back,
per test set, the translations the evaluate stage scores. :class:`LocalExecutor` translates in this process;
:class:`~evalharness.runs.ray_executor.RayExecutor` on a Ray cluster, in one dispatch for all test sets. The run
chooses one, once, from ``executor.kind`` (:func:`evalharness.runs.pipeline.executor_for`).

The settings live here so the config can validate them without importing Ray; the Ray driver is
:mod:`evalharness.runs.ray_executor`, imported only when ``executor.kind`` is ``ray``. A unit of Ray's work is a
:class:`Shard`: up to ``shard_size`` inputs of one system in one direction of one test set.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol

from pydantic import Field, StrictInt, field_validator, model_validator

from evalharness.corpus import Segment
from evalharness.runs.translate import ProgressFactory, Translated, translate_direction
from evalharness.systems import System
from evalharness.systems.base import Translation
from evalharness.systems.settings import Strict

DEFAULT_SHARD_SIZE = 32
"""Inputs per shard: a few batches of the default batch size, so a lost worker costs little to redo."""

_HOST_PORT = re.compile(r"^(?:ray://)?(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(?P<port>[0-9]{1,5})$")


class LocalSettings(Strict):
    """Translate in this process, one system after the other (today's behaviour)."""

    kind: Literal["local"] = "local"


RAY_PRECISION = 0.0001
"""The smallest non-zero quantity of a resource Ray accepts (``ray_constants.MIN_RESOURCE_GRANULARITY``)."""


class Resources(Strict):
    """What each worker (one loaded system) asks of a node: Ray's ``num_cpus`` and ``num_gpus``."""

    num_cpus: float = Field(default=1.0, ge=0, le=1024, allow_inf_nan=False)
    num_gpus: float = Field(default=0.0, ge=0, le=64, allow_inf_nan=False)

    @model_validator(mode="after")
    def _asks_for_something(self) -> Resources:
        for key, value in (("num_cpus", self.num_cpus), ("num_gpus", self.num_gpus)):
            if 0 < value < RAY_PRECISION:  # Ray itself refuses it, deep in the dispatch, with a traceback
                raise ValueError(f"{key} {value:g}: Ray counts resources in steps of {RAY_PRECISION:g}; ask for 0 or "
                                 f"at least {RAY_PRECISION:g}")
        if self.num_cpus == 0 and self.num_gpus == 0:  # Ray would place any number of workers: one model each
            raise ValueError("a worker must ask for some num_cpus or num_gpus (both 0 would start a worker, and load "
                             "a model, for every shard at once)")
        return self


class RaySettings(Strict):
    """Translate on a Ray cluster: shards of every system × direction spread over one actor per loaded system.

    ``address``: ``auto`` (``$RAY_ADDRESS``, else the cluster started on this machine with ``ray start``),
    ``local`` (start a private Ray instance on this machine for the run), ``HOST:PORT`` (the head's GCS port) or
    ``ray://HOST:PORT`` (Ray Client).
    """

    kind: Literal["ray"]
    address: str = "auto"
    shard_size: StrictInt = Field(default=DEFAULT_SHARD_SIZE, ge=1, le=100_000)
    resources: Resources = Field(default_factory=Resources)
    max_retries: StrictInt = Field(default=3, ge=0, le=100)  # per shard, after its worker died

    @field_validator("address")
    @classmethod
    def _known_form(cls, address: str) -> str:
        address = address.strip()
        if address in ("auto", "local") or _HOST_PORT.match(address):
            port = host_port(address)
            if port is not None and not 0 < port[1] < 65536:
                raise ValueError(f"port {port[1]} is out of range (1-65535)")
            return address
        raise ValueError("expected auto, local, HOST:PORT or ray://HOST:PORT")


ExecutorSettings = Annotated[LocalSettings | RaySettings, Field(discriminator="kind")]
"""``executor:`` in a config: ``{kind: local}`` or ``{kind: ray, address: …, shard_size: …, resources: …}``."""


def host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``HOST:PORT`` or ``ray://HOST:PORT``; None for ``auto`` and ``local``."""
    match = _HOST_PORT.match(address)
    if match is None:
        return None
    return match["host"].strip("[]"), int(match["port"])


@dataclass
class Shard:
    """One unit of work: some inputs of one system in one direction of one test set.

    ``positions`` index the job's inputs (translation units, in corpus order), so a shard's outputs go back
    into place whatever order the shards come back in; ``attempts`` counts the workers that died on it.
    """

    system: int  # position of the system in the config
    direction: str
    test_set: str
    number: int  # the shard's position within its system × direction × test set
    positions: list[int]
    texts: list[str]
    attempts: int = 0
    outputs: list[Translation] = field(default_factory=list)


def plan_shards(system: int, direction: str, test_set: str, positions: list[int], texts: list[str],
                shard_size: int) -> list[Shard]:
    """``positions`` (with their ``texts``) cut into consecutive shards of at most ``shard_size`` inputs."""
    return [Shard(system, direction, test_set, n, positions[i : i + shard_size], texts[i : i + shard_size])
            for n, i in enumerate(range(0, len(positions), shard_size))]


# --------------------------------------------------------------------------- the interface


@dataclass
class TestSetWork:
    """One test set's part of a translate stage: its name, the systems as its run built them (a ``files`` system
    reads that test set's file) with the directions each translates, its segments and the positions each direction
    keeps."""

    __test__ = False  # not a pytest class, whatever its name

    name: str
    systems: list[System]
    directions: list[list[str]]  # per system, in config order
    segments: list[Segment]
    keep: dict[str, list[int]]


@dataclass
class Translations:
    """What an executor hands back for one test set: every system × direction, in config order, and each system's
    manifest entry."""

    translated: list[Translated]
    systems: dict[str, Any]


class Executor(Protocol):
    """Runs the translate stage of a run: every system × direction × test set, the systems closed afterwards."""

    def translate(self, works: Sequence[TestSetWork], *, progress: ProgressFactory | None,
                  notify: Callable[[str], None] | None) -> tuple[list[Translations], dict[str, Any]]:
        """Per test set (in the order given) its translations, and the executor's description for the manifest."""
        ...


class LocalExecutor:
    """Translate in this process: one test set after the other, each system in each of its directions, then closed.

    ``name_sets``: say which test set is translated (a run set's progress on stderr)."""

    def __init__(self, *, name_sets: bool = False) -> None:
        self.name_sets = name_sets

    def translate(self, works: Sequence[TestSetWork], *, progress: ProgressFactory | None,
                  notify: Callable[[str], None] | None) -> tuple[list[Translations], dict[str, Any]]:
        """See :meth:`Executor.translate`."""
        out: list[Translations] = []
        try:
            for number, work in enumerate(works, 1):
                if self.name_sets and notify is not None:
                    notify(f"test set {work.name} ({number} of {len(works)})")
                out.append(self._translate_set(work, progress))
        finally:  # on every path: a model load that failed must not leave the other systems open
            for work in works:
                for system in work.systems:
                    system.close()
        return out, {"kind": "local"}

    @staticmethod
    def _translate_set(work: TestSetWork, progress: ProgressFactory | None) -> Translations:
        translated: list[Translated] = []
        manifests: dict[str, Any] = {}
        for system, directions in zip(work.systems, work.directions, strict=True):
            try:
                translated += [translate_direction(system, d, work.segments, work.keep[d], progress)
                               for d in directions]
                manifests[system.name] = {**system.manifest(), "directions": directions}
            finally:
                system.close()  # before the next system loads its model
        return Translations(translated, manifests)
