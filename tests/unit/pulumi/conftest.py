"""Pulumi's Python runtime works on the thread's current event loop, creating one (never closed) when there is
none: in the main thread, and, under `set_mocks`, in each worker thread that registers a resource. One loop
for this package, set before its first test, plus closing whatever loops the package left open, keeps it from
failing when async tests earlier in the session left no current loop, and from leaking loops (which
`filterwarnings = error` would report, later, as unclosed-resource warnings in some other test)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest


def _open_loops() -> set[asyncio.AbstractEventLoop]:
    return {o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop) and not o.is_closed()}


@pytest.fixture(scope="package", autouse=True)
def pulumi_event_loop() -> Iterator[asyncio.AbstractEventLoop]:
    before = _open_loops()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        asyncio.set_event_loop(None)
        for leaked in _open_loops() - before:
            if not leaked.is_running():
                leaked.close()
