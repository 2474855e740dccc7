"""``evalharness history record | list | show | plot | export | import``, and what the history adds to other
commands: ``run --record``, ``check --baseline history:BRANCH`` and ``check --pr-comment FILE``.

The options that ``run`` and ``check`` gain are added to their parsers here (``register`` finds them among the
sub-parsers), so the feature lives in one module; ``cli.py`` calls :func:`record_run` and :class:`CheckHook`.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalharness.gate.check import GateReport
    from evalharness.history.store import HistoryStore
    from evalharness.history.trend import BranchBaseline
    from evalharness.runs.schema import Baseline, Run

HISTORY_HELP = ("where the history is: a SQLite file, or postgresql://USER@HOST:PORT/DB (default: the config's "
                "history:, else $EVALHARNESS_HISTORY, else history.sqlite3 in the user cache folder)")


def _add_history_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--history", metavar="PATH_OR_URL", help=HISTORY_HELP)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--system", metavar="NAME", help="only runs with this system")
    parser.add_argument("--test-set", metavar="NAME", help="only runs on this test set (corpus name)")
    parser.add_argument("--branch", metavar="NAME", help="only runs recorded on this branch")
    parser.add_argument("--since", metavar="WHEN",
                        help="only runs started at or after this: a date (2026-01-31), an ISO time or an age (7d)")


def register(sub: Any) -> None:
    """Add ``history`` and its actions, and the history's options of ``run`` and ``check``."""
    history = sub.add_parser(
        "history", help="keep every run with its commit; trends, charts, export and import",
        description="The results history: runs recorded with their commit, branch and CI run, in a SQLite file "
                    "or PostgreSQL. 'check --baseline history:main' compares with the latest matching run on main.")
    hsub = history.add_subparsers(dest="history_command", metavar="ACTION", required=True)

    record = hsub.add_parser("record", help="record run directories (a run set: each test set) in the history")
    record.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    _add_history_option(record)
    record.add_argument("--branch", help="the branch to file it under (default: git's, else $GITHUB_HEAD_REF / "
                                         "$GITHUB_REF_NAME)")
    record.add_argument("--commit", help="the commit (default: git rev-parse HEAD, else $GITHUB_SHA)")
    record.set_defaults(func=_record_command)

    listing = hsub.add_parser("list", help="the recorded runs, oldest first")
    _add_history_option(listing)
    _add_filters(listing)
    listing.add_argument("--format", choices=["text", "json"], default="text")
    listing.set_defaults(func=_list_command)

    show = hsub.add_parser("show", help="a metric's trend: commit, date, score, interval, Δ and verdict")
    _add_history_option(show)
    show.add_argument("--metric", "-m", required=True, help="metric name: bleu, chrf, chrf++, ter, comet")
    show.add_argument("--direction", metavar="SRC-TGT", help="only this direction")
    _add_filters(show)
    show.add_argument("--alpha", type=float, default=0.05, help="significance level of each step's paired test")
    show.add_argument("--format", choices=["text", "md"], default="text")
    show.set_defaults(func=_show_command)

    plot = hsub.add_parser("plot", help="a self-contained HTML page of trend charts")
    _add_history_option(plot)
    plot.add_argument("-o", "--output", type=Path, required=True, help="HTML file to write")
    plot.add_argument("--metric", "-m", action="append", metavar="NAME", help="only these metrics (repeatable)")
    plot.add_argument("--direction", metavar="SRC-TGT", help="only this direction")
    _add_filters(plot)
    plot.set_defaults(func=_plot_command)

    export = hsub.add_parser("export", help="every run as JSON lines (to commit to a branch or move between stores)")
    _add_history_option(export)
    export.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(func=_export_command)

    imp = hsub.add_parser("import", help="add the runs of an export (runs already there are kept once)")
    _add_history_option(imp)
    imp.add_argument("file", type=Path, help="a file written by 'history export'")
    imp.set_defaults(func=_import_command)

    run = sub.choices.get("run")
    if run is not None:
        run.add_argument("--record", action="store_true", help="record the run in the history (see 'history')")
        _add_history_option(run)
    check = sub.choices.get("check")
    if check is not None:
        group = check.add_argument_group(
            "history", "--baseline history:BRANCH takes the latest run recorded on BRANCH whose test set, config "
                       "and signatures match this run's")
        group.add_argument("--history", metavar="PATH_OR_URL", help=HISTORY_HELP)
        group.add_argument("--baseline-max-age", default="3d", metavar="AGE",
                           help="warn when the history baseline is older than this (default %(default)s)")
        group.add_argument("--baseline-max-commits", type=int, default=20, metavar="N",
                           help="warn when the history baseline is more than N commits behind HEAD (default "
                                "%(default)s)")
        group.add_argument("--pr-comment", type=Path, metavar="FILE",
                           help="write Markdown for one sticky pull-request comment here")
        group.add_argument("--report-url", metavar="URL",
                           help="the HTML report's address for the PR comment (default: the GitHub Actions run)")


