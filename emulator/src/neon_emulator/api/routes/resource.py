"""`Resource`: the base of each Neon resource's routes, and what their handlers share. A handler parses the
request (bodies.py), calls the model, marks the project changed and answers with a view (views.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from neon_emulator.engine.executor import Executor
from neon_emulator.model.core import Model
from neon_emulator.model.entities import Branch, Endpoint

from ..accounts import Account
from ..views import endpoint_view

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Route = tuple[str, str, Handler]  # method, path template, handler


def ok(data: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


class Resource:
    def __init__(self, model: Model, executor: Executor, persist: Callable[[str | None], None]) -> None:
        self.model = model
        self.executor = executor
        self.persist = persist

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def changed(self, project_id: str) -> None:
        """The project's records changed: save them and run the operations they queued."""
        self.persist(project_id)
        self.executor.kick(project_id)

    @staticmethod
    def account(request: web.Request) -> Account:
        """The account of the request's API key (set by the middleware)."""
        account: Account = request["account"]
        return account

    def endpoint_json(self, endpoint: Endpoint) -> dict[str, Any]:
        return endpoint_view(endpoint, self.model.project(endpoint.project_id).region_id)

    def branch(self, request: web.Request) -> Branch:
        """The branch of a path under /projects/{project_id}/branches/{branch_id}."""
        return self.model.branch(request.match_info["project_id"], request.match_info["branch_id"])
