"""Comparisons and gate reports for people and CI: text and Markdown tables, JUnit XML, the step summary.

A check's report (:class:`~evalharness.gate.check.CheckReport`) is rendered by :func:`render_check`,
:func:`check_json` and :func:`write_check_reports`: a single run's as one gate report, a run set's with each test
set's gate report under its name and one verdict."""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalharness.errors import OutputError
from evalharness.gate.check import CheckReport, GateReport
from evalharness.gate.compare import Comparison, format_p
from evalharness.gate.segments import FLAG_ROW_PREFIX
from evalharness.render.tables import markdown_table, text_table
from evalharness.scoring.metrics import metric_label
from evalharness.textio import write_outputs


def format_interval(low: float, high: float) -> str:
    """``[-1.20, +0.35]``; a one-sided interval (the gate's) shows its open side as infinite: ``(-∞, -0.42]``."""
    left = "(-∞" if low == -math.inf else f"[{low:+.2f}"
    right = "+∞)" if high == math.inf else f"{high:+.2f}]"
    return f"{left}, {right}"


def render_table(rows: Sequence[Comparison], *, markdown: bool = True, extra_header: Sequence[str] = (),
                 extra_cells: Sequence[Sequence[str]] = ()) -> str:
    """The comparison as a Markdown table, or aligned plain text; ``extra_*`` add columns on the right.

    p and the interval of Δ come from the test in the ``test`` column (for ``maxt``, family-wise over every row),
    the interval at level 1 − α: it excludes 0 exactly when p < α, so the two agree with the verdict.
    """
    head = ["system", "direction", "metric", "A", "B", "Δ", "CI of Δ (1−α, test's)", "p", "≈MDD", "verdict",
            *extra_header, "test"]
    body = []
    for i, r in enumerate(rows):
        arrow = "↑" if r.higher_is_better else "↓"
        body.append([r.system, r.direction, f"{metric_label(r.metric)} {arrow}", f"{r.a:.2f}", f"{r.b:.2f}",
                     f"{r.delta:+.2f}", format_interval(r.ci_low, r.ci_high), format_p(r.p_value, r.test),
                     f"{r.mdd:.2f}" if math.isfinite(r.mdd) else "—", r.verdict,
                     *(extra_cells[i] if extra_cells else ()), r.test])
    return markdown_table(head, body) if markdown else text_table(head, body)


def mdd_note(rows: Sequence[Comparison], alpha: float) -> str:
    """How small a change these segments can show, and a warning where too few segments differ to tell."""
    if not rows:
        return ""
    worst: dict[str, float] = {}
    for r in rows:
        if math.isfinite(r.mdd) and not r.metric.startswith(FLAG_ROW_PREFIX):  # metrics, not flag rates
            worst[r.metric] = max(worst.get(r.metric, 0.0), r.mdd)
    if not worst:
        return ("Minimum detectable difference: not estimable, A and B have the same outputs (the paired "
                "differences have no spread).")
    parts = ", ".join(f"{metric_label(m)} ≈{v:.1f}" for m, v in worst.items())
    note = (f"Minimum detectable difference on these {rows[0].segments} segments (an estimate from the paired "
            f"differences: what the table's test at α={alpha} detects with 80% power — for maxt, beyond the "
            f"family's critical value; largest over systems and directions): {parts} points. Smaller changes will "
            "mostly pass unnoticed on these segments.")
    few = sorted({(r.system, r.direction, r.differing) for r in rows if 0 < r.differing < FEW_DIFFERING})
    if few:
        listed = ", ".join(f"{s} {d} ({n})" for s, d, n in few)
        note += (f" Warning: fewer than {FEW_DIFFERING} segments differ in {listed}: a paired test says little "
                 "about so few; read the segments themselves.")
    return note


TEST_NAMES = {"maxt": "one permutation test over all rows (family-wise max-statistic)",
              "bs": "paired bootstrap, each row alone", "ar": "approximate randomization, each row alone"}
FEW_DIFFERING = 5
"""Below this many differing segments, a p-value is mostly about which segments those are."""


