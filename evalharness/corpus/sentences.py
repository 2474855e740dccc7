"""Sentence splitting for languages without a curated sentence alignment (sentencex, rule-based, offline)."""

from __future__ import annotations


def split_sentences(text: str, lang: str) -> list[str]:
    """Sentences of ``text`` by sentencex (~300 languages including Malay), stripped, empty ones dropped."""
    from sentencex import segment

    return [s.strip() for s in segment(lang, text) if s.strip()]
