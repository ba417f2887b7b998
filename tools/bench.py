"""Benchmarks: each figure beside a physical floor measured in the same run, same driver.

    python tools/bench.py store [--json] [--events N] [--dir DIR]
    python tools/bench.py store --backend postgres [--json] [--events N]
    python tools/bench.py graph [--json]
    python tools/bench.py enqueue [--json] [--dir DIR]
    python tools/bench.py executor [--json] [--dir DIR]
    python tools/bench.py executor --backend postgres [--processes N] [--json]
    python tools/bench.py replay [--json] [--events N] [--dir DIR]
    python tools/bench.py cache [--json] [--dir DIR]
    python tools/bench.py dashboard [--json] [--dir DIR]
    python tools/bench.py operations [--json] [--dir DIR]
    python tools/bench.py retention [--json] [--dir DIR] [--quick]

Machines are shared and noisy: compare ratios, not absolute times. A benchmark never asserts;
the targets are printed for the reader.

The PostgreSQL figures run on the server in EVENTSVC_BENCH_POSTGRES_DSN (else
EVENTSVC_TEST_POSTGRES_DSN), each in a schema of its own, dropped afterwards.

What each bench compares is said in its module, ``tools/benches/<name>.py``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import anyio
from benches import (
    cache,
    dashboard,
    enqueue,
    executor,
    executor_postgres,
    graph,
    operations,
    replay,
    retention,
    store,
    store_postgres,
    webhooks,
)
from benches.common import print_table

BENCHES = [
    "store", "graph", "enqueue", "executor", "replay", "cache", "dashboard", "operations",
    "webhooks", "retention",
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "bench",
        choices=BENCHES,
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--events", type=int, default=100_000, help="events in the batched run")
    parser.add_argument("--dir", type=Path, help="where the store files go (default: a temp dir)")
    parser.add_argument(
        "--backend",
        choices=["sqlite", "postgres"],
        default="sqlite",
        help="store, executor: which backend",
    )
    parser.add_argument(
        "--processes", type=int, default=3, help="executor --backend postgres: service processes"
    )
    parser.add_argument(
        "--quick", action="store_true", help="retention: a tenth of the sessions a day"
    )
    args = parser.parse_args()
    if args.backend == "postgres":
        if args.bench not in ("store", "executor"):
            parser.error("--backend postgres applies to the store and executor benchmarks")
        dsn = os.environ.get("EVENTSVC_BENCH_POSTGRES_DSN") or os.environ.get(
            "EVENTSVC_TEST_POSTGRES_DSN"
        )
        if not dsn:
            parser.error("set EVENTSVC_BENCH_POSTGRES_DSN (or source tools/postgres.sh)")
        if args.bench == "executor":
            figures = anyio.run(
                executor_postgres.bench_executor_postgres, dsn, max(1, args.processes)
            )
        else:
            figures = anyio.run(store_postgres.bench_store_postgres, dsn, args.events)
        print_table(args.bench, figures, args.json)
        return
    if args.bench == "graph":
        figures = graph.bench_graph()
    elif args.bench == "executor":
        with tempfile.TemporaryDirectory(dir=args.dir) as directory:
            figures, table = anyio.run(executor.bench_executor, Path(directory))
        print_table(args.bench, figures, args.json)
        if not args.json:
            print()
            print(table)
        return
    elif args.bench == "cache":
        with tempfile.TemporaryDirectory(dir=args.dir) as directory:
            figures = anyio.run(cache.bench_cache, Path(directory))
    elif args.bench == "operations":
        with tempfile.TemporaryDirectory(dir=args.dir) as directory:
            figures = anyio.run(operations.bench_operations, Path(directory))
    elif args.bench == "webhooks":
        with tempfile.TemporaryDirectory(dir=args.dir) as directory:
            figures = anyio.run(webhooks.bench_webhooks, Path(directory))
    elif args.bench == "retention":
        sessions = 2_000 if args.quick else 20_000
        with tempfile.TemporaryDirectory(dir=args.dir) as directory:
            figures = anyio.run(retention.bench_retention, Path(directory), sessions)
    elif args.bench == "replay":
        with tempfile.TemporaryDirectory(dir=args.dir) as directory:
            figures = anyio.run(replay.bench_replay, Path(directory), args.events)
    elif args.bench == "dashboard":
        with tempfile.TemporaryDirectory(dir=args.dir) as directory:
            chromium = Path(dashboard.CHROMIUM).exists()
            figures = anyio.run(dashboard.bench_dashboard, Path(directory), chromium)
    elif args.bench == "enqueue":
        with tempfile.TemporaryDirectory(dir=args.dir) as directory:
            figures = anyio.run(enqueue.bench_enqueue, Path(directory))
    else:
        with tempfile.TemporaryDirectory(dir=args.dir) as directory:
            figures = anyio.run(store.bench_store, Path(directory), args.events)
    print_table(args.bench, figures, args.json)


if __name__ == "__main__":
    main()
