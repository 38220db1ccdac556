"""`AsyncNeonClient`: the asyncio shell (kopf). It only sends and sleeps; pending operations poll at once."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

import httpx

from neon_api.budget import KeyShare, route_of
from neon_api.calls import branches, databases, endpoints, operations, projects, schema, snapshots
from neon_api.errors import NeonError, NeonStatusError, RateLimited
from neon_api.observe import NULL_OBSERVER, Observer, route_template
from neon_api.protocol import Done, Exchange, Replies, Request, Response, advance, receive, transport_error
from neon_api.retry import RetryPolicy
from neon_api.session import client_headers, normalise_base_url

P = ParamSpec("P")
T = TypeVar("T")


def _bind(
    call: Callable[P, Exchange[T]],
) -> Callable[Concatenate[AsyncNeonClient, P], Coroutine[Any, Any, T]]:
    async def method(self: AsyncNeonClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._run(call(*args, **kwargs))

    functools.update_wrapper(method, call, assigned=("__module__", "__name__", "__doc__"), updated=())
    method.__qualname__ = f"AsyncNeonClient.{call.__name__}"
    return method


class AsyncNeonClient:
    """Asyncio Neon API v2 client. `base_url` includes `/api/v2`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        observer: Observer = NULL_OBSERVER,
        share: KeyShare | None = None,
    ) -> None:
        """`share`: the request budget and in-flight GETs of this key, shared with its other clients."""
        self.base_url = normalise_base_url(base_url)
        self.share = share
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._observer = observer
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=client_headers(api_key), transport=transport, timeout=timeout
        )

    def __repr__(self) -> str:
        return f"AsyncNeonClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> AsyncNeonClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _run(self, exchange: Exchange[T]) -> T:
        outcome = advance(exchange, None)
        while not isinstance(outcome, Done):
            if outcome.delay > 0:
                await self._sleep(outcome.delay)
            responses = await self._send_all(outcome.requests)
            outcome = advance(exchange, Replies(responses, self._clock()))
        return outcome.value

    async def _send_all(self, requests: tuple[Request, ...]) -> tuple[Response, ...]:
        if len(requests) <= 1:
            return tuple([await self._send(request) for request in requests])
        # A TaskGroup cancels the other polls as soon as one fails. What failed is re-raised as itself, not
        # wrapped in an ExceptionGroup: callers catch this client's one exception tree (NeonError).
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._send(request)) for request in requests]
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None
        return tuple(task.result() for task in tasks)

    async def _send(self, request: Request) -> Response:
        if self.share is not None and request.method == "GET" and request.json is None:
            key = (request.path, tuple(sorted(request.params.items())))
            return await self.share.in_flight.run(key, lambda: self._send_retrying(request))
        return await self._send_retrying(request)

    async def _send_retrying(self, request: Request) -> Response:
        started = self._clock()
        route = route_template(request.path)
        attempt = 0
        while True:
            sent = self._clock()
            try:
                response = await self._transmit(request)
            except NeonError as exc:
                status = exc.status if isinstance(exc, NeonStatusError) else None
                self._observer.answered(request.method, route, status, self._clock() - sent)
                delay = self.retry.delay(exc, attempt, self._clock() - started)
                if delay is None:
                    raise
                self._observer.retrying(request.method, route, status, delay)
            else:
                self._observer.answered(request.method, route, response.status, self._clock() - sent)
                return response
            attempt += 1
            await self._sleep(delay)

    async def _transmit(self, request: Request) -> Response:
        if self.share is not None:
            waited = await self.share.budget.acquire(route_of(request.method, request.path), self._sleep)
            if waited > 0:
                self._observer.budget_waited(waited)
        try:
            answer = await self._http.request(
                request.method, request.path, params=request.params, json=request.json
            )
        except httpx.RequestError as exc:
            raise transport_error(request, exc) from exc
        try:
            return receive(request, answer.status_code, answer.headers, answer.content)
        except RateLimited as exc:
            if self.share is not None:
                self.share.budget.refused(exc.retry_after)
            raise

    # projects
    create_project = _bind(projects.create_project)
    get_project = _bind(projects.get_project)
    list_projects = _bind(projects.list_projects)
    update_project = _bind(projects.update_project)
    delete_project = _bind(projects.delete_project)
    # branches
    list_branches = _bind(branches.list_branches)
    get_branch = _bind(branches.get_branch)
    find_branch = _bind(branches.find_branch)
    create_branch = _bind(branches.create_branch)
    update_branch = _bind(branches.update_branch)
    delete_branch = _bind(branches.delete_branch)
    set_default_branch = _bind(branches.set_default_branch)
    restore_branch = _bind(branches.restore_branch)
    # endpoints
    list_endpoints = _bind(endpoints.list_endpoints)
    get_endpoint = _bind(endpoints.get_endpoint)
    create_endpoint = _bind(endpoints.create_endpoint)
    delete_endpoint = _bind(endpoints.delete_endpoint)
    start_endpoint = _bind(endpoints.start_endpoint)
    suspend_endpoint = _bind(endpoints.suspend_endpoint)
    restart_endpoint = _bind(endpoints.restart_endpoint)
    # databases and roles
    list_databases = _bind(databases.list_databases)
    get_database = _bind(databases.get_database)
    create_database = _bind(databases.create_database)
    delete_database = _bind(databases.delete_database)
    list_roles = _bind(databases.list_roles)
    get_role = _bind(databases.get_role)
    create_role = _bind(databases.create_role)
    delete_role = _bind(databases.delete_role)
    reveal_role_password = _bind(databases.reveal_role_password)
    reset_role_password = _bind(databases.reset_role_password)
    connection_uri = _bind(databases.connection_uri)
    # snapshots
    create_snapshot = _bind(snapshots.create_snapshot)
    list_snapshots = _bind(snapshots.list_snapshots)
    find_snapshot = _bind(snapshots.find_snapshot)
    update_snapshot = _bind(snapshots.update_snapshot)
    delete_snapshot = _bind(snapshots.delete_snapshot)
    restore_snapshot = _bind(snapshots.restore_snapshot)
    finalize_restore = _bind(snapshots.finalize_restore)
    # schema
    get_schema_sql = _bind(schema.get_schema_sql)
    get_schema_json = _bind(schema.get_schema_json)
    compare_schema = _bind(schema.compare_schema)
    # operations
    get_operation = _bind(operations.get_operation)
    list_operations = _bind(operations.list_operations)
    wait_for_operations = _bind(operations.wait_for_operations)
