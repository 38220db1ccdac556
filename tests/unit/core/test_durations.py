"""The one duration grammar (a Checkpoint's ttl, a schedule's every and maxAge)."""

from __future__ import annotations

import datetime as dt

import pytest

from neon_checkpoints.core.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("7d", 604800), ("1d2h3m4s", 93784)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == dt.timedelta(seconds=seconds)
    assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize(
    "text", ["", "5", "m", "1.5h", "-5m", "1h 30m", "5 minutes", "0s", "0h0m", "99999999999999d"]
)
def test_invalid_durations(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)
