"""``baseline update``: a baseline file for 'check' from a run (or a run set: one file for all its test sets)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evalharness.commands.options import EXIT_OK, run_files, set_files


def register(sub: Any) -> None:
    """Add the command's parser to the CLI's sub-parsers."""
    baseline = sub.add_parser("baseline", help="write baseline files for 'check'")
    bsub = baseline.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)
    update = bsub.add_parser("update", help="write (or replace) a baseline from a run directory, atomically")
    update.add_argument("run_dir", type=Path, help="run directory")
    update.add_argument("-o", "--output", type=Path, required=True,
                        help="baseline file to write (a symbolic link is written through)")
    update.set_defaults(func=baseline_command)


def baseline_command(args: argparse.Namespace) -> int:
    """``baseline update``: the baseline of a run directory, or of a run set (one file for all its test sets)."""
    from evalharness.gate.check import gate_settings
    from evalharness.runs.files import write_baseline
    from evalharness.runs.multi import is_run_set, read_runs, write_baseline_set
    from evalharness.textio import check_outputs

    single = not is_run_set(args.run_dir)
    kind = b'"kind": "evalharness-baseline"' if single else b'"kind": "evalharness-baseline'  # or a baseline set
    check_outputs({"the baseline": args.output}, run_files(args.run_dir) if single else set_files(args.run_dir),
                  kinds={"the baseline": kind})
    runs, _ = read_runs(args.run_dir, role="baseline update's input")
    for name, run in runs:
        if run.gate is not None:  # the baseline carries the run's gate settings: they must be sound
            gate_settings(str(args.run_dir) if single else f"{args.run_dir / name}", run.gate)
    if single:
        write_baseline(runs[0][1], args.output)
        print(f"wrote baseline {args.output} from {args.run_dir}")
    else:
        write_baseline_set(runs, args.run_dir, args.output)
        print(f"wrote baseline {args.output} from {args.run_dir} ({len(runs)} test sets: "
              f"{', '.join(n for n, _ in runs)})")
    return EXIT_OK
