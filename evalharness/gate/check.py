"""The regression gate: a run against a committed baseline (reports are rendered by ``evalharness.render``).

A regression is a move in the metric's bad direction that is larger than its tolerance **and**
significant at the configured level (paired test on the same segments). Either alone is not enough:
a tiny significant change and a large insignificant one both pass. Separately, a segment that broke (see
:mod:`evalharness.gate.segments`) fails the check even when the corpus score hardly moved.

A check is of a run's test sets (one, or a run set's several), each against the baseline of the same test set,
under the same gate settings; the rows of every test set form one family of the ``maxt`` test (metrics ×
directions × systems × test sets), so the chance that a check of unchanged systems fails stays near α however
many test sets the run has. The check fails when any test set fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from evalharness.corpus import Corpus
from evalharness.errors import InputError
from evalharness.gate.compare import Comparison, PairedRow, format_p, paired_rows
from evalharness.gate.segments import FlagRate, JudgedFlags, SegmentFailure, judge_flags, segment_failures
from evalharness.runs.config import Gate, RunConfig, SegmentRule, config_error
from evalharness.runs.schema import Baseline, Run
from evalharness.scoring.defaults import DEFAULT_AR_TRIALS
from evalharness.scoring.metrics import METRICS, metric_label
from evalharness.scoring.significance import FamilyRow, max_statistic_test, paired_test

if TYPE_CHECKING:
    from evalharness.runs.pipeline import Member


@dataclass(frozen=True)
class GateRow:
    """One comparison with the rule applied to it."""

    comparison: Comparison
    tolerance: float
    alpha: float
    regression: bool

    @property
    def status(self) -> str:
        """``REGRESSION`` or ``ok``."""
        return "REGRESSION" if self.regression else "ok"

    def failure_line(self) -> str:
        """The one line a CI log shows for a regression."""
        c = self.comparison
        return (f"REGRESSION {c.system} {c.direction} {metric_label(c.metric)}: baseline {c.a:.2f}, "
                f"new {c.b:.2f}, delta {c.delta:+.2f} (tolerance {self.tolerance:.2f}), "
                f"p={format_p(c.p_value, c.test)} < alpha={self.alpha} ({c.test})")


@dataclass(frozen=True)
class GateReport:
    """Everything ``check`` found."""

    rows: list[GateRow]
    gate: Gate
    baseline: str
    run: str
    broken: list[SegmentFailure] = field(default_factory=list)  # segments that broke (gate.segments)
    notes: list[str] = field(default_factory=list)  # what could not be checked
    run_flags_off: bool = False  # the run's config had flags.enabled: false (its report has no flags)

    @property
    def passed(self) -> bool:
        """True when no row is a regression and no more segments broke than ``gate.segments.allowed``."""
        return not any(r.regression for r in self.rows) and len(self.broken) <= self.gate.segments.allowed

    @property
    def failures(self) -> list[str]:
        """One line per regression, then one per broken segment when they are more than allowed."""
        lines = [r.failure_line() for r in self.rows if r.regression]
        if len(self.broken) > self.gate.segments.allowed:
            lines += [b.line() for b in self.broken]
        return lines


def precheck(baseline: Run | Baseline, config: RunConfig, corpus: Corpus, config_path: Path) -> None:
    """Refuse, before a config is run, a baseline that its run could never be compared with."""
    theirs = baseline.manifest.corpus
    for key, mine in (("name", corpus.name), ("version", corpus.version), ("content_hash", corpus.content_hash),
                      ("level", config.level)):
        if getattr(theirs, key) != mine:
            raise InputError(f"{baseline.origin} is on another corpus than {config_path}: corpus {key} "
                             f"{getattr(theirs, key)!r} vs {mine!r}; check against a baseline of the same corpus")
    runs = {(s.name, d) for s in config.systems for d in config.system_directions(s)}
    missing = [f"{s} {d}" for s, d in baseline.pairs() if (s, d) not in runs]
    if missing:
        raise InputError(f"{config_path} does not run {', '.join(missing)}, which {baseline.origin} gates; run the "
                         "same systems and directions, or update the baseline")
    absent = sorted(set(baseline.manifest.metrics) - set(config.metrics))
    if absent:
        raise InputError(f"{config_path} does not compute {', '.join(absent)}, which {baseline.origin} gates")
    for name, info in baseline.manifest.metrics.items():
        wanted = config.metric_options(name)
        if not METRICS.get(name).same_scores(wanted, info.options):
            raise InputError(f"{config_path} scores {metric_label(name)} with settings {wanted}, {baseline.origin} "
                             f"with {info.options}: set the config's scoring section or the metric's settings as the "
                             "baseline's, or update the baseline")


def gate_settings(source: str, data: dict[str, Any]) -> Gate:
    """Validate gate settings read from a run or a (possibly hand-edited) baseline; errors name the file."""
    try:
        return Gate.model_validate(data)
    except ValidationError as err:
        raise config_error(source, err, prefix="gate") from None


def resolve_gate(run: Run, baseline: Run | Baseline) -> Gate:
    """Gate settings: the checked run's config ``gate:`` section, else the baseline's, else the defaults."""
    for source, data in ((str(run.origin), run.gate), (str(baseline.origin), baseline.gate)):
        if data is not None:
            return gate_settings(source, data)
    return Gate()


def family_comparisons_of(pairs: Sequence[tuple[Run | Baseline, Run]], gate: Gate,
                          labels: Sequence[str] | None = None,
                          judged: Sequence[dict[tuple[str, str], JudgedFlags]] | None = None) -> list[list[Comparison]]:
    """The rows of checks of several (baseline, run) pairs — the test sets of one run — tested as one family.

    ``maxt`` tests all rows (metrics × directions × systems × test sets) as one family: a row's p is the share of
    permutation trials whose largest standardised |Δ| over all rows reaches this row's, so the chance that a
    check of an unchanged system fails stays near α however many rows it has. Its interval is the simultaneous
    one from the same trials (Δ ± the family's critical value × the row's spread); ``bs`` / ``ar`` intervals come
    from their own resamples. Every test is one-sided: it asks whether B is worse than A by more than the row's
    tolerance, at α; its interval is open on the good side, and lies wholly beyond the tolerance exactly when
    p < α, so interval and verdict cannot disagree.

    ``judged``: per pair, the breakage flags of both sides (:func:`~evalharness.gate.segments.judge_flags`); each
    flag becomes a row of the family, its rate (% of segments) tested like a metric, lower being better.
    """
    per_pair: list[list[PairedRow]] = []
    for k, (baseline, run) in enumerate(pairs):
        try:
            per_pair.append(paired_rows(baseline, run, require_all_of_a=True))
        except InputError as err:
            if labels is None:
                raise
            raise InputError(f"test set {labels[k]!r}: {err}") from None
        if judged is not None:
            per_pair[-1] += flag_rows(judged[k], gate.segments.flags)
    rows = [(k, row) for k, pair_rows in enumerate(per_pair) for row in pair_rows]
    alphas = [gate.rule(r.direction, r.metric.name)[1] for _, r in rows]
    out: list[list[Comparison]] = [[] for _ in pairs]
    tolerances = [gate.rule(r.direction, r.metric.name)[0] for _, r in rows]
    if gate.test != "maxt":
        for (k, row), alpha, tolerance in zip(rows, alphas, tolerances, strict=True):
            result = paired_test(row.metric, row.stats_a, row.stats_b, test=gate.test, samples=gate.samples,
                                 seed=gate.seed, confidence=1 - alpha, one_sided=True, margin=tolerance)
            out[k].append(row.comparison(result.a, result.b, result.delta, result.ci_low, result.ci_high,
                                         result.p_value, alpha=alpha, seed=gate.seed, one_sided=True,
                                         tolerance=tolerance,
                                         test=f"test:{gate.test}|{ONE_SIDED}|n:{result.samples}|seed:{gate.seed}"))
        return out
    trials = gate.samples or DEFAULT_AR_TRIALS
    # a group is one test set × system × direction: its metrics score the same segments
    family = max_statistic_test([FamilyRow((k, r.system, r.direction), r.metric, r.stats_a, r.stats_b)
                                 for k, r in rows], trials=trials, seed=gate.seed, one_sided=True,
                                tolerances=tolerances)
    for i, ((k, row), alpha) in enumerate(zip(rows, alphas, strict=True)):
        a, b = row.metric.score_from_stats(row.stats_a), row.metric.score_from_stats(row.stats_b)
        low, high = family.interval(i, alpha)
        # what the family test can detect: beyond the tolerance and its critical value (not a single row's z)
        out[k].append(row.comparison(a, b, family.deltas[i] if family.deltas[i] == 0.0 else b - a, low, high,
                                     family.family_p_values[i], alpha=alpha, seed=gate.seed, one_sided=True,
                                     tolerance=tolerances[i],
                                     test=f"test:maxt|{ONE_SIDED}|n:{trials}|seed:{gate.seed}",
                                     margin=family.margin(i, alpha)))
    return out


ONE_SIDED = "sided:one"
"""In a gate row's test signature: tested against "worse" only (``compare`` tests both ways and omits it)."""


