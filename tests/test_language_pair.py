"""A language pair is data: an Indonesian↔English set made here runs through ``run`` and ``check`` like Malay↔English.

The corpus declares its languages (``corpus.json``: ``["id", "en"]``); the directions, the sentence splitter and the
``wrong_language`` flag follow from them, with no Malay or English default in the way.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalharness.cli import main
from evalharness.corpus import load_corpus, load_plain_pair
from evalharness.errors import CorpusError, ModelLoadError
from evalharness.languages import LanguageError, language, split_direction
from evalharness.scoring.flags import FlagSettings, flag_outputs

# Made up for this test (not test-set text): Indonesian sentences and their English translations.
PAIRS = [
    ("Pemerintah Indonesia mengumumkan rencana baru untuk membangun jalan tol di Pulau Sumatra tahun depan.",
     "The Indonesian government announced a new plan to build a toll road on the island of Sumatra next year."),
    ("Para petani di desa itu mengeluh karena harga pupuk naik dua kali lipat dalam enam bulan terakhir.",
     "Farmers in the village complained because the price of fertiliser doubled in the last six months."),
    ("Sekolah-sekolah di Jakarta akan dibuka kembali minggu depan setelah libur panjang.",
     "Schools in Jakarta will reopen next week after a long holiday."),
    ("Dia bilang bahwa kantornya sudah pindah ke gedung baru di dekat stasiun kereta.",
     "She said that her office had moved to a new building near the train station."),
    ("Wisatawan asing semakin banyak mengunjungi Bali setelah bandara diperluas.",
     "More and more foreign tourists are visiting Bali since the airport was expanded."),
    ("Bank sentral memutuskan untuk tidak mengubah suku bunga bulan ini.",
     "The central bank decided not to change interest rates this month."),
]
# en-id outputs: Indonesian close to the references (a word changed), as a decent system writes.
ID_OUTPUTS = [
    "Pemerintah Indonesia mengumumkan rencana baru untuk membangun jalan tol di Pulau Sumatra pada tahun depan.",
    "Para petani di desa itu mengeluh sebab harga pupuk naik dua kali lipat dalam enam bulan terakhir.",
    "Sekolah-sekolah di Jakarta akan dibuka lagi minggu depan setelah libur panjang.",
    "Dia mengatakan bahwa kantornya sudah pindah ke gedung baru di dekat stasiun kereta.",
    "Wisatawan asing semakin banyak mengunjungi Bali sesudah bandara diperluas.",
    "Bank sentral memutuskan untuk tidak mengubah suku bunga pada bulan ini.",
]
# en-id outputs of a broken system: English paraphrases (not copies of the source), left untranslated.
EN_OUTPUTS = [
    "Indonesia's government has announced that a new toll road will be built on Sumatra next year.",
    "The village farmers complained that fertiliser prices have doubled over the past six months.",
    "Jakarta's schools are going to open again next week after the long holiday.",
    "According to her, the office has moved into a new building close to the railway station.",
    "Since the airport expansion, Bali has been visited by more and more foreign tourists.",
    "This month the central bank chose to leave interest rates unchanged.",
]


def _corpus(tmp_path: Path) -> Path:
    """A corpus folder in Indonesian and English; Indonesian's side is the field ``ind`` (``id`` is the pair id)."""
    folder = tmp_path / "id-en-news"
    folder.mkdir()
    (folder / "corpus.json").write_text(json.dumps({"name": "id-en-news", "version": "1", "languages": ["id", "en"]}),
                                        encoding="utf-8")
    (folder / "pairs.jsonl").write_text(
        "".join(json.dumps({"id": f"p{i + 1}", "kind": "body", "ind": ind, "en": en}) + "\n"
                for i, (ind, en) in enumerate(PAIRS)), encoding="utf-8")
    return folder


