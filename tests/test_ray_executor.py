"""The Ray executor against a real two-node Ray cluster on loopback, with the tiny model.

The cluster is two ``ray start`` processes (a head and a second node, one CPU each, each in its own temp dir
under /tmp and its own session), with HOME in the test's temp dir so nothing is written to ~/.ray. The
finalizer kills every process of both sessions, whatever happened. Ray is an extra: without it these tests
skip, unless ``EVALHARNESS_REQUIRE_RAY=1`` (CI sets it), where a missing Ray fails them.
"""

from __future__ import annotations

import contextlib
import http.server
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from evalharness.cli import main
from evalharness.errors import ConfigError
from evalharness.runs.config import load_config
from evalharness.runs.executor import LocalSettings, RaySettings, host_port, plan_shards
from tests.conftest import REPO

DEFAULT = REPO / "configs" / "default.yaml"
SHARD_SIZE = 3
GENERATION = ["--set", "systems.0.generation.max_new_tokens=24", "--set", "systems.1.generation.max_new_tokens=24",
              "--set", "systems.0.generation.batch_size=1", "--set", "systems.1.generation.batch_size=1"]
TIMINGS = ("translate_s", "segments_per_s")


HAVE_RAY = importlib.util.find_spec("ray") is not None  # without importing it: collection stays quick
NO_RAY = "Ray is not installed (the ray extra: pip install 'evalharness[ray]')"
needs_ray = pytest.mark.skipif(not HAVE_RAY, reason=NO_RAY)


def test_ray_is_installed_where_required() -> None:
    if os.environ.get("EVALHARNESS_REQUIRE_RAY") == "1":  # CI: the Ray tests must run, not skip
        assert HAVE_RAY, "EVALHARNESS_REQUIRE_RAY=1 but " + NO_RAY


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- no cluster needed


def test_executor_config_defaults_to_local_and_validates_ray_keys(tmp_path: Path) -> None:
    config = load_config(DEFAULT)
    assert isinstance(config.executor, LocalSettings)
    assert config.model_dump(mode="json")["executor"] == {"kind": "local"}
    ray = load_config(DEFAULT, ["executor.kind=ray", "executor.address=ray://head.example:10001",
                                "executor.resources={num_gpus: 1, num_cpus: 4}", "executor.shard_size=16"])
    assert isinstance(ray.executor, RaySettings)
    assert (ray.executor.address, ray.executor.shard_size, ray.executor.resources.num_gpus) == (
        "ray://head.example:10001", 16, 1.0)
    bad = {"executor.kind=ray|executor.shard_size=0": "executor.shard_size: Input should be greater than or equal",
           "executor.kind=ray|executor.address=nowhere": "executor.address: Value error, expected auto, local",
           "executor.kind=ray|executor.address=h:70000": "executor.address: Value error, port 70000 is out of range",
           "executor.kind=ray|executor.resources.num_gpu=1": "executor.resources.num_gpu: unknown key",
           "executor.kind=local|executor.shard_size=3": "executor.shard_size: unknown key",
           "executor.kind=slurm": "executor: Input tag 'slurm'",
           "executor.kind=ray|executor.resources={num_cpus: 0}": "executor.resources: Value error, a worker must ask"}
    for sets, message in bad.items():
        with pytest.raises(ConfigError) as err:
            load_config(DEFAULT, sets.split("|"))
        assert message in str(err.value), (sets, str(err.value))


