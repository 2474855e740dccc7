"""What a terminal shows after a run: an aligned score table that fits the window, and the flags under it.

Markdown is for ``summary.md``; on a terminal it wraps mid-number at 80 columns. rich lays the table out to
the window's width (80 columns when the output is not a terminal) and wraps inside cells instead.
"""

from __future__ import annotations

from typing import IO

from evalharness.render.summary import flag_lines, score_rows
from evalharness.runs.schema import Results


def print_results(results: Results, file: IO[str] | None = None) -> None:
    """The score table (scores with their 95% intervals) and one line per system × direction that raised flags."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=file, highlight=False, soft_wrap=False)
    head, rows = score_rows(results)
    narrow = console.width < 120
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    for i, name in enumerate(head):
        name = "n" if name == "segments" and narrow else name
        table.add_column(Text(name), justify="right" if i >= 2 else "left", no_wrap=i < 3)
    for row in rows:
        cells = [Text(c) for c in row[:3]]
        for cell in row[3:]:
            # Narrow: "8.58" over "7.50–9.63", so the table breaks between lines, never inside a number.
            cells.append(Text(cell.replace(" [", "\n", 1).replace(", ", "–").rstrip("]") if narrow else cell))
        table.add_row(*cells)
    console.print(table)
    console.print(Text("Scores with 95% bootstrap intervals; ↑ higher is better, ↓ lower is better."))
    for line in flag_lines(results):
        console.print(Text(line))
