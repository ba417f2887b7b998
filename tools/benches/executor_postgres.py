"""``executor --backend postgres``: a batch on one and on several ``eventsvc serve`` processes
sharing one PostgreSQL schema.

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
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

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
from eventsvc.batches import Batch, BatchDatum
from eventsvc.events import SESSION_ENDED
from eventsvc.store import EventFilter, open_store


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