def test_cli_shortcuts_set_the_executor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evalharness.cli import build_parser
    from evalharness.commands.options import load_run_config as _load

    args = build_parser().parse_args(["run", "-c", str(DEFAULT), "--ray-address", "10.0.0.5:6379"])
    executor = _load(args)[1].executor
    assert isinstance(executor, RaySettings) and executor.address == "10.0.0.5:6379"
    yaml = tmp_path / "ray.yaml"
    yaml.write_text(DEFAULT.read_text(encoding="utf-8") + "executor: {kind: ray, shard_size: 5}\n", encoding="utf-8")
    args = build_parser().parse_args(["run", "-c", str(yaml), "--executor", "local"])
    assert isinstance(_load(args)[1].executor, LocalSettings)  # the config's Ray keys go with it
    assert main(["run", "-c", str(DEFAULT), "--executor", "local", "--ray-address", "h:1"]) == 2
    assert "--ray-address goes with --executor ray" in capsys.readouterr().err
    assert main(["check", "--baseline", str(REPO / "baselines" / "ci-example.json"), str(tmp_path),
                 "--executor", "ray"]) == 2
    assert "--executor goes with --config" in capsys.readouterr().err


def test_shards_cover_every_input_once_in_order() -> None:
    positions = [0, 2, 3, 5, 8, 9, 11]
    shards = plan_shards(1, "en-ms", "rt", positions, [f"t{p}" for p in positions], 3)
    assert [s.positions for s in shards] == [[0, 2, 3], [5, 8, 9], [11]]
    assert [s.texts for s in shards][2] == ["t11"] and [s.number for s in shards] == [0, 1, 2]
    assert {(s.system, s.direction, s.test_set) for s in shards} == {(1, "en-ms", "rt")}
    assert plan_shards(0, "ms-en", "rt", [], [], 3) == []
    assert host_port("ray://[::1]:10001") == ("::1", 10001) and host_port("auto") is None


