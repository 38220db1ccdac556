"""The page's pure parts: what the timeline says (production, undo targets, lineage), where it is drawn,
the CheckpointRestore each action creates, and who may act (CSRF, origin, host)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from neon_checkpoints import ui
from neon_checkpoints.meta.records import CheckpointRow, RestoreRow
from neon_checkpoints.names import SCHEDULE_LABEL
from neon_checkpoints.ui import csrf, manifests
from neon_checkpoints.ui.layout import layout
from neon_checkpoints.ui.model import build_app, compare

T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
P = "gentle-river-1"


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def ckpt_row(i: int, name: str, parent: int | None, minutes: int, **source: str) -> CheckpointRow:
    return CheckpointRow(
        id=i, uid=f"uid-{name}", namespace="apps", name=name, project_id=P, branch_name="production",
        source_branch_id="br-1", snapshot_id=f"snap-{name}", snapshot_name=None, lsn=None,
        snapshot_created_at=None, expires_at=None, source=dict(source), parent_checkpoint_id=parent,
        phase="Ready", created_at=at(minutes), ready_at=at(minutes), deleted_at=None, updated_at=at(minutes),
    )  # fmt: skip


def restore_row(i: int, name: str, checkpoint_id: int | None, minutes: int, phase: str = "Succeeded",
                mode: str = "Finalize") -> RestoreRow:  # fmt: skip
    return RestoreRow(
        id=i, uid=f"uid-{name}", namespace="apps", name=name, project_id=P, branch_name="production",
        checkpoint_id=checkpoint_id, mode=mode, target_branch_id=None, restored_branch_id=None,
        replaced_branch_id=None, operation_ids=[], phase=phase, error=None, started_at=at(minutes),
        completed_at=None, created_at=at(minutes), updated_at=at(minutes),
    )  # fmt: skip


def resource(
    name: str, spec: dict[str, Any], status: dict[str, Any] | None = None, **labels: str
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "uid": f"uid-{name}", "namespace": "apps", "labels": labels,
                     "creationTimestamp": "2026-12-01T09:00:00Z"},
        "spec": spec,
        "status": status or {},
    }  # fmt: skip


ROWS = [
    ckpt_row(1, "v1", None, 0, commit="a1", prompt="create contacts"),
    ckpt_row(2, "v2", 1, 1, commit="b2"),
    ckpt_row(3, "v3", 2, 2, commit="c3"),
]


def test_a_finalized_restore_moves_production_back_and_a_preview_does_not() -> None:
    restores = [restore_row(1, "back-to-v1", 1, 3), restore_row(2, "peek-v2", 2, 4, mode="Preview")]
    view = build_app(P, "apps", ROWS, restores, [], [])
    assert [(e.kind, e.name) for e in view.events] == [
        ("checkpoint", "v1"), ("checkpoint", "v2"), ("checkpoint", "v3"),
        ("restore", "back-to-v1"), ("restore", "peek-v2"),
    ]  # fmt: skip
    assert view.production == "v1"
    assert [c.parent for c in view.checkpoints] == [None, "v1", "v2"]


def test_a_restore_still_running_leaves_production_where_it_was() -> None:
    view = build_app(P, "apps", ROWS, [restore_row(1, "back-to-v1", 1, 3, phase="Restoring")], [], [])
    assert view.production == "v3"


def test_an_undo_puts_production_back_where_it_was_before_the_undone_restore() -> None:
    restores = [restore_row(1, "back-to-v1", 1, 3)]
    undo = resource("undo-it", {"undo": {"restoreRef": {"name": "back-to-v1"}}}, {"phase": "Succeeded"})
    undo["metadata"]["creationTimestamp"] = "2026-12-01T10:05:00Z"
    view = build_app(P, "apps", ROWS, restores, [], [undo])
    assert view.undo_targets == {"undo-it": "v3"}
    assert view.production == "v3"
    picture = layout(view)
    assert [e.kind for e in picture.edges].count("undo") == 1
    assert "Undo undo-it of restore back-to-v1, back to v3 (Succeeded)." in picture.description


def test_live_resources_add_workloads_schedule_phase_and_unrecorded_restores() -> None:
    live = [
        resource("v2", {"projectId": P}, {"phase": "Ready", "workloads": [
            {"kind": "Deployment", "name": "web", "revision": "r2"}]}, **{SCHEDULE_LABEL: "nightly"}),
        resource("v4", {"projectId": P, "source": {"commit": "d4"}}, {"phase": "Creating"}),
        resource("other-app", {"projectId": "someone-else"}, {"phase": "Ready"}),
    ]  # fmt: skip
    pending = resource("to-v2", {"checkpointRef": {"name": "v2"}, "mode": "Finalize"})
    pending["metadata"]["creationTimestamp"] = "2026-12-01T11:00:00Z"
    view = build_app(P, "apps", ROWS, [], live, [pending])
    v2, v4 = view.checkpoint("v2"), view.checkpoint("v4")
    assert v2 and v4
    assert (v2.schedule, [w.revision for w in v2.workloads]) == ("nightly", ["r2"])
    assert (v4.phase, v4.meta_id, dict(v4.source)) == ("Creating", None, {"commit": "d4"})
    assert view.checkpoint("other-app") is None
    [restore] = view.restores
    assert (restore.name, restore.phase, restore.checkpoint) == ("to-v2", "Pending", "v2")
    shapes = {n.name: n.shape for n in layout(view).nodes}
    assert (shapes["v2"], shapes["v1"], shapes["to-v2"]) == ("square", "circle", "diamond")


def test_compare_names_source_and_workload_changes() -> None:
    view = build_app(P, "apps", ROWS, [], [], [])
    v1, v3 = view.checkpoint("v1"), view.checkpoint("v3")
    assert v1 and v3
    assert [(c.what, c.a, c.b) for c in compare(v1, v3)] == [
        ("source.commit", "a1", "c3"),
        ("source.prompt", "create contacts", "(none)"),
    ]


@pytest.mark.parametrize(
    ("action", "spec"),
    [
        ("restore", {"checkpointRef": {"name": "v1"}, "mode": "Finalize"}),
        ("preview", {"checkpointRef": {"name": "v1"}, "mode": "Preview"}),
        ("undo", {"undo": {"restoreRef": {"name": "v1"}}}),
    ],
)
def test_each_action_creates_the_restore_a_user_would_apply(action: str, spec: dict[str, Any]) -> None:
    request = manifests.Request.parse(action, "v1", "x-1")
    assert manifests.body(request, "apps") == {
        "apiVersion": "neoncheckpoints.dev/v1alpha1",
        "kind": "CheckpointRestore",
        "metadata": {"name": "x-1", "namespace": "apps"},
        "spec": spec,
    }


@pytest.mark.parametrize(
    ("action", "target", "name"),
    [("delete", "v1", None), ("restore", "V1;rm", None), ("restore", "v1", "Bad Name"), ("undo", "", None)],
)
def test_anything_but_an_offered_action_is_refused(action: str, target: str, name: str | None) -> None:
    with pytest.raises(manifests.BadAction):
        manifests.Request.parse(action, target, name)


SECRET = b"k" * 32
SESSION = "s3ss10n"
GOOD = {"Origin": "http://127.0.0.1:8765", "Sec-Fetch-Site": "same-origin"}


@pytest.mark.parametrize(
    ("headers", "cookie", "submitted", "why"),
    [
        (GOOD, SESSION, csrf.token(SECRET, SESSION), None),
        ({"Origin": "http://127.0.0.1:8765"}, SESSION, csrf.token(SECRET, SESSION), None),
        ({"Origin": "http://evil.example"}, SESSION, csrf.token(SECRET, SESSION), "another origin"),
        ({"Origin": "null"}, SESSION, csrf.token(SECRET, SESSION), "another origin"),
        ({}, SESSION, csrf.token(SECRET, SESSION), "another origin"),
        ({**GOOD, "Sec-Fetch-Site": "cross-site"}, SESSION, csrf.token(SECRET, SESSION), "another site"),
        ({**GOOD, "Sec-Fetch-Site": "same-site"}, SESSION, csrf.token(SECRET, SESSION), "another site"),
        (GOOD, None, csrf.token(SECRET, SESSION), "no session cookie"),
        (GOOD, SESSION, None, "CSRF token"),
        (GOOD, SESSION, csrf.token(SECRET, "another session"), "CSRF token"),
        (GOOD, SESSION, csrf.token(b"x" * 32, SESSION), "CSRF token"),
    ],
)
def test_an_action_needs_same_origin_a_session_and_its_token(
    headers: dict[str, str], cookie: str | None, submitted: str | None, why: str | None
) -> None:
    refusal = csrf.refusal(
        secret=SECRET, host="127.0.0.1:8765", headers=headers, cookie=cookie, submitted=submitted
    )
    assert (refusal is None) if why is None else (refusal is not None and why in refusal)


@pytest.mark.parametrize(
    ("host", "allowed"),
    [("127.0.0.1:8765", True), ("localhost:1", True), ("[::1]:8765", True), ("evil.example:8765", False),
     ("127.0.0.1.evil.example", False), (None, False)],
)  # fmt: skip
def test_only_the_served_host_names_are_answered(host: str | None, allowed: bool) -> None:
    assert csrf.host_allowed(host, csrf.LOOPBACK_HOSTS) is allowed


def test_lineage_arcs_join_each_checkpoint_to_its_parent_and_every_class_drawn_is_styled() -> None:
    restores = [restore_row(1, "back-to-v1", 1, 3), restore_row(2, "peek-v2", 2, 4, mode="Preview")]
    picture = layout(build_app(P, "apps", ROWS, restores, [], []))
    assert [e.kind for e in picture.edges] == ["lineage", "lineage", "restore", "preview"]
    styles = (Path(ui.__file__).parent / "static" / "ui.css").read_text()
    for css in {e.css for e in picture.edges} | {f"phase-{n.css}" for n in picture.nodes}:
        assert f".{css} " in styles or f".{css}," in styles, f"{css} has no style: it would not be seen"
