"""`neon-checkpoints operator`: run the kopf operator with the Checkpoint handlers."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from neon_checkpoints.settings import Settings, SettingsError


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "operator",
        help="run the Kubernetes operator",
        description=(
            "Run the operator. Configuration comes from the environment: NEON_API_URL, NEON_API_KEY, "
            "META_DATABASE_URL, WATCH_NAMESPACES (comma-separated; empty = all), LOG_LEVEL, "
            "NEON_OPERATION_TIMEOUT, NEON_OPERATION_POLL_INTERVAL, PROJECT_LOCK_WAIT, "
            "META_DATABASE_POOL_SIZE, NEON_CHECKPOINTS_KEEP_OLD_BRANCHES, NEON_CHECKPOINTS_SCHEDULE_RESYNC, "
            "NEON_CHECKPOINTS_METRICS_PORT, NEON_CHECKPOINTS_METRICS_ADDRESS, NEON_CHECKPOINTS_STALL_AFTER, "
            "NEON_BRANCH_CACHE_TTL, NEON_DATABASE_LIST_TTL, NEON_API_BUDGET_PER_MINUTE, "
            "NEON_API_BUDGET_PER_ROUTE_PER_SECOND, PEERING_NAME, PEERING_PRIORITY, PEERING_LIFETIME "
            "(the README's table says what each means)."
        ),
    )
    parser.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=None,
        help="watch only this namespace (repeatable; overrides WATCH_NAMESPACES)",
    )
    parser.add_argument(
        "--liveness",
        metavar="URL",
        default=None,
        help="serve a liveness probe, e.g. http://0.0.0.0:8080/healthz",
    )
    parser.add_argument(
        "--peering",
        action="store_true",
        help="coordinate with other replicas through kopf peering (needs kopf's peering CRDs)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        print(f"neon-checkpoints: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.logging_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # neon_api logs one line per call already; httpx's own line per request would double it.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    namespaces = tuple(args.namespace) if args.namespace else settings.watch_namespaces
    # kopf only here: importing it costs about a second, which every other subcommand would pay.
    import kopf

    # Registers every kind's handlers and the startup hook with kopf's default registry.
    import neon_checkpoints.operator  # noqa: F401

    kopf.run(
        standalone=not args.peering,
        clusterwide=not namespaces,
        namespaces=namespaces,
        liveness_endpoint=args.liveness,
        peering_name=settings.peering_name if args.peering else None,
        priority=settings.peering_priority if args.peering else None,
        memo=kopf.Memo(settings=settings),
    )
    return 0
