"""The openai and command backends against real parts: an HTTP server of the tests' own that misbehaves on cue
(stdlib ``http.server`` on 127.0.0.1), and real processes. Every run goes through the real CLI.

The fault server answers ``T:<source>`` for every segment, after whatever the script for that segment says first
(429 with Retry-After, 500, a slow answer, truncated JSON, an empty answer, a preamble, a ``<think>`` block), and
records when each request arrived and with which headers.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import read_results, read_segments

SOURCES = [f"Ayat nombor {i} tentang rundingan di Tokyo." for i in range(1, 9)]
REFERENCES = [f"Sentence number {i} about the talks in Tokyo." for i in range(1, 9)]
KEY = "sk-test-7f3a9c1e5b2d8a4f6e0c"  # what the grep looks for: long and unlike anything else in a run


class FaultServer:
    """An OpenAI-compatible chat endpoint whose answers for a segment follow ``script[segment]`` first."""

    def __init__(self, script: dict[int, list[Any]] | None = None, *, key: str | None = None) -> None:
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.key = key
        self.log: list[tuple[int, float]] = []  # (segment number, arrival time) of every request
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if owner.key is not None and self.headers.get("Authorization") != f"Bearer {owner.key}":
                    return self._send(401, json.dumps({"error": "bad key"}).encode())
                source = body["messages"][-1]["content"]
                number = SOURCES.index(source) + 1 if source in SOURCES else 0
                with owner.lock:
                    owner.log.append((number, time.monotonic()))
                    owner.bodies.append(body)
                    step = owner.script.get(number, []).pop(0) if owner.script.get(number) else "ok"
                answer = f"T:{source}"
                if isinstance(step, tuple) and step[0] == "slow":
                    time.sleep(step[1])
                    step = "ok"
                if step == 429:
                    return self._send(429, b'{"error": "slow down"}', {"Retry-After": "1"})
                if step == 500:
                    return self._send(500, b'{"error": "boom"}')
                if step == "truncated":
                    return self._send(200, self._completion(answer)[:40])
                if step == "empty":
                    return self._send(200, self._completion(""))
                if step == "echo-key-400":
                    return self._send(400, json.dumps({"error": f"key {owner.key} not allowed"}).encode())
                if step == "preamble":
                    answer = f"Here is the translation:\n{answer}"
                if step == "think":
                    answer = f"<think>The user wants English.\nOkay.</think>\n{answer}"
                if step == "multiline":
                    answer = f"{answer}\nNote: a literal translation."
                return self._send(200, self._completion(answer))

            def _completion(self, text: str) -> bytes:
                return json.dumps({"id": "x", "object": "chat.completion", "model": "fault-model",
                                   "system_fingerprint": "fp_test",
                                   "choices": [{"index": 0, "finish_reason": "stop",
                                                "message": {"role": "assistant", "content": text}}],
                                   "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}}
                                  ).encode()

            def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def requests_for(self, number: int) -> list[float]:
        """Arrival times of the requests for segment ``number``."""
        return [t for n, t in self.log if n == number]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def corpus(tmp_path: Path) -> dict[str, str]:
    ms, en = tmp_path / "src.ms", tmp_path / "ref.en"
    ms.write_text("\n".join(SOURCES) + "\n", encoding="utf-8")
    en.write_text("\n".join(REFERENCES) + "\n", encoding="utf-8")
    return {"ms": str(ms), "en": str(en)}


def write_config(tmp_path: Path, corpus: dict[str, str], system: dict[str, Any]) -> Path:
    config = {"corpus": corpus, "directions": ["ms-en"], "metrics": ["bleu", "chrf"],
              "cache": {"path": str(tmp_path / "cache.sqlite3")}, "flags": {"enabled": False},
              "systems": [{"name": "llm", **system}]}
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    return path


def cli(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evalharness", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def cached_outputs(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT output FROM translations")]


@pytest.fixture
def server() -> Iterator[FaultServer]:
    servers: list[FaultServer] = []

    def make(*args: Any, **kwargs: Any) -> FaultServer:
        servers.append(FaultServer(*args, **kwargs))
        return servers[-1]

    yield make  # type: ignore[misc]
    for s in servers:
        s.stop()


def openai_system(url: str, **more: Any) -> dict[str, Any]:
    return {"backend": "openai", "base_url": url, "model": "fault-model", "max_concurrent": 4, "timeout_s": 1.5,
            "max_retries": 3, "prompt": {"system": "Translate {source_language} to {target_language}.",
                                         "user": "{source}"}, **more}


def test_faults_are_retried_and_cleaned_and_nothing_bad_is_cached(tmp_path: Path, corpus: dict[str, str],
                                                                   server: Any, cli_env: dict[str, str]) -> None:
    fault = server({1: [429], 2: [500, 500], 3: [("slow", 3.0)], 4: ["truncated"], 5: ["empty"], 6: ["preamble"],
                    7: ["think"], 8: ["multiline"]})
    config = write_config(tmp_path, corpus, openai_system(fault.url))
    done = cli(["run", "-c", str(config), "--run-dir", str(tmp_path / "run"), "-q"], cli_env)
    assert done.returncode == 0, done.stderr
    records = read_segments(tmp_path / "run")
    assert [r["hypothesis"] for r in records] == [f"T:{s}" for s in SOURCES[:7]] + [
        f"T:{SOURCES[7]}\nNote: a literal translation."]  # kept as it came, and noted
    assert [r.get("postprocessed", []) for r in records] == [[], [], [], [], [], ["preamble"], ["think"],
                                                             ["multi_line"]]
    # 429 + Retry-After: 1 -> the second try came at least a second after the first
    first, second = fault.requests_for(1)
    assert second - first >= 0.95
    assert len(fault.requests_for(2)) == 3  # two 500s, then the answer
    assert len(fault.requests_for(3)) == 2  # the slow one timed out (1.5 s) and was asked again
    assert len(fault.requests_for(4)) == 2 and len(fault.requests_for(5)) == 2
    system = read_results(tmp_path / "run")["manifest"]["systems"]["llm"]
    assert system["http_429"] == 1
    assert system["retries"] == 6  # 429, 500, 500, timeout, truncated, empty
    assert system["postprocessed"] == {"multi_line": 1, "preamble": 1, "think": 1}
    assert system["system_fingerprints"] == ["fp_test"] and system["host"].startswith("127.0.0.1:")
    assert system["cache"].startswith("cached: temperature 0")
    # the cache holds the eight good answers (raw, as the server gave them) and nothing empty or truncated
    stored = cached_outputs(tmp_path / "cache.sqlite3")
    assert len(stored) == 8 and all(s.rstrip().endswith(("Tokyo.", "translation.")) for s in stored)
    # with the server gone, a rerun is served from the cache, notes included
    fault.stop()
    again = cli(["run", "-c", str(config), "--run-dir", str(tmp_path / "run2"), "-q"], cli_env)
    assert again.returncode == 0, again.stderr
    rerun = read_segments(tmp_path / "run2")
    assert [(r["hypothesis"], r.get("postprocessed")) for r in rerun] == [
        (r["hypothesis"], r.get("postprocessed")) for r in records]
    assert read_results(tmp_path / "run2")["results"]["llm"]["ms-en"]["cache"] == {"hits": 8, "misses": 0}


def test_a_request_that_keeps_failing_is_one_line_and_the_rest_is_kept(tmp_path: Path, corpus: dict[str, str],
                                                                       server: Any, cli_env: dict[str, str]) -> None:
    fault = server({5: ["empty"] * 10})
    config = write_config(tmp_path, corpus, openai_system(fault.url, max_retries=1, max_concurrent=1))
    done = cli(["run", "-c", str(config), "--run-dir", str(tmp_path / "run"), "-q"], cli_env)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "segment 5" in lines[0] and "empty answer" in lines[0], done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "run").exists()
    assert len(fault.requests_for(5)) == 2  # the first try and one retry
    stored = cached_outputs(tmp_path / "cache.sqlite3")
    assert "" not in stored and len(stored) >= 4  # segments 1-4 came back before it (one at a time)
    # a rerun against a mended server asks only for what the cache lacks
    fixed = server()
    config = write_config(tmp_path, corpus, openai_system(fixed.url, max_retries=1, max_concurrent=1))
    again = cli(["run", "-c", str(config), "--run-dir", str(tmp_path / "run2"), "-q"], cli_env)
    assert again.returncode == 0, again.stderr
    assert len(fixed.log) == 8 - len(stored)
    assert 5 in {n for n, _ in fixed.log}


def test_temperature_above_zero_without_seed_is_never_cached(tmp_path: Path, corpus: dict[str, str], server: Any,
                                                             cli_env: dict[str, str]) -> None:
    fault = server()
    config = write_config(tmp_path, corpus, openai_system(fault.url, generation={"temperature": 0.7}))
    for name in ("run", "run2"):
        done = cli(["run", "-c", str(config), "--run-dir", str(tmp_path / name), "-q"], cli_env)
        assert done.returncode == 0, done.stderr
    assert len(fault.log) == 16  # asked twice: a sample is not a fact
    assert not (tmp_path / "cache.sqlite3").exists() or cached_outputs(tmp_path / "cache.sqlite3") == []
    system = read_results(tmp_path / "run2")["manifest"]["systems"]["llm"]
    assert system["cache"].startswith("not cached")
    assert fault.bodies[0]["temperature"] == 0.7 and "seed" not in fault.bodies[0]


def test_the_api_key_is_sent_but_never_written(tmp_path: Path, corpus: dict[str, str], server: Any,
                                               cli_env: dict[str, str]) -> None:
    fault = server({3: ["preamble"]}, key=KEY)
    env = {**cli_env, "EH_TEST_API_KEY": KEY}
    config = write_config(tmp_path, corpus, openai_system(fault.url, api_key_env="EH_TEST_API_KEY"))
    done = cli(["run", "-c", str(config), "--run-dir", str(tmp_path / "run"), "--html"], env)
    assert done.returncode == 0, done.stderr
    assert len(fault.log) == 8  # the server checks the key: every request carried it
    for path in [*(tmp_path / "run").rglob("*"), *tmp_path.glob("cache.sqlite3*")]:
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in done.stdout + done.stderr
    report = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert '"postprocessed":{"llm":["preamble"]}' in report  # the note reaches the report's data
    # a server that echoes the key in an error body: the one-line error hides it
    echo = server({n: ["echo-key-400"] for n in range(1, 9)}, key=KEY)
    config = write_config(tmp_path, corpus, openai_system(echo.url, api_key_env="EH_TEST_API_KEY"))
    failed = cli(["run", "-c", str(config), "--run-dir", str(tmp_path / "run2"), "--no-cache", "-q"], env)
    assert failed.returncode == 2 and "HTTP 400" in failed.stderr and "***" in failed.stderr
    assert KEY not in failed.stdout + failed.stderr
    # unset: refused before any request, naming the variable
    unset = cli(["run", "-c", str(config), "--run-dir", str(tmp_path / "run3"), "-q"], cli_env)
    assert unset.returncode == 2 and "EH_TEST_API_KEY is not set" in unset.stderr
    assert len(unset.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- the command backend


UPPER = "import sys\nfor line in sys.stdin: print(line.rstrip('\\n').upper())"


def command_system(code: str, **more: Any) -> dict[str, Any]:
    return {"backend": "command", "command": [sys.executable, "-c", code, "{source_language}", "{target_language}"],
            **more}


def test_command_translates_in_batches_and_caches(tmp_path: Path, corpus: dict[str, str],
                                                  cli_env: dict[str, str]) -> None:
    marker = tmp_path / "calls"
    code = (f"import sys\nopen({str(marker)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
            "for line in sys.stdin: print(line.rstrip('\\n').upper())")
    config = write_config(tmp_path, corpus, command_system(code, batch_size=3, max_concurrent=2))
    done = cli(["run", "-c", str(config), "--run-dir", str(tmp_path / "run"), "-q"], cli_env)
    assert done.returncode == 0, done.stderr
    assert [r["hypothesis"] for r in read_segments(tmp_path / "run")] == [s.upper() for s in SOURCES]
    assert marker.read_text().splitlines() == ["ms en"] * 3  # 8 segments in batches of 3; codes put in the argv
    again = cli(["run", "-c", str(config), "--run-dir", str(tmp_path / "run2"), "-q"], cli_env)
    assert again.returncode == 0 and len(marker.read_text().splitlines()) == 3  # all from the cache


def test_command_jsonl(tmp_path: Path, corpus: dict[str, str], cli_env: dict[str, str]) -> None:
    code = ("import sys, json\nfor line in sys.stdin:\n"
            "    print(json.dumps({'text': '<think>x</think>' + json.loads(line)['text'][::-1]}))")
    config = write_config(tmp_path, corpus, command_system(code, io="jsonl", postprocess=["think"]))
    done = cli(["run", "-c", str(config), "--run-dir", str(tmp_path / "run"), "-q"], cli_env)
    assert done.returncode == 0, done.stderr
    records = read_segments(tmp_path / "run")
    assert [r["hypothesis"] for r in records] == [s[::-1] for s in SOURCES]
    assert all(r["postprocessed"] == ["think"] for r in records)


@pytest.mark.parametrize(("code", "more", "expected"), [
    ("import sys\nsys.stdin.read()\nprint('model file missing', file=sys.stderr)\nsys.exit(3)", {},
     ["exited with status 3", "model file missing"]),
    ("import sys\nlines = sys.stdin.readlines()\nfor l in lines[:-1]: print(l.strip())", {},
     ["printed 7 lines for 8 segments"]),
    ("import sys\nfor l in sys.stdin: print(l.strip()); print('extra')", {}, ["printed 16 lines for 8 segments"]),
    ("import time, sys\nprint('loading', file=sys.stderr, flush=True)\ntime.sleep(60)", {"timeout_s": 1},
     ["no result within timeout_s 1", "loading"]),
    ("import sys\nfor l in sys.stdin: print(l.strip() + chr(0))", {}, ["output line 1 holds a NUL byte"]),
])
def test_command_failures_are_one_line_exit_2(tmp_path: Path, corpus: dict[str, str], cli_env: dict[str, str],
                                              code: str, more: dict[str, Any], expected: list[str]) -> None:
    config = write_config(tmp_path, corpus, command_system(code, **more))
    start = time.monotonic()
    done = cli(["run", "-c", str(config), "--run-dir", str(tmp_path / "run"), "-q"], cli_env, timeout=60)
    assert time.monotonic() - start < 30  # the hanging one was killed, not waited for
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "system 'llm': command" in lines[0] and all(e in lines[0] for e in expected), lines[0]
    assert not (tmp_path / "run").exists()


def test_command_not_found_is_refused_before_anything_runs(tmp_path: Path, corpus: dict[str, str],
                                                           cli_env: dict[str, str]) -> None:
    config = write_config(tmp_path, corpus, {"backend": "command", "command": ["no-such-translator-xyz"]})
    done = cli(["run", "-c", str(config), "--run-dir", str(tmp_path / "run")], cli_env)
    assert done.returncode == 2 and "'no-such-translator-xyz' not found" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- the clean-up rules


@pytest.mark.parametrize(("raw", "source", "rules", "text", "notes"), [
    ("<think>Let me see.\nHmm.</think>\nSaya suka kopi.", "I like coffee.", ["think"], "Saya suka kopi.", ("think",)),
    ("Here is the translation:\nSaya suka kopi.", "I like coffee.", ["preamble"], "Saya suka kopi.", ("preamble",)),
    ("Sure! Here's the Malay translation: Saya suka kopi.", "I like coffee.", ["preamble"], "Saya suka kopi.",
     ("preamble",)),
    ("Berikut ialah terjemahannya:\nSaya suka kopi.", "I like coffee.", ["preamble"], "Saya suka kopi.",
     ("preamble",)),
    ('"Saya suka kopi."', "I like coffee.", ["quotes"], "Saya suka kopi.", ("quotes",)),
    ('"Saya suka kopi."', '"I like coffee."', ["quotes"], '"Saya suka kopi."', ()),  # the source was quoted
    ('"Ya," katanya, "betul."', "Yes, he said, right.", ["quotes"], '"Ya," katanya, "betul."', ()),
    ("```text\nSaya suka kopi.\n```", "I like coffee.", ["code_fence"], "Saya suka kopi.", ("code_fence",)),
    ("Saya suka kopi.<end_of_turn>\n", "I like coffee.", ["end_tokens"], "Saya suka kopi.", ("end_tokens",)),
    ("Saya suka kopi.<|im_end|>", "I like coffee.", [], "Saya suka kopi.<|im_end|>", ()),  # rule not chosen
    ("Translation: Saya suka kopi.", "Translation: I like coffee.", ["preamble"], "Translation: Saya suka kopi.", ()),
    ("<think>a</think>```\nHere is the translation: \"Saya.\"\n```<|im_end|>", "I.",
     ["quotes", "preamble", "code_fence", "end_tokens", "think"], "Saya.",
     ("think", "end_tokens", "code_fence", "preamble", "quotes")),  # applied in the rules' own order
    ("Saya suka kopi.", "I like coffee.", ["think", "preamble", "quotes", "code_fence", "end_tokens"],
     "Saya suka kopi.", ()),
])
def test_cleanup_rules(raw: str, source: str, rules: list[str], text: str, notes: tuple[str, ...]) -> None:
    from evalharness.systems.postprocess import clean

    assert clean(raw, source, rules) == (text, notes)


def test_unknown_rule_and_bad_template_are_config_errors(tmp_path: Path, corpus: dict[str, str],
                                                         cli_env: dict[str, str]) -> None:
    config = write_config(tmp_path, corpus, openai_system("http://127.0.0.1:9/v1", postprocess=["thinking"]))
    done = cli(["run", "-c", str(config)], cli_env)
    assert done.returncode == 2 and "systems.0.postprocess" in done.stderr and "think" in done.stderr
    config = write_config(tmp_path, corpus, openai_system("http://127.0.0.1:9/v1",
                                                          prompt={"user": "{src}"}))
    done = cli(["run", "-c", str(config)], cli_env)
    assert done.returncode == 2 and "systems.0.prompt.user" in done.stderr and "{src}" in done.stderr
    config = write_config(tmp_path, corpus, openai_system("http://user:pw@127.0.0.1:9/v1"))
    done = cli(["run", "-c", str(config)], cli_env)
    assert done.returncode == 2 and "api_key_env" in done.stderr and "pw" not in done.stderr
