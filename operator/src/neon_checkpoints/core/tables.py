"""The one plain-text table renderer (the CLI's tables and the demo's views of the app)."""

from __future__ import annotations

from collections.abc import Sequence


def render_columns(
    header: Sequence[str], rows: Sequence[Sequence[object]], *, indent: str = "", rule: bool = False
) -> str:
    """Left-aligned columns two spaces apart, trailing spaces trimmed; one line per row, header first
    (`rule`: a line of dashes under it). None shows as an empty cell."""
    cells = [["" if cell is None else str(cell) for cell in row] for row in (header, *rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
    if rule:
        lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(indent + line for line in lines)
