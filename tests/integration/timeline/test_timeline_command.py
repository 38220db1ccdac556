"""`neon-checkpoints timeline` reads what the operator's meta store wrote, on a real PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from neon_checkpoints.meta.records import CheckpointRecord, RestoreRecord
from neon_checkpoints.meta.store import MetaStore

pytestmark = pytest.mark.postgres

CLI = str(Path(sys.executable).parent / "neon-checkpoints")


def timeline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, "timeline", *args], capture_output=True, text=True, timeout=60)


async def test_lineage_sources_and_restores_are_shown(fresh_database: str) -> None:
    store = await MetaStore.open(fresh_database)
    try:
        for uid, name, prompt in (
            ("u1", "v1", "create contacts"),
            ("u2", "v2", "add role"),
            ("u3", "v3", "tags"),
        ):
            await store.upsert_checkpoint(
                CheckpointRecord(uid=uid, namespace="apps", name=name, project_id="p1",
                                 branch_name="production", phase="Ready", snapshot_id=f"snap-{name}",
                                 source={"prompt": prompt})
            )  # fmt: skip
        v1 = await store.get_checkpoint("u1")
        assert v1 is not None
        await store.upsert_restore(
            RestoreRecord(uid="r1", namespace="apps", name="back-to-v1", project_id="p1",
                          branch_name="production", mode="Finalize", phase="Succeeded", checkpoint_id=v1.id)
        )  # fmt: skip
        await store.upsert_checkpoint(
            CheckpointRecord(uid="u4", namespace="apps", name="v4", project_id="p1", branch_name="production",
                             phase="Ready", source={"prompt": "after restore"})
        )  # fmt: skip
    finally:
        await store.close()

    table = timeline("--project-id", "p1", "--meta-database-url", fresh_database)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert [line.split()[4] for line in lines[2:]] == ["v1", "v2", "v3", "back-to-v1", "v4"]
    assert "#1 v1" in lines[-1]  # v4's parent is the checkpoint the restore went back to
    assert 'prompt="create contacts"' in lines[2]

    as_json = timeline("--project-id", "p1", "--meta-database-url", fresh_database, "--output", "json")
    document = json.loads(as_json.stdout)
    assert [c["name"] for c in document["checkpoints"]] == ["v1", "v2", "v3", "v4"]
    assert document["checkpoints"][3]["parent_checkpoint_id"] == v1.id
    assert document["restores"][0]["name"] == "back-to-v1"


def test_unreachable_meta_database_is_a_clear_error_without_the_password() -> None:
    result = timeline(
        "--project-id", "p1", "--meta-database-url", "postgresql://app:s3cr3t-pw@127.0.0.1:9/meta"
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: cannot read the meta database at postgresql://app:***@127.0.0.1:9/meta"
    )
    assert "s3cr3t-pw" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_missing_meta_database_url_names_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("META_DATABASE_URL", raising=False)
    result = timeline("--project-id", "p1")
    assert result.returncode == 2
    assert "--meta-database-url" in result.stderr
