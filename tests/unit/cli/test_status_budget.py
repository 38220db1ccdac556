"""`neon-checkpoints status`'s request budget line: the limits as the operator would read them here, and the
operator's own waits from its /metrics."""

from __future__ import annotations

from neon_api.budget import NEON_LIMITS, BudgetLimits
from neon_checkpoints.cli.status import describe_budget


def test_the_limits_alone_say_where_the_waits_would_come_from() -> None:
    line = describe_budget(NEON_LIMITS, None)
    assert (
        line == "700 a minute, 40 a second per route per API key; pass --metrics-url for the operator's waits"
    )


def test_no_budget_says_off() -> None:
    assert describe_budget(BudgetLimits(), None).startswith("off (no client-side limit")


def test_the_scraped_waits_and_429s_are_shown_with_their_source() -> None:
    scraped = {
        "budget_wait_seconds_count": 3.0,
        "budget_wait_seconds_sum": 4.25,
        "neon_rate_limited_total": 1.0,
    }
    line = describe_budget(BudgetLimits(per_minute=100), scraped, "http://127.0.0.1:8081/metrics")
    assert line == (
        "100 a minute per API key; 3 requests waited 4.2 s in all, 1 answered 429 "
        "(from http://127.0.0.1:8081/metrics)"
    )
