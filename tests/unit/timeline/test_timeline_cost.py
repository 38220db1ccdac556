"""A checkpoint's snapshot size and storage cost, from the sizes Neon reports (timeline/cost.py)."""

from __future__ import annotations

import datetime as dt

from neon_checkpoints.timeline.build import TimelineEntry
from neon_checkpoints.timeline.cost import Sizes, describe
from neon_checkpoints.timeline.render import render_table

T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


def test_cost_is_full_size_times_the_price_per_gb_month() -> None:
    assert describe(Sizes(2_000_000_000, 150_000_000)) == "2.0 GB (+150.0 MB), $0.1800/month"
    assert describe(Sizes(12_300_000, None), 0.10) == "12.3 MB, $0.0012/month"
    assert describe(Sizes(None, None)) == "-"  # not computed yet
    assert describe(None) == "-"  # not in Neon's listing (deleted, or another project)


def test_the_table_gets_a_cost_column_only_when_sizes_are_given() -> None:
    entry = TimelineEntry("checkpoint", T0, 1, "v1", "Ready", "commit=3f2c9e1", "-", snapshot_id="snap-1")
    restore = TimelineEntry("restore", T0, 2, "back", "Succeeded", "Finalize -> #1 v1", "-")
    plain = render_table("p-1", [entry, restore])
    assert "COST" not in plain
    costed = render_table("p-1", [entry, restore], {"snap-1": Sizes(1_000_000_000, 0)})
    assert "SIZE (+DIFF), COST" in costed and "1.0 GB (+0 B), $0.0900/month" in costed
