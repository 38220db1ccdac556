"""Contract-test fixtures: neon_api clients talking to the real emulator over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from neon_api import AsyncNeonClient, NeonClient, RetryPolicy
from neon_api.models import CreatedProject

WAIT = 120.0  # generous: the emulator runs real postgres processes on a busy 2-core machine


@pytest.fixture
def neon(emulator: Any) -> Iterator[NeonClient]:
    with NeonClient(emulator.url, emulator.api_key, retry=RetryPolicy(max_elapsed=60.0)) as client:
        yield client


@pytest.fixture
async def async_neon(emulator: Any) -> AsyncIterator[AsyncNeonClient]:
    async with AsyncNeonClient(emulator.url, emulator.api_key, retry=RetryPolicy(max_elapsed=60.0)) as client:
        yield client


@pytest.fixture
def admin(emulator: Any) -> Iterator[httpx.Client]:
    """The emulator's fault-injection/admin API (same bearer key); faults are cleared afterwards."""
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    with httpx.Client(base_url=emulator.admin_url, headers=headers, timeout=30.0) as client:
        yield client
        client.post("/reset-faults").raise_for_status()


@pytest.fixture
def project(neon: NeonClient) -> Iterator[CreatedProject]:
    """A fresh project (branch `main`, database `neondb`, role `neondb_owner`), ready; deleted after."""
    created = neon.create_project(name=f"contract-{uuid.uuid4().hex[:8]}")
    neon.wait_for_operations(created.project.id, created.operations, timeout=WAIT)
    yield created
    neon.delete_project(created.project.id)
