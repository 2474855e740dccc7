"""``demo``: a random-weight tiny model through the whole pipeline and its HTML report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from evalharness.commands.options import EXIT_OK, QUIET_HELP, notifier, progress_bars


def register(sub: Any) -> None:
    """Add the command's parser to the CLI's sub-parsers."""
    demo = sub.add_parser(
        "demo", help="a random-weight tiny model through the whole pipeline and its HTML report, in seconds",
        description="Build a random-weight Marian model (once), run the shipped 'demo' config on it (beam 1, 48 "
                    "tokens, and a copy-the-source floor) and write the HTML report. The scores are noise; the "
                    "point is to see the pipeline, the flags and the report without downloading a model.")
    demo.add_argument("--dir", type=Path, default=Path("evalharness-demo"),
                      help="folder for the model and the run (default: %(default)s, in the current directory)")
    demo.add_argument("--quiet", "-q", action="store_true", help=QUIET_HELP.format(what="only the report's path"))
    demo.set_defaults(func=demo_command)


def demo_command(args: argparse.Namespace) -> int:
    """Build the tiny model (once), run the demo config on it, write the report."""
    from evalharness.paths import resolve_config_path
    from evalharness.render.html import write_report
    from evalharness.render.summary import render_summary
    from evalharness.render.terminal import print_results
    from evalharness.runs.config import load_config
    from evalharness.runs.pipeline import run
    from evalharness.tiny_model import build_marian

    model = args.dir / "tiny-marian"
    if not (model / "config.json").is_file():
        if not args.quiet:
            print(f"building a random-weight tiny Marian model in {model} (once) …", file=sys.stderr)
        build_marian(model)
    config_path = resolve_config_path(Path("demo"))
    config = load_config(config_path, [f"systems.0.model={model.resolve()}"])
    output = run(config, summarize=render_summary, config_path=config_path, run_dir=args.dir / "run",
                 overwrite=True, progress=progress_bars(args.quiet), notify=notifier(args.quiet), protect=[model])
    run_dir, results = output.run_dir, output.members[0][1].results  # the demo config runs one corpus
    report = run_dir / "report.html"
    write_report([run_dir], report)
    if args.quiet:
        print(report)
        return EXIT_OK
    print_results(results)
    print(f"wrote {run_dir} and the report {report} (open it in a browser)")
    return EXIT_OK
