"""The aiohttp application: Neon API v2 under /api/v2, the admin routes under /admin, and the middleware that
authenticates, injects faults, counts requests and turns every error into Neon's `{code, message}` body.

Every API key is an account seeing only its own projects (accounts.py). Admin routes (the first key only;
outside /api/v2, never faulted or counted):
  GET  /admin/faults           current fault configuration (see neon_emulator/faults.py for the JSON)
  PUT  /admin/faults           replace it (400 naming the bad field)
  POST /admin/reset-faults     no faults
  GET  /admin/requests         API calls so far: {"requests": {"GET /api/v2/projects/x": 2},
                               "routes": {"GET /api/v2/projects/{project_id}": 2},
                               "refused": {"429": 1}}  (answered by a fault rule or the rate limit)
  POST /admin/reset-requests   zero the counters
  GET  /admin/status           storage driver, the endpoints whose postgres is running, the TLS CA file
  GET  /admin/api-keys         the accounts: {"accounts": [{"id": "emulator", "org_id": "org-emulator"}, ...]}
  POST /admin/api-keys         add one: body {"key": "..."} (a random key when absent); answers 201
                               {"account": {"id", "org_id"}, "key": "..."}; kept in memory only
  GET  /admin/routes           the Neon routes served: {"routes": [{"method": "GET", "path": "/api/v2/..."}]}
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from neon_emulator.engine.executor import Executor
from neon_emulator.faults import FaultConfigError, FaultInjector, parse_config
from neon_emulator.model.core import Model
from neon_emulator.model.errors import EmulatorError, not_found

from .accounts import AccountKeyError, Accounts
from .recording import ResponseRecorder
from .routes.paths import PREFIX
from .routes.resource import Handler, Route

log = logging.getLogger(__name__)


@dataclass
class RequestCounters:
    requests: Counter[str] = field(default_factory=Counter)
    routes: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # injected or rate-limit answers, by status

    def to_json(self) -> dict[str, dict[str, int]]:
        return {"requests": dict(self.requests), "routes": dict(self.routes), "refused": dict(self.refused)}

    def clear(self) -> None:
        self.requests.clear()
        self.routes.clear()
        self.refused.clear()


def _error(status: int, message: str, request: web.Request, code: str = "") -> web.Response:
    body = EmulatorError(status, message, code).body(request.headers.get("X-Request-ID"))
    return web.json_response(body, status=status)


def build_app(
    routes: list[Route],
    executor: Executor,
    faults: FaultInjector,
    accounts: Accounts,
    storage_driver: str,
    *,
    model: Model,
    durable: Callable[[str | None], Awaitable[None]],
    recorder: ResponseRecorder | None = None,
) -> web.Application:
    counters = RequestCounters()

    @web.middleware
    async def neon_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await answer(request, handler)
        if recorder is not None and request.path.startswith(PREFIX + "/"):
            resource = request.match_info.route.resource
            recorder.record(request.method, resource.canonical if resource else request.path, response)
        return response

    async def answer(request: web.Request, handler: Handler) -> web.StreamResponse:
        is_api = request.path.startswith(PREFIX + "/") or request.path == PREFIX
        if not is_api and not request.path.startswith("/admin/"):
            return _error(404, "not found", request)
        account = accounts.find(request.headers.get("Authorization", ""))
        if account is None:
            return _error(401, "authentication required: send Authorization: Bearer <API key>", request)
        if not is_api and account is not accounts.admin:
            return _error(403, "the admin routes take the emulator's first API key only", request)
        request["account"] = account
        if is_api:
            counters.requests[f"{request.method} {request.path}"] += 1
            resource = request.match_info.route.resource
            template = resource.canonical if resource is not None else request.path
            counters.routes[f"{request.method} {template}"] += 1
            decision = faults.decide(request.method, request.path, template)
            if decision.delay:
                await asyncio.sleep(decision.delay)
            if decision.status is not None:
                counters.refused[str(decision.status)] += 1
                refusal = web.json_response(decision.body, status=decision.status)
                if decision.retry_after is not None:
                    refusal.headers["Retry-After"] = f"{decision.retry_after:g}"
                return refusal
        try:
            project_id = request.match_info.get("project_id")
            project = model.state.projects.get(project_id) if project_id else None
            if project is not None and not account.owns(project.owner):
                raise not_found("project", project.id)  # another account's: as if it did not exist
            response = await handler(request)
            # Nothing is answered before the state it reflects (its project's, or all) is on disk.
            await durable(request.match_info.get("project_id"))
            return response
        except EmulatorError as exc:
            return web.json_response(exc.body(request.headers.get("X-Request-ID")), status=exc.status)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _error(exc.status, exc.reason or "error", request)
        except Exception:
            log.exception("internal error on %s %s", request.method, request.path)
            return _error(500, "internal emulator error (see the emulator log)", request)

    async def get_faults(request: web.Request) -> web.Response:
        return web.json_response(faults.config.to_json())

    async def put_faults(request: web.Request) -> web.Response:
        try:
            config = parse_config(json.loads(await request.text() or "{}"))
        except json.JSONDecodeError as exc:
            raise EmulatorError(400, f"request body: malformed JSON ({exc.msg})") from None
        except FaultConfigError as exc:
            raise EmulatorError(400, str(exc)) from None
        faults.configure(config)
        return web.json_response(config.to_json())

    async def reset_faults(request: web.Request) -> web.Response:
        faults.configure(parse_config({}))
        return web.json_response(faults.config.to_json())

    async def get_requests(request: web.Request) -> web.Response:
        return web.json_response(counters.to_json())

    async def reset_requests(request: web.Request) -> web.Response:
        counters.clear()
        return web.json_response(counters.to_json())

    async def status(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "storage_driver": storage_driver,
                "running_endpoints": executor.running_endpoints(),
                "tls_ca_file": str(executor.tls.ca_file),
            }
        )

    async def list_keys(request: web.Request) -> web.Response:
        return web.json_response({"accounts": [{"id": a.id, "org_id": a.org_id} for a in accounts.all()]})

    async def add_key(request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.text() or "{}")
        except json.JSONDecodeError as exc:
            raise EmulatorError(400, f"request body: malformed JSON ({exc.msg})") from None
        key = body.get("key") if isinstance(body, dict) else None
        if key is not None and not isinstance(key, str):
            raise EmulatorError(400, "key: must be a string")
        key = key or "emu-" + secrets.token_hex(16)
        try:
            account = accounts.add(key)
        except AccountKeyError as exc:
            raise EmulatorError(409, str(exc)) from None
        log.info("API key %s added for account %s", f"…{key[-4:]}", account.id)
        return web.json_response(
            {"account": {"id": account.id, "org_id": account.org_id}, "key": key}, status=201
        )

    async def list_routes(request: web.Request) -> web.Response:
        return web.json_response({"routes": [{"method": m, "path": p} for m, p, _ in routes]})

    app = web.Application(middlewares=[neon_middleware])
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    app.router.add_get("/admin/faults", get_faults)
    app.router.add_put("/admin/faults", put_faults)
    app.router.add_post("/admin/reset-faults", reset_faults)
    app.router.add_get("/admin/requests", get_requests)
    app.router.add_post("/admin/reset-requests", reset_requests)
    app.router.add_get("/admin/status", status)
    app.router.add_get("/admin/api-keys", list_keys)
    app.router.add_post("/admin/api-keys", add_key)
    app.router.add_get("/admin/routes", list_routes)
    return app
