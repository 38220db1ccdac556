"""The Runtime flow tests run on: a real `Runtime` whose Neon clients go through httpx.MockTransport (every
request recorded with the key it carried) and whose meta store is real, on the suite's PostgreSQL."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from neon_api import AsyncNeonClient, OperationPace, RetryPolicy
from neon_checkpoints.meta.store import MetaStore
from neon_checkpoints.runtime.credentials import Credentials
from neon_checkpoints.runtime.metrics import Metrics
from neon_checkpoints.runtime.runtime import Runtime
from neon_checkpoints.settings import Settings
from tests.unit.flowkit.kube import FakeKube
from tests.unit.flowkit.neon import DEFAULT_KEY, FakeNeon

BASE_URL = "https://neon.test/api/v2"


@dataclass(frozen=True)
class Sent:
    """One request as Neon received it, and how many status patches the flow had written by then."""

    method: str
    path: str
    key: str
    params: dict[str, str]
    body: Any
    patches_before: int


@dataclass
class NeonCalls:
    """Every request the flows sent, with the API key it carried."""

    seen: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, key)
    sent: list[Sent] = field(default_factory=list)

    def api_keys(self) -> set[str]:
        return {key for _, _, key in self.seen}

    def to(self, method: str, path_end: str) -> list[Sent]:
        """The requests of `method` whose path ends with `path_end`."""
        return [s for s in self.sent if s.method == method and s.path.endswith(path_end)]

    def mutations(self) -> list[Sent]:
        return [s for s in self.sent if s.method != "GET"]


def neon_transport(
    handle: Callable[[httpx.Request], httpx.Response], calls: NeonCalls, kube: FakeKube | None = None
) -> httpx.MockTransport:
    def recording(request: httpx.Request) -> httpx.Response:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        path = request.url.path.removeprefix("/api/v2")
        calls.seen.append((request.method, path, key))
        content = request.content.strip()
        calls.sent.append(
            Sent(
                request.method,
                path,
                key,
                dict(request.url.params),
                json.loads(content) if content else None,
                len(kube.patches) if kube is not None else 0,
            )
        )
        return handle(request)

    return httpx.MockTransport(recording)


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "neon_api_url": BASE_URL,
        "neon_api_key": DEFAULT_KEY,
        "meta_database_url": "postgresql://unused",
        "project_lock_wait": 2.0,
        "operation_timeout": 5.0,
        # Flow tests are about flows; tenancy has its own (tests/unit/runtime/test_tenancy_flows.py).
        "tenancy": "open",
        **overrides,
    }
    return Settings(**values)


async def open_runtime(
    meta_dsn: str,
    kube: FakeKube,
    handle: Callable[[httpx.Request], httpx.Response],
    calls: NeonCalls,
    **setting_overrides: Any,
) -> AsyncIterator[Runtime]:
    """A Runtime as the operator builds one, on fakes at the network edge; use with `async for`."""
    config = settings(**setting_overrides)
    store = await MetaStore.open(meta_dsn, max_size=4)
    transport = neon_transport(handle, calls, kube)
    metrics = Metrics()

    def connect(key: str) -> AsyncNeonClient:
        return AsyncNeonClient(
            BASE_URL, key, transport=transport, retry=RetryPolicy(max_elapsed=0), observer=metrics
        )

    default = connect(DEFAULT_KEY)
    runtime = Runtime(
        settings=config,
        store=store,
        kube=kube,
        neon=default,
        credentials=Credentials(kube, store, default, connect, config.tenancy),
        pace=OperationPace(0.02, observer=metrics),
        metrics=metrics,
    )
    try:
        yield runtime
    finally:
        await default.aclose()
        await store.close()


@dataclass
class World:
    """Everything a flow test arranges and then looks at: the cluster, Neon, what Neon was sent, the
    Runtime the flows run on (its meta store is the real one)."""

    kube: FakeKube
    neon: FakeNeon
    calls: NeonCalls
    runtime: Runtime


@contextlib.asynccontextmanager
async def open_world(meta_dsn: str, **setting_overrides: Any) -> AsyncIterator[World]:
    kube, neon, calls = FakeKube(), FakeNeon(), NeonCalls()
    overrides = {"operation_timeout": 1.0, **setting_overrides}
    async for runtime in open_runtime(meta_dsn, kube, neon, calls, **overrides):
        yield World(kube, neon, calls, runtime)
