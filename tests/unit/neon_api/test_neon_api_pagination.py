"""Lists follow Neon's two cursor styles; find_branch matches names exactly."""

from __future__ import annotations

import httpx

from tests.unit.neon_api.fakes import Recorder, branch_json, operation_json, project_json, scripted


def test_branches_follow_the_opaque_next_cursor(make_client):
    recorder = Recorder(
        scripted(
            httpx.Response(200, json={"branches": [branch_json("br-a", "a")], "pagination": {"next": "c1"}}),
            httpx.Response(200, json={"branches": [branch_json("br-b", "b")], "pagination": {"next": "c2"}}),
            httpx.Response(200, json={"branches": [branch_json("br-c", "c")], "pagination": {}}),
        )
    )
    client = make_client(recorder)
    assert [b.id for b in client.list_branches("proj-1")] == ["br-a", "br-b", "br-c"]
    cursors = [r.url.params.get("cursor") for r in recorder.requests]
    assert cursors == [None, "c1", "c2"]


def test_a_repeated_cursor_ends_the_listing(make_client):
    page = {"branches": [branch_json("br-a", "a")], "pagination": {"next": "same"}}
    recorder = Recorder(scripted(*[httpx.Response(200, json=page)] * 5))
    client = make_client(recorder)
    assert len(client.list_branches("proj-1")) == 2
    assert len(recorder.requests) == 2


def test_projects_follow_the_timestamp_cursor_until_a_short_page(make_client, monkeypatch):
    from neon_api.calls import projects

    monkeypatch.setattr(projects, "PROJECTS_PAGE", 2)
    full = {"projects": [project_json("p-1"), project_json("p-2")], "pagination": {"cursor": "t2"}}
    short = {"projects": [project_json("p-3")], "pagination": {"cursor": "t3"}}
    recorder = Recorder(scripted(httpx.Response(200, json=full), httpx.Response(200, json=short)))
    client = make_client(recorder)
    assert [p.id for p in client.list_projects(search="p-")] == ["p-1", "p-2", "p-3"]
    assert [dict(r.url.params) for r in recorder.requests] == [
        {"search": "p-", "limit": "2"},
        {"search": "p-", "limit": "2", "cursor": "t2"},
    ]


def test_operations_list_pages(make_client, monkeypatch):
    from neon_api.calls import operations

    monkeypatch.setattr(operations, "OPERATIONS_PAGE", 1)
    pages = [
        {"operations": [operation_json("op-1", "finished")], "pagination": {"cursor": "t1"}},
        {"operations": [], "pagination": {"cursor": "t1"}},
    ]
    recorder = Recorder(scripted(*[httpx.Response(200, json=p) for p in pages]))
    client = make_client(recorder)
    assert [op.id for op in client.list_operations("proj-1")] == ["op-1"]
    assert len(recorder.requests) == 2


def test_find_branch_skips_old_and_longer_names_across_pages(make_client):
    page1 = {
        "branches": [branch_json("br-old", "main (old)"), branch_json("br-m2", "maintenance")],
        "pagination": {"next": "n1"},
    }
    page2 = {"branches": [branch_json("br-new", "main", default=True)], "pagination": {}}
    recorder = Recorder(scripted(httpx.Response(200, json=page1), httpx.Response(200, json=page2)))
    client = make_client(recorder)
    branch = client.find_branch("proj-1", "main")
    assert branch is not None and branch.id == "br-new" and branch.default
    assert recorder.requests[0].url.params["search"] == "main"


def test_find_branch_returns_none_when_only_the_old_branch_matches(make_client):
    page = {"branches": [branch_json("br-old", "main (old)"), branch_json("br-x", "Main")]}
    client = make_client(scripted(httpx.Response(200, json=page)))
    assert client.find_branch("proj-1", "main") is None
