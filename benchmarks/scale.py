"""Scale benchmark: one config on the local executor and on Ray with 1 and 2 nodes; prints figures, asserts nothing.

The config: 4 systems (the random-weight tiny Marian model under four names, each its own cache identity) ×
2 directions × 2 test sets (``corpora:``: the shipped article's 29 paragraphs, and its 37 aligned sentence
groups as a second corpus made here), no cache, so every run translates everything. Each run is a real
``evalharness run`` subprocess, timed wall-clock from start to exit (interpreter start, imports, connecting,
loading models on the workers included).

The Ray clusters are started here on loopback (``ray start --head`` and, for two nodes, a second
``ray start --address``), each node with ``--num-cpus`` CPUs (default 1: one worker per node), in temp dirs
under /tmp, and killed afterwards by the ids of their processes. The local executor uses the whole machine.

The local executor runs twice: with torch's own thread count, and with one thread per system, as each Ray
worker has (Ray sets ``OMP_NUM_THREADS`` to the worker's ``num_cpus``): with a model this small, threads cost
more than they bring, so the one-thread run is the fair reference.

It also measures the per-shard overhead of the Ray executor (its dispatcher driving one worker of the ``copy``
backend through shards of one line each, so that only the overhead is timed) and, from it and the measured
extra cost of a Ray run, prints where Ray starts to pay off.

    python benchmarks/scale.py            # needs the ray extra: pip install -e '.[ray]'
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

ARTICLE = "rt-2013-russia-japan-2plus2"
SENTENCES = "rt-sentences"  # the second test set: the article's sentence groups, one pair each
SYSTEMS = 4
DIRECTIONS = 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _session_pids(sessions: list[int]) -> list[int]:
    """Every process in these sessions (what our ``ray start`` calls started, and nothing else)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if os.getsid(int(proc.name)) in sessions:
                    found.append(int(proc.name))
    return found


@contextlib.contextmanager
def cluster(nodes: int, cpus: int, env: dict[str, str]) -> Iterator[str]:
    """A Ray cluster of ``nodes`` nodes on loopback, for the block; yields its address."""
    base = Path(tempfile.mkdtemp(prefix="ehscale-", dir="/tmp"))
    port = _free_port()
    ray_bin = str(Path(sys.executable).with_name("ray"))
    sessions: list[int] = []
    common = [f"--num-cpus={cpus}", "--object-store-memory=100000000", "--disable-usage-stats"]
    try:
        for n in range(nodes):
            args = (["--head", f"--port={port}", f"--ray-client-server-port={_free_port()}",
                     "--include-dashboard=false", f"--dashboard-port={_free_port()}"] if n == 0
                    else [f"--address=127.0.0.1:{port}"])
            proc = subprocess.Popen([ray_bin, "start", *args, f"--dashboard-agent-listen-port={_free_port()}",
                                     f"--temp-dir={base / f'node{n}'}", *common], env=env, start_new_session=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            sessions.append(proc.pid)
            out, _ = proc.communicate(timeout=180)
            if proc.returncode != 0:
                raise SystemExit(f"ray start failed:\n{out}")
        yield f"127.0.0.1:{port}"
    finally:
        for pid in _session_pids(sessions):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        subprocess.run(["rm", "-rf", str(base)], check=False)


def write_sentence_corpus(folder: Path) -> int:
    """A second test set under ``folder/SENTENCES``: each aligned sentence group of the article a pair."""
    from evalharness.corpus import load_corpus

    segments = load_corpus(ARTICLE).segments("sentence")
    (folder / SENTENCES).mkdir(parents=True)
    lines = [json.dumps({"id": f"s{i + 1:02d}", "kind": "line", "ms": s.texts["ms"], "en": s.texts["en"]},
                        ensure_ascii=False) for i, s in enumerate(segments)]
    (folder / SENTENCES / "pairs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / SENTENCES / "corpus.json").write_text(json.dumps({"name": SENTENCES, "version": "1",
                                                                "languages": ["ms", "en"]}), encoding="utf-8")
    return len(segments)


