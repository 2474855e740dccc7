"""Tables as Markdown or aligned plain text: every table evalharness prints goes through here."""

from __future__ import annotations

from collections.abc import Sequence


def escape_cell(text: str) -> str:
    """A cell that cannot break its Markdown row: pipes escaped, line breaks as spaces."""
    return text.replace("|", "\\|").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def markdown_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = [head, ["---"] * len(head), *rows]
    return "\n".join("| " + " | ".join(escape_cell(c) for c in row) + " |" for row in lines)


def text_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart, for a terminal."""
    lines = [list(head), *(list(r) for r in rows)]
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in lines)
