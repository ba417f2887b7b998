"""``executor --backend postgres``: a batch on one and on several ``eventsvc serve`` processes
sharing one PostgreSQL schema.

``executor --backend postgres --processes 3`` runs batches of chains of ``add`` nodes (each
session from its own input, chains that never meet: none is served from the invocation cache,
which each run checks afterwards) on real ``eventsvc serve`` processes with two workers each,
each batch timed from its enqueue until its last session ended; the best of two batches, one
after another on the same processes, counts.
``pg_nodes_per_s_1proc`` is a batch on one such process, beside the physical floor of its
cost model: single-row durable commits per second through asyncpg into a plain table, from as
many connections as the process has workers (a worker needs one commit per node, or less once
the nodes' events share commits). ``pg_nodes_per_s_1proc_vs_asked`` puts it beside the same
commits each preceded by a point select in a round trip of its own: the floor once every node
asks the invocation cache first, as it must (a lookup sees what any process wrote and whether
the cache is on at that moment, which no copy held in memory can promise).
``pg_nodes_cpu_us_per_node`` is what a node of that batch
cost the service process and its database backends in CPU, and ``pg_nodes_per_s_1proc_vs_cpu``
the batch beside what the machine's cores allow at that cost: the floor when CPU, not
commits, is what binds (the benchmark process itself shares those cores).
``pg_nodes_per_s_1proc_vs_core`` puts it beside what one core allows the service process at
its own CPU per node (``pg_nodes_service_cpu_us_per_node``): one process's Python runs on one
core at a time, so that is its ceiling however fast the database is.
``pg_statement_client_cpu_us`` is what one statement costs a client in CPU with none of our
code around it (a point select through asyncpg): the price of each statement a node needs.
``pg_nodes_per_s_3proc`` is the same batch on 3 processes (``--processes``) beside the one
process figure of the same run: the ratio is what scaling out gained on this machine (on one
small machine the processes share its cores with each other and the server). The processes
start one after another, each serving before the next starts; startup is not timed.

``pg_scaleout_efficiency`` shows scale-out where a small machine can: sessions of
``bench_wait`` nodes (each waits 50 ms on the event loop and computes nothing, as GPU or
remote work would) on 1 process with 4 workers, then on 3 processes with 4 workers each, each
on a fresh schema. The figure is the 3-process sessions per second over 3 times the 1-process
figure: what coordination (claims, leases, the sealer, the projections) leaves of linear
scaling. Each run is checked afterwards: every session completed, each started exactly once
(no resume, no second claim), and an audit of the log is clean.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

import benches.wait_nodes  # noqa: F401 (registers bench_wait, which the waiting batches use)
from benches.common import (
    PG_WORKERS,
    Figure,
    chain_graph,
    pg_floor_concurrent_eps,
    pg_schema,
    pg_url,
    raw_rows,
    serve_processes,
)
from eventsvc.audit import audit
from eventsvc.batches import Batch, BatchDatum
from eventsvc.events import SESSION_ENDED, InvocationCompleted
from eventsvc.graph import parse_graph
from eventsvc.store import EventFilter, EventStore, open_store

WAIT_WORKERS = 4  # workers in each process of the scale-out runs


def pg_chain_batch(batch_id: str, first: int, sessions: int, length: int) -> Batch:
    """Chains of ``add`` nodes, session ``first + n`` starting at ``(first + n)`` millions:
    chains that never meet (consecutive starts would make node k of one session node 0 of
    the k-th next), so no node of any run is served from the invocation cache."""
    assert length < 1_000_000
    items = [(first + n) * 1_000_000 for n in range(sessions)]
    data = [[BatchDatum(node_path="n0", field_name="a", items=items)]]
    return Batch(batch_id=batch_id, graph=chain_graph(length), data=data)


async def pg_nodes_per_s(
    dsn: str, processes: int, sessions: int, length: int, runs: int = 2
) -> tuple[float, float]:
    """Nodes per second of a batch run by ``processes`` service processes on a fresh schema,
    from the enqueue until a read-only follower has seen every session end, and the CPU
    seconds a node cost the services and their database backends in that run; the best of
    ``runs`` batches, one after another on the same processes."""
    from eventsvc.client import EventsvcClient

    ended = EventFilter(tags=SESSION_ENDED)
    best, best_cpu, best_own = 0.0, 0.0, 0.0
    server_port = urlsplit(dsn).port or 5432
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
                    cpu = ServiceCpu(await follower_backends(follower, server_port))
                    own = ServiceCpu([])
                    started = time.perf_counter()
                    await client.enqueue_batch("default", batch)
                    tags: list[str] = []
                    async for event in subscription:
                        tags.append(event.tag)
                        if len(tags) == sessions:
                            break
                    elapsed = time.perf_counter() - started
                    used = cpu.seconds(await follower_backends(follower, server_port))
                    used_own = own.seconds([])
                if set(tags) != {"session.completed"}:
                    raise RuntimeError(f"a benchmark batch did not complete: {sorted(set(tags))}")
                if sessions * length / elapsed > best:
                    nodes = sessions * length
                    best, best_cpu, best_own = nodes / elapsed, used / nodes, used_own / nodes
            if hits := await cache_hits(follower):
                raise RuntimeError(f"{hits} nodes of the benchmark came from the cache")
    return best, best_cpu, best_own


async def cache_hits(store: EventStore) -> int:
    """Nodes of the log served from the invocation cache (``invocation.completed``, cached)."""
    hits, after = 0, 0
    while page := await store.read_all(after=after, limit=5000):
        hits += sum(isinstance(r.data, InvocationCompleted) and r.data.cached for r in page)
        after = page[-1].position
    return hits


async def bench_executor_postgres(dsn: str, processes: int) -> list[Figure]:
    sessions, length = 120, 20
    rows = raw_rows(sessions * length)
    floor = await pg_floor_concurrent_eps(dsn, rows, PG_WORKERS, locked=False)
    asked = await pg_floor_concurrent_eps(dsn, rows, PG_WORKERS, locked=False, looked_up=True)
    one, cpu, own = await pg_nodes_per_s(dsn, 1, sessions, length)
    many, _, _ = await pg_nodes_per_s(dsn, processes, sessions, length)
    return [
        Figure("pg_nodes_per_s_1proc", one, "nodes/s", floor, ">= 0.4"),
        Figure("pg_nodes_per_s_1proc_vs_asked", one, "nodes/s", asked),
        Figure("pg_nodes_cpu_us_per_node", cpu * 1e6, "us", None),
        Figure("pg_nodes_service_cpu_us_per_node", own * 1e6, "us", None),
        # What the machine's cores allow at that cost a node, however the work is arranged;
        # and what one core allows the service process alone (its Python runs on one).
        Figure("pg_nodes_per_s_1proc_vs_cpu", one, "nodes/s", (os.cpu_count() or 1) / cpu),
        Figure("pg_nodes_per_s_1proc_vs_core", one, "nodes/s", 1 / own),
        Figure(f"pg_nodes_per_s_{processes}proc", many, "nodes/s", one, "(vs 1 process)"),
        Figure("pg_statement_client_cpu_us", await statement_client_cpu(dsn) * 1e6, "us", None),
        *await bench_scaleout(dsn, processes),
    ]


async def statement_client_cpu(dsn: str, statements: int = 3000) -> float:
    """CPU seconds a statement costs its client process with nothing of ours around it: a
    point select by primary key through asyncpg, one after another on one connection. A
    node's statements (its cache lookup, its share of appends, seals and projection pages)
    cost the service at least this much each."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TEMP TABLE point (k TEXT PRIMARY KEY, v BIGINT)")
        await conn.execute("INSERT INTO point SELECT g::text, g FROM generate_series(1, 1000) g")
        me = psutil.Process()
        before = sum(me.cpu_times()[:2])
        for n in range(statements):
            await conn.fetch("SELECT v FROM point WHERE k = $1", str(n % 1000))
        return (sum(me.cpu_times()[:2]) - before) / statements
    finally:
        await conn.close()


