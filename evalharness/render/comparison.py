"""Comparisons and gate reports for people and CI: text and Markdown tables, JUnit XML, the step summary."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalharness.gate.check import GateReport
from evalharness.gate.compare import Comparison
from evalharness.render.tables import markdown_table, text_table
from evalharness.scoring.metrics import metric_label
from evalharness.textio import write_outputs


def render_table(rows: Sequence[Comparison], *, markdown: bool = True, extra_header: Sequence[str] = (),
                 extra_cells: Sequence[Sequence[str]] = ()) -> str:
    """The comparison as a Markdown table, or aligned plain text; ``extra_*`` add columns on the right."""
    head = ["system", "direction", "metric", "A", "B", "Δ", "95% CI of Δ", "p", "≈MDD", "verdict", *extra_header]
    body = []
    for i, r in enumerate(rows):
        arrow = "↑" if r.higher_is_better else "↓"
        body.append([r.system, r.direction, f"{metric_label(r.metric)} {arrow}", f"{r.a:.2f}", f"{r.b:.2f}",
                     f"{r.delta:+.2f}", f"[{r.ci_low:+.2f}, {r.ci_high:+.2f}]", f"{r.p_value:.3f}", f"{r.mdd:.2f}",
                     r.verdict, *(extra_cells[i] if extra_cells else ())])
    return markdown_table(head, body) if markdown else text_table(head, body)


def mdd_note(rows: Sequence[Comparison], alpha: float) -> str:
    """One sentence per metric: how small a change this corpus can see at all."""
    if not rows:
        return ""
    worst: dict[str, float] = {}
    for r in rows:
        worst[r.metric] = max(worst.get(r.metric, 0.0), r.mdd)
    parts = ", ".join(f"{metric_label(m)} ≈{v:.1f}" for m, v in worst.items())
    return (f"Minimum detectable difference on these {rows[0].segments} segments (α={alpha}, largest over systems "
            f"and directions): {parts} points. Smaller changes cannot be told from noise with this corpus.")


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
                             name=metric_label(c.metric), time="0")
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
    markdown = render_text(report, markdown=True)
    files = {**({junit: junit_xml(report)} if junit else {}), **({summary_md: markdown} if summary_md else {})}
    write_outputs(files)  # both or neither
    step_summary = env.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")


def report_json(report: GateReport) -> dict[str, Any]:
    """The gate's result for scripts: verdict, settings, every row with its rule, and the failures."""
    return {
        "passed": report.passed,
        "baseline": report.baseline,
        "run": report.run,
        "gate": report.gate.model_dump(mode="json"),
        "rows": [{**r.comparison.to_json(), "tolerance": r.tolerance, "alpha": r.alpha, "status": r.status}
                 for r in report.rows],
        "failures": report.failures,
    }
