"""The API key never reaches a repr, an exception or a log line; passwords stay out of reprs."""

from __future__ import annotations

import logging
import socket

import httpx
import pytest

from neon_api import AsyncNeonClient, NeonClient, RetryPolicy, errors
from neon_api.models import Role
from tests.unit.neon_api.fakes import API_KEY, BASE_URL, Recorder, branch_json, error, project_json, scripted


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_key_is_sent_as_bearer_token_only(make_client):
    recorder = Recorder(scripted(httpx.Response(200, json={"project": project_json()})))
    make_client(recorder).get_project("proj-1")
    sent = recorder.requests[0]
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert API_KEY not in str(sent.url)


def test_repr_shows_the_base_url_only():
    with NeonClient(BASE_URL, API_KEY) as client:
        assert repr(client) == f"NeonClient(base_url={BASE_URL!r})"
        assert API_KEY not in repr(client) and API_KEY not in str(vars(client))


async def test_async_repr_shows_the_base_url_only():
    async with AsyncNeonClient(BASE_URL + "/", API_KEY) as client:
        assert repr(client) == f"AsyncNeonClient(base_url={BASE_URL!r})"


def test_credentials_in_the_base_url_are_refused():
    with pytest.raises(ValueError, match="credentials"):
        NeonClient("https://user:pw@neon.test/api/v2", API_KEY)


def test_key_absent_from_logs_and_errors_of_a_failing_session(make_client, caplog):
    caplog.set_level(logging.DEBUG)
    answers = scripted(
        error(401, "invalid API key"),
        error(423, "locked"),
        httpx.Response(200, json={"branches": [branch_json("br-1", "main")]}),
        httpx.ConnectError("connection reset"),
    )
    client = make_client(answers, retry=RetryPolicy(max_elapsed=0.5, rng=lambda: 1.0))
    raised: list[BaseException] = []
    with pytest.raises(errors.Unauthorized) as caught:
        client.get_project("proj-1")
    raised.append(caught.value)
    assert client.find_branch("proj-1", "main") is not None
    with pytest.raises(errors.NeonRequestError) as caught_transport:
        client.create_branch("proj-1", name="x")
    raised.append(caught_transport.value)
    for exc in raised:
        for text in (str(exc), repr(exc), str(exc.__cause__), repr(vars(exc))):
            assert API_KEY not in text
    assert caplog.records, "the calls were logged"
    assert API_KEY not in caplog.text
    assert "Bearer" not in caplog.text


def test_key_absent_from_a_real_connection_failure(caplog):
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{_closed_port()}/api/v2"
    with (
        NeonClient(url, API_KEY, retry=RetryPolicy(max_elapsed=0.0), timeout=2.0) as client,
        pytest.raises(errors.NeonRequestError) as caught,
    ):
        client.get_project("proj-1")
    assert API_KEY not in str(caught.value) and API_KEY not in repr(caught.value)
    assert API_KEY not in caplog.text


def test_passwords_are_not_in_reprs(make_client):
    role = Role(branch_id="br-1", name="app", password="s3cret-pw")
    assert "s3cret-pw" not in repr(role)
    body = {
        "project": project_json(),
        "branch": branch_json("br-1", "main"),
        "endpoints": [],
        "databases": [],
        "roles": [{"branch_id": "br-1", "name": "neondb_owner", "password": "s3cret-pw"}],
        "connection_uris": [{"connection_uri": "postgresql://neondb_owner:s3cret-pw@ep-1/neondb"}],
        "operations": [],
    }
    created = make_client(scripted(httpx.Response(201, json=body))).create_project(name="app")
    assert created.roles[0].password == "s3cret-pw"
    assert created.connection_uris == ("postgresql://neondb_owner:s3cret-pw@ep-1/neondb",)
    assert "s3cret-pw" not in repr(created)


def test_one_info_line_per_call_with_operation_ids(make_client, caplog):
    caplog.set_level(logging.INFO, logger="neon_api")
    body = {
        "snapshot": {"id": "snap-1", "name": "cp", "created_at": "2026-01-01T00:00:00Z"},
        "operations": [
            {"id": "op-a", "project_id": "p", "action": "create_branch", "status": "running",
             "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"},
            {"id": "op-b", "project_id": "p", "action": "timeline_archive", "status": "scheduling",
             "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"},
        ],
    }  # fmt: skip
    client = make_client(scripted(error(423), httpx.Response(200, json=body)))
    client.create_snapshot("proj-1", "br-main", name="cp")
    lines = [r.getMessage() for r in caplog.records if r.name == "neon_api"]
    assert lines == [
        "POST /projects/proj-1/branches/br-main/snapshot -> 423",
        "POST /projects/proj-1/branches/br-main/snapshot -> 200 operations=op-a,op-b",
    ]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "neon_api")
