"""The emulator's model: projects, branches and endpoints, and the lifecycle of operations.

Everything here runs on the event loop thread and does no I/O: mutating calls change the records at once and
queue operations whose `work` the executor (executor.py) performs in the background. Snapshots and restores
live in `snapshots.py`, roles and databases in `catalog.py`; both build on the helpers of `Model`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .clock import Clock, format_ts, parse_ts
from .entities import IN_PROGRESS, Branch, Database, Endpoint, Operation, Project, Role, State
from .errors import EmulatorError, bad_request, conflict, locked, not_found
from .ids import IdGenerator, new_password

UNSET: Any = object()  # "field absent" as opposed to an explicit JSON null


@dataclass(frozen=True)
class EndpointSpec:
    type: str = "read_write"
    settings: dict[str, Any] | None = None
    autoscaling_limit_min_cu: float | None = None
    autoscaling_limit_max_cu: float | None = None
    suspend_timeout_seconds: int | None = None
    name: str | None = None
    disabled: bool = False


@dataclass(frozen=True)
class Created:
    """What a create call produced, for the HTTP layer to serialize."""

    project: Project
    branch: Branch | None
    endpoints: list[Endpoint]
    roles: list[Role]
    databases: list[Database]
    operations: list[Operation]


class Model:
    def __init__(self, state: State, ids: IdGenerator, clock: Clock, free_port: Callable[[], int]) -> None:
        self.state = state
        self.ids = ids
        self.clock = clock
        self._free_port = free_port
        self._group = 0

    # ---- lookups -----------------------------------------------------------------------------------------
    def project(self, project_id: str) -> Project:
        try:
            return self.state.projects[project_id]
        except KeyError:
            raise not_found("project", project_id) from None

    def branch(self, project_id: str, branch_id: str) -> Branch:
        self.project(project_id)
        branch = self.state.branches.get(branch_id)
        if branch is None or branch.project_id != project_id:
            raise not_found("branch", branch_id)
        return branch

    def endpoint(self, project_id: str, endpoint_id: str) -> Endpoint:
        self.project(project_id)
        endpoint = self.state.endpoints.get(endpoint_id)
        if endpoint is None or endpoint.project_id != project_id:
            raise not_found("endpoint", endpoint_id)
        return endpoint

    def branches_of(self, project_id: str) -> list[Branch]:
        return [b for b in self.state.branches.values() if b.project_id == project_id]

    def endpoints_of(self, project_id: str, branch_id: str | None = None) -> list[Endpoint]:
        return [
            e
            for e in self.state.endpoints.values()
            if e.project_id == project_id and (branch_id is None or e.branch_id == branch_id)
        ]

    def roles_of(self, branch_id: str) -> list[Role]:
        return [r for r in self.state.roles if r.branch_id == branch_id]

    def databases_of(self, branch_id: str) -> list[Database]:
        return [d for d in self.state.databases if d.branch_id == branch_id]

    def default_branch(self, project_id: str) -> Branch:
        for branch in self.branches_of(project_id):
            if branch.default:
                return branch
        raise EmulatorError(400, "project has no default branch")

    def operation(self, project_id: str, operation_id: str) -> Operation:
        self.project(project_id)
        op = self.state.operations.get(operation_id)
        if op is None or op.project_id != project_id:
            raise not_found("operation", operation_id)
        return op

    # ---- serialization of mutations ------------------------------------------------------------------------
    def busy(self, project_id: str) -> bool:
        return any(
            o.project_id == project_id and o.status in IN_PROGRESS for o in self.state.operations.values()
        )

    def check_unlocked(self, project_id: str) -> Project:
        project = self.project(project_id)
        if self.busy(project_id):
            raise locked()
        return project

    # ---- helpers shared with snapshots.py and catalog.py -----------------------------------------------
    def new_id(self, prefix: str) -> str:
        taken = self.state.branches.keys() | self.state.endpoints.keys() | self.state.snapshots.keys()
        while (candidate := self.ids.child(prefix)) in taken:
            pass
        return candidate

    def new_group(self) -> str:
        self._group += 1
        return f"{self.clock.stamp()}#{self._group}"

    def start_compute(self, endpoint: Endpoint, group: str) -> Operation:
        """A `start_compute` operation for the endpoint on the branch it serves now."""
        return self.add_op(
            endpoint.project_id,
            "start_compute",
            {"kind": "start", "endpoint_id": endpoint.id},
            group,
            branch_id=endpoint.branch_id,
            endpoint_id=endpoint.id,
        )

    def suspend_compute(self, endpoint: Endpoint, group: str) -> Operation:
        """A `suspend_compute` operation for the endpoint on the branch it serves now."""
        return self.add_op(
            endpoint.project_id,
            "suspend_compute",
            {"kind": "stop", "endpoint_id": endpoint.id},
            group,
            branch_id=endpoint.branch_id,
            endpoint_id=endpoint.id,
        )

    def add_op(
        self,
        project_id: str,
        action: str,
        work: dict[str, Any],
        group: str,
        *,
        branch_id: str | None = None,
        endpoint_id: str | None = None,
    ) -> Operation:
        now = self.clock.stamp()
        op = Operation(
            id=self.ids.operation(),
            project_id=project_id,
            action=action,
            status="scheduling",
            created_at=now,
            updated_at=now,
            branch_id=branch_id,
            endpoint_id=endpoint_id,
            work=work,
            group=group,
        )
        self.state.operations[op.id] = op
        if endpoint_id in self.state.endpoints and work.get("kind") in ("start", "stop"):
            self.state.endpoints[endpoint_id].pending_state = "active" if work["kind"] == "start" else "idle"
        return op

    def new_port(self) -> int:
        used = {e.port for e in self.state.endpoints.values()}
        while (port := self._free_port()) in used:
            pass
        return port

    def branch_name_taken(self, project_id: str, name: str, *, ignore: str | None = None) -> bool:
        return any(b.name == name and b.id != ignore for b in self.branches_of(project_id))

    def unique_branch_name(self, project_id: str, base: str) -> str:
        name, n = base, 1
        while self.branch_name_taken(project_id, name):
            n += 1
            name = f"{base[:-1]} {n})" if base.endswith(")") else f"{base} {n}"
        return name

    def new_branch(self, project_id: str, name: str, **fields: Any) -> Branch:
        now = self.clock.stamp()
        branch = Branch(
            id=self.new_id("br"),
            project_id=project_id,
            name=name,
            created_at=now,
            updated_at=now,
            state_changed_at=now,
            **fields,
        )
        if not branch.name:
            branch.name = branch.id
        self.state.branches[branch.id] = branch
        return branch

    def new_endpoint(self, project: Project, branch_id: str, spec: EndpointSpec) -> Endpoint:
        if spec.type != "read_write":
            raise bad_request(
                "endpoint.type: only read_write endpoints are supported by the emulator "
                "(a read_only compute would need a second server on the same data directory)"
            )
        if self.endpoints_of(project.id, branch_id):
            raise conflict(f"branch {branch_id} already has a read_write endpoint")
        defaults = project.default_endpoint_settings
        now = self.clock.stamp()
        endpoint = Endpoint(
            id=self.new_id("ep"),
            project_id=project.id,
            branch_id=branch_id,
            type=spec.type,
            port=self.new_port(),
            created_at=now,
            updated_at=now,
            settings=spec.settings or {"pg_settings": {}},
            autoscaling_limit_min_cu=_first(
                spec.autoscaling_limit_min_cu, defaults.get("autoscaling_limit_min_cu"), 0.25
            ),
            autoscaling_limit_max_cu=_first(
                spec.autoscaling_limit_max_cu, defaults.get("autoscaling_limit_max_cu"), 0.25
            ),
            suspend_timeout_seconds=int(
                _first(spec.suspend_timeout_seconds, defaults.get("suspend_timeout_seconds"), 0)
            ),
            name=spec.name,
            disabled=spec.disabled,
            current_state="idle" if spec.disabled else "init",
            pending_state=None if spec.disabled else "active",
        )
        self.state.endpoints[endpoint.id] = endpoint
        return endpoint

    def copy_catalog(
        self, branch_id: str, roles: Iterable[dict[str, Any]], dbs: Iterable[dict[str, Any]]
    ) -> None:
        now = self.clock.stamp()
        for r in roles:
            self.state.roles.append(Role(**{**r, "branch_id": branch_id}))
        for d in dbs:
            self.state.databases.append(
                Database(**{**d, "branch_id": branch_id, "id": self.next_database_id(), "updated_at": now})
            )

    def catalog_of(self, branch_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        roles = [dict(vars(r)) for r in self.roles_of(branch_id)]
        dbs = [dict(vars(d)) for d in self.databases_of(branch_id)]
        return roles, dbs

    def next_database_id(self) -> int:
        self.state.next_database_id += 1
        return self.state.next_database_id

    def drop_branch_records(self, branch_id: str) -> list[Endpoint]:
        branch = self.state.branches.pop(branch_id)
        endpoints = self.endpoints_of(branch.project_id, branch_id)
        for e in endpoints:
            del self.state.endpoints[e.id]
        self.state.roles = [r for r in self.state.roles if r.branch_id != branch_id]
        self.state.databases = [d for d in self.state.databases if d.branch_id != branch_id]
        return endpoints

    def check_timestamp_is_now(self, field: str, value: str | None) -> None:
        """Point-in-time requests: only "now" can be served (the emulator keeps no WAL history)."""
        if value is None:
            return
        try:
            moment = parse_ts(value)
        except ValueError:
            raise bad_request(f"{field}: invalid RFC 3339 timestamp") from None
        now = self.clock.now()
        if moment > now + timedelta(seconds=5):
            raise bad_request(f"{field}: must be in the past")
        if moment < now - timedelta(seconds=60):
            raise bad_request(
                f"{field}: point-in-time history is not kept by the emulator (only the last minute)"
            )

    def check_future(self, field: str, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            moment = parse_ts(value)
        except ValueError:
            raise bad_request(f"{field}: invalid RFC 3339 timestamp") from None
        if moment <= self.clock.now():
            raise bad_request(f"{field}: must be in the future")
        return format_ts(moment)

    def touch(self, record: Branch | Endpoint | Project) -> None:
        record.updated_at = self.clock.stamp()

    # ---- projects ------------------------------------------------------------------------------------------
    def create_project(
        self,
        *,
        name: str | None,
        region_id: str,
        pg_version: int,
        store_passwords: bool,
        history_retention_seconds: int,
        settings: dict[str, Any],
        default_endpoint_settings: dict[str, Any],
        org_id: str | None,
        branch_name: str,
        database_name: str,
        role_name: str,
    ) -> Created:
        while (project_id := self.ids.project()) in self.state.projects:
            pass
        now = self.clock.stamp()
        project = Project(
            id=project_id,
            name=name or project_id,
            region_id=region_id,
            pg_version=pg_version,
            store_passwords=store_passwords,
            history_retention_seconds=history_retention_seconds,
            created_at=now,
            updated_at=now,
            settings=settings,
            default_endpoint_settings=default_endpoint_settings,
            org_id=org_id,
        )
        self.state.projects[project.id] = project
        branch = self.new_branch(project.id, branch_name, default=True, project_root=True)
        endpoint = self.new_endpoint(project, branch.id, EndpointSpec())
        role = Role(branch.id, role_name, new_password(), now, now)
        database = Database(self.next_database_id(), branch.id, database_name, role_name, now, now)
        self.state.roles.append(role)
        self.state.databases.append(database)
        group = self.new_group()
        ops = [
            self.add_op(
                project.id,
                "create_timeline",
                {"kind": "init", "storage": branch.id, "entity": "branch", "id": branch.id},
                group,
                branch_id=branch.id,
            ),
            self.start_compute(endpoint, group),
        ]
        return Created(project, branch, [endpoint], [role], [database], ops)

    def list_projects(
        self, *, search: str | None, cursor: str | None, limit: int
    ) -> tuple[list[Project], str | None]:
        projects = sorted(self.state.projects.values(), key=lambda p: p.created_at, reverse=True)
        if search:
            needle = search.lower()
            projects = [p for p in projects if needle in p.name.lower() or needle in p.id]
        if cursor:
            projects = [p for p in projects if p.created_at < cursor]
        page = projects[:limit]
        return page, (page[-1].created_at if page else cursor)

    def update_project(
        self,
        project_id: str,
        *,
        name: str | None,
        settings: dict[str, Any] | None,
        default_endpoint_settings: dict[str, Any] | None,
        history_retention_seconds: int | None,
    ) -> Project:
        project = self.check_unlocked(project_id)
        if name is not None:
            project.name = name
        if settings is not None:
            project.settings = {**project.settings, **settings}
        if default_endpoint_settings is not None:
            project.default_endpoint_settings = {
                **project.default_endpoint_settings,
                **default_endpoint_settings,
            }
        if history_retention_seconds is not None:
            project.history_retention_seconds = history_retention_seconds
        self.touch(project)
        return project

    def delete_project(self, project_id: str) -> tuple[Project, list[str], list[str]]:
        """Remove the project's records; returns it, the endpoints to stop and the storage names to remove."""
        project = self.check_unlocked(project_id)
        endpoints = [e.id for e in self.endpoints_of(project_id)]
        storage = [b.id for b in self.branches_of(project_id)]
        storage += [s.id for s in self.state.snapshots.values() if s.project_id == project_id]
        for branch_id in [b.id for b in self.branches_of(project_id)]:
            self.drop_branch_records(branch_id)
        for snap_id in [s.id for s in self.state.snapshots.values() if s.project_id == project_id]:
            del self.state.snapshots[snap_id]
        for op_id in [o.id for o in self.state.operations.values() if o.project_id == project_id]:
            del self.state.operations[op_id]
        del self.state.projects[project_id]
        self.state.pending_removals.extend(storage)
        return project, endpoints, storage

    # ---- operations lifecycle (called by the executor) ------------------------------------------------
    def list_operations(
        self, project_id: str, *, cursor: str | None, limit: int
    ) -> tuple[list[Operation], str | None]:
        self.project(project_id)
        ops = sorted(
            (o for o in self.state.operations.values() if o.project_id == project_id),
            key=lambda o: o.created_at,
            reverse=True,
        )
        if cursor:
            ops = [o for o in ops if o.created_at < cursor]
        page = ops[:limit]
        return page, (page[-1].created_at if page else cursor)

    def next_operation(self, project_id: str) -> Operation | None:
        pending = [
            o
            for o in self.state.operations.values()
            if o.project_id == project_id and o.status in ("scheduling", "running")
        ]
        return min(pending, key=lambda o: o.created_at) if pending else None

    def projects_with_pending_operations(self) -> set[str]:
        return {o.project_id for o in self.state.operations.values() if o.status in IN_PROGRESS}

    def mark_running(self, op: Operation) -> None:
        op.status = "running"
        op.updated_at = self.clock.stamp()

    def mark_finished(self, op: Operation) -> None:
        self._close(op, "finished")
        work = op.work
        kind = work.get("kind")
        now = op.updated_at
        if kind in ("init", "clone") and work.get("entity") == "branch":
            branch = self.state.branches.get(work["id"])
            if branch is not None:
                branch.current_state, branch.pending_state, branch.state_changed_at = "ready", None, now
                if work.get("finalize"):
                    branch.restore_status = "finalized"
        elif kind == "clone" and work.get("entity") == "snapshot":
            snapshot = self.state.snapshots.get(work["id"])
            if snapshot is not None:
                snapshot.ready = True
        elif kind in ("start", "stop"):
            endpoint = self.state.endpoints.get(work["endpoint_id"])
            if endpoint is not None:
                if kind == "start":
                    endpoint.current_state, endpoint.started_at = "active", now
                else:
                    endpoint.current_state, endpoint.suspended_at = "idle", now
                endpoint.updated_at = now
                self._refresh_pending(endpoint)

    def mark_failed(self, op: Operation, message: str) -> None:
        self._close(op, "error", message)
        op.failures_count += 1
        for other in self.state.operations.values():
            if other.group == op.group and other.status == "scheduling":
                self._close(other, "cancelled", f"cancelled: operation {op.id} ({op.action}) failed")
        work = op.work
        if work.get("kind") in ("init", "clone"):
            self._undo_creation(work)
        for endpoint in self.state.endpoints.values():
            self._refresh_pending(endpoint)

    def _close(self, op: Operation, status: str, error: str | None = None) -> None:
        now = self.clock.now()
        op.status, op.error, op.updated_at = status, error, format_ts(now)
        op.total_duration_ms = max(0, int((now - parse_ts(op.created_at)).total_seconds() * 1000))

    def _refresh_pending(self, endpoint: Endpoint) -> None:
        queued = [
            o
            for o in self.state.operations.values()
            if o.endpoint_id == endpoint.id
            and o.status in IN_PROGRESS
            and o.work.get("kind") in ("start", "stop")
        ]
        if queued:
            nxt = min(queued, key=lambda o: o.created_at)
            endpoint.pending_state = "active" if nxt.work["kind"] == "start" else "idle"
        else:
            endpoint.pending_state = None

    def _undo_creation(self, work: dict[str, Any]) -> None:
        """A branch or snapshot whose data could not be made is taken back out of the model."""
        if work.get("entity") == "snapshot":
            self.state.snapshots.pop(work["id"], None)
            return
        revert = work.get("revert")
        if revert is not None:  # a finalized restore: give the target back its name, flags and endpoints
            target = self.state.branches.get(revert["target"])
            if target is not None:
                target.name, target.protected = revert["name"], revert["protected"]
                target.default, target.project_root = revert["default"], revert["project_root"]
                for endpoint_id in revert["endpoints"]:
                    if endpoint_id in self.state.endpoints:
                        self.state.endpoints[endpoint_id].branch_id = target.id
        if work.get("id") in self.state.branches:
            self.drop_branch_records(work["id"])


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None)
