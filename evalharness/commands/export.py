"""``export esa``: a run's chosen segments as an ESA campaign for human annotators (Pearmut, Appraise)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evalharness.commands.options import EXIT_OK


def register(sub: Any) -> None:
    """Add the command's parser to the CLI's sub-parsers."""
    parser = sub.add_parser("export", help="hand a run's segments to human evaluation (export esa RUN -o FILE)")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    esa = kinds.add_parser(
        "esa", help="an ESA (Error Span Annotation) campaign: Pearmut JSON, or Appraise batches",
        description="Write segments of a run as an ESA campaign: a Pearmut campaign (protocol ESA; error spans "
                    "prefilled from xCOMET where the run has them), or with --format appraise Appraise ESA batches "
                    "(one a direction). Every segment by default; --worst N the N worst by a metric; --regressed "
                    "BASELINE the segments 'check' lists as broken against BASELINE.")
    esa.add_argument("run", type=Path, metavar="RUN_DIR")
    choose = esa.add_mutually_exclusive_group()
    choose.add_argument("--worst", type=int, metavar="N", help="the N worst segments (over every system × direction)")
    choose.add_argument("--regressed", type=Path, metavar="BASELINE",
                        help="the segments that broke against this baseline file or run")
    esa.add_argument("--by", metavar="METRIC",
                     help="the metric --worst ranks by (default: xcomet, comet, cometkiwi, chrf or bleu, the first "
                          "the run has)")
    esa.add_argument("--format", choices=["pearmut", "appraise"], default="pearmut")
    esa.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    esa.set_defaults(func=export_esa_command)


def export_esa_command(args: argparse.Namespace) -> int:
    from evalharness.human.esa import export_esa

    n = export_esa(args.run, args.output, worst_n=args.worst, baseline=args.regressed, by=args.by, fmt=args.format)
    print(f"{args.output}: {n} segment(s) as an ESA campaign ({args.format})")
    return EXIT_OK
