"""Corpus checks: ids, empty sides, Unicode form, control characters, wrap artifacts, alignment, hash."""

from __future__ import annotations

import re
import statistics
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evalharness.corpus.model import Corpus, Pair


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

    def where(p: Pair, lang: str | None = None) -> str:
        """``file:line: id``; the file of ``lang`` when each language has its own (``--ms X --en Y``)."""
        line = f":{p.source_line}" if p.source_line is not None else ""
        return f"{corpus.side_files.get(lang, files) if lang else files}{line}: {p.id}"

    for p in corpus.pairs:
        loc = where(p)
        if p.id in seen:
            findings.append(Finding("error", loc, f"duplicate id (first at {seen[p.id]})"))
        seen.setdefault(p.id, loc)
        declared = {(q.lang, q.span) for q in p.quirks}
        for lang, side in p.sides.items():
            at = where(p, lang)
            findings.extend(Finding("error", at, f"{lang}: {m}") for m in _text_problems(side.text))
            for pattern, reason in _WRAP_PATTERNS:
                for match in pattern.finditer(side.text):
                    if not any(q_lang == lang and match.group(0) in span and span in side.text
                               for q_lang, span in declared):
                        findings.append(Finding("error", at, f"{lang}: {reason} at {match.group(0)!r}"))
                        break
            if side.sentences and " ".join(side.sentences) != side.text:
                findings.append(Finding("error", at, f"{lang}: sentences do not rejoin (with single spaces) "
                                                     "to the paragraph text"))
            for i, sent in enumerate(side.sentences):
                if not sent.strip():
                    findings.append(Finding("error", at, f"{lang}: sentence {i} is empty"))
        findings.extend(Finding("error", loc, m) for m in alignment_problems(p))
        for q in p.quirks:
            if q.lang not in p.sides or q.span not in p.sides[q.lang].text:
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


def alignment_problems(p: Pair) -> list[str]:
    """What is wrong with a pair's sentence alignment (empty when it is sound or absent)."""
    if not p.alignment:
        if any(side.sentences for side in p.sides.values()):
            return ["sentences given but no alignment"]
        return []
    problems: list[str] = []
    for index, lang in enumerate(p.sides):  # in the corpus's language order, as the links are
        used = [i for link in p.alignment for i in link[index]]
        n = len(p.sides[lang].sentences)
        if sorted(used) != list(range(n)) or used != sorted(used):
            problems.append(f"{lang}: alignment must use each of the {n} sentences once, in order (uses {used})")
    if any(not a and not b for a, b in p.alignment):
        problems.append("alignment has an empty link")
    return problems


def _ratio_warnings(corpus: Corpus, where: Any) -> list[Finding]:
    if corpus.missing_sides:  # a corpus of sources only: no ratio between sides
        return []
    a, b = corpus.languages
    ratios = {
        p.id: len(p.text(a)) / len(p.text(b))
        for p in corpus.pairs
        if p.text(a).strip() and p.text(b).strip()
    }
    if len(ratios) < 3:
        return []
    median = statistics.median(ratios.values())
    out = []
    for p in corpus.pairs:
        r = ratios.get(p.id)
        if r is not None and not RATIO_BAND[0] <= r / median <= RATIO_BAND[1]:
            out.append(Finding("warning", where(p), f"length ratio {a}/{b} {r:.2f} is far from the corpus "
                                                    f"median {median:.2f}: check the alignment"))
    return out
