"""Where the translate stage runs: in this process (``local``, the default) or on a Ray cluster (``ray``).

The settings live here so the config can validate them without importing Ray; the Ray driver is
:mod:`evalharness.runs.ray_executor`, imported only when ``executor.kind`` is ``ray``. A unit of work is a
:class:`Shard`: up to ``shard_size`` inputs of one system in one direction of one test set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import Field, StrictInt, field_validator, model_validator

from evalharness.systems.base import Translation
from evalharness.systems.settings import Strict

DEFAULT_SHARD_SIZE = 32
"""Inputs per shard: a few batches of the default batch size, so a lost worker costs little to redo."""

_HOST_PORT = re.compile(r"^(?:ray://)?(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(?P<port>[0-9]{1,5})$")


class LocalExecutor(Strict):
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


class RayExecutor(Strict):
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


ExecutorSettings = Annotated[LocalExecutor | RayExecutor, Field(discriminator="kind")]
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