def verdict(report: GateReport) -> str:
    """The one-line verdict: ``PASS: no regression``, or ``FAIL:`` and what failed."""
    regressions = sum(r.regression for r in report.rows)
    broken = len(report.broken) if len(report.broken) > report.gate.segments.allowed else 0
    line = ("PASS: no regression" if report.passed else "FAIL: " + ", ".join(
        [*([f"{regressions} regression(s)"] if regressions else []),
         *([f"{broken} broken segment(s)"] if broken else [])]))
    if not report.gate.segments.enabled:
        line += " (breakage not checked: gate.segments.enabled is false)"
    elif report.run_flags_off:
        line += " (the run's flags.enabled is false: breakage judged by the gate itself)"
    return line


def render_quiet(report: GateReport) -> str:
    """``check -q``: the failures, one line each, then the verdict line; no table, no notes."""
    return "".join(f"{line}\n" for line in [*report.failures, verdict(report)])


def render_text(report: GateReport, *, markdown: bool = False) -> str:
    """Table with the rule and status of every row, failures, and the detectable-difference note."""
    cells = [(f"{r.tolerance:.2f}", str(r.alpha), f"**{r.status}**" if markdown and r.regression else r.status)
             for r in report.rows]
    lines = render_table([r.comparison for r in report.rows], markdown=markdown,
                         extra_header=("tolerance", "α", "status"), extra_cells=cells).splitlines()
    verdict_line = verdict(report)
    out = []
    if markdown:
        out += ["## evalharness check", "",
                f"**{verdict_line}** — baseline `{report.baseline}`, run `{report.run}`", ""]
    else:
        out += [f"baseline {report.baseline}  vs  run {report.run}", ""]
    out += lines
    out += ["", mdd_note([r.comparison for r in report.rows], report.gate.alpha),
            f"Test: {TEST_NAMES[report.gate.test]}, one-sided, seed {report.gate.seed}; a regression is "
            "significantly worse by more than the tolerance (p < α), its interval wholly beyond the tolerance."]
    rule = report.gate.segments
    if rule.enabled:
        out += [f"Segments: one fails on a flag ({', '.join(rule.flags) or 'none'}) its baseline output did not raise "
                f"or when its {metric_label(rule.metric)} falls by more than {rule.drop:g} to below {rule.below:g} "
                f"(references of {rule.min_words}+ words); {len(report.broken)} did, {rule.allowed} allowed. The "
                "rate of each flag raised is a row (flag:…)."]
    out += [f"Note: {n}" for n in report.notes]
    if report.failures:
        out += [""] + [f"- {f}" if markdown else f for f in report.failures]
    bullet = "- " if markdown else "  "
    for b in report.broken:
        out += ["", f"{'### ' if markdown else ''}{b.system} {b.direction} {b.id}: {b.reason}",
                f"{bullet}before: {_clip(b.before)}", f"{bullet}after:  {_clip(b.after)}"]
        if b.spans:  # where xCOMET marked the new output: [span]{severity}
            out += [f"{bullet}spans ({', '.join(metric_label(m) for m in b.spans)}): {_clip(b.marked_after())}"]
    if not markdown:
        out += ["", verdict_line]
    return "\n".join(out) + "\n"


def _clip(text: str, limit: int = 200) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
            out.text = (f"baseline {c.a:.2f}, new {c.b:.2f}, delta {c.delta:+.2f}, p={c.p_value:.4g}, "
                        f"tolerance {row.tolerance:.2f}: {row.status}")
    over = len(report.broken) > report.gate.segments.allowed
    for broken in report.broken:
        case = ET.SubElement(suite, "testcase", classname=f"evalharness.{broken.system}.{broken.direction}",
                             name=f"segment {broken.id}", time="0")
        text = f"{broken.line()}\nbefore: {broken.before}\nafter: {broken.after}"
        if over:
            failure = ET.SubElement(case, "failure", message=broken.line(), type="broken-segment")
            failure.text = text
        else:
            ET.SubElement(case, "system-out").text = text + "\n(within gate.segments.allowed)"
    suite.set("tests", str(len(report.rows) + len(report.broken)))
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def write_check_outputs(markdown: str, junit_text: str, *, junit: Path | None, summary_md: Path | None,
                        environ: Mapping[str, Any] | None = None) -> None:
    """The JUnit and Markdown files of a check (both or neither), then the Markdown appended to
    ``$GITHUB_STEP_SUMMARY`` when set (a step summary that cannot be written: :class:`OutputError`)."""
    env = os.environ if environ is None else environ
    write_outputs({**({junit: junit_text} if junit else {}), **({summary_md: markdown} if summary_md else {})})
    step_summary = env.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        try:
            with open(step_summary, "a", encoding="utf-8") as handle:
                handle.write(markdown + "\n")
        except OSError as err:
            raise OutputError(f"$GITHUB_STEP_SUMMARY {step_summary}: cannot append the report: "
                              f"{err.strerror or err}") from None


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
        "broken_segments": [{"system": b.system, "direction": b.direction, "id": b.id, "reason": b.reason,
                             "before": b.before, "after": b.after, **({"spans": b.spans} if b.spans else {})}
                            for b in report.broken],
        "notes": report.notes,
    }


