"""`POST /branches/{id}/restore` in the emulator's model: the target keeps its id and endpoints (the same
connection string) and takes the source's data and catalog; `preserve_under_name` keeps what it had."""

from __future__ import annotations

import pytest

from neon_emulator.model import branch_restore, snapshots
from neon_emulator.model.core import Model
from neon_emulator.model.errors import EmulatorError
from tests.unit.emulator.test_emulator_model import create, finish_all, new_model


def finalized_once() -> tuple[Model, str, str, str]:
    """A project whose `main` was restored once from a snapshot: (model, project, main now, main (old))."""
    model = new_model()
    created = create(model)
    pid, main = created.project.id, created.branch
    assert main is not None
    finish_all(model)
    snap, _ = snapshots.create_snapshot(
        model, pid, main.id, name="s", timestamp=None, lsn=None, expires_at=None
    )
    finish_all(model)
    restored = snapshots.restore_snapshot(
        model, pid, snap.id, name=None, target_branch_id=main.id, finalize_restore=True
    )
    finish_all(model)
    return model, pid, restored.branch.id, main.id


def test_production_is_restored_from_its_old_branch_keeping_its_id_endpoint_and_a_copy_of_its_state() -> None:
    model, pid, current, old = finalized_once()
    endpoints = [e.id for e in model.endpoints_of(pid, current)]

    done = branch_restore.restore_branch(
        model,
        pid,
        current,
        source_branch_id=old,
        preserve_under_name="before-undo-x",
        source_lsn=None,
        source_timestamp=None,
    )

    assert done.branch.id == current and done.branch.name == "main"
    assert [e.id for e in model.endpoints_of(pid, current)] == endpoints
    assert done.preserved is not None and done.preserved.name == "before-undo-x"
    assert done.preserved.parent_id is None  # a root branch: snapshots can be taken of it
    assert [(o.action, o.work.get("src"), o.work.get("dst")) for o in done.operations] == [
        ("suspend_compute", None, None),
        ("create_branch", current, done.preserved.id),
        ("create_timeline", old, current),
        ("start_compute", None, None),
    ]
    with pytest.raises(EmulatorError) as locked:
        branch_restore.restore_branch(
            model,
            pid,
            current,
            source_branch_id=old,
            preserve_under_name=None,
            source_lsn=None,
            source_timestamp=None,
        )
    assert locked.value.status == 423
    finish_all(model)
    assert model.state.branches[current].current_state == "ready"


@pytest.mark.parametrize(
    ("situation", "source", "preserve", "lsn", "status", "message"),
    [
        ("onto itself", "current", "keep", None, 400, "onto itself"),
        ("unknown source", "br-none", None, None, 404, "not found"),
        ("at an LSN", "old", None, "0/1", 400, "source_lsn"),
        ("preserve name taken", "old", "main (old)", None, 409, "already exists"),
    ],
)
def test_refusals(
    situation: str, source: str, preserve: str | None, lsn: str | None, status: int, message: str
) -> None:
    model, pid, current, old = finalized_once()
    source_id = {"current": current, "old": old}.get(source, source)

    with pytest.raises(EmulatorError) as refused:
        branch_restore.restore_branch(
            model,
            pid,
            current,
            source_branch_id=source_id,
            preserve_under_name=preserve,
            source_lsn=lsn,
            source_timestamp=None,
        )

    assert refused.value.status == status and message in refused.value.message
