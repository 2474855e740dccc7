"""A self-contained HTML report of one or more runs: one file, no network, safe to open from disk.

The runs' data go into the page as JSON inside a ``<script type="application/json">`` element (with ``<``,
``>``, ``&`` and the JavaScript line separators escaped, so no text can close the element); the page's own
script renders it with DOM calls only. Segments are shown one direction at a time, with a hypothesis column
for each run's system that serves that direction, and paged, so 10,000 segments stay responsive; the charts
show any metric, chosen on the page.
"""

from __future__ import annotations

import html
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

from evalharness.errors import EvalHarnessError, InputError
from evalharness.render.summary import interval_text
from evalharness.runs.files import read_run
from evalharness.runs.schema import Run
from evalharness.scoring.metrics import metric_label
from evalharness.textio import atomic_write_text

PAGE_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>evalharness report</title>
<style>{css}</style>
</head>
<body>
<header><h1>evalharness report</h1><p>{subtitle}</p></header>
<main>
<section><h2>Scores</h2><div id="scores"></div></section>
<section><h2>Distributions and slices</h2>
<div id="chart-controls" class="controls"></div><div id="charts"></div></section>
<section><h2>Segments</h2><div id="segment-controls" class="controls"></div><div id="segment-table"></div></section>
<section><h2>Manifest</h2><div id="manifest"></div></section>
</main>
<script type="application/json" id="evalharness-data">{data}</script>
<script>{js}</script>
</body>
</html>
"""


def _safe_json(data: Any) -> str:
    """JSON that cannot end its ``<script>`` element early or be read as markup."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


def _number(x: float) -> float | None:
    """A score as JSON can carry it: NaN and infinities (which ``JSON.parse`` refuses) become null, shown empty."""
    return x if math.isfinite(x) else None


