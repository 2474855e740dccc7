"""Calibration of the regression gate on real systems' outputs: false alarms of whole checks, and detection.

Prints figures and asserts nothing. A *check* is what ``evalharness check`` decides for one system in one
direction, with the default gate: one one-sided permutation test (``maxt``, 10,000 trials) over the metric rows
(BLEU, chrF, chrF++, TER; tolerance 1 point, α = 0.05) and the flag-rate rows (a breakage flag either side
raises), plus the segment rule (a single segment that newly raises a breakage flag the baseline never raises, or
whose chrF collapses; sets of at most 200 segments). A check fails when any part does. Each trial runs the
library's own functions (``max_statistic_test``, ``broken_segments``, ``gate_flags``); ``--cli-checks N`` also
sends N trials through ``evalharness run`` + ``check`` and reports whether the verdicts agree.

Input: ``--systems DIR`` holds real systems' outputs on a named test set (``--testset``, default
flores200-devtest, fetched and verified by evalharness): ``DIR/ms-en/NAME.txt`` and ``DIR/en-ms/NAME.txt``, one
line per segment. Public outputs on FLORES-200 devtest (zsm↔eng) are in the OPUS-MT leaderboard repository
(``models/<package>/<release>/flores200-devtest.zsm-eng.output``); keep them out of this repository.

Designs, per direction:

- **equal quality, mixed** (exchangeable): each trial, A and B are independent per-segment 50/50 mixes of two real
  systems (each pair within ``--near`` BLEU of each other); on the full set and on random subsets of
  ``--sizes`` segments (a new subset every trial). Every failing check is a false alarm.
- **equal quality, fixed pair**: A is one system and B the other (both ways round), on random subsets.
- **perturbed references** (the earlier design, for comparison): A and B are independent perturbations of the
  references (10 % of words dropped, 8 % of neighbours swapped), on random subsets. Real systems merge sentences
  and lean towards close languages as perturbations never do.
- **realistic regressions** (detection): A is the best system, B the same with k % of its segments (chosen at
  random each trial) taken from the best system at least ``--worse-by`` BLEU below it.

Each rate comes with its 95 % Wilson interval.

    python benchmarks/gate_calibration.py --systems /tmp/realsys              # full run (~18 min on 2 cores)
    python benchmarks/gate_calibration.py --systems /tmp/realsys --quick      # fewer trials (~6 min)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Many small matrix products: OpenBLAS threads cost more than they save on 2 cores; trials run in processes.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from evalharness.corpus import load_corpus  # noqa: E402  (after the path set-up above)
from evalharness.gate.segments import FlagRate, broken_segments, gate_flags  # noqa: E402
from evalharness.runs.config import Gate, SegmentRule  # noqa: E402
from evalharness.scoring.defaults import DEFAULT_AR_TRIALS  # noqa: E402
from evalharness.scoring.flags import FlagSettings  # noqa: E402
from evalharness.scoring.metrics import Metric, get_metrics  # noqa: E402
from evalharness.scoring.scorer import score_metrics  # noqa: E402
from evalharness.scoring.significance import FamilyRow, max_statistic_test  # noqa: E402

METRIC_NAMES = ("bleu", "chrf", "chrf++", "ter")
DIRECTIONS = ("ms-en", "en-ms")
KS = (5, 10, 20, 50, 100)  # % of B's segments taken from the weaker system
DROP, SWAP = 0.10, 0.08  # the perturbation design: share of words dropped, of neighbours swapped
SIM_SEED = 20261202  # the simulation's own seed (which segments, which mix); the gate keeps its own seed


# --------------------------------------------------------------------------- per-system data, extracted once


@dataclass
class SystemData:
    """One system's outputs in one direction, with what every check needs of them per segment."""

    name: str
    hypotheses: list[str]
    stats: dict[str, np.ndarray]  # metric → segments × statistics
    chrf: np.ndarray  # segment chrF (the segment rule's metric)
    flags: list[dict[str, Any]]  # breakage flags (name → value), judged as the gate judges them
    bleu: float = 0.0


@dataclass
class Direction:
    """A direction of the test set: sources, references and every system's data."""

    name: str
    sources: list[str]
    references: list[str]
    words: np.ndarray  # reference words per segment
    systems: dict[str, SystemData] = field(default_factory=dict)


def _metrics() -> list[Metric]:
    return get_metrics(list(METRIC_NAMES))