def is_regression(c: Comparison, tolerance: float, alpha: float) -> bool:
    """Significantly worse by more than ``tolerance`` points at ``alpha`` (the gate's p tests exactly that): the
    one-sided interval of Δ then lies wholly beyond the tolerance (a test holds it)."""
    worse_by = -c.delta if c.higher_is_better else c.delta
    return worse_by > tolerance and c.p_value < alpha


def check(baseline: Run | Baseline, run: Run, gate: Gate | None = None) -> GateReport:
    """Compare ``run`` with ``baseline`` under ``gate`` (resolved from the files when not given)."""
    return check_all([(baseline, run)], gate)[0]


def flag_rows(judged: dict[tuple[str, str], JudgedFlags], flags: Sequence[str]) -> list[PairedRow]:
    """One row per system × direction × breakage flag that either side raises: the flag's rate in A and in B,
    segment by segment (a flag neither raises has nothing to test, and no row)."""
    rows = []
    for (system, direction), found in judged.items():
        rows += [PairedRow(system, direction, FlagRate(flag), FlagRate.stats(found.flags_a, flag),
                           FlagRate.stats(found.flags_b, flag), found.differing)
                 for flag in flags if any(flag in f for f in (*found.flags_a, *found.flags_b))]
    return rows


def check_all(pairs: Sequence[tuple[Run | Baseline, Run]], gate: Gate | None = None,
              labels: Sequence[str] | None = None) -> list[GateReport]:
    """Check each (baseline, run) pair — the test sets of one run — with every row of all of them one family.

    ``gate``: resolved from the first pair's files when not given; every pair must resolve to the same settings.
    ``labels`` name the pairs (test sets) in errors.
    """
    if gate is None:
        gates = [resolve_gate(run, baseline) for baseline, run in pairs]
        if any(g != gates[0] for g in gates[1:]):
            raise InputError(f"{pairs[0][1].origin} and the other runs checked with it carry different gate settings; "
                             "check them with one config")
        gate = gates[0]
        baseline0, run0 = pairs[0]
        if run0.gate is None and baseline0.gate is not None and gate.segments != SegmentRule():
            stale = (f"the gate settings come from {baseline0.origin}, whose segment rule differs from this version's "
                     f"defaults (flags {gate.segments.flags}, drop {gate.segments.drop:g} to below "
                     f"{gate.segments.below:g}): set gate.segments in the config to choose")
        else:
            stale = None
    else:
        stale = None
    reports = []
    judged = [judge_flags(baseline, run, gate.segments) for baseline, run in pairs]
    for k, ((baseline, run), comparisons) in enumerate(zip(pairs, family_comparisons_of(pairs, gate, labels, judged),
                                                          strict=True)):
        rows = []
        for c in comparisons:  # each at its own row's α
            tolerance, alpha = gate.rule(c.direction, c.metric)
            rows.append(GateRow(c, tolerance, alpha, is_regression(c, tolerance, alpha)))
        broken, notes = segment_failures(baseline, run, gate.segments, judged[k])
        flags_off = (run.manifest.config.get("flags") or {}).get("enabled") is False
        reports.append(GateReport(rows, gate, str(baseline.origin), str(run.origin), broken, notes, flags_off))
    largest = max((len(records) for _, run in pairs for records in run.segments.values()), default=0)
    if 0 < largest < POWER_SEGMENTS and reports:
        reports[0].notes.append(power_note(largest))  # once a check, not once a test set
    if stale and reports:
        reports[0].notes.append(stale)
    return reports


