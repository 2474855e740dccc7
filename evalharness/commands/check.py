"""``check``: gate a run (of one test set or several) against its baseline."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalharness.commands.options import (
    CONFIG_HELP,
    EXIT_OK,
    EXIT_PROBLEMS,
    add_run_options,
    load_run_config,
    run_config,
    run_files,
    set_files,
)

if TYPE_CHECKING:
    from evalharness.commands.history import CheckHook


def register(sub: Any) -> None:
    """Add the command's parser to the CLI's sub-parsers."""
    check = sub.add_parser(
        "check", help="gate a run against a committed baseline (exit 0 pass, 1 regression, 2 input error)",
        description="Compare a run (a run directory, or --config to run one first) with a baseline file. "
                    "A regression is a move in the bad direction larger than the metric's tolerance AND "
                    "significant at level alpha (config 'gate:' section, else the baseline's, else defaults: "
                    "each metric's default tolerance, 1.0 point, alpha 0.05, test maxt: one permutation test over "
                    "all rows of the check, family-wise).",
        epilog="Exit codes: 0 pass; 1 regression found; 2 usage or input error (including a baseline from another "
               "corpus version or with other metric signatures); 3 internal error (a worker died or broke its "
               "protocol), never read as a regression.")
    check.add_argument("--baseline", type=Path, required=True, help="baseline file (evalharness baseline update)")
    check.add_argument("run_dir", nargs="?", type=Path, help="run directory to check")
    check.add_argument("--config", "-c", type=Path, help=f"run this config first, then check its run ({CONFIG_HELP})")
    add_run_options(check, dest="new_run_dir", what="where --config writes its run",
                     quiet="only the failures and the verdict line")
    check.add_argument("--junit", type=Path, help="write a JUnit XML report here")
    check.add_argument("--summary-md", type=Path,
                       help="write a Markdown report here (also appended to $GITHUB_STEP_SUMMARY when set)")
    check.set_defaults(func=check_command)


RUN_OPTIONS = ("new_run_dir", "overwrite", "no_cache", "model", "device", "batch_size", "limit", "overrides",
               "executor", "ray_address")
"""The options that go with --config (they shape the run check makes first)."""


def check_command(args: argparse.Namespace) -> int:
    """Gate a run (a run directory, or --config run first) against a baseline: one test set, or a run set."""
    from evalharness.commands.history import CheckHook
    from evalharness.gate.check import check_run, precheck_members
    from evalharness.render.comparison import check_json, render_check, write_check_reports
    from evalharness.runs.multi import read_baselines, read_runs
    from evalharness.runs.pipeline import members

    _refuse_misplaced_options(args)
    hook = CheckHook(args)  # --baseline history:BRANCH, --pr-comment
    hook.check_options()
    loaded = load_run_config(args) if args.config is not None else None
    single = _same_shape(args, loaded[0] if loaded else None, loaded[1].corpora is None if loaded else None,
                         history=hook.from_history)
    parts = members(loaded[1]) if loaded else None
    _check_outputs(args, parts, loaded[0] if loaded else None, single=single, hook=hook)
    baselines = None
    if not hook.from_history:  # read it first: a bad baseline should not cost a translation run
        baselines, _ = read_baselines(args.baseline)
        _check_gate_settings(args.baseline, baselines, single=single)
    if loaded is not None and parts is not None:
        if baselines is not None:  # a baseline this run cannot match fails now
            precheck_members(baselines, parts, loaded[0], single=single)
        run_path = run_config(args, *loaded, args.new_run_dir, protect=hook.inputs()).run_dir
    else:
        run_path = args.run_dir
    runs, _ = read_runs(run_path, role="the checked run")
    if baselines is None:  # the history's latest matching run on the branch, chosen once the run is known
        baselines = [(runs[0][0], hook.baseline(runs[0][1], loaded[1].history if loaded is not None else None))]
    report = check_run(baselines, runs, baseline_path=args.baseline, run_path=run_path, single=single)
    write_check_reports(report, junit=args.junit, summary_md=args.summary_md)
    if single:
        hook.finish(report.reports[0][1], baselines[0][1])
    if args.format == "json":
        print(json.dumps(check_json(report), ensure_ascii=False, indent=2))
    else:
        print(render_check(report, quiet=args.quiet), end="")
    return EXIT_OK if report.passed else EXIT_PROBLEMS


def _refuse_misplaced_options(args: argparse.Namespace) -> None:
    """Either a RUN_DIR or --config; the run's options only with --config."""
    from evalharness.errors import InputError

    if (args.run_dir is None) == (args.config is None):
        raise InputError("check needs either a RUN_DIR or --config CONFIG (not both)")
    for option in RUN_OPTIONS:
        if args.config is None and getattr(args, option) not in (None, False, []):
            flag = {"new_run_dir": "run-dir", "overrides": "set"}.get(option, option.replace("_", "-"))
            raise InputError(f"--{flag} goes with --config (check runs a config first), not with a RUN_DIR")