def wait_batch(batch_id: str, sessions: int, length: int) -> Batch:
    """Chains of ``length`` waiting nodes, a session per input; none served from the cache
    (a node's input is the one before it plus one, so a later node of one session would
    otherwise find an earlier node of the next session's result)."""
    nodes = {
        f"w{i}": {"type": "bench_wait", "id": f"w{i}", "use_cache": False} for i in range(length)
    }
    edges = [
        {
            "source": {"node_id": f"w{i - 1}", "field": "value"},
            "destination": {"node_id": f"w{i}", "field": "a"},
        }
        for i in range(1, length)
    ]
    graph = parse_graph({"nodes": nodes, "edges": edges})
    data = [[BatchDatum(node_path="w0", field_name="a", items=list(range(sessions)))]]
    return Batch(batch_id=batch_id, graph=graph, data=data)


async def pg_waiting_sessions_per_s(dsn: str, processes: int, sessions: int) -> tuple[float, float]:
    """Sessions per second of one batch of waiting chains on ``processes`` processes with
    ``WAIT_WORKERS`` workers each, from the enqueue until every session ended, and the CPU
    seconds each session cost the services and their database backends; checked."""
    from eventsvc.client import EventsvcClient

    ended = EventFilter(tags=SESSION_ENDED)
    with tempfile.TemporaryDirectory() as directory:
        async with (
            pg_schema(dsn) as schema,
            serve_processes(
                pg_url(dsn, schema), Path(directory), processes, WAIT_WORKERS, "benches.wait_nodes"
            ) as bases,
            open_store(pg_url(dsn, schema), read_only=True) as follower,
            EventsvcClient(bases[0]) as client,
        ):
            head = await follower.head()
            server_port = urlsplit(dsn).port or 5432
            async with follower.subscribe(after=head, filter=ended) as subscription:
                cpu = ServiceCpu(await follower_backends(follower, server_port))
                started = time.perf_counter()
                await client.enqueue_batch("default", wait_batch("wait", sessions, 2))
                count = 0
                async for _ in subscription:
                    count += 1
                    if count == sessions:
                        break
                elapsed = time.perf_counter() - started
                used = cpu.seconds(await follower_backends(follower, server_port))
            await check_exactly_once(follower, sessions)
    return sessions / elapsed, used / sessions