POWER_SEGMENTS = 200
"""Below this many segments in every test set of a check, ``check`` says how little it can see (:func:`power_note`)."""
# Measured by benchmarks/gate_calibration.py on real systems (README, Calibration): ms→en on FLORES-200 devtest, a
# change from OPUS-MT msa-eng opus+bt (BLEU 36.2) to msa-eng opus (32.4) in every segment, caught by the default
# gate in this share of checks on random 29-segment subsets, and on the full 1,012.
POWER_SMALL, POWER_FLORES = 0.295, 1.00


def power_note(segments: int) -> str:
    """One line: on a set this small only large regressions show; the measured figure; the fix."""
    return (f"power: with at most {segments} segments per test set this gate sees only large regressions — a change "
            f"to a real system 3.8 BLEU worse was caught in {POWER_SMALL:.1%} of checks of 29 segments, in "
            f"{POWER_FLORES:.0%} on FLORES-200 devtest's 1,012 (README, Calibration): add flores200-devtest to "
            "corpora: (as configs/ci-flores.yaml does)")


# --------------------------------------------------------------------------- a check of a run's test sets


@dataclass(frozen=True)
class CheckReport:
    """``check`` of a run: one gate report per test set, in the baseline's order.

    ``single``: a run of one corpus against a baseline of one (the reports name no test set); otherwise a run set
    against a baseline set."""

    reports: list[tuple[str, GateReport]]
    baseline: str
    run: str
    single: bool
    notes: list[str] = field(default_factory=list)  # test sets of the run that the baseline does not gate

    @property
    def passed(self) -> bool:
        """True when every test set passed."""
        return all(report.passed for _, report in self.reports)

    @property
    def failures(self) -> list[str]:
        """Each test set's failure lines, each starting with the test set's name (a single run's: as they are)."""
        if self.single:
            return self.reports[0][1].failures
        return [f"{name}: {line}" for name, report in self.reports for line in report.failures]


