"""`neon-checkpoints show CHECKPOINT` and `neon-checkpoints diff A B [--data [--rows N]]`.

Both read the schema captured at checkpoint time from the meta database only (zero Neon calls); `--data`
opens the two snapshots as short-lived branches through the Neon API ($NEON_API_URL; your key from
--neon-api-key-file or $NEON_API_KEY) and deletes them afterwards. A checkpoint is `namespace/name`, a bare
name (in --namespace), or a meta id (`42` or `#42`, as the timeline shows them)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import psycopg

from neon_checkpoints.cli import event_loop, neon_key
from neon_checkpoints.core.secrets import redact_dsn
from neon_checkpoints.meta import schemas
from neon_checkpoints.meta.records import CheckpointRow
from neon_checkpoints.schema.diff import CapturedSchema, diff_schemas
from neon_checkpoints.schema.render import (
    CheckpointLabel,
    diff_json,
    render_data,
    render_diff,
    render_show,
    show_json,
)
from neon_checkpoints.schema.structure import parse_structure

# Only `--data` talks to Neon: the Neon client (httpx) and settings are imported there, not by every
# `show` and `diff` (cli/main.py imports this module alone for them).

CONNECT_TIMEOUT_SECONDS = 5


class CliError(Exception):
    """A message for the user; exit status 1."""


@dataclass(frozen=True)
class Resolved:
    row: CheckpointRow
    schemas: dict[str, CapturedSchema]

    @property
    def label(self) -> CheckpointLabel:
        return CheckpointLabel(self.row.id, self.row.namespace, self.row.name, self.row.snapshot_id)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--namespace", "-n", default="default", help="namespace of bare names (default: default)"
    )
    parser.add_argument(
        "--meta-database-url",
        default=os.environ.get("META_DATABASE_URL"),
        help="PostgreSQL URL of the meta database (default: $META_DATABASE_URL)",
    )
    parser.add_argument("--output", "-o", choices=("table", "json"), default="table", help="output format")


def register(subparsers: Any) -> None:
    show = subparsers.add_parser(
        "show",
        help="show the schema a checkpoint holds (captured when it became Ready)",
        description="Print a checkpoint's schema, a table of columns per database, from the meta database.",
    )
    show.add_argument("checkpoint", help="namespace/name, a name in --namespace, or a meta id (42 or #42)")
    _common(show)
    show.set_defaults(func=run_show)
    diff = subparsers.add_parser(
        "diff",
        help="what changed from checkpoint A to checkpoint B: schema, and with --data the rows",
        description="Tables and columns added, removed and changed from A to B, then the unified diff of "
        "their pg_dump --schema-only texts; from the meta database only. --data also compares every table's "
        "row count and content by opening both snapshots as short-lived Neon branches (deleted afterwards).",
    )
    diff.add_argument("a", help="the base checkpoint")
    diff.add_argument("b", help="the checkpoint compared with it")
    diff.add_argument("--data", action="store_true", help="also compare row counts and content (uses Neon)")
    diff.add_argument(
        "--rows", type=int, default=0, metavar="N", help="with --data: show up to N changed rows per table"
    )
    neon_key.add_arguments(diff, "with --data")
    _common(diff)
    diff.set_defaults(func=run_diff)


def _parse_ref(text: str, namespace: str) -> tuple[int | None, str, str]:
    bare = text.removeprefix("#")
    if bare.isdigit():
        return int(bare), "", ""
    if "/" in text:
        ns, _, name = text.partition("/")
        return None, ns, name
    return None, namespace, text


async def _resolve(conn: psycopg.AsyncConnection[Any], text: str, namespace: str) -> Resolved:
    checkpoint_id, ns, name = _parse_ref(text, namespace)
    found = await schemas.find_checkpoints(conn, checkpoint_id=checkpoint_id, namespace=ns, name=name)
    if not found:
        where = f"meta id {checkpoint_id}" if checkpoint_id is not None else f"{ns}/{name}"
        raise CliError(f"no checkpoint {where} in the meta database")
    row = found[0]
    rows = await schemas.captured_schemas(conn, row.id) if await schemas.has_schema_tables(conn) else None
    if rows is None:
        raise CliError(
            f"checkpoint {row.namespace}/{row.name} (#{row.id}) has no captured schema: it was taken before "
            "schema capture existed, or its capture has not succeeded yet (see its SchemaCaptured condition)"
        )
    captured = {r.database_name: CapturedSchema(r.sql, parse_structure(r.structure)) for r in rows}
    return Resolved(row, captured)


async def _read(dsn: str, refs: list[str], namespace: str) -> list[Resolved]:
    async with await psycopg.AsyncConnection.connect(dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS) as conn:
        return [await _resolve(conn, ref, namespace) for ref in refs]


def _load(args: argparse.Namespace, refs: list[str]) -> list[Resolved]:
    dsn: str | None = args.meta_database_url
    if not dsn:
        raise CliError("no meta database: pass --meta-database-url or set META_DATABASE_URL")
    try:
        return event_loop.run(_read(dsn, refs, args.namespace))
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        password = urlsplit(dsn).password
        if password:
            reason = reason.replace(password, "****")
        raise CliError(f"cannot read the meta database at {redact_dsn(dsn)}: {reason}") from None


def _fail(exc: CliError) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 1


def run_show(args: argparse.Namespace) -> int:
    try:
        (found,) = _load(args, [args.checkpoint])
    except CliError as exc:
        return _fail(exc)
    render = show_json if args.output == "json" else render_show
    sys.stdout.write(render(found.label, found.schemas))
    return 0


def run_diff(args: argparse.Namespace) -> int:
    if args.rows < 0:
        print("error: --rows must be 0 or more", file=sys.stderr)
        return 2
    try:
        a, b = _load(args, [args.a, args.b])
        tables = _data(args, a, b) if args.data else None
    except CliError as exc:
        return _fail(exc)
    diff = diff_schemas(a.schemas, b.schemas)
    if args.output == "json":
        body = diff_json(a.label, b.label, diff)
        if tables is not None:
            from neon_checkpoints.schema.data import table_data_json

            body["data"] = [table_data_json(t) for t in tables]
        sys.stdout.write(json.dumps(body, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(render_diff(a.label, b.label, diff))
        if tables is not None:
            sys.stdout.write(render_data(tables))
    return 0


def _data(args: argparse.Namespace, a: Resolved, b: Resolved) -> list[Any]:
    from neon_api import NeonClient, errors
    from neon_checkpoints.schema.data import Terminated, compare_data

    if a.row.project_id != b.row.project_id:
        raise CliError("--data compares two checkpoints of one Neon project")
    try:
        key = neon_key.resolve(args.neon_api_key_file)
    except neon_key.KeyFileError as exc:
        raise CliError(str(exc)) from None
    if not key:
        raise CliError(f"--data needs your Neon API key: ${neon_key.ENV} or {neon_key.FLAG} FILE")
    try:
        with NeonClient(neon_key.api_url(args.neon_api_url), key) as client:
            return compare_data(client, a.row, b.row, a.schemas, b.schemas, rows=args.rows)
    except Terminated:
        raise CliError("terminated; the diff's branches were deleted") from None
    except (errors.NeonError, psycopg.Error, ValueError) as exc:
        raise CliError(f"the data diff failed: {exc}") from None