class ServiceCpu:
    """CPU seconds the service processes (this process's children) and their PostgreSQL
    backends spent since it was made: what a run costs the machine's cores, whatever else
    shares them."""

    def __init__(self, backends: list[int]) -> None:
        self._start = {p.pid: _cpu(p) for p in self._processes(backends)}

    def seconds(self, backends: list[int]) -> float:
        return sum(_cpu(p) - self._start.get(p.pid, 0.0) for p in self._processes(backends))

    @staticmethod
    def _processes(backends: list[int]) -> list[psutil.Process]:
        found = psutil.Process().children(recursive=True)
        for pid in backends:
            with contextlib.suppress(psutil.Error):
                found.append(psutil.Process(pid))
        return found


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


async def follower_backends(store: EventStore, server_port: int) -> list[int]:
    """The PostgreSQL backends serving this process's children: matched by the client port
    of each of their connections to the server."""
    ports = {
        conn.laddr.port
        for child in psutil.Process().children(recursive=True)
        for conn in _connections(child)
        if conn.raddr and conn.raddr.port == server_port
    }
    rows = await store.query("SELECT pid, client_port FROM pg_stat_activity", ())
    return [pid for pid, port in rows if port in ports]


def _connections(process: psutil.Process) -> list[Any]:
    try:
        return list(process.net_connections(kind="tcp"))
    except psutil.Error:
        return []


async def check_exactly_once(store: EventStore, sessions: int) -> None:
    """Every session completed, each started once and never resumed; the log audits clean."""
    starts: dict[str, int] = {}
    completed = 0
    async with store.subscribe(after=0) as subscription:
        async for event in subscription.read_until(await store.head()):
            if event.tag in ("session.started", "session.resumed"):
                starts[event.stream] = starts.get(event.stream, 0) + 1
            completed += event.tag == "session.completed"
    twice = [stream for stream, n in starts.items() if n != 1]
    if len(starts) != sessions or completed != sessions or twice:
        raise RuntimeError(
            f"scale-out run: {len(starts)} sessions started, {completed} completed of "
            f"{sessions}; started more than once: {twice[:5]}"
        )
    report = await audit(store)
    if not report.clean:
        raise RuntimeError(f"scale-out run: audit found {report.findings[:3]}")


async def bench_scaleout(dsn: str, processes: int) -> list[Figure]:
    per_process = 200  # sessions of two 50 ms nodes: about 2.5 s of work for each process
    one, _ = await pg_waiting_sessions_per_s(dsn, 1, per_process)
    many, cpu = await pg_waiting_sessions_per_s(dsn, processes, per_process * processes)
    # What this machine's cores allow whatever the coordination: were every process as fast
    # as the one alone, the runs would need processes * one * cpu cores.
    ceiling = min(1.0, (os.cpu_count() or 1) / (processes * one * cpu))
    return [
        Figure("pg_wait_sessions_per_s_1proc", one, "sessions/s", None),
        Figure(f"pg_wait_sessions_per_s_{processes}proc", many, "sessions/s", processes * one),
        Figure("pg_wait_cpu_ms_per_session", cpu * 1000, "ms", None),
        Figure("pg_scaleout_cpu_ceiling", ceiling, "ratio", None),
        Figure("pg_scaleout_efficiency", many / (processes * one), "ratio", 1.0, ">= 0.85"),
    ]