def precheck_members(baselines: Sequence[tuple[str, Baseline | Run]], parts: Sequence[Member], config_path: Path, *,
                     single: bool) -> None:
    """Refuse, before anything runs, baselines that the config's run could never be checked against."""
    if single:
        precheck(baselines[0][1], parts[0].config, parts[0].corpus, config_path)
        return
    by_name = {m.name: m for m in parts}
    missing = [name for name, _ in baselines if name not in by_name]
    if missing:
        raise InputError(f"{config_path} does not run the test set(s) {', '.join(missing)}, which the baseline gates; "
                         f"its corpora are {', '.join(by_name)}")
    for name, baseline in baselines:
        member = by_name[name]
        try:
            precheck(baseline, member.config, member.corpus, config_path)
        except InputError as err:
            raise InputError(f"test set {name!r}: {err}") from None


def check_run(baselines: Sequence[tuple[str, Baseline | Run]], runs: Sequence[tuple[str, Run]], *,
              baseline_path: Path, run_path: Path, single: bool) -> CheckReport:
    """Check each test set of ``runs`` against the baseline of the same name (a single run against the single
    baseline, whatever their corpora: the comparison names a mismatch); errors name the test set."""
    if single:
        (name, baseline), (_, run) = baselines[0], runs[0]
        return CheckReport([(name, check_all([(baseline, run)])[0])], str(baseline_path), str(run_path), True)
    by_name = dict(runs)
    missing = [name for name, _ in baselines if name not in by_name]
    if missing:
        raise InputError(f"{run_path} has no results for the test set(s) {', '.join(missing)}, which {baseline_path} "
                         f"gates (the run has {', '.join(by_name)}); run the same corpora, or update the baseline")
    checked = check_all([(baseline, by_name[name]) for name, baseline in baselines],
                        labels=[name for name, _ in baselines])
    reports = [(name, report) for (name, _), report in zip(baselines, checked, strict=True)]
    gated = {name for name, _ in baselines}
    notes = [f"test set {name} is in the run but not in the baseline: not gated" for name, _ in runs
             if name not in gated]
    return CheckReport(reports, str(baseline_path), str(run_path), False, notes)
