"""Crash safety (issue 4 item 7): an operator killed right after Neon accepted the snapshot request resumes
without a second snapshot; under 30% injected 423/429/503 answers, 20 checkpoints all become Ready with
no duplicate snapshots or meta rows."""

from __future__ import annotations

import collections

import pytest

from neon_api.models import Snapshot
from tests.e2e.checkpoint.conftest import Harness, eventually

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]


def snapshot_posts(harness: Harness) -> int:
    with harness.emulator.admin() as admin:
        routes: dict[str, int] = admin.get("/requests").json()["routes"]
    return sum(n for route, n in routes.items() if route.startswith("POST ") and route.endswith("/snapshot"))


def test_killed_after_the_snapshot_is_accepted_resumes_without_a_second_snapshot(harness: Harness) -> None:
    project = harness.create_project()
    crashing = harness.start_operator(NEON_CHECKPOINTS_CRASH_AFTER="snapshot-accepted")
    assert harness.apply(harness.example("checkpoint.yaml", project)).returncode == 0
    assert crashing.wait_exit(timeout=60) == 137, crashing.log()

    body = harness.get("checkpoint", "v1")
    uid = body["metadata"]["uid"]
    # The crash came between Neon's answer and any bookkeeping: only Neon knows the snapshot; the meta
    # database holds the intent recorded before the request (for the next flow on the project to settle).
    assert "snapshotId" not in body.get("status", {})
    assert harness.snapshot_names(project) == [f"ckpt-{uid}"]
    [intent] = harness.meta_rows()
    assert (intent["uid"], intent["phase"], intent["snapshot_id"]) == (uid, "Pending", None)

    def measured() -> Snapshot | None:  # the emulator measures the copy once its operation has ended
        with harness.neon() as neon:
            [snapshot] = neon.list_snapshots(project)
        return snapshot if snapshot.full_size else None

    sizes = eventually(measured, timeout=30, what="the snapshot's size measured", h=harness)
    harness.start_operator()
    harness.wait_ready("v1")
    assert harness.snapshot_names(project) == [f"ckpt-{uid}"]
    assert snapshot_posts(harness) == 1
    [row] = harness.meta_rows()
    status = harness.get("checkpoint", "v1")["status"]
    assert row["uid"] == uid and row["snapshot_id"] == status["snapshotId"]
    assert status["checkpointId"] == row["id"]
    # The resumed run's snapshot lookup carried the size: status shows it (and -o wide), no request more.
    assert status["size"]["full"] == sizes.full_size and status["size"].get("diff") == sizes.diff_size
    wide = harness.kubectl("get", "checkpoint", "v1", "-o", "wide").stdout
    assert status["size"]["display"].split(",")[0] in wide


def fault_rules(total: float) -> list[dict[str, object]]:
    """423, 429 and 503 in equal shares adding up to `total` (the first rule whose draw fires wins)."""
    share = total / 3
    rules, left = [], 1.0
    for status in (423, 429, 503):
        rules.append({"path": "/api/v2/*", "status": status, "rate": share / left})
        left -= share
    return rules


@pytest.mark.slow
def test_twenty_checkpoints_under_injected_faults(harness: Harness) -> None:
    projects = [harness.create_project() for _ in range(4)]
    harness.set_faults({"seed": 20, "rules": fault_rules(0.3)})
    harness.start_operator()
    documents = []
    for i in range(20):
        manifest = harness.example(
            "checkpoint.yaml", projects[i % 4], **{"name: v1": f"name: c{i:02d}", "3f2c9e1": f"c0ffee{i:02d}"}
        )
        documents.append(manifest)
    applied = harness.apply("\n---\n".join(documents))
    assert applied.returncode == 0, applied.stderr
    waited = harness.kubectl(
        "wait", "--for=condition=Ready", "checkpoint", "--all", "--timeout=180s", check=False, timeout=200
    )
    assert waited.returncode == 0, waited.stderr + harness.operator_logs()
    with harness.emulator.admin() as admin:
        counters = admin.get("/requests").json()
    harness.reset_faults()
    # The faults really were in the way of the workload: every kind was answered, and the operator came
    # through a real share of refusals (30 % of the requests it made were drawn to be refused).
    refused = counters["refused"]
    assert {status: refused.get(status, 0) > 0 for status in ("423", "429", "503")} == dict.fromkeys(
        ("423", "429", "503"), True
    ), refused
    sent = sum(counters["requests"].values())  # refused ones included
    assert sum(refused.values()) >= 0.1 * sent, (refused, sent)

    items = [harness.get("checkpoint", f"c{i:02d}") for i in range(20)]
    expected: dict[str, list[str]] = collections.defaultdict(list)
    for item in items:
        expected[item["spec"]["projectId"]].append(f"ckpt-{item['metadata']['uid']}")
    for project in projects:
        assert harness.snapshot_names(project) == sorted(expected[project])
    rows = harness.meta_rows()
    assert sorted(r["uid"] for r in rows) == sorted(item["metadata"]["uid"] for item in items)
    assert {r["snapshot_id"] for r in rows} == {item["status"]["snapshotId"] for item in items}
    assert len({r["snapshot_id"] for r in rows}) == 20
    # Each project's checkpoints form one chain in the timeline.
    for project in projects:
        chain = [r for r in rows if r["project_id"] == project]
        assert sum(r["parent_checkpoint_id"] is None for r in chain) == 1


@pytest.mark.slow
def test_checkpoints_within_neon_rate_limits_all_become_ready_without_duplicates(harness: Harness) -> None:
    """Neon's limits scaled down (it allows 700 a minute and 40 a second per route), so that they bite:
    refusals longer than the client's own retry budget go back to kopf and are retried after Retry-After.
    One a second per route: ten checkpoints need only about forty requests, so the minute's limit alone
    would not be in the way, but their ten POSTs at once are."""
    projects = [harness.create_project() for _ in range(2)]
    harness.set_faults({"rate_limit": {"per_minute": 50, "per_route_per_second": 1}})
    harness.start_operator()
    names = [f"r{i:02d}" for i in range(10)]
    documents = [
        harness.example("checkpoint.yaml", projects[i % 2], **{"name: v1": f"name: {name}"})
        for i, name in enumerate(names)
    ]
    applied = harness.apply("\n---\n".join(documents))
    assert applied.returncode == 0, applied.stderr
    waited = harness.kubectl(
        "wait", "--for=condition=Ready", "checkpoint", "--all", "--timeout=240s", check=False, timeout=260
    )
    with harness.emulator.admin() as admin:
        refused = admin.get("/requests").json()["refused"]
    harness.reset_faults()
    assert waited.returncode == 0, waited.stderr + harness.operator_logs()
    assert refused.get("429", 0) > 0, "the limits were in the way"

    items = [harness.get("checkpoint", name) for name in names]
    for project in projects:
        uids = [i["metadata"]["uid"] for i in items if i["spec"]["projectId"] == project]
        assert harness.snapshot_names(project) == sorted(f"ckpt-{uid}" for uid in uids)
    rows = harness.meta_rows()
    assert sorted(r["uid"] for r in rows) == sorted(i["metadata"]["uid"] for i in items)