def _same_shape(args: argparse.Namespace, config_path: Path | None, config_single: bool | None, *,
                history: bool = False) -> bool:
    """True for a check of one test set, False for a run set's; a baseline of the other shape is refused (a
    ``history:BRANCH`` baseline is one test set's run)."""
    from evalharness.errors import InputError
    from evalharness.runs.multi import is_baseline_set, is_run_set

    baseline_single = history or not is_baseline_set(args.baseline)
    run_single = config_single if config_single is not None else not is_run_set(args.run_dir)
    if baseline_single and not run_single:
        raise InputError(f"{args.baseline}: not a baseline of several test sets, and the run covers several: write "
                         "one from a run set with 'evalharness baseline update RUN_SET -o FILE'")
    if run_single and not baseline_single:
        if config_path is not None:
            raise InputError(f"{args.baseline} gates several test sets, and {config_path} runs one corpus: give the "
                             "config its 'corpora' list, or check against a baseline of one corpus")
        raise InputError(f"{args.run_dir}: not a run over several test sets (no runset.json), and {args.baseline} "
                         "gates several")
    return baseline_single


def _check_outputs(args: argparse.Namespace, parts: Any, config_path: Path | None, *, single: bool,
                   hook: CheckHook) -> None:
    """Refuse, before anything runs, a report file that is an input (the baseline, the run, what a run reads)."""
    from evalharness.errors import InputError
    from evalharness.runs.pipeline import member_inputs
    from evalharness.textio import check_outputs

    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    outputs = {"--junit": args.junit, "--summary-md": args.summary_md,
               "$GITHUB_STEP_SUMMARY": Path(step_summary) if step_summary else None, **hook.outputs()}
    inputs = hook.inputs()
    if parts is not None:  # everything the run will read, and the folder it will write, are inputs too
        inputs += [*member_inputs(parts, config_path), *([args.new_run_dir] if args.new_run_dir else [])]
    elif args.run_dir is not None:
        inputs += run_files(args.run_dir) if single else set_files(args.run_dir)
    check_outputs(outputs, inputs, kinds={"--junit": b"evalharness.check", "--summary-md": b"## evalharness check",
                                          "--pr-comment": b"<!-- evalharness-pr-comment -->"})
    if step_summary and not Path(step_summary).parent.is_dir():
        raise InputError(f"$GITHUB_STEP_SUMMARY {step_summary}: its folder does not exist")


def _check_gate_settings(path: Path, baselines: Any, *, single: bool) -> None:
    """A hand-edited baseline's gate settings (a NaN tolerance) fail now, not after the run."""
    from evalharness.gate.check import gate_settings

    for name, baseline in baselines:
        if baseline.gate is not None:
            gate_settings(str(path) if single else f"{path}[{name}]", baseline.gate)
