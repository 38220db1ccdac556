"""The one duration grammar: `30s`, `5m`, `1h30m`, `7d` (a Checkpoint's ttl, a schedule's `every` and
`maxAge`). Whole seconds, longer than zero; the CRDs' patterns accept the same strings."""

from __future__ import annotations

import datetime as dt
import re

_PART = re.compile(r"([0-9]+)([dhms])")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


class DurationError(ValueError):
    """Not a usable duration; the message quotes the text."""


def parse_duration(text: str) -> dt.timedelta:
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise DurationError(f"{text!r} is not a duration like 30s, 5m, 1h30m or 7d")
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise DurationError(f"{text!r} must be longer than zero")
    try:
        return dt.timedelta(seconds=seconds)
    except OverflowError:
        raise DurationError(f"{text!r} is too long") from None


def format_duration(value: dt.timedelta) -> str:
    seconds = int(value.total_seconds())
    out = ""
    for unit, size in _UNITS.items():
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"
