"""Times as the operator reads and writes them: aware, UTC, RFC 3339 (pure). The one time parser."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def rfc3339(moment: dt.datetime) -> str:
    """Whole seconds, `Z`: what conditions, annotations and most status times carry."""
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def precise_time(moment: dt.datetime) -> str:
    """RFC 3339 with milliseconds: durations such as a restore's are often well under a second."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# The latest time a spec may name (the CRDs' rules say the same): far enough for any expiry, and early
# enough that adding a duration to it never leaves the calendar.
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def parse_time(value: str) -> dt.datetime:
    """An RFC 3339 time with a timezone, before LATEST; ValueError (naming the value) otherwise."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except (ValueError, TypeError):
        raise ValueError(f"not an RFC 3339 time: {value!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"time without a timezone: {value!r}")
    if moment >= LATEST:
        raise ValueError(f"{value!r} is not before {rfc3339(LATEST)}")
    return moment


def parse_time_or_none(value: str | None) -> dt.datetime | None:
    """For times the operator itself wrote (status, annotations): None when absent or unreadable."""
    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None
