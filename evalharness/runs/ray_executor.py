"""The translate stage on a Ray cluster: shards of every system × direction × test set, one actor per loaded system.

The driver (this process) keeps everything that decides a result: it reads the translation cache before
dispatch, so only misses travel; it cuts them into shards; it writes each shard's outputs to the cache as the
shard returns (workers never open SQLite); it puts outputs back in corpus order. Workers get a system's settings
and load the model themselves, from the hub id or a path they can see. A worker that dies takes no result
with it: its shard goes back to the queue, up to ``executor.max_retries`` times, and another worker redoes it.

Ray is imported only here, and this module only when ``executor.kind`` is ``ray``; :class:`RayExecutor` implements
:class:`~evalharness.runs.executor.Executor`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalharness.corpus import Segment
from evalharness.errors import ClusterError, EvalHarnessError, HypothesisError, InputError, MissingDependencyError
from evalharness.runs.executor import RaySettings, Shard, TestSetWork, Translations, host_port, plan_shards
from evalharness.runs.translate import ProgressFactory, Translated, rejoin, translate_direction, translation_units
from evalharness.systems import System, SystemSettings, Translation, create_system
from evalharness.systems.cached import CachedSystem, entry_key, identity_hash

PROBE_TIMEOUT_S = 1.5
"""How long the head's port may take to accept a TCP connection: ``ray.init`` itself retries for minutes."""


def import_ray() -> Any:
    """The ``ray`` module, or a :class:`MissingDependencyError` that names the extra."""
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("executor.kind ray needs Ray: pip install 'evalharness[ray]'") from None
    return ray


class ShardWorker:
    """One system loaded once on one Ray worker; translates the shards it is sent, with no store of its own."""

    def __init__(self, settings: SystemSettings, seed: int, index: int) -> None:
        self.settings, self.seed, self.index = settings, seed, index
        self.system: System | None = None

    def translate(self, texts: list[str], src: str, tgt: str) -> dict[str, Any]:
        """Outputs in input order, seconds spent translating (loading aside), and what loading taught.

        The system is built here, not in the constructor, so that an error (a backend not installed on this
        node, a model it cannot see) reaches the driver as the typed error it is, not as a dead actor.
        """
        if self.system is None:
            self.system = create_system(self.settings, seed=self.seed, index=self.index)
        system = self.system
        load_before, start = system.load_s, time.perf_counter()
        outputs = system.translate(texts, src, tgt)
        seconds = time.perf_counter() - start - (system.load_s - load_before)
        import ray

        return {"outputs": outputs, "seconds": seconds, "load_s": system.load_s, "facts": system.facts(),
                "node": ray.get_runtime_context().get_node_id()}


# --------------------------------------------------------------------------- connecting


def resolve_address(address: str) -> str:
    """The address to hand ``ray.init``, checked to accept connections (``ray.init`` would retry for minutes).

    ``auto`` reads ``$RAY_ADDRESS``, else the cluster that ``ray start`` left on this machine; ``local`` starts a
    private instance and needs no check.
    """
    if address == "local":
        return address
    target = address
    if address == "auto":
        target = os.environ.get("RAY_ADDRESS", "").strip() or _local_cluster()
    where = host_port(target)
    if where is None:
        return target  # a form we cannot probe (a name ray resolves itself): ray.init judges it
    label = address if target == address else f"{address} ({target})"
    try:
        with socket.create_connection(where, timeout=PROBE_TIMEOUT_S) as sock:
            grpc = _speaks_grpc(sock)
    except OSError as err:
        reason = "timed out" if isinstance(err, TimeoutError) else (err.strerror or str(err))
        raise ClusterError(f"Ray cluster at {label} cannot be reached ({reason}); start one there (ray start --head "
                           "--port=PORT) or fix executor.address / --ray-address") from None
    if not grpc:
        raise ClusterError(f"Ray cluster at {label}: the port answers, but not as a Ray head (no gRPC there; the "
                           "dashboard's HTTP port is not the one); give the head's GCS port (ray start --head "
                           "--port=PORT, 6379 by default) or ray://HOST:10001")
    client = target.startswith("ray://")
    missing = _lacks_method(where, CLIENT_METHOD if client else GCS_METHOD)
    if missing:
        raise ClusterError(f"Ray cluster at {label}: the port speaks gRPC, but not as a "
                           f"{'Ray Client server' if client else 'Ray head'} ({missing}); give "
                           + ("ray://HOST:PORT of the head's Ray Client server (10001 by default)" if client else
                              "the head's GCS port (ray start --head --port=PORT)")
                           + " in executor.address / --ray-address")
    if not client:
        _check_gcs(target, label)
    return target


