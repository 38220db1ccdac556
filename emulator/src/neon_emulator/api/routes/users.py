"""The current user and their organisations: what Neon's CLI asks before most commands."""

from __future__ import annotations

from aiohttp import web

from ..accounts import organization_view, user_view
from .paths import PREFIX
from .resource import Resource, Route, ok


class Users(Resource):
    def routes(self) -> list[Route]:
        return [
            ("GET", PREFIX + "/users/me", self.me),
            ("GET", PREFIX + "/users/me/organizations", self.organizations),
        ]

    async def me(self, request: web.Request) -> web.Response:
        return ok(user_view(self.account(request)))

    async def organizations(self, request: web.Request) -> web.Response:
        return ok({"organizations": [organization_view(self.account(request))]})
