"""Corpus loader, plain-text pairs, export and ``corpus check`` on the shipped corpus and damaged copies."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from evalharness.cli import main
from evalharness.corpus import check_corpus, load_corpus, load_plain_pair
from evalharness.errors import CorpusError
from tests.conftest import CORPUS_DIR, CORPUS_NAME


def test_shipped_corpus_passes_its_own_check(capsys: pytest.CaptureFixture[str]) -> None:
    corpus = load_corpus(CORPUS_NAME)
    assert len(corpus.pairs) == 29
    assert [p.id for p in corpus.pairs] == [f"p{i:02d}" for i in range(1, 30)]
    assert {p.kind for p in corpus.pairs} == {"body", "heading"}
    assert corpus.recorded_hash == corpus.content_hash
    assert check_corpus(corpus) == []
    assert main(["corpus", "check", CORPUS_NAME]) == 0
    assert "29 pairs, 0 problems" in capsys.readouterr().out


def test_every_pair_is_the_source_text_plus_listed_repairs(seed_path: Path) -> None:
    lines = seed_path.read_text(encoding="utf-8").split("\n")

    def joined(first: int, last: int) -> str:
        return " ".join(line.strip() for line in lines[first - 1 : last])

    covered: set[int] = set()
    for pair in load_corpus(CORPUS_NAME).pairs:
        for lang in ("ms", "en"):
            side = pair.sides[lang]
            assert side.lines is not None
            source = joined(*side.lines)
            for repair in pair.repairs:
                if repair["lang"] == lang:
                    assert repair["from"] in source, (pair.id, repair)
                    source = source.replace(repair["from"], repair["to"])
            assert side.text in source, (pair.id, lang)
            covered.update(range(side.lines[0], side.lines[1] + 1))
    for line in (CORPUS_DIR / "excluded.jsonl").read_text(encoding="utf-8").splitlines():
        unit = json.loads(line)
        assert unit["text"] in joined(*unit["lines"]), unit["id"]
        assert unit["reason"]
        covered.update(range(unit["lines"][0], unit["lines"][1] + 1))
    nonblank = {i for i, line in enumerate(lines, start=1) if line.strip()}
    assert nonblank <= covered, sorted(nonblank - covered)


def test_round_trip_through_jsonl(tmp_path: Path) -> None:
    corpus = load_corpus(CORPUS_NAME)
    copy = tmp_path / "copy"
    shutil.copytree(CORPUS_DIR, copy)
    again = load_corpus(copy)
    assert again.pairs == corpus.pairs
    assert again.content_hash == corpus.content_hash
    assert again.version == corpus.version


def test_sentence_segments_rejoin_and_have_stable_ids() -> None:
    corpus = load_corpus(CORPUS_NAME)
    sentences = corpus.segments("sentence")
    assert len(sentences) == 37
    assert sentences[0].id == "p01.1" and sentences[1].id == "p01.2"
    for pair in corpus.pairs:
        for lang in ("ms", "en"):
            parts = [s.texts[lang] for s in sentences if s.id.split(".")[0] == pair.id]
            assert " ".join(parts) == pair.text(lang)


@pytest.mark.parametrize("level", ["paragraph", "sentence"])
def test_export_has_equal_line_counts(tmp_path: Path, level: str) -> None:
    for lang in ("ms", "en"):
        assert main(["corpus", "export", CORPUS_NAME, "--lang", lang, "--level", level,
                     "-o", str(tmp_path / f"{lang}.txt")]) == 0
    ms = (tmp_path / "ms.txt").read_text(encoding="utf-8").splitlines()
    en = (tmp_path / "en.txt").read_text(encoding="utf-8").splitlines()
    assert len(ms) == len(en) == (29 if level == "paragraph" else 37)
    assert all(ms) and all(en)


def _damaged_copy(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    """A copy of the shipped corpus with ``edit(records)`` applied to its pairs (hash left as recorded)."""
    folder = tmp_path / "damaged"
    shutil.copytree(CORPUS_DIR, folder)
    path = folder / "pairs.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    edit(records)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return folder


def _set_text(r: dict, lang: str, text: str) -> None:  # type: ignore[type-arg]
    r[lang]["text"] = text
    r[lang]["sentences"] = [text]
    r["alignment"] = [[[0], [0]]]
    r[{"ms": "en", "en": "ms"}[lang]]["sentences"] = [r[{"ms": "en", "en": "ms"}[lang]]["text"]]


DEFECTS = {
    "duplicate id": (lambda rs: rs[4].update(id="p03"), "p03", "duplicate id"),
    "empty side": (lambda rs: _set_text(rs[2], "en", "   "), "p03", "empty"),
    "not NFC": (lambda rs: _set_text(rs[2], "ms", "Mesyuarat di Kuala Lumpur\u0301 selesai."), "p03", "NFC"),
    "control char": (lambda rs: _set_text(rs[2], "ms", "Mesyuarat\u0007 selesai."), "p03", "U+0007"),
    "zero-width": (lambda rs: _set_text(rs[2], "en", "The meet\u200bing ended."), "p03", "U+200B"),
    "wrap hyphen": (lambda rs: _set_text(rs[2], "ms", "Mereka mem- bincangkan isu."), "p03", "hyphen"),
    "double space": (lambda rs: _set_text(rs[2], "en", "They  discussed it."), "p03", "doubled space"),
    "sentences": (lambda rs: rs[0]["ms"]["sentences"].__setitem__(1, "Lain."), "p01", "rejoin"),
    "alignment": (lambda rs: rs[0].update(alignment=[[[0, 1], [0]]]), "p01", "alignment"),
    "text edited": (lambda rs: rs[8]["en"].update(text=rs[8]["en"]["text"].replace("Gulf", "Gulp"),
                                                   sentences=[rs[8]["en"]["text"].replace("Gulf", "Gulp")]),
                    "corpus.json", "content_hash"),
}


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_check_catches_each_defect(tmp_path: Path, defect: str, capsys: pytest.CaptureFixture[str]) -> None:
    edit, where, reason = DEFECTS[defect]
    folder = _damaged_copy(tmp_path, edit)
    assert main(["corpus", "check", str(folder)]) == 1
    out = capsys.readouterr().out
    problem_lines = [line for line in out.splitlines() if line.startswith("error:")]
    assert problem_lines, out
    assert any(where in line and reason in line for line in problem_lines), out


def test_length_ratio_outlier_is_a_warning_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Keep the hash honest so the only finding is the ratio warning.
    folder = _damaged_copy(tmp_path, lambda rs: _set_text(rs[2], "en", "Yes."))
    meta = json.loads((folder / "corpus.json").read_text(encoding="utf-8"))
    meta["content_hash"] = load_corpus(folder).content_hash
    (folder / "corpus.json").write_text(json.dumps(meta), encoding="utf-8")
    assert main(["corpus", "check", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "warning:" in out and "p03" in out and "length ratio" in out


BAD_INPUT = {
    "invalid json": ('{"id": "p01", "kind": "body",\n', ":1: invalid JSON"),
    # one side alone is a corpus of sources only (reference-free metrics); no side at all is an error
    "missing field": ('{"id": "p01", "kind": "body"}\n', ":1: missing field 'ms'"),
    "bad kind": ('{"id": "p01", "kind": "caption", "ms": "Ya.", "en": "Yes."}\n', ":1: field 'kind'"),
    "duplicate": ('{"id": "a", "kind": "body", "ms": "Ya.", "en": "Yes."}\n'
                  '{"id": "a", "kind": "body", "ms": "Tidak.", "en": "No."}\n', ":2: duplicate id 'a'"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_one_line_exit_2(tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]) -> None:
    content, expected = BAD_INPUT[case]
    path = tmp_path / "pairs.jsonl"
    path.write_text(content, encoding="utf-8")
    assert main(["corpus", "export", str(path), "--lang", "ms"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) + expected in err, err


def test_not_utf8_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(b'{"id": "a", "kind": "body", "ms": "Ya.", "en": "Yes."}\n{"id": "b\xe9"}\n')
    assert main(["corpus", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2:" in err and "UTF-8" in err and err.count("\n") == 1


def test_plain_pair_reads_crlf_and_bom(tmp_path: Path) -> None:
    ms = tmp_path / "test.zsm_Latn"
    en = tmp_path / "test.eng_Latn"
    ms.write_bytes("\ufeffSatu dua.\r\nTiga empat.\r\n".encode())
    en.write_bytes(b"One two.\r\nThree four.")  # no final newline
    corpus = load_plain_pair({"ms": ms, "en": en})
    assert [p.id for p in corpus.pairs] == ["L0001", "L0002"]
    assert [p.text("ms") for p in corpus.pairs] == ["Satu dua.", "Tiga empat."]
    assert [p.text("en") for p in corpus.pairs] == ["One two.", "Three four."]
    assert check_corpus(corpus) == []


def test_plain_pair_line_count_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.ms").write_text("Satu.\nDua.\n", encoding="utf-8")
    (tmp_path / "a.en").write_text("One.\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"has 2 lines.*has 1 lines"):
        load_plain_pair({"ms": tmp_path / "a.ms", "en": tmp_path / "a.en"})
    assert main(["corpus", "check", "--ms", str(tmp_path / "a.ms"), "--en", str(tmp_path / "a.en")]) == 2
    assert "a.ms has 2 lines" in capsys.readouterr().err


def test_plain_pair_empty_line_is_a_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.ms").write_text("Satu.\n\n", encoding="utf-8")
    (tmp_path / "a.en").write_text("One.\nTwo.\n", encoding="utf-8")
    assert main(["corpus", "check", "--ms", str(tmp_path / "a.ms"), "--en", str(tmp_path / "a.en")]) == 1
    assert "L0002: ms: text is empty" in capsys.readouterr().out


def test_unknown_name_suggests_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["corpus", "show", "rt-2013-russia-japan-2plus"]) == 2
    assert f"did you mean '{CORPUS_NAME}'" in capsys.readouterr().err


def test_show_one_pair(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["corpus", "show", CORPUS_NAME, "--id", "p07"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["kind"] == "heading" and record["en"]["text"] == "Military and Cyber-Security Cooperation"


def _extra_corpus(parent: Path, name: str) -> Path:
    """A copy of the shipped corpus under another name, with one pair's text changed."""
    folder = parent / name
    shutil.copytree(CORPUS_DIR, folder)
    path = folder / "pairs.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    _set_text(records[2], "en", "An extra corpus with words the article never uses: zygote quokka.")
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return folder


