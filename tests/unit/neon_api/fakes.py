"""Scripted Neon answers for httpx.MockTransport, JSON builders and a fake clock (neon_api unit tests)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

API_KEY = "napi_SECRET_do_not_leak_0123456789"
BASE_URL = "https://neon.test/api/v2"


@dataclass
class FakeTime:
    """Monotonic clock that only moves when the client sleeps: retries and polling run instantly."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class Recorder:
    """Wraps a handler and keeps every request it saw."""

    handler: Handler
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def body(self, index: int) -> Any:
        return json.loads(self.requests[index].content) if self.requests[index].content else None


def scripted(*responses: httpx.Response | Exception) -> Handler:
    """Answer requests with `responses` in order (an exception is raised instead of answering)."""
    queue: Iterator[httpx.Response | Exception] = iter(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(queue)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


def error(status: int, message: str = "boom", *, request_id: str = "req-1", **headers: str) -> httpx.Response:
    body = {"code": "", "message": message, "request_id": request_id}
    return httpx.Response(status, json=body, headers=headers)


def ts(second: int = 0) -> str:
    return f"2026-01-01T00:00:{second:02d}Z"


def project_json(pid: str = "proj-1", name: str = "app") -> dict[str, Any]:
    return {"id": pid, "name": name, "region_id": "aws-us-east-2", "pg_version": 17, "created_at": ts()}


def branch_json(bid: str, name: str, **extra: Any) -> dict[str, Any]:
    base = {"id": bid, "project_id": "proj-1", "name": name, "current_state": "ready", "created_at": ts()}
    return {**base, **extra}


def operation_json(op_id: str, status: str, action: str = "create_branch", **extra: Any) -> dict[str, Any]:
    base = {
        "id": op_id,
        "project_id": "proj-1",
        "branch_id": "br-1",
        "action": action,
        "status": status,
        "failures_count": 0,
        "created_at": ts(),
        "updated_at": ts(1),
    }
    return {**base, **extra}


def snapshot_json(sid: str, name: str, **extra: Any) -> dict[str, Any]:
    base = {"id": sid, "name": name, "source_branch_id": "br-main", "created_at": ts(), "manual": True}
    return {**base, **extra}
