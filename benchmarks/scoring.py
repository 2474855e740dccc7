"""Scoring benchmark: prints figures, asserts nothing (the targets are checked by the reader against the printout).

On the same generated files (a fixed seed; references of 5–40 random words from a Zipf-distributed vocabulary,
hypotheses a noisy copy: words replaced, dropped and moved, so that TER's shift search has work to do), at each
size it measures, each in a fresh subprocess:

(a) a plain sacrebleu loop in one process, what a script without evalharness does: per metric (BLEU, chrF,
    chrF++, TER) every ``sentence_score`` and the ``corpus_score``;
(b) ``evalharness score --format json`` with all four metrics (a subprocess of the CLI, on every usable core).

For each: wall time and peak RSS. The peak is ``ru_maxrss`` of ``resource.getrusage(RUSAGE_CHILDREN)`` read by a
fresh measuring process after its one child ended: the largest single process among that child and its
descendants (for (b), the CLI or one of its scoring workers, whichever peaked higher). The script then checks
that (b)'s corpus scores equal (a)'s to 1e-9, and at the first size that ``evalharness score --sentence-level``
gives (a)'s ``sentence_score`` values. Targets (issue 18): (b) ≤ 0.35 × (a)'s wall time on 2 cores, (b)'s peak
RSS ≤ 300 MB at 200k segments, scores identical.

    python benchmarks/scoring.py                          # 12.5k, 50k, 200k segments (long: (a) is slow)
    python benchmarks/scoring.py --sizes 12500 --keep /tmp/bench   # one size, keep the generated files
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
from itertools import accumulate
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
METRICS = ("bleu", "chrf", "chrf++", "ter")
TOLERANCE = 1e-9

PLAIN_LOOP = r"""
import json, sys
from sacrebleu.metrics import BLEU, CHRF, TER
ref_path, hyp_path, out_path, segments_path = sys.argv[1:5]
with open(ref_path, encoding="utf-8") as f:
    refs = f.read().split("\n")[:-1]
with open(hyp_path, encoding="utf-8") as f:
    hyps = f.read().split("\n")[:-1]
metrics = {"bleu": (BLEU(effective_order=True), BLEU()), "chrf": (CHRF(), CHRF()),
           "chrf++": (CHRF(word_order=2), CHRF(word_order=2)), "ter": (TER(), TER())}
corpus, sentences = {}, {}
for name, (segment, whole) in metrics.items():
    sentences[name] = [segment.sentence_score(h, [r]).score for h, r in zip(hyps, refs)]
    corpus[name] = whole.corpus_score(hyps, [refs]).score
with open(out_path, "w", encoding="utf-8") as f:
    json.dump(corpus, f)
if segments_path != "-":
    with open(segments_path, "w", encoding="utf-8") as f:
        json.dump(sentences, f)
"""

MEASURE = r"""
import json, resource, subprocess, sys, time
command = json.loads(sys.argv[1])
t0 = time.perf_counter()
done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
wall = time.perf_counter() - t0
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"wall_s": wall, "peak_mb": peak_kb / 1024, "rc": done.returncode,
                  "stdout": done.stdout.decode("utf-8", "replace"), "stderr": done.stderr.decode("utf-8", "replace")}))