GCS_METHOD = "/ray.rpc.NodeInfoGcsService/GetClusterId"
"""A method every Ray head's GCS serves, with an empty request (``ray.init``'s own first call)."""
CLIENT_METHOD = "/ray.rpc.RayletDriver/ClusterInfo"
"""A method every Ray Client server serves; ``ray.init("ray://…")`` would retry for minutes against anything else."""


def _lacks_method(where: tuple[str, int], method: str) -> str | None:
    """Why the gRPC server at ``where`` does not serve ``method`` (unknown there, or no answer within
    :data:`PROBE_TIMEOUT_S`), or None when it does: any other answer, an error about the empty request included,
    comes from the method itself."""
    import grpc

    host, port = where
    channel = grpc.insecure_channel(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    try:
        call = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        call(b"", timeout=PROBE_TIMEOUT_S)
    except grpc.RpcError as err:
        code = err.code() if callable(getattr(err, "code", None)) else None
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return f"it does not serve {method}"
        if code in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE):
            return f"no answer to {method} within {PROBE_TIMEOUT_S:g} s"
    finally:
        channel.close()
    return None


HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  # + an empty SETTINGS


def _speaks_grpc(sock: socket.socket) -> bool:
    """True when the peer answers the HTTP/2 preface with a SETTINGS frame, as every gRPC server (a Ray head's
    GCS, the Ray Client server) does at once; an HTTP/1 server (the dashboard) answers otherwise or not at all."""
    try:
        sock.sendall(HTTP2_PREFACE)
        head = b""
        while len(head) < 9:
            chunk = sock.recv(9 - len(head))
            if not chunk:
                return False
            head += chunk
    except OSError:  # a timeout or a reset: not a gRPC server
        return False
    return head[3] == 0x04


def _check_gcs(target: str, label: str) -> None:
    """Ask the port for its cluster id, once: something else listening there (a proxy, another service) makes
    ``ray.init`` retry for tens of seconds before it gives up."""
    try:
        from ray._raylet import GcsClient  # type: ignore[attr-defined]  # ray.init's handshake, without retries
    except ImportError:
        return
    try:
        with _quiet_stderr():  # Ray's C++ core logs each failed attempt there: the error below says it in one line
            GcsClient(address=target)
    except Exception as err:  # RpcError, TimeoutError...: anything but an answer means "not a Ray head"
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if _is_auth_failure(text):
            raise ClusterError(f"Ray cluster at {label}: {TOKEN_HINT} ({text})") from None
        raise ClusterError(f"Ray cluster at {label}: the port answers, but not as a Ray head ({text}); give the "
                           "head's GCS port (ray start --head --port=PORT) in executor.address / --ray-address"
                           ) from None


TOKEN_HINT = ("the head requires Ray's token authentication (it found a token in its HOME's .ray/auth_token when it "
              "started); run with RAY_AUTH_MODE=token and that token in ~/.ray/auth_token or RAY_AUTH_TOKEN, or "
              "restart the head with RAY_AUTH_MODE=disabled")
"""What to do when the head answers with an authentication error: the port is right, the token is the problem."""


def _is_auth_failure(text: str) -> bool:
    """Whether Ray's error text is its token authentication refusing us (InvalidAuthToken, UNAUTHENTICATED)."""
    lowered = text.lower()
    return "authtoken" in lowered or "unauthenticated" in lowered or "auth_token" in lowered


@contextlib.contextmanager
def _local_auth_disabled() -> Iterator[None]:
    """``RAY_AUTH_MODE=disabled`` for a private local instance, unless the user chose a mode.

    Ray (2.5x) turns token authentication on for every new ``ray.init()`` instance and writes a fresh token to
    ``~/.ray/auth_token``; a later ``ray start --head`` in the same HOME finds that file and requires the token,
    so a run against that head fails. A local instance lives inside this process tree (its processes inherit the
    environment) and ends with the run: it needs no token and must leave none behind.
    """
    if "RAY_AUTH_MODE" in os.environ:
        yield
        return
    os.environ["RAY_AUTH_MODE"] = "disabled"
    try:
        yield
    finally:
        os.environ.pop("RAY_AUTH_MODE", None)


