"""The throwaway PostgreSQL cluster is real: SQL runs on it and databases are isolated."""

from __future__ import annotations

import psycopg
import pytest

pytestmark = pytest.mark.postgres


def test_sql_runs_on_a_fresh_database(fresh_database: str) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE contacts (id int PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO contacts VALUES (1, 'Ada'), (2, 'Grace')")
        rows = conn.execute("SELECT name FROM contacts ORDER BY id").fetchall()
        version = conn.execute("SHOW server_version_num").fetchone()
    assert rows == [("Ada",), ("Grace",)]
    assert version is not None and int(version[0]) >= 150000


def test_each_test_gets_an_empty_database(fresh_database: str) -> None:
    with psycopg.connect(fresh_database) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert tables == (0,)