# --------------------------------------------------------------------------- a check of a run's test sets


def render_check(report: CheckReport, *, quiet: bool = False, markdown: bool = False) -> str:
    """``check``'s text (``quiet``: ``check -q``'s failures and verdict line; ``markdown``: the step summary)."""
    if report.single:
        only = report.reports[0][1]
        return render_quiet(only) if quiet else render_text(only, markdown=markdown)
    return render_set_quiet(report) if quiet else render_set_text(report, markdown=markdown)


def check_json(report: CheckReport) -> dict[str, Any]:
    """``check --format json``: the gate's result for scripts."""
    return report_json(report.reports[0][1]) if report.single else set_report_json(report)


def write_check_reports(report: CheckReport, *, junit: Path | None = None, summary_md: Path | None = None) -> None:
    """Write the JUnit and Markdown files asked for (both or neither); append to ``$GITHUB_STEP_SUMMARY``."""
    xml = ""
    if junit:
        xml = junit_xml(report.reports[0][1]) if report.single else set_junit_xml(report)
    write_check_outputs(render_check(report, markdown=True), xml, junit=junit, summary_md=summary_md)


def set_verdict(report: CheckReport) -> str:
    """The one-line verdict of a run set: ``PASS: no regression in N test sets`` or the sets that failed."""
    failed = [name for name, r in report.reports if not r.passed]
    return (f"PASS: no regression in {len(report.reports)} test sets" if report.passed else
            f"FAIL: test set(s) {', '.join(failed)}")


def render_set_quiet(report: CheckReport) -> str:
    """``check -q`` of a run set: the failures (each naming its test set), then the verdict line."""
    return "".join(f"{line}\n" for line in [*report.failures, set_verdict(report)])


def render_set_text(report: CheckReport, *, markdown: bool = False) -> str:
    """Every test set's gate report under a heading naming it; the verdict names the test sets that failed."""
    verdict_line = set_verdict(report)
    out = [f"## evalharness check ({len(report.reports)} test sets)" if markdown else
           f"baseline {report.baseline}  vs  run set {report.run}", ""]
    if markdown:
        out += [f"**{verdict_line}** — baseline `{report.baseline}`, run set `{report.run}`", ""]
    for name, member in report.reports:
        text = render_text(member, markdown=markdown).rstrip("\n").splitlines()
        if markdown and text and text[0] == "## evalharness check":
            text = text[1:]
        out += [f"### Test set `{name}`" if markdown else f"== test set {name} ==", *text, ""]
    out += [f"Note: {n}" for n in report.notes]
    if report.failures:
        out += [f"- {f}" if markdown else f for f in report.failures] + [""]
    if not markdown:
        out += [verdict_line]
    return "\n".join(out) + "\n"


def set_junit_xml(report: CheckReport) -> str:
    """JUnit XML: one test suite per test set (``evalharness.check.<name>``)."""
    suites = ET.Element("testsuites", name="evalharness.check")
    for name, member in report.reports:
        suite = ET.fromstring(junit_xml(member).split("?>", 1)[1])
        suite.set("name", f"evalharness.check.{name}")
        suites.append(suite)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def set_report_json(report: CheckReport) -> dict[str, Any]:
    """The result for scripts: verdict, failures (each naming its test set), and each test set's report."""
    return {"passed": report.passed, "baseline": report.baseline, "run": report.run, "failures": report.failures,
            "notes": report.notes, "test_sets": {name: report_json(r) for name, r in report.reports}}
