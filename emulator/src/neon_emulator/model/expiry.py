"""Snapshots and branches past their `expires_at` are deleted, as on Neon (a branch recoverably, as
`deletion_method: ttl`), and soft-deleted branches past their recovery window removed for good. `sweep`
decides and deletes; the server calls it every second (server.py) and hands the touched projects to the
executor."""

from __future__ import annotations

import logging

from . import branches, snapshots
from .clock import parse_ts
from .core import Model
from .errors import EmulatorError

log = logging.getLogger(__name__)


def sweep(model: Model) -> set[str]:
    """Delete what has expired (not in projects with operations in progress); returns the touched projects."""
    now = model.clock.now()
    touched: set[str] = set()
    deleted = {p.id for p in model.state.projects.values() if p.deleted_at is not None}  # left as they are
    for snap in list(model.state.snapshots.values()):
        if snap.project_id in deleted:
            continue
        if snap.expires_at and parse_ts(snap.expires_at) <= now and not model.busy(snap.project_id):
            snapshots.delete_snapshot(model, snap.project_id, snap.id)
            log.info("snapshot %s expired and was deleted", snap.id)
            touched.add(snap.project_id)
    for branch in list(model.state.branches.values()):
        if branch.project_id in deleted:
            continue
        if branch.expires_at and parse_ts(branch.expires_at) <= now and not model.busy(branch.project_id):
            try:
                branches.delete_branch(model, branch.project_id, branch.id, method="ttl")
            except EmulatorError as exc:  # e.g. it became the default branch: keep it
                log.warning("expired branch %s kept: %s", branch.id, exc.message)
                branch.expires_at = None
                continue
            log.info("branch %s expired and was deleted", branch.id)
            touched.add(branch.project_id)
    return touched | branches.purge_unrecoverable(model)
