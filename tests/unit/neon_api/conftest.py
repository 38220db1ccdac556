"""Fixtures for neon_api unit tests: clients over httpx.MockTransport with a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from neon_api import AsyncNeonClient, NeonClient, RetryPolicy
from tests.unit.neon_api.fakes import API_KEY, BASE_URL, FakeTime, Handler


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_client(fake_time: FakeTime) -> Iterator[Callable[..., NeonClient]]:
    clients: list[NeonClient] = []

    def make(handler: Handler, *, retry: RetryPolicy | None = None) -> NeonClient:
        client = NeonClient(
            BASE_URL,
            API_KEY,
            transport=httpx.MockTransport(handler),
            retry=retry or RetryPolicy(max_elapsed=30.0, rng=lambda: 1.0),
            sleep=fake_time.sleep,
            clock=fake_time.clock,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
async def make_async_client(fake_time: FakeTime) -> AsyncIterator[Callable[..., AsyncNeonClient]]:
    clients: list[AsyncNeonClient] = []

    def make(handler: Any, *, retry: RetryPolicy | None = None) -> AsyncNeonClient:
        client = AsyncNeonClient(
            BASE_URL,
            API_KEY,
            transport=httpx.MockTransport(handler),
            retry=retry or RetryPolicy(max_elapsed=30.0, rng=lambda: 1.0),
            sleep=fake_time.async_sleep,
            clock=fake_time.clock,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
