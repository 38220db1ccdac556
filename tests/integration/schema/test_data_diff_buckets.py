"""`diff --data`'s buckets on real Postgres branches of the emulator: an integer key is bucketed by key range
(changes in its first and last bucket, at a bucket's edges, negative keys, a key range that grows on one
side, min == max, an empty side), other keys and keyless tables by their key's hash; every count and example
exact, also for values swapped between columns, and with buckets split finer before their rows are read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from devenv.emulator import EmulatorServer
from neon_api import AsyncNeonClient, NeonClient
from neon_checkpoints.meta.records import CheckpointRecord, CheckpointRow
from neon_checkpoints.meta.store import MetaStore
from neon_checkpoints.schema.capture import branch_databases, read_schemas
from neon_checkpoints.schema.data import TableData, compare_data, table_data_json
from neon_checkpoints.schema.diff import CapturedSchema
from neon_checkpoints.schema.plan import capture_point
from neon_checkpoints.schema.structure import parse_structure

pytestmark = [pytest.mark.emulator, pytest.mark.postgres]

# `ranged`: keys -200,000..200,000 step 4 (100,001 rows), bucketed 7 keys wide from lo = -200,003 (the key B
# adds below A's lowest) to hi = 200,001 (B's highest): bucket 0 holds -200,003 and -200,000; -199,996 is the
# first key of bucket 1, -199,976 the last of bucket 3; 0 is in bucket 28,571; 200,000 in the last, 57,143.
A = [
    "CREATE TABLE ranged (id bigint PRIMARY KEY, v text)",
    "INSERT INTO ranged SELECT g, 'v' || g FROM generate_series(-200000, 200000, 4) g",
    "CREATE TABLE small (id smallint PRIMARY KEY, v text)",
    "INSERT INTO small SELECT g, 'v' || g FROM generate_series(-30, 30) g",
    "CREATE TABLE single (id int PRIMARY KEY, v text)",
    "INSERT INTO single VALUES (42, 'before')",
    "CREATE TABLE emptied (id int PRIMARY KEY, v text)",
    "INSERT INTO emptied SELECT g, 'v' FROM generate_series(1, 5) g",
    "CREATE TABLE filled (id int PRIMARY KEY, v text)",
    "CREATE TABLE unchanged (id int PRIMARY KEY, v text)",
    "INSERT INTO unchanged SELECT g, 'v' FROM generate_series(1, 1000) g",
    "CREATE TABLE coded (code text PRIMARY KEY, n int)",
    "INSERT INTO coded SELECT 'c' || g, g FROM generate_series(1, 3000) g",
    "CREATE TABLE pairs (id int PRIMARY KEY, a text, b text)",
    "INSERT INTO pairs VALUES (1, 'x', 'y'), (2, '', NULL), (3, 'same', 'same'), (4, 'a,b', 'c')",
    "CREATE TABLE keyless (a int, b text)",
    "INSERT INTO keyless SELECT g % 100, 'b' FROM generate_series(1, 1000) g",
]
B = [
    "DELETE FROM ranged WHERE id = -200000",  # first key of the first bucket
    "UPDATE ranged SET v = 'last' WHERE id = 200000",  # the last key: the last bucket
    "UPDATE ranged SET v = 'zero' WHERE id = 0",  # the middle
    "INSERT INTO ranged VALUES (-200003, 'below')",  # a new lowest key: B's range starts lower than A's
    "INSERT INTO ranged VALUES (200001, 'above')",
    "UPDATE ranged SET v = 'edge' WHERE id IN (-199996, -199976)",  # a bucket's first key, another's last
    "DELETE FROM small WHERE id IN (-30, 30)",
    "UPDATE small SET v = 'minus' WHERE id = -1",
    "UPDATE single SET v = 'after'",
    "DELETE FROM emptied",
    "INSERT INTO filled VALUES (-1, 'new'), (7, 'new')",
    "DELETE FROM coded WHERE code = 'c17'",
    "UPDATE coded SET n = -1 WHERE code = 'c2999'",
    "INSERT INTO coded VALUES ('zz', 0)",
    "UPDATE pairs SET a = b, b = a",  # each column hashed with a seed of its own: a swap is a change
    "UPDATE pairs SET a = 'a', b = 'b,c' WHERE id = 4",  # the same text joined, other columns
    "DELETE FROM keyless WHERE ctid IN (SELECT ctid FROM keyless WHERE a = 5 LIMIT 3)",
    "INSERT INTO keyless VALUES (1000, 'added'), (NULL, NULL)",
]


@dataclass
class Project:
    emulator: EmulatorServer
    store: MetaStore
    id: str
    branch: str
    uri: str

    def run(self, statements: list[str]) -> None:
        with psycopg.connect(self.uri, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement.encode())

    async def checkpoint(self, name: str) -> tuple[CheckpointRow, dict[str, CapturedSchema]]:
        with NeonClient(self.emulator.url, self.emulator.api_key) as neon:
            made = neon.create_snapshot(self.id, self.branch, name=name)
            neon.wait_for_operations(self.id, made.operations, timeout=60)
            snapshot = neon.find_snapshot(self.id, name)
        assert snapshot is not None
        row = await self.store.upsert_checkpoint(
            CheckpointRecord(uid=f"uid-{name}", namespace="apps", name=name, project_id=self.id,
                             branch_name="production", phase="Ready", source_branch_id=self.branch,
                             snapshot_id=snapshot.id, snapshot_name=snapshot.name, lsn=snapshot.lsn)
        )  # fmt: skip
        point = capture_point(snapshot.source_branch_id, snapshot.lsn, snapshot.raw.get("timestamp"))
        assert point is not None
        async with AsyncNeonClient(self.emulator.url, self.emulator.api_key) as client:
            databases = await branch_databases(client, self.id, point.branch_id, ())
            captured = await read_schemas(client, self.id, point, databases)
        return row, {db: CapturedSchema(s.sql, parse_structure(s.structure)) for db, s in captured.items()}


@pytest.fixture
async def project(emulator: EmulatorServer, fresh_database: str) -> AsyncIterator[Project]:
    store = await MetaStore.open(fresh_database)
    with NeonClient(emulator.url, emulator.api_key) as neon:
        created = neon.create_project(name="data-buckets", branch_name="production")
        neon.wait_for_operations(created.project.id, created.operations, timeout=60)
    try:
        yield Project(emulator, store, created.project.id, created.branch.id, created.connection_uris[0])
    finally:
        await store.close()
        with NeonClient(emulator.url, emulator.api_key) as neon:
            neon.delete_project(created.project.id)


def _changes(found: TableData) -> dict[str, Any]:
    body = table_data_json(found)
    rows = sorted(
        ((r["change"], (r["before"] or {}).get(_key(found)), (r["after"] or {}).get(_key(found)))
         for r in body["rows"]),
        key=repr,
    )  # fmt: skip
    return {
        "counts": (body["rows_a"], body["rows_b"], body["same"]),
        "changes": (body["added"], body["removed"], body["changed"]),
        "buckets": (body["buckets"]["by"], body["buckets"]["differing"]),
        "read again": body["buckets"]["rows_read_again"],
        "rows": rows,
    }


def _sorted(rows: list[tuple[str, object, object]]) -> list[tuple[str, object, object]]:
    return sorted(rows, key=repr)


def _key(found: TableData) -> str:
    return found.key[0] if found.key else "b"


async def test_integer_keys_by_range_other_keys_by_hash_all_exact(project: Project) -> None:
    project.run(A)
    row_a, schemas_a = await project.checkpoint("a")
    project.run(B)
    row_b, schemas_b = await project.checkpoint("b")
    with NeonClient(project.emulator.url, project.emulator.api_key) as neon:
        found = await asyncio.to_thread(compare_data, neon, row_a, row_b, schemas_a, schemas_b, rows=20)
        # Differing buckets split until each holds one key (7 -> 1 wide): the same answer, fewer rows read.
        finer = await asyncio.to_thread(
            compare_data, neon, row_a, row_b, schemas_a, schemas_b, rows=20, refine_above=0
        )
    tables = {t.table: _changes(t) for t in found}
    split = {t.table: _changes(t) for t in finer}
    # Both sides' rows in buckets 0, 1, 3, 28,571 (-6..0) and the last: 8 + 9; then the changed keys': 5 + 6.
    assert (tables["ranged"].pop("read again"), split["ranged"].pop("read again")) == (17, 11)
    assert split == tables

    assert tables["ranged"] == {
        "counts": (100_001, 100_002, False),
        "changes": (2, 1, 4),
        "buckets": ("key range", 5),  # 0 (read again with 1 as one range), 1, 3, 28,571, 57,143
        "rows": _sorted([("added", None, -200_003), ("added", None, 200_001), ("changed", -199_996, -199_996),
                         ("changed", -199_976, -199_976), ("changed", 0, 0), ("changed", 200_000, 200_000),
                         ("removed", -200_000, None)]),
    }  # fmt: skip
    assert tables["small"] == {
        "read again": 4,
        "counts": (61, 59, False),
        "changes": (0, 2, 1),
        "buckets": ("key range", 3),  # 61 keys: one bucket each
        "rows": _sorted([("changed", -1, -1), ("removed", -30, None), ("removed", 30, None)]),
    }
    assert tables["single"] == {
        "read again": 2,
        "counts": (1, 1, False),
        "changes": (0, 0, 1),
        "buckets": ("key range", 1),
        "rows": [("changed", 42, 42)],
    }
    assert tables["emptied"] == {
        "read again": 5,
        "counts": (5, 0, False),
        "changes": (0, 5, 0),
        "buckets": ("key range", 5),
        "rows": [("removed", k, None) for k in range(1, 6)],
    }
    assert tables["filled"] == {
        "read again": 2,
        "counts": (0, 2, False),
        "changes": (2, 0, 0),
        "buckets": ("key range", 2),
        "rows": _sorted([("added", None, -1), ("added", None, 7)]),
    }
    assert tables["unchanged"] == {
        "read again": 0,
        "counts": (1000, 1000, True),
        "changes": (0, 0, 0),
        "buckets": ("key range", 0),
        "rows": [],
    }
    pairs = tables["pairs"]
    assert pairs["changes"] == (0, 0, 3) and pairs["rows"] == [("changed", k, k) for k in (1, 2, 4)]
    coded = tables["coded"]
    assert coded["counts"] == (3000, 3000, False) and coded["changes"] == (1, 1, 1)
    assert coded["buckets"] == ("key hash", 3)
    assert coded["rows"] == _sorted(
        [("added", None, "zz"), ("changed", "c2999", "c2999"), ("removed", "c17", None)]
    )
    keyless = tables["keyless"]
    assert keyless["counts"] == (1000, 999, False) and keyless["changes"] == (2, 3, 0)
    assert keyless["buckets"][0] == "key hash"
    assert keyless["rows"] == _sorted(
        [("added", None, "added"), ("added", None, None)] + [("removed", "b", None)] * 3
    )
