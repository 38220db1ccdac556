"""The pure parts of schema capture and diff: capture decisions, the structured diff, the content address,
the merge of row hashes and which diff branches are leftovers."""

from __future__ import annotations

import pytest

from neon_checkpoints.runtime.database_names import DatabaseNames
from neon_checkpoints.schema.diff import CapturedSchema, diff_schemas
from neon_checkpoints.schema.plan import (
    MAX_ATTEMPTS,
    GiveUp,
    Retry,
    after_failure,
    capture_point,
    databases_to_capture,
    diff_says_unchanged,
    needs_capture,
    point_from_status,
)
from neon_checkpoints.schema.rows import (
    KeyRange,
    RowHash,
    clip,
    compared_columns,
    data_branch_name,
    integer_key,
    is_leftover,
    key_range,
    merge_rows,
    row_key,
)
from neon_checkpoints.schema.structure import parse_structure, schema_digest

READY = {"phase": "Ready", "checkpointId": 7}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"phase": "Creating"}, False),
        ({"phase": "Ready"}, False),  # no meta row yet
        (READY, True),
        ({**READY, "conditions": [{"type": "SchemaCaptured", "status": "True"}]}, False),
        ({**READY, "conditions": [{"type": "SchemaCaptured", "status": "False"}], "schemaAttempts": 2}, True),
        (
            {
                **READY,
                "conditions": [{"type": "SchemaCaptured", "status": "False"}],
                "schemaAttempts": MAX_ATTEMPTS,
            },
            False,
        ),
    ],
    ids=["not-ready", "ready-without-row", "ready", "captured", "failed-once", "given-up"],
)
def test_which_checkpoints_need_a_capture(status: dict[str, object], expected: bool) -> None:
    assert needs_capture(status) is expected


def test_capture_point_prefers_the_lsn() -> None:
    assert capture_point("br-1", "0/16B3748", "2026-01-01T00:00:00.5Z").lsn == "0/16B3748"
    point = capture_point("br-1", None, "2026-01-01T00:00:00.5Z")
    assert point is not None and point.timestamp == "2026-01-01T00:00:00.5Z" and point.lsn is None
    assert capture_point(None, "0/1", None) is None and capture_point("br-1", None, None) is None


def test_the_point_comes_from_status_when_it_has_the_lsn() -> None:
    point = point_from_status(
        {"sourceBranchId": "br-1", "lsn": "0/16B3748", "timestamp": "2026-01-01T00:00:00Z"}
    )
    assert point is not None and (point.branch_id, point.lsn, point.timestamp) == ("br-1", "0/16B3748", None)
    # Whole seconds only in status: the snapshot is listed for its precise timestamp instead.
    assert point_from_status({"sourceBranchId": "br-1", "timestamp": "2026-01-01T00:00:00Z"}) is None
    assert point_from_status({"lsn": "0/1"}) is None


@pytest.mark.parametrize(
    ("diff", "unchanged"),
    [
        ("", True),
        ("--- a/neondb\n+++ b/neondb\n@@ -1,3 +1,3 @@\n-\\restrict k1\n+\\restrict k2\n x\n\n", True),
        ("--- a/neondb\n+++ b/neondb\n@@ -1 +1 @@\n-    a integer\n+    a bigint\n", False),
        # A removed pg_dump comment line reads like a file header: the hunk's counts tell them apart.
        ("--- a/neondb\n+++ b/neondb\n@@ -1,2 +1 @@\n--- Name: t; Type: TABLE\n x\n", False),
        ("--- a/neondb\n+++ b/neondb\n@@ -1 +1,2 @@\n x\n++++ odd\n", False),
        ("something Neon never sends", False),
    ],
    ids=["empty", "dump-keys-only", "type-changed", "comment-removed", "plus-line-added", "unexpected"],
)
def test_which_compare_schema_answers_mean_unchanged(diff: str, unchanged: bool) -> None:
    assert diff_says_unchanged(diff) is unchanged


def test_database_names_are_remembered_per_branch_for_a_while() -> None:
    now = [0.0]
    names = DatabaseNames(60.0, clock=lambda: now[0])
    names.put("p", "br-1", ("app", "neondb"))
    assert names.get("p", "br-1") == ("app", "neondb") and names.get("p", "br-2") is None
    now[0] = 59.0
    assert names.get("p", "br-1") is not None
    now[0] = 60.0
    assert names.get("p", "br-1") is None  # expired: listed again
    names.put("p", "br-1", ("neondb",))
    names.forget("p", "br-1")  # a 404 for one of them
    assert names.get("p", "br-1") is None
    off = DatabaseNames(0.0)
    off.put("p", "br-1", ("neondb",))
    assert off.get("p", "br-1") is None


