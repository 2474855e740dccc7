"""The regression gate: a run against a committed baseline (reports are rendered by ``evalharness.render``).

A regression is a move in the metric's bad direction that is larger than its tolerance **and**
significant at the configured level (paired test on the same segments). Either alone is not enough:
a tiny significant change and a large insignificant one both pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from pydantic import ValidationError

from evalharness.gate.compare import Comparison, compare_runs, verdict
from evalharness.runs.config import Gate, config_error
from evalharness.runs.schema import Baseline, Run
from evalharness.scoring.metrics import metric_label


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
                f"p={c.p_value:.4f} < alpha={self.alpha}")


@dataclass(frozen=True)
class GateReport:
    """Everything ``check`` found."""

    rows: list[GateRow]
    gate: Gate
    baseline: str
    run: str

    @property
    def passed(self) -> bool:
        """True when no row is a regression."""
        return not any(r.regression for r in self.rows)

    @property
    def failures(self) -> list[str]:
        """One line per regression."""
        return [r.failure_line() for r in self.rows if r.regression]


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


def is_regression(c: Comparison, tolerance: float, alpha: float) -> bool:
    """Worse by more than ``tolerance`` points and significant at ``alpha``."""
    worse_by = -c.delta if c.higher_is_better else c.delta
    return worse_by > tolerance and c.p_value < alpha


def check(baseline: Run | Baseline, run: Run, gate: Gate | None = None) -> GateReport:
    """Compare ``run`` with ``baseline`` under ``gate`` (resolved from the files when not given)."""
    gate = gate or resolve_gate(run, baseline)
    comparisons = compare_runs(baseline, run, test=gate.test, samples=gate.samples, seed=gate.seed,
                               alpha=gate.alpha, require_all_of_a=True)
    z_default = NormalDist().inv_cdf(1 - gate.alpha / 2)
    rows = []
    for c in comparisons:
        tolerance, alpha = gate.rule(c.direction, c.metric)
        if alpha != gate.alpha:  # restate verdict and detectable difference at this row's level
            c = Comparison(**{**c.to_json(), "mdd": c.mdd * NormalDist().inv_cdf(1 - alpha / 2) / z_default,
                              "verdict": verdict(c.delta, c.higher_is_better, c.p_value, alpha)})
        rows.append(GateRow(c, tolerance, alpha, is_regression(c, tolerance, alpha)))
    return GateReport(rows, gate, str(baseline.origin), str(run.origin))