def _local_cluster() -> str:
    """The address of the Ray cluster running on this machine (what ``address="auto"`` finds), or an error."""
    from ray._private import services  # no public API answers "is there a cluster" without connecting to it

    try:
        found = services.canonicalize_bootstrap_address("auto")
    except (ConnectionError, ValueError) as err:
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ClusterError(f"executor.address auto: no Ray cluster found ({text}); start one (ray start --head), "
                           "set RAY_ADDRESS, or give --ray-address HOST:PORT") from None
    if not found:
        raise ClusterError("executor.address auto: no Ray cluster found on this machine and RAY_ADDRESS is unset; "
                           "start one (ray start --head), or give --ray-address HOST:PORT")
    return str(found)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """File descriptor 2 pointed at the null device for the block (native code writes there directly)."""
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def connected(ray: Any, address: str) -> Iterator[None]:
    """Connected to the cluster at ``address`` for the block (an existing connection is used as it is)."""
    if ray.is_initialized():
        yield
        return
    target = resolve_address(address)
    saved = os.environ.pop("RAY_ADDRESS", None) if address != "auto" else None  # ray.init would prefer it
    with _local_auth_disabled() if target == "local" else contextlib.nullcontext():
        try:
            ray.init(address=target, logging_level=logging.ERROR, log_to_driver=False,
                     **({"include_dashboard": False} if target == "local" else {}))
        except Exception as err:  # ray raises ConnectionError, RuntimeError (version mismatch), ValueError...
            text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            hint = f"{TOKEN_HINT}; " if _is_auth_failure(text) else ""
            raise ClusterError(f"Ray cluster at {address}: cannot connect ({hint}{text})") from None
        finally:
            if saved is not None:
                os.environ["RAY_ADDRESS"] = saved
        try:
            yield
        finally:
            ray.shutdown()


def cluster_description(ray: Any) -> tuple[list[dict[str, float]], dict[str, Any]]:
    """Each live node's CPU/GPU count, and the cluster as the manifest records it."""
    nodes = [{"CPU": float(n["Resources"].get("CPU", 0)), "GPU": float(n["Resources"].get("GPU", 0))}
             for n in ray.nodes() if n.get("Alive")]
    return nodes, {"nodes": len(nodes), "cpus": sum(n["CPU"] for n in nodes), "gpus": sum(n["GPU"] for n in nodes)}


