"""The Neon API v2 routes: parse the request, call the model, serialize. No decisions here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from aiohttp import web

from .engine.executor import Executor
from .fields import (
    nullable_str,
    obj,
    opt_bool,
    opt_int,
    opt_number,
    opt_str,
    parse_json,
    query_bool,
    query_choice,
    query_int,
    req_str,
)
from .model import branches, catalog, endpoints, operations, projects, snapshots
from .model.core import Model
from .model.endpoints import EndpointSpec
from .model.entities import Branch, Endpoint, Operation
from .model.errors import bad_request
from .model.projects import Created
from .views import (
    branch_view,
    connection_uri,
    connection_uri_view,
    database_view,
    endpoint_view,
    operation_view,
    project_view,
    role_view,
    snapshot_view,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PREFIX = "/api/v2"


def _ok(data: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


def _ops(ops: list[Operation]) -> list[dict[str, Any]]:
    return [operation_view(o) for o in ops]


def _endpoint_spec(raw: Any, where: str) -> EndpointSpec:
    if not isinstance(raw, dict):
        raise_bad(f"{where}: must be an object")
    kind = opt_str(raw, "type", f"{where}.type")
    if kind not in ("read_write", "read_only"):
        raise_bad(f"{where}.type: required, one of read_write, read_only")
    settings = raw.get("settings")
    if settings is not None and not isinstance(settings, dict):
        raise_bad(f"{where}.settings: must be an object")
    return EndpointSpec(
        type=str(kind),
        settings=settings,
        autoscaling_limit_min_cu=opt_number(
            raw, "autoscaling_limit_min_cu", f"{where}.autoscaling_limit_min_cu", 0.25, 64
        ),
        autoscaling_limit_max_cu=opt_number(
            raw, "autoscaling_limit_max_cu", f"{where}.autoscaling_limit_max_cu", 0.25, 64
        ),
        suspend_timeout_seconds=opt_int(
            raw, "suspend_timeout_seconds", f"{where}.suspend_timeout_seconds", -1, 604800
        ),
        name=opt_str(raw, "name", f"{where}.name"),
        disabled=bool(opt_bool(raw, "disabled", f"{where}.disabled")),
    )


def raise_bad(message: str) -> NoReturn:
    raise bad_request(message)


class Api:
    def __init__(self, model: Model, executor: Executor, persist: Callable[[str | None], None]) -> None:
        self.model = model
        self.executor = executor
        self.persist = persist
        self._background: set[asyncio.Future[None]] = set()

    def routes(self) -> list[tuple[str, str, Handler]]:
        p = PREFIX + "/projects/{project_id}"
        b = p + "/branches/{branch_id}"
        e = p + "/endpoints/{endpoint_id}"
        return [
            ("POST", PREFIX + "/projects", self.create_project),
            ("GET", PREFIX + "/projects", self.list_projects),
            ("GET", p, self.get_project),
            ("PATCH", p, self.update_project),
            ("DELETE", p, self.delete_project),
            ("GET", p + "/connection_uri", self.connection_uri),
            ("POST", p + "/branches", self.create_branch),
            ("GET", p + "/branches", self.list_branches),
            ("GET", p + "/branches/count", self.count_branches),
            ("GET", b, self.get_branch),
            ("PATCH", b, self.update_branch),
            ("DELETE", b, self.delete_branch),
            ("POST", b + "/set_as_default", self.set_as_default),
            ("GET", b + "/endpoints", self.branch_endpoints),
            ("POST", b + "/snapshot", self.create_snapshot),
            ("POST", b + "/finalize_restore", self.finalize_restore),
            ("GET", b + "/databases", self.list_databases),
            ("POST", b + "/databases", self.create_database),
            ("GET", b + "/databases/{name}", self.get_database),
            ("PATCH", b + "/databases/{name}", self.update_database),
            ("DELETE", b + "/databases/{name}", self.delete_database),
            ("GET", b + "/roles", self.list_roles),
            ("POST", b + "/roles", self.create_role),
            ("GET", b + "/roles/{name}", self.get_role),
            ("DELETE", b + "/roles/{name}", self.delete_role),
            ("GET", b + "/roles/{name}/reveal_password", self.reveal_password),
            ("POST", b + "/roles/{name}/reset_password", self.reset_password),
            ("POST", p + "/endpoints", self.create_endpoint),
            ("GET", p + "/endpoints", self.list_endpoints),
            ("GET", e, self.get_endpoint),
            ("PATCH", e, self.update_endpoint),
            ("DELETE", e, self.delete_endpoint),
            ("POST", e + "/start", self.start_endpoint),
            ("POST", e + "/suspend", self.suspend_endpoint),
            ("POST", e + "/restart", self.restart_endpoint),
            ("GET", p + "/snapshots", self.list_snapshots),
            ("PATCH", p + "/snapshots/{snapshot_id}", self.update_snapshot),
            ("DELETE", p + "/snapshots/{snapshot_id}", self.delete_snapshot),
            ("POST", p + "/snapshots/{snapshot_id}/restore", self.restore_snapshot),
            ("GET", p + "/operations", self.list_operations),
            ("GET", p + "/operations/{operation_id}", self.get_operation),
        ]

    def _changed(self, project_id: str) -> None:
        self.persist(project_id)
        self.executor.kick(project_id)

    def _endpoint(self, endpoint: Endpoint) -> dict[str, Any]:
        return endpoint_view(endpoint, self.model.project(endpoint.project_id).region_id)

    def _created(self, created: Created) -> dict[str, Any]:
        out: dict[str, Any] = {
            "endpoints": [self._endpoint(e) for e in created.endpoints],
            "operations": _ops(created.operations),
            "roles": [role_view(r, with_password=True) for r in created.roles],
            "databases": [database_view(d) for d in created.databases],
        }
        if created.branch is not None:
            out["branch"] = branch_view(created.branch)
        if created.endpoints:
            endpoint = created.endpoints[0]
            out["connection_uris"] = [
                connection_uri_view(endpoint, role, db.name)
                for db in created.databases
                for role in created.roles
                if role.name == db.owner_name
            ]
        return out

    # ---- projects ------------------------------------------------------------------------------------------
    async def create_project(self, request: web.Request) -> web.Response:
        body = parse_json(await request.text())
        raw = obj(body, "project", "project")
        branch = obj(raw, "branch", "project.branch")
        database_name = (
            opt_str(branch, "database_name", "project.branch.database_name", max_len=63) or "neondb"
        )
        created = projects.create_project(
            self.model,
            name=opt_str(raw, "name", "project.name"),
            region_id=opt_str(raw, "region_id", "project.region_id") or "aws-us-east-2",
            pg_version=opt_int(raw, "pg_version", "project.pg_version", 14, 18) or 15,  # what runs here
            store_passwords=opt_bool(raw, "store_passwords", "project.store_passwords") is not False,
            history_retention_seconds=_default(
                opt_int(raw, "history_retention_seconds", "project.history_retention_seconds", 0, 2592000),
                86400,
            ),
            settings=obj(raw, "settings", "project.settings"),
            default_endpoint_settings=obj(
                raw, "default_endpoint_settings", "project.default_endpoint_settings"
            ),
            org_id=opt_str(raw, "org_id", "project.org_id"),
            branch_name=opt_str(branch, "name", "project.branch.name") or "main",
            database_name=database_name,
            role_name=opt_str(branch, "role_name", "project.branch.role_name", max_len=63)
            or f"{database_name}_owner",
        )
        self._changed(created.project.id)
        return _ok({"project": project_view(created.project), **self._created(created)}, 201)

    async def list_projects(self, request: web.Request) -> web.Response:
        q = request.query
        found, cursor = projects.list_projects(
            self.model,
            search=q.get("search") or None,
            cursor=q.get("cursor") or None,
            limit=query_int(q, "limit", 1, 400, 10) or 10,
        )
        out: dict[str, Any] = {
            "projects": [project_view(p) for p in found],
            "applications": {},
            "integrations": {},
        }
        out["pagination"] = {"cursor": cursor} if cursor else {}
        return _ok(out)

    async def get_project(self, request: web.Request) -> web.Response:
        return _ok({"project": project_view(self.model.project(request.match_info["project_id"]))})

    async def update_project(self, request: web.Request) -> web.Response:
        pid = request.match_info["project_id"]
        raw = obj(parse_json(await request.text(), required=True), "project", "project", required=True)
        project = projects.update_project(
            self.model,
            pid,
            name=opt_str(raw, "name", "project.name"),
            settings=obj(raw, "settings", "project.settings") or None,
            default_endpoint_settings=obj(
                raw, "default_endpoint_settings", "project.default_endpoint_settings"
            )
            or None,
            history_retention_seconds=opt_int(
                raw, "history_retention_seconds", "project.history_retention_seconds", 0, 2592000
            ),
        )
        self._changed(pid)
        return _ok({"project": project_view(project), "operations": []})

    async def delete_project(self, request: web.Request) -> web.Response:
        project, endpoint_ids, storage = projects.delete_project(self.model, request.match_info["project_id"])
        self.persist(None)  # the list of projects changed
        task = asyncio.ensure_future(self.executor.discard(endpoint_ids, storage))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return _ok({"project": project_view(project)})

    async def connection_uri(self, request: web.Request) -> web.Response:
        q = request.query
        for name in ("database_name", "role_name"):
            if not q.get(name):
                raise_bad(f"{name}: required")
        endpoint, role, db = catalog.connection_target(
            self.model,
            request.match_info["project_id"],
            branch_id=q.get("branch_id") or None,
            endpoint_id=q.get("endpoint_id") or None,
            database_name=q["database_name"],
            role_name=q["role_name"],
        )
        query_bool(q, "pooled")  # validated; there is no pooler, the pooled URI is the direct one
        return _ok({"uri": connection_uri(endpoint, role, db)})

    # ---- branches ------------------------------------------------------------------------------------------
    async def create_branch(self, request: web.Request) -> web.Response:
        pid = request.match_info["project_id"]
        body = parse_json(await request.text())
        raw = obj(body, "branch", "branch")
        eps = body.get("endpoints") or []
        if not isinstance(eps, list):
            raise_bad("endpoints: must be a list")
        created = branches.create_branch(
            self.model,
            pid,
            name=opt_str(raw, "name", "branch.name"),
            parent_id=opt_str(raw, "parent_id", "branch.parent_id"),
            parent_timestamp=opt_str(raw, "parent_timestamp", "branch.parent_timestamp"),
            parent_lsn=opt_str(raw, "parent_lsn", "branch.parent_lsn"),
            protected=bool(opt_bool(raw, "protected", "branch.protected")),
            init_source=opt_str(raw, "init_source", "branch.init_source") or "parent-data",
            expires_at=opt_str(raw, "expires_at", "branch.expires_at"),
            endpoints=[_endpoint_spec(item, f"endpoints[{i}]") for i, item in enumerate(eps)],
        )
        self._changed(pid)
        return _ok(self._created(created), 201)

    async def list_branches(self, request: web.Request) -> web.Response:
        q = request.query
        page = branches.list_branches(
            self.model,
            request.match_info["project_id"],
            search=q.get("search") or None,
            sort_by=query_choice(q, "sort_by", branches.SORT_FIELDS, "updated_at"),
            sort_order=query_choice(q, "sort_order", ("asc", "desc"), "desc"),
            cursor=q.get("cursor") or None,
            limit=query_int(q, "limit", 1, 10000, None),
        )
        pagination: dict[str, Any] = {"sort_by": page.sort_by, "sort_order": page.sort_order}
        if page.next_cursor:
            pagination["next"] = page.next_cursor
        return _ok(
            {"branches": [branch_view(x) for x in page.branches], "annotations": {}, "pagination": pagination}
        )

    async def count_branches(self, request: web.Request) -> web.Response:
        pid = request.match_info["project_id"]
        return _ok({"count": branches.count_branches(self.model, pid, request.query.get("search") or None)})

    def _branch(self, request: web.Request) -> Branch:
        return self.model.branch(request.match_info["project_id"], request.match_info["branch_id"])

    async def get_branch(self, request: web.Request) -> web.Response:
        return _ok({"branch": branch_view(self._branch(request)), "annotation": {}})

    async def update_branch(self, request: web.Request) -> web.Response:
        pid, bid = request.match_info["project_id"], request.match_info["branch_id"]
        raw = obj(parse_json(await request.text(), required=True), "branch", "branch", required=True)
        branch = branches.update_branch(
            self.model,
            pid,
            bid,
            name=opt_str(raw, "name", "branch.name"),
            protected=opt_bool(raw, "protected", "branch.protected"),
            expires_at=nullable_str(raw, "expires_at", "branch.expires_at"),
        )
        self._changed(pid)
        return _ok({"branch": branch_view(branch), "operations": []})

    async def delete_branch(self, request: web.Request) -> web.Response:
        pid, bid = request.match_info["project_id"], request.match_info["branch_id"]
        result = branches.delete_branch(self.model, pid, bid)
        if result is None:
            return web.Response(status=204)
        self._changed(pid)
        return _ok({"branch": branch_view(result[0]), "operations": _ops(result[1])})

    async def set_as_default(self, request: web.Request) -> web.Response:
        pid, bid = request.match_info["project_id"], request.match_info["branch_id"]
        branch = branches.set_as_default(self.model, pid, bid)
        self._changed(pid)
        return _ok({"branch": branch_view(branch), "operations": []})

    async def branch_endpoints(self, request: web.Request) -> web.Response:
        branch = self._branch(request)
        return _ok(
            {"endpoints": [self._endpoint(e) for e in self.model.endpoints_of(branch.project_id, branch.id)]}
        )

    # ---- snapshots -----------------------------------------------------------------------------------------
    async def create_snapshot(self, request: web.Request) -> web.Response:
        pid, bid = request.match_info["project_id"], request.match_info["branch_id"]
        q = request.query  # a JSON body is ignored, as on Neon
        snap, ops = snapshots.create_snapshot(
            self.model,
            pid,
            bid,
            name=q.get("name") or None,
            timestamp=q.get("timestamp") or None,
            lsn=q.get("lsn") or None,
            expires_at=q.get("expires_at") or None,
        )
        self._changed(pid)
        return _ok({"snapshot": snapshot_view(snap), "operations": _ops(ops)})

    async def list_snapshots(self, request: web.Request) -> web.Response:
        found = snapshots.snapshots_of(self.model, request.match_info["project_id"])
        return _ok({"snapshots": [snapshot_view(s) for s in found]})

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
        self._changed(pid)
        return _ok({"snapshot": snapshot_view(snap)})

    async def delete_snapshot(self, request: web.Request) -> web.Response:
        pid, sid = request.match_info["project_id"], request.match_info["snapshot_id"]
        ops = snapshots.delete_snapshot(self.model, pid, sid)
        self._changed(pid)
        return _ok({"operations": _ops(ops)}, 202)

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
        self._changed(pid)
        return _ok(
            {
                "branch": branch_view(restored.branch),
                "endpoints": [self._endpoint(e) for e in restored.endpoints],
                "operations": _ops(restored.operations),
            }
        )

    async def finalize_restore(self, request: web.Request) -> web.Response:
        pid, bid = request.match_info["project_id"], request.match_info["branch_id"]
        body = parse_json(await request.text())
        ops = snapshots.finalize_restore(self.model, pid, bid, name=opt_str(body, "name", "name"))
        self._changed(pid)
        return _ok({"operations": _ops(ops)})

    # ---- databases and roles -------------------------------------------------------------------------------
    async def list_databases(self, request: web.Request) -> web.Response:
        branch = self._branch(request)
        return _ok({"databases": [database_view(d) for d in self.model.databases_of(branch.id)]})

    async def create_database(self, request: web.Request) -> web.Response:
        pid, bid = request.match_info["project_id"], request.match_info["branch_id"]
        raw = obj(parse_json(await request.text(), required=True), "database", "database", required=True)
        db, ops = catalog.create_database(
            self.model,
            pid,
            bid,
            req_str(raw, "name", "database.name", max_len=63),
            req_str(raw, "owner_name", "database.owner_name", max_len=63),
        )
        self._changed(pid)
        return _ok({"database": database_view(db), "operations": _ops(ops)}, 201)

    async def get_database(self, request: web.Request) -> web.Response:
        m = request.match_info
        return _ok(
            {
                "database": database_view(
                    catalog.database(self.model, m["project_id"], m["branch_id"], m["name"])
                )
            }
        )

    async def update_database(self, request: web.Request) -> web.Response:
        m = request.match_info
        raw = obj(parse_json(await request.text(), required=True), "database", "database", required=True)
        db, ops = catalog.update_database(
            self.model,
            m["project_id"],
            m["branch_id"],
            m["name"],
            new_name=opt_str(raw, "name", "database.name", max_len=63),
            owner_name=opt_str(raw, "owner_name", "database.owner_name", max_len=63),
        )
        self._changed(m["project_id"])
        return _ok({"database": database_view(db), "operations": _ops(ops)})

    async def delete_database(self, request: web.Request) -> web.Response:
        m = request.match_info
        result = catalog.delete_database(self.model, m["project_id"], m["branch_id"], m["name"])
        if result is None:
            return web.Response(status=204)
        self._changed(m["project_id"])
        return _ok({"database": database_view(result[0]), "operations": _ops(result[1])})

    async def list_roles(self, request: web.Request) -> web.Response:
        branch = self._branch(request)
        return _ok({"roles": [role_view(r) for r in self.model.roles_of(branch.id)]})

    async def create_role(self, request: web.Request) -> web.Response:
        pid, bid = request.match_info["project_id"], request.match_info["branch_id"]
        raw = obj(parse_json(await request.text(), required=True), "role", "role", required=True)
        role, ops = catalog.create_role(
            self.model,
            pid,
            bid,
            req_str(raw, "name", "role.name", max_len=63),
            no_login=bool(opt_bool(raw, "no_login", "role.no_login")),
        )
        self._changed(pid)
        return _ok({"role": role_view(role, with_password=True), "operations": _ops(ops)}, 201)

    async def get_role(self, request: web.Request) -> web.Response:
        m = request.match_info
        return _ok({"role": role_view(catalog.role(self.model, m["project_id"], m["branch_id"], m["name"]))})

    async def delete_role(self, request: web.Request) -> web.Response:
        m = request.match_info
        result = catalog.delete_role(self.model, m["project_id"], m["branch_id"], m["name"])
        if result is None:
            return web.Response(status=204)
        self._changed(m["project_id"])
        return _ok({"role": role_view(result[0]), "operations": _ops(result[1])})

    async def reveal_password(self, request: web.Request) -> web.Response:
        m = request.match_info
        return _ok(
            {"password": catalog.reveal_password(self.model, m["project_id"], m["branch_id"], m["name"])}
        )

    async def reset_password(self, request: web.Request) -> web.Response:
        m = request.match_info
        role, ops = catalog.reset_password(self.model, m["project_id"], m["branch_id"], m["name"])
        self._changed(m["project_id"])
        return _ok({"role": role_view(role, with_password=True), "operations": _ops(ops)})

    # ---- endpoints -----------------------------------------------------------------------------------------
    async def create_endpoint(self, request: web.Request) -> web.Response:
        pid = request.match_info["project_id"]
        raw = obj(parse_json(await request.text(), required=True), "endpoint", "endpoint", required=True)
        branch_id = req_str(raw, "branch_id", "endpoint.branch_id")
        endpoint, ops = endpoints.create_endpoint(self.model, pid, branch_id, _endpoint_spec(raw, "endpoint"))
        self._changed(pid)
        return _ok({"endpoint": self._endpoint(endpoint), "operations": _ops(ops)}, 201)

    async def list_endpoints(self, request: web.Request) -> web.Response:
        pid = request.match_info["project_id"]
        self.model.project(pid)
        return _ok({"endpoints": [self._endpoint(e) for e in self.model.endpoints_of(pid)]})

    async def get_endpoint(self, request: web.Request) -> web.Response:
        m = request.match_info
        return _ok({"endpoint": self._endpoint(self.model.endpoint(m["project_id"], m["endpoint_id"]))})

    async def update_endpoint(self, request: web.Request) -> web.Response:
        m = request.match_info
        raw = obj(parse_json(await request.text(), required=True), "endpoint", "endpoint", required=True)
        settings = raw.get("settings")
        if settings is not None and not isinstance(settings, dict):
            raise_bad("endpoint.settings: must be an object")
        endpoint, ops = endpoints.update_endpoint(
            self.model,
            m["project_id"],
            m["endpoint_id"],
            branch_id=opt_str(raw, "branch_id", "endpoint.branch_id"),
            settings=settings,
            min_cu=opt_number(raw, "autoscaling_limit_min_cu", "endpoint.autoscaling_limit_min_cu", 0.25, 64),
            max_cu=opt_number(raw, "autoscaling_limit_max_cu", "endpoint.autoscaling_limit_max_cu", 0.25, 64),
            suspend_timeout_seconds=opt_int(
                raw, "suspend_timeout_seconds", "endpoint.suspend_timeout_seconds", -1, 604800
            ),
            name=opt_str(raw, "name", "endpoint.name"),
            disabled=opt_bool(raw, "disabled", "endpoint.disabled"),
        )
        self._changed(m["project_id"])
        return _ok({"endpoint": self._endpoint(endpoint), "operations": _ops(ops)})

    async def delete_endpoint(self, request: web.Request) -> web.Response:
        m = request.match_info
        result = endpoints.delete_endpoint(self.model, m["project_id"], m["endpoint_id"])
        if result is None:
            return web.Response(status=204)
        self._changed(m["project_id"])
        endpoint, ops = result
        return _ok(
            {
                "endpoint": endpoint_view(endpoint, self.model.project(m["project_id"]).region_id),
                "operations": _ops(ops),
            }
        )

    async def start_endpoint(self, request: web.Request) -> web.Response:
        return self._endpoint_action(request, endpoints.start_endpoint)

    async def suspend_endpoint(self, request: web.Request) -> web.Response:
        return self._endpoint_action(request, endpoints.suspend_endpoint)

    async def restart_endpoint(self, request: web.Request) -> web.Response:
        return self._endpoint_action(request, endpoints.restart_endpoint)

    def _endpoint_action(
        self, request: web.Request, action: Callable[[Model, str, str], tuple[Endpoint, list[Operation]]]
    ) -> web.Response:
        m = request.match_info
        endpoint, ops = action(self.model, m["project_id"], m["endpoint_id"])
        self._changed(m["project_id"])
        return _ok({"endpoint": self._endpoint(endpoint), "operations": _ops(ops)})

    # ---- operations ----------------------------------------------------------------------------------------
    async def list_operations(self, request: web.Request) -> web.Response:
        q = request.query
        ops, cursor = operations.list_operations(
            self.model,
            request.match_info["project_id"],
            cursor=q.get("cursor") or None,
            limit=query_int(q, "limit", 1, 1000, 1000) or 1000,
        )
        return _ok({"operations": _ops(ops), "pagination": {"cursor": cursor} if cursor else {}})

    async def get_operation(self, request: web.Request) -> web.Response:
        m = request.match_info
        return _ok({"operation": operation_view(self.model.operation(m["project_id"], m["operation_id"]))})


def _default(value: int | None, default: int) -> int:
    return default if value is None else value
