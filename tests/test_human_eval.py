"""Human evaluation: MQM annotations (Marot TSV) read back into a run, and ESA campaigns exported from one.

The MQM import is held to WMT's weighted sum computed here by hand; the Pearmut export to Pearmut's own campaign
validator (the ``pearmut`` package from the registry, installed into a folder of this test with a Python it
supports: it needs 3.12 or later).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from evalharness.cli import main
from evalharness.corpus import load_corpus
from tests.conftest import CORPUS_NAME, read_segments


def _run(tmp_path: Path, name: str, hyps: list[str]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "ms-en.txt").write_text("".join(f"{h}\n" for h in hyps), encoding="utf-8")
    config = folder / "config.yaml"
    config.write_text("metrics: [chrf]\ndirections: [ms-en]\nsystems:\n  - name: mt\n    backend: files\n"
                      f"    hypotheses:\n      ms-en: {folder / 'ms-en.txt'}\n", encoding="utf-8")
    run_dir = tmp_path / f"run-{name}"
    assert main(["run", "-c", str(config), "--run-dir", str(run_dir), "-q"]) == 0
    return run_dir


def _hyps(cut: int) -> list[str]:
    return [" ".join(p.text("en").split()[: cut + i % 7]) for i, p in enumerate(load_corpus(CORPUS_NAME).pairs)]


# (category, severity) rows per segment and rater, and the WMT weight each should get
ERRORS: list[tuple[str, str, float]] = [
    ("Accuracy/Mistranslation", "Major", 5.0), ("Fluency/Grammar", "Minor", 1.0),
    ("Fluency/Punctuation", "Minor", 0.1), ("Non-translation!", "Major", 25.0), ("No-error", "No-error", 0.0),
    ("Style/Awkward", "Neutral", 0.0),
]


def _tsv(records: list[dict[str, Any]], system: str, seed: int) -> tuple[str, list[float]]:
    """A hand-made Marot TSV over every segment (two raters, a few errors each) and the penalties it should give."""
    lines = ["\t".join(("system", "doc", "docSegId", "globalSegId", "rater", "source", "target", "category",
                        "severity", "metadata"))]
    expected = []
    for i, r in enumerate(records):
        totals = []
        for rater in ("rater1", "rater2"):
            # drawn from the text, so that an output two runs share gets the same annotations in both
            h = sum(map(ord, r["hypothesis"])) + seed
            chosen = [ERRORS[(h * 3 + k + (rater == "rater2")) % len(ERRORS)] for k in range(h % 3 + 1)]
            totals.append(sum(w for _, _, w in chosen))
            words = r["hypothesis"].split()
            marked = " ".join(["<v>" + words[0] + "</v>", *words[1:]])  # the span marks are not part of the text
            lines += ["\t".join((system, "doc1", str(i + 1), str(i + 1), rater, r["source"], marked, cat, sev, "{}"))
                      for cat, sev, _ in chosen]
        expected.append(sum(totals) / len(totals))
    return "\n".join(lines) + "\n", expected


def test_mqm_import_gives_the_wmt_weighted_sum_and_compares_like_any_metric(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = {name: _run(tmp_path, name, _hyps(cut)) for name, cut in (("a", 4), ("b", 6))}
    expected = {}
    for name, run_dir in runs.items():
        records = read_segments(run_dir)
        text, expected[name] = _tsv(records, "mt", 0)
        (tmp_path / f"{name}.tsv").write_text(text, encoding="utf-8")
        report_before = (run_dir / "results.json").read_text(encoding="utf-8")
        assert main(["import", "mqm", str(tmp_path / f"{name}.tsv"), "--run", str(run_dir)]) == 0
        assert (run_dir / "results.json").read_text(encoding="utf-8") != report_before
        mine = [r["scores"]["mqm"] for r in read_segments(run_dir)]
        assert mine == pytest.approx(expected[name], abs=1e-12)
        results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
        score = results["results"]["mt"]["ms-en"]["scores"]["mqm"]
        assert score["score"] == pytest.approx(sum(mine) / len(mine), abs=1e-9)
        assert score["higher_is_better"] is False and score["signature"].startswith("mqm:wmt|major:5|minor:1|")
        assert score["ci"][0] <= score["score"] <= score["ci"][1]
        assert "chrf" in results["results"]["mt"]["ms-en"]["scores"]  # the run's own metrics stay
    capsys.readouterr()
    assert main(["compare", str(runs["a"]), str(runs["b"]), "--metrics", "mqm", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    text = json.dumps(rows)
    assert "mqm" in text
    mean_a, mean_b = (sum(expected[n]) / len(expected[n]) for n in ("a", "b"))
    assert any(abs(x - (mean_b - mean_a)) < 1e-9 for x in _numbers(rows)), rows
    # another penalty for an output already imported is refused, unless --replace
    other, _ = _tsv(read_segments(runs["a"]), "mt", 1)
    (tmp_path / "other.tsv").write_text(other, encoding="utf-8")
    assert main(["import", "mqm", str(tmp_path / "other.tsv"), "--run", str(runs["a"])]) == 2
    assert "--replace" in capsys.readouterr().err
    assert main(["report", str(runs["b"]), "-o", str(tmp_path / "report.html")]) == 0
    assert "MQM" in (tmp_path / "report.html").read_text(encoding="utf-8")


def _numbers(data: Any) -> list[float]:
    if isinstance(data, dict):
        return [x for v in data.values() for x in _numbers(v)]
    if isinstance(data, list):
        return [x for v in data for x in _numbers(v)]
    return [float(data)] if isinstance(data, (int, float)) and not isinstance(data, bool) else []


def test_mqm_import_refuses_bad_rows_and_unannotated_segments_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = _run(tmp_path, "a", _hyps(4))
    records = read_segments(run_dir)
    text, _ = _tsv(records, "mt", 0)
    before = (run_dir / "results.json").read_bytes()
    rows = text.splitlines()
    first = rows[1].split("\t")
    bad = "\n".join([rows[0], "\t".join([*first[:7], "Accuracy/Mistranslation", "Huge", *first[9:]]), *rows[2:]])
    for name, content, words in (
            ("severity.tsv", bad + "\n", "severity 'Huge'"),
            ("partial.tsv", "\n".join(text.splitlines()[:4]) + "\n", "has no MQM row"),
            ("fields.tsv", "mt\tdoc\t1\n", "tab-separated fields")):
        (tmp_path / name).write_text(content, encoding="utf-8")
        assert main(["import", "mqm", str(tmp_path / name), "--run", str(run_dir)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err and name in err, err
        assert (run_dir / "results.json").read_bytes() == before  # nothing half-written


# --------------------------------------------------------------------------- ESA export


def _python_for_pearmut() -> str | None:
    """A Python that Pearmut supports (3.12 or later) on PATH or among pyenv's versions, or None."""
    pyenv = sorted(Path.home().glob(".pyenv/versions/3.1[2-9]*/bin/python3"), reverse=True)
    for found in [shutil.which(n) for n in ("python3.14", "python3.13", "python3.12", "python3")] + pyenv:
        if found and subprocess.run([str(found), "-c", "import sys; assert sys.version_info >= (3, 12)"],
                                    capture_output=True).returncode == 0:
            return str(found)
    return None


