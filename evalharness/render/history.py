"""The history for people: the list of recorded runs, trend tables, the trend charts (HTML), the PR comment.

The charts are drawn here as SVG, one per test set × direction × metric, a line per system (and signature) with
its interval as a band, each point a link to its commit (or to its row in the page's run table): one file, no
script, no network, safe to open from disk or as a CI artifact.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import datetime

from evalharness.gate.check import GateReport, GateRow
from evalharness.gate.compare import format_p
from evalharness.history.store import RunRow, ScoreRow
from evalharness.history.trend import SeriesKey, TrendPoint
from evalharness.render.comparison import format_interval, mdd_note, verdict
from evalharness.render.tables import markdown_table, text_table
from evalharness.scoring.metrics import metric_label

PR_MARKER = "<!-- evalharness-pr-comment -->"
"""The hidden first line of the PR comment: a workflow finds its earlier comment by it and edits it in place."""


def _date(stamp: str) -> str:
    return datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M")


def render_runs(rows: Sequence[RunRow]) -> str:
    """``history list``: one line per recorded run."""
    if not rows:
        return "no recorded run matches\n"
    head = ["run", "started", "commit", "branch", "dirty", "test set", "systems", "directions"]
    body = [[r.id[:12], _date(r.started_at), (r.commit or "—")[:10], r.branch or "—",
             "—" if r.dirty is None else ("yes" if r.dirty else "no"), r.test_set, ", ".join(r.systems),
             ", ".join(r.directions)] for r in rows]
    return text_table(head, body) + "\n"


def series_title(key: SeriesKey) -> str:
    """``flores200-devtest ms-en BLEU ↑ — opus-mt (nrefs:1|…)``."""
    return f"{key.test_set} {key.direction} {metric_label(key.metric)} — {key.system} ({key.signature})"


def render_trend(key: SeriesKey, points: Sequence[TrendPoint], *, markdown: bool = False) -> str:
    """``history show``: one series as a table: commit, date, score, interval, Δ from the previous, p, verdict."""
    head = ["commit", "branch", "date", "score", "95% CI", "Δ", "p", "verdict"]
    body = [[(p.score.run.commit or p.score.run.id)[:10], p.score.run.branch or "—", _date(p.score.run.started_at),
             f"{p.score.score:.2f}", f"[{p.score.ci_low:.2f}, {p.score.ci_high:.2f}]",
             "—" if p.delta is None else f"{p.delta:+.2f}",
             "—" if p.p_value is None else f"{p.p_value:.4g}", p.verdict] for p in points]
    table = markdown_table(head, body) if markdown else text_table(head, body)
    return f"{series_title(key)}\n{table}\n"


# --------------------------------------------------------------------------- the charts

WIDTH, HEIGHT, PAD_L, PAD_R, PAD_T, PAD_B = 720, 300, 60, 170, 20, 50
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>evalharness history</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }}
h2 {{ font-size: 1.05em; margin: 1.5em 0 .3em; }}
svg.chart {{ border: 1px solid #ddd; background: #fff; }}
svg text {{ font: 11px system-ui, sans-serif; fill: #333; }}
table {{ border-collapse: collapse; margin-top: 1em; }}
td, th {{ border: 1px solid #ddd; padding: 2px 6px; text-align: left; }}
tr:target {{ background: #ffd; }}
</style>
</head>
<body>
<h1>evalharness history</h1>
<p>{subtitle}</p>
{charts}
<h2>Runs</h2>
{runs}
</body>
</html>
"""


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _chart(title: str, lines: Sequence[tuple[str, Sequence[ScoreRow]]], order: dict[str, int]) -> str:
    """One SVG chart: x is the run's place in the history, y the score; a line, band and linked points per series."""
    values = [v for _, pts in lines for p in pts for v in (p.score, p.ci_low, p.ci_high) if math.isfinite(v)]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if high - low < 1e-9:
        low, high = low - 1, high + 1
    span_x = max(len(order) - 1, 1)
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B

    def x(run: RunRow) -> float:
        return PAD_L + plot_w * order[run.id] / span_x

    def y(v: float) -> float:
        return PAD_T + plot_h * (1 - (v - low) / (high - low))

    parts = [f'<svg class="chart" role="img" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'xmlns="http://www.w3.org/2000/svg" aria-label="{_esc(title)}">',
             f'<line x1="{PAD_L}" y1="{PAD_T + plot_h}" x2="{PAD_L + plot_w}" y2="{PAD_T + plot_h}" stroke="#999"/>',
             f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{PAD_T + plot_h}" stroke="#999"/>']
    for tick in range(5):
        v = low + (high - low) * tick / 4
        parts.append(f'<text x="{PAD_L - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.2f}</text>')
    seen: set[str] = set()
    for _, pts in lines:
        for p in pts:
            if p.run.id not in seen:
                seen.add(p.run.id)
                parts.append(f'<text x="{x(p.run):.1f}" y="{PAD_T + plot_h + 16}" text-anchor="middle">'
                             f'{_esc(p.run.short[:7])}</text>')
    for i, (label, pts) in enumerate(lines):
        colour = COLOURS[i % len(COLOURS)]
        band = [f"{x(p.run):.1f},{y(p.ci_high):.1f}" for p in pts] + \
               [f"{x(p.run):.1f},{y(p.ci_low):.1f}" for p in reversed(pts)]
        parts.append(f'<g class="series" data-label="{_esc(label)}">')
        parts.append(f'<polygon class="band" points="{" ".join(band)}" fill="{colour}" fill-opacity="0.15" '
                     'stroke="none"/>')
        parts.append(f'<polyline class="line" points="{" ".join(f"{x(p.run):.1f},{y(p.score):.1f}" for p in pts)}" '
                     f'fill="none" stroke="{colour}" stroke-width="2"/>')
        for p in pts:
            target = p.run.commit_url or f"#run-{p.run.id[:12]}"
            tip = (f"{label}: {p.score:.2f} [{p.ci_low:.2f}, {p.ci_high:.2f}] — {p.run.short} "
                   f"({p.run.branch or 'no branch'}, {_date(p.run.started_at)})")
            parts.append(f'<a class="point" href="{_esc(target)}"><circle cx="{x(p.run):.1f}" cy="{y(p.score):.1f}" '
                         f'r="4" fill="{colour}"><title>{_esc(tip)}</title></circle></a>')
        parts.append("</g>")
        legend_y = PAD_T + 14 * i + 8
        parts.append(f'<rect x="{PAD_L + plot_w + 12}" y="{legend_y - 8}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{PAD_L + plot_w + 26}" y="{legend_y + 1}">{_esc(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def history_html(scores: Sequence[ScoreRow], runs: Sequence[RunRow], location: str) -> str:
    """The whole page: one chart per test set × direction × metric, a line per system (a series per signature)."""
    order = {run.id: i for i, run in enumerate(runs)}
    charts: dict[tuple[str, str, str], dict[tuple[str, str], list[ScoreRow]]] = {}
    for s in scores:
        charts.setdefault((s.run.test_set, s.direction, s.metric), {}).setdefault((s.system, s.signature),
                                                                                  []).append(s)
    blocks = []
    for (test_set, direction, metric), by_series in charts.items():
        signatures = {sig for _, sig in by_series}
        lines = [(system if len(signatures) == 1 else f"{system} ({_short_signature(sig, signatures)})", pts)
                 for (system, sig), pts in by_series.items()]
        title = f"{test_set} · {direction} · {metric_label(metric)}"
        sig_note = "; ".join(sorted(signatures))
        blocks.append(f'<section class="chart-block" data-test-set="{_esc(test_set)}" '
                      f'data-direction="{_esc(direction)}" data-metric="{_esc(metric)}"><h2>{_esc(title)}</h2>'
                      f'<p><small>signature: {_esc(sig_note)}</small></p>{_chart(title, lines, order)}</section>')
    run_rows = "".join(
        f'<tr id="run-{_esc(r.id[:12])}"><td>{_esc(r.id[:12])}</td><td>{_esc(_date(r.started_at))}</td>'
        f'<td>{_esc((r.commit or "—")[:10])}</td><td>{_esc(r.branch or "—")}</td><td>{_esc(r.test_set)}</td>'
        f'<td>{_esc(", ".join(r.systems))}</td></tr>' for r in runs)
    table = ("<table><thead><tr><th>run</th><th>started</th><th>commit</th><th>branch</th><th>test set</th>"
             f"<th>systems</th></tr></thead><tbody>{run_rows}</tbody></table>")
    subtitle = (f"{len(runs)} runs from {_esc(location)}; each band is the score's 95% bootstrap interval; a point "
                "links to its commit (or its run below).")
    return PAGE.format(subtitle=subtitle, charts="\n".join(blocks) or "<p>No scores recorded.</p>", runs=table)


def _short_signature(signature: str, others: set[str]) -> str:
    """The parts of ``signature`` that tell it from the other signatures on the chart (``tok:intl``)."""
    mine = signature.split("|")
    common = set.intersection(*(set(s.split("|")) for s in others))
    return "|".join(p for p in mine if p not in common) or signature


# --------------------------------------------------------------------------- the PR comment


def _row_cells(r: GateRow) -> list[str]:
    c = r.comparison
    arrow = "↑" if c.higher_is_better else "↓"
    return [c.system, c.direction, f"{metric_label(c.metric)} {arrow}", f"{c.a:.2f}", f"{c.b:.2f}", f"{c.delta:+.2f}",
            format_interval(c.ci_low, c.ci_high), format_p(c.p_value, c.test),
            "**REGRESSION**" if r.regression else c.verdict]


def _md(text: str) -> str:
    """Text inside a Markdown paragraph or table cell: no table breaks, no HTML, no line breaks."""
    return html.escape(text.replace("\n", " ").replace("|", "\\|"), quote=False)


def pr_comment(report: GateReport, *, baseline: str, warnings: Sequence[str] = (), report_url: str | None = None,
               clip: int = 300) -> str:
    """Markdown for one sticky PR comment: the verdict, significant changes first and the others folded, broken
    segments with their output before and after, the baseline and its age, the MDD line, the report's link."""
    head = ["system", "direction", "metric", "baseline", "new", "Δ", "CI of Δ", "p", "verdict"]
    significant = [r for r in report.rows if r.regression or r.comparison.verdict != "no significant difference"]
    others = [r for r in report.rows if r not in significant]
    icon = "✅" if report.passed else "❌"
    out = [PR_MARKER, f"## {icon} evalharness check: {_md(verdict(report))}", "",
           f"Baseline: {baseline}"]
    out += [f"> ⚠️ {_md(w)}" for w in warnings]
    out.append("")
    if significant:
        out += [f"### Significant changes ({len(significant)})", "",
                markdown_table(head, [_row_cells(r) for r in sorted(significant, key=lambda r: not r.regression)]),
                ""]
    else:
        out += ["No significant change.", ""]
    if others:
        out += [f"<details><summary>{len(others)} change(s) not significant (the gate tests for worsening only, "
                "one-sided)</summary>", "",
                markdown_table(head, [_row_cells(r) for r in others]), "", "</details>", ""]
    if report.broken:
        out += [f"### Broken segments ({len(report.broken)}, {report.gate.segments.allowed} allowed)", ""]
        for b in report.broken:
            out += [f"**{_md(b.system)} {_md(b.direction)} `{_md(b.id)}`**: {_md(b.reason)}",
                    f"- before: {_md(_clip(b.before, clip))}", f"- after: {_md(_clip(b.after, clip))}", ""]
    note = mdd_note([r.comparison for r in report.rows], report.gate.alpha)
    if note:
        out += [_md(note), ""]
    out += [f"_Note: {_md(n)}_" for n in report.notes]
    out.append(f"[HTML report]({report_url})" if report_url else
               "HTML report: not linked (give --report-url, or run on GitHub Actions)")
    return "\n".join(out).rstrip() + "\n"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
