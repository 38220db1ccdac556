"""The timeline view: chronological merge, lineage names, source metadata, restores."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from neon_checkpoints.meta.records import CheckpointRow, RestoreRow
from neon_checkpoints.timeline.build import build_timeline
from neon_checkpoints.timeline.render import render_json, render_table

T0 = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)


def checkpoint(id: int, name: str, minute: int, parent: int | None, **source: str) -> CheckpointRow:
    at = T0 + dt.timedelta(minutes=minute)
    return CheckpointRow(
        id=id, uid=f"uid-{id}", namespace="apps", name=name, project_id="p1", branch_name="production",
        source_branch_id="br-1", snapshot_id=f"snap-{id}", snapshot_name=f"ckpt-{id}", lsn=None,
        snapshot_created_at=at, expires_at=None, source=dict(source), parent_checkpoint_id=parent,
        phase="Ready", created_at=at, ready_at=at, deleted_at=None, updated_at=at,
    )  # fmt: skip


def restore(id: int, checkpoint_id: int, minute: int, phase: str = "Succeeded") -> RestoreRow:
    at = T0 + dt.timedelta(minutes=minute)
    return RestoreRow(
        id=id, uid=f"r-{id}", namespace="apps", name=f"back-{id}", project_id="p1", branch_name="production",
        checkpoint_id=checkpoint_id, mode="Finalize", target_branch_id="br-3", restored_branch_id="br-4",
        replaced_branch_id="br-3", operation_ids=[], phase=phase, error=None, started_at=at,
        completed_at=at, created_at=at, updated_at=at,
    )  # fmt: skip


def test_entries_are_chronological_with_parent_names_and_restore_targets() -> None:
    checkpoints = [
        checkpoint(1, "v1", 0, None, commit="a1", prompt="create contacts"),
        checkpoint(2, "v2", 1, 1, commit="b2"),
        checkpoint(3, "v4", 5, 1, commit="d4"),
    ]
    entries = build_timeline(checkpoints, [restore(7, 1, 3)])
    assert [(e.kind, e.name) for e in entries] == [
        ("checkpoint", "v1"), ("checkpoint", "v2"), ("restore", "back-7"), ("checkpoint", "v4"),
    ]  # fmt: skip
    assert [e.parent for e in entries] == ["-", "#1 v1", "-", "#1 v1"]
    assert entries[0].detail == 'commit=a1 prompt="create contacts"'
    assert entries[2].detail == "Finalize -> #1 v1"


def test_table_lists_every_event_and_json_keeps_every_field() -> None:
    checkpoints = [checkpoint(1, "v1", 0, None, prompt="create contacts"), checkpoint(2, "v2", 1, 1)]
    table = render_table("p1", build_timeline(checkpoints, [restore(9, 1, 2)]))
    lines = table.splitlines()
    assert lines[0] == "Timeline of project p1"
    assert lines[1].split() == ["WHEN", "(UTC)", "EVENT", "NAME", "PHASE", "PARENT", "SOURCE", "/", "RESTORE"]
    assert "checkpoint #2" in lines[3] and "#1 v1" in lines[3]
    assert "restore #9" in lines[4] and "Finalize -> #1 v1" in lines[4]

    document = json.loads(render_json("p1", checkpoints, [restore(9, 1, 2)]))
    assert document["checkpoints"][1]["parent_checkpoint_id"] == 1
    assert document["checkpoints"][0]["source"] == {"prompt": "create contacts"}
    assert document["restores"][0]["checkpoint_id"] == 1


def test_empty_timeline_says_so() -> None:
    assert render_table("p1", []) == "No checkpoints recorded for project p1.\n"


def test_the_code_a_checkpoint_recorded_and_undos_are_shown() -> None:
    recorded = [
        {"kind": "Deployment", "name": "web", "revision": "1a2b3c4d5e6f"},
        {"kind": "ConfigMap", "name": "queries", "revision": "0f9e8d7c6b5a"},
    ]
    first = dataclasses.replace(checkpoint(1, "v1", 0, None, commit="a1"), workloads=recorded)
    undo = dataclasses.replace(restore(8, 1, 4), mode="Undo", checkpoint_id=None, undo_of="r-7")

    entries = build_timeline([first], [restore(7, 1, 3), undo])

    assert entries[0].detail == "commit=a1 code: Deployment/web@1a2b3c4d5e6f ConfigMap/queries@0f9e8d7c6b5a"
    assert entries[2].detail == "Undo of back-7"
