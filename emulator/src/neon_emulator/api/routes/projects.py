"""Projects: create, list (or the recoverable ones), get, patch, delete (recoverable), recover, and the
connection URI of a database."""

from __future__ import annotations

from aiohttp import web

from neon_emulator.model import catalog, projects
from neon_emulator.model.errors import bad_request

from ..bodies import obj, opt_bool, opt_int, opt_str, parse_json, query_bool, query_int
from ..views import branch_view, connection_uri, created_view, project_list_view, project_view
from .paths import PROJECT, PROJECTS
from .resource import Resource, Route, ok


class Projects(Resource):
    def routes(self) -> list[Route]:
        return [
            ("POST", PROJECTS, self.create_project),
            ("GET", PROJECTS, self.list_projects),
            ("GET", PROJECTS + "/shared", self.list_shared_projects),  # before {project_id}
            ("GET", PROJECT, self.get_project),
            ("PATCH", PROJECT, self.update_project),
            ("DELETE", PROJECT, self.delete_project),
            ("POST", PROJECT + "/recover", self.recover_project),
            ("GET", PROJECT + "/connection_uri", self.connection_uri),
        ]

    async def create_project(self, request: web.Request) -> web.Response:
        body = parse_json(await request.text())
        raw = obj(body, "project", "project")
        branch = obj(raw, "branch", "project.branch")
        database_name = opt_str(branch, "database_name", "project.branch.database_name", max_len=63)
        account = self.account(request)
        opt_str(raw, "org_id", "project.org_id")  # validated; like an organisation key, the key's org is used
        created = projects.create_project(
            self.model,
            name=opt_str(raw, "name", "project.name"),
            region_id=opt_str(raw, "region_id", "project.region_id"),
            pg_version=opt_int(raw, "pg_version", "project.pg_version", 14, 18),
            store_passwords=opt_bool(raw, "store_passwords", "project.store_passwords"),
            history_retention_seconds=opt_int(
                raw, "history_retention_seconds", "project.history_retention_seconds", 0, 2592000
            ),
            settings=obj(raw, "settings", "project.settings"),
            default_endpoint_settings=obj(
                raw, "default_endpoint_settings", "project.default_endpoint_settings"
            ),
            org_id=account.org_id,
            owner=account.id,
            branch_name=opt_str(branch, "name", "project.branch.name"),
            database_name=database_name,
            role_name=opt_str(branch, "role_name", "project.branch.role_name", max_len=63),
        )
        self.changed(created.project.id)
        return ok({"project": project_view(created.project), **created_view(created)}, 201)

    async def list_projects(self, request: web.Request) -> web.Response:
        q = request.query
        if query_bool(q, "recoverable"):  # only the deleted ones still inside their window
            deleted = projects.recoverable_projects(self.model, self.account(request).owns)
            return ok(project_list_view(deleted, None))
        found, cursor = projects.list_projects(
            self.model,
            search=q.get("search") or None,
            cursor=q.get("cursor") or None,
            limit=query_int(q, "limit", 1, 400, 10) or 10,
            owned_by=self.account(request).owns,
            org_id=q.get("org_id") or None,
        )
        return ok(project_list_view(found, cursor))

    async def list_shared_projects(self, request: web.Request) -> web.Response:
        """Projects other accounts shared with this one: sharing is not emulated, so none."""
        query_int(request.query, "limit", 1, 400, 10)
        return ok({"projects": []})

    async def get_project(self, request: web.Request) -> web.Response:
        return ok({"project": project_view(self.model.project(request.match_info["project_id"]))})

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
        self.changed(pid)
        return ok({"project": project_view(project), "operations": []})

    async def delete_project(self, request: web.Request) -> web.Response:
        project, endpoint_ids = projects.delete_project(self.model, request.match_info["project_id"])
        self.persist(None)  # the list of projects changed
        # Its servers stop before the answer (a recover right after must not race a late stop); data is kept.
        await self.executor.discard(endpoint_ids, [])
        return ok({"project": project_view(project)})

    async def recover_project(self, request: web.Request) -> web.Response:
        pid = request.match_info["project_id"]
        project, _starts = projects.recover_project(self.model, pid)
        self.changed(pid)
        found = [branch_view(b) for b in self.model.branches_of(pid)]
        return ok({"project": project_view(project), "branches": found})

    async def connection_uri(self, request: web.Request) -> web.Response:
        q = request.query
        for name in ("database_name", "role_name"):
            if not q.get(name):
                raise bad_request(f"{name}: required")
        endpoint, role, db = catalog.connection_target(
            self.model,
            request.match_info["project_id"],
            branch_id=q.get("branch_id") or None,
            endpoint_id=q.get("endpoint_id") or None,
            database_name=q["database_name"],
            role_name=q["role_name"],
        )
        query_bool(q, "pooled")  # validated; there is no pooler, the pooled URI is the direct one
        return ok({"uri": connection_uri(endpoint, role, db)})
