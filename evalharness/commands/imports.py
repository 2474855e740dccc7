"""``import mqm``: human MQM annotations (Marot TSV) added to a run as the ``mqm`` metric."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evalharness.commands.options import EXIT_OK


def register(sub: Any) -> None:
    """Add the command's parser to the CLI's sub-parsers."""
    parser = sub.add_parser("import", help="read human annotations back into a run (import mqm FILE.tsv --run RUN)")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    mqm = kinds.add_parser(
        "mqm", help="MQM annotations (Marot / MQM-Viewer TSV) as the run's 'mqm' metric",
        description="Read MQM annotations (Marot TSV: system, doc, docSegId, globalSegId, rater, source, target, "
                    "category, severity, metadata) and add each segment's MQM penalty to the run, as the metric "
                    "'mqm' (WMT weights: Major 5, Minor 1, Minor Fluency/Punctuation 0.1, Non-translation 25; summed "
                    "per rater, averaged over raters; lower is better). Rows find their segment by system, source "
                    "and target; every segment of the run must be annotated. 'compare' and 'check' then read MQM "
                    "like any metric.")
    mqm.add_argument("file", type=Path, metavar="FILE.tsv")
    mqm.add_argument("--run", type=Path, required=True, metavar="RUN_DIR", help="the run the annotations are of")
    mqm.add_argument("--replace", action="store_true",
                     help="replace MQM penalties imported before for the same source and output (one text has one "
                          "penalty, whichever run it is in)")
    mqm.set_defaults(func=import_mqm_command)


def import_mqm_command(args: argparse.Namespace) -> int:
    from evalharness.human.mqm import import_mqm

    done = import_mqm(args.file, args.run, replace=args.replace)
    print(f"{done.run}: MQM of {done.segments} segments added ({', '.join(f'{s} {d}' for s, d in done.pairs)})")
    return EXIT_OK
