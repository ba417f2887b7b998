"""What several benchmarks share: figures and their table, the raw rows and the floors more
than one bench measures, PostgreSQL schemas of their own, and ``eventsvc serve`` processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
import anyio

from eventsvc.chain import GENESIS, StoredRow, verify_chain
from eventsvc.events import CODEC, SessionStarted
from eventsvc.graph import parse_graph
from eventsvc.store import EventStore
from eventsvc.store.rows import COLUMNS, decode_rows
from eventsvc.store.sqlite import SCHEMA_SQL


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


RAW_INSERT = (
    "INSERT INTO events (position, stream, version, event_id, tag, schema_version, recorded_at, "
    "data, metadata, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


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
        await conn.execute(RAW_INSERT, row)
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


async def floor_rebuild_sql_eps(path: str, total: int, page: int, tables: list[str]) -> float:
    """The SQL any rebuild of ``tables`` must do, with no fold at all: read every row of the
    log in pages (as ``floor_read_eps``), then write the tables' final rows, as they stand
    after a real rebuild, into empty copies in one transaction. A fold's own work (decoding,
    the read models' logic, the updates between a row's first and final state) comes on top."""
    async with aiosqlite.connect(path) as conn:
        final = {t: list(await conn.execute_fetchall(f"SELECT * FROM {t}")) for t in tables}
        for table in tables:
            await conn.execute(f"CREATE TABLE floor_{table} AS SELECT * FROM {table} WHERE 0")
        await conn.commit()
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
        for table, rows in final.items():
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                await conn.executemany(f"INSERT INTO floor_{table} VALUES ({marks})", rows)
        await conn.commit()
        elapsed = time.perf_counter() - started
        for table in tables:
            await conn.execute(f"DROP TABLE floor_{table}")
        await conn.commit()
    assert seen == total
    return total / elapsed


async def floor_audit_sql_s(path: str, total: int, page: int, tables: list[str]) -> float:
    """Seconds of the SQL any audit must do, with none of the Python of ours: read every row
    of the log in pages (as ``floor_read_eps``), write the projections' final rows into empty
    tables of a private in-memory database (where audit folds its fresh copy), and read both
    copies of every table back in key order, as the comparison does."""
    import sqlite3

    async with aiosqlite.connect(f"file:{path}?mode=ro", uri=True) as conn:
        final = {t: list(await conn.execute_fetchall(f"SELECT * FROM {t}")) for t in tables}
        scratch = sqlite3.connect(":memory:")
        for table in tables:
            [(ddl,)] = await conn.execute_fetchall(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            )
            scratch.execute(ddl)
        selects = {t: _select_in_key_order(scratch, t) for t in tables}
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
        for table, rows in final.items():
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                scratch.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        scratch.commit()
        for select in selects.values():
            live = list(await conn.execute_fetchall(select))
            assert live == scratch.execute(select).fetchall()
        elapsed = time.perf_counter() - started
        scratch.close()
    assert seen == total
    return elapsed


def floor_chain_s(path: str, total: int, page: int) -> float:
    """Seconds to recompute every hash along the chain (``chain.verify_chain``, page by
    page), over rows already in memory: what any audit computes beside its checks."""
    pages = _pages(path, page)
    stored = [[StoredRow(*r[:7], r[7].encode(), r[8].encode(), r[9]) for r in p] for p in pages]
    started = time.perf_counter()
    previous, after = GENESIS, 0
    for rows in stored:
        assert verify_chain(rows, previous, after) is None
        previous, after = rows[-1].hash, rows[-1].position
    elapsed = time.perf_counter() - started
    assert after == total
    return elapsed


def floor_decode_s(path: str, page: int, tags: Collection[str] | None = None) -> float:
    """Seconds to decode every page of payloads (``rows.decode_rows``: one msgspec call a
    page), over rows already in memory; only the rows of ``tags`` when given, as a rebuild
    reads only the tags its projections fold."""
    pages = _pages(path, page, tags)
    started = time.perf_counter()
    for rows in pages:
        decode_rows(rows)
    return time.perf_counter() - started


def _pages(path: str, page: int, tags: Collection[str] | None = None) -> list[list[Any]]:
    import sqlite3

    where = f"WHERE tag IN ({', '.join('?' * len(tags))})" if tags else ""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        sql = f"SELECT {COLUMNS} FROM events {where} ORDER BY position"
        rows = conn.execute(sql, sorted(tags or ())).fetchall()
    return [rows[start : start + page] for start in range(0, len(rows), page)]


def _select_in_key_order(conn: Any, table: str) -> str:
    """A select of ``table``'s rows in primary key order (every column without one)."""
    info = conn.execute(f"PRAGMA table_info({table})").fetchall()
    key = [row[1] for row in sorted(info, key=lambda row: row[5]) if row[5]]
    return f"SELECT * FROM {table} ORDER BY {', '.join(key or [row[1] for row in info])}"


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


