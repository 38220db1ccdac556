"""The one plain-text table renderer (the CLI's tables and the demo's views of the app)."""

from __future__ import annotations

from collections.abc import Sequence


def render_columns(header: Sequence[str], rows: Sequence[Sequence[object]], *, indent: str = "") -> str:
    """Left-aligned columns two spaces apart, trailing spaces trimmed; one line per row, header first."""
    cells = [[str(cell) for cell in row] for row in (header, *rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )
