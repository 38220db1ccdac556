"""Pruning `(old)` branches after a finalized restore uses the key the restore itself used, in the project its
meta row names, and gives up (with a Warning Event) when Neon refuses for good.

Regression: a Finalize restore of a Checkpoint with a tenant key (`credentialsSecretRef`), the restore
having no key of its own, was pruned with the operator's default key (the pruner read the restore's spec
only), and the pruner gave up when the Checkpoint resource was gone; the refusal was then retried every
10 s forever.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from neon_checkpoints.core.secrets import SecretRef
from neon_checkpoints.meta.records import CheckpointRecord, RestoreRecord
from neon_checkpoints.names import CHECKPOINTS
from neon_checkpoints.restore.prune import prune_for_restore
from neon_checkpoints.runtime.runtime import Runtime
from tests.unit.flowkit import FakeKube, NeonCalls, body, open_runtime

pytestmark = pytest.mark.postgres

TENANT_KEY = "napi_tenant_a_key"
T0 = "2026-12-01T10:00:00Z"
BRANCHES = [
    {"id": "br-0", "name": "production (old)", "created_at": T0},
    {"id": "br-1", "name": "production", "created_at": "2026-12-01T10:05:00Z", "restored_as": "br-0"},
]


def branch_json(b: dict[str, Any]) -> dict[str, Any]:
    return {"project_id": "p-tenant", "current_state": "ready", "default": False, "protected": False, **b}


def tenant_neon(deleted: list[str]) -> Any:
    """Neon as tenant A's key sees it: project p-tenant exists for that key only."""

    def handle(request: httpx.Request) -> httpx.Response:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        path = request.url.path.removeprefix("/api/v2")
        if key != TENANT_KEY:
            return httpx.Response(404, json={"code": "", "message": "project not found"})
        if request.method == "GET" and path == "/projects/p-tenant/branches":
            return httpx.Response(200, json={"branches": [branch_json(b) for b in BRANCHES]})
        if request.method == "DELETE" and path.startswith("/projects/p-tenant/branches/"):
            bid = path.rsplit("/", 1)[1]
            deleted.append(bid)
            found = next(b for b in BRANCHES if b["id"] == bid)
            return httpx.Response(200, json={"branch": branch_json(found), "operations": []})
        return httpx.Response(500, content=json.dumps({"code": "", "message": f"unexpected {path}"}))

    return handle


async def record_finalized_restore(runtime: Runtime) -> None:
    """What the checkpoint and restore flows left in the meta DB: a tenant-keyed checkpoint, restored."""
    checkpoint = await runtime.store.upsert_checkpoint(
        CheckpointRecord(
            uid="ckpt-uid",
            namespace="apps",
            name="v1",
            project_id="p-tenant",
            branch_name="production",
            phase="Ready",
            snapshot_id="snap-1",
            credentials=SecretRef("tenant-neon-api"),
        )
    )
    await runtime.store.upsert_restore(
        RestoreRecord(
            uid="restore-uid",
            namespace="apps",
            name="back-to-v1",
            project_id="p-tenant",
            branch_name="production",
            mode="Finalize",
            phase="Succeeded",
            checkpoint_id=checkpoint.id,
            started_at=dt.datetime(2026, 12, 1, 10, 4, tzinfo=dt.UTC),
        )
    )


def restore_body() -> Any:
    return body("CheckpointRestore", "back-to-v1", {"checkpointRef": {"name": "v1"}}, uid="restore-uid")


@pytest.fixture
async def kube() -> FakeKube:
    fake = FakeKube()
    fake.secrets[("apps", "tenant-neon-api")] = {"apiKey": TENANT_KEY}
    return fake


async def runtime_for(dsn: str, kube: FakeKube, handle: Any, calls: NeonCalls) -> AsyncIterator[Runtime]:
    async for runtime in open_runtime(dsn, kube, handle, calls, keep_old_branches=0):
        await record_finalized_restore(runtime)
        yield runtime


@pytest.mark.parametrize("checkpoint_resource", ["still there", "deleted"])
async def test_prunes_with_the_checkpoints_key_in_the_restores_project(
    fresh_database: str, kube: FakeKube, checkpoint_resource: str
) -> None:
    if checkpoint_resource == "still there":
        kube.put(
            CHECKPOINTS,
            {
                "metadata": {"name": "v1", "namespace": "apps"},
                "spec": {"projectId": "p-tenant", "credentialsSecretRef": {"name": "tenant-neon-api"}},
            },
        )
    deleted: list[str] = []
    calls = NeonCalls()
    async for runtime in runtime_for(fresh_database, kube, tenant_neon(deleted), calls):
        await prune_for_restore(runtime, 0, restore_body(), _Logger())
    assert deleted == ["br-0"]
    assert calls.api_keys() == {TENANT_KEY}, "the operator's default key must not be used for tenant A"
    assert kube.events == []


async def test_a_refusal_is_a_warning_event_and_not_retried(fresh_database: str, kube: FakeKube) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"code": "", "message": "invalid API key"})

    calls = NeonCalls()
    async for runtime in runtime_for(fresh_database, kube, refuse, calls):
        # Returns instead of raising: the daemon stops instead of retrying every 10 s.
        await prune_for_restore(runtime, 0, restore_body(), _Logger())
    assert len(calls.seen) == 1
    [event] = kube.events
    assert (event.type, event.reason) == ("Warning", "OldBranchPruneRefused")
    assert "p-tenant" in event.message and "401" in event.message
    assert TENANT_KEY not in event.message


class _Logger:
    def info(self, *args: object) -> None: ...
    def warning(self, *args: object) -> None: ...
