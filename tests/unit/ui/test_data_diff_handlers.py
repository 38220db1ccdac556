"""The page's data diff routes (POST /apps/{p}/data-diffs, its page and JSON), on the suite's real
PostgreSQL with captured schemas written by the meta store's own code, the flow kit's fake cluster, and at the
Neon edge a stand-in for schema/data.py's `compare_data` that reports steps and waits until released (the real
one against the emulator is in tests/e2e/ui). Refused without a key, without the CSRF token or from another
origin; one at a time; progress while it runs, the result after; the key in no answer."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import psycopg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from neon_api import NeonClient, errors
from neon_checkpoints.cli import neon_key
from neon_checkpoints.meta import queries
from neon_checkpoints.meta.records import CheckpointRow
from neon_checkpoints.meta.schemas import StoredSchema
from neon_checkpoints.meta.store import MetaStore
from neon_checkpoints.schema.data import RowExample, TableData
from neon_checkpoints.schema.diff import CapturedSchema
from neon_checkpoints.schema.rows import RowMerge
from neon_checkpoints.schema.structure import parse_structure, schema_digest
from neon_checkpoints.ui.app import DATA_DIFFS, make_app
from neon_checkpoints.ui.datadiff import DataDiffs
from tests.unit.flowkit import FakeKube
from tests.unit.ui.test_handlers import P, origin, plan_form, seed

pytestmark = pytest.mark.postgres

KEY = "napi_secret_key_0123456789abcdefghij"
HINT = neon_key.hint("neon-checkpoints ui")


def structure(*columns: str) -> dict[str, Any]:
    cols = [{"name": c, "type": "integer" if c == "id" else "text", "nullable": c != "id"} for c in columns]
    pkey = {"name": "contacts_pkey", "type": "primary_key", "columns": ["id"]}
    return {"tables": [{"schema": "public", "name": "contacts", "columns": cols, "constraints": [pkey]}]}


async def capture(dsn: str, name: str, raw: dict[str, Any]) -> None:
    """Record a capture as the operator does (meta/schemas.py through the store)."""
    store = await MetaStore.open(dsn, max_size=1)
    try:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            [row] = [r for r in await queries.list_checkpoints(conn, P) if r.name == name]
        sql = f"CREATE TABLE public.contacts ({', '.join(c['name'] for c in raw['tables'][0]['columns'])});\n"
        stored = StoredSchema(schema_digest(sql, parse_structure(raw)), sql, raw)
        await store.record_schema_capture(row.id, {"neondb": stored})
    finally:
        await store.close()


class Stand:
    """compare_data at the Neon edge: reports its steps, waits for `release`, answers `result` or raises."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls: list[tuple[str, str, int, list[str]]] = []
        self.fail: Exception | None = None

    def __call__(
        self,
        client: NeonClient,
        a: CheckpointRow,
        b: CheckpointRow,
        schemas_a: dict[str, CapturedSchema],
        schemas_b: dict[str, CapturedSchema],
        *,
        rows: int = 0,
        progress: Callable[[str], None] | None = None,
    ) -> list[TableData]:
        assert progress is not None
        self.calls.append((a.name, b.name, rows, sorted(schemas_b)))
        progress(f"opening A ({a.name}) and B ({b.name}) as branches from their snapshots")
        assert self.release.wait(10), "never released"
        progress("comparing the tables of database neondb")
        if self.fail:
            raise self.fail
        merge = RowMerge(added=1, examples=[("added", None, "(0,1)")])
        added = RowExample("added", None, {"id": 4, "name": "<Barbara>"})
        return [TableData("neondb", "contacts", 3, 4, False, ("id", "name"), ("id",), merge, (added,))]


@pytest.fixture
async def dsn(fresh_database: str) -> str:
    return fresh_database


@pytest.fixture
async def kube(dsn: str) -> FakeKube:
    fake = FakeKube()
    await seed(dsn, fake)
    await capture(dsn, "v1", structure("id", "name"))
    await capture(dsn, "v2", structure("id", "name", "role"))
    return fake


async def served(kube: FakeKube, dsn: str, diffs: DataDiffs | None) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = TestClient(
        TestServer(make_app(kube, dsn, "apps", poll_seconds=0.2, data_diffs=diffs))
    )
    await client.start_server()
    return client


@pytest.fixture
def stand() -> Stand:
    return Stand()


