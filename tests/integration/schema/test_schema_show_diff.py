"""Schema capture (the operator's read of Neon's schema at a snapshot's point) into a real meta database, and
`neon-checkpoints show` / `diff` / `diff --data` on it, against the emulator over HTTP: add/drop/alter column,
new index, dropped table; one stored schema for two checkpoints that share it; zero Neon calls for a schema
diff; row counts and changed rows with --data; and the diff's branches gone afterwards, also after a kill."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from devenv.emulator import EmulatorServer
from neon_api import AsyncNeonClient, NeonClient
from neon_checkpoints.meta.records import CheckpointRecord
from neon_checkpoints.meta.store import MetaStore
from neon_checkpoints.schema.capture import branch_databases, read_schemas
from neon_checkpoints.schema.plan import capture_point
from neon_checkpoints.schema.rows import DATA_BRANCH_PREFIX

pytestmark = [pytest.mark.emulator, pytest.mark.postgres]

CLI = str(Path(sys.executable).parent / "neon-checkpoints")

V1 = [
    "CREATE TABLE contacts (id int PRIMARY KEY, name text NOT NULL, email text, score int)",
    "CREATE TABLE notes (id int PRIMARY KEY, body text)",
    "INSERT INTO contacts VALUES (1, 'Ada Lovelace', 'ada@example.com', 10),"
    " (2, 'Grace Hopper', 'grace@example.com', 20), (3, 'Alan Turing', 'alan@example.com', 30)",
]
V2 = [
    "ALTER TABLE contacts ADD COLUMN role text DEFAULT 'member'",  # add
    "ALTER TABLE contacts DROP COLUMN score",  # drop
    "ALTER TABLE contacts ALTER COLUMN email SET NOT NULL, ALTER COLUMN name TYPE varchar(200)",  # alter
    "CREATE INDEX contacts_email_idx ON contacts (email)",  # new index
    "DROP TABLE notes",  # dropped table
    "DELETE FROM contacts WHERE name = 'Alan Turing'",
    "UPDATE contacts SET email = 'grace@navy.mil' WHERE id = 2",
    "INSERT INTO contacts (id, name, email) VALUES (4, 'Katherine Johnson', 'kj@example.com')",
]
V2_MORE_DATA = ["INSERT INTO contacts (id, name, email) VALUES (5, 'Margaret Hamilton', 'mh@example.com')"]


@dataclass
class App:
    emulator: EmulatorServer
    meta: str
    store: MetaStore
    project: str
    branch: str
    uri: str

    def neon(self) -> NeonClient:
        return NeonClient(self.emulator.url, self.emulator.api_key)

    def run(self, statements: list[str]) -> None:
        with psycopg.connect(self.uri, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    async def checkpoint(self, name: str, *, capture: bool = True) -> int:
        with self.neon() as neon:
            made = neon.create_snapshot(self.project, self.branch, name=name)
            neon.wait_for_operations(self.project, made.operations, timeout=60)
            snapshot = neon.find_snapshot(self.project, name)
        assert snapshot is not None
        row = await self.store.upsert_checkpoint(
            CheckpointRecord(uid=f"uid-{name}", namespace="apps", name=name, project_id=self.project,
                             branch_name="production", phase="Ready", source_branch_id=self.branch,
                             snapshot_id=snapshot.id, snapshot_name=snapshot.name, lsn=snapshot.lsn)
        )  # fmt: skip
        if capture:
            point = capture_point(snapshot.source_branch_id, snapshot.lsn, snapshot.raw.get("timestamp"))
            assert point is not None
            async with AsyncNeonClient(self.emulator.url, self.emulator.api_key) as client:
                databases = await branch_databases(client, self.project, point.branch_id, ())
                captured = await read_schemas(client, self.project, point, databases)
            await self.store.record_schema_capture(row.id, captured)
        return row.id

    def cli(
        self, *args: str, data_env: bool = False, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "META_DATABASE_URL": self.meta}
        if data_env:
            env.update(NEON_API_URL=self.emulator.url, NEON_API_KEY=self.emulator.api_key)
        return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout, env=env)

    def diff_branches(self) -> list[str]:
        with self.neon() as neon:
            return [b.name for b in neon.list_branches(self.project) if b.name.startswith(DATA_BRANCH_PREFIX)]

    def requests(self) -> int:
        with self.emulator.admin() as admin:
            return sum(admin.get("/requests").json()["requests"].values())


@pytest.fixture
async def app(emulator: EmulatorServer, fresh_database: str) -> AsyncIterator[App]:
    store = await MetaStore.open(fresh_database)
    with NeonClient(emulator.url, emulator.api_key) as neon:
        created = neon.create_project(name="schema-diff", branch_name="production")
        neon.wait_for_operations(created.project.id, created.operations, timeout=60)
        uri = created.connection_uris[0]
    try:
        yield App(emulator, fresh_database, store, created.project.id, created.branch.id, uri)
    finally:
        await store.close()
        with NeonClient(emulator.url, emulator.api_key) as neon:
            neon.delete_project(created.project.id)


@pytest.fixture
def faults(emulator: EmulatorServer) -> Iterator[None]:
    yield
    with emulator.admin() as admin:
        admin.post("/reset-faults").raise_for_status()


async def test_capture_show_and_diff_read_only_the_meta_database(app: App) -> None:
    app.run(V1)
    v1 = await app.checkpoint("v1")
    app.run(V2)
    v2 = await app.checkpoint("v2")
    app.run(V2_MORE_DATA)
    await app.checkpoint("v2-more-rows")  # same schema as v2: stored once
    await app.checkpoint("v0-before-capture", capture=False)

    schemas = await _count(app.meta, "SELECT count(*) FROM schemas")
    links = await _count(app.meta, "SELECT count(*) FROM checkpoint_schemas")
    assert (schemas, links) == (2, 3)

    shown = app.cli("show", "apps/v1")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("checkpoint v1 (#") and "database neondb" in lines
    assert any(line.split()[:3] == ["contacts", "score", "integer"] for line in lines)
    as_json = json.loads(app.cli("show", str(v1), "--output", "json").stdout)
    tables = {t["name"] for t in as_json["databases"]["neondb"]["structure"]["tables"]}
    assert tables == {"contacts", "notes"}

    before = app.requests()
    diff = app.cli("diff", "apps/v1", f"#{v2}")
    assert app.requests() == before  # the schema diff asked Neon nothing
    assert diff.returncode == 0, diff.stderr
    text = diff.stdout
    assert "  - table notes" in text and "  ~ table contacts" in text
    assert "      + column role text DEFAULT 'member'::text" in text
    assert "      - column score integer" in text
    assert "      ~ column email: text -> text NOT NULL" in text
    assert "      ~ column name: text NOT NULL -> character varying(200) NOT NULL" in text
    assert "      + index contacts_email_idx" in text
    assert "--- a/neondb\n+++ b/neondb\n" in text and "-CREATE TABLE public.notes (" in text

    document = json.loads(app.cli("diff", "v1", "v2", "-n", "apps", "-o", "json").stdout)
    [db] = document["databases"]
    assert db["tables_removed"] == ["notes"] and db["tables_added"] == []
    [contacts] = db["tables_changed"]
    assert [c["name"] for c in contacts["columns_added"]] == ["role"]
    assert [c["name"] for c in contacts["columns_removed"]] == ["score"]
    assert {c["name"] for c in contacts["columns_changed"]} == {"email", "name"}
    assert contacts["indexes_added"] == ["contacts_email_idx"]
    same = json.loads(app.cli("diff", "apps/v2", "apps/v2-more-rows", "-o", "json").stdout)
    assert same["databases"][0]["tables_changed"] == [] and same["databases"][0]["sql_diff"] == ""

    unknown = app.cli("diff", "apps/v1", "apps/nope")
    assert unknown.returncode == 1 and "no checkpoint apps/nope in the meta database" in unknown.stderr
    assert (
        app.cli("show", "999999").stderr.strip() == "error: no checkpoint meta id 999999 in the meta database"
    )
    old = app.cli("show", "apps/v0-before-capture")
    assert old.returncode == 1 and "has no captured schema" in old.stderr


async def test_data_diff_counts_and_rows_and_cleans_up(app: App) -> None:
    app.run(V1)
    await app.checkpoint("v1")
    app.run(V2)
    await app.checkpoint("v2")
    with app.neon() as neon:
        branches_before = {b.id for b in neon.list_branches(app.project)}

    done = app.cli("diff", "apps/v1", "apps/v2", "--data", "--rows", "5", "-o", "json", data_env=True)
    assert done.returncode == 0, done.stderr
    data = {t["table"]: t for t in json.loads(done.stdout)["data"]}
    contacts = data["contacts"]
    assert (contacts["rows_a"], contacts["rows_b"], contacts["same"]) == (3, 3, False)
    assert contacts["key"] == ["id"] and contacts["compared_columns"] == ["id", "name", "email"]
    assert (contacts["added"], contacts["removed"], contacts["changed"]) == (1, 1, 1)
    changes = {r["change"]: r for r in contacts["rows"]}
    assert changes["removed"]["before"]["name"] == "Alan Turing" and changes["removed"]["after"] is None
    assert changes["added"]["after"]["name"] == "Katherine Johnson"
    assert changes["changed"]["before"]["email"] == "grace@example.com"
    assert changes["changed"]["after"]["email"] == "grace@navy.mil"
    assert (data["notes"]["rows_a"], data["notes"]["rows_b"], data["notes"]["same"]) == (0, None, None)

    text = app.cli("diff", "apps/v1", "apps/v2", "--data", "--rows", "1", data_env=True)
    assert text.returncode == 0, text.stderr
    assert "data diff (exact" in text.stdout
    assert ["neondb.contacts", "3", "3", "differs", "1", "1", "1"] in [
        line.split() for line in text.stdout.splitlines()
    ]
    shown = [
        line
        for line in text.stdout.splitlines()
        if line.startswith(("  contacts: +", "  contacts: -", "  contacts: ~"))
    ]
    assert len(shown) == 1  # --rows 1

    assert app.diff_branches() == []
    with app.neon() as neon:
        assert {b.id for b in neon.list_branches(app.project)} == branches_before


async def test_a_killed_data_diff_leaves_branches_the_next_one_deletes(app: App, faults: None) -> None:
    app.run(V1)
    await app.checkpoint("v1")
    app.run(V2)
    await app.checkpoint("v2")
    await asyncio.to_thread(_kill_then_terminate, app)


def _kill_then_terminate(app: App) -> None:
    with app.emulator.admin() as admin:  # operations take long enough to be caught in the middle
        admin.put("/faults", json={"operation_delay": 3.0}).raise_for_status()
    env = {**os.environ, "META_DATABASE_URL": app.meta, "NEON_API_URL": app.emulator.url,
           "NEON_API_KEY": app.emulator.api_key}  # fmt: skip
    killed = subprocess.Popen([CLI, "diff", "apps/v1", "apps/v2", "--data"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 30
    while not app.diff_branches():
        assert time.monotonic() < deadline and killed.poll() is None, "the diff made no branch"
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=10)
    assert app.diff_branches()  # nothing ran to delete it

    terminated = subprocess.Popen([CLI, "diff", "apps/v1", "apps/v2", "--data"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 30
    while len(app.diff_branches()) < 1 or _only_mine(app, terminated.pid) == []:
        assert time.monotonic() < deadline and terminated.poll() is None, "the second diff made no branch"
        time.sleep(0.05)
    terminated.send_signal(signal.SIGTERM)  # a polite stop deletes its own branches on the way out
    _, stderr = terminated.communicate(timeout=60)
    assert terminated.returncode == 1 and "terminated" in stderr
    # The second diff swept the first one's leftovers when it started, and deleted its own when stopped.
    assert app.diff_branches() == []


def _only_mine(app: App, pid: int) -> list[str]:
    return [n for n in app.diff_branches() if f"-{pid}-" in n]


async def _count(dsn: str, query: str) -> int:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute(query.encode())
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])
