"""Finding and reading corpora: by name, by folder or ``pairs.jsonl`` path, or as two plain-text files.

A named corpus is a folder ``<name>/`` holding ``corpus.json`` (name, version, languages, content hash),
``pairs.jsonl`` (one aligned pair a line, a field per language: ``ms`` and ``en``; ``ind`` for Indonesian, as
``id`` is the pair's id) and ``excluded.jsonl`` (one-language units kept out of scoring). The content hash is
computed from the pairs as loaded, so any edit changes it; ``corpus check`` reports a corpus whose recorded hash
no longer matches.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from evalharness.corpus.check import alignment_problems
from evalharness.corpus.model import FIDELITY, KINDS, LANGUAGES, PAIR_FIELDS, Corpus, Pair, Quirk, Side, side_field
from evalharness.errors import CorpusError, InputError
from evalharness.languages import LANGUAGES as KNOWN_LANGUAGES
from evalharness.languages import LanguageError, language
from evalharness.textio import parse_json, read_lines, read_text

_REQUIRED = ("id", "kind")


def corpora_dirs() -> list[Path]:
    """Where named corpora are looked up, in order: ``$EVALHARNESS_CORPORA``, ``./corpora``, the shipped ones.

    ``$EVALHARNESS_CORPORA`` may list several folders (``os.pathsep``-separated); ``./corpora`` is in the
    current directory. The order is the same from a checkout or an installed wheel; a folder listed twice
    is kept once.
    """
    from evalharness.paths import bundled_corpora_dir

    dirs: list[Path] = []
    env = os.environ.get("EVALHARNESS_CORPORA")
    if env:
        dirs.extend(Path(p).expanduser() for p in env.split(os.pathsep) if p)
    dirs.append(Path.cwd() / "corpora")
    dirs.append(bundled_corpora_dir())
    unique: dict[Path, Path] = {}
    for d in dirs:
        unique.setdefault(d.resolve(), d)
    return list(unique.values())


def available_corpora() -> dict[str, Path]:
    """Named corpora found on the search path (:func:`corpora_dirs`); for a name found twice, the first wins."""
    found: dict[str, Path] = {}
    for base in corpora_dirs():
        if not base.is_dir():
            continue
        for sub in sorted(base.iterdir()):
            if (sub / "pairs.jsonl").is_file() and sub.name not in found:
                found[sub.name] = sub
    return found


def load_corpus(spec: str | Path, *, strict: bool = True) -> Corpus:
    """Load a corpus by name (see :func:`corpora_dirs`), by folder, or by ``pairs.jsonl`` path.

    With ``strict`` (the default) duplicate ids are an error; ``corpus check`` loads leniently and
    reports them as problems instead.
    """
    path = Path(spec)
    if path.is_dir():
        return _load_dir(path, strict=strict)
    if path.is_file():
        return _load_jsonl(path, name=path.stem, strict=strict)
    named = available_corpora()
    if str(spec) in named:
        return _load_dir(named[str(spec)], strict=strict)
    from evalharness.registry import did_you_mean
    from evalharness.testsets import registered_sets

    test_sets = registered_sets()  # after local corpora: a folder of yours may shadow a test set's name
    if str(spec) in test_sets:
        return load_testset(str(spec))
    hint = did_you_mean(str(spec), [*named, *test_sets])
    known = ", ".join(sorted(named)) or f"none in {os.pathsep.join(str(d) for d in corpora_dirs())}"
    raise CorpusError(
        f"corpus {str(spec)!r} not found: not a file or folder, and not a named corpus{hint} (named corpora: {known}; "
        f"test sets: {', '.join(test_sets)})"
    )


def load_testset(name: str, *, notify: Callable[[str], None] | None = None) -> Corpus:
    """A named test set (``flores200-devtest``…) as a corpus: fetched and verified on first use, then cached.

    Ids are line numbers (``L0001``), as for any plain-text pair; the version is the pinned commit, and the
    line count must be the registered one.
    """
    import dataclasses

    from evalharness.testsets import fetch, find

    entry = find(name)
    paths = fetch(entry, notify=notify)
    corpus = load_plain_pair(paths, name=entry.name)
    folder = next(iter(paths.values())).parent
    if len(corpus.pairs) != entry.lines:
        raise CorpusError(f"test set {name!r}: {len(corpus.pairs)} lines read, {entry.lines} registered "
                          f"({entry.registry}); the files in {folder} are not the registered set")
    return dataclasses.replace(corpus, version=entry.commit[:12], origin=f"test set {name} ({folder})",
                               description=entry.description)


def _load_dir(folder: Path, *, strict: bool) -> Corpus:
    meta_path = folder / "corpus.json"
    meta: dict[str, Any] = {}
    if meta_path.is_file():
        try:
            meta = parse_json(read_text(meta_path, "corpus metadata"), str(meta_path))
        except InputError as err:
            raise CorpusError(str(err)) from None
        if not isinstance(meta, dict):
            raise CorpusError(f"{meta_path}: expected a JSON object")
        for key in ("name", "version", "description", "content_hash"):
            if key in meta and not isinstance(meta[key], str):
                raise CorpusError(f"{meta_path}: field {key!r} must be a string, got {type(meta[key]).__name__}")
    pairs_path = folder / "pairs.jsonl"
    declared = _declared_languages(meta["languages"], meta_path) if "languages" in meta else None
    corpus = _load_jsonl(pairs_path, name=str(meta.get("name", folder.name)), strict=strict, languages=declared)
    files = [meta_path, pairs_path] if meta_path.is_file() else [pairs_path]
    return Corpus(
        name=corpus.name,
        version=str(meta.get("version", "0")),
        pairs=corpus.pairs,
        origin=str(folder),
        recorded_hash=meta.get("content_hash"),
        description=str(meta.get("description", "")),
        files=tuple(files),
        languages=corpus.languages,
    )


def _declared_languages(value: Any, where: Path) -> tuple[str, str]:
    """``corpus.json``'s ``languages``: two known codes (``["ms", "en"]``; ``zsm_Latn`` reads as ``ms``)."""
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise CorpusError(f"{where}: field 'languages' must be the corpus's two language codes, e.g. [\"ms\", \"en\"]")
    try:
        a, b = (language(v, where=f"{where}: languages").code for v in value)
    except LanguageError as err:
        raise CorpusError(str(err)) from None
    if a == b:
        raise CorpusError(f"{where}: field 'languages' names {a!r} twice; give the corpus's two languages")
    return a, b


