"""Screenshots of the HTML report, made the same way every time, so the README's picture cannot drift.

    python docs/screenshots.py OUT_DIR [--name report-tiny-model.png ...] [--keep WORK_DIR]

Builds the random-weight tiny Marian model (``python -m evalharness.tiny_model``), runs the shipped
``configs/ci-example.yaml`` with it twice -- greedy (run ``greedy``) and with two beams (run ``beam2``) --
writes the report comparing the two runs and opens it in headless chromium through playwright, in a window
1400 px wide. For each ``--name`` (default ``report-tiny-model.png``) it saves two PNGs under OUT_DIR: NAME,
the full page from the top, cut at ``--height`` px (scores, comparison, charts), and NAME-segments.png,
``--segments-height`` px of the full page from the "Segments" heading on. Both are cut at the window's
width, so a page wider than the window shows as cut off.

Everything else goes to a temporary folder (or ``--keep``); the translation cache is not used. The
commands run in child processes, from that folder, with the evalharness this Python imports:
``PYTHONPATH=OTHER_CHECKOUT python docs/screenshots.py …`` pictures another version of the report.
Needs Debian's chromium (``/usr/bin/chromium``, or ``$EVALHARNESS_CHROMIUM``) and playwright
(``pip install playwright``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "configs" / "ci-example.yaml"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WIDTH = 1400
# The two runs the report compares: a label (the run directory's name, shown in the report) and overrides.
RUNS = {"greedy": [], "beam2": ["--set", "systems.1.generation.num_beams=2"]}


def _evalharness(work: Path, *args: str) -> None:
    """Run one evalharness command in a child process, as a user would, in ``work``; stop on failure."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", *args], cwd=work, env=env, check=True)


def build_report(work: Path) -> Path:
    """Tiny model, two runs, one report; returns the report's path."""
    model = work / "tiny-marian"
    _evalharness(work, "evalharness.tiny_model", str(model))
    runs = []
    for label, overrides in RUNS.items():
        run = work / label
        _evalharness(work, "evalharness", "run", "-c", str(CONFIG), "--set", f"systems.1.model={model}", *overrides,
                     "--run-dir", str(run), "--overwrite", "--no-cache", "-q")
        runs.append(str(run))
    report = work / "report.html"
    _evalharness(work, "evalharness", "report", *runs, "-o", str(report))
    return report


def screenshot(report: Path, out: Path, height: int, segments_height: int) -> list[Path]:
    """PNGs of the loaded report: the top of the page, and its segment table; returns their paths."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise SystemExit("screenshots need playwright: pip install playwright") from None
    chromium = os.environ.get("EVALHARNESS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": WIDTH, "height": 900})
        page.goto(report.resolve().as_uri())
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        width, full = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        print(f"the report page is {width} x {full} px")
        segments = page.evaluate("document.getElementById('segment-controls').closest('section')"
                                 ".getBoundingClientRect().top + window.scrollY - 8")
        table = out.with_name(f"{out.stem}-segments{out.suffix}")
        for path, top, tall in ((out, 0, height), (table, int(segments), segments_height)):
            page.screenshot(path=str(path), full_page=True,
                            clip={"x": 0, "y": top, "width": WIDTH, "height": min(int(full) - top, tall)})
        browser.close()
    return [out, table]


def main(argv: list[str] | None = None) -> int:
    """Build the report and write the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="folder for the PNG files")
    parser.add_argument("--name", action="append", help="file name of a PNG (repeatable; the same picture "
                        "under each name); default report-tiny-model.png")
    parser.add_argument("--height", type=int, default=2400, help="cut the page from the top at this many px")
    parser.add_argument("--segments-height", type=int, default=900, help="px of the page from 'Segments' on")
    parser.add_argument("--keep", type=Path, help="keep the model, runs and report.html in this folder")
    args = parser.parse_args(argv)
    start = time.monotonic()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="evalharness-shots-") as tmp:
        work = (args.keep or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        report = build_report(work)
        shots: list[Path] = []
        for name in args.name or ["report-tiny-model.png"]:
            target = args.out_dir / name
            if not shots:
                shots = screenshot(report, target, args.height, args.segments_height)
                made = shots
            else:
                made = [target, target.with_name(f"{target.stem}-segments{target.suffix}")]
                for source, copy in zip(shots, made, strict=True):
                    shutil.copyfile(source, copy)
            for path in made:
                print(f"{path} ({path.stat().st_size // 1024} KiB)")
    print(f"done in {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