def test_search_order_env_then_cwd_then_shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evalharness.corpus import available_corpora, corpora_dirs
    from evalharness.paths import bundled_corpora_dir

    first, second, cwd = tmp_path / "first", tmp_path / "second", tmp_path / "cwd"
    _extra_corpus(first, "extra")
    _extra_corpus(second, "extra")  # shadowed by the one in ``first``
    _extra_corpus(cwd / "corpora", CORPUS_NAME)  # shadows the shipped article, by name only
    monkeypatch.setenv("EVALHARNESS_CORPORA", os.pathsep.join([str(first), str(second), str(first)]))
    monkeypatch.chdir(cwd)
    assert corpora_dirs() == [first, second, cwd / "corpora", bundled_corpora_dir()]
    assert available_corpora() == {"extra": first / "extra", CORPUS_NAME: cwd / "corpora" / CORPUS_NAME}


def test_extra_corpus_is_listed_and_leaves_the_tiny_model_text_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from evalharness.tiny_model import corpus_texts

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("EVALHARNESS_CORPORA", raising=False)
    before = corpus_texts()
    assert before == [pair.text(lang) for pair in load_corpus(CORPUS_DIR).pairs for lang in ("ms", "en")]

    extra = _extra_corpus(tmp_path / "more", "extra-corpus")
    _extra_corpus(elsewhere / "corpora", CORPUS_NAME)  # even a same-named corpus in ./corpora is not read
    monkeypatch.setenv("EVALHARNESS_CORPORA", str(extra.parent))
    assert main(["corpus", "list"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [(row[0], row[3]) for row in rows] == [("extra-corpus", str(extra)),
                                                  (CORPUS_NAME, str(elsewhere / "corpora" / CORPUS_NAME))]
    assert corpus_texts() == before


def test_no_corpus_anywhere_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import evalharness.paths

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALHARNESS_CORPORA", str(tmp_path / "empty"))
    monkeypatch.setattr(evalharness.paths, "bundled_corpora_dir", lambda: tmp_path / "not-installed")
    assert main(["corpus", "list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no named corpora found" in err, err
    for folder in ("empty", "corpora", "not-installed"):
        assert str(tmp_path / folder) in err