def _record_languages(record: Any, where: str) -> tuple[str, str]:
    """The two languages of a ``pairs.jsonl`` without ``corpus.json``: the language fields of the first record
    (``ms`` and ``en``; ``ind`` or ``ind_Latn`` for Indonesian, as ``id`` is the pair's id), in their order there."""
    fields = {name: lang.code for lang in KNOWN_LANGUAGES.values() for name in (lang.code, lang.iso639_3, lang.flores)
              if name not in PAIR_FIELDS}
    found = list(dict.fromkeys(fields[key] for key in record if key in fields)) if isinstance(record, dict) else []
    if len(found) > 2:
        raise CorpusError(f"{where}: fields for {', '.join(found)}: a corpus has two languages; name them in "
                          "corpus.json beside it: \"languages\": [\"ms\", \"en\"]")
    # fewer than two: the default pair, whose missing field the record's check then names
    return (found[0], found[1]) if len(found) == 2 else LANGUAGES


def _load_jsonl(path: Path, *, name: str, strict: bool, languages: tuple[str, str] | None = None) -> Corpus:
    lines = read_lines(path, "corpus file")
    pairs: list[Pair] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = parse_json(line, f"{path}:{lineno}", one_line=True)
        except InputError as err:
            raise CorpusError(str(err)) from None
        if languages is None:
            languages = _record_languages(record, f"{path}:{lineno}")
        pair = _parse_pair(record, where=f"{path}:{lineno}", lineno=lineno, languages=languages)
        if strict:
            problems = alignment_problems(pair)
            if problems:  # a sentence-level run would index past the sentences; corpus check lists these instead
                raise CorpusError(f"{path}:{lineno}: {pair.id}: {problems[0]}; run 'evalharness corpus check'")
        if strict and pair.id in seen:
            raise CorpusError(
                f"{path}:{lineno}: duplicate id {pair.id!r} (first on line {seen[pair.id]}); ids must be unique"
            )
        seen.setdefault(pair.id, lineno)
        if pairs and set(pair.sides) != set(pairs[0].sides):
            odd = sorted(set(pair.sides) ^ set(pairs[0].sides))[0]
            raise CorpusError(f"{path}:{lineno}: {pair.id} {'has' if odd in pair.sides else 'lacks'} the {odd} side "
                              f"and {pairs[0].id} does not: give both sides in every pair, or one side (sources "
                              "only) in all")
        pairs.append(pair)
    if not pairs or languages is None:
        raise CorpusError(f"{path}: corpus has no pairs")
    return Corpus(name=name, version="0", pairs=tuple(pairs), origin=str(path), files=(path,), languages=languages)


