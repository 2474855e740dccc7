"""Slice tags of a segment (kind, fidelity, source length) and ``--where`` filters over them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evalharness.errors import InputError

# Source length in words: paragraphs of the reference corpus run from 4 to ~70 words.
LENGTH_BUCKETS = (("short", 0, 15), ("medium", 15, 40), ("long", 40, 10**9))
SLICE_KEYS = ("kind", "fidelity", "length")


def length_bucket(text: str) -> str:
    """``short`` (< 15 words), ``medium`` (15–39) or ``long`` (40+)."""
    words = len(text.split())
    return next(name for name, low, high in LENGTH_BUCKETS if low <= words < high)


def tags_for(kind: str, fidelity: str | None, source: str) -> dict[str, str]:
    """The slice tags of one segment in one direction (length is measured on its source side)."""
    return {"kind": kind, "fidelity": fidelity or "untagged", "length": length_bucket(source)}


def parse_where(items: Sequence[str]) -> dict[str, set[str]]:
    """``["kind=body", "length=short,medium"]`` → ``{"kind": {"body"}, "length": {"short", "medium"}}``."""
    where: dict[str, set[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not values.strip():
            raise InputError(f"--where {item!r}: expected KEY=VALUE[,VALUE], e.g. kind=body or length=short,medium")
        if key not in SLICE_KEYS:
            raise InputError(f"--where {item!r}: unknown key {key!r}; use one of {', '.join(SLICE_KEYS)}")
        if key in where:  # filters are ANDed: kind=body AND kind=heading would select nothing
            raise InputError(f"--where {key}= given twice; give the values together: {key}=A,B selects either")
        where[key] = {v.strip() for v in values.split(",") if v.strip()}
    return where


def matches(tags: Mapping[str, str], where: Mapping[str, set[str]]) -> bool:
    """True when every filtered key has one of its allowed values."""
    return all(tags.get(key) in allowed for key, allowed in where.items())
