"""The story users came for (issue 5 item 6), all through `kubectl apply` of YAML on the real apiserver,
emulator and meta DB: contacts v1 -> v2 -> v3 with a Checkpoint each; restore to v1 (Finalize) through the
ORIGINAL connection string; a later Checkpoint snapshots the NEW production branch and descends from v1; a
Preview of v2 serves v2 on its own URI while production stays v1; restoring v3 afterwards works."""

from __future__ import annotations

import pytest

from tests.e2e.restore.conftest import RestoreHarness, columns, contacts, sql

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]

V1 = [
    "CREATE TABLE contacts (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL,"
    " email text NOT NULL UNIQUE)",
    "INSERT INTO contacts (name, email) VALUES ('Ada', 'ada@example.com'), ('Grace', 'grace@example.com'),"
    " ('Linus', 'linus@example.com')",
]
V2 = [
    "ALTER TABLE contacts ADD COLUMN role text, ADD COLUMN company text",
    "UPDATE contacts SET role = 'engineer', company = 'Initech'",
    "INSERT INTO contacts (name, email, role, company)"
    " VALUES ('Barbara', 'barbara@example.com', 'cto', 'Acme')",
]
V3 = [
    "ALTER TABLE contacts ADD COLUMN tags text[] DEFAULT '{}'",
    "UPDATE contacts SET tags = ARRAY['vip'] WHERE name = 'Ada'",
    "DELETE FROM contacts WHERE name = 'Linus'",
]


def migrate(uri: str, statements: list[str]) -> None:
    for statement in statements:
        sql(uri, statement)


def test_checkpoint_restore_story(restores: RestoreHarness) -> None:
    h = restores.h
    project = h.create_project()
    app = restores.app_uri(project)
    h.start_operator()

    states: dict[str, tuple[list[tuple[str, str]], list[tuple[object, ...]]]] = {}
    for version, statements, commit in (("v1", V1, "c1"), ("v2", V2, "c2"), ("v3", V3, "c3")):
        migrate(app, statements)
        states[version] = (columns(app), contacts(app))
        restores.checkpoint(project, version, commit)
    assert [name for name, _ in states["v3"][0]] == ["id", "name", "email", "role", "company", "tags"]
    original_production = restores.branches(project)["production"].id
    v1_snapshot = h.get("checkpoint", "v1")["status"]["snapshotId"]

    # -- restore to v1 (Finalize) ------------------------------------------------------------------------
    restores.restore("back-to-v1", "v1")
    body = restores.wait_restore("back-to-v1")
    status = body["status"]
    assert (columns(app), contacts(app)) == states["v1"], "the ORIGINAL connection string serves v1"
    branches = restores.branches(project)
    assert status["restoredBranchId"] == branches["production"].id != original_production
    assert status["replacedBranchId"] == original_production == branches["production (old)"].id
    assert branches["production"].restored_from == v1_snapshot
    assert status["durationSeconds"] > 0 and status["startedAt"] < status["completedAt"]
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions == {
        "Succeeded": ("True", "Restored"),
        "Reconciling": ("False", "Idle"),
        "Stalled": ("False", "Idle"),
    }
    assert all(op["status"] in ("finished", "skipped") for op in status["operations"])
    printed = h.kubectl("get", "checkpointrestore", "back-to-v1").stdout.splitlines()[1].split()
    assert printed[:4] == ["back-to-v1", "Succeeded", "v1", "Finalize"]
    assert sorted(e["reason"] for e in h.events("back-to-v1")) == ["Pending", "Restoring", "Succeeded"]

    checkpoint_rows = {r["name"]: r for r in h.meta_rows()}
    [row] = restores.restores()
    assert (row["uid"], row["mode"], row["phase"], row["error"]) == (
        body["metadata"]["uid"],
        "Finalize",
        "Succeeded",
        None,
    )
    assert row["checkpoint_id"] == checkpoint_rows["v1"]["id"]
    assert (row["target_branch_id"], row["replaced_branch_id"]) == (original_production, original_production)
    assert row["restored_branch_id"] == status["restoredBranchId"]
    assert row["started_at"] < row["completed_at"] and row["operation_ids"]

    # One-shot: applying the same object again changes nothing.
    restores.restore("back-to-v1", "v1")
    assert h.get("checkpointrestore", "back-to-v1")["status"] == status
    assert len(restores.restores()) == 1

    # -- a checkpoint taken now snapshots the NEW production branch and descends from v1 --------------
    migrate(app, ["INSERT INTO contacts (name, email) VALUES ('Edsger', 'edsger@example.com')"])
    after = restores.checkpoint(project, "v1b", "c1b")
    assert after["status"]["sourceBranchId"] == status["restoredBranchId"]
    assert after["status"]["sourceBranchId"] != branches["production (old)"].id
    rows = {r["name"]: r for r in h.meta_rows()}
    assert rows["v1b"]["parent_checkpoint_id"] == rows["v1"]["id"]
    assert rows["v1b"]["source_branch_id"] == status["restoredBranchId"]
    v1b_state = (columns(app), contacts(app))

    # -- preview v2 on its own branch; production stays where it is -------------------------------------
    restores.restore("preview-v2", "v2", example="checkpointrestore-preview.yaml")
    preview = restores.wait_restore("preview-v2")
    assert preview["status"]["previewSecretName"] == "v2-preview"
    secret = restores.secret("v2-preview")
    [owner] = secret["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "CheckpointRestore",
        "preview-v2",
        preview["metadata"]["uid"],
    )
    preview_uri = secret["decoded"]["uri"]
    assert preview_uri != app
    assert (columns(preview_uri), contacts(preview_uri)) == states["v2"]
    assert (columns(app), contacts(app)) == v1b_state
    preview_branch = preview["status"]["restoredBranchId"]
    assert secret["decoded"]["branchId"] == preview_branch
    assert restores.branches(project)["production"].id == status["restoredBranchId"]
    # The secret's value is never logged.
    assert preview_uri not in h.operator_logs()

    # -- chained: restore v3 now, deleting the branch it replaces ---------------------------------------
    restores.restore("forward-to-v3", "v3", oldBranchPolicy="Delete")
    third = restores.wait_restore("forward-to-v3")["status"]
    assert (columns(app), contacts(app)) == states["v3"]
    assert third["replacedBranchId"] == status["restoredBranchId"]
    after_v3 = restores.branches(project)
    assert after_v3["production"].id == third["restoredBranchId"]
    assert third["replacedBranchId"] not in {b.id for b in after_v3.values()}, "the Delete policy"
    assert "production (old)" in after_v3, "the first restore's Retain policy kept its old branch"
    assert (columns(preview_uri), contacts(preview_uri)) == states["v2"], "the preview is untouched"

    # -- deleting the Preview deletes its branch and its Secret -----------------------------------------
    deleted = h.kubectl("delete", "checkpointrestore", "preview-v2", "--timeout=60s", check=False)
    assert deleted.returncode == 0, deleted.stderr + h.operator_logs()
    assert preview_branch not in {b.id for b in restores.branches(project).values()}
    gone = h.kubectl("get", "secret", "v2-preview", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    assert [r["phase"] for r in restores.restores()] == ["Succeeded"] * 3
