"""Rows of the meta database and the values written into them (frozen dataclasses, filled by `class_row`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from neon_checkpoints.core.secrets import SecretRef


@dataclass(frozen=True)
class CheckpointRecord:
    """What the operator knows about a Checkpoint when it records it (upsert keyed by `uid`)."""

    uid: str
    namespace: str
    name: str
    project_id: str
    branch_name: str
    phase: str
    source_branch_id: str | None = None
    snapshot_id: str | None = None
    snapshot_name: str | None = None
    lsn: str | None = None
    snapshot_created_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    source: dict[str, Any] = field(default_factory=dict)
    # The Secret holding the key it was taken with (None: the operator's default key).
    credentials: SecretRef | None = None


@dataclass(frozen=True)
class CheckpointRow:
    id: int
    uid: str
    namespace: str
    name: str
    project_id: str
    branch_name: str
    source_branch_id: str | None
    snapshot_id: str | None
    snapshot_name: str | None
    lsn: str | None
    snapshot_created_at: dt.datetime | None
    expires_at: dt.datetime | None
    source: dict[str, Any]
    parent_checkpoint_id: int | None
    phase: str
    created_at: dt.datetime
    ready_at: dt.datetime | None
    deleted_at: dt.datetime | None
    updated_at: dt.datetime
    credentials_secret_name: str | None = None
    credentials_secret_key: str | None = None
    # [{kind, name, revision}] recorded with the snapshot (filled by the timeline's query only).
    workloads: list[dict[str, str]] | None = None

    @property
    def credentials(self) -> SecretRef | None:
        if self.credentials_secret_name is None:
            return None
        return SecretRef(self.credentials_secret_name, self.credentials_secret_key or SecretRef.key)


@dataclass(frozen=True)
class RestoreRecord:
    """What the operator knows about a CheckpointRestore (upsert keyed by `uid`).

    `None` fields keep what the row already holds, so a later write never erases an earlier fact
    (for example the intent recorded before the restore request). `completed_at` defaults to the time
    the row first reaches Succeeded or Failed.
    """

    uid: str
    namespace: str
    name: str
    project_id: str
    branch_name: str
    mode: str
    phase: str
    checkpoint_id: int | None = None
    target_branch_id: str | None = None
    restored_branch_id: str | None = None
    replaced_branch_id: str | None = None
    operation_ids: tuple[str, ...] = ()
    error: str | None = None
    started_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    # An undo: the uid of the restore it undoes.
    undo_of: str | None = None


@dataclass(frozen=True)
class RestoreRow:
    id: int
    uid: str
    namespace: str
    name: str
    project_id: str
    branch_name: str
    checkpoint_id: int | None
    mode: str
    target_branch_id: str | None
    restored_branch_id: str | None
    replaced_branch_id: str | None
    operation_ids: list[str]
    phase: str
    error: str | None
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    database_restored_at: dt.datetime | None = None
    undo_of: str | None = None


@dataclass(frozen=True)
class UnsettledRestore:
    """A finalized restore or an undo whose intent was recorded but whose effect in Neon was not: its flow
    was interrupted after (perhaps) asking Neon. Settled from what Neon shows before another flow mutates
    the project."""

    uid: str
    name: str
    mode: str
    branch_name: str
    started_at: dt.datetime
    target_branch_id: str | None
    operation_ids: list[str]
    # Finalize: the snapshot of the checkpoint it restores (Neon names it as the new branch's source).
    snapshot_id: str | None


@dataclass(frozen=True)
class UnsettledCheckpoint:
    """A checkpoint whose intent was recorded before its snapshot was asked for, with no snapshot since."""

    uid: str
    snapshot_name: str | None
