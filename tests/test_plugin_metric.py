"""A metric from another package: installed with pip into a folder of the test's own, found through the
``evalharness.metrics`` entry point, configured with settings of its own, and carried through ``run``,
``baseline update``, ``check``, ``compare`` and ``report`` by the real CLI, touching no file of evalharness.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import CORPUS_DIR, REPO, read_results

PLUGIN = '''
"""Exact match: the share of segments whose hypothesis equals a reference, optionally ignoring case."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from evalharness.scoring.metrics import Metric, reference_sets
from evalharness.scoring.signature import Signature


class ExactSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    casefold: bool = False


class ExactMatch(Metric):
    name = "exact"
    label = "Exact"
    higher_is_better = True
    default_tolerance = 5.0
    Settings = ExactSettings

    @property
    def signature(self) -> str:
        return str(Signature([("nrefs", 1), ("case", "fold" if self.options["casefold"] else "mixed"),
                              ("version", "0.1")]))

    def segment_stats(self, hypotheses: Any, references: Any, *, sources: Any = None) -> np.ndarray:
        first = reference_sets(references)[0]
        fold = (lambda s: s.casefold()) if self.options["casefold"] else (lambda s: s)
        hits = [float(fold(h) == fold(r)) for h, r in zip(hypotheses, first, strict=True)]
        return np.column_stack([hits, np.ones(len(hits))]) if hits else np.zeros((0, 2))

    def score_of_sum(self, summed: Any) -> float:
        return 100.0 * float(summed[0]) / float(summed[1]) if summed[1] else 0.0
'''

PYPROJECT = '''
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "evalharness-exact-plugin"
version = "0.1"

[project.entry-points."evalharness.metrics"]
exact = "eh_exact:ExactMatch"
'''


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plug-in package built and installed by pip into a target folder (its module and its dist-info)."""
    src = tmp_path_factory.mktemp("plugin-src")
    (src / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    (src / "eh_exact.py").write_text(PLUGIN, encoding="utf-8")
    site = tmp_path_factory.mktemp("plugin-site")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                           "--no-index", "--target", str(site), str(src)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert list(site.glob("evalharness_exact_plugin-0.1.dist-info/entry_points.txt"))
    return site


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evalharness", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def test_a_plugin_metric_with_settings_runs_gates_compares_and_reports(plugin_site: Path, tmp_path: Path,
                                                                      cli_env: dict[str, str]) -> None:
    env = {**cli_env, "PYTHONPATH": os.pathsep.join([str(plugin_site), str(REPO)]),
           "EVALHARNESS_CACHE_DIR": str(tmp_path / "cache")}
    pairs = (CORPUS_DIR / "pairs.jsonl").read_text(encoding="utf-8").splitlines()
    refs = [json.loads(line)["en"]["text"] for line in pairs if line.strip()]
    good = [r.upper() if i % 2 else r for i, r in enumerate(refs)]  # equal to the reference up to case
    worse = [r if i % 2 else "nothing like it" for i, r in enumerate(good)]  # the exact ones lost
    for name, lines in (("good", good), ("worse", worse)):
        (tmp_path / f"{name}.en").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for name, hyp in (("good", "good"), ("worse", "worse")):
        (tmp_path / f"{name}.yaml").write_text(textwrap.dedent(f"""\
            directions: [ms-en]
            metrics: [chrf, {{name: exact, casefold: true}}]
            statistics: {{resamples: 200, seed: 1}}
            gate: {{tolerance: {{exact: 2.0}}, segments: {{enabled: false}}}}
            systems:
              - {{name: mt, backend: files, hypotheses: {{ms-en: {tmp_path / f"{hyp}.en"}}}}}
            """), encoding="utf-8")

    done = _cli(["run", "-c", "good.yaml", "--run-dir", "good-run", "-q"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    results = read_results(tmp_path / "good-run")
    info = results["manifest"]["metrics"]["exact"]
    assert info["options"] == {"casefold": True} and info["signature"] == "nrefs:1|case:fold|version:0.1"
    assert {"name": "exact", "casefold": True} in results["manifest"]["config"]["metrics"]
    score = results["results"]["mt"]["ms-en"]["scores"]["exact"]["score"]
    assert score == pytest.approx(100.0)  # casefold: every segment matches

    assert _cli(["baseline", "update", "good-run", "-o", "base.json"], env, tmp_path).returncode == 0
    same = _cli(["check", "--baseline", "base.json", "-c", "good.yaml", "--run-dir", "again", "-q"], env, tmp_path)
    assert same.returncode == 0, same.stdout + same.stderr
    bad = _cli(["check", "--baseline", "base.json", "-c", "worse.yaml", "--run-dir", "worse-run"], env, tmp_path)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "REGRESSION" in bad.stdout and "Exact" in bad.stdout

    compared = _cli(["compare", "good-run", "worse-run", "--metrics", "exact", "--format", "json"], env, tmp_path)
    assert compared.returncode == 0, compared.stderr
    row = json.loads(compared.stdout)["comparisons"][0]
    assert row["metric"] == "exact" and row["delta"] == pytest.approx(-score / 2, abs=100 / len(refs))

    report = _cli(["report", "good-run", "worse-run", "-o", "report.html"], env, tmp_path)
    assert report.returncode == 0, report.stderr
    assert "Exact" in (tmp_path / "report.html").read_text(encoding="utf-8")

    # the plug-in's own settings model refuses a bad setting: one line naming the key, exit 2
    (tmp_path / "bad.yaml").write_text((tmp_path / "good.yaml").read_text(encoding="utf-8").replace(
        "casefold: true", "casefold: true, stem: yes"), encoding="utf-8")
    refused = _cli(["run", "-c", "bad.yaml", "--run-dir", "bad-run"], env, tmp_path)
    assert refused.returncode == 2 and "metrics.1.stem" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert not (tmp_path / "bad-run").exists()
    # the package's files are untouched: the plug-in lives only in the test's folders
    assert not list(REPO.glob("eh_exact*")) and not list((REPO / "evalharness").rglob("eh_exact*"))
