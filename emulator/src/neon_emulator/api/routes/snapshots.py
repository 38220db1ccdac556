"""Snapshots: take one of a branch, list, patch, delete, restore one to a new branch, finalize a restore."""

from __future__ import annotations

from aiohttp import web

from neon_emulator.model import schedules, snapshots
from neon_emulator.model.errors import EmulatorError
from neon_emulator.storage import StorageError

from ..bodies import nullable_str, obj, opt_bool, opt_str, parse_json, req_list
from ..views import branch_view, operations_view, snapshot_view
from .paths import BRANCH, PROJECT, SNAPSHOT
from .resource import Resource, Route, ok


class Snapshots(Resource):
    def routes(self) -> list[Route]:
        return [
            ("POST", BRANCH + "/snapshot", self.create_snapshot),
            ("POST", BRANCH + "/finalize_restore", self.finalize_restore),
            ("GET", PROJECT + "/snapshots", self.list_snapshots),
            ("PATCH", SNAPSHOT, self.update_snapshot),
            ("DELETE", SNAPSHOT, self.delete_snapshot),
            ("POST", SNAPSHOT + "/restore", self.restore_snapshot),
            ("GET", BRANCH + "/backup_schedule", self.get_backup_schedule),
            ("PUT", BRANCH + "/backup_schedule", self.put_backup_schedule),
        ]

    async def get_backup_schedule(self, request: web.Request) -> web.Response:
        pid, bid = request.match_info["project_id"], request.match_info["branch_id"]
        return ok({"schedule": schedules.backup_schedule(self.model, pid, bid)})

    async def put_backup_schedule(self, request: web.Request) -> web.Response:
        pid, bid = request.match_info["project_id"], request.match_info["branch_id"]
        items = req_list(parse_json(await request.text(), required=True), "schedule", "schedule")
        schedule = schedules.set_backup_schedule(self.model, pid, bid, items)
        self.changed(pid)
        return ok({"schedule": schedule})

    async def create_snapshot(self, request: web.Request) -> web.Response:
        pid, bid = request.match_info["project_id"], request.match_info["branch_id"]
        q = request.query  # a JSON body is ignored, as on Neon
        self._check_cap(pid)
        snap, ops = snapshots.create_snapshot(
            self.model,
            pid,
            bid,
            name=q.get("name") or None,
            timestamp=q.get("timestamp") or None,
            lsn=q.get("lsn") or None,
            expires_at=q.get("expires_at") or None,
        )
        # The data is copied before the answer: the snapshot is the branch as it was when this was accepted.
        try:
            timing = await self.executor.capture(pid, bid, snap.id)
        except StorageError as exc:
            snapshots.capture_failed(self.model, ops, str(exc))
            self.changed(pid)
            raise EmulatorError(500, f"the snapshot could not be taken: {exc}") from None
        snapshots.mark_captured(self.model, snap.id, timing.lsn)
        self.changed(pid)
        return ok({"snapshot": snapshot_view(snap), "operations": operations_view(ops)})

    def _check_cap(self, project_id: str) -> None:
        """The plan's manual-snapshot limit (faults.py `snapshot_cap`). Neon's exact status and text are not
        documented (neon-api.md §6.4): 422 with a message naming the limit, in Neon's error shape."""
        cap = self.executor.faults.config.snapshot_cap
        if not cap:
            return
        held = sum(1 for s in snapshots.snapshots_of(self.model, project_id) if s.manual)
        if held >= cap:
            raise EmulatorError(
                422,
                f"snapshot limit reached: the project already has {held} manual snapshots and the plan "
                f"allows {cap}; delete a snapshot to take another",
            )

    async def list_snapshots(self, request: web.Request) -> web.Response:
        found = snapshots.snapshots_of(self.model, request.match_info["project_id"])
        return ok({"snapshots": [snapshot_view(s) for s in found]})

    async def update_snapshot(self, request: web.Request) -> web.Response:
        pid, sid = request.match_info["project_id"], request.match_info["snapshot_id"]
        raw = obj(parse_json(await request.text(), required=True), "snapshot", "snapshot", required=True)
        snap = snapshots.update_snapshot(
            self.model,
            pid,
            sid,
            name=opt_str(raw, "name", "snapshot.name"),
            expires_at=nullable_str(raw, "expires_at", "snapshot.expires_at"),
        )
        self.changed(pid)
        return ok({"snapshot": snapshot_view(snap)})

    async def delete_snapshot(self, request: web.Request) -> web.Response:
        pid, sid = request.match_info["project_id"], request.match_info["snapshot_id"]
        ops = snapshots.delete_snapshot(self.model, pid, sid)
        self.changed(pid)
        return ok({"operations": operations_view(ops)}, 202)

    async def restore_snapshot(self, request: web.Request) -> web.Response:
        pid, sid = request.match_info["project_id"], request.match_info["snapshot_id"]
        body = parse_json(await request.text())
        finalize = opt_bool(body, "finalize_restore", "finalize_restore")
        restored = snapshots.restore_snapshot(
            self.model,
            pid,
            sid,
            name=opt_str(body, "name", "name") or request.query.get("name") or None,
            target_branch_id=opt_str(body, "target_branch_id", "target_branch_id"),
            finalize_restore=bool(finalize),
        )
        self.changed(pid)
        return ok(
            {
                "branch": branch_view(restored.branch),
                "endpoints": [self.endpoint_json(e) for e in restored.endpoints],
                "operations": operations_view(restored.operations),
            }
        )

    async def finalize_restore(self, request: web.Request) -> web.Response:
        pid, bid = request.match_info["project_id"], request.match_info["branch_id"]
        body = parse_json(await request.text())
        ops = snapshots.finalize_restore(self.model, pid, bid, name=opt_str(body, "name", "name"))
        self.changed(pid)
        return ok({"operations": operations_view(ops)})