_VALIDATE = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
os.chdir(sys.argv[2])
from pearmut.cli import _add_single_campaign
campaign = json.load(open(sys.argv[3], encoding="utf-8"))
_add_single_campaign(campaign, True, None)
stored = json.load(open(os.path.join("data", "campaigns", campaign["campaign_id"] + ".json"), encoding="utf-8"))
print(json.dumps({"protocol": stored["info"]["protocol"], "items": [i for task in stored["data"].values()
                  for doc in task for i in doc]}))
"""


def test_esa_export_of_the_five_worst_segments_loads_in_pearmut(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = _run(tmp_path, "a", _hyps(3))
    out = tmp_path / "campaign.json"
    assert main(["export", "esa", str(run_dir), "--worst", "5", "-o", str(out)]) == 0
    campaign = json.loads(out.read_text(encoding="utf-8"))
    records = read_segments(run_dir)
    worst = sorted(records, key=lambda r: (r["scores"]["chrf"], r["id"]))[:5]
    items = [doc[0] for doc in campaign["data"][0]]
    assert [i["item_id"] for i in items] == [f"mt/ms-en/{r['id']}" for r in worst]
    assert [i["tgt"] for i in items] == [{"mt": r["hypothesis"]} for r in worst]
    assert campaign["info"]["protocol"] == "ESA"
    # Appraise's batches: one a direction, the same five segments
    appraise = tmp_path / "batches.json"
    assert main(["export", "esa", str(run_dir), "--worst", "5", "--format", "appraise", "-o", str(appraise)]) == 0
    batches = json.loads(appraise.read_text(encoding="utf-8"))
    from evalharness.languages import language

    assert [(b["task"]["sourceLanguage"], b["task"]["targetLanguage"]) for b in batches] == [
        (language("ms").iso639_3, language("en").iso639_3)]
    assert [i["targetText"] for i in batches[0]["items"]] == [r["hypothesis"] for r in worst]

    python = _python_for_pearmut()
    if python is None:
        if os.environ.get("EVALHARNESS_REQUIRE_PEARMUT") == "1":
            pytest.fail("no Python 3.12+ for Pearmut's validator")
        pytest.skip("Pearmut needs Python 3.12 or later, and none is on PATH")
    target = tmp_path / "pearmut-lib"
    done = subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), "pearmut",
                           "wonderwords"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    root = tmp_path / "pearmut-root"
    root.mkdir()
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "PEARMUT_ROOT": str(root)}
    checked = subprocess.run([python, "-c", _VALIDATE, str(target), str(root), str(out)], capture_output=True,
                             text=True, timeout=120, env=env)
    assert checked.returncode == 0, checked.stderr[-2000:]
    stored = json.loads(checked.stdout.strip().splitlines()[-1])
    assert stored["protocol"] == "ESA" and [i["item_id"] for i in stored["items"]] == [i["item_id"] for i in items]
