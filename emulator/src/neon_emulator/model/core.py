"""`Model`: the state with its ids, clock and ports, the lookups, the project lock, and the helpers every
resource's decisions build on (projects.py, branches.py, endpoints.py, snapshots.py, catalog.py).

Everything in the model runs on the event loop thread and does no I/O: mutating calls change the records at
once and queue operations whose `work` the engine performs in the background (operations.py closes them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from .clock import Clock, format_ts, parse_ts
from .entities import IN_PROGRESS, Branch, Database, Endpoint, Operation, Project, Role
from .errors import EmulatorError, bad_request, locked, not_found
from .ids import IdGenerator
from .state import State

UNSET: Any = object()  # "field absent" as opposed to an explicit JSON null


class Model:
    def __init__(self, state: State, ids: IdGenerator, clock: Clock, free_port: Callable[[], int]) -> None:
        self.state = state
        self.ids = ids
        self.clock = clock
        self._free_port = free_port
        self._group = 0
        # How long a deleted project stays recoverable (Neon: 7 days; `serve --project-recovery`).
        self.project_recovery = timedelta(days=7)

    # ---- lookups -----------------------------------------------------------------------------------------
    def project(self, project_id: str) -> Project:
        project = self.state.projects.get(project_id)
        if project is None or project.deleted_at is not None:  # a deleted one is only recoverable
            raise not_found("project", project_id)
        return project

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

    # ---- helpers shared by the resources' decisions ------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        taken = self.state.branches.keys() | self.state.endpoints.keys() | self.state.snapshots.keys()
        for deleted in self.state.deleted_branches.values():  # a recovered branch gets its ids back
            taken |= {deleted.branch.id, *(e.id for e in deleted.endpoints)}
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
        used |= {
            e.port for d in self.state.deleted_branches.values() for e in d.endpoints
        }  # kept for recovery
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