def _config(tmp_path: Path, corpus: Path, en_id: list[str], name: str) -> Path:
    """A files system in both directions of ``corpus``; id-en outputs are the references minus their last word."""
    hyps = {"id-en": tmp_path / f"{name}.en", "en-id": tmp_path / f"{name}.id"}
    hyps["id-en"].write_text("".join(" ".join(en.split()[:-1]) + "\n" for _, en in PAIRS), encoding="utf-8")
    hyps["en-id"].write_text("".join(f"{line}\n" for line in en_id), encoding="utf-8")
    config = tmp_path / f"{name}.yaml"
    config.write_text(f"corpus: {corpus}\ndirections: [id-en, en-id]\nmetrics: [bleu, chrf]\n"
                      "statistics: {resamples: 200}\nsystems:\n  - name: mt\n    backend: files\n    hypotheses:\n"
                      f"      id-en: {hyps['id-en']}\n      en-id: {hyps['en-id']}\n", encoding="utf-8")
    return config


def _segments(run: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run / "segments.jsonl").read_text(encoding="utf-8").splitlines()]


def test_an_indonesian_english_set_runs_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _corpus(tmp_path)
    good = _config(tmp_path, corpus, ID_OUTPUTS, "good")
    assert main(["run", "-c", str(good), "--run-dir", str(tmp_path / "run"), "-q"]) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text(encoding="utf-8"))
    assert sorted(results["results"]["mt"]) == ["en-id", "id-en"]
    rows = _segments(tmp_path / "run")
    en_id = [r for r in rows if r["direction"] == "en-id"]
    assert [r["reference"] for r in en_id] == [ind for ind, _ in PAIRS]  # Indonesian references, English sources
    assert [r["source"] for r in en_id] == [en for _, en in PAIRS]
    # Indonesian output into Indonesian is the right language: no wrong_language anywhere in the run
    assert not [r for r in rows if "wrong_language" in r["flags"]]  # type: ignore[operator]

    assert main(["baseline", "update", str(tmp_path / "run"), "-o", str(tmp_path / "baseline.json")]) == 0
    assert main(["check", "--baseline", str(tmp_path / "baseline.json"), "-c", str(good),
                 "--run-dir", str(tmp_path / "again"), "-q"]) == 0
    capsys.readouterr()

    # English left in the en-id outputs: the flag reads it as English where Indonesian was due, and the gate fails
    broken = _config(tmp_path, corpus, EN_OUTPUTS, "broken")
    assert main(["check", "--baseline", str(tmp_path / "baseline.json"), "-c", str(broken),
                 "--run-dir", str(tmp_path / "broken-run"), "-q"]) == 1
    flagged = [r["flags"]["wrong_language"] for r in _segments(tmp_path / "broken-run")  # type: ignore[index]
               if r["direction"] == "en-id" and "wrong_language" in r["flags"]]  # type: ignore[operator]
    assert len(flagged) == len(PAIRS) and {f["detected"] for f in flagged} == {"en"}


def test_the_flag_follows_the_target_language() -> None:
    """The same Indonesian outputs: right in an en-id run, Indonesian-for-Malay in an en-ms one."""
    sources = [en for _, en in PAIRS]
    references = [ind for ind, _ in PAIRS]
    as_id = flag_outputs(sources, references, ID_OUTPUTS, "en", "id", settings=FlagSettings(), only=["wrong_language"])
    assert as_id == [{}] * len(PAIRS)
    # against a Malay reference the Indonesian outputs are flagged: the flag judges by the direction's target
    malay = ["Kerajaan Indonesia mengumumkan rancangan baharu untuk membina lebuh raya di Pulau Sumatera tahun "
             "hadapan."]
    as_ms = flag_outputs(sources[:1], malay, ID_OUTPUTS[:1], "en", "ms", settings=FlagSettings(),
                         only=["wrong_language"])
    assert as_ms[0]["wrong_language"]["detected"] == "id"


