"""Reference corpora: aligned Malay/English pairs loaded by name, by path, or from two plain-text files.

A named corpus is a folder ``corpora/<name>/`` holding ``corpus.json`` (name, version, languages,
content hash), ``pairs.jsonl`` (one aligned pair a line) and ``excluded.jsonl`` (one-language units
kept out of scoring). The content hash is computed from the pairs as loaded, so any edit changes it;
``corpus check`` reports a corpus whose recorded hash no longer matches.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import statistics
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from evalharness.errors import CorpusError
from evalharness.textio import read_lines, read_text

LANGUAGES: tuple[str, str] = ("ms", "en")
KINDS = frozenset({"body", "heading", "line"})
FIDELITY = frozenset({"faithful", "loose"})
Level = Literal["paragraph", "sentence"]

_REQUIRED = ("id", "kind", "ms", "en")


@dataclass(frozen=True)
class Side:
    """One language's side of a pair: the text as scored, its sentences, and where it came from."""

    text: str
    sentences: tuple[str, ...] = ()
    lines: tuple[int, int] | None = None


@dataclass(frozen=True)
class Quirk:
    """A feature of the source text that was kept as written on purpose (a typo, odd spacing)."""

    lang: str
    span: str
    note: str


@dataclass(frozen=True)
class Pair:
    """An aligned paragraph (or line) pair with its tags and sentence alignment."""

    id: str
    kind: str
    sides: Mapping[str, Side]
    fidelity: str | None = None
    alignment: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = ()
    notes: tuple[str, ...] = ()
    repairs: tuple[Mapping[str, str], ...] = ()
    quirks: tuple[Quirk, ...] = ()
    source_line: int | None = None  # line of the record in pairs.jsonl (or of the text in plain files)

    def text(self, lang: str) -> str:
        """The paragraph text in ``lang``."""
        return self.sides[lang].text

    def sentence_groups(self, lang: str) -> list[str]:
        """The aligned sentence groups of ``lang``, one string per alignment link."""
        sents = self.sides[lang].sentences
        index = 0 if lang == LANGUAGES[0] else 1
        return [" ".join(sents[i] for i in link[index]) for link in self.alignment]


@dataclass(frozen=True)
class Segment:
    """One scoring unit: a stable id and its text in both languages, plus the pair's tags."""

    id: str
    texts: Mapping[str, str]
    kind: str
    fidelity: str | None
    sentences: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # the corpus's own, when it has them


@dataclass(frozen=True)
class Corpus:
    """A loaded corpus: pairs in order plus the metadata that identifies this exact text."""

    name: str
    version: str
    pairs: tuple[Pair, ...]
    origin: str
    recorded_hash: str | None = None
    description: str = ""
    files: tuple[Path, ...] = field(default=())

    @property
    def content_hash(self) -> str:
        """SHA-256 over the canonical form of every pair: any change to the text changes it."""
        return content_hash(self.pairs)

    @property
    def has_sentence_alignment(self) -> bool:
        """True when every pair carries a sentence alignment."""
        return bool(self.pairs) and all(p.alignment for p in self.pairs)

    def segments(self, level: Level = "paragraph") -> list[Segment]:
        """The scoring units at ``level``, in corpus order, with stable ids (``p07``, ``p07.2``)."""
        if level == "paragraph":
            return [
                Segment(p.id, {lang: p.text(lang) for lang in LANGUAGES}, p.kind, p.fidelity,
                        {lang: p.sides[lang].sentences for lang in LANGUAGES if p.sides[lang].sentences})
                for p in self.pairs
            ]
        if not self.has_sentence_alignment:
            raise CorpusError(
                f"corpus {self.name!r} has no sentence alignment; use level 'paragraph' for it"
            )
        out: list[Segment] = []
        for p in self.pairs:
            groups = {lang: p.sentence_groups(lang) for lang in LANGUAGES}
            for k, link in enumerate(p.alignment):
                sents = {lang: tuple(p.sides[lang].sentences[i] for i in link[j]) for j, lang in enumerate(LANGUAGES)}
                out.append(Segment(f"{p.id}.{k + 1}", {lang: groups[lang][k] for lang in LANGUAGES}, p.kind,
                                   p.fidelity, sents))
        return out

    def get(self, pair_id: str) -> Pair:
        """The pair with id ``pair_id``."""
        for p in self.pairs:
            if p.id == pair_id:
                return p
        raise CorpusError(f"corpus {self.name!r} has no pair with id {pair_id!r}")


