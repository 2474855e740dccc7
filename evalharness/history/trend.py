"""Stored runs as series over commits, each step with a paired verdict, and the baseline that follows a branch.

A series is one test set × direction × metric × system **× signature**: a run scored with another tokenizer,
sacrebleu version or COMET model starts a series of its own and is never a point on the old line. Each step of a
series is the paired test of ``compare`` (bootstrap, two-sided) between the previous run's outputs and this one's,
on the same references, so its verdict is as exact as comparing the two run directories.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from evalharness.errors import InputError
from evalharness.gate.compare import compare_runs
from evalharness.history.provenance import commits_behind, config_hash
from evalharness.history.store import HistoryStore, RunRow, ScoreRow, parse_time, run_id
from evalharness.runs.schema import Run
from evalharness.scoring.defaults import DEFAULT_SEED
from evalharness.scoring.metrics import metric_label

HISTORY_PREFIX = "history:"
"""``check --baseline history:BRANCH``: the baseline is the latest matching run recorded on BRANCH."""
DEFAULT_MAX_AGE_S = 3 * 86400.0  # a baseline older than this is stale (three days, as Kibana's PR comment warns)
DEFAULT_MAX_COMMITS = 20  # … or this many commits behind HEAD


@dataclass(frozen=True)
class SeriesKey:
    """What makes points comparable on one line."""

    test_set: str
    direction: str
    metric: str
    system: str
    signature: str


@dataclass(frozen=True)
class TrendPoint:
    """One run on a series, with the change from the previous point and the paired test's verdict."""

    score: ScoreRow
    delta: float | None  # None for the first point
    p_value: float | None
    verdict: str  # "better" / "worse" / "no significant difference", "—" first, or why it was not tested


def series(scores: Sequence[ScoreRow]) -> dict[SeriesKey, list[ScoreRow]]:
    """Scores grouped into series, each oldest first (``scores`` in run order)."""
    out: dict[SeriesKey, list[ScoreRow]] = {}
    for s in scores:
        key = SeriesKey(s.run.test_set, s.direction, s.metric, s.system, s.signature)
        out.setdefault(key, []).append(s)
    return out


def trend(store: HistoryStore, points: Sequence[ScoreRow], *, alpha: float = 0.05, samples: int = 1000,
          seed: int = DEFAULT_SEED) -> list[TrendPoint]:
    """Each point of one series with Δ from the previous one and the paired bootstrap's verdict at ``alpha``."""
    loaded: dict[str, Run] = {}

    def run_of(row: RunRow) -> Run:
        if row.id not in loaded:
            loaded[row.id] = store.load(row)
        return loaded[row.id]

    out = [TrendPoint(points[0], None, None, "—")] if points else []
    for before, after in itertools.pairwise(points):
        delta = after.score - before.score
        if before.run.references.get(before.direction) != after.run.references.get(after.direction):
            out.append(TrendPoint(after, delta, None, "not tested: other segments (another --where or --limit)"))
            continue
        try:
            rows = compare_runs(run_of(before.run), run_of(after.run), metrics=[after.metric],
                                systems=(before.system, after.system), samples=samples, seed=seed, alpha=alpha)
        except InputError as err:
            out.append(TrendPoint(after, delta, None, f"not tested: {err}"))
            continue
        row = next(r for r in rows if r.direction == after.direction)
        out.append(TrendPoint(after, row.delta, row.p_value, row.verdict))
    return out


# --------------------------------------------------------------------------- the baseline of a branch


def is_history_baseline(value: str | Path) -> bool:
    """True for ``history:BRANCH`` (what ``check --baseline`` takes besides a file)."""
    return str(value).startswith(HISTORY_PREFIX)