"""


def generate(directory: Path, segments: int, seed: int) -> tuple[Path, Path]:
    """Reference and hypothesis files of ``segments`` lines (the same for a given seed and size)."""
    ref_path, hyp_path = directory / f"ref.{segments}.txt", directory / f"hyp.{segments}.txt"
    if ref_path.exists() and hyp_path.exists():
        return ref_path, hyp_path
    rng = random.Random(seed)
    letters = "abcdefghijklmnoprstuwy"
    vocab = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(20000)]
    cumulative = list(accumulate(1 / (rank + 1) for rank in range(len(vocab))))  # Zipf: a long tail
    punct = [",", ".", "?", ""]
    with ref_path.open("w", encoding="utf-8") as refs, hyp_path.open("w", encoding="utf-8") as hyps:
        for _ in range(segments):
            words = rng.choices(vocab, cum_weights=cumulative, k=rng.randint(5, 40))
            words[0] = words[0].capitalize()
            ref = [*words, rng.choice(punct)] if rng.random() < 0.5 else words
            hyp = []
            for word in ref:
                roll = rng.random()
                if roll < 0.15:
                    hyp.append(rng.choices(vocab, cum_weights=cumulative)[0])  # a wrong word
                elif roll < 0.22:
                    continue  # a dropped word
                else:
                    hyp.append(word)
            if len(hyp) > 6 and rng.random() < 0.5:  # a phrase moved elsewhere
                start = rng.randrange(len(hyp) - 3)
                phrase, hyp = hyp[start : start + 3], hyp[:start] + hyp[start + 3 :]
                at = rng.randrange(len(hyp) + 1)
                hyp = hyp[:at] + phrase + hyp[at:]
            refs.write(" ".join(w for w in ref if w) + "\n")
            hyps.write(" ".join(w for w in hyp if w) + "\n")
    return ref_path, hyp_path


def measure(command: list[str]) -> dict[str, Any]:
    """Run ``command`` as the only child of a fresh measuring process: its wall time and peak RSS."""
    out = subprocess.run([sys.executable, "-c", MEASURE, json.dumps(command)], capture_output=True, text=True,
                         check=True)
    result: dict[str, Any] = json.loads(out.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"{' '.join(command[:4])} … failed ({result['rc']}):\n{result['stderr'][-2000:]}")
    return result


def evalharness_command() -> list[str]:
    """The CLI as a user runs it: the console script beside this Python, else ``python -m evalharness``."""
    script = Path(sys.executable).with_name("evalharness")
    return [str(script)] if script.exists() else [sys.executable, "-m", "evalharness"]


def plain(ref: Path, hyp: Path, work: Path, segments_too: bool) -> tuple[dict[str, Any], dict[str, float],
                                                                         dict[str, list[float]] | None]:
    """(a): the measurement, its corpus scores and (``segments_too``) its sentence scores."""
    out, seg = work / "plain.json", work / "plain-segments.json"
    result = measure([sys.executable, "-c", PLAIN_LOOP, str(ref), str(hyp), str(out), str(seg) if segments_too
                      else "-"])
    sentences = json.loads(seg.read_text(encoding="utf-8")) if segments_too else None
    return result, json.loads(out.read_text(encoding="utf-8")), sentences


def ours(ref: Path, hyp: Path) -> tuple[dict[str, Any], dict[str, float]]:
    """(b): the measurement and its corpus scores."""
    result = measure([*evalharness_command(), "score", "--ref", str(ref), "--hyp", str(hyp), "--metrics",
                      ",".join(METRICS), "--format", "json"])
    report = json.loads(result["stdout"])
    return result, {name: entry["score"] for name, entry in report["systems"][0]["scores"].items()}


def ours_segments(ref: Path, hyp: Path) -> dict[str, list[float]]:
    """``evalharness score --sentence-level --format json``: each metric's segment scores in line order."""
    out = subprocess.run([*evalharness_command(), "score", "--ref", str(ref), "--hyp", str(hyp), "--metrics",
                          ",".join(METRICS), "--sentence-level", "--format", "json"], capture_output=True, text=True,
                         check=True)
    records = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return {name: [r["scores"][name] for r in records] for name in METRICS}


def largest_difference(a: dict[str, Any], b: dict[str, Any]) -> float:
    """The largest |a − b| over metrics (and segments, for lists)."""
    worst = 0.0
    for name in METRICS:
        x, y = a[name], b[name]
        if isinstance(x, list):
            if len(x) != len(y):
                return float("inf")
            worst = max([worst, *(abs(p - q) for p, q in zip(x, y, strict=True))])
        else:
            worst = max(worst, abs(x - y))
    return worst


def main() -> None:
    """Generate, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="12500,50000,200000", help="comma-separated segment counts")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--keep", type=Path, help="folder for the generated files (kept, and reused if there)")
    parser.add_argument("--only", choices=["plain", "evalharness"], help="measure one side only (no ratio, no check)")
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    import sacrebleu

    print(f"python {platform.python_version()}, sacrebleu {sacrebleu.__version__}, {cores} usable cores, "
          f"load average {os.getloadavg()[0]:.2f} at start, seed {args.seed}")
    print(f"{'segments':>9} | {'(a) sacrebleu loop':>19} | {'(b) evalharness score':>22} | {'b/a':>5} | "
          f"{'max |Δ| corpus':>14} | segments checked")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for k, size in enumerate(sizes):
            ref, hyp = generate(work, size, args.seed)
            segments_too = k == 0 and args.only is None
            cells = [f"{size:>9,}"]
            a_scores = b_scores = None
            a_sentences = None
            if args.only != "evalharness":
                a, a_scores, a_sentences = plain(ref, hyp, work, segments_too)
                cells.append(f"{a['wall_s']:7.1f} s {a['peak_mb']:6.0f} MB")
            else:
                cells.append(f"{'—':>19}")
            if args.only != "plain":
                b, b_scores = ours(ref, hyp)
                cells.append(f"{b['wall_s']:10.1f} s {b['peak_mb']:6.0f} MB")
            else:
                cells.append(f"{'—':>22}")
            if a_scores is not None and b_scores is not None:
                cells.append(f"{b['wall_s'] / a['wall_s']:5.2f}")
                diff = largest_difference(a_scores, b_scores)
                cells.append(f"{diff:.1e} {'ok' if diff <= TOLERANCE else 'DIFFERENT'}")
            else:
                cells += [f"{'—':>5}", f"{'—':>14}"]
            if a_sentences is not None:
                diff = largest_difference(a_sentences, ours_segments(ref, hyp))
                cells.append(f"{size:,} × 4, max |Δ| {diff:.1e} {'ok' if diff <= TOLERANCE else 'DIFFERENT'}")
            else:
                cells.append("—")
            print(" | ".join(cells), flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end (the machine's other work slows both sides)")


if __name__ == "__main__":
    main()