@pytest.fixture
async def ui(kube: FakeKube, dsn: str, stand: Stand) -> AsyncIterator[TestClient[Any, Any]]:
    diffs = DataDiffs("http://127.0.0.1:9/api/v2", KEY, hint=HINT, compare=stand)
    client = await served(kube, dsn, diffs)
    yield client
    stand.release.set()
    await client.close()


async def data_form(ui: TestClient[Any, Any], a: str = "v1", b: str = "v2") -> tuple[str, dict[str, str]]:
    """The diff view of a and b as the browser gets it, and its Compare data form's fields."""
    html = await (await ui.get(f"/apps/{P}", params={"a": a, "b": b})).text()
    found = re.search(r'action="/apps/[^"]+/data-diffs" class="data-form">(.*?)</form>', html, re.S)
    hidden = r'<input type="hidden" name="([^"]+)" value="([^"]*)">'
    fields = dict(re.findall(hidden, found[1])) if found else {}
    return html, {**fields, "rows": "5"} if fields else {}


async def until_done(ui: TestClient[Any, Any], url: str) -> dict[str, Any]:
    for _ in range(100):
        body: dict[str, Any] = await (await ui.get(url + ".json")).json()
        if body["done"]:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never finished")


async def test_without_a_key_the_page_says_how_to_enable_it_and_starts_nothing(
    kube: FakeKube, dsn: str, stand: Stand
) -> None:
    ui = await served(kube, dsn, DataDiffs("http://127.0.0.1:9/api/v2", None, hint=HINT, compare=stand))
    try:
        html, fields = await data_form(ui)
        assert fields == {} and 'id="data-go"' not in html
        said = html[html.index('id="data-disabled"') :]
        assert "$NEON_API_KEY" in said and "--neon-api-key-file FILE" in said
        assert 'id="data-cli">neon-checkpoints diff -n apps v1 v2 --data --rows 5<' in html
        token = (await plan_form(ui, "restore", "v1"))["csrf_token"]  # the session's token, from any page
        form = {"csrf_token": token, "a": "v1", "b": "v2", "rows": "5"}
        answer = await ui.post(f"/apps/{P}/data-diffs", data=form, headers=origin(ui), allow_redirects=False)
        assert answer.status == 409 and "--neon-api-key-file FILE" in await answer.text()
        assert stand.calls == []
    finally:
        await ui.close()


@pytest.mark.parametrize(
    "tamper",
    [{"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": None}, "no-token"],
    ids=["other-origin", "cross-site", "no-origin", "no-token"],
)
async def test_compare_data_from_another_origin_or_without_its_token_starts_nothing(
    ui: TestClient[Any, Any], stand: Stand, tamper: Any
) -> None:
    _, form = await data_form(ui)
    assert form["csrf_token"]
    headers = origin(ui)
    if tamper == "no-token":
        form.pop("csrf_token")
    else:
        for key, value in tamper.items():
            headers.pop(key)
            if value is not None:
                headers[key] = value
    answer = await ui.post(f"/apps/{P}/data-diffs", data=form, headers=headers, allow_redirects=False)
    assert answer.status == 403 and "No data diff was started" in await answer.text()
    await asyncio.sleep(0.1)
    assert stand.calls == []


async def test_a_data_diff_runs_in_the_background_one_at_a_time_with_progress_then_the_result(
    ui: TestClient[Any, Any], stand: Stand
) -> None:
    html, form = await data_form(ui)
    assert 'id="data-go">Compare data</button>' in html and "data-disabled" not in html
    answer = await ui.post(f"/apps/{P}/data-diffs", data=form, headers=origin(ui), allow_redirects=False)
    assert answer.status == 303, await answer.text()
    url = answer.headers["Location"]
    assert url.startswith(f"/apps/{P}/data-diffs/")
    for _ in range(100):
        running = await (await ui.get(url + ".json")).json()
        if len(running["steps"]) == 1:
            break
        await asyncio.sleep(0.02)
    assert (running["state"], running["done"]) == ("running", False)
    assert running["steps"] == ["opening A (v1) and B (v2) as branches from their snapshots"]
    assert "opening A (v1)" in running["html"] and 'id="data-tables"' not in running["html"]
    page = await (await ui.get(url)).text()
    assert 'id="data-state" class="badge phase-busy">running<' in page and "(updating…)" in page

    # One at a time: the same request goes to the running job; another pair is refused while it runs.
    again = await ui.post(f"/apps/{P}/data-diffs", data=form, headers=origin(ui), allow_redirects=False)
    assert (again.status, again.headers.get("Location")) == (303, url)
    _, other = await data_form(ui, "v2", "v1")
    busy = await ui.post(f"/apps/{P}/data-diffs", data=other, headers=origin(ui), allow_redirects=False)
    assert busy.status == 409 and "is running already; one runs at a time" in await busy.text()
    assert f'href="{url}"' in (await data_form(ui))[0], "the diff view links to the running job"
    assert len(stand.calls) == 1 and stand.calls[0] == ("v1", "v2", 5, ["neondb"])

    stand.release.set()
    body = await until_done(ui, url)
    assert body["state"] == "done"
    assert body["steps"][-2:] == ["comparing the tables of database neondb", "done"]
    row = re.search(r'<tr id="data-neondb-contacts">(.*?)</tr>', body["html"], re.S)
    assert row and re.findall(r"<t[dh][^>]*>([^<]*)</t[dh]>", row[1]) == [
        "neondb.contacts", "3", "4", "differs", "1", "0", "0"]  # fmt: skip
    assert "compared on id, name by key id" in body["html"]
    example = '<li class="row-added">+ <code>{"id": 4, "name": "\\u003cBarbara\\u003e"}</code></li>'
    assert example in body["html"], "the changed row shown, escaped"
    for text in (await (await ui.get(url)).text(), str(body), html):
        assert KEY not in text


