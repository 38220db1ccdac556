"""A branch's roles: list, create, get, delete, reveal and reset the password."""

from __future__ import annotations

from aiohttp import web

from neon_emulator.model import catalog

from ..bodies import obj, opt_bool, parse_json, req_str
from ..views import operations_view, role_view
from .paths import BRANCH
from .resource import Resource, Route, ok

ROLE = BRANCH + "/roles/{name}"


class Roles(Resource):
    def routes(self) -> list[Route]:
        return [
            ("GET", BRANCH + "/roles", self.list_roles),
            ("POST", BRANCH + "/roles", self.create_role),
            ("GET", ROLE, self.get_role),
            ("DELETE", ROLE, self.delete_role),
            ("GET", ROLE + "/reveal_password", self.reveal_password),
            ("POST", ROLE + "/reset_password", self.reset_password),
        ]

    async def list_roles(self, request: web.Request) -> web.Response:
        branch = self.branch(request)
        return ok({"roles": [role_view(r) for r in self.model.roles_of(branch.id)]})

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
        self.changed(pid)
        return ok({"role": role_view(role, with_password=True), "operations": operations_view(ops)}, 201)

    async def get_role(self, request: web.Request) -> web.Response:
        m = request.match_info
        return ok({"role": role_view(catalog.role(self.model, m["project_id"], m["branch_id"], m["name"]))})

    async def delete_role(self, request: web.Request) -> web.Response:
        m = request.match_info
        result = catalog.delete_role(self.model, m["project_id"], m["branch_id"], m["name"])
        if result is None:
            return web.Response(status=204)
        self.changed(m["project_id"])
        return ok({"role": role_view(result[0]), "operations": operations_view(result[1])})

    async def reveal_password(self, request: web.Request) -> web.Response:
        m = request.match_info
        password = catalog.reveal_password(self.model, m["project_id"], m["branch_id"], m["name"])
        return ok({"password": password})

    async def reset_password(self, request: web.Request) -> web.Response:
        m = request.match_info
        role, ops = catalog.reset_password(self.model, m["project_id"], m["branch_id"], m["name"])
        self.changed(m["project_id"])
        return ok({"role": role_view(role, with_password=True), "operations": operations_view(ops)})
