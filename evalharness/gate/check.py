"""The regression gate: a run against a committed baseline, with CI-friendly reports.

A regression is a move in the metric's bad direction that is larger than its tolerance **and**
significant at the configured level (paired test on the same segments). Either alone is not enough:
a tiny significant change and a large insignificant one both pass.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

from pydantic import ValidationError

from evalharness.errors import ConfigError
from evalharness.gate.compare import Comparison, compare_runs, mdd_note, render_table, verdict
from evalharness.render.summary import LABELS
from evalharness.runs.config import Gate
from evalharness.runs.schema import RunData
from evalharness.textio import atomic_write_text


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
        return (f"REGRESSION {c.system} {c.direction} {LABELS.get(c.metric, c.metric)}: baseline {c.a:.2f}, "
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


def resolve_gate(run: RunData, baseline: RunData) -> Gate:
    """Gate settings: the checked run's config ``gate:`` section, else the baseline's, else the defaults."""
    for source, data in ((str(run.origin), run.manifest.get("config", {}).get("gate")),
                         (str(baseline.origin), baseline.gate)):
        if data is not None:
            try:
                return Gate.model_validate(data)
            except ValidationError as err:
                first = err.errors()[0]
                key = ".".join(str(p) for p in first["loc"])
                raise ConfigError(f"{source}: gate.{key}: {first['msg']}") from None
    return Gate()


def is_regression(c: Comparison, tolerance: float, alpha: float) -> bool:
    """Worse by more than ``tolerance`` points and significant at ``alpha``."""
    worse_by = -c.delta if c.higher_is_better else c.delta
    return worse_by > tolerance and c.p_value < alpha


def check(baseline: RunData, run: RunData, gate: Gate | None = None) -> GateReport:
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


def render_text(report: GateReport, *, markdown: bool = False) -> str:
    """Table with the rule and status of every row, failures, and the detectable-difference note."""
    cells = [(f"{r.tolerance:.2f}", str(r.alpha), f"**{r.status}**" if markdown and r.regression else r.status)
             for r in report.rows]
    lines = render_table([r.comparison for r in report.rows], markdown=markdown,
                         extra_header=("tolerance", "α", "status"), extra_cells=cells).splitlines()
    verdict_line = ("PASS: no regression" if report.passed
                    else f"FAIL: {len(report.failures)} regression(s)")
    out = []
    if markdown:
        out += ["## evalharness check", "",
                f"**{verdict_line}** — baseline `{report.baseline}`, run `{report.run}`", ""]
    else:
        out += [f"baseline {report.baseline}  vs  run {report.run}", ""]
    out += lines
    out += ["", mdd_note([r.comparison for r in report.rows], report.gate.alpha),
            f"Test: {'paired bootstrap' if report.gate.test == 'bs' else 'approximate randomization'}, "
            f"seed {report.gate.seed}; a regression is worse by more than the tolerance and p < α."]
    if report.failures:
        out += [""] + [f"- {f}" if markdown else f for f in report.failures]
    if not markdown:
        out += ["", verdict_line]
    return "\n".join(out) + "\n"


def junit_xml(report: GateReport) -> str:
    """JUnit XML: one test case per system × direction × metric; a regression is a failure."""
    suite = ET.Element("testsuite", name="evalharness.check", tests=str(len(report.rows)),
                       failures=str(len(report.failures)), errors="0", skipped="0")
    for row in report.rows:
        c = row.comparison
        case = ET.SubElement(suite, "testcase", classname=f"evalharness.{c.system}.{c.direction}",
                             name=LABELS.get(c.metric, c.metric), time="0")
        if row.regression:
            failure = ET.SubElement(case, "failure", message=row.failure_line(), type="regression")
            failure.text = row.failure_line()
        else:
            out = ET.SubElement(case, "system-out")
            out.text = (f"baseline {c.a:.2f}, new {c.b:.2f}, delta {c.delta:+.2f}, p={c.p_value:.4f}, "
                        f"tolerance {row.tolerance:.2f}: {row.status}")
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def write_reports(report: GateReport, *, junit: Path | None = None, summary_md: Path | None = None,
                  environ: dict[str, Any] | None = None) -> None:
    """Write the JUnit and Markdown files asked for, and append to ``$GITHUB_STEP_SUMMARY`` when set."""
    env = os.environ if environ is None else environ
    if junit:
        atomic_write_text(junit, junit_xml(report))
    markdown = render_text(report, markdown=True)
    if summary_md:
        atomic_write_text(summary_md, markdown)
    step_summary = env.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")