def write_config(folder: Path, model: Path, *, batch_size: int, max_new_tokens: int) -> Path:
    """4 systems × 2 directions × 2 test sets; each system a distinct setting (its own identity)."""
    systems = [{"name": f"tiny-{i}", "backend": "transformers", "model": str(model),
                "target_prefix": {"ms": ">>zsm_Latn<<"},
                "generation": {"num_beams": 1, "max_new_tokens": max_new_tokens - i, "batch_size": batch_size,
                               "device": "cpu"}}
               for i in range(SYSTEMS)]
    config = {"corpora": [ARTICLE, SENTENCES], "directions": ["ms-en", "en-ms"], "systems": systems,
              "metrics": ["bleu", "chrf"], "cache": {"enabled": False}, "flags": {"enabled": False}}
    path = folder / f"scale-b{batch_size}-t{max_new_tokens}.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    return path


def timed_run(config: Path, out: Path, env: dict[str, str], extra: list[str]) -> tuple[float, dict[str, Any]]:
    """Wall seconds of one ``evalharness run`` (a run set: one run per test set) and its members' results, merged
    (translate times summed; the executor's record, which every member shares)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "evalharness", "run", "-c", str(config), "--run-dir", str(out),
                           "-q", *extra], env=env, cwd=REPO, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"run failed ({' '.join(extra)}):\n{proc.stderr}")
    members = json.loads((out / "runset.json").read_text(encoding="utf-8"))["members"]
    results = [json.loads((out / m["folder"] / "results.json").read_text(encoding="utf-8")) for m in members]
    # one dispatch serves every test set: each member records the same executor description
    merged = {"manifest": {"executor": results[0]["manifest"]["executor"]},
              "results": {f"{m['name']}/{system}": by for m, res in zip(members, results, strict=True)
                          for system, by in res["results"].items()}}
    return wall, merged


OVERHEAD_SHARDS = 300


def shard_overhead(address: str, env: dict[str, str]) -> float:
    """Seconds per shard that the Ray executor adds: submit, ship, call, return, wait, with no work in the shard.

    Runs the executor's own dispatcher (in this process, as a driver) over shards of one line each for a
    ``copy`` system, whose translating costs nothing, through one worker; the worker's start is left out.
    """
    import ray

    from evalharness.runs.executor import RaySettings, plan_shards
    from evalharness.runs.ray_executor import Dispatcher
    from evalharness.systems import create_system, parse_system

    saved = dict(os.environ)
    os.environ.update({k: env[k] for k in ("HOME", "RAY_USAGE_STATS_ENABLED")})
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        system = create_system(parse_system({"name": "copy", "backend": "copy"}))
        settings = RaySettings(kind="ray", address=address, shard_size=1)
        dispatcher = Dispatcher(ray, [system], settings, 1, 0, address, print)
        texts = [f"line {i}" for i in range(OVERHEAD_SHARDS + 1)]
        dispatcher.add(plan_shards(0, "ms-en", "overhead", list(range(len(texts))), texts, 1))
        stamps = [time.perf_counter() for _ in dispatcher.results()]
        return (stamps[-1] - stamps[0]) / OVERHEAD_SHARDS  # from the first answer: the worker is up
    finally:
        ray.shutdown()
        os.environ.clear()
        os.environ.update(saved)


def compute_s(results: dict[str, Any]) -> float:
    """Seconds spent translating (loading aside), summed over systems × directions."""
    return float(sum(r["translate_s"] for by in results["results"].values() for r in by.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--shard-size", type=int, default=8)
    parser.add_argument("--cpus-per-node", type=int, default=1)
    args = parser.parse_args()
    try:
        import ray
    except ImportError:
        raise SystemExit("needs the ray extra: pip install -e '.[ray]'") from None
    from evalharness.tiny_model import build_marian

    work = Path(tempfile.mkdtemp(prefix="ehscale-work-"))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(HOME=str(work / "home"), HF_HUB_OFFLINE="1", RAY_USAGE_STATS_ENABLED="0",
               EVALHARNESS_CACHE_DIR=str(work / "cache"))
    model = build_marian(work / "tiny-marian")
    env["EVALHARNESS_CORPORA"] = str(work / "corpora")
    os.environ["EVALHARNESS_CORPORA"] = env["EVALHARNESS_CORPORA"]
    segments = 29 + write_sentence_corpus(work / "corpora")
    config = write_config(work, model, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens)
    units = SYSTEMS * DIRECTIONS * segments
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}, "
          f"ray {ray.__version__}")
    print(f"config: {SYSTEMS} systems × {DIRECTIONS} directions × 2 test sets (the article's 29 paragraphs and "
          f"its {segments - 29} sentence groups) = {units} segments, batch_size {args.batch_size}, max_new_tokens "
          f"{args.max_new_tokens}, no cache")
    shard = ["--executor", "ray", "--set", f"executor.shard_size={args.shard_size}",
             "--set", f"executor.resources.num_cpus={args.cpus_per_node}"]
    rows: list[tuple[str, float, dict[str, Any]]] = []
    wall, res = timed_run(config, work / "local", env, ["--executor", "local"])
    rows.append(("local executor (torch's threads)", wall, res))
    one_thread = [f"systems.{i}.generation.threads=1" for i in range(SYSTEMS)]
    wall, res = timed_run(config, work / "local1", env, ["--executor", "local", *(x for o in one_thread
                                                                                   for x in ("--set", o))])
    rows.append(("local executor, 1 thread", wall, res))
    for nodes in (1, 2):
        with cluster(nodes, args.cpus_per_node, env) as address:
            wall, res = timed_run(config, work / f"ray{nodes}", env, [*shard, "--ray-address", address])
            rows.append((f"ray, {nodes} node(s) × {args.cpus_per_node} CPU", wall, res))
            if nodes == 1:
                per_shard = shard_overhead(address, env)
    print(f"\n{'executor':<32} {'wall s':>8} {'vs local':>9} {'shards':>7} {'workers':>8} {'translate s':>12}")
    local_wall = rows[0][1]
    for name, wall, res in rows:
        ex = res["manifest"]["executor"]
        print(f"{name:<32} {wall:8.1f} {local_wall / wall:8.2f}× {ex.get('shards', '-'):>7} "
              f"{ex.get('workers', '-'):>8} {compute_s(res):12.1f}")
    same = all((work / d / t / "segments.jsonl").read_bytes() == (work / "local" / t / "segments.jsonl").read_bytes()
               for d in ("local1", "ray1", "ray2") for t in (ARTICLE, SENTENCES))
    print(f"segments.jsonl of both Ray runs (both test sets) byte-identical to the local runs': {same}")

    print(f"\nper-shard overhead (the executor's dispatcher, one worker of the copy backend, {OVERHEAD_SHARDS} "
          f"one-line shards): {per_shard * 1000:.1f} ms per shard")
    (local1_wall, local1), (ray1_wall, ray1) = rows[1][1:], rows[2][1:]
    # what a Ray run adds to a local run, besides translating: connecting, starting a worker per system (process,
    # imports, model load), the shards; the local run's own start, model loads and scoring cancel out
    fixed = (ray1_wall - compute_s(ray1)) - (local1_wall - compute_s(local1))
    print(f"extra cost of a Ray run of this config (1 node; connect, start {ray1['manifest']['executor']['workers']} "
          f"workers one after the other, load their models, {ray1['manifest']['executor']['shards']} shards): "
          f"{fixed:.1f} s = (wall {ray1_wall:.1f} − translating {compute_s(ray1):.1f}) − (local 1-thread wall "
          f"{local1_wall:.1f} − translating {compute_s(local1):.1f})")
    per_unit = compute_s(local1) / units
    print(f"translating one segment here, one thread: {per_unit * 1000:.0f} ms")
    print(f"where Ray pays off: on k nodes as fast as this machine, a run whose translating takes T seconds on one "
          f"takes about {fixed:.0f} s + T/k more than its local run's non-translating part, so it pays off once "
          f"T > {fixed:.0f}·k/(k−1) s: {2 * fixed:.0f} s of translating on 2 nodes, {fixed * 8 / 7:.0f} s on 8 "
          f"(here, on 2 shared cores, it cannot). Shards of ≥ {max(1, round(per_shard / (0.05 * per_unit)))} "
          "segments keep the per-shard overhead under 5 % of the work at this speed; beam search, larger models "
          "and GPUs change the time per paragraph, not the overhead.")
    subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