def _parse_pair(record: Any, *, where: str, lineno: int, languages: tuple[str, str] = LANGUAGES) -> Pair:
    if not isinstance(record, dict):
        raise CorpusError(f"{where}: expected a JSON object, got {type(record).__name__}")
    required = ", ".join((*_REQUIRED, *(side_field(lang) for lang in languages)))
    for key in _REQUIRED:
        if key not in record:
            raise CorpusError(f"{where}: missing field {key!r} (required: {required})")
    # one side may be absent from every pair: a corpus of sources only, for reference-free metrics
    fields = {lang: key for lang in languages if (key := _side_key(record, lang, f"{where}: ", required, absent=True))}
    if not fields:
        _side_key(record, languages[0], f"{where}: ", required)  # raises, naming the field
    pid = record["id"]
    if not isinstance(pid, str) or not pid:
        raise CorpusError(f"{where}: field 'id' must be a non-empty string")
    kind = record["kind"]
    if not isinstance(kind, str) or kind not in KINDS:
        raise CorpusError(f"{where}: field 'kind' is {kind!r}; expected one of {', '.join(sorted(KINDS))}")
    fidelity = record.get("fidelity")
    if fidelity is not None and (not isinstance(fidelity, str) or fidelity not in FIDELITY):
        raise CorpusError(
            f"{where}: field 'fidelity' is {fidelity!r}; expected one of {', '.join(sorted(FIDELITY))}"
        )
    sides = {lang: _parse_side(record[key], where=f"{where}: field {key!r}") for lang, key in fields.items()}
    if len(sides) < len(languages) and record.get("alignment"):
        raise CorpusError(f"{where}: field 'alignment' links two sides, and the pair has one; leave it out")
    alignment = _parse_alignment(record.get("alignment", []), where=where, languages=languages)
    quirks = tuple(
        Quirk(str(q.get("lang", "")), str(q.get("span", "")), str(q.get("note", "")))
        for q in _list_of_dicts(record.get("quirks", []), where=f"{where}: field 'quirks'")
    )
    repairs = tuple(
        {str(k): str(v) for k, v in r.items()}
        for r in _list_of_dicts(record.get("repairs", []), where=f"{where}: field 'repairs'")
    )
    notes = record.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise CorpusError(f"{where}: field 'notes' must be a list of strings")
    return Pair(pid, kind, sides, fidelity, alignment, tuple(notes), repairs, quirks, lineno)


def _side_key(record: dict[str, Any], lang: str, where: str, required: str, *, absent: bool = False) -> str:
    """The field holding ``lang``'s side: its code, or its ISO 639-3 or FLORES code (``ind`` / ``ind_Latn`` for
    Indonesian, whose code ``id`` is the pair's id field); with ``absent``, "" where the record has none."""
    row = language(lang)
    present = [n for n in dict.fromkeys((row.code, row.iso639_3, row.flores)) if n not in PAIR_FIELDS and n in record]
    if not present and absent:
        return ""
    if not present:
        raise CorpusError(f"{where}missing field {side_field(lang)!r} (required: {required})")
    if len(present) > 1:
        raise CorpusError(f"{where}fields {', '.join(map(repr, present))} all hold the {row.name} side; keep one")
    return present[0]


