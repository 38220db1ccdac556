"""Fixtures of the unit suite's flow tests (the kit itself is tests/unit/flowkit)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.unit.flowkit import World, open_world


@pytest.fixture
async def world(fresh_database: str) -> AsyncIterator[World]:
    """A fake cluster and a fake Neon around a Runtime on a fresh meta database."""
    async with open_world(fresh_database) as opened:
        yield opened
