"""The storage layer's exception tree: every failure to create, copy, start or remove a cluster."""

from __future__ import annotations

import errno


class StorageError(Exception):
    """A storage operation failed; the message says what, where and why (never a secret)."""


class NoSpaceError(StorageError):
    """The data filesystem is (nearly) full: nothing was created and existing clusters are untouched."""


def is_no_space(text: str) -> bool:
    """Whether a tool's or the server's error text reports ENOSPC."""
    return "No space left on device" in text or "could not extend file" in text


def describe_os_error(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on device"
    return exc.strerror or str(exc)
