"""The gate over a run of several test sets: each test set checked against its own baseline, all in one family.

A run set's members share nothing but their systems: each is compared with the baseline of the same test set
(matched by corpus name), under the same gate settings, and the check fails when any test set fails. The rows
of every test set form one family of the ``maxt`` test (metrics × directions × systems × test sets), so the
chance that a check of unchanged systems fails stays near α however many test sets the run has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evalharness.errors import InputError
from evalharness.gate.check import GateReport, check_all, precheck
from evalharness.runs.multi import Member
from evalharness.runs.schema import Baseline, Run


@dataclass(frozen=True)
class SetReport:
    """``check`` of a run set: one gate report per test set, in the baseline's order."""

    reports: list[tuple[str, GateReport]]
    baseline: str
    run: str
    notes: list[str] = field(default_factory=list)  # test sets of the run that the baseline does not gate

    @property
    def passed(self) -> bool:
        """True when every test set passed."""
        return all(report.passed for _, report in self.reports)

    @property
    def failures(self) -> list[str]:
        """Each test set's failure lines, each starting with the test set's name."""
        return [f"{name}: {line}" for name, report in self.reports for line in report.failures]


def precheck_set(baselines: Sequence[tuple[str, Baseline | Run]], parts: Sequence[Member], config_path: Path) -> None:
    """Refuse, before anything runs, a baseline set that the config's run set could never be checked against."""
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


def check_set(baselines: Sequence[tuple[str, Baseline | Run]], runs: Sequence[tuple[str, Run]], *,
              baseline_path: Path, run_path: Path) -> SetReport:
    """Check each test set of ``runs`` against the baseline of the same name; errors name the test set."""
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
    return SetReport(reports, str(baseline_path), str(run_path), notes)
