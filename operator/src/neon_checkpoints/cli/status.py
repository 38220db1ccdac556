"""`neon-checkpoints status`: per Neon project, the last checkpoint and restore (meta database), anything
Stalled (Kubernetes), and the operator's request budget."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any
from urllib.parse import urlsplit

import psycopg

from neon_checkpoints import names
from neon_checkpoints.core.secrets import redact_dsn
from neon_checkpoints.meta import queries
from neon_checkpoints.meta.records import CheckpointRow, RestoreRow
from neon_checkpoints.runtime.kube import Kube
from neon_checkpoints.timeline.summary import (
    StalledResource,
    render_status_json,
    render_status_table,
    stalled_resource,
    summarize,
)

CONNECT_TIMEOUT_SECONDS = 5
# The request budget belongs to the fleet work (issue 16): until the operator has one, nothing to show.
NO_BUDGET = "not reported: this operator version has no request budget"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status",
        help="per project: the last checkpoint and restore, anything Stalled, the request budget",
        description="Summarize every Neon project the operator has worked on: its newest checkpoint and "
        "restore (from the meta database), resources whose Stalled condition is True (from Kubernetes, "
        "via $KUBECONFIG or in-cluster; skipped with --no-kube), and the operator's request budget.",
    )
    parser.add_argument("--project-id", help="only this Neon project")
    parser.add_argument(
        "--meta-database-url",
        default=os.environ.get("META_DATABASE_URL"),
        help="PostgreSQL URL of the meta database (default: $META_DATABASE_URL)",
    )
    parser.add_argument("--no-kube", action="store_true", help="do not ask Kubernetes for Stalled resources")
    parser.add_argument("--output", "-o", choices=("table", "json"), default="table", help="output format")
    parser.set_defaults(func=run)


async def _meta(dsn: str) -> tuple[list[CheckpointRow], list[RestoreRow]]:
    async with await psycopg.AsyncConnection.connect(dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS) as conn:
        if not await queries.has_timeline(conn):
            return [], []
        return await queries.latest_checkpoints(conn), await queries.latest_restores(conn)


async def _stalled(restore_projects: dict[str, str]) -> list[StalledResource]:
    kube = await Kube.from_environment()
    try:
        found: list[StalledResource] = []
        checkpoints = await kube.list_everywhere(names.CHECKPOINTS)
        project_of = {
            (c["metadata"]["namespace"], c["metadata"]["name"]): (c.get("spec") or {}).get("projectId")
            for c in checkpoints
        }
        for body in checkpoints:
            item = stalled_resource(names.CHECKPOINT_KIND, body, (body.get("spec") or {}).get("projectId"))
            found += [item] if item else []
        for body in await kube.list_everywhere(names.CHECKPOINT_RESTORES):
            meta, spec = body["metadata"], body.get("spec") or {}
            ref = (spec.get("checkpointRef") or {}).get("name", "")
            project = restore_projects.get(meta.get("uid", "")) or project_of.get((meta["namespace"], ref))
            item = stalled_resource(names.RESTORE_KIND, body, project)
            found += [item] if item else []
        for body in await kube.list_everywhere(names.CHECKPOINT_SCHEDULES):
            template = ((body.get("spec") or {}).get("checkpointTemplate") or {}).get("spec") or {}
            item = stalled_resource(names.SCHEDULE_KIND, body, template.get("projectId"))
            found += [item] if item else []
        return found
    finally:
        await kube.close()


def run(args: argparse.Namespace) -> int:
    dsn: str | None = args.meta_database_url
    if not dsn:
        print("error: no meta database: pass --meta-database-url or set META_DATABASE_URL", file=sys.stderr)
        return 2
    try:
        checkpoints, restores = asyncio.run(_meta(dsn))
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        password = urlsplit(dsn).password
        if password:
            reason = reason.replace(password, "****")
        print(f"error: cannot read the meta database at {redact_dsn(dsn)}: {reason}", file=sys.stderr)
        return 1
    stalled: list[StalledResource] = []
    if not args.no_kube:
        try:
            stalled = asyncio.run(_stalled({r.uid: r.project_id for r in restores}))
        except Exception as exc:  # no cluster, or no access: the rest is still worth printing
            print(
                f"warning: Stalled resources not shown: Kubernetes unreachable ({type(exc).__name__})",
                file=sys.stderr,
            )
    summaries = summarize(checkpoints, restores, stalled)
    if args.project_id:
        summaries = [s for s in summaries if s.project_id == args.project_id]
    render = render_status_json if args.output == "json" else render_status_table
    sys.stdout.write(render(summaries, NO_BUDGET))
    return 0