def _comparisons(runs: list[Run], labels: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Each later run checked against the first as ``check`` does (the gate's test, one family, one-sided), with
    the interval and p as the terminal and summary.md print them; a run that cannot be checked is a note instead."""
    from evalharness.gate.check import check
    from evalharness.gate.compare import format_p
    from evalharness.render.comparison import format_interval

    comparisons: list[dict[str, Any]] = []
    notes: list[str] = []
    for label, run in zip(labels[1:], runs[1:], strict=True):
        try:
            report = check(runs[0], run)
        except EvalHarnessError as err:
            notes.append(f"{label} not compared with {labels[0]}: {err}")
            continue
        comparisons += [{"run": label, **row.comparison.to_json(), "status": row.status,
                         "ci_text": format_interval(row.comparison.ci_low, row.comparison.ci_high),
                         "p_text": format_p(row.comparison.p_value, row.comparison.test),
                         "label": metric_label(row.comparison.metric) + (" ↑" if row.comparison.higher_is_better
                                                                         else " ↓")}
                        for row in report.rows]
    return comparisons, notes


def _add_segment(rows: dict[tuple[str, str], dict[str, Any]], direction: str, key: str, record: Any) -> None:
    """One system's segment record into the page's row of that segment (made on its first system)."""
    row = rows.setdefault((direction, record.id), {
        "index": len(rows), "id": record.id, "direction": direction, "source": record.source,
        "reference": record.reference or "", "hyps": {}, "scores": {}, "flags": {}, "tags": record.tags,
    })
    row["hyps"][key] = record.hypothesis
    row["scores"][key] = {m: _number(v) for m, v in record.scores.items()}
    if record.flags:
        row["flags"][key] = sorted(record.flags)
    # only where there are some, so that other reports stay as they were
    if record.postprocessed:  # what the clean-up rules removed (LLM backends): never silent
        row.setdefault("postprocessed", {})[key] = list(record.postprocessed)
    if record.error_spans:  # xCOMET's
        row.setdefault("spans", {})[key] = record.error_spans


def report_data(runs: list[Run], labels: list[str]) -> dict[str, Any]:
    """Everything the page shows, as plain JSON-able data.

    ``systems`` has one entry per run, system and direction that has segments, keyed ``run/system`` when
    there are several runs; the page builds each direction's segment table from the entries of that
    direction only, so no column is empty by construction.
    """
    metrics: list[str] = []
    higher: dict[str, bool] = {}
    systems, score_rows, slice_rows = [], [], []
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    several = len(runs) > 1
    for label, run in zip(labels, runs, strict=True):
        for system, by_dir in run.scores.items():
            for direction, res in by_dir.items():
                key = f"{label}/{system}" if several else system
                systems.append({"key": key, "run": label, "system": system, "direction": direction})
                for m, score in res.scores.items():
                    if m not in higher:
                        metrics.append(m)
                        higher[m] = score.higher_is_better
                score_rows.append({"run": label, "system": system, "direction": direction, "segments": res.segments,
                                   "scores": {m: sc.model_dump(mode="json") for m, sc in res.scores.items()},
                                   "ci_text": {m: interval_text(sc.ci) for m, sc in res.scores.items()},
                                   "flagged": res.flags.get("any", 0)})
                if res.slices:
                    slice_rows.append({
                        "key": key, "direction": direction, "names": list(res.slices),
                        "segments": [s.segments for s in res.slices.values()],
                        "values": {m: [_number(s.scores[m]) if m in s.scores else None for s in res.slices.values()]
                                   for m in res.scores},
                    })
                for record in run.segments.get((system, direction), []):
                    _add_segment(rows, direction, key, record)
    for row in rows.values():
        row["flagged"] = bool(row["flags"])
        parts = [row["id"], row["source"], row["reference"], *row["hyps"].values(),
                 *(f for names in row["flags"].values() for f in names)]
        row["search"] = " ".join(parts).lower()
    comparisons, notes = _comparisons(runs, labels)
    return {
        "runs": [{"label": label, "summary": _run_summary(run), "manifest": run.manifest.model_dump(mode="json")}
                 for label, run in zip(labels, runs, strict=True)],
        "metrics": metrics, "higher": higher, "labels": {m: metric_label(m) for m in metrics},
        "systems": systems, "score_rows": score_rows, "slice_rows": slice_rows,
        "segments": sorted(rows.values(), key=lambda r: r["index"]),
        "directions": sorted({s["direction"] for s in systems}, key=lambda d: (d != "ms-en", d)),
        "comparisons": comparisons, "notes": notes,
    }


def _run_summary(run: Run) -> str:
    corpus = run.manifest.corpus
    return f"corpus {corpus.name} v{corpus.version}, {corpus.segments} segments, {run.manifest.started_at}"


def render_report(run_paths: list[Path]) -> str:
    """The report page for ``run_paths`` (run directories or results.json files)."""
    if not run_paths:
        raise InputError("report needs at least one run directory")
    runs = [read_run(p, role="every report input") for p in run_paths]
    first = runs[0].manifest.corpus
    for path, run in zip(run_paths[1:], runs[1:], strict=True):
        other = run.manifest.corpus
        for key in ("name", "version", "content_hash", "level"):
            if getattr(other, key) != getattr(first, key):  # segments are joined by id: they must be the same text
                raise InputError(f"{path} and {run_paths[0]} are on different corpora (corpus {key} "
                                 f"{getattr(other, key)!r} vs {getattr(first, key)!r}); a report joins runs of one "
                                 "corpus version and level")
    labels = []
    for path in run_paths:
        name = (path if path.is_dir() else path.parent).name or str(path)
        while name in labels:
            name += "'"
        labels.append(name)
    data = report_data(runs, labels)
    files = resources.files("evalharness.render") / "templates"
    subtitle = "; ".join(f"{label}: {_run_summary(run)}" for label, run in zip(labels, runs, strict=True))
    if data["notes"]:
        subtitle += " — " + " ".join(data["notes"])
    css, js = (files / "report.css").read_text(encoding="utf-8"), (files / "report.js").read_text(encoding="utf-8")
    if any("spans" in row for row in data["segments"]):  # error spans highlighted: added only where there are some
        css += (files / "spans.css").read_text(encoding="utf-8")
        js += "\n" + (files / "spans.js").read_text(encoding="utf-8")
    return PAGE_TEMPLATE.format(css=css, js=js, data=_safe_json(data), subtitle=html.escape(subtitle, quote=False))


def write_report(run_paths: list[Path], out: Path) -> None:
    """Write the report atomically."""
    atomic_write_text(out, render_report(run_paths))