def test_a_local_run_never_imports_ray(tmp_path: Path) -> None:
    code = ("import sys; from evalharness.cli import main; "
            f"rc = main(['run', '-c', {str(DEFAULT)!r}, '--set', 'systems=[{{name: c, backend: copy}}]', '-q', "
            f"'--run-dir', {str(tmp_path / 'run')!r}, '--no-cache', '--limit', '2']); "
            "print(rc, 'ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.split()[-2:] == ["0", "False"], out.stderr
    manifest = json.loads((tmp_path / "run" / "results.json").read_text(encoding="utf-8"))["manifest"]
    assert manifest["executor"] == {"kind": "local"}


# --------------------------------------------------------------------------- fails fast, one line


def _cli(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evalharness", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=timeout)


def _ray_env(base: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(HOME=str(base / "home"), HF_HUB_OFFLINE="1", RAY_USAGE_STATS_ENABLED="0", PYTHONUNBUFFERED="1",
               EVALHARNESS_CACHE_DIR=str(base / "cache"), XDG_CACHE_HOME=str(base / "xdg"))
    return env


@needs_ray
@pytest.mark.slow
def test_unreachable_cluster_fails_in_one_line_within_five_seconds(tmp_path: Path) -> None:
    closed = _free_port()  # nothing listens there
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()  # something listens, but not Ray
    try:
        for address, expected in [(f"127.0.0.1:{closed}", "cannot be reached (Connection refused)"),
                                  (f"ray://127.0.0.1:{closed}", "cannot be reached (Connection refused)"),
                                  (f"127.0.0.1:{server.server_address[1]}", "the port answers, but not as a Ray head")]:
            start = time.monotonic()
            proc = _cli(["run", "-c", str(DEFAULT), "--set", "systems=[{name: c, backend: copy}]", "--ray-address",
                         address, "--run-dir", str(tmp_path / "never"), "-q"], _ray_env(tmp_path), timeout=60)
            elapsed = time.monotonic() - start
            assert proc.returncode == 2, proc.stderr
            assert proc.stderr.count("\n") == 1, proc.stderr
            assert proc.stderr.startswith(f"evalharness: error: Ray cluster at {address}") and expected in proc.stderr
            assert elapsed < 5.0, (address, elapsed)
            assert not (tmp_path / "never").exists()
    finally:
        server.shutdown()
    assert not (tmp_path / "home" / ".ray").exists()


@needs_ray
@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_a_grpc_port_that_is_not_ray_fails_in_one_line_within_five_seconds(
        scheme: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An HTTP/2 (gRPC) server that is not Ray passes the preface probe: ``ray.init`` then retried for 120 s
    (``ray://``) or 31 s (``HOST:PORT``). The probe now asks for one method each kind of Ray server serves."""
    from concurrent import futures

    import grpc

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))  # no services: UNIMPLEMENTED to every call
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    address = f"{scheme}127.0.0.1:{port}"
    try:
        start = time.monotonic()
        code = main(["run", "-c", str(DEFAULT), "--set", "systems=[{name: c, backend: copy}]", "--ray-address",
                     address, "--run-dir", str(tmp_path / "never"), "-q"])
        elapsed = time.monotonic() - start
    finally:
        server.stop(None)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    kind = "Ray Client server" if scheme else "Ray head"
    assert err.startswith(f"evalharness: error: Ray cluster at {address}: the port speaks gRPC, but not as a {kind} "
                          "(it does not serve /ray.rpc."), err
    assert elapsed < 5.0, elapsed
    assert not (tmp_path / "never").exists()


# --------------------------------------------------------------------------- a two-node cluster on loopback


@dataclass
class Cluster:
    """A head and a second node, each started by ``ray start`` in a session of its own."""

    address: str
    sessions: list[int]
    base: Path
    client_address: str = ""  # ray://HOST:PORT of the head's Ray Client server

    def processes(self, name: bytes = b"") -> list[int]:
        """PIDs of this cluster's processes whose command line starts with ``name``.

        ``ray start`` ran in a session of its own, which every process of its node inherits (workers take a
        process group of their own, not a session): never another cluster's processes.
        """
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if os.getsid(int(proc.name)) in self.sessions and (proc / "cmdline").read_bytes().startswith(name):
                    found.append(int(proc.name))
            except (OSError, ProcessLookupError):
                continue
        return found


def _ray_start(args: list[str], env: dict[str, str], sessions: list[int]) -> None:
    ray_bin = Path(sys.executable).with_name("ray")
    proc = subprocess.Popen([str(ray_bin), "start", *args, "--disable-usage-stats"], env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sessions.append(proc.pid)  # its session: everything it starts stays in there
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, out


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not HAVE_RAY:
        pytest.skip(NO_RAY)
    home = tmp_path_factory.mktemp("ray-home")
    # Ray's Unix sockets live under the temp dir and must fit in 107 bytes: a short folder under /tmp
    base = Path(tempfile.mkdtemp(prefix="ehray-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(HOME=str(home), RAY_USAGE_STATS_ENABLED="0", HF_HUB_OFFLINE="1")
    port, client_port = _free_port(), _free_port()
    sessions: list[int] = []
    common = ["--num-cpus=1", "--object-store-memory=100000000"]
    try:
        _ray_start(["--head", f"--port={port}", f"--ray-client-server-port={client_port}", "--include-dashboard=false",
                    f"--dashboard-port={_free_port()}", f"--dashboard-agent-listen-port={_free_port()}",
                    f"--temp-dir={base / 'head'}", *common], env, sessions)
        _ray_start([f"--address=127.0.0.1:{port}", f"--dashboard-agent-listen-port={_free_port()}",
                    f"--temp-dir={base / 'node2'}", *common], env, sessions)
        cluster = Cluster(f"127.0.0.1:{port}", sessions, base, f"ray://127.0.0.1:{client_port}")
        yield cluster
    finally:
        for pid in Cluster("", sessions, base).processes():  # gcs_server, raylets, agents, workers: ours only
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)
        assert not (home / ".ray").exists()  # nothing under the (temporary) home either


@pytest.mark.slow
def test_the_probes_accept_a_real_head_and_its_ray_client_server(cluster: Cluster) -> None:
    """The gRPC method probes refuse a server that is not Ray; they must let the real ones through."""
    from evalharness.runs.ray_executor import CLIENT_METHOD, GCS_METHOD, _lacks_method, resolve_address

    head, client = host_port(cluster.address), host_port(cluster.client_address)
    assert head is not None and client is not None
    assert _lacks_method(head, GCS_METHOD) is None
    deadline = time.monotonic() + 60  # the Ray Client server starts a little after ray start returns
    while _lacks_method(client, CLIENT_METHOD) is not None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _lacks_method(client, CLIENT_METHOD) is None
    assert resolve_address(cluster.address) == cluster.address
    assert resolve_address(cluster.client_address) == cluster.client_address


def _model_args(model: Path) -> list[str]:
    return ["-c", str(DEFAULT), "--set", f"systems.0.model={model}", "--set", f"systems.1.model={model}", *GENERATION]


@pytest.fixture(scope="module")
def local_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: the same config run by the local executor, in this process, without a cache."""
    out = tmp_path_factory.mktemp("local") / "run"
    assert main(["run", *_model_args(tiny_model_dir), "--no-cache", "-q", "--run-dir", str(out)]) == 0
    return out


def _comparable(run_dir: Path) -> dict[str, Any]:
    """results.json less what a run on another executor may change: timings, times, the executor itself."""
    results: dict[str, Any] = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    manifest = results["manifest"]
    for key in ("started_at", "finished_at", "duration_s", "platform", "executor", "cache"):
        manifest.pop(key)
    manifest["config"].pop("executor")
    manifest["config"].pop("cache")
    for system in manifest["systems"].values():
        system.pop("load_s")
    for by_direction in results["results"].values():
        for result in by_direction.values():
            for key in TIMINGS:
                result.pop(key)
    return results


def _same_run(local: Path, other: Path) -> None:
    for name in ("segments.jsonl", "summary.md"):
        assert (other / name).read_bytes() == (local / name).read_bytes(), name
    assert _comparable(other) == _comparable(local)


@pytest.mark.slow
def test_ray_run_equals_local_run_byte_for_byte(cluster: Cluster, local_run: Path, tiny_model_dir: Path,
                                                tmp_path: Path) -> None:
    env = _ray_env(tmp_path)
    args = ["run", *_model_args(tiny_model_dir), "--ray-address", cluster.address, "--set",
            f"executor.shard_size={SHARD_SIZE}"]
    proc = _cli([*args, "--run-dir", str(tmp_path / "ray")], env)
    assert proc.returncode == 0, proc.stderr
    assert f"ray: {cluster.address}: 2 node(s), 2 CPU, 0 GPU" in proc.stderr
    assert proc.stderr.count("ray: 20 shards") >= 1  # one progress bar over every shard
    _same_run(local_run, tmp_path / "ray")
    executor = json.loads((tmp_path / "ray" / "results.json").read_text(encoding="utf-8"))["manifest"]["executor"]
    assert executor["kind"] == "ray" and executor["nodes"] == 2 and executor["nodes_used"] == 2
    assert executor["shards"] == 2 * -(-29 // SHARD_SIZE) and executor["retries"] == 0
    assert executor["resources"] == {"num_cpus": 1.0, "num_gpus": 0.0}
    # the driver wrote the cache as shards came back: a rerun sends nothing to the cluster, and is the same
    again = _cli([*args, "--run-dir", str(tmp_path / "again"), "-q"], env)
    assert again.returncode == 0, again.stderr
    rerun = json.loads((tmp_path / "again" / "results.json").read_text(encoding="utf-8"))
    assert rerun["manifest"]["executor"]["shards"] == 0
    assert {r["cache"]["hits"] for by in rerun["results"].values() for r in by.values()} == {29}
    assert (tmp_path / "again" / "segments.jsonl").read_bytes() == (local_run / "segments.jsonl").read_bytes()
    assert rerun["manifest"]["systems"]["opus-mt-mul-en"]["model_class"] == "MarianMTModel"  # stored facts


@pytest.mark.slow
def test_killed_worker_is_replaced_and_results_are_identical(cluster: Cluster, local_run: Path,
                                                             tiny_model_dir: Path, tmp_path: Path) -> None:
    env = _ray_env(tmp_path)
    cmd = [sys.executable, "-m", "evalharness", "run", *_model_args(tiny_model_dir), "--ray-address",
           cluster.address, "--set", "executor.shard_size=2", "--run-dir", str(tmp_path / "ray"), "-q"]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    db = tmp_path / "cache" / "translations.sqlite3"
    killed = None
    deadline = time.monotonic() + 300
    while killed is None and proc.poll() is None and time.monotonic() < deadline:
        workers = cluster.processes(b"ray::ShardWorker")
        if workers and _entries(db) > 0:  # a shard came back, the rest are under way: kill a worker mid-run
            killed = workers[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    _, err = proc.communicate(timeout=600)
    assert killed is not None, "the run ended before a worker could be killed"
    assert proc.returncode == 0, err
    _same_run(local_run, tmp_path / "ray")
    executor = json.loads((tmp_path / "ray" / "results.json").read_text(encoding="utf-8"))["manifest"]["executor"]
    assert executor["retries"] >= 1 and executor["workers"] >= 3  # the dead one was replaced


def _entries(db: Path) -> int:
    """Translations in the cache file so far (0 before it exists)."""
    import sqlite3

    if not db.is_file():
        return 0
    try:
        with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM translations").fetchone()[0])
    except sqlite3.Error:
        return 0


def _sentence_corpus(folder: Path) -> str:
    """A second test set: the article's aligned sentence groups, one pair each; returns its name."""
    from evalharness.corpus import load_corpus

    segments = load_corpus("rt-2013-russia-japan-2plus2").segments("sentence")
    (folder / "rt-sentences").mkdir(parents=True)
    lines = [json.dumps({"id": f"s{i + 1:02d}", "kind": "line", "ms": s.texts["ms"], "en": s.texts["en"]},
                        ensure_ascii=False) for i, s in enumerate(segments)]
    (folder / "rt-sentences" / "pairs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "rt-sentences" / "corpus.json").write_text(
        json.dumps({"name": "rt-sentences", "version": "1", "languages": ["ms", "en"]}), encoding="utf-8")
    return "rt-sentences"


@pytest.mark.slow
def test_two_test_sets_are_one_dispatch_and_equal_the_local_run_set(cluster: Cluster, tiny_model_dir: Path,
                                                                    tmp_path: Path) -> None:
    """``corpora: [a, b]`` on Ray: the shards of both test sets share the workers (one worker per system for the
    whole run, not one per test set), and each member equals the local run set's byte for byte."""
    env = _ray_env(tmp_path)
    second = _sentence_corpus(tmp_path / "corpora")
    env["EVALHARNESS_CORPORA"] = str(tmp_path / "corpora")
    text = DEFAULT.read_text(encoding="utf-8")
    config = tmp_path / "two.yaml"
    config.write_text(text.replace("corpus: rt-2013-russia-japan-2plus2",
                                   f"corpora: [rt-2013-russia-japan-2plus2, {second}]"), encoding="utf-8")
    model_args = ["-c", str(config), *_model_args(tiny_model_dir)[2:]]
    local = _cli(["run", *model_args, "--no-cache", "-q", "--run-dir", str(tmp_path / "local")], env)
    assert local.returncode == 0, local.stderr
    ray_run = _cli(["run", *model_args, "--ray-address", cluster.address, "--set", f"executor.shard_size={SHARD_SIZE}",
                    "--run-dir", str(tmp_path / "ray")], env)
    assert ray_run.returncode == 0, ray_run.stderr
    assert ray_run.stderr.count(f"ray: {cluster.address}:") == 1  # one dispatch for both test sets
    executors = []
    for member in ("rt-2013-russia-japan-2plus2", second):
        _same_run(tmp_path / "local" / member, tmp_path / "ray" / member)
        executors.append(json.loads((tmp_path / "ray" / member / "results.json").read_text(encoding="utf-8"))
                         ["manifest"]["executor"])
    assert executors[0] == executors[1]
    assert executors[0]["test_sets"] == ["rt-2013-russia-japan-2plus2", second]
    # two systems on two slots: a worker each, plus at most one more when one system's queue runs dry first
    # (its slot goes to the other); a dispatch per test set would start at least 2 × 2
    assert executors[0]["workers"] <= 3 and executors[0]["retries"] == 0
    assert executors[0]["shards"] == 2 * (-(-29 // SHARD_SIZE) + -(-37 // SHARD_SIZE))


# --------------------------------------------------------------------------- local mode leaves no state behind


@pytest.mark.slow
def test_a_local_mode_run_leaves_a_later_cluster_usable(tiny_model_dir: Path, tmp_path: Path) -> None:
    """``--ray-address local`` once wrote ~/.ray/auth_token; the next ``ray start --head`` in that HOME then
    required the token, and a run against it failed blaming the port. Same HOME throughout, fresh per test."""
    if not HAVE_RAY:
        pytest.skip(NO_RAY)
    env = _ray_env(tmp_path)
    env.pop("RAY_AUTH_MODE", None)  # Ray's default behaviour, as a user has it
    args = ["run", *_model_args(tiny_model_dir), "--limit", "4", "-q"]
    local = _cli([*args, "--ray-address", "local", "--run-dir", str(tmp_path / "local")], env)
    assert local.returncode == 0, local.stderr
    assert not (tmp_path / "home" / ".ray").exists()  # no token, nothing else under HOME
    assert "RAY_AUTH_MODE" not in env
    with _one_node_head(env) as port:
        remote = _cli([*args, "--ray-address", f"127.0.0.1:{port}", "--run-dir", str(tmp_path / "ray")], env)
        assert remote.returncode == 0, remote.stderr
    assert (tmp_path / "ray" / "segments.jsonl").read_bytes() == (tmp_path / "local" / "segments.jsonl").read_bytes()


@contextlib.contextmanager
def _one_node_head(env: dict[str, str]) -> Iterator[int]:
    """A one-CPU Ray head on loopback started with ``env`` (its HOME decides its token), killed afterwards: its port."""
    base = Path(tempfile.mkdtemp(prefix="ehray-", dir="/tmp"))  # Unix socket paths must stay short
    sessions: list[int] = []
    port = _free_port()
    try:
        _ray_start(["--head", f"--port={port}", "--include-dashboard=false", f"--dashboard-port={_free_port()}",
                    f"--dashboard-agent-listen-port={_free_port()}", f"--ray-client-server-port={_free_port()}",
                    f"--temp-dir={base / 'head'}", "--num-cpus=1", "--object-store-memory=100000000"], env, sessions)
        yield port
    finally:
        for pid in Cluster("", sessions, base).processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_a_head_that_requires_a_token_is_named_as_such(tmp_path: Path) -> None:
    """A head started where ~/.ray/auth_token exists requires the token: the error says so, not "wrong port"."""
    if not HAVE_RAY:
        pytest.skip(NO_RAY)
    env = _ray_env(tmp_path)
    env.pop("RAY_AUTH_MODE", None)
    (tmp_path / "home" / ".ray").mkdir(parents=True)
    (tmp_path / "home" / ".ray" / "auth_token").write_text("0123456789abcdef0123456789abcdef", encoding="utf-8")
    with _one_node_head(env) as port:
        other = dict(env, HOME=str(tmp_path / "elsewhere"))  # a driver without the token
        proc = _cli(["run", "-c", str(DEFAULT), "--set", "systems=[{name: c, backend: copy}]", "--no-cache",
                     "--limit", "2", "-q", "--ray-address", f"127.0.0.1:{port}", "--run-dir", str(tmp_path / "r")],
                    other, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "token authentication" in lines[0] and "RAY_AUTH_MODE=token" in lines[0], lines
    assert "not as a Ray head" not in lines[0]
