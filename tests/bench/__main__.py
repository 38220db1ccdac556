"""Run the benchmarks: `python -m tests.bench [--quick] [--only NAME ...] [--list]`."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
from collections.abc import Sequence

from tests.bench import BenchOptions

# (name, module with `run(options)`, what it measures). Add new benchmarks here.
BENCHMARKS: list[tuple[str, str, str]] = [
    (
        "storage",
        "tests.bench.storage_drivers",
        "emulator snapshot/restore time vs database size: btrfs, copy driver, pg_dump | pg_restore",
    ),
    (
        "restores",
        "tests.bench.restores",
        "CheckpointRestore latency, bookkeeping delay, per-project serialization",
    ),
    (
        "workloads",
        "tests.bench.workload_restores",
        "Finalize restore of database + 3 workloads vs database only: last Neon op -> Succeeded",
    ),
    (
        "scale",
        "tests.bench.scale",
        "Checkpoints at fleet scale inside Neon's rate limits: latency, requests, 429s, RSS, CPU, growth",
    ),
    (
        "checkpoints",
        "tests.bench.checkpoints",
        "Checkpoint burst: created-to-Ready, operator overhead beyond Neon, API requests, peak RSS",
    ),
    (
        "schema-diff",
        "tests.bench.schema_diff",
        "neon-checkpoints diff: 200-table schema p50/p95; diff --data of a large DB vs pg_dump of both sides",
    ),
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller inputs (a smoke run)")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="run only this benchmark (repeatable); see --list"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, _, what in BENCHMARKS:
            print(f"{name:12} {what}")
        return 0
    known = {name for name, _, _ in BENCHMARKS}
    unknown = sorted(set(args.only or ()) - known)
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    options = BenchOptions(quick=args.quick)
    for name, module_name, what in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        print(f"== {name}: {what}{' (quick)' if args.quick else ''}", flush=True)
        started = time.monotonic()
        importlib.import_module(module_name).run(options)
        print(f"== {name} done in {time.monotonic() - started:.0f} s\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
