"""`neon-checkpoints status`'s summary (pure): the newest checkpoint and restore per project, Stalled
resources under their project, one line each."""

from __future__ import annotations

import datetime as dt
from typing import Any

from neon_checkpoints.meta.records import CheckpointRow, RestoreRow
from neon_checkpoints.timeline.summary import render_status_table, stalled_resource, summarize

T = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


def checkpoint(**fields: Any) -> CheckpointRow:
    base: dict[str, Any] = dict(
        id=1, uid="u", namespace="apps", name="v1", project_id="p-1", branch_name="production",
        source_branch_id=None, snapshot_id="snap-1", snapshot_name=None, lsn=None, snapshot_created_at=None,
        expires_at=None, source={}, parent_checkpoint_id=None, phase="Ready", created_at=T, ready_at=T,
        deleted_at=None, updated_at=T,
    )  # fmt: skip
    return CheckpointRow(**{**base, **fields})


def restore(**fields: Any) -> RestoreRow:
    base: dict[str, Any] = dict(
        id=1, uid="r", namespace="apps", name="back", project_id="p-1", branch_name="production",
        checkpoint_id=1, mode="Finalize", target_branch_id=None, restored_branch_id=None,
        replaced_branch_id=None, operation_ids=[], phase="Succeeded", error=None, started_at=T,
        completed_at=T + dt.timedelta(seconds=2.5), created_at=T, updated_at=T,
    )  # fmt: skip
    return RestoreRow(**{**base, **fields})


def test_per_project_last_checkpoint_restore_and_stalled() -> None:
    blocked = {
        "metadata": {"namespace": "apps", "name": "b"},
        "status": {"conditions": [{"type": "Stalled", "status": "True", "reason": "SecretNotFound"}]},
    }
    fine = {"metadata": {"namespace": "apps", "name": "f"}, "status": {"conditions": []}}
    stalled = [s for s in (stalled_resource("Checkpoint", b, "p-2") for b in (blocked, fine)) if s]
    summaries = summarize([checkpoint()], [restore()], stalled)
    assert [s.project_id for s in summaries] == ["p-1", "p-2"]
    assert summaries[0].last_restore is not None and summaries[0].last_restore["durationSeconds"] == 2.5
    assert summaries[1].last_checkpoint is None and summaries[1].stalled[0].reason == "SecretNotFound"
    table = render_status_table(summaries, "not reported")
    assert "apps/v1 Ready 2026-12-01 10:00:00" in table
    assert "apps/back Finalize Succeeded in 2.5s" in table
    assert "Checkpoint apps/b: SecretNotFound" in table
    assert table.endswith("request budget: not reported\n")


def test_a_deleted_checkpoint_says_so() -> None:
    [summary] = summarize([checkpoint(deleted_at=T)], [], [])
    assert summary.last_checkpoint is not None and summary.last_checkpoint["phase"] == "Deleted"
