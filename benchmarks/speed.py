"""Speed benchmark: prints figures, asserts nothing (targets are checked by the reader against the printout).

Builds a random-weight model with the real opus-mt architecture (d_model 512, 6+6 layers, 8 heads, FFN 2048,
~60k vocabulary). Its end-of-sentence logit is pinned to -inf so that every output runs to exactly
max_new_tokens, as long outputs of a real model would: random weights then cost what real ones do.
In one run, on the corpus's paragraphs (en→ms), it measures:

1. tokens/s of a hand-written batched ``generate`` loop;
2. tokens/s of the harness's ``transformers`` system (same model, batch size, decoding);
3. tokens/s of the ``ct2`` system at float32 and int8 (needs the [ct2] extra);
4. a full ``evalharness run`` cold (empty cache) and again cached;
5. peak memory (max RSS) of a ``ct2`` int8 ``evalharness run``;
6. ``evalharness --help`` against ``python -c pass``.

The engines are timed in worker processes, a PyTorch one (1 and 2, interleaved) and a CTranslate2 one
(3), alternating for ``--rounds`` rounds: each engine runs alone in its process (two engines in one process
slow each other down: they share the CPU's two cores and OpenMP settings), and a drift in the machine's speed
during the run reaches both. Each figure is the fastest timed run of that engine over the whole run.

    python benchmarks/speed.py                      # CPU
    python benchmarks/speed.py --device cuda --dtype float16 --static-cache --skip-ct2   # a CUDA GPU
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def build_model(folder: Path) -> Path:
    """The opus-mt-size random model, with EOS made unreachable so outputs have a fixed length."""
    import torch
    from transformers import AutoModelForSeq2SeqLM

    from evalharness.tiny_model import OPUS_MT, build_marian

    # The largest SentencePiece vocabulary this small corpus supports (~700 pieces): paragraphs come out at
    # ~63 tokens, closer to a real 60k-piece opus-mt vocabulary than the tiny model's 300 pieces.
    build_marian(folder, arch=OPUS_MT, spm_vocab=8000)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder)
    with torch.no_grad():
        model.final_logits_bias[:, model.config.eos_token_id] = -1e9
    model.save_pretrained(folder)
    return folder


def texts() -> list[str]:
    from evalharness.corpus import load_corpus

    return [p.text("en") for p in load_corpus("rt-2013-russia-japan-2plus2").pairs]


def hand_loop(model_dir: Path, sources: list[str], args: argparse.Namespace) -> Timed:
    """The reference: tokenize, sort by length, batch, generate, decode — nothing else."""
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    dtype = getattr(torch, args.dtype)
    model = AutoModelForSeq2SeqLM.from_pretrained(model_dir, dtype=dtype).to(args.device).eval()
    inputs = [f">>zsm_Latn<< {s}" for s in sources]
    enc = tok(inputs, truncation=True)["input_ids"]
    order = sorted(range(len(enc)), key=lambda i: -len(enc[i]))
    extra = {"cache_implementation": "static"} if args.static_cache else {}

    def once() -> tuple[float, int]:
        tokens = 0
        sync()
        start = time.perf_counter()
        for b in range(0, len(order), args.batch_size):
            batch = order[b : b + args.batch_size]
            padded = tok.pad({"input_ids": [enc[i] for i in batch]}, return_tensors="pt").to(args.device)
            with torch.inference_mode():
                out = model.generate(**padded, num_beams=1, do_sample=False, max_new_tokens=args.max_new_tokens,
                                     **extra)
            tok.batch_decode(out, skip_special_tokens=True)
            tokens += int((~torch.isin(out[:, 1:], torch.tensor(tok.all_special_ids, device=out.device))).sum())
        sync()
        return time.perf_counter() - start, tokens

    return warmed(once)


def sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


Timed = Callable[[], tuple[float, int]]


def warmed(fn: Timed) -> Timed:
    """``fn`` after one warm-up call (first-call costs are not throughput)."""
    fn()
    return fn


def best_run(runs: list[list[float]]) -> tuple[float, int]:
    """Fastest of several timed runs (the least disturbed by the machine's neighbours), with its token count."""
    return min(r[0] for r in runs), int(runs[0][1])


def harness_system(model_dir: Path, sources: list[str], args: argparse.Namespace, backend: str,
                   compute_type: Any = "auto") -> Timed:
    from evalharness.store import TranslationStore
    from evalharness.systems import SYSTEMS, parse_system

    gen: dict[str, Any] = {"num_beams": 1, "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size,
                           "device": args.device, "threads": 1 if backend == "ct2" else None}
    if backend == "ct2":
        gen.update(compute_type=compute_type, inter_threads=2)
    else:
        gen.update(dtype=args.dtype, static_cache=args.static_cache)
    settings = parse_system({"name": backend, "backend": backend, "model": str(model_dir), "generation": gen,
                             "target_prefix": {"ms": ">>zsm_Latn<<"}})
    # The backend itself, not create_system's cached wrapper: every pass must translate. The store only keeps
    # converted CTranslate2 models beside the model directory.
    store = TranslationStore(model_dir.parent / "bench-store.sqlite3")
    system = SYSTEMS.get(backend)(settings, store=store)
    system.prepare()

    def once() -> tuple[float, int]:
        sync()
        start = time.perf_counter()
        out = system.translate(sources, "en", "ms")
        sync()
        return time.perf_counter() - start, sum(t.tokens for t in out)

    return warmed(once)


LOOP, HARNESS = "hand-written generate loop", "harness transformers system"
CT2_F32, CT2_INT8 = "ct2 float32", "ct2 int8"


def worker(args: argparse.Namespace) -> int:
    """One engine's timed runs (seconds, tokens), interleaved, printed as a JSON line for the parent."""
    sources = texts()
    if args.worker == "transformers":
        systems = {LOOP: hand_loop(args.model_dir, sources, args),
                   HARNESS: harness_system(args.model_dir, sources, args, "transformers")}
    else:
        systems = {CT2_F32: harness_system(args.model_dir, sources, args, "ct2", "float32"),
                   CT2_INT8: harness_system(args.model_dir, sources, args, "ct2", "int8")}
    timed: dict[str, list[tuple[float, int]]] = {name: [] for name in systems}
    for _ in range(args.repeats):  # interleaved, so that drifts in machine speed hit both alike
        for name, once in systems.items():
            timed[name].append(once())
    print(json.dumps(timed))
    return 0


def in_worker(engine: str, model_dir: Path, args: argparse.Namespace) -> dict[str, list[list[float]]]:
    """Run :func:`worker` for ``engine`` in a fresh process with this run's settings."""
    argv = [sys.executable, __file__, "--worker", engine, "--model-dir", str(model_dir), "--device", args.device,
            "--dtype", args.dtype, "--batch-size", str(args.batch_size), "--max-new-tokens",
            str(args.max_new_tokens), "--repeats", str(args.repeats), *(["--static-cache"] * args.static_cache)]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"the {engine} worker failed:\n{proc.stderr}")
    result: dict[str, list[list[float]]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def cli(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall time and peak RSS (kB) of one ``evalharness`` subprocess."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "evalharness", *args], env=env, cwd=REPO, capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"evalharness {' '.join(args)} failed:\n{proc.stderr}")
    return elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def peak_rss_of(args: list[str], env: dict[str, str]) -> int:
    """Max RSS (kB) of one subprocess, measured by a fresh helper so earlier children do not count."""
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "evalharness", *args], env=env,
                         cwd=REPO, capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def startup(command: list[str], n: int = 20) -> float:
    """Median wall time of ``n`` starts of ``command``."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ct2_overrides(model_dir: Path, args: argparse.Namespace) -> list[str]:
    """configs/default.yaml's two systems on ct2 int8, as ``--set`` items.

    Each ``generation`` is replaced as a whole: a ct2 system refuses the transformers-only keys the shipped
    config sets (``dtype``), so ``--set systems.N.backend=ct2`` alone stops at "generation.dtype: unknown key".
    Beam 4 and batch 8 are the shipped config's.
    """
    out = []
    for i in (0, 1):
        generation = (f"{{num_beams: 4, batch_size: 8, max_new_tokens: {args.max_new_tokens}, device: {args.device}, "
                      "compute_type: int8, inter_threads: 2, threads: 1}")
        out += ["--set", f"systems.{i}.backend=ct2", "--set", f"systems.{i}.model={model_dir}",
                "--set", f"systems.{i}.generation={generation}"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--batch-size", type=int, default=8)
    # ~1.4 tokens per word of the 30-word paragraphs, what a real opus-mt model writes for them.
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each system in each round")
    parser.add_argument("--rounds", type=int, default=3, help="times each engine's worker process runs")
    parser.add_argument("--static-cache", action="store_true")
    parser.add_argument("--skip-ct2", action="store_true")
    parser.add_argument("--skip-cli", action="store_true", help="skip the cold/cached run, memory and --help parts")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--model-dir", type=Path, help="reuse (or build once into) this model directory")
    parser.add_argument("--worker", choices=["transformers", "ct2"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    import torch
    import transformers

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    work = Path(tempfile.mkdtemp(prefix="evalharness-bench-"))
    if args.model_dir and (args.model_dir / "config.json").is_file():
        model_dir = args.model_dir
    else:
        model_dir = build_model(args.model_dir or work / "opus-mt-size")
    sources = texts()
    figures: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu",
        "torch": torch.__version__, "transformers": transformers.__version__, "torch_threads": torch.get_num_threads(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "setup": f"{len(sources)} paragraphs en→ms, batch {args.batch_size}, greedy, {args.max_new_tokens} new tokens "
                 f"per output, {args.dtype}{', static cache' if args.static_cache else ''}; fastest of {args.rounds} "
                 f"rounds x {args.repeats} timed passes per system",
    }

    def report(name: str, seconds: float, tokens: int) -> float:
        rate = tokens / seconds
        figures[name] = {"seconds": round(seconds, 3), "tokens": tokens, "tokens_per_s": round(rate, 1)}
        print(f"{name:32} {tokens:6d} tokens in {seconds:7.2f} s = {rate:8.1f} tokens/s", flush=True)
        return rate

    print(figures["setup"], "|", figures["device"], flush=True)
    engines = ["transformers"] if args.skip_ct2 else ["transformers", "ct2"]
    runs: dict[str, list[list[float]]] = {}
    rounds: list[dict[str, float]] = []
    for _ in range(args.rounds):
        rounds.append({})
        for engine in engines:
            for name, timed in in_worker(engine, model_dir, args).items():
                runs.setdefault(name, []).extend(timed)
                rounds[-1][name] = max(n / t for t, n in timed)
    rate = {name: report(name, *best_run(timed)) for name, timed in runs.items()}
    loop, harness = rate[LOOP], rate[HARNESS]
    print(f"  harness / hand loop = {harness / loop:.3f}  (target >= 0.95)")
    print(f"  harness / hand loop in each round: {', '.join(f'{r[HARNESS] / r[LOOP]:.3f}' for r in rounds)}")
    figures["harness_over_loop"] = round(harness / loop, 3)
    figures["harness_over_loop_per_round"] = [round(r[HARNESS] / r[LOOP], 3) for r in rounds]
    if not args.skip_ct2:
        i8, f32 = rate[CT2_INT8], rate[CT2_F32]
        per_round = [r[CT2_INT8] / r[HARNESS] for r in rounds]
        print(f"  ct2 int8 / transformers fp32 = {i8 / harness:.2f}  (target >= 6); ct2 float32: {f32 / harness:.2f}")
        print(f"  ct2 int8 / transformers fp32 in each round: {', '.join(f'{x:.2f}' for x in per_round)}")
        figures["ct2_int8_over_transformers"] = round(i8 / harness, 2)
        figures["ct2_int8_over_transformers_per_round"] = [round(x, 2) for x in per_round]
    if not args.skip_cli:
        env = dict(os.environ, HF_HUB_OFFLINE="1", EVALHARNESS_CACHE_DIR=str(work / "cache"))
        overrides = []  # configs/default.yaml as shipped (beam 4, batch 8), the model and output length replaced
        for i in (0, 1):
            overrides += ["--set", f"systems.{i}.model={model_dir}",
                          "--set", f"systems.{i}.generation.max_new_tokens={args.max_new_tokens}",
                          "--set", f"systems.{i}.generation.device={args.device}"]
        run = ["run", "-c", "configs/default.yaml", *overrides, "-q"]
        cold, _ = cli([*run, "--run-dir", str(work / "cold")], env)
        cached = min(cli([*run, "--run-dir", str(work / f"cached{i}")], env)[0] for i in range(3))
        print(f"full benchmark run (configs/default.yaml, beam 4): cold {cold:.2f} s, cached rerun {cached:.2f} s "
              f"(best of 3) = {cold / cached:.1f}x "
              f"(target >= 50)")
        figures["run_cold_s"], figures["run_cached_s"] = round(cold, 2), round(cached, 2)
        figures["cached_speedup"] = round(cold / cached, 1)
        if not args.skip_ct2:
            ct2_run = ["run", "-c", "configs/default.yaml", *ct2_overrides(model_dir, args), "--no-cache", "-q"]
            cli([*ct2_run, "--run-dir", str(work / "ct2-warm")], env)  # converts once; not measured
            rss_kb = peak_rss_of([*ct2_run, "--run-dir", str(work / "ct2")], env)
            print(f"peak memory of a ct2 int8 run: {rss_kb / 1024:.0f} MB (target <= 1024 MB)")
            figures["ct2_int8_run_peak_rss_mb"] = round(rss_kb / 1024)
        helped = startup([sys.executable, "-m", "evalharness", "--help"])
        bare = startup([sys.executable, "-c", "pass"])
        print(f"evalharness --help {helped * 1000:.0f} ms vs python -c pass {bare * 1000:.0f} ms = "
              f"{helped / bare:.2f}x (target <= 3)")
        figures["help_ms"], figures["python_pass_ms"] = round(helped * 1000), round(bare * 1000)
        figures["help_over_pass"] = round(helped / bare, 2)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