def _mismatch(row: RunRow, run: Run) -> str | None:
    """Why recorded run ``row`` cannot be ``run``'s baseline, or None when it can."""
    corpus = run.manifest.corpus
    if (row.test_set, row.test_set_hash, row.level) != (corpus.name, corpus.content_hash, corpus.level):
        return (f"test set {row.test_set} {row.test_set_hash[:19]}… ({row.level}) vs {corpus.name} "
                f"{corpus.content_hash[:19]}… ({corpus.level})")
    for direction in sorted(set(row.references) & set(corpus.references)):
        if row.references[direction] != corpus.references[direction]:
            return f"other {direction} segments (another --where or --limit)"
    for name, signature in row.signatures.items():
        mine = run.manifest.metrics.get(name)
        if mine is None:
            return f"it has {metric_label(name)}, this run does not"
        if mine.signature != signature:
            return f"{metric_label(name)} signature {signature} vs {mine.signature}"
    if row.config_hash != config_hash(run.manifest.config):
        return ("another config (level, directions, metrics, scoring, statistics, flags, where, limit or system "
                "names differ)")
    return None


@dataclass(frozen=True)
class BranchBaseline:
    """The run a check compares with, and where it came from."""

    row: RunRow
    run: Run
    branch: str


def select_baseline(store: HistoryStore, branch: str, run: Run) -> BranchBaseline:
    """The latest run recorded on ``branch`` whose test set, config and signatures match ``run``'s (never ``run``
    itself); none is an :class:`InputError` in one line saying what is missing."""
    if not branch:
        raise InputError("--baseline history:BRANCH needs a branch name, e.g. history:main")
    recorded = store.runs(branch=branch)
    if not recorded:
        branches = sorted({r.branch for r in store.runs() if r.branch})
        known = f" (it has {', '.join(branches)})" if branches else " (it has none)"
        raise InputError(f"history {store.label} has no run recorded on branch {branch!r}{known}; record one with "
                         f"'evalharness history record RUN_DIR' on {branch}")
    own = run_id(run.results, run.records)
    first_reason = None
    for row in reversed(recorded):
        if row.id == own:
            continue
        reason = _mismatch(row, run)
        if reason is None:
            return BranchBaseline(row, store.load(row), branch)
        first_reason = first_reason or f"the latest, {row.short} of {row.started_at}: {reason}"
    raise InputError(f"history {store.label}: no run on branch {branch!r} matches this run's test set, config and "
                     f"signatures ({first_reason or 'only this run itself'}); record a run of this config on "
                     f"{branch} first")


def parse_age(text: str) -> float:
    """Seconds from ``3d``, ``12h``, ``30m``, ``90s`` or a plain number of seconds; anything else is an error."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dhms]?)\s*", text)
    if match is None:
        raise InputError(f"--baseline-max-age {text!r}: give an age such as 3d, 12h, 30m or 90s")
    return float(match[1]) * {"d": 86400, "h": 3600, "m": 60, "s": 1, "": 1}[match[2]]


def describe_age(seconds: float) -> str:
    """``4.2 days``, ``5 h``, ``12 min`` — for people."""
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{max(seconds, 0) / 60:.0f} min"


def baseline_age(row: RunRow, now: datetime | None = None) -> float:
    """Seconds since the baseline run started."""
    return ((now or datetime.now(timezone.utc)) - parse_time(row.started_at)).total_seconds()


def staleness(baseline: BranchBaseline, *, max_age_s: float = DEFAULT_MAX_AGE_S,
              max_commits: int = DEFAULT_MAX_COMMITS, now: datetime | None = None,
              cwd: Path | None = None) -> list[str]:
    """Warnings for a baseline older than ``max_age_s`` or more than ``max_commits`` commits behind HEAD."""
    row, out = baseline.row, []
    age = baseline_age(row, now)
    if age > max_age_s:
        out.append(f"the baseline ({baseline.branch} @ {row.short}) is {describe_age(age)} old, more than "
                   f"{describe_age(max_age_s)}: record a fresh run on {baseline.branch}")
    behind = commits_behind(row.commit, cwd) if row.commit else None
    if behind is not None and behind > max_commits:
        out.append(f"the baseline ({baseline.branch} @ {row.short}) is {behind} commits behind HEAD, more than "
                   f"{max_commits}: record a fresh run on {baseline.branch}")
    return out
