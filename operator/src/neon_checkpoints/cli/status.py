"""`neon-checkpoints status`: per Neon project, the last checkpoint and restore (meta database), anything
Stalled (Kubernetes), and the operator's request budget."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg

from neon_api.budget import BudgetLimits
from neon_checkpoints import names
from neon_checkpoints.cli import event_loop
from neon_checkpoints.core.secrets import redact_dsn
from neon_checkpoints.meta import queries
from neon_checkpoints.meta.records import CheckpointRow, RestoreRow
from neon_checkpoints.settings import (
    BUDGET_PER_MINUTE,
    BUDGET_PER_ROUTE,
    DEFAULT_NEON_API_URL,
    default_budget,
)
from neon_checkpoints.timeline.summary import (
    StalledResource,
    render_status_json,
    render_status_table,
    stalled_resource,
    summarize,
)

CONNECT_TIMEOUT_SECONDS = 5
PREFIX = "neon_checkpoints_"


def describe_budget(limits: BudgetLimits, scraped: Mapping[str, float] | None, source: str = "") -> str:
    """The request budget line: the limits as configured here, and, from the operator's /metrics, how often
    and how long its requests waited for budget and how many answers were 429."""
    if limits.enabled:
        parts = [f"{limits.per_minute} a minute" if limits.per_minute else "no per-minute limit"]
        if limits.per_route_per_second:
            parts.append(f"{limits.per_route_per_second} a second per route")
        line = ", ".join(parts) + " per API key"
    else:
        line = "off (no client-side limit for this API URL)"
    if scraped is None:
        return line + "; pass --metrics-url for the operator's waits"
    waits = int(scraped.get("budget_wait_seconds_count", 0))
    seconds = scraped.get("budget_wait_seconds_sum", 0.0)
    refused = int(scraped.get("neon_rate_limited_total", 0))
    return f"{line}; {waits} requests waited {seconds:.1f} s in all, {refused} answered 429 (from {source})"


def _scrape(url: str) -> dict[str, float]:
    """The budget's figures from the operator's /metrics (sums over every label)."""
    from prometheus_client.parser import text_string_to_metric_families

    wanted = ("budget_wait_seconds_count", "budget_wait_seconds_sum", "neon_rate_limited_total")
    found: dict[str, float] = dict.fromkeys(wanted, 0.0)
    for family in text_string_to_metric_families(httpx.get(url, timeout=CONNECT_TIMEOUT_SECONDS).text):
        for sample in family.samples:
            name = sample.name.removeprefix(PREFIX)
            if name in found:
                found[name] += sample.value
    return found


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
    parser.add_argument(
        "--metrics-url",
        help="the operator's metrics endpoint (e.g. http://127.0.0.1:8081/metrics): adds how long its "
        "requests waited for the request budget; the limits shown are this shell's "
        "NEON_API_BUDGET_PER_MINUTE / NEON_API_BUDGET_PER_ROUTE_PER_SECOND / NEON_API_URL, as the operator "
        "reads them",
    )
    parser.add_argument("--output", "-o", choices=("table", "json"), default="table", help="output format")
    parser.set_defaults(func=run)


async def _meta(dsn: str) -> tuple[list[CheckpointRow], list[RestoreRow]]:
    async with await psycopg.AsyncConnection.connect(dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS) as conn:
        if not await queries.has_timeline(conn):
            return [], []
        return await queries.latest_checkpoints(conn), await queries.latest_restores(conn)


async def _stalled(restore_projects: dict[str, str]) -> list[StalledResource]:
    from neon_checkpoints.runtime.kube import Kube  # slow to import: only where Kubernetes is asked

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


def _limits() -> BudgetLimits:
    """The budget the operator would run with in this environment (settings.py's defaults and knobs)."""
    limits = default_budget(os.environ.get("NEON_API_URL", DEFAULT_NEON_API_URL))
    try:
        per_minute = int(os.environ.get(BUDGET_PER_MINUTE, limits.per_minute))
        per_route = int(os.environ.get(BUDGET_PER_ROUTE, limits.per_route_per_second))
    except ValueError:
        return limits
    return BudgetLimits(per_minute, per_route)


def run(args: argparse.Namespace) -> int:
    dsn: str | None = args.meta_database_url
    if not dsn:
        print("error: no meta database: pass --meta-database-url or set META_DATABASE_URL", file=sys.stderr)
        return 2
    try:
        checkpoints, restores = event_loop.run(_meta(dsn))
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
            stalled = event_loop.run(_stalled({r.uid: r.project_id for r in restores}))
        except Exception as exc:  # no cluster, or no access: the rest is still worth printing
            print(
                f"warning: Stalled resources not shown: Kubernetes unreachable ({type(exc).__name__})",
                file=sys.stderr,
            )
    summaries = summarize(checkpoints, restores, stalled)
    if args.project_id:
        summaries = [s for s in summaries if s.project_id == args.project_id]
    scraped: dict[str, float] | None = None
    if args.metrics_url:
        try:
            scraped = _scrape(args.metrics_url)
        except (httpx.HTTPError, ValueError) as exc:
            print(f"warning: the operator's metrics not read at {args.metrics_url}: {exc}", file=sys.stderr)
    render = render_status_json if args.output == "json" else render_status_table
    sys.stdout.write(render(summaries, describe_budget(_limits(), scraped, args.metrics_url or "")))
    return 0