def test_databases_default_to_the_non_system_ones() -> None:
    assert databases_to_capture((), ["neondb", "postgres", "app", "template1"]) == ("app", "neondb")
    assert databases_to_capture(("postgres",), ["neondb"]) == ("postgres",)  # asked for: as given


def test_backoff_is_capped_and_bounded() -> None:
    delays = [after_failure(retryable=True, attempt=n, least_delay=0) for n in range(1, MAX_ATTEMPTS)]
    assert all(isinstance(d, Retry) for d in delays)
    values = [d.delay for d in delays if isinstance(d, Retry)]
    assert values == sorted(values) and values[0] == 2.0 and max(values) <= 300.0
    assert isinstance(after_failure(retryable=True, attempt=MAX_ATTEMPTS, least_delay=0), GiveUp)
    assert isinstance(after_failure(retryable=False, attempt=1, least_delay=0), GiveUp)
    assert after_failure(retryable=True, attempt=1, least_delay=30.0) == Retry(30.0)  # Retry-After wins


def _table(
    name: str, *columns: dict[str, object], pk: tuple[str, ...] = ("id",), indexes: tuple[str, ...] = ()
):
    return {
        "schema": "public",
        "name": name,
        "columns": list(columns),
        "constraints": [{"type": "primary_key", "name": f"{name}_pkey", "columns": list(pk)}] if pk else [],
        "indexes": [{"name": i, "columns": ["id"]} for i in indexes],
    }


ID = {"name": "id", "type": "integer", "nullable": False}
NAME = {"name": "name", "type": "text", "nullable": True}


def test_structured_diff_of_columns_indexes_and_tables() -> None:
    a = parse_structure({"tables": [_table("contacts", ID, NAME, {"name": "score", "type": "integer"}),
                                    _table("notes", ID)]})  # fmt: skip
    b = parse_structure(
        {
            "tables": [
                _table("contacts", ID, {**NAME, "nullable": False}, {"name": "role", "type": "text"},
                       indexes=("contacts_idx",)),
                _table("tags", ID),
            ]
        }
    )  # fmt: skip
    diff = diff_schemas({"db": CapturedSchema("A\n", a)}, {"db": CapturedSchema("B\n", b)})
    [db] = diff.databases
    assert (db.tables_added, db.tables_removed) == (("tags",), ("notes",))
    [contacts] = db.tables_changed
    assert [c.name for c in contacts.columns_added] == ["role"]
    assert [c.name for c in contacts.columns_removed] == ["score"]
    [change] = contacts.columns_changed
    assert (change.name, change.before.describe(), change.after.describe()) == (
        "name",
        "text",
        "text NOT NULL",
    )
    assert contacts.indexes_added == ("contacts_idx",)
    assert db.sql_diff.startswith("--- a/db\n+++ b/db\n")
    assert diff_schemas({"db": CapturedSchema("A\n", a)}, {"db": CapturedSchema("A\n", a)}).empty


def test_a_database_on_one_side_only() -> None:
    s = parse_structure({"tables": [_table("t", ID)]})
    [db] = diff_schemas({}, {"app": CapturedSchema("x\n", s)}).databases
    assert db.only_in == "b" and db.tables_added == ("t",)


def test_digest_ignores_pg_dumps_random_restrict_key_only() -> None:
    s = parse_structure({"tables": [_table("t", ID)]})
    one = "\\restrict abc\nCREATE TABLE t ();\n\\unrestrict abc\n"
    two = "\\restrict xyz\nCREATE TABLE t ();\n\\unrestrict xyz\n"
    assert schema_digest(one, s) == schema_digest(two, s)
    assert schema_digest(one, s) != schema_digest("CREATE TABLE u ();\n", s)
    assert schema_digest(one, s) != schema_digest(one, parse_structure({"tables": [_table("t", ID, NAME)]}))


def test_rows_merge_by_key_counts_everything_and_keeps_examples() -> None:
    a = [RowHash(1, (1, 1), "(0,1)"), RowHash(2, (2, 2), "(0,2)"), RowHash(3, (3, 3), "(0,3)")]
    b = [RowHash(1, (1, 1), "(5,1)"), RowHash(2, (9, 9), "(5,2)"), RowHash(4, (4, 4), "(5,3)")]
    merged = merge_rows(iter(a), iter(b), keyed=True, limit=2)
    assert (merged.added, merged.removed, merged.changed) == (1, 1, 1)
    assert merged.examples == [("changed", "(0,2)", "(5,2)"), ("removed", "(0,3)", None)]
    # Without a key the hash is the row: duplicates pair off as a multiset.
    h = RowHash("h", (0, 0))
    keyless = merge_rows(iter([h, h]), iter([h]), keyed=False, limit=5)
    assert (keyless.added, keyless.removed, keyless.changed) == (0, 1, 0)


