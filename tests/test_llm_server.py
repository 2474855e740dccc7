"""The openai backend against a real OpenAI-compatible server: ``transformers serve`` on 127.0.0.1, offline,
serving a random-weight Llama chat model built here (``python -m evalharness.tiny_model DIR --llm``).

Needs the ``serving`` extra (``transformers[serving]``: FastAPI, uvicorn, openai). Without it the test skips,
unless ``EVALHARNESS_REQUIRE_LLM_SERVER=1`` (set by ``.ci/run``), where it fails.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, read_results, read_segments

NEEDED = ("fastapi", "uvicorn", "openai", "httpx")
MISSING = [name for name in NEEDED if importlib.util.find_spec(name) is None]
SERVE_STARTUP_S = 120


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def transformers_cli() -> str:
    """The ``transformers`` command of this interpreter's environment."""
    beside = Path(sys.executable).with_name("transformers")
    return str(beside) if beside.is_file() else (shutil.which("transformers") or "transformers")


class Server:
    """``transformers serve MODEL`` on a free port of 127.0.0.1; stopped with :meth:`stop`."""

    def __init__(self, model: Path, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
        self.log = log.open("wb")
        self.process = subprocess.Popen(
            [transformers_cli(), "serve", str(model), "--host", "127.0.0.1", "--port", str(self.port),
             "--device", "cpu"], stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + SERVE_STARTUP_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"transformers serve exited ({self.process.returncode}): "
                                   + log.read_text(errors="replace")[-2000:])
            try:
                urllib.request.urlopen(f"{self.url}/models", timeout=2).read()
                return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"transformers serve did not answer within {SERVE_STARTUP_S} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    if MISSING:
        if os.environ.get("EVALHARNESS_REQUIRE_LLM_SERVER") == "1":
            pytest.fail(f"EVALHARNESS_REQUIRE_LLM_SERVER=1 but {', '.join(MISSING)} missing: "
                        "pip install -c constraints.txt -e '.[serving]'")
        pytest.skip(f"{', '.join(MISSING)} not installed (extra 'serving')")
    from evalharness.tiny_model import build_llm

    model = build_llm(tmp_path_factory.mktemp("tiny-llm"))
    server = Server(model, tmp_path_factory.mktemp("serve") / "serve.log")
    try:
        yield server, model
    finally:
        server.stop()


def direct_answer(url: str, model: Path, prompt: dict[str, Any], source: str, src: str, tgt: str,
                  max_tokens: int) -> str:
    """The same request, built here from the config's templates and sent with urllib (not the harness)."""
    names = {"source_language": prompt["language_names"][src], "target_language": prompt["language_names"][tgt]}
    messages = [{"role": "system", "content": prompt["system"].format(source=source, **names)}]
    for ex in prompt["examples"]:
        if (ex["source_language"], ex["target_language"]) == (src, tgt):
            messages += [{"role": "user", "content": prompt["user"].format(source=ex["source"], **names)},
                         {"role": "assistant", "content": ex["translation"]}]
    messages.append({"role": "user", "content": prompt["user"].format(source=source, **names)})
    body = {"model": str(model), "messages": messages, "temperature": 0, "max_tokens": max_tokens}
    request = urllib.request.Request(f"{url}/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return str(json.loads(response.read())["choices"][0]["message"]["content"])


@pytest.mark.slow
def test_llm_config_against_transformers_serve_equals_direct_requests_then_runs_from_cache(
        llm_server: tuple[Server, Path], tmp_path: Path, cli_env: dict[str, str]) -> None:
    server, model = llm_server
    config = REPO / "configs" / "llm.yaml"
    args = ["run", "-c", str(config), "--set", f"systems.0.base_url={server.url}", "--set",
            f"systems.0.model={model}", "--set", "systems.0.generation.max_tokens=12", "--set",
            "systems.0.postprocess=[]", "--set", f"cache.path={tmp_path / 'cache.sqlite3'}", "--limit", "4", "-q"]
    done = subprocess.run([sys.executable, "-m", "evalharness", *args, "--run-dir", str(tmp_path / "run")],
                          capture_output=True, text=True, env=cli_env, timeout=300)
    assert done.returncode == 0, done.stderr
    records = read_segments(tmp_path / "run")
    assert len(records) == 8  # 4 segments × 2 directions
    prompt = yaml.safe_load(config.read_text(encoding="utf-8"))["systems"][0]["prompt"]
    for record in records:
        src, tgt = record["direction"].split("-")
        expected = direct_answer(server.url, model, prompt, record["source"], src, tgt, 12)
        assert record["hypothesis"] == expected.strip(), record["id"]
    manifest = read_results(tmp_path / "run")["manifest"]["systems"]["llm"]
    assert manifest["served_by"] == [str(model)] and manifest["requests"] == 8
    assert manifest["tokens"]["completion"] > 0 and manifest["host"] == f"127.0.0.1:{server.port}"
    # the server gone: the same run comes wholly from the cache
    server.stop()
    again = subprocess.run([sys.executable, "-m", "evalharness", *args, "--run-dir", str(tmp_path / "run2")],
                           capture_output=True, text=True, env=cli_env, timeout=300)
    assert again.returncode == 0, again.stderr
    assert [r["hypothesis"] for r in read_segments(tmp_path / "run2")] == [r["hypothesis"] for r in records]
    results = read_results(tmp_path / "run2")["results"]["llm"]
    assert {d: results[d]["cache"] for d in results} == {"ms-en": {"hits": 4, "misses": 0},
                                                          "en-ms": {"hits": 4, "misses": 0}}
