"""``store``: the SQLite store's appends (batched, and single events from many writers), reads
and live subscription, each beside the same work done through the raw driver."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import anyio

from benches.common import (
    RAW_INSERT,
    Figure,
    floor_read_eps,
    floor_single_commits,
    percentile,
    raw_connection,
    raw_rows,
    sample_event,
    subscribe_latencies,
    timed,
)
from eventsvc.store import StoreOptions, open_store
from eventsvc.store.sqlite import SCHEMA_SQL, SqliteEventStore


def floor_batched_eps(path: Path, rows: list[tuple[object, ...]], per_call: int) -> float:
    """Raw sqlite3 executemany into the same table and indexes, WAL, synchronous=FULL."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.executescript(SCHEMA_SQL)
    started = time.perf_counter()
    for i in range(0, len(rows), per_call):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(RAW_INSERT, rows[i : i + per_call])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return len(rows) / elapsed


async def floor_wakeup_ms(path: Path, rows: list[tuple[object, ...]]) -> list[float]:
    """Insert + commit + an in-process wake-up of a waiting task, without the store."""
    conn = await raw_connection(path)
    latencies: list[float] = []
    send, receive = anyio.create_memory_object_stream[float](len(rows))

    async def listener() -> None:
        async with receive:
            async for started in receive:
                latencies.append((time.perf_counter() - started) * 1000)

    async with anyio.create_task_group() as tg:
        tg.start_soon(listener)
        async with send:
            for row in rows:
                started = time.perf_counter()
                await conn.execute("BEGIN IMMEDIATE")
                await conn.execute(RAW_INSERT, row)
                await conn.execute("COMMIT")
                send.send_nowait(started)
    await conn.close()
    return latencies


async def bench_store(directory: Path, total: int) -> list[Figure]:
    per_call, writers, singles, probes = 1000, 64, 3200, 400
    events = [sample_event(n) for n in range(total)]
    figures: list[Figure] = []

    # append_batched_eps
    floor = floor_batched_eps(directory / "raw-batched.db", raw_rows(total), per_call)
    url = f"sqlite://{directory / 'batched.db'}"
    async with open_store(url) as store:

        async def append_batches() -> None:
            for i in range(0, total, per_call):
                await store.append(f"s{i // per_call}", events[i : i + per_call])

        elapsed = await timed(append_batches)
    figures.append(Figure("append_batched_eps", total / elapsed, "events/s", floor, ">= 0.6"))

    # read_all_eps, over the log just written: best of three, floor and store alternating
    floors, elapsed_runs = [], []
    async with open_store(url, read_only=True) as store:

        async def read_everything() -> None:
            after = 0
            while page := await store.read_all(after=after, limit=per_call):
                after = page[-1].position

        for _ in range(3):
            floors.append(await floor_read_eps(str(directory / "batched.db"), total, per_call))
            elapsed_runs.append(await timed(read_everything))
    figures.append(
        Figure("read_all_eps", total / min(elapsed_runs), "events/s", max(floors), ">= 0.35")
    )

    # append_concurrent_eps and events_per_commit
    floor = await floor_single_commits(directory / "raw-single.db", raw_rows(singles // 4))
    async with open_store(f"sqlite://{directory / 'concurrent.db'}") as store:
        assert isinstance(store, SqliteEventStore)

        async def writer(n: int) -> None:
            for i in range(singles // writers):
                await store.append(f"w{n}", [events[i]])

        async def all_writers() -> None:
            async with anyio.create_task_group() as tg:
                for n in range(writers):
                    tg.start_soon(writer, n)

        elapsed = await timed(all_writers)
        commits = store.commits
    figures.append(Figure("append_concurrent_eps", singles / elapsed, "events/s", floor, ">= 5"))
    figures.append(Figure("events_per_commit", singles / commits, "events", None))

    # subscribe_p50_ms / subscribe_p99_ms
    floor_latencies = await floor_wakeup_ms(directory / "raw-wakeup.db", raw_rows(probes))
    options = StoreOptions(subscriber_buffer=probes + 1)
    async with open_store(f"sqlite://{directory / 'subscribe.db'}", options=options) as store:
        latencies = await subscribe_latencies(store, events[:probes])
    for name, fraction in (("subscribe_p50_ms", 0.5), ("subscribe_p99_ms", 0.99)):
        value, floor = percentile(latencies, fraction), percentile(floor_latencies, fraction)
        figures.append(Figure(name, value, "ms", floor, "<= 2"))
    return figures
