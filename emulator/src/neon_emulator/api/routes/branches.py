"""Branches: create (with endpoints), list, count, get, patch, delete (soft unless hard_delete=true) and
recover, set as default, and their endpoints."""

from __future__ import annotations

from aiohttp import web

from neon_emulator.model import branches
from neon_emulator.model.errors import bad_request

from ..bodies import (
    endpoint_spec,
    nullable_str,
    obj,
    opt_bool,
    opt_str,
    parse_json,
    query_bool,
    query_choice,
    query_int,
)
from ..views import branch_list_view, branch_view, created_view, operations_view
from .paths import BRANCH, PROJECT
from .resource import Resource, Route, ok


class Branches(Resource):
    def routes(self) -> list[Route]:
        return [
            ("POST", PROJECT + "/branches", self.create_branch),
            ("GET", PROJECT + "/branches", self.list_branches),
            ("GET", PROJECT + "/branches/count", self.count_branches),  # before {branch_id}
            ("GET", BRANCH, self.get_branch),
            ("PATCH", BRANCH, self.update_branch),
            ("DELETE", BRANCH, self.delete_branch),
            ("POST", BRANCH + "/set_as_default", self.set_as_default),
            ("POST", BRANCH + "/recover", self.recover_branch),
            ("GET", BRANCH + "/endpoints", self.branch_endpoints),
        ]

    async def create_branch(self, request: web.Request) -> web.Response:
        pid = request.match_info["project_id"]
        body = parse_json(await request.text())
        raw = obj(body, "branch", "branch")
        eps = body.get("endpoints") or []
        if not isinstance(eps, list):
            raise bad_request("endpoints: must be a list")
        created = branches.create_branch(
            self.model,
            pid,
            name=opt_str(raw, "name", "branch.name"),
            parent_id=opt_str(raw, "parent_id", "branch.parent_id"),
            parent_timestamp=opt_str(raw, "parent_timestamp", "branch.parent_timestamp"),
            parent_lsn=opt_str(raw, "parent_lsn", "branch.parent_lsn"),
            protected=bool(opt_bool(raw, "protected", "branch.protected")),
            init_source=opt_str(raw, "init_source", "branch.init_source"),
            expires_at=opt_str(raw, "expires_at", "branch.expires_at"),
            endpoints=[endpoint_spec(item, f"endpoints[{i}]") for i, item in enumerate(eps)],
        )
        self.changed(pid)
        return ok(created_view(created), 201)

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
            include_deleted=bool(query_bool(q, "include_deleted")),
        )
        return ok(branch_list_view(page))

    async def count_branches(self, request: web.Request) -> web.Response:
        pid = request.match_info["project_id"]
        return ok({"count": branches.count_branches(self.model, pid, request.query.get("search") or None)})

    async def get_branch(self, request: web.Request) -> web.Response:
        branch = self.branch(request)
        # Neon answers an annotation even for a branch with none: its object and an empty value.
        annotation = {"object": {"type": "console/branch", "id": branch.id}, "value": {}}
        return ok({"branch": branch_view(branch), "annotation": annotation})

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
        self.changed(pid)
        return ok({"branch": branch_view(branch), "operations": []})

    async def delete_branch(self, request: web.Request) -> web.Response:
        pid, bid = request.match_info["project_id"], request.match_info["branch_id"]
        hard = bool(query_bool(request.query, "hard_delete"))
        result = branches.delete_branch(self.model, pid, bid, hard=hard)
        if result is None:
            return web.Response(status=204)
        self.changed(pid)
        return ok({"branch": branch_view(result[0]), "operations": operations_view(result[1])})

    async def recover_branch(self, request: web.Request) -> web.Response:
        pid, bid = request.match_info["project_id"], request.match_info["branch_id"]
        branch, endpoints = branches.recover_branch(self.model, pid, bid)
        self.changed(pid)
        return ok({"branch": branch_view(branch), "endpoints": [self.endpoint_json(e) for e in endpoints]})

    async def set_as_default(self, request: web.Request) -> web.Response:
        pid, bid = request.match_info["project_id"], request.match_info["branch_id"]
        branch = branches.set_as_default(self.model, pid, bid)
        self.changed(pid)
        return ok({"branch": branch_view(branch), "operations": []})

    async def branch_endpoints(self, request: web.Request) -> web.Response:
        branch = self.branch(request)
        found = self.model.endpoints_of(branch.project_id, branch.id)
        return ok({"endpoints": [self.endpoint_json(e) for e in found]})