def worker_slots(nodes: list[dict[str, float]], settings: RaySettings, address: str, shards: int) -> int:
    """How many workers (loaded systems) the cluster holds at once; an error when no node can hold one.

    Each worker loads a whole model, so a node takes at most one per whole CPU it has, however small a fraction
    of a CPU ``resources`` asks for (``num_cpus: 0.001`` would otherwise load a model for every shard at once);
    and there are never more workers than ``shards``.
    """
    need = settings.resources

    def fits(node: dict[str, float]) -> float:
        counts = [node[kind] // want for kind, want in (("CPU", need.num_cpus), ("GPU", need.num_gpus)) if want > 0]
        return min([*counts, max(1.0, math.floor(node["CPU"]))])

    slots = sum(fits(n) for n in nodes)
    if slots < 1:
        have = ", ".join(f"{n['CPU']:g} CPU/{n['GPU']:g} GPU" for n in nodes) or "none"
        raise InputError(f"executor.resources: a worker asks for {need.num_cpus:g} CPU and {need.num_gpus:g} GPU, "
                         f"and no node of the Ray cluster at {address} has that much (nodes: {have}); lower "
                         "executor.resources or add a node")
    return int(min(slots, shards))


# --------------------------------------------------------------------------- the work


@dataclass
class Job:
    """One system × direction × test set: its inputs, what the cache held, the outputs gathered so far."""

    index: int
    system: System
    direction: str
    test_set: str
    keep: list[int]
    asked: list[Segment]
    units: list[str]
    per_segment: list[int]
    outputs: list[Translation | None]
    keys: list[str] = field(default_factory=list)  # cache keys, one per unit (empty without a cache)
    hits: int = 0
    seconds: float = 0.0


@dataclass
class Slot:
    """A live worker: the actor holding one loaded system."""

    system: int
    actor: Any


@dataclass
class Tally:
    """What the manifest says about the cluster's share of the run."""

    shards: int = 0
    retries: int = 0
    workers: int = 0
    facts: dict[int, dict[str, Any]] = field(default_factory=dict)  # per system index, as its first worker saw
    load_s: dict[int, float] = field(default_factory=dict)
    nodes: set[str] = field(default_factory=set)  # the nodes whose workers returned a shard


def model_system(system: System) -> System:
    """The system under the cache wrapper (what a worker builds from the settings)."""
    return system.inner if isinstance(system, CachedSystem) else system


def open_job(index: int, system: System, direction: str, test_set: str, segments: list[Segment],
             keep: list[int]) -> Job:
    """A job with its inputs, the cache's outputs already in place."""
    src, tgt = direction.split("-")
    asked = segments if system.whole_corpus else [segments[i] for i in keep]
    units, per_segment = translation_units(asked, src, system.segmentation)
    job = Job(index, system, direction, test_set, keep, asked, units, per_segment, [None] * len(units))
    if isinstance(system, CachedSystem):
        ident = identity_hash(system.identity())
        job.keys = [entry_key(ident, src, tgt, t) for t in units]
        job.outputs = system.lookup(job.keys, units)
        job.hits = sum(o is not None for o in job.outputs)
    return job


def store_shard(job: Job, shard: Shard, outputs: Sequence[Translation]) -> None:
    """A returned shard's outputs into their places, and into the cache (only the driver writes it)."""
    if len(outputs) != len(shard.texts):
        raise HypothesisError(f"system {job.system.name!r} returned {len(outputs)} outputs for {len(shard.texts)} "
                              "inputs")
    for p, t in zip(shard.positions, outputs, strict=True):
        job.outputs[p] = t
    system = job.system
    if isinstance(system, CachedSystem):
        src, tgt = job.direction.split("-")
        system.keep(src, tgt, [(job.keys[p], t) for p, t in zip(shard.positions, outputs, strict=True)])


def finish_job(job: Job) -> Translated:
    """The job as the evaluate stage takes it (what the local translate stage hands over)."""
    missing = [p for p, o in enumerate(job.outputs) if o is None]
    if missing:  # every shard came back, so this cannot be; scoring an empty output instead would be wrong
        raise ClusterError(f"system {job.system.name!r} {job.direction} ({job.test_set}): {len(missing)} input(s) "
                           f"came back from no shard (first: position {missing[0]}); rerun (the cache keeps the rest)")
    translations = rejoin([o for o in job.outputs if o is not None], job.per_segment)
    if job.system.whole_corpus:
        translations = [translations[i] for i in job.keep]
    cache = ({"hits": job.hits, "misses": len(job.units) - job.hits} if isinstance(job.system, CachedSystem)
             else {"hits": 0, "misses": len(job.units)})
    chosen = job.asked if not job.system.whole_corpus else [job.asked[i] for i in job.keep]
    return Translated(job.system.name, job.direction, chosen, translations, job.seconds, cache)


class Dispatcher:
    """Keeps every worker busy with the next shard of its system; replaces workers that die; bounded retries."""

    def __init__(self, ray: Any, systems: list[System], settings: RaySettings, slots: int, seed: int,
                 address: str, say: Callable[[str], None]) -> None:
        self.ray, self.systems, self.settings, self.slots, self.seed = ray, systems, settings, slots, seed
        self.address, self.say = address, say
        self.pending: dict[int, deque[Shard]] = {}
        self.workers: list[Slot] = []
        self.inflight: dict[Any, tuple[Slot, Shard]] = {}
        self.tally = Tally()
        res = settings.resources
        self.actor_class = ray.remote(ShardWorker).options(
            num_cpus=res.num_cpus, num_gpus=res.num_gpus, max_restarts=0, max_task_retries=0,
            scheduling_strategy="SPREAD")
        self.lost = (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                     ray.exceptions.ObjectLostError, ray.exceptions.OutOfMemoryError)

    def add(self, shards: list[Shard]) -> None:
        """Queue shards (per system, in the order given)."""
        for shard in shards:
            self.pending.setdefault(shard.system, deque()).append(shard)
        self.tally.shards += len(shards)

    def _next_system(self) -> int | None:
        """The system with queued shards that has the fewest workers (most shards left breaks ties)."""
        waiting = [s for s, q in self.pending.items() if q]
        if not waiting:
            return None
        count = {s: sum(w.system == s for w in self.workers) for s in waiting}
        return min(waiting, key=lambda s: (count[s], -len(self.pending[s]), s))

    def _submit(self, slot: Slot) -> None:
        shard = self.pending[slot.system].popleft()
        src, tgt = shard.direction.split("-")
        self.inflight[slot.actor.translate.remote(shard.texts, src, tgt)] = (slot, shard)

    def _retire(self, slot: Slot) -> None:
        self.workers.remove(slot)
        with contextlib.suppress(Exception):  # it may be dead already
            self.ray.kill(slot.actor, no_restart=True)

    def results(self) -> Iterator[tuple[Shard, dict[str, Any]]]:
        """Each shard with its worker's answer, as shards finish (in no particular order)."""
        ray = self.ray
        try:
            while self.inflight or any(self.pending.values()):
                while len(self.workers) < self.slots and (s := self._next_system()) is not None:
                    system = self.systems[s]
                    slot = Slot(s, self.actor_class.remote(system.settings, self.seed, s))
                    self.workers.append(slot)
                    self.tally.workers += 1
                    self._submit(slot)
                [ref], _ = ray.wait(list(self.inflight), num_returns=1)
                slot, shard = self.inflight.pop(ref)
                try:
                    answer = ray.get(ref)
                except self.lost as err:
                    self._retire(slot)
                    shard.attempts += 1
                    self.tally.retries += 1
                    if shard.attempts > self.settings.max_retries:
                        raise ClusterError(
                            f"Ray cluster at {self.address}: shard {shard.number} of system "
                            f"{self.systems[shard.system].name!r} {shard.direction} lost its worker "
                            f"{shard.attempts} times ({type(err).__name__}); raise executor.max_retries or check "
                            "the nodes' memory and logs") from None
                    self.say(f"ray: a worker of {self.systems[shard.system].name!r} was lost ({type(err).__name__}); "
                             f"shard {shard.number} of {shard.direction} goes to another (retry {shard.attempts} of "
                             f"{self.settings.max_retries})")
                    self.pending[shard.system].appendleft(shard)
                    continue
                except ray.exceptions.RayTaskError as err:
                    cause = err.cause
                    if isinstance(cause, EvalHarnessError):  # ModelLoadError on the worker: the same message
                        raise cause from None
                    raise
                yield shard, answer
                if self.pending[slot.system]:
                    self._submit(slot)
                else:
                    self._retire(slot)
        finally:
            for slot in list(self.workers):
                self._retire(slot)


class RayExecutor:
    """Translate on a Ray cluster: every system × direction × test set in one dispatch, so the shards of all test
    sets share the workers and each system is loaded once per worker for the whole run, not once per test set.
    Systems without a model (``files``, ``copy``) run here; only cache misses travel."""

    def __init__(self, settings: RaySettings, *, seed: int) -> None:
        self.settings, self.seed = settings, seed

    def translate(self, works: Sequence[TestSetWork], *, progress: ProgressFactory | None,
                  notify: Callable[[str], None] | None) -> tuple[list[Translations], dict[str, Any]]:
        """See :meth:`evalharness.runs.executor.Executor.translate`; the systems of every test set are closed."""
        ray = import_ray()
        try:
            with connected(ray, self.settings.address):
                nodes, cluster = cluster_description(ray)
                done, jobs = self._translate_here(works, progress)
                tally = self._dispatch(ray, works, jobs, nodes, cluster, progress, notify or (lambda message: None))
            for job in jobs:
                done[job.index, job.direction, job.test_set] = finish_job(job)
            out = [self._translations(work, done, tally) for work in works]
        finally:  # on every path: a model load or a lost cluster must not leave systems open
            for work in works:
                for system in work.systems:
                    system.close()
        settings = self.settings
        return out, {"kind": "ray", "address": settings.address, "ray_version": ray.__version__, **cluster,
                     "resources": settings.resources.model_dump(mode="json"), "shard_size": settings.shard_size,
                     "nodes_used": len(tally.nodes), "shards": tally.shards, "workers": tally.workers,
                     "retries": tally.retries, "max_retries": settings.max_retries,
                     "test_sets": [work.name for work in works]}

    @staticmethod
    def _translate_here(works: Sequence[TestSetWork], progress: ProgressFactory | None
                        ) -> tuple[dict[tuple[int, str, str], Translated], list[Job]]:
        """Systems with nothing to load translated in this process; a job (cache already read) for every other."""
        done: dict[tuple[int, str, str], Translated] = {}
        jobs: list[Job] = []
        for work in works:
            for index, (system, directions) in enumerate(zip(work.systems, work.directions, strict=True)):
                for direction in directions:
                    # nothing to load (not worth a trip to the cluster), or an HTTP endpoint whose concurrency and
                    # rate limit must hold for the whole run: translated here, on the driver's threads
                    if not model_system(system).cacheable or model_system(system).runs_on_driver:
                        done[index, direction, work.name] = translate_direction(
                            system, direction, work.segments, work.keep[direction], progress)
                    else:
                        jobs.append(open_job(index, system, direction, work.name, work.segments,
                                             work.keep[direction]))
        return done, jobs

    def _dispatch(self, ray: Any, works: Sequence[TestSetWork], jobs: list[Job], nodes: list[dict[str, float]],
                  cluster: dict[str, Any], progress: ProgressFactory | None, say: Callable[[str], None]) -> Tally:
        """The jobs' missing outputs cut into shards and translated by the cluster's workers; what it took."""
        settings = self.settings
        shards = [shard for job in jobs for shard in plan_shards(
            job.index, job.direction, job.test_set, [i for i, o in enumerate(job.outputs) if o is None],
            [t for t, o in zip(job.units, job.outputs, strict=True) if o is None], settings.shard_size)]
        slots = worker_slots(nodes, settings, settings.address, len(shards)) if shards else 0
        dispatcher = Dispatcher(ray, works[0].systems, settings, slots, self.seed, settings.address, say)
        dispatcher.add(shards)
        by_key = {(job.index, job.direction, job.test_set): job for job in jobs}
        if jobs:
            say(f"ray: {settings.address}: {cluster['nodes']} node(s), {cluster['cpus']:g} CPU, "
                f"{cluster['gpus']:g} GPU; {len(shards)} shard(s) for up to {slots} worker(s)")
        bar = progress(f"ray: {len(shards)} shards", sum(len(j.units) for j in jobs)) if progress and jobs else None
        if bar:
            bar.update(sum(j.hits for j in jobs))
        tally = dispatcher.tally
        try:
            for shard, answer in dispatcher.results():
                job = by_key[shard.system, shard.direction, shard.test_set]
                store_shard(job, shard, answer["outputs"])
                job.seconds += answer["seconds"]
                tally.nodes.add(answer["node"])
                tally.facts.setdefault(shard.system, answer["facts"])
                tally.load_s[shard.system] = max(tally.load_s.get(shard.system, 0.0), answer["load_s"])
                if bar:
                    bar.update(len(shard.texts))
        finally:
            if bar:
                bar.close()
        return tally

    @staticmethod
    def _translations(work: TestSetWork, done: dict[tuple[int, str, str], Translated], tally: Tally) -> Translations:
        """One test set's translations in config order, and each system's manifest entry."""
        translated: list[Translated] = []
        manifests: dict[str, Any] = {}
        for index, (system, directions) in enumerate(zip(work.systems, work.directions, strict=True)):
            translated += [done[index, d, work.name] for d in directions]
            manifests[system.name] = {**system_manifest(system, tally.facts.get(index), tally.load_s.get(index)),
                                      "directions": directions}
        return Translations(translated, manifests)


def system_manifest(system: System, facts: dict[str, Any] | None, load_s: float | None) -> dict[str, Any]:
    """A system's manifest entry: what a worker learnt when it loaded the model, if one did.

    The driver never loads the model; the worker's facts fill in what loading tells (and are kept in the
    store, so a rerun served from the cache reports the same).
    """
    if facts is None:
        return system.manifest()  # all from the cache: the stored facts, as a local rerun
    if isinstance(system, CachedSystem):
        system.store.put_facts(identity_hash(system.identity()), facts)
    return {**model_system(system).manifest(), **facts, "load_s": round(load_s or 0.0, 3)}