def system_data(name: str, hyps: list[str], direction: Direction, rule: SegmentRule,
                settings: FlagSettings) -> SystemData:
    """Statistics of every metric, segment chrF and breakage flags of one system's outputs."""
    metrics = _metrics()
    scored = score_metrics(metrics, hyps, direction.references, segment_scores=True)
    stats = {m.name: np.asarray(s.stats, dtype="float64") for m, s in zip(metrics, scored, strict=True)}
    chrf = np.asarray(scored[METRIC_NAMES.index("chrf")].scores, dtype="float64")
    flags = gate_flags(direction.sources, direction.references, hyps, direction.name, rule, settings, None)
    bleu = metrics[0].score_from_stats(stats["bleu"])
    return SystemData(name, hyps, stats, chrf, flags, bleu)


def load_direction(testset: str, direction: str, folder: Path, rule: SegmentRule,
                   settings: FlagSettings) -> Direction:
    """The test set's texts for ``direction`` and every system in ``folder`` (NAME.txt, one line a segment)."""
    corpus = load_corpus(testset)
    src, tgt = direction.split("-")
    segments = corpus.segments("paragraph")
    d = Direction(direction, [s.texts[src] for s in segments], [s.texts[tgt] for s in segments],
                  np.array([len(s.texts[tgt].split()) for s in segments]))
    for path in sorted(folder.glob("*.txt")):
        hyps = path.read_text(encoding="utf-8").split("\n")
        if hyps and hyps[-1] == "":
            hyps.pop()
        if len(hyps) != len(d.references):
            raise SystemExit(f"{path}: {len(hyps)} lines, the test set has {len(d.references)}")
        d.systems[path.stem] = system_data(path.stem, hyps, d, rule, settings)
    return d


def perturb(text: str, rng: np.random.Generator) -> str:
    """Drop each word with probability DROP, then swap each neighbour pair with probability SWAP."""
    words = [w for w in text.split() if rng.random() >= DROP]
    i = 0
    while i < len(words) - 1:
        if rng.random() < SWAP:
            words[i], words[i + 1] = words[i + 1], words[i]
            i += 2
        else:
            i += 1
    return " ".join(words)


def perturbed_systems(d: Direction, count: int, rule: SegmentRule, settings: FlagSettings) -> list[SystemData]:
    """``count`` perturbations of the references, each a pseudo-system."""
    rng = np.random.default_rng([SIM_SEED, DIRECTIONS.index(d.name), 7])
    return [system_data(f"perturbed-{k}", [perturb(r, rng) for r in d.references], d, rule, settings)
            for k in range(count)]


# --------------------------------------------------------------------------- one check, as the gate decides it


@dataclass(frozen=True)
class Side:
    """What one side of a check holds for the chosen segments."""

    stats: dict[str, np.ndarray]
    chrf: np.ndarray
    flags: list[dict[str, Any]]


def side(systems: Sequence[SystemData], choice: np.ndarray, idx: np.ndarray) -> Side:
    """Segments ``idx``, each taken from ``systems[choice[j]]``."""
    stats = {m: np.stack([systems[c].stats[m][i] for c, i in zip(choice, idx, strict=True)]) for m in METRIC_NAMES}
    chrf = np.array([systems[c].chrf[i] for c, i in zip(choice, idx, strict=True)])
    flags = [systems[c].flags[i] for c, i in zip(choice, idx, strict=True)]
    return Side(stats, chrf, flags)


@dataclass(frozen=True)
class Outcome:
    """Which parts of the gate failed a check."""

    metric_rows: bool
    flag_rows: bool
    segments: bool

    @property
    def failed(self) -> bool:
        """The check's verdict."""
        return self.metric_rows or self.flag_rows or self.segments


