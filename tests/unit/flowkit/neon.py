"""A stateful fake of the Neon API v2 subset the flows use (neon-api.md §2-§7), for httpx.MockTransport.

Projects hold branches, snapshots, databases and operations as the JSON Neon sends (the shapes
`neon_api.models` parses); each API key may use only the projects it is allowed. Operations start `running`
and finish the first time they are polled (unless `stall` is set), applying what they stand for (a snapshot
gets its lsn and timestamp, a restored branch becomes ready). `fail` answers a request with a status
instead of doing it; `lose_answer` does it and then breaks the connection, as a crash or a timeout after
Neon accepted a POST would look to the operator.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_KEY = "napi_operator_default_key"
DATABASE, OWNER = "appdb", "app_owner"


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int | None  # None: no answer at all (the connection breaks)
    message: str
    times: int
    apply: bool  # do the request first, then answer with the fault

    def matches(self, request: httpx.Request, path: str) -> bool:
        return self.times > 0 and request.method == self.method and self.pattern.search(path) is not None


class FakeProject:
    def __init__(self, neon: FakeNeon, project_id: str) -> None:
        self._neon = neon
        self.id = project_id
        self.branches: dict[str, dict[str, Any]] = {}
        self.snapshots: dict[str, dict[str, Any]] = {}
        self.operations: list[dict[str, Any]] = []

    def branch(self, branch_id: str) -> dict[str, Any]:
        return self.branches[branch_id]

    def branch_named(self, name: str) -> dict[str, Any] | None:
        return next((b for b in self.branches.values() if b["name"] == name), None)

    def snapshot_named(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.snapshots.values() if s["name"] == name), None)

    def add_branch(self, name: str, *, default: bool = False, **fields: Any) -> dict[str, Any]:
        branch_id = fields.pop("id", None) or self._neon.new_id("br")
        branch: dict[str, Any] = {
            "id": branch_id,
            "project_id": self.id,
            "name": name,
            "parent_id": None,
            "default": default,
            "protected": False,
            "current_state": "ready",
            "created_at": stamp(now()),
            "updated_at": stamp(now()),
            **fields,
        }
        self.branches[branch_id] = branch
        return branch

    def add_snapshot(self, name: str, source_branch_id: str, **fields: Any) -> dict[str, Any]:
        snapshot_id = fields.pop("id", None) or self._neon.new_id("snap")
        snapshot: dict[str, Any] = {
            "id": snapshot_id,
            "name": name,
            "source_branch_id": source_branch_id,
            "created_at": stamp(now()),
            "manual": True,
            **fields,
        }
        self.snapshots[snapshot_id] = snapshot
        return snapshot

    def add_operation(
        self,
        action: str,
        *,
        branch_id: str | None = None,
        status: str = "running",
        effect: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        moment = stamp(now())
        operation: dict[str, Any] = {
            "id": self._neon.new_id("op"),
            "project_id": self.id,
            "branch_id": branch_id,
            "action": action,
            "status": status,
            "failures_count": 0,
            "created_at": moment,
            "updated_at": moment,
        }
        self.operations.append(operation)
        if effect is not None:
            self._neon.effects[operation["id"]] = effect
        return operation

    def in_progress(self) -> list[dict[str, Any]]:
        return [op for op in self.operations if op["status"] in ("scheduling", "running", "cancelling")]


class FakeNeon:
    """Call it with an httpx.Request (MockTransport's handler)."""

    def __init__(self) -> None:
        self.projects: dict[str, FakeProject] = {}
        self.keys: dict[str, set[str]] = {}
        self.faults: list[Fault] = []
        self.effects: dict[str, Callable[[], None]] = {}
        self.stall = False  # operations stay running however often they are polled
        self.listed: set[str] = set()  # operation ids a listing has shown
        self.answer_lsn = False  # the snapshot POST's answer carries lsn/timestamp (as the emulator's)
        self.watchers: list[tuple[str, re.Pattern[str], Callable[[httpx.Request], None]]] = []
        self._ids = itertools.count(1)

    # -- arranging ----------------------------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"

    def project(
        self, project_id: str = "p-1", *, keys: Iterable[str] = (DEFAULT_KEY,), branch: str = "production"
    ) -> FakeProject:
        """A project with one root branch (the default) that `keys` may use."""
        project = self.projects[project_id] = FakeProject(self, project_id)
        project.add_branch(branch, default=True)
        for key in keys:
            self.keys.setdefault(key, set()).add(project_id)
        return project

    def fail(self, method: str, pattern: str, status: int, message: str = "", *, times: int = 1) -> None:
        """Answer the next `times` matching requests with `status` (Neon's error body), doing nothing."""
        text = message or f"refused with {status}"
        self.faults.append(Fault(method, re.compile(pattern), status, text, times, apply=False))

    def lose_answer(self, method: str, pattern: str, *, times: int = 1) -> None:
        """Do the next matching request, then break the connection before the answer arrives."""
        self.faults.append(Fault(method, re.compile(pattern), None, "connection lost", times, apply=True))

    def watch(self, method: str, pattern: str, look: Callable[[httpx.Request], None]) -> None:
        """Call `look` when a matching request arrives, before Neon acts on it (to see what the flow had
        recorded by then)."""
        self.watchers.append((method, re.compile(pattern), look))

    # -- serving ------------------------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v2")
        for method, pattern, look in self.watchers:
            if request.method == method and pattern.search(path):
                look(request)
        fault = next((f for f in self.faults if f.matches(request, path)), None)
        if fault is not None:
            fault.times -= 1
            if not fault.apply:
                return _error(fault.status or 500, fault.message)
        try:
            response = self._serve(request, path)
        except Refused as exc:
            response = _error(exc.status, exc.message)
        if fault is not None:
            raise httpx.ConnectError(fault.message, request=request)
        return response

    def _serve(self, request: httpx.Request, path: str) -> httpx.Response:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        if key not in self.keys:
            raise Refused(401, "authentication failed: invalid API key")
        parts = path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != "projects":
            raise Refused(500, f"the fake does not serve {request.method} {path}")
        project = self.projects.get(parts[1])
        if project is None or project.id not in self.keys[key]:
            raise Refused(404, f"project {parts[1]} not found")
        route = (request.method, *(("*" if i % 2 else p) for i, p in enumerate(parts[2:], start=0)))
        args = parts[3::2]
        handler = _ROUTES.get(route)
        if handler is None:
            raise Refused(500, f"the fake does not serve {request.method} {path}")
        status, payload = handler(self, project, request, *args)
        return httpx.Response(status, json=payload)

    # -- routes (each returns status and JSON) -----------------------------------------------------------

    def _list_branches(self, project: FakeProject, request: httpx.Request) -> tuple[int, Any]:
        search = request.url.params.get("search")
        found = [
            b for b in project.branches.values() if not search or search in b["name"] or search in b["id"]
        ]
        # Neon's default order: most recently updated first (the newest of equals first).
        found = sorted(reversed(found), key=lambda b: b["updated_at"], reverse=True)
        return 200, {"branches": found}

    def _get_branch(self, project: FakeProject, request: httpx.Request, branch_id: str) -> tuple[int, Any]:
        return 200, {"branch": _branch(project, branch_id)}

    def _delete_branch(self, project: FakeProject, request: httpx.Request, branch_id: str) -> tuple[int, Any]:
        branch = project.branches.get(branch_id)
        if branch is None:
            raise Refused(404, f"branch {branch_id} not found")
        if branch["default"]:
            raise Refused(422, "cannot delete the project's default branch")
        del project.branches[branch_id]
        return 200, {"branch": branch, "operations": [project.add_operation("delete_timeline")]}

    def _databases(self, project: FakeProject, request: httpx.Request, branch_id: str) -> tuple[int, Any]:
        _branch(project, branch_id)
        database = {"id": 1, "branch_id": branch_id, "name": DATABASE, "owner_name": OWNER}
        return 200, {"databases": [database]}

    def _snapshot(self, project: FakeProject, request: httpx.Request, branch_id: str) -> tuple[int, Any]:
        source = _branch(project, branch_id)
        if request.content.strip():
            raise Refused(400, "the fake takes query parameters only (Neon ignores a body)")
        params = request.url.params
        name = params.get("name") or self.new_id("snapshot")
        if project.snapshot_named(name) is not None:
            raise Refused(409, f"snapshot with name {name!r} already exists")
        fields = {"expires_at": params["expires_at"]} if "expires_at" in params else {}
        snapshot = project.add_snapshot(name, source["id"], **fields)

        def complete() -> None:
            snapshot.update(lsn="0/1A2B3C4", timestamp=snapshot["created_at"])

        operations = [
            project.add_operation("create_branch"),
            project.add_operation("timeline_archive", effect=None if self.answer_lsn else complete),
        ]
        if self.answer_lsn:
            complete()
        return 200, {"snapshot": snapshot, "operations": operations}

    def _snapshots(self, project: FakeProject, request: httpx.Request) -> tuple[int, Any]:
        return 200, {"snapshots": list(project.snapshots.values())}

    def _update_snapshot(
        self, project: FakeProject, request: httpx.Request, snapshot_id: str
    ) -> tuple[int, Any]:
        snapshot = _snapshot_of(project, snapshot_id)
        fields = json.loads(request.content)["snapshot"]
        snapshot.update({k: v for k, v in fields.items() if k in ("name", "expires_at")})
        return 200, {"snapshot": snapshot}

    def _delete_snapshot(
        self, project: FakeProject, request: httpx.Request, snapshot_id: str
    ) -> tuple[int, Any]:
        _snapshot_of(project, snapshot_id)
        del project.snapshots[snapshot_id]
        return 202, {"operations": [project.add_operation("delete_timeline")]}

    def _restore(self, project: FakeProject, request: httpx.Request, snapshot_id: str) -> tuple[int, Any]:
        snapshot = _snapshot_of(project, snapshot_id)
        asked = json.loads(request.content or b"{}")
        target = _branch(project, asked.get("target_branch_id") or snapshot["source_branch_id"])
        finalize = bool(asked.get("finalize_restore"))
        if not finalize and asked.get("name") and project.branch_named(asked["name"]) is not None:
            raise Refused(409, f"branch with the provided name {asked['name']!r} already exists")
        restored = project.add_branch(
            target["name"] if finalize else asked.get("name") or self.new_id("restored"),
            default=finalize and target["default"],
            parent_id=None,
            current_state="init",
            pending_state="ready",
            restore_status="restored",
            restored_from=snapshot_id,
            restored_as=target["id"],
        )
        if finalize:  # the target's computes move to the new branch; the target is kept as "<name> (old)"
            target.update(name=f"{target['name']} (old)", default=False)

        def ready() -> None:
            restored.update(current_state="ready", pending_state=None)

        operations = [
            project.add_operation("timeline_unarchive", branch_id=target["id"]),
            project.add_operation("create_branch", branch_id=restored["id"]),
            project.add_operation("start_compute", branch_id=restored["id"], effect=ready),
        ]
        endpoint = {
            "id": f"ep-{restored['id']}",
            "project_id": project.id,
            "branch_id": restored["id"],
            "host": f"ep-{restored['id']}.fake.neon.test",
            "type": "read_write",
            "current_state": "init",
        }
        return 200, {"branch": restored, "endpoints": [endpoint], "operations": operations}

    def _restore_branch(
        self, project: FakeProject, request: httpx.Request, branch_id: str
    ) -> tuple[int, Any]:
        """The target keeps its id (and computes); its old state is kept under `preserve_under_name`."""
        target = _branch(project, branch_id)
        asked = json.loads(request.content or b"{}")
        source = _branch(project, asked["source_branch_id"])
        preserve = asked.get("preserve_under_name")
        if preserve and project.branch_named(preserve) is not None:
            raise Refused(409, f"branch with the provided name {preserve!r} already exists")
        operations = []
        if preserve:
            kept = project.add_branch(preserve, restored_from_branch=target["id"])
            operations.append(project.add_operation("create_branch", branch_id=kept["id"]))
        target.update(reset_from=source["id"])
        operations.append(project.add_operation("create_timeline", branch_id=target["id"]))
        return 200, {"branch": target, "operations": operations}

    def _operations(self, project: FakeProject, request: httpx.Request) -> tuple[int, Any]:
        # A listing finishes what an earlier listing already showed running (a poll by listing sees an
        # operation running once, then finished); a GET of one operation finishes it at once.
        for operation in project.operations:
            if operation["id"] in self.listed:
                self._finish(operation)
        self.listed.update(op["id"] for op in project.operations)
        newest_first = sorted(project.operations, key=lambda op: op["created_at"], reverse=True)
        return 200, {"operations": newest_first, "pagination": {"cursor": stamp(now())}}

    def _operation(self, project: FakeProject, request: httpx.Request, op_id: str) -> tuple[int, Any]:
        operation = next((op for op in project.operations if op["id"] == op_id), None)
        if operation is None:
            raise Refused(404, f"operation {op_id} not found")
        self._finish(operation)
        return 200, {"operation": operation}

    def _finish(self, operation: dict[str, Any]) -> None:
        if not self.stall and operation["status"] in ("scheduling", "running"):
            operation.update(status="finished", updated_at=stamp(now()))
            effect = self.effects.pop(operation["id"], None)
            if effect is not None:
                effect()

    def _connection_uri(self, project: FakeProject, request: httpx.Request) -> tuple[int, Any]:
        params = request.url.params
        branch = _branch(project, params["branch_id"])
        host = f"ep-{branch['id']}.fake.neon.test"
        uri = f"postgresql://{params['role_name']}:pw@{host}/{params['database_name']}?sslmode=require"
        return 200, {"uri": uri}


def _branch(project: FakeProject, branch_id: str) -> dict[str, Any]:
    if branch_id not in project.branches:
        raise Refused(404, f"branch {branch_id} not found")
    return project.branches[branch_id]


def _snapshot_of(project: FakeProject, snapshot_id: str) -> dict[str, Any]:
    if snapshot_id not in project.snapshots:
        raise Refused(404, f"snapshot {snapshot_id} not found")
    return project.snapshots[snapshot_id]


def _error(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"code": "", "message": message})


Route = Callable[..., tuple[int, Any]]
# (method, path under /projects/{id} with ids as "*") -> handler
_ROUTES: dict[tuple[str, ...], Route] = {
    ("GET", "branches"): FakeNeon._list_branches,
    ("GET", "branches", "*"): FakeNeon._get_branch,
    ("DELETE", "branches", "*"): FakeNeon._delete_branch,
    ("GET", "branches", "*", "databases"): FakeNeon._databases,
    ("POST", "branches", "*", "snapshot"): FakeNeon._snapshot,
    ("GET", "snapshots"): FakeNeon._snapshots,
    ("PATCH", "snapshots", "*"): FakeNeon._update_snapshot,
    ("DELETE", "snapshots", "*"): FakeNeon._delete_snapshot,
    ("POST", "snapshots", "*", "restore"): FakeNeon._restore,
    ("POST", "branches", "*", "restore"): FakeNeon._restore_branch,
    ("GET", "operations"): FakeNeon._operations,
    ("GET", "operations", "*"): FakeNeon._operation,
    ("GET", "connection_uri"): FakeNeon._connection_uri,
}
