"""Benchmarks: each figure beside a physical floor measured in the same run, same driver.

    python tools/bench.py store [--json] [--events N] [--dir DIR]
    python tools/bench.py store --backend postgres [--json] [--events N]
    python tools/bench.py graph [--json]
    python tools/bench.py enqueue [--json] [--dir DIR]
    python tools/bench.py executor [--json] [--dir DIR]
    python tools/bench.py executor --backend postgres [--processes N] [--json]
    python tools/bench.py replay [--json] [--events N] [--dir DIR]
    python tools/bench.py cache [--json] [--dir DIR]

Machines are shared and noisy: compare ratios, not absolute times. A benchmark never asserts;
the targets are printed for the reader.

The PostgreSQL figures run on the server in EVENTSVC_BENCH_POSTGRES_DSN (else
EVENTSVC_TEST_POSTGRES_DSN), each in a schema of its own, dropped afterwards.

``executor --backend postgres --processes 3`` runs batches of chains of ``add`` nodes (each
session from its own input, so none is served from the invocation cache) on real ``eventsvc
serve`` processes with two workers each, each batch timed from its enqueue until its last
session ended; the best of two batches, one after another on the same processes, counts.
``pg_nodes_per_s_1proc`` is a batch on one such process, beside the physical floor of its
cost model: single-row durable commits per second through asyncpg into a plain table, from as
many connections as the process has workers (a worker needs one commit per node).
``pg_nodes_per_s_3proc`` is the same batch on 3 processes (``--processes``) beside the one
process figure of the same run: the ratio is what scaling out gained on this machine (on one
small machine the processes share its cores with each other and the server). The processes
start one after another, each serving before the next starts; startup is not timed.

``executor``'s ``nodes_per_s_200_subscribers`` runs a 2,000-session batch of three nodes on a
fresh ``eventsvc serve`` (SQLite, one worker) while 200 SSE subscribers follow
``/api/v1/events`` live from a client process of their own (``tools/subscribers.py``); its
floor is the same batch on a fresh server without them. Both are read from the log: nodes over
the recorded_at span from the first session.started to the last session end. Beside it: how
many subscribers got every event exactly once, how often they resumed, how long after the last
event the last of them had it, and how many writes a second each received.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
import anyio
import psutil
from anyio.streams.buffered import BufferedByteReceiveStream

from eventsvc.artifacts import FileArtifactStore
from eventsvc.audit import audit
from eventsvc.batches import Batch, BatchDatum
from eventsvc.config import Settings
from eventsvc.events import CODEC, SESSION_ENDED, BatchEnqueued, SessionStarted
from eventsvc.execution import GraphExecutionState
from eventsvc.executor import Executor
from eventsvc.graph import parse_graph
from eventsvc.service import Service
from eventsvc.stats import render_table
from eventsvc.store import EventFilter, EventStore, StoreOptions, open_store
from eventsvc.store.builtin import open_projected
from eventsvc.store.projection import projected
from eventsvc.store.sqlite import SCHEMA_SQL, SqliteEventStore
from eventsvc.testing import FakeContext, append_traffic


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    floor: float | None
    target: str = ""

    @property
    def ratio(self) -> float | None:
        return None if not self.floor else self.value / self.floor


def print_table(bench: str, figures: list[Figure], as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                {
                    "bench": bench,
                    "figures": {
                        f.name: {
                            "value": f.value,
                            "unit": f.unit,
                            "floor": f.floor,
                            "ratio": f.ratio,
                        }
                        for f in figures
                    },
                }
            )
        )
        return
    width = max(24, *(len(f.name) for f in figures))
    print(f"{'figure':<{width}} {'value':>12} {'floor':>12} {'unit':<8} {'ratio':>7}  target")
    for f in figures:
        floor = "-" if f.floor is None else f"{f.floor:,.2f}"
        ratio = "-" if f.ratio is None else f"{f.ratio:.2f}"
        print(f"{f.name:<{width}} {f.value:>12,.2f} {floor:>12} {f.unit:<8} {ratio:>7}  {f.target}")


# --- store ----------------------------------------------------------------------------------


def sample_event(n: int) -> SessionStarted:
    return SessionStarted(
        queue_id="default", batch_id="bench", session_id=f"bench.{n}", worker_id="worker-1"
    )


def raw_rows(count: int) -> list[tuple[object, ...]]:
    """Rows shaped like the store's, with the same payload bytes, for the raw floors."""
    rows = []
    for n in range(count):
        data = CODEC.encode(sample_event(n)).decode()
        rows.append(
            (
                n + 1,
                f"s{n % 100}",
                n // 100,
                str(uuid.uuid4()),
                "session.started",
                1,
                1_767_225_600_000_000,
                data,
                "{}",
                os.urandom(32),
            )
        )
    return rows


