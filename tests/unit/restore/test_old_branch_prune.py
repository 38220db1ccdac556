"""Pruning `(old)` branches when Neon refuses a delete (neon-api.md §11 q6, the "blocked" answer, which the
emulator does not model): the branch is kept and reported, the others still go, retryable errors surface."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from neon_api import AsyncNeonClient, RetryPolicy, errors
from neon_checkpoints.restore.prune import KeptBranch, prune_old_branches

BASE = "https://neon.test/api/v2"


def branch_json(bid: str, name: str, created: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": bid,
        "project_id": "p-1",
        "name": name,
        "current_state": "ready",
        "created_at": created,
        "default": False,
        "protected": False,
        **extra,
    }


BRANCHES = [
    branch_json("br-0", "production (old)", "2026-01-01T00:00:00Z"),
    branch_json("br-1", "production (old 2)", "2026-01-02T00:00:00Z", restored_as="br-0"),
    branch_json("br-2", "production", "2026-01-03T00:00:00Z", restored_as="br-1", default=True),
]


def neon(delete_answers: dict[str, httpx.Response], deleted: list[str]) -> AsyncNeonClient:
    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v2")
        if request.method == "GET" and path == "/projects/p-1/branches":
            return httpx.Response(200, json={"branches": BRANCHES, "annotations": {}})
        if request.method == "DELETE" and path.startswith("/projects/p-1/branches/"):
            assert request.url.params.get("hard_delete") == "true"  # else it lingers 7 days
            bid = path.rsplit("/", 1)[1]
            answer = delete_answers[bid]
            if answer.status_code == 200:
                deleted.append(bid)
            return answer
        return httpx.Response(500, content=json.dumps({"code": "", "message": f"unexpected {path}"}))

    return AsyncNeonClient(
        BASE, "key", transport=httpx.MockTransport(handle), retry=RetryPolicy(max_elapsed=0)
    )


def ok(bid: str) -> httpx.Response:
    return httpx.Response(200, json={"branch": next(b for b in BRANCHES if b["id"] == bid), "operations": []})


def refused(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"code": "", "message": message})


async def test_a_refused_delete_keeps_the_branch_and_says_why() -> None:
    deleted: list[str] = []
    answers = {"br-0": refused(422, "branch has snapshots attached"), "br-1": ok("br-1")}
    async with neon(answers, deleted) as client:
        result = await prune_old_branches(client, "p-1", 0, operation_timeout=5)
    assert deleted == ["br-1"]
    assert result.deleted == ("br-1",)
    assert result.kept == (
        KeptBranch(
            "br-0", "production (old)", "Neon refused to delete it (422): branch has snapshots attached"
        ),
    )


async def test_keep_one_deletes_only_the_older() -> None:
    deleted: list[str] = []
    async with neon({"br-0": ok("br-0")}, deleted) as client:
        result = await prune_old_branches(client, "p-1", 1, operation_timeout=5)
    assert (deleted, result.kept) == (["br-0"], ())


@pytest.mark.parametrize(
    ("status", "error"), [(423, errors.Locked), (429, errors.RateLimited), (503, errors.NeonServerError)]
)
async def test_retryable_failures_propagate_for_a_later_retry(status: int, error: type[Exception]) -> None:
    answers = {"br-0": refused(status, "busy"), "br-1": ok("br-1")}
    async with neon(answers, []) as client:
        with pytest.raises(error):
            await prune_old_branches(client, "p-1", 0, operation_timeout=5)
