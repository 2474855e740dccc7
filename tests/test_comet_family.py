"""CometKiwi and xCOMET: the same COMET worker and environment, other models (reference-free; error spans).

Fast tests hold their registration, signatures' shape and licence warnings. The slow ones build tiny random-weight
checkpoints with comet's own classes (``UnifiedMetric`` reading (mt, src) as CometKiwi; ``XCOMETMetric``), run the
real CLI with them, and hold every segment score and every error span equal to what comet's own
``load_from_checkpoint(...).predict`` gives on the same segments in the COMET environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest

from evalharness.cli import main
from evalharness.corpus import load_corpus
from evalharness.errors import EvalHarnessWarning, MissingDependencyError
from evalharness.scoring.comet.env import ENV_VAR
from evalharness.scoring.metrics import METRICS, get_metric
from tests.conftest import CORPUS_NAME, cache_hub_model, read_segments, write_hypotheses
from tests.test_comet import comet_env  # noqa: F401  # the fixture: the COMET environment's Python

# --------------------------------------------------------------------------- fast


def test_cometkiwi_reads_no_reference_and_xcomet_reads_all_three() -> None:
    kiwi, xcomet = METRICS.get("cometkiwi"), METRICS.get("xcomet")
    assert kiwi.reads == frozenset({"hypotheses", "sources"}) and kiwi.higher_is_better
    assert xcomet.reads == frozenset({"hypotheses", "references", "sources"}) and xcomet.higher_is_better
    assert (kiwi.label, xcomet.label) == ("CometKiwi", "xCOMET")
    assert get_metric("cometkiwi").options["model"] == "Unbabel/wmt22-cometkiwi-da"
    assert get_metric("xcomet").options["model"] == "Unbabel/XCOMET-XL"
    assert get_metric("comet").options["model"] == "Unbabel/wmt22-comet-da"


@pytest.mark.parametrize(("name", "warns"), [("cometkiwi", True), ("xcomet", True), ("comet", False)])
def test_picking_a_non_commercial_gated_model_warns_naming_its_licence(
        name: str, warns: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "no-env" / "bin" / "python"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # offline or not, the hub model is found cached
    cache_hub_model(tmp_path / "hf-home", get_metric(name).options["model"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(MissingDependencyError):  # the environment is looked at after the warning
            get_metric(name).check_ready()
    said = [str(w.message) for w in caught if issubclass(w.category, EvalHarnessWarning)]
    assert bool(said) == warns
    if warns:
        assert "CC-BY-NC-SA-4.0" in said[0] and "gated" in said[0]
    # a local checkpoint carries its own licence: no warning about the hub model
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(MissingDependencyError):
            get_metric(name, model=str(tmp_path)).check_ready()
    assert not [w for w in caught if issubclass(w.category, EvalHarnessWarning)]


# --------------------------------------------------------------------------- slow: the real comet


@pytest.fixture(scope="module")
def tiny_kiwi(comet_env: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """A random-weight CometKiwi-like checkpoint (``UnifiedMetric``, inputs mt and src)."""
    from evalharness.tiny_model import build_comet

    return build_comet(tmp_path_factory.mktemp("tiny-kiwi") / "model", kind="kiwi", python=comet_env)


@pytest.fixture(scope="module")
def tiny_xcomet(comet_env: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """A random-weight xCOMET checkpoint (``XCOMETMetric``), its tag head drawn so that it finds spans."""
    from evalharness.tiny_model import build_comet

    return build_comet(tmp_path_factory.mktemp("tiny-xcomet") / "model", kind="xcomet", python=comet_env)


_PREDICT = """
import json, sys
from comet import load_from_checkpoint
request = json.load(sys.stdin)
model = load_from_checkpoint(request["ckpt"], local_files_only=True)
samples = [{"src": s, "mt": h, **({} if r is None else {"ref": r})} for s, h, r in request["triples"]]
out = model.predict(samples, batch_size=request["batch_size"], gpus=0, progress_bar=False)
spans = out.metadata.error_spans if "metadata" in out and "error_spans" in out.metadata else None
sys.__stdout__.write(json.dumps({"scores": [float(x) for x in out.scores], "spans": spans}) + "\\n")
"""


def comets_own(python: Path, checkpoint: Path, triples: list[tuple[str, str, str | None]], batch_size: int,
               tmp_path: Path) -> dict[str, Any]:
    """Segment scores and (xCOMET) ``metadata.error_spans`` from comet's own predict in the COMET environment."""
    request = {"ckpt": str(checkpoint / "checkpoints" / "model.ckpt"), "triples": triples, "batch_size": batch_size}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(python), "-c", _PREDICT], input=json.dumps(request), capture_output=True,
                          text=True, timeout=600, cwd=tmp_path, env={**env, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def _config(tmp_path: Path, hyps: dict[str, list[str]], metrics: str, *, name: str, segments: bool = False) -> Path:
    folder = write_hypotheses(tmp_path / name, hyps)
    config = folder / "config.yaml"
    config.write_text(
        f"metrics: {metrics}\ndirections: [{', '.join(hyps)}]\n"
        f"gate: {{tolerance: {{cometkiwi: 0.0, xcomet: 0.0}}, segments: {{enabled: {str(segments).lower()}}}}}\n"
        "systems:\n  - name: outside\n    backend: files\n    hypotheses:\n"
        + "".join(f"      {d}: {folder / f'{d}.txt'}\n" for d in hyps), encoding="utf-8")
    return config


@pytest.mark.slow
def test_run_scores_and_spans_equal_comets_own_predict(
        comet_env: Path, tiny_kiwi: Path, tiny_xcomet: Path, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ENV_VAR, str(comet_env))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    corpus = load_corpus(CORPUS_NAME)
    hyps = {"ms-en": [" ".join(p.text("en").split()[: 4 + i % 9]) for i, p in enumerate(corpus.pairs)]}
    metrics = (f"[{{name: cometkiwi, model: {tiny_kiwi}, batch_size: 4}}, "
               f"{{name: xcomet, model: {tiny_xcomet}, batch_size: 4}}]")
    run_dir = tmp_path / "run"
    config = _config(tmp_path, hyps, metrics, name="cut")
    assert main(["run", "-c", str(config), "--run-dir", str(run_dir), "-q"]) == 0
    records = read_segments(run_dir)
    kiwi = comets_own(comet_env, tiny_kiwi, [(r["source"], r["hypothesis"], None) for r in records], 4, tmp_path)
    xcomet = comets_own(comet_env, tiny_xcomet, [(r["source"], r["hypothesis"], r["reference"]) for r in records],
                        4, tmp_path)
    worst = {name: max(abs(r["raw_scores"][name] - theirs) for r, theirs in zip(records, own["scores"], strict=True))
             for name, own in (("cometkiwi", kiwi), ("xcomet", xcomet))}
    with capsys.disabled():
        print(f"\nper-segment max |evalharness - comet predict| over {len(records)} segments: {worst}")
    assert max(worst.values()) <= 1e-6
    assert all("cometkiwi" not in r.get("error_spans", {}) for r in records)
    ours = [r.get("error_spans", {}).get("xcomet", []) for r in records]
    assert sum(map(len, ours)) > 0, "the tiny xCOMET found no span: the test would hold nothing"
    for mine, theirs in zip(ours, xcomet["spans"], strict=True):
        assert [(s["start"], s["end"], s["severity"], s["text"]) for s in mine] == \
            [(s["start"], s["end"], s["severity"], s["text"]) for s in theirs]
        assert [s["confidence"] for s in mine] == pytest.approx([s["confidence"] for s in theirs], abs=1e-6)
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    scores = results["results"]["outside"]["ms-en"]["scores"]
    assert scores["cometkiwi"]["signature"].startswith(f"nrefs:0|model:{tiny_kiwi}|comet:2.")
    assert scores["xcomet"]["signature"].startswith(f"nrefs:1|model:{tiny_xcomet}|comet:2.")
    assert scores["cometkiwi"]["ci"][0] <= scores["cometkiwi"]["score"] <= scores["cometkiwi"]["ci"][1]

    # a second run is served from the cache, spans included
    again = tmp_path / "again"
    assert main(["run", "-c", str(config), "--run-dir", str(again), "-q"]) == 0
    assert (again / "segments.jsonl").read_bytes() == (run_dir / "segments.jsonl").read_bytes()


# --------------------------------------------------------------------------- runs without references


def _sources_only(tmp_path: Path, n: int = 16) -> tuple[Path, list[str], list[str]]:
    """A ``pairs.jsonl`` with the Malay side alone (the shipped corpus's), and the English it lacks."""
    corpus = load_corpus(CORPUS_NAME)
    pairs = corpus.pairs[:n]
    folder = tmp_path / "ms-only"
    folder.mkdir()
    records = [{"id": p.id, "kind": p.kind, "ms": p.text("ms"),  # its Malay side's quirks are the corpus's too
                "quirks": [{"lang": q.lang, "span": q.span, "note": q.note} for q in p.quirks if q.lang == "ms"]}
               for p in pairs]
    (folder / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return folder, [p.text("ms") for p in pairs], [p.text("en") for p in pairs]


def _qe_config(tmp_path: Path, corpus: Path, hyps: list[str], metrics: str, *, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "ms-en.txt").write_text("".join(f"{h}\n" for h in hyps), encoding="utf-8")
    config = folder / "config.yaml"
    config.write_text(f"corpus: {corpus}\nmetrics: {metrics}\ndirections: [ms-en]\n"
                      "gate: {tolerance: {cometkiwi: 0.0}}\n"
                      "systems:\n  - name: outside\n    backend: files\n    hypotheses:\n"
                      f"      ms-en: {folder / 'ms-en.txt'}\n", encoding="utf-8")
    return config


def test_reference_metrics_on_a_corpus_without_references_are_refused_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus, sources, targets = _sources_only(tmp_path)
    assert main(["corpus", "check", str(corpus)]) == 0  # a corpus of sources only is a sound corpus
    config = _qe_config(tmp_path, corpus, targets, "[chrf]", name="chrf")
    assert main(["run", "-c", str(config), "--run-dir", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "chrF" in err and "no en side" in err and "cometkiwi" in err, err
    assert not (tmp_path / "out").exists()
    # and the other way round: nothing to translate from
    (config.parent / "en-ms.txt").write_text("".join(f"{s}\n" for s in sources), encoding="utf-8")
    config.write_text(config.read_text(encoding="utf-8").replace("ms-en", "en-ms").replace("[chrf]", "[cometkiwi]"),
                      encoding="utf-8")
    assert main(["run", "-c", str(config), "--run-dir", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no en side" in err and "set directions to ms-en" in err, err
    # a pairs.jsonl whose pairs disagree on their sides is refused, naming the line
    lines = (corpus / "pairs.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    lines[1] = json.dumps({**json.loads(lines[1]), "en": "An English side."})
    (corpus / "pairs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    from evalharness.errors import CorpusError

    with pytest.raises(CorpusError, match=r"pairs.jsonl:2: .* has the en side and " + first["id"]):
        load_corpus(corpus)


def test_score_without_references_refuses_reference_metrics(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "src.txt").write_text("a b c\n", encoding="utf-8")
    (tmp_path / "hyp.txt").write_text("a b\n", encoding="utf-8")
    code = main(["score", "--src", str(tmp_path / "src.txt"), "-i", str(tmp_path / "hyp.txt"), "--metrics", "chrf"])
    err = capsys.readouterr().err
    assert code == 2 and "name the reference file(s)" in err and "cometkiwi" in err and err.count("\n") == 1


@pytest.mark.slow
def test_a_sources_only_run_gates_on_cometkiwi(
        comet_env: Path, tiny_kiwi: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ENV_VAR, str(comet_env))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    corpus, sources, targets = _sources_only(tmp_path, n=29)
    metrics = f"[{{name: cometkiwi, model: {tiny_kiwi}, batch_size: 4}}]"
    runs = {}
    # the change the tiny random CometKiwi sees best (its mean moves by ~0.7 points, sd ~1.2, on these 29
    # segments): lowercased outputs. Which way it moves is the random model's business: see below.
    for name, hyps in (("good", targets), ("damaged", [t.lower() for t in targets]), ("again", targets),
                       ("copy", sources)):
        runs[name] = tmp_path / f"run-{name}"
        assert main(["run", "-c", str(_qe_config(tmp_path, corpus, hyps, metrics, name=name)),
                     "--run-dir", str(runs[name]), "-q"]) == 0, capsys.readouterr().err
    records = read_segments(runs["good"])
    assert all("reference" not in r for r in records)
    results = json.loads((runs["good"] / "results.json").read_text(encoding="utf-8"))
    # wrong_language stays on in QE runs (QE scores can be fooled by output in the wrong language): the source
    # copied as the output raises it with no reference to compare with
    copied = json.loads((runs["copy"] / "results.json").read_text(encoding="utf-8"))
    assert copied["results"]["outside"]["ms-en"]["flags"].get("wrong_language", 0) >= len(sources) // 2
    assert results["results"]["outside"]["ms-en"]["flags"].get("wrong_language", 0) == 0
    theirs = comets_own(comet_env, tiny_kiwi, [(s, t, None) for s, t in zip(sources, targets, strict=True)], 4,
                        tmp_path)["scores"]
    assert max(abs(r["raw_scores"]["cometkiwi"] - t) for r, t in zip(records, theirs, strict=True)) <= 1e-6
    for name in ("good", "damaged"):
        assert main(["baseline", "update", str(runs[name]), "-o", str(tmp_path / f"baseline-{name}.json")]) == 0
    capsys.readouterr()
    # an equal run passes; of good -> damaged and damaged -> good, exactly the one whose CometKiwi fell fails (a
    # random-weight model's preference is its own: each is checked against the other, as in test_comet)
    outcomes = {}
    for a, b in (("good", "again"), ("good", "damaged"), ("damaged", "good")):
        code = main(["check", "--baseline", str(tmp_path / f"baseline-{a}.json"), str(runs[b]), "--format", "json"])
        outcomes[f"{a} -> {b}"] = (code, json.loads(capsys.readouterr().out))
    with capsys.disabled():
        print({label: (code, report["failures"]) for label, (code, report) in outcomes.items()})
    assert outcomes["good -> again"][0] == 0
    assert sorted(outcomes[k][0] for k in ("good -> damaged", "damaged -> good")) == [0, 1]
    for code, report in outcomes.values():
        if code == 1:
            assert "REGRESSION" in json.dumps(report) and "CometKiwi" in json.dumps(report)
    # score --src FILE -i HYP --metrics cometkiwi: no --ref
    (tmp_path / "src.txt").write_text("".join(f"{s}\n" for s in sources), encoding="utf-8")
    (tmp_path / "hyp.txt").write_text("".join(f"{t}\n" for t in targets), encoding="utf-8")
    assert main(["score", "--src", str(tmp_path / "src.txt"), "-i", str(tmp_path / "hyp.txt"), "--metrics",
                 "cometkiwi", "--comet-model", str(tiny_kiwi), "--comet-batch-size", "4", "-sl", "--format",
                 "json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["scores"]["cometkiwi"] for x in lines] == pytest.approx([100 * t for t in theirs], abs=1e-4)
    assert lines[0]["signatures"]["cometkiwi"].startswith("nrefs:0|")


@pytest.mark.slow
def test_xcomet_spans_reach_the_report_the_esa_export_and_checks_broken_segments(
        comet_env: Path, tiny_xcomet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ENV_VAR, str(comet_env))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    corpus = load_corpus(CORPUS_NAME)
    metrics = f"[chrf, {{name: xcomet, model: {tiny_xcomet}, batch_size: 4}}]"
    runs = {}
    for name, hyps in (("good", [p.text("en") for p in corpus.pairs]),
                       ("cut", [" ".join(p.text("en").split()[:3]) for p in corpus.pairs])):
        runs[name] = tmp_path / f"run-{name}"
        config = _config(tmp_path, {"ms-en": hyps}, metrics, name=name, segments=True)
        assert main(["run", "-c", str(config), "--run-dir", str(runs[name]), "-q"]) == 0
    records = read_segments(runs["cut"])
    with_spans = [r for r in records if r.get("error_spans", {}).get("xcomet")]
    assert with_spans, "the tiny xCOMET found no span in the cut outputs: the test would hold nothing"

    # the report highlights them (the add-on script and its data), only where a run has spans
    report = tmp_path / "report.html"
    assert main(["report", str(runs["cut"]), "-o", str(report)]) == 0
    page = report.read_text(encoding="utf-8")
    assert "mark.span-major" in page and '"spans":{"outside":{"xcomet":[' in page

    # the ESA export prefills them (inclusive end, critical as major)
    out = tmp_path / "campaign.json"
    assert main(["export", "esa", str(runs["cut"]), "--worst", "5", "--by", "xcomet", "-o", str(out)]) == 0
    items = {doc[0]["item_id"]: doc[0] for doc in json.loads(out.read_text(encoding="utf-8"))["data"][0]}
    by_id = {f"outside/ms-en/{r['id']}": r for r in records}
    assert len(items) == 5
    for item_id, item in items.items():
        spans = by_id[item_id].get("error_spans", {}).get("xcomet", [])
        assert item.get("error_spans", {}).get("outside", []) == [
            {"start_i": s["start"], "end_i": s["end"] - 1, "severity": "minor" if s["severity"] == "minor" else "major",
             "category": None} for s in spans if s["end"] > s["start"]]

    # check's broken-segment listing shows the new version's spans
    assert main(["baseline", "update", str(runs["good"]), "-o", str(tmp_path / "baseline.json")]) == 0
    capsys.readouterr()
    assert main(["check", "--baseline", str(tmp_path / "baseline.json"), str(runs["cut"]), "--format", "json"]) == 1
    broken = json.loads(capsys.readouterr().out)["broken_segments"]
    spanned = [b for b in broken if "spans" in b]
    assert spanned and all(b["spans"]["xcomet"] == next(r for r in records if r["id"] == b["id"])["error_spans"][
        "xcomet"] for b in spanned)
    assert main(["check", "--baseline", str(tmp_path / "baseline.json"), str(runs["cut"])]) == 1
    assert "spans (xCOMET): " in capsys.readouterr().out