def _parse_side(value: Any, *, where: str) -> Side:
    if isinstance(value, str):
        return Side(value)
    if not isinstance(value, dict) or "text" not in value:
        raise CorpusError(f"{where}: expected a string or an object with a 'text' field")
    text = value["text"]
    sentences = value.get("sentences", [])
    lines = value.get("lines")
    if not isinstance(text, str):
        raise CorpusError(f"{where}: 'text' must be a string")
    if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
        raise CorpusError(f"{where}: 'sentences' must be a list of strings")
    if lines is not None and not (
        isinstance(lines, list) and len(lines) == 2 and all(isinstance(n, int) for n in lines)
    ):
        raise CorpusError(f"{where}: 'lines' must be [first, last] line numbers")
    others = value.get("other_references", [])
    if not isinstance(others, list) or not all(isinstance(r, str) and r.strip() for r in others):
        raise CorpusError(f"{where}: 'other_references' must be a list of non-empty strings (more translations "
                          "of the pair, each a further reference); leave the field out for none")
    return Side(text, tuple(sentences), (lines[0], lines[1]) if lines else None, tuple(others))


def _parse_alignment(value: Any, *, where: str,
                     languages: tuple[str, str]) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    ok = isinstance(value, list) and all(
        isinstance(link, list)
        and len(link) == 2
        and all(isinstance(side, list) and all(isinstance(i, int) for i in side) for side in link)
        for link in value
    )
    if not ok:
        a, b = languages
        raise CorpusError(f"{where}: field 'alignment' must be a list of [[{a} indices], [{b} indices]] links")
    return tuple((tuple(a), tuple(b)) for a, b in value)


def _list_of_dicts(value: Any, *, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise CorpusError(f"{where}: must be a list of objects")
    return value


def load_plain_pair(files: Mapping[str, str | Path | None], *, name: str | None = None) -> Corpus:
    """Read an external test set given as two line-aligned plain-text files, one per language: ``{"ms": path,
    "en": path}``, the languages in the corpus's order; ``None`` for one of them: a corpus of sources only (for
    reference-free metrics).

    Ids are line numbers (``L0001``). CRLF endings and a UTF-8 BOM are accepted (NTREX-128 ships CRLF).
    """
    if len(files) != 2 or all(f is None for f in files.values()):
        raise CorpusError("a plain-text corpus needs one file for each of two languages (or one file and null for "
                          f"the side it lacks); got {', '.join(files) or 'none'}")
    try:
        a, b = langs = tuple(language(code, where="plain-text corpus").code for code in files)
    except LanguageError as err:
        raise CorpusError(str(err)) from None
    paths = {lang: Path(file) for lang, file in zip(langs, files.values(), strict=True) if file is not None}
    texts = {lang: read_lines(path, f"{lang} text file") for lang, path in paths.items()}
    counts = {lang: len(lines) for lang, lines in texts.items()}
    if len(set(counts.values())) != 1:
        detail = ", ".join(f"{paths[lang]} has {counts[lang]} lines" for lang in paths)
        raise CorpusError(f"plain-text corpus files are not line-aligned: {detail}")
    lines = next(iter(counts.values()))
    if lines == 0:
        raise CorpusError(f"plain-text corpus files are empty: {', '.join(map(str, paths.values()))}")
    width = max(4, len(str(lines)))
    pairs = tuple(
        Pair(f"L{i + 1:0{width}d}", "line", {lang: Side(texts[lang][i]) for lang in paths}, source_line=i + 1)
        for i in range(lines)
    )
    label = name or "+".join(p.name for p in paths.values())
    return Corpus(name=label, version="0", pairs=pairs, origin=" + ".join(map(str, paths.values())),
                  files=tuple(paths.values()), side_files=paths, languages=(a, b))
