"""``metrics setup comet``: the environment a metric runs in, when it needs more than evalharness's own."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from evalharness.commands.options import EXIT_OK


def register(sub: Any) -> None:
    """Add the command's parser to the CLI's sub-parsers."""
    metrics = sub.add_parser("metrics", help="set up metrics that need more than evalharness's own environment")
    msub = metrics.add_subparsers(dest="metrics_command", metavar="ACTION", required=True)
    setup = msub.add_parser(
        "setup", help="create the environment a metric runs in (comet: a virtualenv with unbabel-comet)",
        description="COMET (unbabel-comet 2.2.7) needs transformers<5 and numpy<2, so it cannot share evalharness's "
                    "environment: this creates a virtualenv of its own, installs torch, then unbabel-comet with "
                    "pinned versions, and checks it. Runs and 'score' find it there (or wherever "
                    "$EVALHARNESS_COMET_PYTHON or the config's comet.python points).")
    setup.add_argument("metric", choices=["comet"], help="the metric to set up")
    setup.add_argument("--venv", type=Path, metavar="DIR",
                       help="where to create it (default: <user cache dir>/comet-env, e.g. ~/.cache/evalharness/"
                            "comet-env); point $EVALHARNESS_COMET_PYTHON at DIR to use another place")
    setup.add_argument("--python", metavar="PY", help="the Python that makes the virtualenv (default: this one; "
                                                      "3.10-3.12: numpy<2 has no wheels for 3.13)")
    setup.add_argument("--torch", default="torch==2.13.0", metavar="SPEC",
                       help="torch to install (default %(default)s)")
    setup.add_argument("--torch-index", metavar="URL",
                       help="where pip takes torch from, e.g. https://download.pytorch.org/whl/cpu for CPU torch "
                            "(~200 MB instead of ~3 GB of CUDA wheels); default: pip's own index")
    setup.set_defaults(func=setup_command)


def setup_command(args: argparse.Namespace) -> int:
    from evalharness.scoring.comet.env import setup

    result = setup(args.venv, python=args.python, torch=args.torch, torch_index=args.torch_index,
                   notify=lambda msg: print(f"evalharness: {msg}", file=sys.stderr))
    info = result.info
    print(f"COMET environment ready in {result.seconds['total']:.1f} s: {result.venv} (unbabel-comet {info.comet}, "
          f"torch {info.torch}, transformers {info.transformers}, numpy {info.numpy})")
    print(f"its Python: {info.python}")
    return EXIT_OK