_RAW_INSERT = (
    "INSERT INTO events (position, stream, version, event_id, tag, schema_version, recorded_at, "
    "data, metadata, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def floor_batched_eps(path: Path, rows: list[tuple[object, ...]], per_call: int) -> float:
    """Raw sqlite3 executemany into the same table and indexes, WAL, synchronous=FULL."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.executescript(SCHEMA_SQL)
    started = time.perf_counter()
    for i in range(0, len(rows), per_call):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(_RAW_INSERT, rows[i : i + per_call])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return len(rows) / elapsed


async def raw_connection(path: Path) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA synchronous = FULL")
    await conn.executescript(SCHEMA_SQL)
    return conn


async def floor_single_commits(path: Path, rows: list[tuple[object, ...]]) -> float:
    """One durable commit per event from one writer through aiosqlite."""
    conn = await raw_connection(path)
    started = time.perf_counter()
    for row in rows:
        await conn.execute("BEGIN IMMEDIATE")
        await conn.execute(_RAW_INSERT, row)
        await conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    await conn.close()
    return len(rows) / elapsed


async def floor_read_eps(path: str, total: int, page: int) -> float:
    """The same rows read in pages through aiosqlite, not decoded."""
    async with aiosqlite.connect(f"file:{path}?mode=ro", uri=True) as conn:
        started = time.perf_counter()
        after, seen = 0, 0
        while rows := list(
            await conn.execute_fetchall(
                "SELECT position, stream, version, event_id, tag, schema_version, recorded_at, "
                "data, metadata, hash FROM events WHERE position > ? ORDER BY position LIMIT ?",
                (after, page),
            )
        ):
            after, seen = rows[-1][0], seen + len(rows)
        elapsed = time.perf_counter() - started
    assert seen == total
    return total / elapsed


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
                await conn.execute(_RAW_INSERT, row)
                await conn.execute("COMMIT")
                send.send_nowait(started)
    await conn.close()
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def timed(work: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


async def subscribe_latencies(store: EventStore, events: list[SessionStarted]) -> list[float]:
    """Milliseconds from the start of each append to its delivery to a live subscriber of an
    empty store, one append at a time."""
    latencies: list[float] = []
    starts: dict[int, float] = {}
    async with store.subscribe() as subscription, anyio.create_task_group() as tg:

        async def listen() -> None:
            async for event in subscription:
                latencies.append((time.perf_counter() - starts[event.position]) * 1000)
                if len(latencies) == len(events):
                    return

        tg.start_soon(listen)
        await subscription.wait_live()
        for n, event in enumerate(events):
            starts[n + 1] = time.perf_counter()
            await store.append("probe", [event])
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


# --- store on PostgreSQL --------------------------------------------------------------------

_PG_PLAIN = """
CREATE TABLE plain (
    position BIGINT PRIMARY KEY, stream TEXT NOT NULL, version BIGINT NOT NULL,
    event_id TEXT NOT NULL UNIQUE, tag TEXT NOT NULL, schema_version BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, hash BYTEA NOT NULL
);
CREATE SEQUENCE plain_position;
"""
_PG_PLAIN_COLUMNS = (
    "stream, version, event_id, tag, schema_version, recorded_at, data, metadata, hash"
)


def pg_url(dsn: str, schema: str) -> str:
    """The DSN with the store (or a floor's tables) in a schema of its own."""
    return f"{dsn}{'&' if '?' in dsn else '?'}search_path={schema}"


@asynccontextmanager
async def pg_schema(dsn: str, ddl: str = "") -> AsyncIterator[str]:
    """A fresh schema (with ``ddl`` run in it) for the block, dropped afterwards."""
    import asyncpg

    schema = f"eventsvc_bench_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}; SET search_path = {schema}; {ddl}")
        yield schema
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()


async def pg_floor_batched_eps(dsn: str, rows: list[tuple[object, ...]], per_call: int) -> float:
    """Raw asyncpg executemany into a table with the store's columns and unique indexes."""
    import asyncpg

    from eventsvc.store.postgres import SCHEMA_SQL as PG_SCHEMA_SQL

    insert = (
        "INSERT INTO events (position, stream, version, event_id, tag, schema_version, "
        "recorded_at, data, metadata, hash, batch) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    )
    async with pg_schema(dsn, PG_SCHEMA_SQL) as schema:
        conn = await asyncpg.connect(pg_url(dsn, schema))
        try:
            started = time.perf_counter()
            for i in range(0, len(rows), per_call):
                async with conn.transaction():
                    await conn.executemany(insert, [(*row, i) for row in rows[i : i + per_call]])
            elapsed = time.perf_counter() - started
        finally:
            await conn.close()
    return len(rows) / elapsed


async def pg_floor_concurrent_eps(
    dsn: str, rows: list[tuple[object, ...]], connections: int, *, locked: bool
) -> float:
    """Single-event durable transactions from ``connections`` connections at once into a plain
    table: gap-free the conventional way (each transaction takes ``LOCK TABLE ... IN EXCLUSIVE
    MODE`` and the next position after the maximum), or unordered (a sequence, no lock)."""
    import asyncpg

    position = (
        "(SELECT coalesce(max(position), 0) + 1 FROM plain)"
        if locked
        else "nextval('plain_position')"
    )
    insert = (
        f"INSERT INTO plain (position, {_PG_PLAIN_COLUMNS}) "
        f"VALUES ({position}, $1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )
    share = len(rows) // connections

    async def writer(conn: Any, mine: list[tuple[object, ...]]) -> None:
        for row in mine:
            async with conn.transaction():
                if locked:
                    await conn.execute("LOCK TABLE plain IN EXCLUSIVE MODE")
                await conn.execute(insert, *row[1:])

    async with pg_schema(dsn, _PG_PLAIN) as schema:
        conns = [await asyncpg.connect(pg_url(dsn, schema)) for _ in range(connections)]
        try:
            started = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for n, conn in enumerate(conns):
                    tg.start_soon(writer, conn, rows[n * share : (n + 1) * share])
            elapsed = time.perf_counter() - started
        finally:
            for conn in conns:
                await conn.close()
    return share * connections / elapsed


async def pg_floor_sealing_protocol_eps(
    dsn: str, rows: list[tuple[object, ...]], connections: int
) -> float:
    """The sealing protocol's own database work, with as little Python as it can have: each of
    ``connections`` writers (each with a listening connection, as a process has) inserts an
    unsealed row and a NOTIFY, committed asynchronously, and waits on a plain asyncio future;
    one sealer reads the unsealed rows, chains sha256 over them, seals them in one synchronous
    statement whose NOTIFY names the batches it sealed, and waits for the writers it released,
    as the store's does. No stream version rows, no lease or fence, no anyio: the store over
    this is what its own bookkeeping costs, and this over the LOCK TABLE floor is what the
    design can reach on this machine."""
    import asyncio
    import hashlib

    import asyncpg

    from eventsvc.store.postgres import SCHEMA_SQL as PG_SCHEMA_SQL

    insert = (
        "INSERT INTO events (stream, version, event_id, tag, schema_version, data, metadata, "
        "batch) VALUES ($1, $2, $3, $4, $5, $6, $7, nextval('events_batch')) "
        "RETURNING batch, pg_notify($8, '')"
    )
    seal = (
        "WITH s AS (UPDATE events e SET position = $1 + u.n, recorded_at = $2, hash = u.h "
        "FROM unnest($3::bigint[], $4::bytea[]) WITH ORDINALITY AS u(b, h, n) "
        "WHERE e.batch = u.b AND e.position IS NULL RETURNING 1) "
        "SELECT count(*), pg_notify($6, $5) FROM s"
    )
    # Channels are the database's, not the schema's: named after the schema, like the store's.
    channel = {"sealed": "", "unsealed": ""}
    share = len(rows) // connections
    arrived = [asyncio.Event()]
    count = [0]  # appends heard of since the sealer last read, or last sealed
    done = False

    def on_unsealed(*_: object) -> None:
        count[0] += 1
        arrived[0].set()

    async def wait_for_arrivals(wanted: int, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while count[0] < wanted:
                    arrived[0] = asyncio.Event()
                    await arrived[0].wait()

    async def seal_forever(conn: Any) -> None:
        position, previous = 0, bytes(32)
        while not done:
            count[0] = 0  # what arrives from here on, the read may miss
            unsealed = await conn.fetch(
                "SELECT batch, event_id, data FROM events WHERE position IS NULL "
                "ORDER BY batch LIMIT 10000"
            )
            if not unsealed:
                await wait_for_arrivals(1, 0.05)
                continue
            started = time.perf_counter()
            hashes = []
            for _, event_id, data in unsealed:
                previous = hashlib.sha256(previous + event_id.encode() + data.encode()).digest()
                hashes.append(previous)
            batches = [row[0] for row in unsealed]
            payload = ",".join(str(b) for b in batches)
            await conn.execute(seal, position, 1, batches, hashes, payload, channel["sealed"])
            position += len(unsealed)
            # The store's gather: wait (as long as the round took) for the writers released.
            count[0] = 0
            await wait_for_arrivals(len(unsealed), time.perf_counter() - started)

    async def write(conn: Any, listener: Any, mine: list[tuple[object, ...]]) -> None:
        waiting: dict[int, asyncio.Future[None]] = {}
        sealed: set[int] = set()  # heard of before the insert's reply was (as the store's _recent)

        def on_sealed(_conn: object, _pid: object, _channel: object, payload: str) -> None:
            for batch in map(int, payload.split(",")):
                future = waiting.pop(batch, None)
                if future is None:
                    sealed.add(batch)
                else:
                    future.set_result(None)

        await listener.add_listener(channel["sealed"], on_sealed)
        loop = asyncio.get_running_loop()
        for row in mine:
            batch, _ = await conn.fetchrow(insert, *row[1:6], row[7], row[8], channel["unsealed"])
            if batch in sealed:
                sealed.discard(batch)
                continue
            future = waiting[batch] = loop.create_future()
            await future

    async with pg_schema(dsn, PG_SCHEMA_SQL) as schema:
        channel.update({name: f"{schema}_{name}" for name in channel})
        url = pg_url(dsn, schema)
        sealer = await asyncpg.connect(url)
        await sealer.add_listener(channel["unsealed"], on_unsealed)
        writers = [
            await asyncpg.connect(url, server_settings={"synchronous_commit": "off"})
            for _ in range(connections)
        ]
        listeners = [await asyncpg.connect(url) for _ in range(connections)]
        try:
            sealing = asyncio.ensure_future(seal_forever(sealer))
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    write(conn, listener, rows[n * share : (n + 1) * share])
                    for n, (conn, listener) in enumerate(zip(writers, listeners, strict=True))
                )
            )
            elapsed = time.perf_counter() - started
            done = True
            arrived[0].set()
            await sealing
        finally:
            for conn in (sealer, *writers, *listeners):
                await conn.close()
    return share * connections / elapsed


async def pg_floor_notify_ms(dsn: str, rows: list[tuple[object, ...]]) -> list[float]:
    """Insert + commit + the LISTEN/NOTIFY round trip to another connection, no store."""
    import asyncpg

    insert = (
        f"INSERT INTO plain (position, {_PG_PLAIN_COLUMNS}) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    )
    latencies: list[float] = []
    heard = [anyio.Event()]

    def on_notify(*_: object) -> None:
        heard[0].set()

    async with pg_schema(dsn, _PG_PLAIN) as schema:
        writer = await asyncpg.connect(pg_url(dsn, schema))
        listener = await asyncpg.connect(pg_url(dsn, schema))
        try:
            await listener.add_listener("bench", on_notify)
            for row in rows:
                heard[0] = anyio.Event()
                started = time.perf_counter()
                async with writer.transaction():
                    await writer.execute(insert, *row)
                    await writer.execute("NOTIFY bench")
                await heard[0].wait()
                latencies.append((time.perf_counter() - started) * 1000)
        finally:
            await listener.close()
            await writer.close()
    return latencies


async def pg_wal_flush_ms(dsn: str, commits: int = 500) -> float:
    """What a synchronous commit adds to an asynchronous one (a one-row update): the WAL flush
    that the LOCK TABLE floor holds its lock through, and that one seal round shares."""
    import asyncpg

    async with pg_schema(dsn, "CREATE TABLE flush (n BIGINT); INSERT INTO flush VALUES (0)") as s:
        conn = await asyncpg.connect(pg_url(dsn, s))
        try:
            for _ in range(commits // 5):  # warm: the connection and the statement
                await conn.execute("UPDATE flush SET n = n + 1")
            took = {}
            for mode in ("off", "on"):
                await conn.execute(f"SET synchronous_commit = {mode}")
                started = time.perf_counter()
                for _ in range(commits):
                    await conn.execute("UPDATE flush SET n = n + 1")
                took[mode] = time.perf_counter() - started
        finally:
            await conn.close()
    return max(0.0, took["on"] - took["off"]) / commits * 1000


async def bench_store_postgres(dsn: str, total: int) -> list[Figure]:
    per_call, stores, singles, probes = 1000, 8, 3200, 400
    events = [sample_event(n) for n in range(total)]
    figures: list[Figure] = []

    # pg_append_batched_eps
    floor = await pg_floor_batched_eps(dsn, raw_rows(total), per_call)
    async with pg_schema(dsn) as schema, open_store(pg_url(dsn, schema)) as store:

        async def append_batches() -> None:
            for i in range(0, total, per_call):
                await store.append(f"s{i // per_call}", events[i : i + per_call])

        elapsed = await timed(append_batches)
    figures.append(Figure("pg_append_batched_eps", total / elapsed, "events/s", floor, ">= 0.35"))

    # pg_append_concurrent_eps and pg_append_concurrent_vs_plain: 8 stores (as 8 processes
    # would), each appending single events one after another
    locked = await pg_floor_concurrent_eps(dsn, raw_rows(singles), stores, locked=True)
    plain = await pg_floor_concurrent_eps(dsn, raw_rows(singles), stores, locked=False)
    async with pg_schema(dsn) as schema, AsyncExitStack() as stack:
        opened = [
            await stack.enter_async_context(open_store(pg_url(dsn, schema))) for _ in range(stores)
        ]

        async def writer(n: int) -> None:
            for i in range(singles // stores):
                await opened[n].append(f"w{n}", [events[i]])

        async def all_writers() -> None:
            async with anyio.create_task_group() as tg:
                for n in range(stores):
                    tg.start_soon(writer, n)

        value = singles / await timed(all_writers)
    figures.append(Figure("pg_append_concurrent_eps", value, "events/s", locked, ">= 2"))
    figures.append(Figure("pg_append_concurrent_vs_plain", value, "events/s", plain))
    protocol = await pg_floor_sealing_protocol_eps(dsn, raw_rows(singles), stores)
    figures.append(Figure("pg_append_concurrent_vs_protocol", value, "events/s", protocol))
    figures.append(Figure("pg_wal_flush_ms", await pg_wal_flush_ms(dsn), "ms", None))

    # pg_subscribe_p50_ms / pg_subscribe_p99_ms
    floor_latencies = await pg_floor_notify_ms(dsn, raw_rows(probes))
    options = StoreOptions(subscriber_buffer=probes + 1)
    async with pg_schema(dsn) as schema, open_store(pg_url(dsn, schema), options=options) as store:
        latencies = await subscribe_latencies(store, events[:probes])
    for name, fraction in (("pg_subscribe_p50_ms", 0.5), ("pg_subscribe_p99_ms", 0.99)):
        value, floor = percentile(latencies, fraction), percentile(floor_latencies, fraction)
        figures.append(Figure(name, value, "ms", floor, "<= 4"))
    return figures


# --- graph ----------------------------------------------------------------------------------


def edge(source: str, destination: str) -> dict[str, dict[str, str]]:
    """An edge from ``"node.field"`` to ``"node.field"``."""
    (s_node, s_field), (d_node, d_field) = source.split("."), destination.split(".")
    return {"source": {"node_id": s_node, "field": s_field},
            "destination": {"node_id": d_node, "field": d_field}}  # fmt: skip


def kahn(edges: list[tuple[int, int]], count: int) -> list[int]:
    """The floor: a plain topological sort of the same edges."""
    indegree = [0] * count
    successors: list[list[int]] = [[] for _ in range(count)]
    for source, destination in edges:
        successors[source].append(destination)
        indegree[destination] += 1
    ready = [n for n in range(count) if indegree[n] == 0]
    order = []
    while ready:
        node = ready.pop()
        order.append(node)
        for successor in successors[node]:
            indegree[successor] -= 1
            if indegree[successor] == 0:
                ready.append(successor)
    return order


def best_of(runs: int, work: Callable[[], object]) -> float:
    """The fastest of ``runs`` timings, in seconds (the least disturbed by other load)."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return min(timings)


def wide_graph(count: int) -> tuple[dict[str, object], list[tuple[int, int]]]:
    """``count`` add nodes, each fed by the two before it (a DAG with two edges a node)."""
    nodes = {f"n{i}": {"type": "add", "id": f"n{i}", "a": 1, "b": 1} for i in range(count)}
    pairs = [(i - 1, i) for i in range(1, count)] + [(i - 2, i) for i in range(2, count)]
    edges = [
        {
            "source": {"node_id": f"n{s}", "field": "value"},
            "destination": {"node_id": f"n{d}", "field": "a" if d - s == 1 else "b"},
        }
        for s, d in pairs
    ]
    return {"nodes": nodes, "edges": edges}, pairs


def bench_graph() -> list[Figure]:
    figures = []
    document, pairs = wide_graph(1000)
    value = best_of(5, lambda: parse_graph(document)) * 1000
    floor = best_of(5, lambda: kahn(pairs, 1000)) * 1000
    figures.append(Figure("validate_1000_ms", value, "ms", floor, "<= 50 ms"))

    items = 5000
    graph = parse_graph({
        "nodes": {
            "r": {"type": "range", "id": "r", "start": 0, "stop": items},
            "it": {"type": "iterate", "id": "it"},
            "add": {"type": "add", "id": "add", "b": 1},
        },
        "edges": [edge("r.collection", "it.collection"), edge("it.item", "add.a")],
    })  # fmt: skip
    context = FakeContext()
    state = GraphExecutionState(graph)
    stepping, steps = 0.0, 0
    while True:
        started = time.perf_counter()
        node = state.next()
        stepping += time.perf_counter() - started
        if node is None:
            break
        output = node.invoke(context)
        started = time.perf_counter()
        state.complete(node.id, output)
        stepping += time.perf_counter() - started
        steps += 1
    expanded = [(0, 1 + i) for i in range(items)] + [(1 + i, 1 + items + i) for i in range(items)]
    floor = best_of(5, lambda: kahn(expanded, steps)) / steps * 1e6
    figures.append(Figure("step_us", stepping / steps * 1e6, "us", floor, "<= 50 us"))
    figures.append(Figure("expanded_nodes", steps, "nodes", None))
    return figures


# --- enqueue --------------------------------------------------------------------------------


class PeakRss:
    """Samples this process's RSS every millisecond while in use; ``growth`` is peak - start."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._stop = threading.Event()
        self.start = self.peak = self._process.memory_info().rss

    def _sample(self) -> None:
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 2**20


def floor_one_row_ms(path: Path, payload: bytes) -> float:
    """The same event bytes inserted as one raw sqlite3 row, durably committed."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.executescript(SCHEMA_SQL)
    timings = []
    for n in range(3):
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            _RAW_INSERT,
            (
                n + 1,
                f"batch-{n}",
                0,
                str(uuid.uuid4()),
                "batch.enqueued",
                1,
                1,
                payload.decode(),
                "{}",
                os.urandom(32),
            ),
        )
        conn.execute("COMMIT")
        timings.append(time.perf_counter() - started)
    conn.close()
    return min(timings) * 1000


def enqueue_graph() -> Any:
    return parse_graph({"nodes": {"add": {"type": "add", "id": "add"}}})


def one_datum(batch_id: str, items: int) -> Batch:
    data = [[BatchDatum(node_path="add", field_name="a", items=list(range(items)))]]
    return Batch(batch_id=batch_id, graph=enqueue_graph(), data=data)


async def timed_enqueue(service: Service, batch: Batch) -> float:
    """From the call until the projection answers for the new batch, in ms."""
    started = time.perf_counter()
    await service.enqueue_batch("bench", batch)
    await service.queue.batch_status(batch.batch_id)
    return (time.perf_counter() - started) * 1000


async def best_query_ms(work: Callable[[], Awaitable[object]], runs: int = 20) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        timings.append(time.perf_counter() - started)
    return min(timings) * 1000


async def bench_enqueue(directory: Path) -> list[Figure]:
    figures: list[Figure] = []
    settings = Settings(
        store_url=f"sqlite://{directory / 'enqueue.db'}",
        max_batch_sessions=10**7,
        max_queue_uninitialized=10**8,
    )
    async with Service.open(settings) as service:
        await timed_enqueue(service, one_datum("warmup", 10))
        for name, items in (("enqueue_5000_ms", 5000), ("enqueue_100000_ms", 100_000)):
            batch = one_datum(name, items)
            payload = CODEC.encode(_event_of(batch))
            floor = floor_one_row_ms(directory / f"raw-{name}.db", payload)
            if items == 100_000:
                with PeakRss() as rss:
                    value = await timed_enqueue(service, batch)
            else:
                value = await timed_enqueue(service, batch)
            target = "<= 5 ms" if items == 5000 else "<= 60 ms"
            figures.append(Figure(name, value, "ms", floor, target))
        figures.append(Figure("enqueue_100000_rss_mb", rss.growth_mb, "MB", None, "<= 30 MB"))

        thousand = list(range(1000))
        product = Batch(
            batch_id="million",
            graph=enqueue_graph(),
            data=[
                [BatchDatum(node_path="add", field_name="a", items=thousand)],
                [BatchDatum(node_path="add", field_name="b", items=thousand)],
            ],
        )
        floor = floor_one_row_ms(directory / "raw-million.db", CODEC.encode(_event_of(product)))
        value = await timed_enqueue(service, product)
        figures.append(Figure("enqueue_1m_product_ms", value, "ms", floor, "<= 10 ms"))

        sql = "SELECT session_count FROM queue_batches WHERE batch_id = ?"
        lookup = await best_query_ms(lambda: service.store.query(sql, ("million",)))
        queue = service.queue
        for name, work in (
            ("queue_status_1m_ms", lambda: queue.queue_status("bench")),
            ("next_session_1m_ms", lambda: queue.next_session("bench")),
            (
                "list_page_1m_ms",
                lambda: queue.list_sessions("bench", batch_id="million", after="million.499999"),
            ),
        ):
            figures.append(Figure(name, await best_query_ms(work), "ms", lookup, "<= 2 ms"))
        status = await queue.queue_status("bench")
        figures.append(
            Figure("uninitialized_queued", status.counts.uninitialized, "sessions", None)
        )
    return figures


def _event_of(batch: Batch) -> BatchEnqueued:
    from eventsvc.events import BatchDatum as Datum

    return BatchEnqueued(
        queue_id="bench",
        batch_id=batch.batch_id,
        graph=batch.graph.model_dump(mode="json"),
        data=[
            [Datum(node_path=d.node_path, field_name=d.field_name, items=d.items) for d in g]
            for g in batch.data
        ],
        session_count=batch.session_count,
    )


# --- executor -------------------------------------------------------------------------------


def chain_graph(length: int) -> Any:
    nodes = {f"n{i}": {"type": "add", "id": f"n{i}", "b": 1} for i in range(length)}
    edges = [
        {
            "source": {"node_id": f"n{i - 1}", "field": "value"},
            "destination": {"node_id": f"n{i}", "field": "a"},
        }
        for i in range(1, length)
    ]
    return parse_graph({"nodes": nodes, "edges": edges})


async def run_until_done(service: Service, batch_id: str, sessions: int) -> float:
    """Seconds from starting one worker until every session of the batch has ended."""
    head = await service.store.head()
    async with (
        anyio.create_task_group() as tg,
        service.store.subscribe(after=head, filter=EventFilter(tags=SESSION_ENDED)) as subscription,
    ):
        started = time.perf_counter()
        await tg.start(Executor(service, workers=1).run)
        done = 0
        async for event in subscription:
            done += event.data.batch_id == batch_id  # type: ignore[attr-defined]
            if done == sessions:
                break
        elapsed = time.perf_counter() - started
        tg.cancel_scope.cancel()
    return elapsed


async def bench_executor(directory: Path) -> tuple[list[Figure], str]:
    figures: list[Figure] = []
    floor = await floor_single_commits(directory / "raw-commits.db", raw_rows(400))
    settings = Settings(
        store_url=f"sqlite://{directory / 'executor.db'}",
        artifacts_dir=str(directory / "artifacts"),
    )
    async with Service.open(settings) as service:
        sessions, length = 5, 100
        # Each session from its own input: nothing comes from the invocation cache, so every
        # node runs (and is looked up and cached as a miss).
        starts = [s * 1_000_000 for s in range(sessions)]  # chains that never meet
        inputs = [[BatchDatum(node_path="n0", field_name="a", items=starts)]]
        await service.enqueue_batch(
            "default", Batch(batch_id="chain", graph=chain_graph(length), data=inputs)
        )
        commits = service.store.commits
        elapsed = await run_until_done(service, "chain", sessions)
        nodes = sessions * length
        figures.append(Figure("nodes_per_s", nodes / elapsed, "nodes/s", floor, ">= 0.4"))
        figures.append(
            Figure("commits_per_node", (service.store.commits - commits) / nodes, "commits", None)
        )

        three = parse_graph({
            "nodes": {"a": {"type": "add", "id": "a"},
                      "m": {"type": "multiply", "id": "m", "b": 3},
                      "s": {"type": "subtract", "id": "s", "b": 1}},
            "edges": [edge("a.value", "m.a"), edge("m.value", "s.a")],
        })  # fmt: skip
        data = [[BatchDatum(node_path="a", field_name="a", items=list(range(1000)))]]
        await service.enqueue_batch("default", Batch(batch_id="thousand", graph=three, data=data))
        elapsed = await run_until_done(service, "thousand", 1000)
        figures.append(Figure("batch_1000_s", elapsed, "s", None))
        table = render_table(await service.stats.batch("thousand"))
    alone = await served_nodes_per_s(directory / "alone", 0)
    loaded = await served_nodes_per_s(directory / "loaded", SUBSCRIBERS)
    figures.append(
        Figure(
            f"nodes_per_s_{SUBSCRIBERS}_subscribers",
            loaded.nodes_per_s,
            "nodes/s",
            alone.nodes_per_s,
            ">= 0.5 (vs none)",
        )
    )
    figures.append(Figure("subscribers_exactly_once", loaded.exactly_once, "subs", SUBSCRIBERS))
    figures.append(Figure("subscriber_resumes", loaded.resumes, "resumes", None))
    figures.append(Figure("subscribers_drained_s", loaded.drained_s, "s", None))
    figures.append(Figure("subscriber_writes_per_s", loaded.writes_per_s, "writes", None))
    return figures, table


# --- executor with SSE subscribers ----------------------------------------------------------

SUBSCRIBERS = 200
SERVED_SESSIONS = 2000


@dataclass
class Served:
    """A batch run by ``eventsvc serve``: its throughput from the log, and what the SSE
    subscribers (if any) received."""

    nodes_per_s: float
    span_s: float
    exactly_once: int = 0
    resumes: int = 0
    drained_s: float = 0.0
    writes_per_s: float = 0.0  # chunks each subscriber received a second, on average


@dataclass
class SubscriberLoad:
    """The process of ``tools/subscribers.py`` and its stdout, read a line at a time."""

    process: Any
    lines: BufferedByteReceiveStream


def three_node_batch(batch_id: str, sessions: int) -> Batch:
    """``add -> multiply -> subtract``, each session from its own input (no cache hits)."""
    graph = parse_graph({
        "nodes": {"a": {"type": "add", "id": "a"},
                  "m": {"type": "multiply", "id": "m", "b": 3},
                  "s": {"type": "subtract", "id": "s", "b": 1}},
        "edges": [edge("a.value", "m.a"), edge("m.value", "s.a")],
    })  # fmt: skip
    data = [[BatchDatum(node_path="a", field_name="a", items=list(range(sessions)))]]
    return Batch(batch_id=batch_id, graph=graph, data=data)


async def served_nodes_per_s(directory: Path, subscribers: int) -> Served:
    """A batch on a fresh ``eventsvc serve`` (SQLite, one worker) with ``subscribers`` live SSE
    subscribers in a client process of their own. The throughput is read from the log: nodes
    over the recorded_at span from the batch's first session.started to its last session end.
    The subscribers are then given the head and checked: every event after the position they
    joined at, exactly once and in order (resuming with Last-Event-ID counts as one stream)."""
    import httpx

    from eventsvc.client import EventsvcClient

    await anyio.Path(directory).mkdir()
    url = f"sqlite://{directory / 'events.db'}"
    process, base = await serve_process(url, directory, 0, workers=1)
    load: SubscriberLoad | None = None
    try:
        async with (
            EventsvcClient(base) as client,
            httpx.AsyncClient(base_url=base, timeout=10) as http,
            open_store(url, read_only=True) as follower,
        ):
            after = await follower.head()
            if subscribers:
                load = await subscriber_process(base, subscribers, after, http)
            batch = three_node_batch("served", SERVED_SESSIONS)
            ended = EventFilter(tags=SESSION_ENDED)
            async with follower.subscribe(after=after, filter=ended) as subscription:
                await client.enqueue_batch("default", batch)
                done = 0
                async for _ in subscription:
                    done += 1
                    if done == SERVED_SESSIONS:
                        break
            head = await follower.head()
            span = await log_span_s(follower, after)
            served = Served(SERVED_SESSIONS * len(batch.graph.nodes) / span, span)
            if load is not None:
                await finish_subscribers(load, head, follower, served)
    finally:
        with anyio.CancelScope(shield=True):
            for child in (load and load.process, process):
                if child is not None and child.returncode is None:
                    child.send_signal(signal.SIGTERM)
                    with anyio.move_on_after(10):
                        await child.wait()
                    if child.returncode is None:
                        child.kill()
                        await child.wait()
                if child is not None:
                    await child.aclose()
    return served


async def log_span_s(store: EventStore, after: int) -> float:
    """Seconds from the first session.started to the last session end after ``after``."""
    first = last = None
    while page := await store.read_all(after=after, limit=5000):
        for event in page:
            if first is None and event.tag == "session.started":
                first = event.recorded_at
            if event.tag in SESSION_ENDED:
                last = event.recorded_at
        after = page[-1].position
    if first is None or last is None:
        raise RuntimeError("the benchmark batch left no sessions in the log")
    return (last - first) / 1e6


async def subscriber_process(base: str, count: int, after: int, http: Any) -> SubscriberLoad:
    """``tools/subscribers.py``, once all its streams answered and the server counts them."""

    async def subscribed() -> int:
        return int((await http.get("/api/v1/health")).json()["subscribers"])

    script = Path(__file__).with_name("subscribers.py")
    before = await subscribed()
    process = await anyio.open_process(
        [sys.executable, str(script), base, str(count), str(after)], stderr=None
    )
    assert process.stdout is not None
    load = SubscriberLoad(process, BufferedByteReceiveStream(process.stdout))
    with anyio.fail_after(60):
        ready = await load.lines.receive_until(b"\n", 1 << 20)
        if ready != b"ready":
            raise RuntimeError(f"the subscribers did not start: {ready!r}")
        while True:
            if await subscribed() >= before + count:
                break
            await anyio.sleep(0.05)
    return load


async def finish_subscribers(
    load: SubscriberLoad, head: int, store: EventStore, served: Served
) -> None:
    """Tell the subscribers the head; record what they received and when the last had it."""
    assert load.process.stdin is not None
    await load.process.stdin.send(f"{head}\n".encode())
    with anyio.fail_after(330):
        result = json.loads(await load.lines.receive_until(b"\n", 1 << 20))
    last = (await store.read_all(after=head - 1, limit=1))[0]
    served.exactly_once = result["exactly_once"]
    served.resumes = result["reconnects"]
    served.drained_s = max(0.0, result["reached_at"] - last.recorded_at / 1e6)
    served.writes_per_s = result["chunks"] / result["subscribers"] / served.span_s


# --- executor on PostgreSQL -----------------------------------------------------------------

PG_WORKERS = 2  # workers in each service process


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def serve_process(
    url: str, directory: Path, n: int, workers: int = PG_WORKERS
) -> tuple[Any, str]:
    """``eventsvc serve`` on the store at ``url``, once it answers its health route."""
    import httpx

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "EVENTSVC_TOKEN"}
    command = [sys.executable, "-m", "eventsvc", "serve", "--store", url, "--port", str(port)]
    log = directory / f"serve-{n}.log"
    with log.open("wb") as out:
        process = await anyio.open_process(
            [*command, "--workers", str(workers)], cwd=directory, env=env, stdout=out, stderr=out
        )
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            with anyio.fail_after(60):
                while process.returncode is None:
                    try:
                        if (await http.get("/api/v1/health")).status_code == 200:
                            return process, base
                    except httpx.TransportError:
                        pass
                    await anyio.sleep(0.05)
        raise RuntimeError(f"eventsvc serve exited before serving:\n{log.read_text()}")
    except BaseException:
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
            await process.wait()
            await process.aclose()
        raise


@asynccontextmanager
async def serve_processes(url: str, directory: Path, count: int) -> AsyncIterator[list[str]]:
    """``count`` service processes, started one after another; stopped (SIGTERM, else
    SIGKILL) afterwards."""
    processes: list[Any] = []
    try:
        bases = []
        for n in range(count):
            process, base = await serve_process(url, directory, n)
            processes.append(process)
            bases.append(base)
        yield bases
    finally:
        with anyio.CancelScope(shield=True):
            for process in processes:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes:
                with anyio.move_on_after(10):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()
                await process.aclose()


def pg_chain_batch(batch_id: str, first: int, sessions: int, length: int) -> Batch:
    """Chains of ``add`` nodes, a session per input from ``first`` on: no two sessions of a
    run compute the same node, so none is served from the invocation cache."""
    items = list(range(first, first + sessions))
    data = [[BatchDatum(node_path="n0", field_name="a", items=items)]]
    return Batch(batch_id=batch_id, graph=chain_graph(length), data=data)


async def pg_nodes_per_s(
    dsn: str, processes: int, sessions: int, length: int, runs: int = 2
) -> float:
    """Nodes per second of a batch run by ``processes`` service processes on a fresh schema,
    from the enqueue until a read-only follower has seen every session end; the best of
    ``runs`` batches, one after another on the same processes."""
    from eventsvc.client import EventsvcClient

    ended = EventFilter(tags=SESSION_ENDED)
    best = 0.0
    with tempfile.TemporaryDirectory() as directory:
        async with (
            pg_schema(dsn) as schema,
            serve_processes(pg_url(dsn, schema), Path(directory), processes) as bases,
            open_store(pg_url(dsn, schema), read_only=True) as follower,
            EventsvcClient(bases[0]) as client,
        ):
            for run in range(runs):
                batch = pg_chain_batch(f"chain-{run}", run * sessions, sessions, length)
                head = await follower.head()
                async with follower.subscribe(after=head, filter=ended) as subscription:
                    started = time.perf_counter()
                    await client.enqueue_batch("default", batch)
                    tags: list[str] = []
                    async for event in subscription:
                        tags.append(event.tag)
                        if len(tags) == sessions:
                            break
                    elapsed = time.perf_counter() - started
                if set(tags) != {"session.completed"}:
                    raise RuntimeError(f"a benchmark batch did not complete: {sorted(set(tags))}")
                best = max(best, sessions * length / elapsed)
    return best


async def bench_executor_postgres(dsn: str, processes: int) -> list[Figure]:
    sessions, length = 120, 20
    rows = raw_rows(sessions * length)
    floor = await pg_floor_concurrent_eps(dsn, rows, PG_WORKERS, locked=False)
    one = await pg_nodes_per_s(dsn, 1, sessions, length)
    many = await pg_nodes_per_s(dsn, processes, sessions, length)
    return [
        Figure("pg_nodes_per_s_1proc", one, "nodes/s", floor),
        Figure(f"pg_nodes_per_s_{processes}proc", many, "nodes/s", one, "> 1 (vs 1 process)"),
    ]


async def bench_replay(directory: Path, total: int) -> list[Figure]:
    """Rebuild the queue and stats projections from a log of realistic traffic, and audit it."""
    path = directory / "replay.db"
    options = StoreOptions(synchronous="NORMAL")
    async with open_projected(f"sqlite://{path}", options=options) as store:
        total = await append_traffic(store, total)
        rebuild_s = min([await timed(lambda: store.rebuild("queue", "stats")) for _ in range(3)])
    floor_eps = max([await floor_read_eps(str(path), total, 5000) for _ in range(3)])
    async with open_store(f"sqlite://{path}", read_only=True) as store:
        assert isinstance(store, SqliteEventStore)
        report = await audit(store)
        assert report.clean, report.findings[:5]
        audit_s = min([await timed(lambda: audit(store)) for _ in range(3)])
    return [
        Figure("rebuild_eps", total / rebuild_s, "events/s", floor_eps, ">= 150,000 events/s"),
        Figure("audit_100k_s", audit_s * 100_000 / total, "s", total / floor_eps, "<= 2 s"),
        Figure("log_events", total, "events", None),
    ]


async def bench_cache(directory: Path, entries: int = 100_000, probes: int = 2000) -> list[Figure]:
    """A cache hit among ``entries``: the lookup and the decode of its outputs into the node's
    output model (what a worker does before appending the hit), beside one indexed lookup of
    the same key through the same driver."""
    from eventsvc.invocations.math import IntegerOutput
    from eventsvc.store.invocation_cache import InvocationCache

    async with open_store(f"sqlite://{directory / 'cache.db'}") as opened:
        store = projected(opened)
        cache = InvocationCache(
            store, FileArtifactStore(directory / "artifacts"), max_entries=entries, max_bytes=2**40
        )
        await cache.create()
        keys = [f"{n:064x}" for n in range(entries)]
        outputs = '{"value":12345,"type":"integer_output"}'
        rows = [(k, "add", outputs, "[]", len(outputs), n, "t") for n, k in enumerate(keys)]
        insert = "INSERT INTO invocation_cache VALUES (?, ?, ?, ?, ?, ?, ?)"
        await store.write_beside(lambda tx: tx.executemany(insert, rows))
        chosen = [keys[(n * 7919) % entries] for n in range(probes)]

        async def hits() -> None:
            for key in chosen:
                _, found = await cache.lookup(key)
                assert found is not None
                IntegerOutput.model_validate(found)

        async def indexed() -> None:
            for key in chosen:
                await store.point_query("SELECT 1 FROM invocation_cache WHERE key = ?", (key,))

        hit_runs, floor_runs = [], []
        for _ in range(3):  # alternated, so both see the same state of the file
            hit_runs.append(await timed(hits))
            floor_runs.append(await timed(indexed))
        hit_s, floor_s = min(hit_runs), min(floor_runs)
    return [
        Figure("cache_lookup_us", hit_s / probes * 1e6, "us", floor_s / probes * 1e6, "<= 100 us"),
        Figure("cache_entries", entries, "entries", None),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "bench", choices=["store", "graph", "enqueue", "executor", "replay", "cache"]
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
            figures = anyio.run(bench_executor_postgres, dsn, max(1, args.processes))
        else:
            figures = anyio.run(bench_store_postgres, dsn, args.events)
        print_table(args.bench, figures, args.json)
        return
    if args.bench == "graph":
        figures = bench_graph()
    elif args.bench == "executor":
        with tempfile.TemporaryDirectory(dir=args.dir) as directory:
            figures, table = anyio.run(bench_executor, Path(directory))
        print_table(args.bench, figures, args.json)
        if not args.json:
            print()
            print(table)
        return
    elif args.bench == "cache":
        with tempfile.TemporaryDirectory(dir=args.dir) as directory:
            figures = anyio.run(bench_cache, Path(directory))
    elif args.bench == "replay":
        with tempfile.TemporaryDirectory(dir=args.dir) as directory:
            figures = anyio.run(bench_replay, Path(directory), args.events)
    elif args.bench == "enqueue":
        with tempfile.TemporaryDirectory(dir=args.dir) as directory:
            figures = anyio.run(bench_enqueue, Path(directory))
    else:
        with tempfile.TemporaryDirectory(dir=args.dir) as directory:
            figures = anyio.run(bench_store, Path(directory), args.events)
    print_table(args.bench, figures, args.json)


if __name__ == "__main__":
    main()
