"""Reports of a check over several test sets: each test set's report under its name, and one verdict."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from evalharness.gate.sets import SetReport
from evalharness.render.comparison import junit_xml, render_text, report_json, write_check_outputs


def set_verdict(report: SetReport) -> str:
    """The one-line verdict of a run set: ``PASS: no regression in N test sets`` or the sets that failed."""
    failed = [name for name, r in report.reports if not r.passed]
    return (f"PASS: no regression in {len(report.reports)} test sets" if report.passed else
            f"FAIL: test set(s) {', '.join(failed)}")


def render_set_quiet(report: SetReport) -> str:
    """``check -q`` of a run set: the failures (each naming its test set), then the verdict line."""
    return "".join(f"{line}\n" for line in [*report.failures, set_verdict(report)])


def render_set_text(report: SetReport, *, markdown: bool = False) -> str:
    """Every test set's gate report under a heading naming it; the verdict names the test sets that failed."""
    verdict = set_verdict(report)
    out = [f"## evalharness check ({len(report.reports)} test sets)" if markdown else
           f"baseline {report.baseline}  vs  run set {report.run}", ""]
    if markdown:
        out += [f"**{verdict}** — baseline `{report.baseline}`, run set `{report.run}`", ""]
    for name, member in report.reports:
        text = render_text(member, markdown=markdown).rstrip("\n").splitlines()
        if markdown and text and text[0] == "## evalharness check":
            text = text[1:]
        out += [f"### Test set `{name}`" if markdown else f"== test set {name} ==", *text, ""]
    out += [f"Note: {n}" for n in report.notes]
    if report.failures:
        out += [f"- {f}" if markdown else f for f in report.failures] + [""]
    if not markdown:
        out += [verdict]
    return "\n".join(out) + "\n"


def set_junit_xml(report: SetReport) -> str:
    """JUnit XML: one test suite per test set (``evalharness.check.<name>``)."""
    suites = ET.Element("testsuites", name="evalharness.check")
    for name, member in report.reports:
        suite = ET.fromstring(junit_xml(member).split("?>", 1)[1])
        suite.set("name", f"evalharness.check.{name}")
        suites.append(suite)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def set_report_json(report: SetReport) -> dict[str, Any]:
    """The result for scripts: verdict, failures (each naming its test set), and each test set's report."""
    return {"passed": report.passed, "baseline": report.baseline, "run": report.run, "failures": report.failures,
            "notes": report.notes, "test_sets": {name: report_json(r) for name, r in report.reports}}


def write_set_reports(report: SetReport, *, junit: Path | None = None, summary_md: Path | None = None) -> None:
    """Write the JUnit and Markdown files asked for (both or neither); append to ``$GITHUB_STEP_SUMMARY``."""
    write_check_outputs(render_set_text(report, markdown=True), set_junit_xml(report) if junit else "", junit=junit,
                        summary_md=summary_md)
