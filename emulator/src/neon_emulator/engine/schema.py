"""A database's schema at a point: `pg_dump --schema-only` and a structured form read from the catalog.

The emulator keeps no WAL history, so the points it can serve are a branch as it is now and the snapshots
taken of it. A branch whose server runs is read through that server; anything else (a snapshot, a branch
without a running compute) is cloned to a scratch cluster, started on a scratch port, read, and removed:
a snapshot's own files are never started (recovery would change them). A snapshot never changes, so its
answer is kept in memory.
"""

from __future__ import annotations

import logging
import secrets
import subprocess
import threading
from dataclasses import dataclass
from typing import Any

from neon_emulator.storage import Storage, StorageError
from neon_emulator.storage.cluster import SUPERUSER
from neon_emulator.storage.server_user import pg_bin_dir

from .ports import free_port
from .postgres import BACKGROUND_PREFIX, PostgresProcess
from .servers import Servers

log = logging.getLogger(__name__)

SCRATCH_PREFIX = "schema-scratch-"
_DUMP_TIMEOUT = 300.0
_CACHE_MAX = 256


class MissingDatabase(StorageError):
    """The database is in the model but not in the cluster (never synced to a running server)."""


@dataclass(frozen=True)
class DatabaseSchema:
    sql: str
    structure: dict[str, Any]


# The catalog queries: user tables (ordinary and partitioned) outside the system schemas.
_TABLES = """
SELECT c.oid, n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp\\_%%'
ORDER BY n.nspname, c.relname
"""
_COLUMNS = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       a.attgenerated <> '', pg_get_expr(d.adbin, d.adrelid), a.attidentity
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""
_CONSTRAINTS = """
SELECT c.conrelid, c.conname, c.contype,
       ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num ORDER BY k.ord),
       fn.nspname, fc.relname,
       ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num ORDER BY k.ord),
       pg_get_constraintdef(c.oid)
FROM pg_constraint c
LEFT JOIN pg_class fc ON fc.oid = c.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE c.conrelid = ANY(%s) AND c.contype IN ('p', 'u', 'f', 'c')
ORDER BY c.conrelid, c.conname
"""
_INDEXES = """
SELECT i.indrelid, ic.relname, i.indisunique, i.indisprimary,
       ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num ORDER BY k.ord),
       pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = ANY(%s)
ORDER BY i.indrelid, ic.relname
"""
_CONSTRAINT_TYPES = {"p": "primary_key", "u": "unique", "f": "foreign_key", "c": "check"}


def read_structure(process: PostgresProcess, database: str) -> dict[str, Any]:
    """Neon's `format=json` shape (tables with columns and constraints), plus each column's default and
    identity and each table's indexes."""
    with process.admin_connect(database) as conn:
        tables = conn.execute(_TABLES).fetchall()
        oids = [row[0] for row in tables]
        by_oid: dict[int, dict[str, Any]] = {
            oid: {"schema": schema, "name": name, "columns": [], "constraints": [], "indexes": []}
            for oid, schema, name in tables
        }
        for relid, name, type_, nullable, generated, default, identity in conn.execute(_COLUMNS, (oids,)):
            column: dict[str, Any] = {"name": name, "type": type_, "nullable": nullable}
            column["generated"] = generated
            column["default"] = default
            column["identity"] = {"a": "always", "d": "by_default"}.get(identity)
            by_oid[relid]["columns"].append(column)
        for row in conn.execute(_CONSTRAINTS, (oids,)):
            relid, name, kind, columns, ref_schema, ref_table, ref_columns, definition = row
            constraint: dict[str, Any] = {
                "type": _CONSTRAINT_TYPES[kind],
                "name": name,
                "columns": list(columns),
                "definition": definition,
            }
            if kind == "f":
                constraint["referenced_table"] = {
                    "schema": ref_schema,
                    "table": ref_table,
                    "columns": list(ref_columns),
                }
            by_oid[relid]["constraints"].append(constraint)
        for relid, name, unique, primary, columns, definition in conn.execute(_INDEXES, (oids,)):
            by_oid[relid]["indexes"].append(
                {
                    "name": name,
                    "unique": unique,
                    "primary": primary,
                    "columns": list(columns),
                    "definition": definition,
                }
            )
    return {"tables": [by_oid[oid] for oid in oids]}


def dump_sql(process: PostgresProcess, database: str) -> str:
    argv = [*BACKGROUND_PREFIX] if process.background else []
    argv += [
        str(pg_bin_dir() / "pg_dump"),
        "--schema-only",
        "--host",
        str(process.socket_dir),
        "--port",
        str(process.port),
        "--username",
        SUPERUSER,
        "--dbname",
        database,
    ]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=_DUMP_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StorageError(f"pg_dump of {database} failed: {exc}") from exc
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise StorageError(f"pg_dump of {database} failed: {message}")
    return done.stdout.decode()


def has_database(process: PostgresProcess, database: str) -> bool:
    with process.admin_connect() as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is not None
        )


class SchemaReader:
    """Reads schemas from the clusters of `storage`, through `servers` when one runs (worker threads)."""

    def __init__(self, storage: Storage, servers: Servers) -> None:
        self.storage = storage
        self.servers = servers
        self._cache: dict[tuple[str, str], DatabaseSchema] = {}
        self._lock = threading.Lock()
        self._sweep()

    def _sweep(self) -> None:
        """Scratch clusters left by an emulator killed mid-read (made by this reader only, and it makes none
        before it is built)."""
        for path in self.storage.root.glob(SCRATCH_PREFIX + "*"):
            try:
                self.servers.stop_any(path.name)
                self.storage.remove(path.name)
            except StorageError as exc:
                log.warning("could not remove the scratch cluster %s: %s", path.name, exc)

    def read(self, storage_name: str, database: str, *, immutable: bool) -> DatabaseSchema:
        """The schema of `database` in cluster `storage_name` (`immutable`: a snapshot, kept once read)."""
        key = (storage_name, database)
        if immutable:
            with self._lock:
                cached = self._cache.get(key)
            if cached is not None:
                return cached
        running = None if immutable else self.servers.serving(storage_name)
        if running is not None:
            schema = self._read_from(running, database)
        else:
            schema = self._read_scratch(storage_name, database)
        if immutable:
            with self._lock:
                if len(self._cache) >= _CACHE_MAX:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[key] = schema
        return schema

    def _read_from(self, process: PostgresProcess, database: str) -> DatabaseSchema:
        if not has_database(process, database):
            raise MissingDatabase(f"database {database} does not exist in the cluster")
        return DatabaseSchema(dump_sql(process, database), read_structure(process, database))

    def _read_scratch(self, storage_name: str, database: str) -> DatabaseSchema:
        scratch = SCRATCH_PREFIX + secrets.token_hex(6)
        self.storage.clone(storage_name, scratch)
        process = PostgresProcess(
            self.storage.data_dir(scratch),
            free_port(),
            socket_dir=self.servers.socket_dir,
            log_path=self.servers.logs / f"{scratch}.log",
            background=True,
        )
        try:
            process.start()
            log.info("reading the schema of %s in %s on a scratch server", database, storage_name)
            return self._read_from(process, database)
        finally:
            try:
                process.stop()
            finally:
                self.storage.remove(scratch)
