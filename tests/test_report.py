"""The HTML report: self-contained and escaped; in a real browser (Debian's chromium driven by playwright)."""

from __future__ import annotations

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
from tests.conftest import CORPUS_NAME

XSS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "</script><script>alert(2)</script>"]
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _files_run(tmp_path: Path, name: str, ms: list[str], en: list[str], hyp_en: list[str], hyp_ms: list[str],
               *extra: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for file, lines in (("src.ms", ms), ("src.en", en), ("hyp.en", hyp_en), ("hyp.ms", hyp_ms)):
        (folder / file).write_text("".join(f"{x}\n" for x in lines), encoding="utf-8")
    config = folder / "c.yaml"
    config.write_text(f"corpus: {{ms: {folder / 'src.ms'}, en: {folder / 'src.en'}}}\n"
                      "systems:\n  - name: mt\n    backend: files\n    hypotheses:\n"
                      f"      ms-en: {folder / 'hyp.en'}\n      en-ms: {folder / 'hyp.ms'}\n", encoding="utf-8")
    assert main(["run", "-c", str(config), "--run-dir", str(folder / "run"), "-q", *extra]) == 0
    return folder / "run"


def _corpus_run(tmp_path: Path, name: str, cut: int) -> Path:
    """The reference corpus with outputs that lose ``cut`` words each (so scores differ by segment)."""
    pairs = load_corpus(CORPUS_NAME).pairs
    ms, en = [p.text("ms") for p in pairs], [p.text("en") for p in pairs]
    hyp_en = [" ".join(t.split()[: max(1, len(t.split()) - (i % 5) * cut)]) for i, t in enumerate(en)]
    return _files_run(tmp_path, name, ms, en, hyp_en, ms)


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
    before = view.ids()
    assert before[:3] == ["L0001", "L0002", "L0003"]
    view.page.locator("[data-testid=direction]").select_option("ms-en")
    header = view.page.locator("#segments th.sortable").nth(1)  # BLEU of the only system, ms-en only
    header.click()
    scores = [float(x) for x in view.page.eval_on_selector_all(
        "#segments tr[data-id] td.num", "cells => cells.filter((_, i) => i % 4 === 0).map(c => c.textContent)")]
    assert scores == sorted(scores) and scores != [scores[0]] * len(scores)
    assert view.ids() != before
    header = view.page.locator("#segments th.sortable").nth(1)
    header.click()
    again = [float(x) for x in view.page.eval_on_selector_all(
        "#segments tr[data-id] td.num", "cells => cells.filter((_, i) => i % 4 === 0).map(c => c.textContent)")]
    assert again == sorted(again, reverse=True)
    view.page.locator("[data-testid=filter]").fill("L0007")
    assert view.ids() == ["L0007"]
    assert _artifact(view.page, tmp_path, "report.png").stat().st_size > 10_000
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
    assert view.page.inner_text("[data-testid=page-info]") == "page 1 of 400 · 20000 segments"
    view.page.locator("[data-testid=next]").click()
    assert view.ids()[0] == "L00051"
    _artifact(view.page, tmp_path, "report-10000.png")
