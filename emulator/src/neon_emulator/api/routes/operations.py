"""A project's operations: list (newest first, cursor pagination) and get."""

from __future__ import annotations

from aiohttp import web

from neon_emulator.model import operations

from ..bodies import query_int
from ..views import operation_list_view, operation_view
from .paths import PROJECT
from .resource import Resource, Route, ok


class Operations(Resource):
    def routes(self) -> list[Route]:
        return [
            ("GET", PROJECT + "/operations", self.list_operations),
            ("GET", PROJECT + "/operations/{operation_id}", self.get_operation),
        ]

    async def list_operations(self, request: web.Request) -> web.Response:
        q = request.query
        ops, cursor = operations.list_operations(
            self.model,
            request.match_info["project_id"],
            cursor=q.get("cursor") or None,
            limit=query_int(q, "limit", 1, 1000, 1000) or 1000,
        )
        return ok(operation_list_view(ops, cursor))

    async def get_operation(self, request: web.Request) -> web.Response:
        m = request.match_info
        return ok({"operation": operation_view(self.model.operation(m["project_id"], m["operation_id"]))})
