"""`neon-emulator serve`: the command line (also `python -m neon_emulator`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .faults import (
    FaultConfig,
    FaultConfigError,
    parse_config,
    parse_fail_flag,
    parse_rate_limit_flag,
    parse_rule_flag,
    parse_snapshot_cap,
)
from .server import ServeOptions, serve
from .storage import DRIVERS, StorageError
from .storage.root import DEFAULT_MIN_FREE_BYTES

KEY_ENV = "NEON_EMULATOR_API_KEY"
KEYS_ENV = "NEON_EMULATOR_API_KEYS"
FAULTS_ENV = "NEON_EMULATOR_FAULTS"
RECORD_ENV = "NEON_EMULATOR_RECORD_RESPONSES"

DESCRIPTION = """\
A local Neon API v2 emulator backed by real PostgreSQL: branches are data directories, endpoints are postgres
servers on loopback ports, snapshots are copy-on-write (btrfs) or backup-API copies. The API is served under
/api/v2 with the bearer key from the NEON_EMULATOR_API_KEY environment variable (required)."""

ACCOUNTS = """\
accounts (several API keys):
  Every API key is an account with one organisation that sees only its own projects: another account's
  project is answered 404, as Neon answers a key outside its organisation. NEON_EMULATOR_API_KEY is the first
  account (`emulator`, org `org-emulator`; it owns projects made before accounts and is the only key the
  /admin routes take). NEON_EMULATOR_API_KEYS adds more: keys separated by commas or whitespace, each the
  account `user-<hash of the key>` in `org-<same hash>`. POST /admin/api-keys {"key": "..."} adds one at run
  time (kept in memory only: add it again after a restart, and it finds its projects again);
  GET /admin/api-keys lists the accounts. A project is created in its account's organisation whatever
  `org_id` the request names (as with a Neon organisation key); GET /projects?org_id= filters by it;
  GET /users/me and /users/me/organizations describe the account, GET /projects/shared is always empty.
"""

EPILOG = """\
fault injection (for tests of Neon clients):
  Faults come from NEON_EMULATOR_FAULTS (JSON), --faults-json, --fault and --fail-operation, merged in that
  order, and can be replaced at run time with PUT /admin/faults (same JSON, same bearer key). JSON:
    {"seed": 7, "latency": 0.05, "operation_delay": 0.2,
     "rules": [{"method": "POST", "path": "/api/v2/projects/*/branches", "status": 423,
                "rate": 0.5, "times": 2, "latency": 0.1, "retry_after": 1}],
     "fail_operations": {"create_branch": 1.0},
     "rate_limit": {"per_minute": 700, "per_route_per_second": 40}}
  Rules match method and path (fnmatch glob, `*` spans `/`); the first one whose seeded draw fires answers
  with its status and Neon's error body. fail_operations makes operations of an action end in `error`.
  rate_limit (also --rate-limit 700:40) answers 429 with Retry-After beyond that many API requests a minute
  and a second per route (method + path template), as Neon does; off by default.
  GET /admin/requests counts API calls per method+path and per route; POST /admin/reset-requests zeroes them;
  POST /admin/reset-faults clears the faults; GET /admin/status shows the storage driver and running servers.

snapshots:
  POST .../snapshot copies the branch before it answers (btrfs: CHECKPOINT + subvolume snapshot; copy driver:
  the backup API), so the snapshot is the branch as of the request; its create_branch operation then measures
  full_size/diff_size. Backup schedules (PUT .../backup_schedule) are validated and kept, never run.

