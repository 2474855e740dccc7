"""The HTML report: self-contained and escaped; in a real browser (Debian's chromium driven by playwright)."""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evalharness.cli import main
from evalharness.corpus import load_corpus
from evalharness.render.terminal import print_results
from evalharness.runs.files import load_results
from tests.conftest import CORPUS_NAME

XSS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "</script><script>alert(2)</script>"]
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _files_run(tmp_path: Path, name: str, ms: list[str], en: list[str], hyp_en: list[str], hyp_ms: list[str],
               *extra: str, split: bool = False) -> Path:
    """A run of one files system serving both directions, or (``split``) of two, each serving one."""
    folder = tmp_path / name
    folder.mkdir()
    for file, lines in (("src.ms", ms), ("src.en", en), ("hyp.en", hyp_en), ("hyp.ms", hyp_ms)):
        (folder / file).write_text("".join(f"{x}\n" for x in lines), encoding="utf-8")
    if split:
        one_each = (("to-en", "ms-en", folder / "hyp.en"), ("to-ms", "en-ms", folder / "hyp.ms"))
        systems = "".join(f"  - {{name: {name}, backend: files, directions: [{d}], hypotheses: {{{d}: {path}}}}}\n"
                          for name, d, path in one_each)
    else:
        systems = (f"  - {{name: mt, backend: files, hypotheses: {{ms-en: {folder / 'hyp.en'}, "
                   f"en-ms: {folder / 'hyp.ms'}}}}}\n")
    config = folder / "c.yaml"
    config.write_text(f"corpus: {{ms: {folder / 'src.ms'}, en: {folder / 'src.en'}}}\nsystems:\n{systems}",
                      encoding="utf-8")
    assert main(["run", "-c", str(config), "--run-dir", str(folder / "run"), "-q", *extra]) == 0
    return folder / "run"


def _corpus_run(tmp_path: Path, name: str, cut: int, *, split: bool = False) -> Path:
    """The reference corpus with outputs that lose ``cut`` words each (so scores differ by segment)."""
    pairs = load_corpus(CORPUS_NAME).pairs
    ms, en = [p.text("ms") for p in pairs], [p.text("en") for p in pairs]
    hyp_en = [" ".join(t.split()[: max(1, len(t.split()) - (i % 5) * cut)]) for i, t in enumerate(en)]
    return _files_run(tmp_path, name, ms, en, hyp_en, ms, split=split)


