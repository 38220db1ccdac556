"""Status -> exception mapping and the content of error messages."""

from __future__ import annotations

import httpx
import pytest

from neon_api import errors
from tests.unit.neon_api.fakes import error, scripted


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, errors.BadRequest),
        (401, errors.Unauthorized),
        (403, errors.Unauthorized),
        (404, errors.NotFound),
        (409, errors.Conflict),
        (412, errors.PreconditionFailed),
        (418, errors.NeonClientError),
        (422, errors.Unprocessable),
        (423, errors.Locked),
        (429, errors.RateLimited),
        (500, errors.NeonServerError),
        (503, errors.ServiceUnavailable),
        (524, errors.NeonServerError),
    ],
    ids=lambda v: str(v) if isinstance(v, int) else v.__name__,
)
def test_each_status_raises_its_class(make_client, status, expected):
    client = make_client(scripted(*[error(status, "it went wrong", request_id="req-42")] * 20))
    with pytest.raises(expected) as caught:
        client.get_project("proj-1")
    exc = caught.value
    assert type(exc) is expected
    assert (exc.status, exc.message, exc.request_id) == (status, "it went wrong", "req-42")
    assert "it went wrong" in str(exc) and "req-42" in str(exc)
    assert "/projects/proj-1" in str(exc)


def test_client_and_server_errors_share_the_status_base(make_client):
    assert issubclass(errors.Locked, errors.NeonClientError)
    assert issubclass(errors.ServiceUnavailable, errors.NeonServerError)
    assert issubclass(errors.NeonClientError, errors.NeonStatusError)
    assert issubclass(errors.NeonRequestError, errors.NeonError)


def test_request_id_falls_back_to_the_response_header(make_client):
    answer = httpx.Response(409, json={"message": "branch exists"}, headers={"X-Request-ID": "hdr-7"})
    client = make_client(scripted(answer))
    with pytest.raises(errors.Conflict) as caught:
        client.create_branch("proj-1", name="main")
    assert caught.value.request_id == "hdr-7"
    assert caught.value.code == ""


def test_non_json_error_page_becomes_a_server_error_with_its_reason(make_client):
    page = httpx.Response(
        524, content=b"<html>" + b"x" * 5000 + b"</html>", headers={"content-type": "text/html"}
    )
    client = make_client(scripted(page))
    with pytest.raises(errors.NeonServerError) as caught:
        client.create_branch("proj-1", name="x")
    assert caught.value.status == 524
    assert "<html>" not in str(caught.value)


def test_error_code_from_the_body_is_kept(make_client):
    answer = httpx.Response(400, json={"code": "INVALID", "message": "settings must not be nil"})
    client = make_client(scripted(answer))
    with pytest.raises(errors.BadRequest) as caught:
        client.create_endpoint("proj-1", "br-1")
    assert caught.value.code == "INVALID"
    assert caught.value.request_id is None


def test_successful_answer_that_is_not_json_is_unexpected(make_client):
    client = make_client(scripted(httpx.Response(200, content=b"<html>maintenance</html>")))
    with pytest.raises(errors.UnexpectedResponse, match="not JSON"):
        client.get_project("proj-1")


def test_successful_answer_missing_a_field_is_unexpected(make_client):
    client = make_client(scripted(httpx.Response(200, json={"project": {"id": "proj-1"}})))
    with pytest.raises(errors.UnexpectedResponse, match="KeyError") as caught:
        client.get_project("proj-1")
    assert caught.value.status == 200
