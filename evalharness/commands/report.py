"""``report``: a self-contained HTML report of one or more runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evalharness.commands.options import EXIT_OK, run_files


def register(sub: Any) -> None:
    """Add the command's parser to the CLI's sub-parsers."""
    report = sub.add_parser(
        "report", help="write a self-contained HTML report of one or more runs",
        description="One HTML file (no network, opens from disk): score table with confidence intervals and, for "
                    "several runs, deltas and significance against the first; charts; a sortable, filterable, "
                    "paged table of every segment with word differences; the run manifests.")
    report.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="run directories (the first is A)")
    report.add_argument("-o", "--output", type=Path, required=True, help="HTML file to write")
    report.set_defaults(func=report_command)


def report_command(args: argparse.Namespace) -> int:
    from evalharness.render.html import write_report
    from evalharness.textio import check_outputs

    check_outputs({"the report": args.output}, [f for run in args.run_dirs for f in run_files(run)],
                  kinds={"the report": b"<!doctype html"})
    write_report(args.run_dirs, args.output)
    print(f"wrote {args.output}")
    return EXIT_OK
