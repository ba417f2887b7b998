"""``executor``: nodes per second of one worker, beside single-row durable commits through the
same driver, and a 1,000-session batch; and a batch served while SSE subscribers follow it.

``executor``'s ``nodes_per_s_200_subscribers`` runs a 2,000-session batch of three nodes on a
fresh ``eventsvc serve`` (SQLite, one worker) while 200 SSE subscribers follow
``/api/v1/events`` live from a client process of their own (``tools/subscribers.py``); its
floor is the same batch on a fresh server without them. Both are read from the log: nodes over
the recorded_at span from the first session.started to the last session end. Beside it: how
many subscribers got every event exactly once, how often they resumed, how long after the last
event the last of them had it, and how many writes a second each received.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from anyio.streams.buffered import BufferedByteReceiveStream

from benches.common import (
    Figure,
    chain_graph,
    edge,
    floor_single_commits,
    raw_rows,
    serve_process,
)
from eventsvc.batches import Batch, BatchDatum
from eventsvc.config import Settings
from eventsvc.events import SESSION_ENDED
from eventsvc.graph import parse_graph
from eventsvc.service import Service
from eventsvc.stats import render_table
from eventsvc.store import EventFilter, EventStore, open_store

SUBSCRIBERS = 200
SERVED_SESSIONS = 2000


async def run_until_done(service: Service, batch_id: str, sessions: int) -> float:
    """Seconds from starting one worker until every session of the batch has ended."""
    head = await service.store.head()
    async with (
        anyio.create_task_group() as tg,
        service.store.subscribe(after=head, filter=EventFilter(tags=SESSION_ENDED)) as subscription,
    ):
        started = time.perf_counter()
        await tg.start(service.executor(workers=1).run)
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
        figures.append(Figure("nodes_per_s", nodes / elapsed, "nodes/s", floor, ">= 0.6"))
        figures.append(
            Figure("commits_per_node", (service.store.commits - commits) / nodes, "commits", None)
        )

        await service.enqueue_batch("default", three_node_batch("thousand", 1000))
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

    script = Path(__file__).parents[1] / "subscribers.py"
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
