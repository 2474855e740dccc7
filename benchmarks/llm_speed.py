"""Throughput of the ``openai`` backend against a plain loop with the ``openai`` client package, same server.

Starts ``transformers serve`` on 127.0.0.1 (offline) with a random-weight Llama chat model built here
(``python -m evalharness.tiny_model DIR --llm``; ``--model DIR`` serves another), then for each ``max_concurrent``
sends the same chat requests — the article's paragraphs in both directions, the default prompt, temperature 0 —
(a) from a thread pool of that size, each thread calling ``OpenAI().chat.completions.create``, and (b) through
``OpenAISystem.translate`` (no cache, no clean-up rules, so both do the same work); both direction after direction,
as a run sends them. The server runs with ``OMP_NUM_THREADS=1``: concurrent requests each running torch on every
core of a 2-core machine made the server's own speed swing by 4× between passes. The two alternate, ``--repeats``
times each; the table gives the median requests/s and (b)/(a). Needs the ``serving`` extra.

    python benchmarks/llm_speed.py [--concurrency 1,4,16] [--repeats 3] [--max-tokens 16] [--model DIR]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evalharness.systems.openai import OpenAISettings, OpenAISystem
from evalharness.tiny_model import build_llm, corpus_texts


def start_server(model: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``transformers serve`` on a free port; its base URL once ``/v1/models`` answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cli = Path(sys.executable).with_name("transformers")
    process = subprocess.Popen([str(cli), "serve", str(model), "--host", "127.0.0.1", "--port", str(port),
                                "--device", "cpu"], stdout=log.open("wb"), stderr=subprocess.STDOUT,
                               env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(240):
        if process.poll() is not None:
            raise SystemExit(f"transformers serve exited: {log.read_text(errors='replace')[-1500:]}")
        try:
            urllib.request.urlopen(f"{url}/models", timeout=2).read()
            return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("transformers serve did not start within 120 s")


def timed(work: Callable[[], Any]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main() -> int:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--model", type=Path, help="a chat model directory (default: build the tiny one)")
    args = parser.parse_args()
    from openai import OpenAI

    texts = corpus_texts()  # ms and en of every pair: 58 requests
    jobs = [(t, "ms", "en") if i % 2 == 0 else (t, "en", "ms") for i, t in enumerate(texts)]
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or build_llm(Path(tmp) / "tiny-llm")
        process, url = start_server(model, Path(tmp) / "serve.log")
        try:
            rows = []
            for concurrency in [int(c) for c in args.concurrency.split(",")]:
                settings = OpenAISettings(name="bench", base_url=url, model=str(model), postprocess=[],
                                          max_concurrent=concurrency, max_retries=0,
                                          generation={"temperature": 0, "max_tokens": args.max_tokens})  # type: ignore[arg-type]
                system = OpenAISystem(settings)
                client = OpenAI(base_url=url, api_key="unused", max_retries=0)
                by_direction: dict[tuple[str, str], list[str]] = {}
                for text, src, tgt in jobs:
                    by_direction.setdefault((src, tgt), []).append(text)

                def plain_loop() -> None:
                    def one(job: tuple[str, str, str]) -> str:
                        text, src, tgt = job
                        answer = client.chat.completions.create(
                            model=str(model), messages=settings.prompt.messages(text, src, tgt),  # type: ignore[arg-type]
                            temperature=0, max_tokens=args.max_tokens)
                        return answer.choices[0].message.content or ""
                    for (src, tgt), texts_in in by_direction.items():  # direction after direction, as a run
                        with ThreadPoolExecutor(max_workers=concurrency) as pool:
                            list(pool.map(one, [(t, src, tgt) for t in texts_in]))

                def harness() -> None:  # direction after direction, as a run does
                    for (src, tgt), texts_in in by_direction.items():
                        system.translate(texts_in, src, tgt)

                plain_loop()  # warm both: connections, the server's first generate
                harness()
                loop_s, ours_s = [], []
                for _ in range(args.repeats):
                    loop_s.append(timed(plain_loop))
                    ours_s.append(timed(harness))
                system.close()
                client.close()
                a, b = len(jobs) / statistics.median(loop_s), len(jobs) / statistics.median(ours_s)
                rows.append((concurrency, a, b))
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"{len(jobs)} chat requests (the article's paragraphs, both directions), max_tokens {args.max_tokens}, "
          f"temperature 0, median of {args.repeats}; transformers serve on CPU (OMP_NUM_THREADS=1), tiny random Llama")
    print("| max_concurrent | (a) openai client, thread pool | (b) evalharness `openai` backend | (b)/(a) |")
    print("| --- | --- | --- | --- |")
    for concurrency, a, b in rows:
        print(f"| {concurrency} | {a:.1f} requests/s | {b:.1f} requests/s | **{b / a:.2f}** |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
