"""Flags, slices and sentence-split translation, on crafted outputs through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalharness.cli import main
from evalharness.corpus import load_corpus
from evalharness.scoring.flags import FLAG_NAMES
from tests.conftest import CORPUS_NAME, REPO, read_results, read_segments

CORPUS = load_corpus(CORPUS_NAME)
PAIRS = {p.id: p for p in CORPUS.pairs}
INDONESIAN_P12 = ("Menteri Pertahanan Jepang Itsunori Onodera menambahkan bahwa kedua pihak sepakat untuk "
                  "melakukan kunjungan rutin para menteri pertahanan, serta bertukar pengamat dalam latihan militer. "
                  "Shoigu adalah menteri pertahanan Rusia pertama yang mengunjungi Jepang "
                  "dalam sepuluh tahun terakhir.")
# p20 in Indonesian (its Malay reference reads as Malay at 1.0; p12's reads as Indonesian at 0.68 itself)
INDONESIAN_P20 = ("“Kami tidak merahasiakan fakta bahwa pembangunan sistem pertahanan rudal global oleh Amerika "
                  "Serikat, termasuk unsur Jepang, membuat kami sangat khawatir, terutama karena kemungkinan rusaknya "
                  "keseimbangan kekuatan strategis di kawasan Asia-Pasifik,” kata menteri pertahanan Rusia.")


def _files_run(tmp_path: Path, ms_en: list[str], en_ms: list[str], *extra: str) -> Path:
    (tmp_path / "ms-en.txt").write_text("".join(f"{h}\n" for h in ms_en), encoding="utf-8")
    (tmp_path / "en-ms.txt").write_text("".join(f"{h}\n" for h in en_ms), encoding="utf-8")
    config = tmp_path / "files.yaml"
    config.write_text("systems:\n  - name: out\n    backend: files\n    hypotheses:\n"
                      f"      ms-en: {tmp_path / 'ms-en.txt'}\n      en-ms: {tmp_path / 'en-ms.txt'}\n",
                      encoding="utf-8")
    out = tmp_path / "run"
    assert main(["run", "-c", str(config), "--run-dir", str(out), "-q", *extra]) == 0
    return out


@pytest.mark.parametrize("level", ["paragraph", "sentence"])
def test_references_raise_no_flag(tmp_path: Path, level: str) -> None:
    segs = CORPUS.segments(level)  # type: ignore[arg-type]
    run = _files_run(tmp_path, [s.texts["en"] for s in segs], [s.texts["ms"] for s in segs], "--set", f"level={level}")
    for by_dir in read_results(run)["results"].values():
        for res in by_dir.values():
            assert res["flags"]["any"] == 0, res["flags"]
    assert all(not r["flags"] for r in read_segments(run))


def test_each_crafted_defect_is_flagged(tmp_path: Path) -> None:
    en_ms = {p.id: p.text("ms") for p in CORPUS.pairs}
    en_ms["p01"] = PAIRS["p01"].sides["ms"].sentences[0]  # the second sentence dropped
    en_ms["p03"] = PAIRS["p03"].text("en")  # the English source copied
    en_ms["p05"] = PAIRS["p09"].text("en")  # English left untranslated (another paragraph's, so not a copy)
    en_ms["p12"] = INDONESIAN_P12  # Indonesian, where the reference itself reads as Indonesian: not judged
    en_ms["p20"] = INDONESIAN_P20  # Indonesian instead of Malay
    words = PAIRS["p21"].text("ms").split()
    en_ms["p21"] = " ".join(words[: len(words) // 4])  # truncated to a quarter
    run = _files_run(tmp_path, [p.text("en") for p in CORPUS.pairs], list(en_ms.values()))
    flags = {r["id"]: r["flags"] for r in read_segments(run) if r["direction"] == "en-ms"}
    assert flags["p01"]["dropped_sentences"]["source"] == 2 and flags["p01"]["dropped_sentences"]["output"] == 1
    assert flags["p03"]["copy"] >= 0.9
    assert flags["p03"]["wrong_language"]["detected"] == "en"
    assert flags["p05"]["wrong_language"]["detected"] == "en" and "copy" not in flags["p05"]
    assert flags["p20"]["wrong_language"]["detected"] == "id"
    assert flags["p21"]["length_ratio"] < 0.5 and flags["p21"]["truncated"]["ends"] == "mid-sentence"
    assert {k for k, v in flags.items() if v} == {"p01", "p03", "p05", "p20", "p21"}
    counts = read_results(run)["results"]["out"]["en-ms"]["flags"]
    expected = {name: sum(name in f for f in flags.values()) for name in FLAG_NAMES}
    assert counts == {**expected, "any": 5}
    assert counts["wrong_language"] == 3 and counts["copy"] == 1 and counts["dropped_sentences"] == 1
    assert read_results(run)["results"]["out"]["ms-en"]["flags"]["any"] == 0
    summary = (run / "summary.md").read_text(encoding="utf-8")
    row = " | ".join(str(counts[n]) for n in (*expected, "any"))
    assert f"| out | en-ms | 29 | {row} |" in summary
    manifest = read_results(run)["manifest"]["flags"]["language_id"]
    assert manifest["library"] == "lingua-language-detector" and manifest["version"]


def test_repetition_is_flagged_by_length(tmp_path: Path) -> None:
    en = [p.text("en") for p in CORPUS.pairs]
    en[8] = " ".join([PAIRS["p09"].text("en")] * 4)  # hallucinated repetition
    run = _files_run(tmp_path, en, [p.text("ms") for p in CORPUS.pairs])
    flags = {r["id"]: r["flags"] for r in read_segments(run) if r["direction"] == "ms-en"}
    assert flags["p09"]["length_ratio"] > 2


def test_slices_agree_with_filtered_runs(tmp_path: Path) -> None:
    en = [" ".join(p.text("en").split()[:-2]) for p in CORPUS.pairs]  # every output a little short
    (tmp_path / "all").mkdir()
    full = _files_run(tmp_path / "all", en, [p.text("ms") for p in CORPUS.pairs])
    body_dir = tmp_path / "body"
    body_dir.mkdir()
    body = _files_run(body_dir, en, [p.text("ms") for p in CORPUS.pairs], "--where", "kind=body")
    whole = read_results(full)["results"]["out"]["ms-en"]
    only_body = read_results(body)["results"]["out"]["ms-en"]
    assert only_body["segments"] == whole["slices"]["kind=body"]["segments"] == 27
    for metric, score in whole["slices"]["kind=body"]["scores"].items():
        assert only_body["scores"][metric]["score"] == pytest.approx(score, abs=1e-9)
    assert whole["slices"]["kind=body"]["segments"] + whole["slices"]["kind=heading"]["segments"] == 29
    assert sum(whole["slices"][f"length={b}"]["segments"] for b in ("short", "medium", "long")) == 29
    assert {r["id"] for r in read_segments(body)} == {p.id for p in CORPUS.pairs if p.kind == "body"}


def test_where_on_compare_and_score(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = _files_run(tmp_path / "a", [p.text("en") for p in CORPUS.pairs], [p.text("ms") for p in CORPUS.pairs])
    b = _files_run(tmp_path / "b", [" ".join(p.text("en").split()[:-1]) for p in CORPUS.pairs],
                   [p.text("ms") for p in CORPUS.pairs])
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--where", "kind=heading", "--format", "json", "--metrics", "bleu"]) == 0
    rows = json.loads(capsys.readouterr().out)["comparisons"]
    assert {r["segments"] for r in rows} == {2}
    assert main(["compare", str(a), str(b), "--where", "colour=red"]) == 2
    assert "unknown key 'colour'" in capsys.readouterr().err
    ref = tmp_path / "ref.en"
    ref.write_text("".join(p.text("en") + "\n" for p in CORPUS.pairs), encoding="utf-8")
    assert main(["score", "--ref", str(ref), "--hyp", str(ref), "--where", "length=short", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["segments"] == 2
    assert main(["score", "--ref", str(ref), "--hyp", str(ref), "--where", "kind=body"]) == 2
    assert "length= only" in capsys.readouterr().err


@pytest.mark.slow
def test_sentence_mode_with_the_tiny_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    from evalharness.systems.hf import TransformersSystem
    from evalharness.systems.settings import TransformersDecoding, TransformersSettings

    out = tmp_path / "sent"
    argv = ["run", "-c", str(REPO / "configs" / "default.yaml"), "--set", f"systems.0.model={tiny_model_dir}",
            "--set", f"systems.1.model={tiny_model_dir}", "--set", "systems.0.segmentation=sentence",
            "--set", "systems.0.generation.max_new_tokens=12", "--set", "systems.1.generation.max_new_tokens=12",
            "--set", "systems.0.generation.num_beams=1", "--run-dir", str(out), "-q"]
    assert main(argv) == 0
    segs = [r for r in read_segments(out) if r["direction"] == "ms-en"]
    assert [r["id"] for r in segs] == [p.id for p in CORPUS.pairs]  # one output per paragraph, in order
    system = TransformersSystem(TransformersSettings(name="x", model=str(tiny_model_dir),
                                                     generation=TransformersDecoding(max_new_tokens=12, device="cpu")))
    for record, pair in zip(segs, CORPUS.pairs, strict=True):
        sentences = system.translate(list(pair.sides["ms"].sentences), "ms", "en")
        assert record["hypothesis"] == " ".join(t.text for t in sentences if t.text)
    results = read_results(out)
    assert results["manifest"]["config"]["systems"][0]["segmentation"] == "sentence"
    # every tiny-model output runs to max_new_tokens: the flag says so for every segment
    assert results["results"]["opus-mt-en-mul"]["en-ms"]["flags"]["max_tokens"] == 29


def test_sentence_mode_splits_plain_text_with_sentencex() -> None:
    from evalharness.corpus import Segment
    from evalharness.runs.translate import rejoin, translation_units
    from evalharness.systems.base import Translation

    segs = [Segment("L1", {"en": "Dr. Abe met Mr. Shoigu. They agreed.", "ms": "x"}, "line", None),
            Segment("L2", {"en": "One sentence only.", "ms": "y"}, "line", None)]
    units, counts = translation_units(segs, "en", "sentence")
    assert units == ["Dr. Abe met Mr. Shoigu.", "They agreed.", "One sentence only."] and counts == [2, 1]
    joined = rejoin([Translation("A", 1), Translation("B", 2, True), Translation("C", 3)], counts)
    assert joined == [Translation("A B", 3, True), Translation("C", 3, False)]


def test_language_results_are_kept_in_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evalharness.scoring import flags
    from evalharness.store.sqlite import TranslationStore

    texts = [PAIRS["p09"].text("en"), INDONESIAN_P12, PAIRS["p09"].text("ms")]
    with TranslationStore(tmp_path / "c.sqlite3") as cache:
        first = flags.detect_languages(texts, cache)
        assert [max(found, key=lambda code: found[code]) for found in first] == ["en", "id", "ms"]

        def not_again(text: str) -> dict[str, float]:
            raise AssertionError("identified again instead of read from the cache")

        monkeypatch.setattr(flags, "detect_language", not_again)
        assert flags.detect_languages(texts, cache) == first
