"""End to end through the real CLI: the tiny local Marian model, the files system, and the offline failure."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sacrebleu

from evalharness.cli import main
from evalharness.corpus import load_corpus
from evalharness.runs.schema import SCHEMA_VERSION
from tests.conftest import CORPUS_NAME, REPO, read_results, read_segments

DEFAULT = REPO / "configs" / "default.yaml"
FAST = ["--set", "systems.0.generation.max_new_tokens=24", "--set", "systems.1.generation.max_new_tokens=24",
        "--set", "systems.0.generation.num_beams=2"]


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evalharness", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=600)


def _sacrebleu_segment(metric: str, hyp: str, ref: str) -> float:
    if metric == "bleu":
        return float(sacrebleu.sentence_bleu(hyp, [ref]).score)
    if metric == "chrf":
        return float(sacrebleu.sentence_chrf(hyp, [ref]).score)
    if metric == "chrf++":
        return float(sacrebleu.sentence_chrf(hyp, [ref], word_order=2).score)
    return float(sacrebleu.sentence_ter(hyp, [ref]).score)


def _sacrebleu_corpus(metric: str, hyps: list[str], refs: list[str]) -> float:
    if metric == "bleu":
        return float(sacrebleu.corpus_bleu(hyps, [refs]).score)
    if metric == "ter":
        return float(sacrebleu.corpus_ter(hyps, [refs]).score)
    return float(sacrebleu.corpus_chrf(hyps, [refs], word_order=2 if metric == "chrf++" else 0).score)


@pytest.fixture(scope="module")
def tiny_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default config with both systems pointed at the tiny model, through the real CLI (subprocess)."""
    import os

    base = tmp_path_factory.mktemp("run")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(base / "hf"), EVALHARNESS_CACHE_DIR=str(base / "cache"))
    args = ["run", "-c", str(DEFAULT), "--set", f"systems.0.model={tiny_model_dir}",
            "--set", f"systems.1.model={tiny_model_dir}", *FAST, "--run-dir", str(base / "out")]
    proc = _cli(args, env)
    assert proc.returncode == 0, proc.stderr
    # the aligned score table on the terminal (not Markdown), then the flags
    assert any(line.split()[:3] == ["opus-mt-mul-en", "ms-en", "29"] for line in proc.stdout.splitlines())
    assert "| ---" not in proc.stdout and "segments flagged" in proc.stdout
    assert "opus-mt-en-mul en-ms" in proc.stderr  # the progress bar
    return base / "out"


