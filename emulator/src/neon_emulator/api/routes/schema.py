"""A branch's database schema, and the unified diff of two (Neon's `schema` and `compare_schema`).

GET .../branches/{id}/schema?db_name=&lsn=|timestamp=&format=sql|json answers `{"sql": "..."}` (pg_dump
--schema-only) or `{"json": {"tables": [...]}}` (read from the catalog); compare_schema answers
`{"diff": "--- a/db\n+++ b/db\n@@ ..."}` of `base_branch_id` (default: the branch's parent) at
`base_lsn`/`base_timestamp` against the branch at `lsn`/`timestamp`. The points the emulator can serve are
in model/schema_points.py.
"""

from __future__ import annotations

import difflib
import functools

from aiohttp import web

from neon_emulator.engine.schema import DatabaseSchema, MissingDatabase, SchemaReader
from neon_emulator.model.errors import EmulatorError, bad_request, not_found
from neon_emulator.model.schema_points import check_database, schema_point
from neon_emulator.storage import StorageError

from ..bodies import query_choice
from .paths import BRANCH
from .resource import Resource, Route, ok


def _without_restrict_keys(sql: str) -> list[str]:
    """pg_dump's `\\restrict KEY` / `\\unrestrict KEY` lines carry a random key per dump: two dumps of one
    schema differ only there, so a diff leaves them out."""
    return [line for line in sql.splitlines() if not line.startswith(("\\restrict ", "\\unrestrict "))]


def unified_diff(database: str, base: str, current: str) -> str:
    lines = difflib.unified_diff(
        _without_restrict_keys(base),
        _without_restrict_keys(current),
        fromfile=f"a/{database}",
        tofile=f"b/{database}",
        lineterm="",
    )
    text = "\n".join(lines)
    return text + "\n" if text else ""


class Schemas(Resource):
    _reader: SchemaReader | None = None

    def routes(self) -> list[Route]:
        return [
            ("GET", BRANCH + "/schema", self.get_schema),
            ("GET", BRANCH + "/compare_schema", self.compare_schema),
        ]

    @property
    def reader(self) -> SchemaReader:
        if self._reader is None:
            self._reader = SchemaReader(self.executor.storage, self.executor.servers)
        return self._reader

    async def _read(
        self, project_id: str, branch_id: str, database: str, lsn: str | None, timestamp: str | None
    ) -> DatabaseSchema:
        point = schema_point(self.model, project_id, branch_id, lsn=lsn, timestamp=timestamp)
        check_database(point, database)
        try:
            return await self.executor.read(
                functools.partial(self.reader.read, point.storage, database, immutable=point.immutable)
            )
        except MissingDatabase:
            raise not_found("database", database) from None
        except StorageError as exc:
            raise EmulatorError(500, f"the schema could not be read: {exc}") from None

    async def get_schema(self, request: web.Request) -> web.Response:
        m, q = request.match_info, request.query
        database = q.get("db_name") or ""
        if not database:
            raise bad_request("db_name: required")
        form = query_choice(q, "format", ("sql", "json"), "sql")
        schema = await self._read(
            m["project_id"], m["branch_id"], database, q.get("lsn") or None, q.get("timestamp") or None
        )
        return ok({"sql": schema.sql} if form == "sql" else {"json": schema.structure})

    async def compare_schema(self, request: web.Request) -> web.Response:
        m, q = request.match_info, request.query
        pid, bid = m["project_id"], m["branch_id"]
        database = q.get("db_name") or ""
        if not database:
            raise bad_request("db_name: required")
        base_id = q.get("base_branch_id") or self.model.branch(pid, bid).parent_id
        if base_id is None:
            raise bad_request("base_branch_id: required for a branch without a parent")
        base = await self._read(
            pid, base_id, database, q.get("base_lsn") or None, q.get("base_timestamp") or None
        )
        current = await self._read(pid, bid, database, q.get("lsn") or None, q.get("timestamp") or None)
        return ok({"diff": unified_diff(database, base.sql, current.sql)})
