"""`neon-checkpoints timeline`: print a project's checkpoint timeline from the meta database."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any
from urllib.parse import urlsplit

import psycopg

from neon_api import NeonClient
from neon_api.errors import NeonError
from neon_checkpoints.cli import event_loop
from neon_checkpoints.core.secrets import redact_dsn
from neon_checkpoints.meta import queries
from neon_checkpoints.meta.records import CheckpointRow, RestoreRow
from neon_checkpoints.settings import DEFAULT_NEON_API_URL
from neon_checkpoints.timeline.build import build_timeline
from neon_checkpoints.timeline.cost import PRICE_PER_GB_MONTH, Sizes
from neon_checkpoints.timeline.render import render_json, render_table

CONNECT_TIMEOUT_SECONDS = 5


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "timeline",
        help="show a project's checkpoint timeline from the meta database",
        description="Show the checkpoints and restores of a Neon project, oldest first, with each "
        "checkpoint's parent (lineage), its source metadata (commit, prompt, ...) and phase.",
    )
    parser.add_argument("--project-id", required=True, help="the Neon project id of the app")
    parser.add_argument("--branch", help="only this branch name (default: every branch)")
    parser.add_argument(
        "--meta-database-url",
        default=os.environ.get("META_DATABASE_URL"),
        help="PostgreSQL URL of the meta database (default: $META_DATABASE_URL)",
    )
    parser.add_argument("--output", "-o", choices=("table", "json"), default="table", help="output format")
    parser.add_argument(
        "--sizes",
        action="store_true",
        help="add each checkpoint's snapshot size and storage cost, from Neon (one GET of the project's "
        "snapshots with $NEON_API_KEY at $NEON_API_URL)",
    )
    parser.add_argument(
        "--price-per-gb-month",
        type=float,
        default=PRICE_PER_GB_MONTH,
        help="snapshot storage price for the cost column (default: %(default)s, Neon's from 2026-05-01)",
    )
    parser.set_defaults(func=run)


async def _read(
    dsn: str, project_id: str, branch: str | None
) -> tuple[list[CheckpointRow], list[RestoreRow]]:
    # Read-only on purpose: the operator owns the schema; a database it never migrated has no timeline.
    async with await psycopg.AsyncConnection.connect(dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS) as conn:
        if not await queries.has_timeline(conn):
            return [], []
        checkpoints = await queries.list_checkpoints(conn, project_id, branch)
        return checkpoints, await queries.list_restores(conn, project_id, branch)


def run(args: argparse.Namespace) -> int:
    dsn: str | None = args.meta_database_url
    if not dsn:
        print("error: no meta database: pass --meta-database-url or set META_DATABASE_URL", file=sys.stderr)
        return 2
    try:
        checkpoints, restores = event_loop.run(_read(dsn, args.project_id, args.branch))
    except psycopg.Error as exc:
        # psycopg's message names host, port and user; strip anything that could be the password anyway.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        password = urlsplit(dsn).password
        if password:
            reason = reason.replace(password, "****")
        print(f"error: cannot read the meta database at {redact_dsn(dsn)}: {reason}", file=sys.stderr)
        return 1
    sizes = None
    if args.sizes:
        try:
            sizes = _sizes(args.project_id)
        except (NeonError, ValueError) as exc:  # the message never holds the key
            print(f"error: cannot read the project's snapshot sizes from Neon: {exc}", file=sys.stderr)
            return 1
    if args.output == "json":
        sys.stdout.write(render_json(args.project_id, checkpoints, restores))
    else:
        entries = build_timeline(checkpoints, restores)
        if sizes is not None:
            price = args.price_per_gb_month
            sys.stdout.write(render_table(args.project_id, entries, sizes, price_per_gb_month=price))
        else:
            sys.stdout.write(render_table(args.project_id, entries))
    return 0


def _sizes(project_id: str) -> dict[str, Sizes]:
    url = os.environ.get("NEON_API_URL") or DEFAULT_NEON_API_URL
    with NeonClient(url, os.environ.get("NEON_API_KEY", "")) as neon:
        return {s.id: Sizes(s.full_size, s.diff_size) for s in neon.list_snapshots(project_id)}
