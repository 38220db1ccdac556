"""The one table renderer (timeline, demo)."""

from __future__ import annotations

from neon_checkpoints.core.tables import render_columns


def test_columns_are_aligned_trimmed_and_indented() -> None:
    text = render_columns(("ID", "NAME"), [(1, "Ada Lovelace"), (22, None)], indent="  ", rule=True)
    assert text.splitlines() == ["  ID  NAME", "  --  ------------", "  1   Ada Lovelace", "  22"]


def test_no_rule_by_default() -> None:
    assert render_columns(("A",), [("x",)]) == "A\nx"
