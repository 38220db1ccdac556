"""Every route of the ui's aiohttp app, on the suite's real PostgreSQL (the meta store's own migrations and
upserts) and the flow kit's fake cluster at the network edge. Actions against the real apiserver are in
tests/integration/ui."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from neon_checkpoints.meta.records import CheckpointRecord, RestoreRecord
from neon_checkpoints.meta.store import MetaStore
from neon_checkpoints.names import CHECKPOINT_RESTORES, CHECKPOINTS
from neon_checkpoints.runtime.kube import KubeError
from neon_checkpoints.ui.app import make_app
from tests.unit.flowkit import FakeKube, raw_object

pytestmark = pytest.mark.postgres

P = "gentle-river-1"


class Refusing(FakeKube):
    """A cluster whose user may read but not create (or, with `lists`, not even list): 403."""

    def __init__(self, *, lists: bool = True) -> None:
        super().__init__()
        self.lists = lists

    async def list(
        self, plural: str, namespace: str, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        if not self.lists:
            raise KubeError(f"list {plural}", 403)
        return await super().list(plural, namespace, label_selector=label_selector)

    async def create(self, plural: str, namespace: str, body: Mapping[str, Any]) -> None:
        raise KubeError(f"create {plural}", 403)


CONDITION = {"type": "Succeeded", "status": "True", "reason": "Restored", "message": "done"}


async def seed(dsn: str, kube: FakeKube) -> None:
    store = await MetaStore.open(dsn, max_size=2)
    try:
        ids = {}
        for name, commit in (("v1", "a1"), ("v2", "b2"), ("v3", "c3")):
            record = CheckpointRecord(
                uid=f"uid-{name}",
                namespace="apps",
                name=name,
                project_id=P,
                branch_name="production",
                phase="Ready",
                snapshot_id=f"snap-{name}",
                source={"commit": commit, "prompt": f"prompt {name}"},
            )
            ids[name] = (await store.upsert_checkpoint(record)).id
            spec = {"projectId": P, "source": {"commit": commit}}
            status = {"phase": "Ready"}
            kube.put(CHECKPOINTS, raw_object("Checkpoint", name, spec, uid=f"uid-{name}", status=status))
        restore = RestoreRecord(
            uid="uid-back",
            namespace="apps",
            name="back-to-v2",
            project_id=P,
            branch_name="production",
            mode="Finalize",
            phase="Succeeded",
            checkpoint_id=ids["v2"],
        )
        await store.upsert_restore(restore)
        spec = {"checkpointRef": {"name": "v2"}, "mode": "Finalize"}
        status = {"phase": "Succeeded", "conditions": [CONDITION]}
        kube.put(
            CHECKPOINT_RESTORES,
            raw_object("CheckpointRestore", "back-to-v2", spec, uid="uid-back", status=status),
        )
    finally:
        await store.close()


@pytest.fixture
async def kube(fresh_database: str) -> FakeKube:
    fake = FakeKube()
    await seed(fresh_database, fake)
    return fake


async def client_for(kube: FakeKube, dsn: str) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = TestClient(TestServer(make_app(kube, dsn, "apps", poll_seconds=0.2)))
    await client.start_server()
    return client


@pytest.fixture
async def ui(kube: FakeKube, fresh_database: str) -> AsyncIterator[TestClient[Any, Any]]:
    client = await client_for(kube, fresh_database)
    yield client
    await client.close()


def origin(ui: TestClient[Any, Any]) -> dict[str, str]:
    return {"Origin": f"http://{ui.host}:{ui.port}", "Sec-Fetch-Site": "same-origin"}


async def plan_form(ui: TestClient[Any, Any], action: str, target: str) -> dict[str, str]:
    """Open the confirm page as the browser would and read its form (the token comes with the cookie)."""
    page = await ui.get(f"/apps/{P}/plan", params={"action": action, "target": target})
    assert page.status == 200, await page.text()
    html = await page.text()
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))


async def test_index_lists_the_apps_of_the_namespace(ui: TestClient[Any, Any]) -> None:
    answer = await ui.get("/")
    assert answer.status == 200
    assert f'href="/apps/{P}"' in await answer.text()
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.cookies["ncui_session"]["samesite"] == "Strict"


async def test_the_app_page_draws_the_timeline_with_a_text_alternative(ui: TestClient[Any, Any]) -> None:
    html = await (await ui.get(f"/apps/{P}")).text()
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert svg.count('class="node checkpoint') == 3 and svg.count('class="node restore') == 1
    assert 'role="img"' in svg and "Finalize restore back-to-v2 back to v2 (Succeeded)." in svg
    assert 'id="production-at">v2<' in html
    assert 'class="src-prompt">prompt v1<' in html
    assert "not captured: taken before schema capture existed" in html
    for action in ("preview", "restore"):
        assert f"action={action}&amp;target=v1" in html
    assert "action=undo&amp;target=back-to-v2" in html


async def test_the_live_fragment_changes_version_when_a_resource_changes(
    ui: TestClient[Any, Any], kube: FakeKube
) -> None:
    first = await ui.get(f"/apps/{P}/live")
    again = await ui.get(f"/apps/{P}/live")
    assert first.headers["X-Version"] == again.headers["X-Version"]
    assert "<html" not in await first.text()
    kube.put(CHECKPOINT_RESTORES, raw_object("CheckpointRestore", "to-v1", {"checkpointRef": {"name": "v1"}},
                                             uid="uid-to-v1", created="2026-12-31T10:00:00Z"))  # fmt: skip
    changed = await ui.get(f"/apps/{P}/live")
    assert changed.headers["X-Version"] != first.headers["X-Version"]
    assert "restore to-v1: Finalize of v1, Pending" in await changed.text()


async def test_the_timeline_json_names_production_and_every_event(ui: TestClient[Any, Any]) -> None:
    body = await (await ui.get(f"/apps/{P}/timeline.json")).json()
    assert body["production"] == "v2"
    assert [e["name"] for e in body["events"]] == ["v1", "v2", "v3", "back-to-v2"]


async def test_a_diff_of_two_checkpoints_shows_what_changed(ui: TestClient[Any, Any]) -> None:
    html = await (await ui.get(f"/apps/{P}", params={"a": "v1", "b": "v3"})).text()
    diff = html[html.index('id="diff"') :]
    assert '<th scope="row">source.commit</th><td>a1</td><td>c3</td>' in diff
    assert 'id="schema-diff">not captured' in diff


async def test_the_plan_shows_the_yaml_and_refuses_what_is_not_offered(ui: TestClient[Any, Any]) -> None:
    html = await (await ui.get(f"/apps/{P}/plan", params={"action": "restore", "target": "v1"})).text()
    assert "kind: CheckpointRestore" in html and "checkpointRef:\n    name: v1\n  mode: Finalize" in html
    for params in ({"action": "restore", "target": "nope"}, {"action": "drop", "target": "v1"},
                   {"action": "undo", "target": "v1"}):  # fmt: skip
        assert (await ui.get(f"/apps/{P}/plan", params=params)).status == 400


async def test_a_confirmed_action_creates_exactly_the_restore_shown(
    ui: TestClient[Any, Any], kube: FakeKube
) -> None:
    form = await plan_form(ui, "preview", "v1")
    answer = await ui.post(f"/apps/{P}/restores", data=form, headers=origin(ui), allow_redirects=False)
    assert answer.status == 303, await answer.text()
    assert answer.headers["Location"] == f"/apps/{P}/restores/{form['name']}"
    created = await kube.get(CHECKPOINT_RESTORES, "apps", form["name"])
    assert created and created["spec"] == {"checkpointRef": {"name": "v1"}, "mode": "Preview"}


@pytest.mark.parametrize(
    "tamper",
    [
        {"headers": {"Origin": "http://evil.example"}},
        {"headers": {"Sec-Fetch-Site": "cross-site"}},
        {"headers": {"Origin": None}},
        {"form": {"csrf_token": "0" * 64}},
        {"form": {"csrf_token": None}},
        {"cookie": None},
    ],
    ids=["other-origin", "cross-site", "no-origin", "wrong-token", "no-token", "no-cookie"],
)
async def test_an_action_from_another_origin_or_without_its_token_creates_nothing(
    ui: TestClient[Any, Any], kube: FakeKube, tamper: dict[str, Any]
) -> None:
    form = await plan_form(ui, "restore", "v1")
    headers: dict[str, str] = origin(ui)
    for key, value in tamper.get("headers", {}).items():
        headers.pop(key, None)
        if value is not None:
            headers[key] = value
    for key, value in tamper.get("form", {}).items():
        form.pop(key, None)
        if value is not None:
            form[key] = value
    if "cookie" in tamper:
        ui.session.cookie_jar.clear()
    answer = await ui.post(f"/apps/{P}/restores", data=form, headers=headers, allow_redirects=False)
    assert answer.status == 403
    assert "Refused" in await answer.text()
    assert await kube.get(CHECKPOINT_RESTORES, "apps", form["name"]) is None


async def test_another_host_name_is_not_answered(ui: TestClient[Any, Any]) -> None:
    answer = await ui.get("/", headers={"Host": f"rebound.example:{ui.port}"})
    assert answer.status == 421


async def test_a_forbidden_create_is_shown_as_forbidden(fresh_database: str) -> None:
    kube = Refusing()
    await seed(fresh_database, kube)
    ui = await client_for(kube, fresh_database)
    try:
        form = await plan_form(ui, "restore", "v1")
        answer = await ui.post(f"/apps/{P}/restores", data=form, headers=origin(ui), allow_redirects=False)
        assert answer.status == 403
        assert "Forbidden: your Kubernetes user may not create checkpointrestores in namespace apps" in (
            await answer.text()
        )
    finally:
        await ui.close()


async def test_a_forbidden_list_is_shown_on_the_page(fresh_database: str) -> None:
    kube = Refusing(lists=False)
    await seed(fresh_database, kube)
    ui = await client_for(kube, fresh_database)
    try:
        html = await (await ui.get(f"/apps/{P}")).text()
        assert "Forbidden: your Kubernetes user may not list checkpoints in namespace apps" in html
        assert 'class="node checkpoint' in html, "the meta database's timeline still shows"
    finally:
        await ui.close()


async def test_the_progress_page_and_json_show_phase_and_conditions(ui: TestClient[Any, Any]) -> None:
    html = await (await ui.get(f"/apps/{P}/restores/back-to-v2")).text()
    assert 'id="phase" class="badge phase-ok">Succeeded<' in html and "<td>Restored</td>" in html
    body = await (await ui.get(f"/apps/{P}/restores/back-to-v2.json")).json()
    assert (body["phase"], body["done"], body["conditions"][0]["reason"]) == ("Succeeded", True, "Restored")
    assert (await ui.get(f"/apps/{P}/restores/nope.json")).status == 404


async def test_the_script_and_styles_are_served(ui: TestClient[Any, Any]) -> None:
    for path in ("/static/ui.js", "/static/ui.css"):
        answer = await ui.get(path)
        assert answer.status == 200 and answer.headers["X-Content-Type-Options"] == "nosniff"
