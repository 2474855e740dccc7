"""COMET throughput: segments per second through the harness's worker, on random-weight checkpoints.

    python benchmarks/comet_speed.py                       # tiny checkpoint, CPU (seconds)
    python benchmarks/comet_speed.py --size large --device cuda --precision fp32 fp16   # XLM-R large's shape

Needs the COMET environment (``evalharness metrics setup comet``, or ``$EVALHARNESS_COMET_PYTHON``). The
checkpoint is built into a temporary folder (``--keep DIR`` builds it there once and reuses it). Segments are the
article corpus's paragraphs scored against themselves as hypotheses with the other side as source, repeated to
``--segments``; the model is loaded and warmed up on one batch before timing, and every timed pass scores
afresh (no cache). Random weights give noise scores; the time per segment is what a real model of that shape
costs (the tiny tokenizer cuts text into more pieces than XLM-R's, so "large" here is, if anything, slower).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evalharness.corpus import load_corpus  # noqa: E402
from evalharness.paths import bundled_corpora_dir  # noqa: E402
from evalharness.scoring.comet.env import comet_python  # noqa: E402
from evalharness.scoring.comet.metric import worker_for  # noqa: E402
from evalharness.tiny_model import ARTICLE_CORPUS, build_comet  # noqa: E402


def triples(n: int) -> list[tuple[str, str, str]]:
    """``n`` (source, hypothesis, reference) triples cycled from the article's ms→en paragraphs."""
    pairs = load_corpus(bundled_corpora_dir() / ARTICLE_CORPUS).pairs
    base = [(p.sides["ms"].text, p.sides["en"].text, p.sides["en"].text) for p in pairs]
    return [base[i % len(base)] for i in range(n)]


def measure(model: Path, *, segments: int, batch_size: int, device: str, precision: str,
            passes: int) -> tuple[float, list[float]]:
    """(best segments/s, every pass's seconds) of scoring ``segments`` triples."""
    worker = worker_for(comet_python())
    data = triples(segments)
    worker.score(str(model), data[:batch_size], batch_size=batch_size, device=device, precision=precision)  # warm-up
    times = []
    for _ in range(passes):
        t0 = time.perf_counter()
        worker.score(str(model), data, batch_size=batch_size, device=device, precision=precision)
        times.append(time.perf_counter() - t0)
    return segments / min(times), times


def main() -> int:
    """Print one line per device × precision × batch size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=["tiny", "large"], default="tiny")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--precision", nargs="+", default=["fp32"], choices=["fp32", "fp16", "bf16"])
    parser.add_argument("--batch-size", type=int, nargs="+", default=[8])
    parser.add_argument("--segments", type=int, default=0, help="default: 290 (tiny), 580 (large on GPU), 58 (CPU)")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build (once) and reuse the checkpoint in this folder")
    args = parser.parse_args()
    segments = args.segments or (290 if args.size == "tiny" else 580 if args.device != "cpu" else 58)
    with tempfile.TemporaryDirectory(prefix="comet-speed-") as tmp:
        folder = args.keep or Path(tmp) / f"comet-{args.size}"
        t0 = time.perf_counter()
        if not (folder / "checkpoints" / "model.ckpt").is_file():
            build_comet(folder, size=args.size)
            print(f"built the {args.size} checkpoint in {time.perf_counter() - t0:.1f} s: {folder}")
        info = worker_for(comet_python()).start()
        print(f"unbabel-comet {info['comet']}, torch {info['torch']}, cuda available: {info['cuda']}; "
              f"{segments} segments, best of {args.passes} passes")
        for precision in args.precision:
            for batch in args.batch_size:
                rate, times = measure(folder, segments=segments, batch_size=batch, device=args.device,
                                      precision=precision, passes=args.passes)
                spread = ", ".join(f"{t:.2f}" for t in times)
                print(f"{args.size:5} {args.device:6} {precision:4} batch {batch:3}: {rate:8.1f} segments/s "
                      f"(passes {spread} s; median {segments / statistics.median(times):.1f}/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