def canonical_pair(pair: Pair) -> dict[str, Any]:
    """The JSON form of a pair as stored in ``pairs.jsonl``."""
    record: dict[str, Any] = {"id": pair.id, "kind": pair.kind}
    if pair.fidelity is not None:
        record["fidelity"] = pair.fidelity
    for lang in LANGUAGES:
        side = pair.sides[lang]
        rec: dict[str, Any] = {"text": side.text}
        if side.sentences:
            rec["sentences"] = list(side.sentences)
        if side.lines is not None:
            rec["lines"] = list(side.lines)
        record[lang] = rec
    if pair.alignment:
        record["alignment"] = [[list(a), list(b)] for a, b in pair.alignment]
    if pair.repairs:
        record["repairs"] = [dict(r) for r in pair.repairs]
    if pair.quirks:
        record["quirks"] = [{"lang": q.lang, "span": q.span, "note": q.note} for q in pair.quirks]
    if pair.notes:
        record["notes"] = list(pair.notes)
    return record


def content_hash(pairs: Sequence[Pair]) -> str:
    """Hash of the canonical JSON of the pairs, order included."""
    digest = hashlib.sha256()
    for pair in pairs:
        digest.update(json.dumps(canonical_pair(pair), sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    return "sha256:" + digest.hexdigest()


# --------------------------------------------------------------------------- locating corpora


def corpora_dirs() -> list[Path]:
    """Where named corpora are looked up, in order: $EVALHARNESS_CORPORA, ./corpora, the source tree's."""
    dirs: list[Path] = []
    env = os.environ.get("EVALHARNESS_CORPORA")
    if env:
        dirs.extend(Path(p) for p in env.split(os.pathsep) if p)
    dirs.append(Path.cwd() / "corpora")
    dirs.append(Path(__file__).resolve().parent.parent / "corpora")
    seen: list[Path] = []
    for d in dirs:
        if d.resolve() not in [s.resolve() for s in seen]:
            seen.append(d)
    return seen


def available_corpora() -> dict[str, Path]:
    """Named corpora found on the search path (first one wins)."""
    found: dict[str, Path] = {}
    for base in corpora_dirs():
        if not base.is_dir():
            continue
        for sub in sorted(base.iterdir()):
            if (sub / "pairs.jsonl").is_file() and sub.name not in found:
                found[sub.name] = sub
    return found


def load_corpus(spec: str | Path, *, strict: bool = True) -> Corpus:
    """Load a corpus by name (from ``corpora/``), by folder, or by ``pairs.jsonl`` path.

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

    hint = did_you_mean(str(spec), named)
    raise CorpusError(
        f"corpus {str(spec)!r} not found: not a file or folder, and not a named corpus{hint} "
        f"(named corpora: {', '.join(sorted(named)) or 'none'})"
    )


def _load_dir(folder: Path, *, strict: bool) -> Corpus:
    meta_path = folder / "corpus.json"
    meta: dict[str, Any] = {}
    if meta_path.is_file():
        try:
            meta = json.loads(read_text(meta_path, "corpus metadata"))
        except json.JSONDecodeError as err:
            raise CorpusError(f"{meta_path}:{err.lineno}: invalid JSON: {err.msg}") from None
        if not isinstance(meta, dict):
            raise CorpusError(f"{meta_path}: expected a JSON object")
    pairs_path = folder / "pairs.jsonl"
    corpus = _load_jsonl(pairs_path, name=str(meta.get("name", folder.name)), strict=strict)
    files = [meta_path, pairs_path] if meta_path.is_file() else [pairs_path]
    return Corpus(
        name=corpus.name,
        version=str(meta.get("version", "0")),
        pairs=corpus.pairs,
        origin=str(folder),
        recorded_hash=meta.get("content_hash"),
        description=str(meta.get("description", "")),
        files=tuple(files),
    )


def _load_jsonl(path: Path, *, name: str, strict: bool) -> Corpus:
    lines = read_lines(path, "corpus file")
    pairs: list[Pair] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise CorpusError(f"{path}:{lineno}: invalid JSON: {err.msg} (column {err.colno})") from None
        pair = _parse_pair(record, where=f"{path}:{lineno}", lineno=lineno)
        if strict and pair.id in seen:
            raise CorpusError(
                f"{path}:{lineno}: duplicate id {pair.id!r} (first on line {seen[pair.id]}); ids must be unique"
            )
        seen.setdefault(pair.id, lineno)
        pairs.append(pair)
    if not pairs:
        raise CorpusError(f"{path}: corpus has no pairs")
    return Corpus(name=name, version="0", pairs=tuple(pairs), origin=str(path), files=(path,))


def _parse_pair(record: Any, *, where: str, lineno: int) -> Pair:
    if not isinstance(record, dict):
        raise CorpusError(f"{where}: expected a JSON object, got {type(record).__name__}")
    for key in _REQUIRED:
        if key not in record:
            raise CorpusError(f"{where}: missing field {key!r} (required: {', '.join(_REQUIRED)})")
    pid = record["id"]
    if not isinstance(pid, str) or not pid:
        raise CorpusError(f"{where}: field 'id' must be a non-empty string")
    kind = record["kind"]
    if kind not in KINDS:
        raise CorpusError(f"{where}: field 'kind' is {kind!r}; expected one of {', '.join(sorted(KINDS))}")
    fidelity = record.get("fidelity")
    if fidelity is not None and fidelity not in FIDELITY:
        raise CorpusError(
            f"{where}: field 'fidelity' is {fidelity!r}; expected one of {', '.join(sorted(FIDELITY))}"
        )
    sides = {lang: _parse_side(record[lang], where=f"{where}: field {lang!r}") for lang in LANGUAGES}
    alignment = _parse_alignment(record.get("alignment", []), where=where)
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
    return Side(text, tuple(sentences), (lines[0], lines[1]) if lines else None)


def _parse_alignment(value: Any, *, where: str) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    ok = isinstance(value, list) and all(
        isinstance(link, list)
        and len(link) == 2
        and all(isinstance(side, list) and all(isinstance(i, int) for i in side) for side in link)
        for link in value
    )
    if not ok:
        raise CorpusError(f"{where}: field 'alignment' must be a list of [[ms indices], [en indices]] links")
    return tuple((tuple(a), tuple(b)) for a, b in value)


def _list_of_dicts(value: Any, *, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise CorpusError(f"{where}: must be a list of objects")
    return value


def load_plain_pair(files: Mapping[str, str | Path], *, name: str | None = None) -> Corpus:
    """Read an external test set given as two line-aligned plain-text files, one per language.

    Ids are line numbers (``L0001``). CRLF endings and a UTF-8 BOM are accepted (NTREX-128 ships CRLF).
    """
    missing = [lang for lang in LANGUAGES if lang not in files]
    if missing:
        raise CorpusError(f"a plain-text corpus needs one file per language; missing: {', '.join(missing)}")
    paths = {lang: Path(files[lang]) for lang in LANGUAGES}
    texts = {lang: read_lines(paths[lang], f"{lang} text file") for lang in LANGUAGES}
    counts = {lang: len(texts[lang]) for lang in LANGUAGES}
    if len(set(counts.values())) != 1:
        detail = ", ".join(f"{paths[lang]} has {counts[lang]} lines" for lang in LANGUAGES)
        raise CorpusError(f"plain-text corpus files are not line-aligned: {detail}")
    if counts[LANGUAGES[0]] == 0:
        raise CorpusError(f"plain-text corpus files are empty: {paths['ms']}, {paths['en']}")
    width = max(4, len(str(counts[LANGUAGES[0]])))
    pairs = tuple(
        Pair(f"L{i + 1:0{width}d}", "line", {lang: Side(texts[lang][i]) for lang in LANGUAGES},
             source_line=i + 1)
        for i in range(counts[LANGUAGES[0]])
    )
    label = name or f"{paths['ms'].name}+{paths['en'].name}"
    return Corpus(name=label, version="0", pairs=pairs, origin=f"{paths['ms']} + {paths['en']}",
                  files=(paths["ms"], paths["en"]))


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class Finding:
    """One problem (or warning) found by :func:`check_corpus`."""

    severity: Literal["error", "warning"]
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: {self.message}"


# A line wrap joined with a space inside a hyphenated word ("mem- bincangkan"), or line breaks,
# tabs and doubled spaces that survived the join.
_WRAP_PATTERNS = (
    (re.compile(r"[a-z]- [a-z]"), "hyphen followed by a space inside a word (wrap artifact?)"),
    (re.compile(r"  +"), "doubled space"),
    (re.compile(r"^\s|\s$"), "leading or trailing whitespace"),
)
RATIO_BAND = (0.5, 2.0)


def check_corpus(corpus: Corpus) -> list[Finding]:
    """Every content problem in ``corpus``; warnings (length-ratio outliers) do not fail a check."""
    findings: list[Finding] = []
    seen: dict[str, str] = {}
    files = corpus.files[-1] if corpus.files else Path(corpus.origin)

    def where(p: Pair) -> str:
        line = f":{p.source_line}" if p.source_line is not None else ""
        return f"{files}{line}: {p.id}"

    for p in corpus.pairs:
        loc = where(p)
        if p.id in seen:
            findings.append(Finding("error", loc, f"duplicate id (first at {seen[p.id]})"))
        seen.setdefault(p.id, loc)
        declared = {(q.lang, q.span) for q in p.quirks}
        for lang in LANGUAGES:
            side = p.sides[lang]
            findings.extend(Finding("error", loc, f"{lang}: {m}") for m in _text_problems(side.text))
            for pattern, reason in _WRAP_PATTERNS:
                for match in pattern.finditer(side.text):
                    if not any(q_lang == lang and match.group(0) in span and span in side.text
                               for q_lang, span in declared):
                        findings.append(Finding("error", loc, f"{lang}: {reason} at {match.group(0)!r}"))
                        break
            if side.sentences and " ".join(side.sentences) != side.text:
                findings.append(Finding("error", loc, f"{lang}: sentences do not rejoin (with single spaces) "
                                                      "to the paragraph text"))
            for i, sent in enumerate(side.sentences):
                if not sent.strip():
                    findings.append(Finding("error", loc, f"{lang}: sentence {i} is empty"))
        findings.extend(Finding("error", loc, m) for m in _alignment_problems(p))
        for q in p.quirks:
            if q.lang not in LANGUAGES or q.span not in p.sides[q.lang].text:
                findings.append(Finding("error", loc, f"quirk {q.span!r} ({q.lang}) not found in the text"))
    findings.extend(_ratio_warnings(corpus, where))
    if corpus.recorded_hash is not None and corpus.recorded_hash != corpus.content_hash:
        findings.append(Finding(
            "error", str(corpus.files[0] if corpus.files else corpus.origin),
            f"content_hash {corpus.recorded_hash} does not match the text ({corpus.content_hash}): "
            "the text changed; bump 'version' and record the new hash",
        ))
    return findings


def _text_problems(text: str) -> list[str]:
    problems: list[str] = []
    if not text.strip():
        problems.append("text is empty")
        return problems
    if not unicodedata.is_normalized("NFC", text):
        problems.append("text is not in Unicode NFC; normalise it (unicodedata.normalize('NFC', ...))")
    controls = sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in ("Cc", "Cf")})
    if controls:
        problems.append(f"control or format characters: {', '.join(controls)}")
    return problems


def _alignment_problems(p: Pair) -> list[str]:
    if not p.alignment:
        if any(p.sides[lang].sentences for lang in LANGUAGES):
            return ["sentences given but no alignment"]
        return []
    problems: list[str] = []
    for index, lang in enumerate(LANGUAGES):
        used = [i for link in p.alignment for i in link[index]]
        n = len(p.sides[lang].sentences)
        if sorted(used) != list(range(n)) or used != sorted(used):
            problems.append(f"{lang}: alignment must use each of the {n} sentences once, in order (uses {used})")
    if any(not a and not b for a, b in p.alignment):
        problems.append("alignment has an empty link")
    return problems


def _ratio_warnings(corpus: Corpus, where: Any) -> list[Finding]:
    ratios = {
        p.id: len(p.text(LANGUAGES[0])) / len(p.text(LANGUAGES[1]))
        for p in corpus.pairs
        if p.text(LANGUAGES[0]).strip() and p.text(LANGUAGES[1]).strip()
    }
    if len(ratios) < 3:
        return []
    median = statistics.median(ratios.values())
    out = []
    for p in corpus.pairs:
        r = ratios.get(p.id)
        if r is not None and not RATIO_BAND[0] <= r / median <= RATIO_BAND[1]:
            out.append(Finding("warning", where(p), f"length ratio ms/en {r:.2f} is far from the corpus "
                                                    f"median {median:.2f}: check the alignment"))
    return out