# --------------------------------------------------------------------------- helpers


def _open(args: argparse.Namespace, *, create: bool, configured: str | None = None) -> HistoryStore:
    from evalharness.history.store import HistoryStore, resolve_location

    return HistoryStore(resolve_location(args.history, configured), create=create)


def _since(text: str | None) -> datetime | None:
    """A date, an ISO time or an age (``7d``) as a UTC time."""
    if text is None:
        return None
    from evalharness.errors import InputError
    from evalharness.history.trend import parse_age

    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        try:
            return datetime.now(timezone.utc) - timedelta(seconds=parse_age(text))
        except InputError:
            raise InputError(f"--since {text!r}: give a date (2026-01-31), an ISO time or an age (7d, 12h)") from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def _runs_of(path: Path) -> list[Run]:
    """The run of a run directory, or each test set's of a run set."""
    from evalharness.runs.files import read_run
    from evalharness.runs.multi import is_run_set, read_run_set

    if is_run_set(path):
        return [run for _, run in read_run_set(path)]
    return [read_run(path, role="history record's input")]


def record_run(args: argparse.Namespace, run_dir: Path, configured: str | None) -> str:
    """``run --record``: record the run just written; returns the line to print."""
    from evalharness.history.provenance import detect

    runs = _runs_of(run_dir)
    provenance = detect()
    with _open(args, create=True, configured=configured) as store:
        added = [store.record(run, provenance)[1] for run in runs]
        return f"recorded {run_dir} in {store.label} ({sum(added)} new, {len(added) - sum(added)} already there)"


# --------------------------------------------------------------------------- the actions


