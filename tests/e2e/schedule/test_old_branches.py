"""NEON_CHECKPOINTS_KEEP_OLD_BRANCHES end to end (issue 8 item 4): finalized restores through the operator
leave `(old)` branches; only the newest N per project stay. The snapshots taken from a deleted `(old)` branch
survive in the emulator and can still be restored (neon-api.md §11 q6, the "delete succeeds" answer)."""

from __future__ import annotations

import pytest

from tests.e2e.checkpoint.conftest import Harness, eventually
from tests.e2e.restore.conftest import RestoreHarness, restores  # noqa: F401  (fixture)

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]


def old_branches(restores: RestoreHarness, project: str) -> dict[str, str]:  # noqa: F811
    """name -> id of the project's `(old)` branches."""
    return {name: b.id for name, b in restores.branches(project).items() if "(old" in name}


def test_only_the_newest_old_branch_is_kept(harness: Harness, restores: RestoreHarness) -> None:  # noqa: F811
    project = harness.create_project()
    harness.start_operator(NEON_CHECKPOINTS_KEEP_OLD_BRANCHES="1", NEON_CHECKPOINTS_SCHEDULE_RESYNC="1")
    v1 = restores.checkpoint(project, "v1", "c1")
    v2 = restores.checkpoint(project, "v2", "c2")
    original_production = v1["status"]["sourceBranchId"]

    restores.restore("r1", "v1")
    restores.wait_restore("r1")
    first_old = old_branches(restores, project)
    assert list(first_old.values()) == [original_production]

    restores.restore("r2", "v2")
    replaced_by_r2 = restores.wait_restore("r2")["status"]["replacedBranchId"]
    # Two `(old)` branches now; the older one (where v1 and v2 were taken) is pruned.
    eventually(
        lambda: list(old_branches(restores, project).values()) == [replaced_by_r2],
        timeout=60,
        what="only the newest (old) branch left",
        h=harness,
    )
    with harness.neon() as neon:
        snapshots = {s.id: s for s in neon.list_snapshots(project)}
    # Their source branch is gone, the snapshots are not.
    assert {v1["status"]["snapshotId"], v2["status"]["snapshotId"]} <= set(snapshots)

    # And a snapshot whose source branch was deleted still restores.
    restores.restore("r3", "v1")
    replaced_by_r3 = restores.wait_restore("r3")["status"]["replacedBranchId"]
    eventually(
        lambda: list(old_branches(restores, project).values()) == [replaced_by_r3],
        timeout=60,
        what="the (old) branch left by r2 pruned after r3",
        h=harness,
    )
    assert restores.branches(project)["production"].restored_from == v1["status"]["snapshotId"]
    assert not [e for e in harness.events("r2") + harness.events("r3") if e["reason"] == "OldBranchKept"]
