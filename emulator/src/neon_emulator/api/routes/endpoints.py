"""Endpoints (computes): create, list, get, patch (incl. moving to another branch), delete, start, suspend,
restart."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from neon_emulator.model import endpoints
from neon_emulator.model.core import Model
from neon_emulator.model.entities import Endpoint, Operation

from ..bodies import endpoint_spec, obj, opt_bool, opt_int, opt_number, opt_obj, opt_str, parse_json, req_str
from ..views import operations_view
from .paths import ENDPOINT, PROJECT
from .resource import Resource, Route, ok

Action = Callable[[Model, str, str], tuple[Endpoint, list[Operation]]]


class Endpoints(Resource):
    def routes(self) -> list[Route]:
        return [
            ("POST", PROJECT + "/endpoints", self.create_endpoint),
            ("GET", PROJECT + "/endpoints", self.list_endpoints),
            ("GET", ENDPOINT, self.get_endpoint),
            ("PATCH", ENDPOINT, self.update_endpoint),
            ("DELETE", ENDPOINT, self.delete_endpoint),
            ("POST", ENDPOINT + "/start", self.start_endpoint),
            ("POST", ENDPOINT + "/suspend", self.suspend_endpoint),
            ("POST", ENDPOINT + "/restart", self.restart_endpoint),
        ]

    async def create_endpoint(self, request: web.Request) -> web.Response:
        pid = request.match_info["project_id"]
        raw = obj(parse_json(await request.text(), required=True), "endpoint", "endpoint", required=True)
        branch_id = req_str(raw, "branch_id", "endpoint.branch_id")
        endpoint, ops = endpoints.create_endpoint(self.model, pid, branch_id, endpoint_spec(raw, "endpoint"))
        self.changed(pid)
        return ok({"endpoint": self.endpoint_json(endpoint), "operations": operations_view(ops)}, 201)

    async def list_endpoints(self, request: web.Request) -> web.Response:
        pid = request.match_info["project_id"]
        self.model.project(pid)
        return ok({"endpoints": [self.endpoint_json(e) for e in self.model.endpoints_of(pid)]})

    async def get_endpoint(self, request: web.Request) -> web.Response:
        m = request.match_info
        return ok({"endpoint": self.endpoint_json(self.model.endpoint(m["project_id"], m["endpoint_id"]))})

    async def update_endpoint(self, request: web.Request) -> web.Response:
        m = request.match_info
        raw = obj(parse_json(await request.text(), required=True), "endpoint", "endpoint", required=True)
        settings = opt_obj(raw, "settings", "endpoint.settings")
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
        self.changed(m["project_id"])
        return ok({"endpoint": self.endpoint_json(endpoint), "operations": operations_view(ops)})

    async def delete_endpoint(self, request: web.Request) -> web.Response:
        m = request.match_info
        result = endpoints.delete_endpoint(self.model, m["project_id"], m["endpoint_id"])
        if result is None:
            return web.Response(status=204)
        self.changed(m["project_id"])
        endpoint, ops = result
        return ok({"endpoint": self.endpoint_json(endpoint), "operations": operations_view(ops)})

    async def start_endpoint(self, request: web.Request) -> web.Response:
        return self._act(request, endpoints.start_endpoint)

    async def suspend_endpoint(self, request: web.Request) -> web.Response:
        return self._act(request, endpoints.suspend_endpoint)

    async def restart_endpoint(self, request: web.Request) -> web.Response:
        return self._act(request, endpoints.restart_endpoint)

    def _act(self, request: web.Request, action: Action) -> web.Response:
        m = request.match_info
        endpoint, ops = action(self.model, m["project_id"], m["endpoint_id"])
        self.changed(m["project_id"])
        return ok({"endpoint": self.endpoint_json(endpoint), "operations": operations_view(ops)})
