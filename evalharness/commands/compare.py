"""``compare``: a paired comparison of two runs (or two systems of one run)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from evalharness.commands.options import EXIT_OK, add_where, metric_names
from evalharness.scoring.defaults import DEFAULT_AR_TRIALS, DEFAULT_RESAMPLES, DEFAULT_SEED


def register(sub: Any) -> None:
    """Add the command's parser to the CLI's sub-parsers."""
    compare = sub.add_parser(
        "compare", help="paired comparison of two runs: deltas, confidence intervals, p-values, verdicts",
        description="Compare run B with run A on the same segments, per system × direction × metric "
                    "(systems matched by name). The verdict honours each metric's direction (TER: lower is better).")
    compare.add_argument("run_a", type=Path, help="run directory, results.json or baseline file (A, the reference)")
    compare.add_argument("run_b", type=Path, nargs="?",
                         help="run directory or results.json (B); not a baseline. Leave it out to compare two "
                              "systems of RUN_A (--system-a, --system-b)")
    compare.add_argument("--system-a", metavar="NAME", help="compare this system of A …")
    compare.add_argument("--system-b", metavar="NAME", help="… with this system of B (default: names must match)")
    _add_test_options(compare)
    compare.add_argument("--metrics", help="comma-separated subset of metrics (default: all in A)")
    compare.add_argument("--format", choices=["text", "json", "md"], default="text")
    add_where(compare)
    compare.set_defaults(func=compare_command)


def _add_test_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--test", choices=["bs", "ar"], default="bs",
                        help="paired bootstrap (bs, default) or approximate randomization (ar)")
    parser.add_argument("--samples", type=int,
                        help=f"resamples (bs, default {DEFAULT_RESAMPLES}) or trials (ar, default {DEFAULT_AR_TRIALS})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level (default %(default)s)")


def _check_test_options(args: argparse.Namespace) -> None:
    """Refuse settings that would silently change or disable the test: the same bounds as a config's gate."""
    from evalharness.errors import InputError
    from evalharness.runs.config import default_samples, smallest_p
    from evalharness.scoring.defaults import MAX_SAMPLES, MAX_SEED

    if not 0 < args.alpha < 1:  # NaN fails this too
        raise InputError(f"--alpha {args.alpha}: the significance level must be between 0 and 1, e.g. 0.05")
    if args.samples is not None and not 100 <= args.samples <= MAX_SAMPLES:
        raise InputError(f"--samples {args.samples}: give between 100 and {MAX_SAMPLES}")
    floor = smallest_p(args.test, args.samples)
    if args.alpha <= floor:
        raise InputError(f"--alpha {args.alpha} is at or below the smallest p-value {floor:.2g} that "
                         f"{args.samples or default_samples(args.test)} samples give: nothing could be significant; "
                         "raise --samples or --alpha")
    if not 0 <= args.seed <= MAX_SEED:
        raise InputError(f"--seed {args.seed}: give a seed between 0 and {MAX_SEED}")


def compare_command(args: argparse.Namespace) -> int:
    from evalharness.errors import InputError
    from evalharness.gate.compare import compare_runs
    from evalharness.render.comparison import mdd_note, render_table
    from evalharness.runs.files import read, read_run

    _check_test_options(args)
    metrics = metric_names(args.metrics, "--metrics") if args.metrics is not None else None
    if (args.system_a is None) != (args.system_b is None):
        raise InputError("give both --system-a NAME and --system-b NAME, or neither")
    if args.run_b is None and args.system_a is None:
        raise InputError("compare needs RUN_B, or --system-a and --system-b to compare two systems of RUN_A")
    b_path = args.run_b if args.run_b is not None else args.run_a
    a, b = read(args.run_a), read_run(b_path, role="B (the second argument of compare)")
    systems = (args.system_a, args.system_b) if args.system_a is not None else None
    rows = compare_runs(a, b, metrics=metrics, test=args.test, samples=args.samples, seed=args.seed,
                        alpha=args.alpha, where=args.where, systems=systems)
    if args.format == "json":
        print(json.dumps({"a": str(args.run_a), "b": str(b_path), "test": args.test, "seed": args.seed,
                          "alpha": args.alpha, "comparisons": [r.to_json() for r in rows]}, indent=2))
    else:
        print(render_table(rows, markdown=args.format == "md"))
        print()
        print(mdd_note(rows, args.alpha))
    return EXIT_OK
