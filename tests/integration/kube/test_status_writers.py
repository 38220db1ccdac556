"""Two writers of one Checkpoint's status on the real apiserver: a flow (Ready, Reconciling, Stalled) and the
schema capture daemon (SchemaCaptured), each working from a view read before the other's write. A status
merge patch replaces the whole conditions list, so neither may put back what it read."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from kubernetes.aio import client, config

from devenv.controlplane import KubeControlPlane
from neon_checkpoints.core.conditions import set_condition
from neon_checkpoints.names import CHECKPOINTS
from neon_checkpoints.runtime.kube import Kube

pytestmark = pytest.mark.kube

NOW = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def namespace(kube_cluster: KubeControlPlane) -> Iterator[str]:
    kube_cluster.apply_crds()
    kube_cluster.kubectl("create", "namespace", "status-writers")
    kube_cluster.kubectl(
        "apply",
        "-n",
        "status-writers",
        "-f",
        "-",
        input="apiVersion: neoncheckpoints.dev/v1alpha1\nkind: Checkpoint\nmetadata: {name: v1}\n"
        "spec: {projectId: p-1, branch: production}\n",
    )
    yield "status-writers"
    kube_cluster.kubectl("delete", "namespace", "status-writers", "--wait=false", check=False)


def condition(type: str, reason: str) -> dict[str, Any]:
    [made] = set_condition(
        [], type=type, status="True", reason=reason, message=reason, observed_generation=1, now=NOW
    )
    return made


async def _client(kube_cluster: KubeControlPlane) -> AsyncIterator[Kube]:
    # The client reads $KUBECONFIG when first imported: name the file instead.
    configuration = client.Configuration()
    await config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(kube_cluster.kubeconfig), client_configuration=configuration
    )
    made = Kube(client.ApiClient(configuration))
    yield made
    await made.close()


@pytest.fixture
async def kube(kube_cluster: KubeControlPlane) -> AsyncIterator[Kube]:
    async for made in _client(kube_cluster):
        yield made


async def test_each_writer_keeps_the_others_condition(kube: Kube, namespace: str) -> None:
    await kube.patch_status(
        CHECKPOINTS, namespace, "v1", {"conditions": [condition("Ready", "SnapshotReady")]}
    )
    # The daemon read Ready=SnapshotReady; the flow then moved Ready on; the daemon writes its own type.
    await kube.patch_status(
        CHECKPOINTS, namespace, "v1", {"conditions": [condition("Ready", "ExpiryChanged")]}
    )
    written = await kube.patch_status(
        CHECKPOINTS, namespace, "v1", {"conditions": [condition("SchemaCaptured", "Captured")]}
    )
    body = await kube.get(CHECKPOINTS, namespace, "v1")
    assert body is not None
    held = {c["type"]: c["reason"] for c in body["status"]["conditions"]}
    assert held == {"Ready": "ExpiryChanged", "SchemaCaptured": "Captured"}
    assert {c["type"]: c["reason"] for c in written} == held
    # And the flow writing after the capture keeps SchemaCaptured.
    await kube.patch_status(
        CHECKPOINTS,
        namespace,
        "v1",
        {"phase": "Ready", "conditions": [condition("Ready", "SpecChanged")]},
    )
    body = await kube.get(CHECKPOINTS, namespace, "v1")
    assert body is not None
    assert {c["type"]: c["reason"] for c in body["status"]["conditions"]} == {
        "Ready": "SpecChanged",
        "SchemaCaptured": "Captured",
    }
    assert body["status"]["phase"] == "Ready"


async def test_writes_racing_each_other_all_land(kube: Kube, namespace: str) -> None:
    """Three writers of three types at once, ten rounds: a read-merge-write that loses the resourceVersion
    race reads again, so every round's every type is there at its end."""
    for round in range(10):
        types = [f"Probe{i}" for i in range(3)]
        reason = f"Round{round}"
        await asyncio.gather(
            *(
                kube.patch_status(CHECKPOINTS, namespace, "v1", {"conditions": [condition(t, reason)]})
                for t in types
            )
        )
        body = await kube.get(CHECKPOINTS, namespace, "v1")
        assert body is not None
        held = {c["type"]: c["reason"] for c in body["status"]["conditions"]}
        assert all(held.get(t) == reason for t in types), held


@pytest.fixture
async def other_kube(kube_cluster: KubeControlPlane) -> AsyncIterator[Kube]:
    """A second process's client: it shares nothing with `kube`, so its writes are news to it."""
    async for made in _client(kube_cluster):
        yield made


async def test_a_write_from_elsewhere_is_kept_by_the_next_write_here(
    kube: Kube, other_kube: Kube, namespace: str
) -> None:
    await kube.patch_status(CHECKPOINTS, namespace, "v1", {"conditions": [condition("Ready", "Elsewhere1")]})
    # Another process writes its own type: `kube`'s remembered version is now stale.
    await other_kube.patch_status(
        CHECKPOINTS, namespace, "v1", {"conditions": [condition("Probe9", "FromElsewhere")]}
    )
    await kube.patch_status(CHECKPOINTS, namespace, "v1", {"conditions": [condition("Ready", "Elsewhere2")]})
    body = await kube.get(CHECKPOINTS, namespace, "v1")
    assert body is not None
    held = {c["type"]: c["reason"] for c in body["status"]["conditions"]}
    assert held["Ready"] == "Elsewhere2" and held["Probe9"] == "FromElsewhere", held


async def test_a_write_after_this_process_wrote_reads_nothing(
    kube: Kube, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version this process's write left is the one the next write merges into: one request each."""
    await kube.patch_status(CHECKPOINTS, namespace, "v1", {"conditions": [condition("Ready", "First")]})
    reads: list[str] = []
    real_get = kube.get

    async def counted(plural: str, ns: str, name: str) -> dict[str, Any] | None:
        reads.append(name)
        return await real_get(plural, ns, name)

    monkeypatch.setattr(kube, "get", counted)
    for reason in ("Second", "Third"):
        await kube.patch_status(CHECKPOINTS, namespace, "v1", {"conditions": [condition("Ready", reason)]})
    await kube.patch_status(CHECKPOINTS, namespace, "v1", {"phase": "Ready"})
    await kube.patch_status(CHECKPOINTS, namespace, "v1", {"conditions": [condition("Probe8", "After")]})
    assert reads == []
    monkeypatch.undo()
    body = await kube.get(CHECKPOINTS, namespace, "v1")
    assert body is not None
    held = {c["type"]: c["reason"] for c in body["status"]["conditions"]}
    assert held["Ready"] == "Third" and held["Probe8"] == "After" and body["status"]["phase"] == "Ready"