async def test_a_failed_data_diff_shows_why_without_the_key(ui: TestClient[Any, Any], stand: Stand) -> None:
    stand.fail = errors.NeonRequestError("GET", f"/projects?key={KEY}", "refused")
    stand.release.set()
    _, form = await data_form(ui)
    answer = await ui.post(f"/apps/{P}/data-diffs", data=form, headers=origin(ui), allow_redirects=False)
    body = await until_done(ui, answer.headers["Location"])
    assert body["state"] == "failed"
    assert body["error"].startswith("the data diff failed: GET /projects?key=****")
    assert KEY not in str(body) and KEY not in await (await ui.get(answer.headers["Location"])).text()


async def test_a_checkpoint_without_a_capture_or_of_another_app_is_not_compared(
    ui: TestClient[Any, Any], stand: Stand
) -> None:
    _, form = await data_form(ui)
    for a, b, said in (("v1", "v3", "B (v3) cannot be compared: not captured"),
                       ("v1", "nope", "B (nope) is not a checkpoint of this app")):  # fmt: skip
        answer = await ui.post(f"/apps/{P}/data-diffs", data={**form, "a": a, "b": b}, headers=origin(ui))
        assert answer.status == 400 and said in await answer.text()
    for rows in ("-1", "101", "many"):
        answer = await ui.post(f"/apps/{P}/data-diffs", data={**form, "rows": rows}, headers=origin(ui))
        assert answer.status == 400 and "rows must be a whole number from 0 to 100" in await answer.text()
    assert stand.calls == []
    assert (await ui.get(f"/apps/{P}/data-diffs/nope")).status == 404
    assert (await ui.get(f"/apps/{P}/data-diffs/nope.json")).status == 404


async def test_stopping_the_ui_stops_the_running_diff_at_its_next_step(
    ui: TestClient[Any, Any], stand: Stand
) -> None:
    _, form = await data_form(ui)
    answer = await ui.post(f"/apps/{P}/data-diffs", data=form, headers=origin(ui), allow_redirects=False)
    url = answer.headers["Location"]
    diffs = ui.server.app[DATA_DIFFS]
    job = diffs.get(url.rsplit("/", 1)[1])
    assert job is not None and not job.done
    closing = asyncio.create_task(diffs.close())
    await asyncio.sleep(0.1)
    stand.release.set()  # its next step hears the stop (the real diff's finally deletes its branches then)
    await asyncio.wait_for(closing, 10)
    assert job.state == "failed" and "the ui is stopping" in job.error
    assert "comparing the tables of database neondb" not in job.steps


async def test_captured_schemas_and_their_diff_are_shown(ui: TestClient[Any, Any]) -> None:
    html, _ = await data_form(ui)
    v1 = html[html.index('id="checkpoint-v1"') : html.index('id="checkpoint-v2"')]
    assert re.findall(r"<li><code>(\w+)</code> ([^<]*)</li>", v1) == [
        ("id", "integer NOT NULL"),
        ("name", "text"),
    ]
    changes = html[html.index('id="schema-changes"') :]
    assert "<li>~ table contacts</li><li>+ column role text</li></ul>" in changes
