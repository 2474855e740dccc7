"""``run``: translate a config's test set(s) with its systems, score, and write the run."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalharness.commands.options import CONFIG_HELP, EXIT_OK, add_run_options, add_where, load_run_config, run_config

if TYPE_CHECKING:
    from evalharness.runs.pipeline import RunSetOutput



def register(sub: Any) -> None:
    """Add the command's parser to the CLI's sub-parsers."""
    run = sub.add_parser(
        "run", help="translate the corpus with the configured systems and score it",
        description="Translate the corpus in every configured direction, score every segment and the corpus, "
                    "and write results.json, segments.jsonl and summary.md to a new run directory. "
                    "Settings: built-in defaults < the YAML file < --set overrides.",
    )
    run.add_argument("--config", "-c", type=Path, required=True, help=CONFIG_HELP)
    add_run_options(run, dest="run_dir", what="write the run here", quiet="only the run directory")
    add_where(run)
    run.add_argument("--html", action="store_true", help="also write report.html (see 'report') in the run directory")
    run.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Run the config (one test set, or a run set of several) and print what it found."""
    config_path, config = load_run_config(args, [f"where={json.dumps(args.where)}"] if args.where else [])
    output = run_config(args, config_path, config, args.run_dir)
    if args.html:
        from evalharness.render.html import write_report

        for _, member in output.members:
            write_report([member.run_dir], member.run_dir / "report.html")
    if args.record:  # the results history: every test set of the run, with its commit
        from evalharness.commands.history import record_run

        print(record_run(args, output.run_dir, config.history), file=sys.stderr)
    if args.format == "json":
        print(json.dumps(_as_json(output), ensure_ascii=False, indent=2))
    elif args.quiet:
        print(output.run_dir)  # for CI logs and scripts: the run directory alone
    else:
        _print_output(output, html=args.html)
    return EXIT_OK


def _as_json(output: RunSetOutput) -> dict[str, Any]:
    """``run --format json``: the run directory and its results (a run set's: per test set)."""
    if output.single:
        return {"run_dir": str(output.run_dir), **output.members[0][1].results.model_dump(mode="json")}
    return {"run_dir": str(output.run_dir), "test_sets": {
        name: {"run_dir": str(m.run_dir), **m.results.model_dump(mode="json")} for name, m in output.members}}


def _print_output(output: RunSetOutput, *, html: bool) -> None:
    """The score tables (a run set's under each test set's name), then where the run is."""
    from evalharness.render.terminal import print_results

    if output.single:
        print_results(output.members[0][1].results)
        report = f" and the report {output.run_dir / 'report.html'} (open it in a browser)" if html else ""
        print(f"wrote {output.run_dir}{report}")
        return
    for name, member in output.members:
        print(f"== test set {name} ({member.run_dir}) ==")
        print_results(member.results)
    print(f"wrote {output.run_dir}" + (" and report.html in each test set's folder" if html else ""))
