"""Pulumi's Python runtime works on the thread's current event loop, creating one (never closed) when there is
none. One loop for this package, set before its first test and closed after its last, keeps it from leaking
loops and from failing when async tests earlier in the session left no current loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="package", autouse=True)
def pulumi_event_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        asyncio.set_event_loop(None)
        loop.close()