def decide(a: Side, b: Side, words: np.ndarray, gate: Gate, metrics: list[Metric], trials: int) -> Outcome:
    """The default gate's verdict on B against A (one system × direction)."""
    rows = [FamilyRow(0, m, a.stats[m.name], b.stats[m.name]) for m in metrics]
    flagged = [f for f in gate.segments.flags if any(f in s for s in (*a.flags, *b.flags))]
    rows += [FamilyRow(0, FlagRate(f), FlagRate.stats(a.flags, f), FlagRate.stats(b.flags, f)) for f in flagged]
    tolerances = [gate.rule("", row.metric.name)[0] for row in rows]
    family = max_statistic_test(rows, trials=trials, seed=gate.seed, one_sided=True, tolerances=tolerances)
    failed = []
    for i, row in enumerate(rows):
        tolerance, alpha = gate.rule("", row.metric.name)
        worse_by = -family.deltas[i] if row.metric.higher_is_better else family.deltas[i]
        failed.append(worse_by > tolerance and family.family_p_values[i] < alpha)
    segments = False
    rule = gate.segments
    if rule.enabled and (not rule.max_segments or len(words) <= rule.max_segments):
        habit = {f for f in rule.flags if sum(f in s for s in a.flags) > rule.habit}
        gated = rule.model_copy(update={"flags": [f for f in rule.flags if f not in habit]})
        broken = broken_segments(a.flags, b.flags, a.chrf, b.chrf, list(words), gated)
        segments = len(broken) > rule.allowed
    return Outcome(any(failed[: len(metrics)]), any(failed[len(metrics):]), segments)


# --------------------------------------------------------------------------- designs


@dataclass(frozen=True)
class Design:
    """One row of the output: how A and B are drawn, on how many segments, how many times."""

    direction: str
    kind: str  # "mix", "fixed", "perturbed", "regression"
    label: str
    size: int  # segments per check (the full set, or a random subset)
    trials: int
    systems: tuple[str, ...]  # mix/fixed: (X, Y); regression: (best, weaker)
    k: int = 0  # regression: % of segments from the weaker system


_STATE: dict[str, Any] = {}


def _init(data: dict[str, Direction], perturbed: dict[str, list[SystemData]], trials: int) -> None:
    _STATE.update(data=data, perturbed=perturbed, trials=trials, gate=Gate(), metrics=_metrics())


def run_design(job: tuple[Design, int]) -> tuple[Design, list[Outcome]]:
    """Every trial of one design (in a worker process), with its own seed."""
    design, number = job
    d: Direction = _STATE["data"][design.direction]
    n_all = len(d.references)
    rng = np.random.default_rng([SIM_SEED, number])
    out = []
    for _ in range(design.trials):
        idx = np.arange(n_all) if design.size >= n_all else np.sort(rng.choice(n_all, design.size, replace=False))
        n = len(idx)
        if design.kind == "perturbed":
            pool = _STATE["perturbed"][design.direction]
            pick = rng.choice(len(pool), size=(2, n))
            same = pick[0] == pick[1]
            pick[1][same] = (pick[1][same] + 1) % len(pool)
            a, b = side(pool, pick[0], idx), side(pool, pick[1], idx)
        else:
            systems = [d.systems[s] for s in design.systems]
            if design.kind == "mix":
                a = side(systems, rng.integers(2, size=n), idx)
                b = side(systems, rng.integers(2, size=n), idx)
            elif design.kind == "fixed":
                a, b = side(systems, np.zeros(n, int), idx), side(systems, np.ones(n, int), idx)
            else:  # regression: B is A with k % of its segments (at least one) from the weaker system
                worse = np.zeros(n, int)
                worse[rng.choice(n, max(1, round(n * design.k / 100)), replace=False)] = 1
                a, b = side(systems, np.zeros(n, int), idx), side(systems, worse, idx)
        out.append(decide(a, b, d.words[idx], _STATE["gate"], _STATE["metrics"], _STATE["trials"]))
    return design, out


def designs(data: dict[str, Direction], sizes: Sequence[int], full_trials: int, subset_trials: int, near: float,
            worse_by: float) -> list[Design]:
    """Every design, per direction."""
    out = []
    for name, d in data.items():
        ranked = sorted(d.systems.values(), key=lambda s: -s.bleu)
        n = len(d.references)
        pairs = [(x, y) for i, x in enumerate(ranked) for y in ranked[i + 1:] if x.bleu - y.bleu <= near]
        for x, y in pairs:
            tag = f"{x.name} ({x.bleu:.1f}) / {y.name} ({y.bleu:.1f})"
            out.append(Design(name, "mix", f"mix {tag}", n, full_trials, (x.name, y.name)))
            out += [Design(name, "mix", f"mix {tag}", s, subset_trials, (x.name, y.name)) for s in sizes]
            for a, b in ((x, y), (y, x)):
                out += [Design(name, "fixed", f"fixed {a.name} → {b.name}", s, subset_trials, (a.name, b.name))
                        for s in sizes]
        out += [Design(name, "perturbed", "perturbed references", s, subset_trials, ()) for s in sizes]
        best = ranked[0]
        weaker = next((s for s in ranked[1:] if best.bleu - s.bleu >= worse_by), None)
        if weaker is not None:
            tag = f"{best.name} ({best.bleu:.1f}) ← {weaker.name} ({weaker.bleu:.1f})"
            for k in KS:
                out.append(Design(name, "regression", f"k={k:3d}% {tag}", n, full_trials, (best.name, weaker.name), k))
                out += [Design(name, "regression", f"k={k:3d}% {tag}", s, subset_trials, (best.name, weaker.name), k)
                        for s in sizes]
    return out


