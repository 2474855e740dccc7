"""A score's signature as an object: ordered ``key:value`` fields, written as sacrebleu writes them.

sacrebleu's signatures are objects (``sacrebleu.metrics.helpers.Signature``) rendered as ``nrefs:1|case:mixed|…``;
ours travel in run files as that text and are read back with :meth:`Signature.parse`, so that comparing two runs
names the fields that differ instead of printing two long strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

VERSION_KEYS = frozenset({"version"})
"""Fields that name a library version; ``compare`` still requires them equal (another version may score otherwise)."""


@dataclass(frozen=True)
class Signature:
    """Ordered ``(key, value)`` fields; ``str()`` is the ``key:value|…`` text."""

    fields: tuple[tuple[str, str], ...]

    def __init__(self, fields: Iterable[tuple[str, object]]) -> None:
        object.__setattr__(self, "fields", tuple((str(k), str(v)) for k, v in fields))

    @classmethod
    def parse(cls, text: str) -> Signature:
        """The signature written as ``text``; a part without ``:`` is kept whole as a key with an empty value."""
        parts = [p for p in text.split("|") if p]
        return cls((p.split(":", 1)[0], p.split(":", 1)[1] if ":" in p else "") for p in parts)

    def __str__(self) -> str:
        return "|".join(f"{k}:{v}" if v or not k else k for k, v in self.fields)

    def get(self, key: str) -> str | None:
        """The value of ``key``, or None."""
        return dict(self.fields).get(key)

    def differences(self, other: Signature) -> list[str]:
        """``key: mine vs theirs`` for every field that differs or is missing on one side, in this one's order."""
        mine, theirs = dict(self.fields), dict(other.fields)
        keys = [k for k, _ in self.fields] + [k for k, _ in other.fields if k not in mine]
        return [f"{k}: {mine.get(k, '(none)')} vs {theirs.get(k, '(none)')}" for k in keys
                if mine.get(k) != theirs.get(k)]
