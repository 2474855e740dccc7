"""The corpus model: aligned pairs in two languages, the segments scored, and the hash that pins their text."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from evalharness.errors import CorpusError
from evalharness.languages import DEFAULT_PAIR, language, split_direction

LANGUAGES: tuple[str, str] = DEFAULT_PAIR
"""The languages of a corpus that declares none (the shipped corpus's: Malay, English)."""
KINDS = frozenset({"body", "heading", "line"})
FIDELITY = frozenset({"faithful", "loose"})
Level = Literal["paragraph", "sentence"]
Direction = str
"""Two language codes of :mod:`evalharness.languages` joined by ``-`` (``ms-en``: Malay into English)."""
PAIR_FIELDS = frozenset({"id", "kind", "fidelity", "alignment", "repairs", "quirks", "notes"})
"""A pair's own fields in ``pairs.jsonl``; a language whose code is one of them (``id``, Indonesian) keeps its side
under its ISO 639-3 code (``ind``)."""


def side_field(lang: str) -> str:
    """The ``pairs.jsonl`` field of ``lang``'s side: its code (``ms``, ``en``), or ``ind`` for ``id``."""
    return language(lang).iso639_3 if lang in PAIR_FIELDS else lang


@dataclass(frozen=True)
class Side:
    """One language's side of a pair: the text as scored, its sentences, and where it came from."""

    text: str
    sentences: tuple[str, ...] = ()
    lines: tuple[int, int] | None = None
    other_references: tuple[str, ...] = ()  # more translations of the pair into this language: extra references


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
    sides: Mapping[str, Side]  # by language, in the corpus's language order: the order of the alignment links
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
        index = list(self.sides).index(lang)  # the sides are in the corpus's language order, as the links are
        return [" ".join(sents[i] for i in link[index]) for link in self.alignment]


@dataclass(frozen=True)
class Segment:
    """One scoring unit: a stable id and its text in both languages, plus the pair's tags."""

    id: str
    texts: Mapping[str, str]
    kind: str
    fidelity: str | None
    sentences: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # the corpus's own, when it has them
    # per language, more references than texts[lang] (paragraph level only: they have no sentence alignment)
    other_references: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def references(self, lang: str) -> tuple[str, ...]:
        """Every reference in ``lang``: the text first, then the other references; none where the corpus has no
        ``lang`` side (sources only)."""
        if lang not in self.texts:
            return ()
        return (self.texts[lang], *self.other_references.get(lang, ()))


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
    side_files: Mapping[str, Path] = field(default_factory=dict)  # per language, when each has its own file
    # the two languages, in the order of pairs.jsonl's alignment links; not part of the content hash, which the
    # texts (keyed by language) already pin
    languages: tuple[str, str] = DEFAULT_PAIR

    @property
    def content_hash(self) -> str:
        """SHA-256 over the canonical form of every pair: any change to the text changes it."""
        return content_hash(self.pairs)

    def check_direction(self, direction: str, *, where: str = "directions") -> tuple[str, str]:
        """(source, target) of ``direction``, both languages of this corpus; else a typed error naming the fix."""
        src, tgt = split_direction(direction, where=where)
        if {src, tgt} != set(self.languages):
            a, b = self.languages
            raise CorpusError(f"{where}: corpus {self.name!r} is in {a} and {b}, so {direction!r} cannot run on it; "
                              f"set directions to {a}-{b} and/or {b}-{a}")
        return src, tgt

    @property
    def missing_sides(self) -> tuple[str, ...]:
        """The languages no pair has (every pair has the same sides): a corpus of sources only lacks its targets'."""
        return tuple(lang for lang in self.languages if self.pairs and lang not in self.pairs[0].sides)

    @property
    def has_sentence_alignment(self) -> bool:
        """True when every pair carries a sentence alignment."""
        return bool(self.pairs) and all(p.alignment for p in self.pairs)

    def segments(self, level: Level = "paragraph") -> list[Segment]:
        """The scoring units at ``level``, in corpus order, with stable ids (``p07``, ``p07.2``)."""
        langs = tuple(lang for lang in self.languages if lang not in self.missing_sides)
        if level == "paragraph":
            return [
                Segment(p.id, {lang: p.text(lang) for lang in langs}, p.kind, p.fidelity,
                        {lang: p.sides[lang].sentences for lang in langs if p.sides[lang].sentences},
                        {lang: p.sides[lang].other_references for lang in langs
                         if p.sides[lang].other_references})
                for p in self.pairs
            ]
        if not self.has_sentence_alignment:
            raise CorpusError(
                f"corpus {self.name!r} has no sentence alignment; use level 'paragraph' for it"
            )
        out: list[Segment] = []
        for p in self.pairs:
            groups = {lang: p.sentence_groups(lang) for lang in langs}
            for k, link in enumerate(p.alignment):
                sents = {lang: tuple(p.sides[lang].sentences[i] for i in link[j]) for j, lang in enumerate(langs)}
                out.append(Segment(f"{p.id}.{k + 1}", {lang: groups[lang][k] for lang in langs}, p.kind,
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
    for lang, side in pair.sides.items():  # keys sorted when hashed: the order of the sides does not matter
        rec: dict[str, Any] = {"text": side.text}
        if side.sentences:
            rec["sentences"] = list(side.sentences)
        if side.lines is not None:
            rec["lines"] = list(side.lines)
        if side.other_references:
            rec["other_references"] = list(side.other_references)
        record[side_field(lang)] = rec
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