def edge(source: str, destination: str) -> dict[str, dict[str, str]]:
    """An edge from ``"node.field"`` to ``"node.field"``."""
    (s_node, s_field), (d_node, d_field) = source.split("."), destination.split(".")
    return {"source": {"node_id": s_node, "field": s_field},
            "destination": {"node_id": d_node, "field": d_field}}  # fmt: skip


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


PG_PLAIN = """
CREATE TABLE plain (
    position BIGINT PRIMARY KEY, stream TEXT NOT NULL, version BIGINT NOT NULL,
    event_id TEXT NOT NULL UNIQUE, tag TEXT NOT NULL, schema_version BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, hash BYTEA NOT NULL
);
CREATE SEQUENCE plain_position;
CREATE TABLE plain_lookup (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


PG_PLAIN_COLUMNS = (
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


async def pg_floor_concurrent_eps(
    dsn: str,
    rows: list[tuple[object, ...]],
    connections: int,
    *,
    locked: bool,
    looked_up: bool = False,
) -> float:
    """Single-event durable transactions from ``connections`` connections at once into a plain
    table: gap-free the conventional way (each transaction takes ``LOCK TABLE ... IN EXCLUSIVE
    MODE`` and the next position after the maximum), or unordered (a sequence, no lock). With
    ``looked_up``, each is preceded by a point select that finds nothing, in a round trip of
    its own (as a node asks the invocation cache before it runs)."""
    import asyncpg

    position = (
        "(SELECT coalesce(max(position), 0) + 1 FROM plain)"
        if locked
        else "nextval('plain_position')"
    )
    insert = (
        f"INSERT INTO plain (position, {PG_PLAIN_COLUMNS}) "
        f"VALUES ({position}, $1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )
    share = len(rows) // connections

    async def writer(conn: Any, mine: list[tuple[object, ...]]) -> None:
        for row in mine:
            if looked_up:
                await conn.fetchval("SELECT value FROM plain_lookup WHERE key = $1", row[3])
            async with conn.transaction():
                if locked:
                    await conn.execute("LOCK TABLE plain IN EXCLUSIVE MODE")
                await conn.execute(insert, *row[1:])

    async with pg_schema(dsn, PG_PLAIN) as schema:
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


PG_WORKERS = 2  # workers in each service process
TOOLS = str(Path(__file__).resolve().parent.parent)  # where ``benches`` is importable from


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def serve_process(
    url: str, directory: Path, n: int, workers: int = PG_WORKERS, module: str = "eventsvc"
) -> tuple[Any, str]:
    """``eventsvc serve`` on the store at ``url``, once it answers its health route; run as
    ``python -m module`` (a module of ``tools/`` registers bench node types first)."""
    import httpx

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "EVENTSVC_TOKEN"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [TOOLS, env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", module, "serve", "--store", url, "--port", str(port)]
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
async def serve_processes(
    url: str, directory: Path, count: int, workers: int = PG_WORKERS, module: str = "eventsvc"
) -> AsyncIterator[list[str]]:
    """``count`` service processes, started one after another; stopped (SIGTERM, else
    SIGKILL) afterwards."""
    processes: list[Any] = []
    try:
        bases = []
        for n in range(count):
            process, base = await serve_process(url, directory, n, workers, module)
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