def test_a_direction_outside_the_corpus_names_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, _corpus(tmp_path), ID_OUTPUTS, "c")
    text = config.read_text(encoding="utf-8").replace("directions: [id-en, en-id]", "directions: [ms-en]")
    text = text.replace("id-en:", "ms-en:").replace("      en-id: " + str(tmp_path / "c.id") + "\n", "")
    config.write_text(text, encoding="utf-8")
    assert main(["run", "-c", str(config), "--run-dir", str(tmp_path / "run"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "directions.0: corpus 'id-en-news' is in id and en, so 'ms-en' cannot run on it; set directions to " \
           "id-en and/or en-id" in err


def test_plain_files_and_a_bare_pairs_file_declare_their_languages(tmp_path: Path) -> None:
    (tmp_path / "t.id").write_text("".join(f"{ind}\n" for ind, _ in PAIRS), encoding="utf-8")
    (tmp_path / "t.en").write_text("".join(f"{en}\n" for _, en in PAIRS), encoding="utf-8")
    plain = load_plain_pair({"id": tmp_path / "t.id", "en": tmp_path / "t.en"})
    assert plain.languages == ("id", "en") and plain.segments()[0].texts["id"] == PAIRS[0][0]
    bare = load_corpus(_corpus(tmp_path) / "pairs.jsonl")  # no corpus.json: the record's language fields
    assert bare.languages == ("id", "en")
    assert bare.content_hash == load_corpus(tmp_path / "id-en-news").content_hash
    with pytest.raises(CorpusError, match="unknown language 'xx'"):
        load_plain_pair({"id": tmp_path / "t.id", "xx": tmp_path / "t.en"})
    (tmp_path / "bad.jsonl").write_text(json.dumps({"id": "p1", "kind": "body", "id_": "x", "en": "y"}) + "\n",
                                        encoding="utf-8")
    # one language field: read as the default pair, the other side missing in every pair: a corpus of sources only
    # (reference-free metrics); a run with a reference metric on it is refused, naming the missing side
    assert load_corpus(tmp_path / "bad.jsonl").missing_sides == ("ms",)


@pytest.mark.parametrize(("direction", "expected"), [
    ("ms-en", ("ms", "en")), ("en-id", ("en", "id")),
    ("ms", "'ms' is not a direction; write SOURCE-TARGET"), ("ms-ms", "translates a language into itself"),
    ("xx-en", "unknown language 'xx'"), ("zsm_Latn-eng_Latn", "write 'zsm_Latn-eng_Latn' with short codes: ms-en"),
])
def test_directions_are_two_known_languages(direction: str, expected: object) -> None:
    if isinstance(expected, tuple):
        assert split_direction(direction) == expected
    else:
        with pytest.raises(LanguageError, match=str(expected)):
            split_direction(direction)


def test_the_table_gives_each_tool_its_code() -> None:
    assert [(r.flores, r.lingua, r.sentencex) for r in map(language, ("ms", "en", "id"))] == [
        ("zsm_Latn", "MALAY", "ms"), ("eng_Latn", "ENGLISH", "en"), ("ind_Latn", "INDONESIAN", "id")]
    assert language("ind_Latn").code == "id"


def test_nllb_language_tokens_can_come_from_the_table() -> None:
    from evalharness.systems.hf import TransformersSystem
    from evalharness.systems.settings import TransformersSettings

    system = TransformersSystem(TransformersSettings(name="t", model="org/model", lang_codes="flores"))
    assert system.language_codes("en", "id") == ("eng_Latn", "ind_Latn")
    given = TransformersSystem(TransformersSettings(name="t", model="org/model", lang_codes={"id": "ind_Latn"}))
    with pytest.raises(ModelLoadError, match="lang_codes needs entries for 'en' and 'id'"):
        given.language_codes("en", "id")


def test_the_shipped_registry_names_flores_indonesian_beside_malay() -> None:
    from evalharness.testsets import registered_sets

    sets = registered_sets()
    malay, indonesian = sets["flores200-devtest"], sets["flores200-devtest-id"]
    assert dict(indonesian.languages) == {"id": "ind_Latn", "en": "eng_Latn"} and indonesian.lines == malay.lines
    assert indonesian.files["id"].url.endswith("/flores200_dataset/devtest/ind_Latn.devtest")
    assert indonesian.files["id"].sha256 == "af77d7b4eb6d45f667967dab331411ec417be3c0a133623d4f6c6b9b9d2a1118"
    assert indonesian.files["en"] == malay.files["en"] and indonesian.commit == malay.commit


def test_an_indonesian_test_set_from_a_registry_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import hashlib

    import sacrebleu

    mirror = tmp_path / "mirror" / "tiny-id"
    mirror.mkdir(parents=True)
    files = {"id": mirror / "tiny.ind", "en": mirror / "tiny.eng"}
    for k, path in enumerate(files.values()):
        path.write_text("".join(f"{pair[k]}\n" for pair in PAIRS), encoding="utf-8")
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps({"format": 1, "sets": {"tiny-id": {
        "description": "made up", "languages": {"id": "ind_Latn", "en": "eng_Latn"}, "original": "en",
        "lines": len(PAIRS), "licence": "CC0-1.0", "citation": "none", "repository": "example/tiny", "commit": "0" * 40,
        "files": {lang: {"url": f"https://example.org/{path.name}",
                         "sha256": hashlib.sha256(path.read_bytes()).hexdigest()} for lang, path in files.items()}}}}),
        encoding="utf-8")
    monkeypatch.setenv("EVALHARNESS_TESTSETS_REGISTRY", str(registry))
    monkeypatch.setenv("EVALHARNESS_TESTSETS_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("EVALHARNESS_TESTSETS_DIR", str(tmp_path / "cache"))
    hyp = tmp_path / "hyp.id"
    hyp.write_text("".join(f"{line}\n" for line in ID_OUTPUTS), encoding="utf-8")
    config = tmp_path / "c.yaml"
    config.write_text(f"corpus: tiny-id\ndirections: [en-id]\nmetrics: [chrf]\nstatistics: {{resamples: 200}}\n"
                      f"systems:\n  - name: mt\n    backend: files\n    hypotheses: {{en-id: {hyp}}}\n",
                      encoding="utf-8")
    assert main(["run", "-c", str(config), "--run-dir", str(tmp_path / "run"), "-q"]) == 0
    rows = _segments(tmp_path / "run")
    assert [r["reference"] for r in rows] == [ind for ind, _ in PAIRS] and not any(r["flags"] for r in rows)
    capsys.readouterr()
    assert main(["score", "-t", "tiny-id", "-l", "en-id", "-i", str(hyp), "-m", "chrf", "--format", "json"]) == 0
    chrf = json.loads(capsys.readouterr().out)["systems"][0]["scores"]["chrf"]["score"]
    assert chrf == pytest.approx(sacrebleu.corpus_chrf(ID_OUTPUTS, [[ind for ind, _ in PAIRS]]).score, abs=1e-9)
    assert main(["score", "-t", "tiny-id", "-l", "ms-en", "-i", str(hyp)]) == 2
    assert "tiny-id has the directions id-en, en-id" in capsys.readouterr().err


def test_the_identifier_chooses_among_a_directions_languages(monkeypatch: pytest.MonkeyPatch) -> None:
    """A row added to the table for another pair leaves a Malay run's language ID (and its flags) as it was."""
    from evalharness.scoring import flags

    assert flags.identifier_languages("ms-en", "en-ms") == ("ms", "en", "id") == flags.identifier_languages("en-id")
    monkeypatch.setitem(flags.LID_LANGUAGES, "tl", "TAGALOG")
    assert flags.identifier_languages("ms-en") == ("ms", "en", "id")
    assert flags.identifier_languages("tl-en") == ("en", "tl")
    assert flags.language_id_info("tl-en")["languages"] == "en,tl"
    assert flags.language_id_info()["languages"] == "ms,en,id"


def test_a_config_gives_plain_files_by_language(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "t.id").write_text("".join(f"{ind}\n" for ind, _ in PAIRS), encoding="utf-8")
    (tmp_path / "t.en").write_text("".join(f"{en}\n" for _, en in PAIRS), encoding="utf-8")
    config = tmp_path / "c.yaml"
    config.write_text(f"corpus: {{id: {tmp_path / 't.id'}, en: {tmp_path / 't.en'}}}\ndirections: [id-en]\n"
                      "metrics: [chrf]\nstatistics: {resamples: 200}\nsystems:\n  - {name: c, backend: copy}\n",
                      encoding="utf-8")
    assert main(["run", "-c", str(config), "--run-dir", str(tmp_path / "run"), "-q"]) == 0
    assert [r["source"] for r in _segments(tmp_path / "run")] == [ind for ind, _ in PAIRS]
    config.write_text(f"corpus: {{id: {tmp_path / 't.id'}}}\nsystems:\n  - {{name: c, backend: copy}}\n",
                      encoding="utf-8")
    capsys.readouterr()
    assert main(["run", "-c", str(config), "--run-dir", str(tmp_path / "run2"), "-q"]) == 2
    assert f"{config}: corpus: Value error, expected one file for each of two languages" in capsys.readouterr().err
