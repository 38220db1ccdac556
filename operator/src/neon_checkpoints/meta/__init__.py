"""The meta database: the timeline of checkpoints and restores, kept outside any snapshotted branch."""

from neon_checkpoints.meta.records import CheckpointRecord, CheckpointRow, RestoreRecord, RestoreRow
from neon_checkpoints.meta.store import MetaStore

__all__ = ["CheckpointRecord", "CheckpointRow", "MetaStore", "RestoreRecord", "RestoreRow"]