state:
  DIR/state.json holds the model (written atomically after every change), DIR/storage the clusters,
  DIR/logs one postgres log per endpoint, DIR/tls the local CA (ca.crt, printed at start) and one server
  certificate per endpoint: endpoints speak TLS, connection URIs carry sslmode=require and
  channel_binding=require as Neon's do, and sslmode=verify-full works with sslrootcert=DIR/tls/ca.crt.
  Restarting on the same DIR (even after kill -9) brings everything back: servers left running are
  stopped, active endpoints started, unfinished operations run again.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neon-emulator", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve_p = sub.add_parser(
        "serve",
        help="run the emulator",
        description=DESCRIPTION,
        epilog=ACCOUNTS + "\n" + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve_p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve_p.add_argument(
        "--port",
        type=int,
        default=4444,
        help="TCP port for the API; 0 picks a free one (default: %(default)s)",
    )
    serve_p.add_argument(
        "--data-dir", type=Path, required=True, help="directory for state, clusters and logs"
    )
    serve_p.add_argument(
        "--storage",
        choices=DRIVERS,
        default=os.environ.get("NEON_EMULATOR_STORAGE", "auto"),
        help="storage driver: btrfs subvolume snapshots, or copy (backup API + reflink-or-plain copy); auto "
        "picks btrfs when the data dir is on btrfs (default: $NEON_EMULATOR_STORAGE or auto)",
    )
    serve_p.add_argument("--seed", type=int, default=None, help="seed for generated ids and fault draws")
    serve_p.add_argument(
        "--op-delay",
        type=float,
        default=0.02,
        metavar="SECONDS",
        help="time each operation spends `running` before its work (default: %(default)s)",
    )
    serve_p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="RULE",
        help='a fault rule "[METHOD] PATH [status=N] [rate=R] [times=N] [latency=S] [retry_after=S]", e.g. '
        '"POST /api/v2/projects/*/branches status=423 times=2" (repeatable)',
    )
    serve_p.add_argument(
        "--fail-operation",
        action="append",
        default=[],
        metavar="ACTION[=RATE]",
        help="operations of this action (e.g. create_branch) end in `error` with this probability "
        "(default 1; repeatable)",
    )
    serve_p.add_argument(
        "--latency", type=float, default=None, metavar="SECONDS", help="extra latency for every API request"
    )
    serve_p.add_argument(
        "--rate-limit",
        default=None,
        metavar="PER_MINUTE[:PER_ROUTE_PER_SECOND]",
        help="answer 429 with Retry-After beyond this many API requests a minute (and a second per route), "
        "e.g. 700:40, Neon's documented limits (default: unlimited)",
    )
    serve_p.add_argument(
        "--snapshot-cap",
        type=int,
        default=None,
        metavar="N",
        help="manual snapshots a project may hold, as a plan's limit (Neon: 1 Free, 100 paid); one more is "
        "refused with 422 (default: no cap)",
    )
    serve_p.add_argument(
        "--faults-json", default=None, metavar="JSON|@FILE", help="a whole fault configuration (see below)"
    )
    serve_p.add_argument(
        "--min-free-bytes",
        type=int,
        default=DEFAULT_MIN_FREE_BYTES,
        help="refuse new branches/snapshots when less than this would stay free on the data disk "
        "(default: %(default)s)",
    )
    serve_p.add_argument(
        "--project-recovery",
        type=float,
        default=7 * 86400.0,
        metavar="SECONDS",
        help="how long a deleted project stays recoverable, its data kept on disk (default: 7 days, as on "
        "Neon; test runs that delete many projects set less)",
    )
    serve_p.add_argument(
        "--record-responses",
        type=Path,
        default=os.environ.get(RECORD_ENV) or None,
        metavar="FILE",
        help="append every API answer to FILE as a JSON line {method, route, status, body}, for checking "
        "them against Neon's OpenAPI document (default: $NEON_EMULATOR_RECORD_RESPONSES, else off)",
    )
    serve_p.add_argument(
        "--log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="(default: %(default)s)",
    )
    return parser


def fault_config(args: argparse.Namespace, environ: dict[str, str]) -> FaultConfig:
    raw: dict[str, object] = {}
    if environ.get(FAULTS_ENV):
        raw.update(json.loads(environ[FAULTS_ENV]))
    if args.faults_json:
        text = (
            Path(args.faults_json[1:]).read_text() if args.faults_json.startswith("@") else args.faults_json
        )
        raw.update(json.loads(text))
    config = parse_config(raw)
    rules = config.rules + tuple(parse_rule_flag(text) for text in args.fault)
    fail = dict(config.fail_operations)
    fail.update(parse_fail_flag(text) for text in args.fail_operation)
    seed = config.seed if config.seed is not None else args.seed
    latency = config.latency if args.latency is None else args.latency
    limit = config.rate_limit if args.rate_limit is None else parse_rate_limit_flag(args.rate_limit)
    cap = config.snapshot_cap
    if args.snapshot_cap is not None:
        cap = parse_snapshot_cap(args.snapshot_cap, "--snapshot-cap")
    return FaultConfig(seed, latency, config.operation_delay, rules, fail, limit, cap)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    api_key = os.environ.get(KEY_ENV, "")
    if not api_key:
        parser.error(f"set {KEY_ENV} to the API key clients must send as a bearer token")
    more_keys = tuple(os.environ.get(KEYS_ENV, "").replace(",", " ").split())
    if api_key in more_keys or len(set(more_keys)) != len(more_keys):
        parser.error(f"{KEYS_ENV}: every key must be different (and differ from {KEY_ENV})")
    try:
        faults = fault_config(args, dict(os.environ))
    except (FaultConfigError, ValueError, OSError) as exc:
        parser.error(f"fault configuration: {exc}")
    options = ServeOptions(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir.resolve(),
        storage_driver=args.storage,
        seed=args.seed,
        op_delay=args.op_delay,
        faults=faults,
        api_key=api_key,
        min_free_bytes=args.min_free_bytes,
        more_api_keys=more_keys,
        record_responses=Path(args.record_responses).resolve() if args.record_responses else None,
        project_recovery=args.project_recovery,
    )
    try:
        asyncio.run(serve(options))
    except StorageError as exc:
        print(f"neon-emulator: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"neon-emulator: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