def test_report_is_self_contained_and_escaped(tmp_path: Path) -> None:
    ms = ["Satu.", f"Dua {XSS[0]}", "Tiga."]
    en = ["One.", f"Two {XSS[1]}", "Three."]
    run = _files_run(tmp_path, "xss", ms, en, [en[0], XSS[2], en[2]], ms)
    out = tmp_path / "report.html"
    assert main(["report", str(run), "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    for payload in XSS:
        assert payload not in html
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in html
    assert "<link" not in html and "src=\"http" not in html and "href=\"http" not in html
    assert "default-src 'none'" in html  # and the page may not fetch anything even if it tried


def test_report_of_two_runs_has_deltas(tmp_path: Path) -> None:
    a, b = _corpus_run(tmp_path, "a", 0), _corpus_run(tmp_path, "b", 2)
    out = tmp_path / "r.html"
    assert main(["report", str(a), str(b), "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    start = html.index('id="evalharness-data">') + len('id="evalharness-data">')
    data = json.loads(html[start : html.index("</script>", start)])
    rows = {(c["direction"], c["metric"]): c for c in data["comparisons"]}
    assert rows[("ms-en", "bleu")]["delta"] < 0 and rows[("ms-en", "bleu")]["verdict"] == "worse"
    assert rows[("en-ms", "bleu")]["delta"] == 0
    assert [r["label"] for r in data["runs"]] == ["run", "run'"]


def _report_data(html: str) -> dict[str, Any]:
    start = html.index('id="evalharness-data">') + len('id="evalharness-data">')
    data: dict[str, Any] = json.loads(html[start : html.index("</script>", start)])
    return data


def test_terminal_summary_and_report_print_the_same_intervals_and_p(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """One pair through check's terminal table, its summary.md and the report: the same test (the gate's), the
    same interval and p strings; the run's score intervals likewise, rounded to the nearest in all three."""
    a, b = _corpus_run(tmp_path, "a", 0), _corpus_run(tmp_path, "b", 2)
    main(["check", str(b), "--baseline", str(a), "--summary-md", str(tmp_path / "check.md")])
    terminal = capsys.readouterr().out
    markdown = (tmp_path / "check.md").read_text(encoding="utf-8")
    assert main(["report", str(a), str(b), "-o", str(tmp_path / "r.html")]) == 0
    data = _report_data((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert data["comparisons"]
    for c in data["comparisons"]:
        assert "test:maxt|sided:one" in c["test"]  # the gate's test, not a two-sided paired bootstrap
        for text in (terminal, markdown):
            line = next(x for x in text.splitlines() if c["label"] in x and c["direction"] in x)
            assert c["ci_text"] in line and f" {c['p_text']} " in line, (c, line)
    results = json.loads((b / "results.json").read_text(encoding="utf-8"))["results"]
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'data-testid": "breakdown"' in html  # the page shows BLEU's breakdown where results.json has one
    assert data["score_rows"][-1]["scores"]["bleu"]["breakdown"]["verbose_score"] == results[
        data["score_rows"][-1]["system"]][data["score_rows"][-1]["direction"]]["scores"]["bleu"]["breakdown"][
        "verbose_score"]
    summary = (b / "summary.md").read_text(encoding="utf-8")
    for row in data["score_rows"][len(data["score_rows"]) // 2:]:  # run b's rows
        for metric, ci_text in row["ci_text"].items():
            low, high = results[row["system"]][row["direction"]]["scores"][metric]["ci"]
            assert ci_text == f"[{low:.2f}, {high:.2f}]"  # nearest, two decimals
            assert ci_text in summary
    shown = io.StringIO()  # not a terminal: 80 columns, so the narrow "low–high" form
    print_results(load_results(b), file=shown)
    for row in data["score_rows"][len(data["score_rows"]) // 2:]:
        for ci_text in row["ci_text"].values():
            low, high = ci_text.strip("[]").split(", ")
            assert f"{low}–{high}" in shown.getvalue(), (ci_text, shown.getvalue())


def test_report_of_a_missing_run_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nope"), "-o", str(tmp_path / "r.html")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


# --------------------------------------------------------------------------- in a real browser


def _chromium() -> str | None:
    return os.environ.get("EVALHARNESS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        path = None
    if path is None:
        if os.environ.get("EVALHARNESS_REQUIRE_BROWSER") == "1":
            pytest.fail("EVALHARNESS_REQUIRE_BROWSER=1 but chromium or playwright is missing")
        pytest.skip("needs Debian's chromium (apt-get install chromium) and playwright (pip install playwright)")
    with sync_playwright() as pw:
        engine = pw.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield engine
        engine.close()


class Page:
    """A loaded report page with what the browser reported while loading it."""

    def __init__(self, browser: Any, html: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        start = time.monotonic()
        self.page.goto(html.resolve().as_uri())
        self.page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        self.load_s = time.monotonic() - start

    def ids(self) -> list[str]:
        rows = self.page.eval_on_selector_all("#segments tr[data-id]", "rows => rows.map(r => r.dataset.id)")
        return [str(x) for x in rows]

    def columns(self) -> list[str]:
        """The hypothesis columns of the segment table: one per run's system serving the direction shown."""
        keys = self.page.eval_on_selector_all("#segments th.hyp", "ths => ths.map(t => t.dataset.system)")
        return [str(x) for x in keys]

    def cells(self, key: str) -> list[str]:
        """The text of one hypothesis column, row by row."""
        texts = self.page.eval_on_selector_all("#segments tbody tr", "(rows, key) => rows.map(r => "
                                               "r.querySelector(`td[data-system=\"${key}\"]`).textContent)", key)
        return [str(x) for x in texts]

    def scores(self, key: str, metric: str) -> list[float | None]:
        """One system's score column, row by row; None where the row has none."""
        cells = self.page.eval_on_selector_all(
            "#segments tbody tr", "(rows, [key, m]) => rows.map(r => { const c = r.querySelector("
            "`td[data-system=\"${key}\"] .score[data-metric=\"${m}\"] b`); return c ? c.textContent : null; })",
            [key, metric])
        return [None if x is None else float(x) for x in cells]

    def sort(self, key: str, metric: str) -> None:
        """Click the button that sorts by one system's score."""
        header = f"#segments th[data-system={json.dumps(key)}]"
        self.page.locator(f"{header} button[data-metric={json.dumps(metric)}]").click()


def _artifact(page: Any, tmp_path: Path, name: str) -> Path:
    """Save a screenshot under tmp_path, and under $EVALHARNESS_ARTIFACTS when CI sets it."""
    shot = tmp_path / name
    page.screenshot(path=str(shot))
    target = os.environ.get("EVALHARNESS_ARTIFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(target) / name)
    return shot


def test_page_loads_without_errors_and_sorts(browser: Any, tmp_path: Path) -> None:
    run = _corpus_run(tmp_path, "run", 3)
    assert main(["report", str(run), "-o", str(tmp_path / "r.html")]) == 0
    view = Page(browser, tmp_path / "r.html")
    assert view.errors == []
    assert view.page.locator("[data-testid=score-table] tr").count() == 3  # header + two directions
    assert view.page.get_attribute("#segments", "data-direction") == "ms-en"  # one direction at a time
    assert view.columns() == ["mt"]
    before = view.ids()
    assert before[:3] == ["L0001", "L0002", "L0003"]
    view.sort("mt", "bleu")
    scores = view.scores("mt", "bleu")
    assert None not in scores and scores == sorted(scores, key=lambda x: x or 0) and len(set(scores)) > 1
    assert view.ids() != before
    view.sort("mt", "bleu")
    again = view.scores("mt", "bleu")
    assert again == sorted(again, key=lambda x: x or 0, reverse=True)
    view.page.locator("[data-testid=direction]").select_option("en-ms")
    assert view.page.get_attribute("#segments", "data-direction") == "en-ms"
    assert len(set(view.scores("mt", "bleu"))) == 1  # en-ms copies the reference: every score the same
    view.page.locator("[data-testid=filter]").fill("L0007")
    assert view.ids() == ["L0007"]
    assert _artifact(view.page, tmp_path, "report.png").stat().st_size > 10_000
    assert view.errors == []


def test_each_direction_has_only_the_systems_that_serve_it(browser: Any, tmp_path: Path) -> None:
    """Two runs of two systems that each serve one direction: every column of every table has text."""
    a, b = _corpus_run(tmp_path, "a", 0, split=True), _corpus_run(tmp_path, "b", 2, split=True)
    assert main(["report", str(a), str(b), "-o", str(tmp_path / "r.html")]) == 0
    view = Page(browser, tmp_path / "r.html")
    expected = {"ms-en": ["run/to-en", "run'/to-en"], "en-ms": ["run/to-ms", "run'/to-ms"]}
    for direction, keys in expected.items():
        view.page.locator("[data-testid=direction]").select_option(direction)
        assert view.columns() == keys
        headers = view.page.eval_on_selector_all("#segments thead th", "ths => ths.length")
        assert headers == 3 + len(keys)  # id, source, reference and one hypothesis column per system
        for key in keys:
            cells = view.cells(key)
            assert len(cells) == 29 and all(c.strip() and "not in this run" not in c for c in cells), key
    width = view.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1400, f"the page is {width} px wide in a 1400 px window"
    assert view.errors == []


def test_empty_values_sort_last_in_both_orders(browser: Any, tmp_path: Path) -> None:
    """Run B scored only the medium-length segments: its column is empty on the short ones, which sort last."""
    sentence = "the ministers of both countries met in Tokyo on Saturday to discuss security and the navy"
    words = sentence.split()
    en = [" ".join(words[: 4 + i]) if i % 2 else " ".join(words[: 5] + words[: 12 + i]) for i in range(8)]
    ms = [f"{t} ." for t in en]  # L0001, L0003, …: medium (15-39 words); L0002, L0004, …: short (< 15)
    hyp = [" ".join(t.split()[: len(t.split()) - i]) for i, t in enumerate(en)]
    a = _files_run(tmp_path, "a", ms, en, hyp, ms)
    b = _files_run(tmp_path, "b", ms, en, hyp, ms, "--where", "length=medium")
    assert main(["report", str(a), str(b), "-o", str(tmp_path / "r.html")]) == 0
    view = Page(browser, tmp_path / "r.html")
    assert view.columns() == ["run/mt", "run'/mt"]
    assert sum("not in this run" in c for c in view.cells("run'/mt")) == 4
    for order in (sorted, lambda xs: sorted(xs, reverse=True)):
        view.sort("run'/mt", "bleu")
        scores = view.scores("run'/mt", "bleu")
        present = [x for x in scores if x is not None]
        assert len(present) == 4 and len(set(present)) > 1
        assert scores == [*order(present), None, None, None, None]
        assert view.ids()[4:] == ["L0002", "L0004", "L0006", "L0008"]  # empty rows keep corpus order
    assert view.errors == []


def test_every_metric_can_be_charted(browser: Any, tmp_path: Path) -> None:
    run = _corpus_run(tmp_path, "run", 3)
    assert main(["report", str(run), "-o", str(tmp_path / "r.html")]) == 0
    view = Page(browser, tmp_path / "r.html")
    metrics = view.page.eval_on_selector_all("[data-testid=chart-metric] option", "os => os.map(o => o.value)")
    assert metrics == ["bleu", "chrf", "chrf++", "ter"]
    legends = set()
    for metric in metrics:
        view.page.locator("[data-testid=chart-metric]").select_option(metric)
        histograms = view.page.locator("[data-testid=histogram]")
        assert histograms.count() == 2  # one system, two directions
        for i in range(2):
            chart = histograms.nth(i)
            assert chart.get_attribute("data-metric") == metric
            counts = chart.locator("rect").evaluate_all("rs => rs.map(r => Number(r.dataset.count))")
            assert sum(counts) == 29  # every segment in some bin, TER's above 100 included
            legends.add(chart.locator(".legend").inner_text())
        tops = {histograms.nth(i).get_attribute("data-top") for i in range(2)}
        assert len(tops) == 1, tops  # one axis for both directions
        if metric != "ter":
            assert tops == {"100"}  # sentence BLEU of 100.00000000000001 must not stretch it to 150
        slices = view.page.locator("[data-testid=slice-chart]")
        assert slices.count() == 2 and all(slices.nth(i).get_attribute("data-metric") == metric for i in range(2))
        assert view.page.locator("[data-testid=slice-chart] rect").count() > 2
    assert len(legends) == 2 * len(metrics)  # a different distribution (mean) for each metric and direction
    assert view.errors == []


def test_script_in_a_segment_runs_nothing(browser: Any, tmp_path: Path) -> None:
    ms = ["Satu.", f"Dua {XSS[0]}", "Tiga."]
    en = ["One.", f"Two {XSS[1]}", "Three."]
    run = _files_run(tmp_path, "xss", ms, en, [en[0], XSS[2], en[2]], [ms[0], XSS[1], ms[2]])
    assert main(["report", str(run), "-o", str(tmp_path / "x.html")]) == 0
    view = Page(browser, tmp_path / "x.html")
    view.page.wait_for_timeout(300)  # give any injected handler (onerror) the chance to fire
    assert view.dialogs == []
    assert view.errors == []
    text = view.page.inner_text("#segments")
    for payload in XSS:
        assert payload.split(" ")[0] in text  # shown as text, e.g. "<script>alert(1)</script>"
    assert "<img src=x onerror=alert(1)>" in text
    assert view.page.locator("#segments img").count() == 0
    assert view.page.locator("#segments script").count() == 0


@pytest.mark.slow
def test_ten_thousand_segments_render_their_first_page_quickly(browser: Any, tmp_path: Path) -> None:
    n = 10_000
    ms = [f"Ayat nombor {i} tentang mesyuarat di Tokyo." for i in range(n)]
    en = [f"Sentence number {i} about the meeting in Tokyo." for i in range(n)]
    hyp = [f"Sentence {i} about a meeting in Tokyo." for i in range(n)]
    run = _files_run(tmp_path, "big", ms, en, hyp, ms, "--set", "flags.enabled=false", "--set", "metrics=[bleu,chrf]")
    assert main(["report", str(run), "-o", str(tmp_path / "big.html")]) == 0
    view = Page(browser, tmp_path / "big.html")
    assert view.errors == []
    assert view.load_s < 15, f"first page after {view.load_s:.1f} s"  # seen here: about 2 s
    assert len(view.ids()) == 50  # paged: only one page in the DOM
    assert view.page.inner_text("[data-testid=page-info]") == "page 1 of 200 · 10000 segments"  # one direction
    view.page.locator("[data-testid=next]").click()
    assert view.ids()[0] == "L00051"
    _artifact(view.page, tmp_path, "report-10000.png")
