"""The one duration grammar: `30s`, `5m`, `1h30m`, `7d` (a Checkpoint's ttl, a schedule's `every` and
`maxAge`). Whole seconds, longer than zero and at most LONGEST; the CRDs' rules accept the same strings
(and bound each number to 6 digits, so nothing they admit can overflow a date)."""

from __future__ import annotations

import datetime as dt
import re

_PART = re.compile(r"([0-9]+)([dhms])")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
# Ten years: longer than any snapshot is worth keeping, short enough that now + it is always a valid date.
LONGEST = dt.timedelta(days=3650)


class DurationError(ValueError):
    """Not a usable duration; the message quotes the text."""


def parse_duration(text: str) -> dt.timedelta:
    if not isinstance(text, str):
        raise DurationError(f"{text!r} is not a duration like 30s, 5m, 1h30m or 7d")
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise DurationError(f"{text!r} is not a duration like 30s, 5m, 1h30m or 7d")
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise DurationError(f"{text!r} must be longer than zero")
    if seconds > LONGEST.total_seconds():
        raise DurationError(f"{text!r} is longer than {format_duration(LONGEST)}")
    return dt.timedelta(seconds=seconds)


def format_duration(value: dt.timedelta) -> str:
    seconds = int(value.total_seconds())
    out = ""
    for unit, size in _UNITS.items():
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"
