"""``store --backend postgres``: the PostgreSQL store's appends and subscriptions, beside the
same work done the conventional way and the sealing protocol's bare database work, and the
server's WAL flush time."""

from __future__ import annotations

import contextlib
import time
from contextlib import AsyncExitStack
from typing import Any

import anyio

from benches.common import (
    PG_PLAIN,
    PG_PLAIN_COLUMNS,
    Figure,
    percentile,
    pg_floor_concurrent_eps,
    pg_schema,
    pg_url,
    raw_rows,
    sample_event,
    subscribe_latencies,
    timed,
)
from eventsvc.store import StoreOptions, open_store


async def pg_floor_batched_eps(dsn: str, rows: list[tuple[object, ...]], per_call: int) -> float:
    """Raw asyncpg executemany into a table with the store's columns and unique indexes."""
    import asyncpg

    from eventsvc.store.postgres.store import SCHEMA_SQL as PG_SCHEMA_SQL

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

    from eventsvc.store.postgres.store import SCHEMA_SQL as PG_SCHEMA_SQL

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
        f"INSERT INTO plain (position, {PG_PLAIN_COLUMNS}) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    )
    latencies: list[float] = []
    heard = [anyio.Event()]

    def on_notify(*_: object) -> None:
        heard[0].set()

    async with pg_schema(dsn, PG_PLAIN) as schema:
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

    # pg_append_concurrent_eps, _vs_plain and _vs_protocol: 8 stores (as 8 processes would),
    # each appending single events one after another. The best of three runs of each, the
    # store's alternating with its floors': on a shared machine one run of each may land on
    # a busy moment and the other on a quiet one.
    async def concurrent_eps() -> float:
        async with pg_schema(dsn) as schema, AsyncExitStack() as stack:
            opened = [
                await stack.enter_async_context(open_store(pg_url(dsn, schema)))
                for _ in range(stores)
            ]

            async def writer(n: int) -> None:
                for i in range(singles // stores):
                    await opened[n].append(f"w{n}", [events[i]])

            async def all_writers() -> None:
                async with anyio.create_task_group() as tg:
                    for n in range(stores):
                        tg.start_soon(writer, n)

            return singles / await timed(all_writers)

    runs: dict[str, list[float]] = {"store": [], "locked": [], "plain": [], "protocol": []}
    for _ in range(3):
        rows = raw_rows(singles)
        runs["locked"].append(await pg_floor_concurrent_eps(dsn, rows, stores, locked=True))
        runs["plain"].append(await pg_floor_concurrent_eps(dsn, rows, stores, locked=False))
        runs["store"].append(await concurrent_eps())
        runs["protocol"].append(await pg_floor_sealing_protocol_eps(dsn, rows, stores))
    value, locked, plain, protocol = (
        max(runs[k]) for k in ("store", "locked", "plain", "protocol")
    )
    figures.append(Figure("pg_append_concurrent_eps", value, "events/s", locked, ">= 2"))
    figures.append(Figure("pg_append_concurrent_vs_plain", value, "events/s", plain))
    figures.append(
        Figure("pg_append_concurrent_vs_protocol", value, "events/s", protocol, ">= 0.85")
    )
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
