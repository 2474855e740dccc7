"""Sentence splitting for languages without a curated sentence alignment (sentencex, rule-based, offline)."""

from __future__ import annotations

from evalharness.languages import LANGUAGES


def split_sentences(text: str, lang: str) -> list[str]:
    """Sentences of ``text`` in language ``lang`` (a code of :mod:`evalharness.languages`) by sentencex (~300
    languages: its own code for ``lang`` is the table's), stripped, empty ones dropped."""
    from sentencex import segment

    code = LANGUAGES[lang].sentencex if lang in LANGUAGES else lang  # a code outside the table goes as given
    return [s.strip() for s in segment(code, text) if s.strip()]
