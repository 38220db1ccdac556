"""A branch's databases: list, create, get, patch (rename, owner), delete."""

from __future__ import annotations

from aiohttp import web

from neon_emulator.model import catalog

from ..bodies import obj, opt_str, parse_json, req_str
from ..views import database_view, operations_view
from .paths import BRANCH
from .resource import Resource, Route, ok

DATABASE = BRANCH + "/databases/{name}"


class Databases(Resource):
    def routes(self) -> list[Route]:
        return [
            ("GET", BRANCH + "/databases", self.list_databases),
            ("POST", BRANCH + "/databases", self.create_database),
            ("GET", DATABASE, self.get_database),
            ("PATCH", DATABASE, self.update_database),
            ("DELETE", DATABASE, self.delete_database),
        ]

    async def list_databases(self, request: web.Request) -> web.Response:
        branch = self.branch(request)
        return ok({"databases": [database_view(d) for d in self.model.databases_of(branch.id)]})

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
        self.changed(pid)
        return ok({"database": database_view(db), "operations": operations_view(ops)}, 201)

    async def get_database(self, request: web.Request) -> web.Response:
        m = request.match_info
        db = catalog.database(self.model, m["project_id"], m["branch_id"], m["name"])
        return ok({"database": database_view(db)})

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
        self.changed(m["project_id"])
        return ok({"database": database_view(db), "operations": operations_view(ops)})

    async def delete_database(self, request: web.Request) -> web.Response:
        m = request.match_info
        result = catalog.delete_database(self.model, m["project_id"], m["branch_id"], m["name"])
        if result is None:
            return web.Response(status=204)
        self.changed(m["project_id"])
        return ok({"database": database_view(result[0]), "operations": operations_view(result[1])})
