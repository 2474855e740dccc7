"""Run directories and baselines written before the metric and run-path redesign still load and compare.

``tests/data/legacy-0.1.0`` holds what evalharness 0.1.0 wrote (commit 05da135) for ``configs/ci-example.yaml``
with the tiny model: a run directory and a baseline made from it. Nothing in it may be regenerated: it stands for
the files users already have.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evalharness.cli import main
from evalharness.runs.files import read_run
from tests.conftest import REPO

LEGACY = REPO / "tests" / "data" / "legacy-0.1.0"


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    """A copy, so that nothing a command writes can land in the repository."""
    shutil.copytree(LEGACY, tmp_path / "legacy")
    return tmp_path / "legacy"


def test_an_old_run_and_baseline_load_and_compare(legacy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = read_run(legacy / "run")
    assert {name for name, _ in run.pairs()} == {"tiny-marian", "copy-source"}
    assert main(["compare", str(legacy / "baseline.json"), str(legacy / "run"), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["comparisons"]
    assert len(rows) == 16 and all(r["delta"] == 0 for r in rows)  # 2 systems × 2 directions × 4 metrics
    assert {r["metric"] for r in rows} == {"bleu", "chrf", "chrf++", "ter"}
    # the old run's own scores are recomputed from its segments with today's metric classes: equal, or compare
    # would have refused ("the files do not belong together")
    assert main(["compare", str(legacy / "run"), str(legacy / "run"), "--metrics", "chrf"]) == 0
    assert main(["report", str(legacy / "run"), "-o", str(legacy / "report.html")]) == 0
    assert (legacy / "report.html").stat().st_size > 0


def test_an_old_baseline_gates_a_new_run_of_the_same_outputs(legacy: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A baseline from before, checked against today's run of the same outputs (the files backend): no regression."""
    segments = [json.loads(line) for line in (legacy / "run" / "segments.jsonl").read_text(encoding="utf-8")
                .splitlines() if line]
    hyps = {}
    for direction in ("ms-en", "en-ms"):
        lines = [s["hypothesis"] for s in segments if s["system"] == "tiny-marian" and s["direction"] == direction]
        hyps[direction] = tmp_path / f"{direction}.txt"
        hyps[direction].write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = tmp_path / "files.yaml"
    config.write_text((REPO / "configs" / "ci-example.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    code = main(["check", "--baseline", str(legacy / "baseline.json"), "-c", str(config), "-q",
                 "--run-dir", str(tmp_path / "new"),
                 "--set", "systems=[{name: copy-source, backend: copy}, {name: tiny-marian, backend: files, "
                          f"hypotheses: {{ms-en: {hyps['ms-en']}, en-ms: {hyps['en-ms']}}}}}]"])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    assert "PASS" in out.out