# --------------------------------------------------------------------------- the real CLI, for a few trials


def cli_agreement(data: dict[str, Direction], testset: str, count: int) -> tuple[int, int]:
    """Run ``count`` mixed equal-quality checks and ``count`` regressions (20 % of segments from the second
    system) through the real CLI (files systems; every other one on a 29-segment subset, as a two-file corpus), and
    count how many verdicts equal :func:`decide`'s on the same outputs."""
    agree = 0
    gate, metrics = Gate(), _metrics()
    rng = np.random.default_rng([SIM_SEED, 99])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for t in range(count * 2):
            d = data[DIRECTIONS[t % len(DIRECTIONS)]]
            systems = sorted(d.systems.values(), key=lambda s: -s.bleu)[:2]
            n_all = len(d.references)
            idx = np.arange(n_all) if (t // 2) % 2 == 0 else np.sort(rng.choice(n_all, 29, replace=False))
            n = len(idx)
            ca = rng.integers(2, size=n) if t < count else np.zeros(n, int)
            cb = rng.integers(2, size=n) if t < count else (rng.random(n) < 0.2).astype(int)
            expected = decide(side(systems, ca, idx), side(systems, cb, idx), d.words[idx], gate, metrics,
                              DEFAULT_AR_TRIALS).failed
            corpus = testset
            if n < n_all:
                src, tgt = d.name.split("-")
                for lang, texts in ((src, d.sources), (tgt, d.references)):
                    (root / f"{t}.{lang}").write_text("".join(texts[i] + "\n" for i in idx), "utf-8")
                corpus = f"{{ms: {root / f'{t}.ms'}, en: {root / f'{t}.en'}}}"
            paths = []
            for name, choice in (("a", ca), ("b", cb)):
                hyp = root / f"{t}-{name}.txt"
                hyp.write_text("".join(systems[c].hypotheses[i] + "\n" for i, c in zip(idx, choice, strict=True)),
                               "utf-8")
                config = root / f"{t}-{name}.yaml"
                config.write_text(f"corpus: {corpus}\ndirections: [{d.name}]\nmetrics: [{', '.join(METRIC_NAMES)}]\n"
                                  "systems:\n  - name: mt\n    backend: files\n    hypotheses:\n"
                                  f"      {d.name}: {hyp}\n"
                                  "statistics: {resamples: 100}\ncache: {enabled: false}\n", "utf-8")
                run_dir = root / f"{t}-{name}-run"
                done = subprocess.run([sys.executable, "-m", "evalharness", "run", "-c", str(config), "--run-dir",
                                       str(run_dir), "-q"], capture_output=True, text=True)
                if done.returncode:
                    raise SystemExit(f"evalharness run failed: {done.stderr.strip()}")
                paths.append(run_dir)
            baseline = root / f"{t}-base.json"
            subprocess.run([sys.executable, "-m", "evalharness", "baseline", "update", str(paths[0]), "-o",
                            str(baseline)], check=True, capture_output=True)
            code = subprocess.run([sys.executable, "-m", "evalharness", "check", "--baseline", str(baseline),
                                   str(paths[1]), "-q"], capture_output=True).returncode
            same = (code == 1) == expected and code in (0, 1)
            agree += same
            print(f"  CLI check {t + 1}: {d.name}, {n} segments, {'regression' if t >= count else 'equal quality'}: "
                  f"exit {code}, library says {'fail' if expected else 'pass'}{'' if same else '  <-- differs'}")
    return agree, count * 2


# --------------------------------------------------------------------------- output


def wilson(hits: int, n: int) -> tuple[float, float]:
    """95 % Wilson interval of a rate."""
    if n == 0:
        return 0.0, 1.0
    z, p = 1.959964, hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(outcomes: Sequence[Outcome], part: str = "failed") -> str:
    """``4.2 % [3.1, 5.6]``."""
    hits = sum(bool(getattr(o, part)) for o in outcomes)
    low, high = wilson(hits, len(outcomes))
    return f"{100 * hits / len(outcomes):5.1f} % [{100 * low:4.1f}, {100 * high:4.1f}]"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, run every design, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--systems", type=Path, required=True, help="DIR/ms-en/NAME.txt, DIR/en-ms/NAME.txt")
    parser.add_argument("--testset", default="flores200-devtest")
    parser.add_argument("--sizes", default="29,37", help="subset sizes (the article: 29 paragraphs, 37 sentences)")
    parser.add_argument("--full-trials", type=int, default=300)
    parser.add_argument("--subset-trials", type=int, default=1000)
    parser.add_argument("--near", type=float, default=2.0, help="BLEU apart at most for an equal-quality pair")
    parser.add_argument("--worse-by", type=float, default=1.0, help="BLEU below the best, at least, for regressions")
    parser.add_argument("--perturbations", type=int, default=12, help="perturbed-reference pseudo-systems")
    parser.add_argument("--permutations", type=int, default=DEFAULT_AR_TRIALS, help="the gate's maxt trials")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cli-checks", type=int, default=0, help="also run N+N checks through the real CLI")
    parser.add_argument("--quick", action="store_true", help="60 full-set and 200 subset trials")
    parser.add_argument("--cli-only", action="store_true", help="only the --cli-checks, no designs")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args(argv)
    if args.quick:
        args.full_trials, args.subset_trials = 60, 200
    sizes = [int(s) for s in args.sizes.split(",") if s]
    rule, settings = SegmentRule(), FlagSettings()
    start = time.time()
    data, perturbed = {}, {}
    for direction in DIRECTIONS:
        folder = args.systems / direction
        if folder.is_dir() and any(folder.glob("*.txt")):
            data[direction] = load_direction(args.testset, direction, folder, rule, settings)
            perturbed[direction] = perturbed_systems(data[direction], args.perturbations, rule, settings)
    if not data:
        raise SystemExit(f"{args.systems}: no ms-en/*.txt or en-ms/*.txt")
    print(f"test set {args.testset}; systems read and scored in {time.time() - start:.0f} s")
    for name, d in data.items():
        for s in sorted(d.systems.values(), key=lambda s: -s.bleu):
            counts = {f: sum(f in x for x in s.flags) for f in rule.flags if any(f in x for x in s.flags)}
            print(f"  {name} {s.name:34s} BLEU {s.bleu:5.2f}  breakage flags: {counts or 'none'}")
    todo = [] if args.cli_only else designs(data, sizes, args.full_trials, args.subset_trials, args.near,
                                            args.worse_by)
    results: dict[Design, list[Outcome]] = {}
    with ProcessPoolExecutor(max_workers=args.jobs, initializer=_init,
                             initargs=(data, perturbed, args.permutations)) as pool:
        for design, outcomes in pool.map(run_design, [(d, i) for i, d in enumerate(todo)]):
            results[design] = outcomes
    print(f"\n{len(todo)} designs, {sum(len(o) for o in results.values()):,} checks in {time.time() - start:.0f} s; "
          f"gate: maxt one-sided, {args.permutations:,} trials, α 0.05, tolerance 1 point, segment rule ≤ "
          f"{rule.max_segments} segments\n")
    header = f"{'direction':9s} {'design':62s} {'segs':>5s} {'trials':>6s}  {'whole check fails':24s} " \
             f"{'metric rows':24s} {'flag rows':24s} {'segment rule':24s}"
    for title, kinds in (("Equal quality: every failure is a false alarm", ("mix", "fixed", "perturbed")),
                         ("Realistic regressions: detection", ("regression",))):
        print(title)
        print(header)
        for design, outcomes in results.items():
            if design.kind in kinds:
                print(f"{design.direction:9s} {design.label:62s} {design.size:5d} {len(outcomes):6d}  "
                      f"{rate(outcomes):24s} {rate(outcomes, 'metric_rows'):24s} {rate(outcomes, 'flag_rows'):24s} "
                      f"{rate(outcomes, 'segments'):24s}")
        print()
    if args.cli_checks:
        agree, total = cli_agreement(data, args.testset, args.cli_checks)
        print(f"through the real CLI (evalharness run + check, files systems): {agree} of {total} verdicts equal")
    if args.json:
        args.json.write_text(json.dumps([{**{k: v for k, v in d.__dict__.items()},
                                          "outcomes": [o.__dict__ for o in results[d]]} for d in results],
                                        indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