@pytest.mark.slow
def test_run_writes_three_files_for_both_directions(tiny_run: Path, tiny_model_dir: Path) -> None:
    assert sorted(p.name for p in tiny_run.iterdir()) == ["results.json", "segments.jsonl", "summary.md"]
    results = read_results(tiny_run)
    assert results["schema_version"] == SCHEMA_VERSION
    assert {(s, d) for s, by in results["results"].items() for d in by} == {
        ("opus-mt-mul-en", "ms-en"), ("opus-mt-en-mul", "en-ms")}
    manifest = results["manifest"]
    corpus = load_corpus(CORPUS_NAME)
    assert manifest["corpus"]["content_hash"] == corpus.content_hash
    assert manifest["corpus"]["version"] == "1.0.0"
    system = manifest["systems"]["opus-mt-en-mul"]
    assert system["model"] == str(tiny_model_dir)
    assert system["resolved_revision"].startswith("sha256:")
    assert system["generation"]["max_new_tokens"] == 24
    assert system["target_prefix"] == {"ms": ">>zsm_Latn<<"}
    assert manifest["systems"]["opus-mt-mul-en"]["generation"]["num_beams"] == 2
    for key in ("python", "torch", "transformers", "sacrebleu"):
        assert manifest["versions"][key]
    for res in (r for by in results["results"].values() for r in by.values()):
        assert res["segments"] == 29 and res["segments_per_s"] > 0
        assert set(res["scores"]) == {"bleu", "chrf", "chrf++", "ter"}
        assert res["scores"]["ter"]["higher_is_better"] is False
        assert res["scores"]["bleu"]["signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    summary = (tiny_run / "summary.md").read_text(encoding="utf-8")
    assert "| opus-mt-en-mul | en-ms | 29 |" in summary and "5 lowest by BLEU" in summary


@pytest.mark.slow
def test_every_score_equals_sacrebleu_on_the_written_strings(tiny_run: Path) -> None:
    results = read_results(tiny_run)
    segments = read_segments(tiny_run)
    assert len(segments) == 2 * 29
    corpus = load_corpus(CORPUS_NAME)
    for system, by_dir in results["results"].items():
        for direction, res in by_dir.items():
            src, tgt = direction.split("-")
            mine = [s for s in segments if s["system"] == system and s["direction"] == direction]
            assert [s["id"] for s in mine] == [p.id for p in corpus.pairs]
            assert [s["source"] for s in mine] == [p.text(src) for p in corpus.pairs]
            assert [s["reference"] for s in mine] == [p.text(tgt) for p in corpus.pairs]
            hyps, refs = [s["hypothesis"] for s in mine], [s["reference"] for s in mine]
            for metric, score in res["scores"].items():
                assert score["score"] == pytest.approx(_sacrebleu_corpus(metric, hyps, refs), abs=1e-9)
                for s in mine:
                    expected = _sacrebleu_segment(metric, s["hypothesis"], s["reference"])
                    assert s["scores"][metric] == pytest.approx(expected, abs=1e-9), (s["id"], metric)


@pytest.mark.slow
def test_rerun_is_deterministic(tiny_run: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    # In-process this time: the same code path, without a second interpreter start.
    out = tmp_path / "again"
    args = ["run", "-c", str(DEFAULT), "--set", f"systems.0.model={tiny_model_dir}",
            "--set", f"systems.1.model={tiny_model_dir}", *FAST, "--run-dir", str(out), "-q", "--no-cache"]
    assert main(args) == 0
    first = [s["hypothesis"] for s in read_segments(tiny_run)]
    second = [s["hypothesis"] for s in read_segments(out)]
    assert first == second
    assert any(first) and len(set(first)) > 1  # real, input-dependent output, not a constant


@pytest.mark.slow
def test_batching_returns_outputs_in_input_order(tiny_model_dir: Path) -> None:
    from evalharness.systems.hf import TransformersSystem
    from evalharness.systems.settings import TransformersDecoding, TransformersSettings

    texts = [p.text("en") for p in load_corpus(CORPUS_NAME).pairs][:7]
    texts = [texts[6][:40], *texts[:6]]  # lengths out of order on purpose

    def translate(batch_size: int) -> list[str]:
        cfg = TransformersSettings(name="t", model=str(tiny_model_dir), generation=TransformersDecoding(
            batch_size=batch_size, max_new_tokens=16, device="cpu"))
        return TransformersSystem(cfg).translate(texts, "en", "ms")

    one_by_one = translate(1)
    assert translate(3) == one_by_one
    assert len(set(one_by_one)) > 1


def test_target_prefix_is_prepended_only_for_its_language() -> None:
    from evalharness.systems.hf import TransformersSystem
    from evalharness.systems.settings import TransformersSettings

    system = TransformersSystem(TransformersSettings(name="t", model="org/model", target_prefix={"ms": ">>zsm_Latn<<"}))
    assert system.model_inputs(["Hello."], "ms") == [">>zsm_Latn<< Hello."]
    assert system.model_inputs(["Salam."], "en") == ["Salam."]


def test_missing_hub_model_fails_fast_and_clearly(cli_env: dict[str, str], tmp_path: Path) -> None:
    start = time.monotonic()
    proc = _cli(["run", "-c", str(DEFAULT), "--run-dir", str(tmp_path / "out")], cli_env)
    elapsed = time.monotonic() - start
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Helsinki-NLP/opus-mt-mul-en" in lines[0] and "systems.0.model" in lines[0]
    assert "local directory" in lines[0]
    assert elapsed < 10, f"took {elapsed:.1f} s; transformers' own retries take ~47 s"  # measured here: ~0.6 s
    assert not (tmp_path / "out").exists()


def test_unreachable_hub_is_detected_without_offline_flag(cli_env: dict[str, str], tmp_path: Path) -> None:
    # A closed local port stands in for a hub that does not answer; HF_HUB_OFFLINE is not set.
    env = {k: v for k, v in cli_env.items() if k != "HF_HUB_OFFLINE"}
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"
    proc = _cli(["run", "-c", str(REPO / "configs" / "nllb.yaml"), "--run-dir", str(tmp_path / "out")], env)
    assert proc.returncode == 2
    assert "facebook/nllb-200-distilled-600M" in proc.stderr and "unreachable" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_not_a_model_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty-model"
    empty.mkdir()
    argv = ["run", "-c", str(DEFAULT), "--set", f"systems.0.model={empty}", "--set", f"systems.1.model={empty}",
            "--run-dir", str(tmp_path / "out"), "-q"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "systems.0.model" in err and "no config.json" in err
    assert not (tmp_path / "out").exists()


def test_real_hub_model_translates_malay() -> None:
    from evalharness.systems.hf import hub_reachable

    if not hub_reachable():
        pytest.skip("needs Helsinki-NLP/opus-mt-mul-en from the Hugging Face hub, which is unreachable here "
                    "(or HF_HUB_OFFLINE=1)")
    from evalharness.systems.hf import TransformersSystem
    from evalharness.systems.settings import TransformersDecoding, TransformersSettings

    system = TransformersSystem(TransformersSettings(name="hub", model="Helsinki-NLP/opus-mt-mul-en",
                                                     generation=TransformersDecoding(num_beams=1, device="cpu")))
    out = system.translate(["Rusia dan Jepun bersetuju untuk mengadakan mesyuarat."], "ms", "en")
    assert "Russia" in out[0].text and "Japan" in out[0].text


# --------------------------------------------------------------------------- files system


def _files_config(tmp_path: Path, ms_en: list[str], en_ms: list[str]) -> Path:
    (tmp_path / "hyp.ms-en.txt").write_text("".join(f"{h}\n" for h in ms_en), encoding="utf-8")
    (tmp_path / "hyp.en-ms.txt").write_text("".join(f"{h}\n" for h in en_ms), encoding="utf-8")
    path = tmp_path / "files.yaml"
    path.write_text(
        "systems:\n  - name: outside\n    backend: files\n    hypotheses:\n"
        f"      ms-en: {tmp_path / 'hyp.ms-en.txt'}\n      en-ms: {tmp_path / 'hyp.en-ms.txt'}\n",
        encoding="utf-8")
    return path


def test_files_system_with_references_scores_perfectly(tmp_path: Path) -> None:
    corpus = load_corpus(CORPUS_NAME)
    config = _files_config(tmp_path, [p.text("en") for p in corpus.pairs], [p.text("ms") for p in corpus.pairs])
    assert main(["run", "-c", str(config), "--run-dir", str(tmp_path / "out"), "-q"]) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    for direction in ("ms-en", "en-ms"):
        scores = results["results"]["outside"][direction]["scores"]
        assert scores["bleu"]["score"] == pytest.approx(100.0)
        assert scores["chrf"]["score"] == pytest.approx(100.0)
        assert scores["ter"]["score"] == pytest.approx(0.0)
    assert results["manifest"]["systems"]["outside"]["hypotheses"]["ms-en"]["sha256"]


def test_files_system_line_count_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = load_corpus(CORPUS_NAME)
    config = _files_config(tmp_path, [p.text("en") for p in corpus.pairs][:-1], [p.text("ms") for p in corpus.pairs])
    assert main(["run", "-c", str(config), "--run-dir", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "hyp.ms-en.txt: 28 lines for 29 source segments" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_sentence_level_run(tmp_path: Path) -> None:
    corpus = load_corpus(CORPUS_NAME)
    sentences = corpus.segments("sentence")
    config = _files_config(tmp_path, [s.texts["en"] for s in sentences], [s.texts["ms"] for s in sentences])
    assert main(["run", "-c", str(config), "--set", "level=sentence", "--run-dir", str(tmp_path / "o"), "-q"]) == 0
    segs = read_segments(tmp_path / "o")
    assert [s["id"] for s in segs[:3]] == ["p01.1", "p01.2", "p02.1"]
    assert len(segs) == 2 * 37