def test_integer_keys_merge_in_numeric_order() -> None:
    # As text "10" < "9": a merge on text keys would see every row of one side as removed and added again.
    a = [RowHash(k, (k, k)) for k in (-10, -9, 9, 10)]
    b = [RowHash(k, (k, k)) for k in (-10, -9, 9, 10, 11)]
    merged = merge_rows(iter(a), iter(b), keyed=True, limit=5)
    assert (merged.added, merged.removed, merged.changed) == (1, 0, 0)


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        pytest.param([(1, 65536), (1, 65536)], KeyRange(1, 65536, 1), id="one-key-per-bucket"),
        pytest.param([(1, 65537), (5, 10)], KeyRange(1, 65537, 2), id="width-rounds-up"),
        pytest.param([(-100, 100), (None, None)], KeyRange(-100, 100, 1), id="negative-keys-empty-b"),
        pytest.param([(7, 7), (7, 7)], KeyRange(7, 7, 1), id="min-equals-max"),
        pytest.param([(None, None), (None, None)], None, id="both-sides-empty"),
        pytest.param([(-(2**63), 0), (0, 2**63 - 1)], None, id="span-beyond-bigint"),
        pytest.param([(-(2**63), 0), (0, 1)], None, id="span-just-beyond-bigint"),
        pytest.param([(-(2**62), 0), (0, 2**62 - 1)], KeyRange(-(2**62), 2**62 - 1, 2**47), id="widest-span"),
    ],
)
def test_key_range_buckets(bounds: list[tuple[int | None, int | None]], expected: KeyRange | None) -> None:
    assert key_range(bounds) == expected


def test_key_range_spans_join_adjacent_buckets_and_stop_at_the_top() -> None:
    ranges = KeyRange(lo=-5, hi=20, width=4)  # buckets: -5..-2, -1..2, 3..6, 7..10, 11..14, 15..18, 19..20
    assert ranges.spans([0, 1, 3, 6]) == [(-5, 2), (7, 10), (19, 20)]
    assert ranges.spans([]) == []


def test_finer_buckets_and_their_spans_clipped_to_the_coarse_ones() -> None:
    coarse = KeyRange(lo=0, hi=10_000, width=200)
    assert coarse.finer() == KeyRange(0, 10_000, 25)
    assert coarse.finer().finer() == KeyRange(0, 10_000, 4)  # 25 / 8, rounded up
    assert coarse.finer().finer().finer() == KeyRange(0, 10_000, 1)
    fine = KeyRange(0, 10_000, 4)
    within = coarse.spans([0, 2])  # (0, 199), (400, 599)
    # Bucket 49 (196..199) ends inside the first span, bucket 99 (396..399) just before the second.
    assert clip(fine.spans([49, 99, 100, 149, 150]), within) == [(196, 199), (400, 403), (596, 599)]
    assert clip([(0, 10)], [(3, 4), (6, 20)]) == [(3, 4), (6, 10)]
    assert clip([(0, 10)], []) == []


def test_integer_key_only_for_one_integer_column_on_both_sides() -> None:
    text_id = {"name": "id", "type": "text", "nullable": False}
    big_id = {"name": "id", "type": "bigint", "nullable": False}
    ints, bigs, texts = (
        parse_structure({"tables": [_table("t", column, NAME)]}).tables[0] for column in (ID, big_id, text_id)
    )
    assert integer_key(ints, bigs, ("id",)) == "id"  # integer -> bigint still compares by number
    assert integer_key(ints, texts, ("id",)) is None
    assert integer_key(ints, ints, ("id", "name")) is None
    assert integer_key(ints, ints, ()) is None


def test_compared_columns_and_key() -> None:
    a = parse_structure({"tables": [_table("t", ID, NAME)]}).tables[0]
    b = parse_structure({"tables": [_table("t", ID, NAME, {"name": "role", "type": "text"})]}).tables[0]
    assert compared_columns(a, b) == ("id", "name")
    assert row_key(a, b, ("id", "name")) == ("id",)
    no_pk = parse_structure({"tables": [_table("t", ID, NAME, pk=())]}).tables[0]
    assert row_key(a, no_pk, ("id", "name")) == ()


def test_leftover_branches() -> None:
    mine = data_branch_name("vm", 4242, "a")
    assert mine.startswith("ckpt-diff-vm-4242-") and mine.endswith("-a")
    assert is_leftover(mine, host="vm", alive=[], age_seconds=1)  # its process is gone
    assert not is_leftover(mine, host="vm", alive=[4242], age_seconds=1)  # a diff still running
    assert not is_leftover(mine, host="other", alive=[], age_seconds=1)  # another machine's, recent
    assert is_leftover(mine, host="other", alive=[], age_seconds=7200)  # anyone's, old
    assert not is_leftover("production", host="vm", alive=[], age_seconds=7200)