def _record_command(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from evalharness.history.provenance import detect

    runs = [(path, run) for path in args.run_dirs for run in _runs_of(path)]  # every input read before writing
    provenance = detect()
    provenance = replace(provenance, **{k: v for k, v in (("branch", args.branch), ("commit", args.commit)) if v})
    with _open(args, create=True) as store:
        for path, run in runs:
            rid, added = store.record(run, provenance)
            where = f"{provenance.branch or 'no branch'} @ {(provenance.commit or 'no commit')[:10]}"
            print(f"{'recorded' if added else 'already recorded'} {path} ({run.manifest.corpus.name}) as "
                  f"{rid[:12]}, {where}, in {store.label}")
    return 0


def _list_command(args: argparse.Namespace) -> int:
    from evalharness.render.history import render_runs

    with _open(args, create=False) as store:
        rows = store.runs(system=args.system, test_set=args.test_set, branch=args.branch, since=_since(args.since))
    if args.format == "json":
        print(json.dumps([{**{k: v for k, v in r.__dict__.items() if k not in ("signatures", "references")},
                           "systems": list(r.systems), "directions": list(r.directions)} for r in rows],
                         ensure_ascii=False, indent=2))
    else:
        print(render_runs(rows), end="")
    return 0


def _show_command(args: argparse.Namespace) -> int:
    from evalharness.errors import InputError
    from evalharness.history.trend import series, trend
    from evalharness.render.history import render_trend
    from evalharness.scoring.metrics import METRICS

    if args.metric not in METRICS.names():
        raise InputError(f"--metric {args.metric!r}: not a metric; known: {', '.join(METRICS.names())}")
    if not 0 < args.alpha < 1:
        raise InputError(f"--alpha {args.alpha}: give a level between 0 and 1, e.g. 0.05")
    with _open(args, create=False) as store:
        rows = store.runs(system=args.system, test_set=args.test_set, branch=args.branch, since=_since(args.since))
        scores = [s for s in store.scores(rows, metric=args.metric)
                  if (args.system is None or s.system == args.system)
                  and (args.direction is None or s.direction == args.direction)]
        if not scores:
            raise InputError(f"history {store.label}: no {args.metric} score recorded for these filters")
        blocks = [render_trend(key, trend(store, points, alpha=args.alpha), markdown=args.format == "md")
                  for key, points in series(scores).items()]
    print("\n".join(blocks), end="")
    return 0


def _plot_command(args: argparse.Namespace) -> int:
    from evalharness.errors import InputError
    from evalharness.render.history import history_html
    from evalharness.textio import atomic_write_text, check_outputs

    check_outputs({"the chart page": args.output}, [], kinds={"the chart page": b"<!doctype html"})
    with _open(args, create=False) as store:
        rows = store.runs(system=args.system, test_set=args.test_set, branch=args.branch, since=_since(args.since))
        scores = [s for s in store.scores(rows)
                  if (args.metric is None or s.metric in args.metric)
                  and (args.system is None or s.system == args.system)
                  and (args.direction is None or s.direction == args.direction)]
        if not scores:
            raise InputError(f"history {store.label}: no scores recorded for these filters; nothing to plot")
        atomic_write_text(args.output, history_html(scores, rows, store.label))
    print(f"wrote {args.output}")
    return 0


def _export_command(args: argparse.Namespace) -> int:
    from evalharness.textio import atomic_write_text, check_outputs

    with _open(args, create=False) as store:
        if args.output is None:
            for line in store.export_lines():
                sys.stdout.write(line)
            return 0
        check_outputs({"the export": args.output}, [], kinds={"the export": b'{"kind":"evalharness-history-run"'})
        text = "".join(store.export_lines())
    atomic_write_text(args.output, text)
    print(f"wrote {args.output} ({text.count(chr(10))} runs)")
    return 0


def _import_command(args: argparse.Namespace) -> int:
    from evalharness.history.store import read_export
    from evalharness.textio import read_lines

    entries = read_export(read_lines(args.file, "history export"), str(args.file))  # all checked: no store made else
    with _open(args, create=True) as store:
        added, present = store.import_entries(entries)
        print(f"imported {args.file} into {store.label}: {added} new, {present} already there")
    return 0


# --------------------------------------------------------------------------- what check gains


@dataclass
class CheckHook:
    """``check``'s history parts: a ``history:BRANCH`` baseline chosen after the run, and ``--pr-comment``."""

    args: argparse.Namespace
    chosen: BranchBaseline | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def from_history(self) -> bool:
        """True when ``--baseline`` is ``history:BRANCH``."""
        from evalharness.history.trend import is_history_baseline

        return is_history_baseline(self.args.baseline)

    def outputs(self) -> dict[str, Path | None]:
        """The files check writes besides its reports."""
        return {"--pr-comment": self.args.pr_comment}

    def inputs(self) -> list[Path]:
        """The baseline file, when it is one (a history is not a file the outputs could overwrite here)."""
        return [] if self.from_history else [self.args.baseline]

    def check_options(self) -> None:
        """Refuse bad history options before anything runs."""
        from evalharness.errors import InputError
        from evalharness.history.trend import parse_age

        parse_age(self.args.baseline_max_age)
        if self.args.baseline_max_commits < 0:
            raise InputError(f"--baseline-max-commits {self.args.baseline_max_commits}: give 0 or more")
        if self.from_history and _is_set(self.args):
            raise InputError("--baseline history:BRANCH checks one test set; a run over several test sets is checked "
                             "against a baseline file ('evalharness baseline update RUN_SET -o FILE')")

    def baseline(self, run: Run, configured: str | None = None) -> Run:
        """The latest matching run on the branch; staleness warnings are printed and kept for the PR comment."""
        from evalharness.errors import EvalHarnessWarning
        from evalharness.history.trend import HISTORY_PREFIX, parse_age, select_baseline, staleness

        branch = str(self.args.baseline)[len(HISTORY_PREFIX):]
        with _open(self.args, create=False, configured=configured) as store:
            self.chosen = select_baseline(store, branch, run)
        self.warnings = staleness(self.chosen, max_age_s=parse_age(self.args.baseline_max_age),
                                  max_commits=self.args.baseline_max_commits)
        for line in self.warnings:
            warnings.warn(line, EvalHarnessWarning, stacklevel=2)
        return self.chosen.run

    def finish(self, report: GateReport, baseline: Run | Baseline) -> None:
        """Write the PR comment, when asked for."""
        if self.args.pr_comment is None:
            return
        from evalharness.history.provenance import ci_url
        from evalharness.history.trend import baseline_age, describe_age
        from evalharness.render.history import pr_comment
        from evalharness.textio import atomic_write_text

        if self.chosen is not None:
            row = self.chosen.row
            commit = f"[`{row.short}`]({row.commit_url})" if row.commit_url else f"`{row.short}`"
            label = (f"`{self.chosen.branch}` @ {commit}, run {row.started_at[:16].replace('T', ' ')} UTC "
                     f"({describe_age(baseline_age(row))} old)")
        else:
            label = f"`{baseline.origin}`"
        url = self.args.report_url or (f"{ci_url()}#artifacts" if ci_url() else None)
        atomic_write_text(self.args.pr_comment, pr_comment(report, baseline=label, warnings=self.warnings,
                                                           report_url=url))


def _is_set(args: argparse.Namespace) -> bool:
    from evalharness.runs.multi import is_run_set

    return args.run_dir is not None and is_run_set(args.run_dir)
