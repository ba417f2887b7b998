"""``operations``: what watching and guarding the service costs.

- ``metrics_scrape_ms``: the best of a few ``/metrics`` scrapes (through the app, in process)
  with a million sessions queued and 100,000 events in the log; its floor is one trivial
  query through the same driver.
- ``nodes_per_s_traced``: one worker's nodes per second (chains of ``string_replace``, which
  run where the service's isolation says) with spans on and no SDK installed,
  beside the same run with spans off as its floor.
- ``nodes_per_s_process_pool``: the same with every node body in a worker process (the pool
  warmed up first), beside the thread mode in the same run as its floor.

- ``webhook_deliveries_per_s``: deliveries to a loopback receiver, beside a bare httpx POST
  loop to the same receiver (``benches/webhooks.py``, also run alone as ``webhooks``).

Each figure is one function of ``FIGURES``, run in a directory of its own.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from benches.common import Figure, chain_graph, edge
from benches.executor import run_until_done
from benches.webhooks import bench_webhooks
from eventsvc import events as ev
from eventsvc.api import create_app
from eventsvc.batches import Batch, BatchDatum
from eventsvc.config import Settings
from eventsvc.graph import parse_graph
from eventsvc.service import Service

QUEUED_SESSIONS = 1_000_000
LOG_EVENTS = 100_000
CHAIN_SESSIONS, CHAIN_LENGTH = 10, 100
ROUNDS = 4  # runs of each mode, alternated; the best of each is kept (the machine is shared)


def settings_in(directory: Path, **extra: Any) -> Settings:
    return Settings(
        store_url=f"sqlite://{directory / 'events.db'}",
        artifacts_dir=str(directory / "artifacts"),
        **extra,
    )


async def best_ms(work: Callable[[], Awaitable[object]], runs: int = 20) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        best = min(best, time.perf_counter() - started)
    return best * 1000


async def metrics_scrape(directory: Path) -> Figure:
    async with Service.open(settings_in(directory)) as service:
        graph = chain_graph(1)
        items = [BatchDatum(node_path="n0", field_name="a", items=list(range(QUEUED_SESSIONS)))]
        await service.enqueue_batch("default", Batch(batch_id="m", graph=graph, data=[items]))
        await fill_log(service, LOG_EVENTS - await service.store.head())
        transport = httpx.ASGITransport(app=create_app(service))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            scrape = await best_ms(lambda: http.get("/metrics"))
        floor = await best_ms(lambda: service.store.query("SELECT 1"))
    return Figure("metrics_scrape_ms", scrape, "ms", floor, "<= 10 ms")


async def fill_log(service: Service, count: int, per_append: int = 500) -> None:
    """``count`` more events in the log (queue pauses and resumes of a queue of their own)."""
    events: list[ev.Event] = [
        ev.QueuePaused(queue_id="filler") if n % 2 == 0 else ev.QueueResumed(queue_id="filler")
        for n in range(per_append)
    ]
    for start in range(0, count, per_append):
        await service.store.append("queue-filler", events[: min(per_append, count - start)])


def replace_chain(length: int) -> Any:
    """Chains of ``string_replace`` nodes, which take the service's isolation (the arithmetic
    nodes run inline whatever it says); never from the cache, as each node's output is its
    input."""
    nodes = {
        f"n{i}": {"type": "string_replace", "id": f"n{i}", "search": "x", "use_cache": False}
        for i in range(length)
    }
    edges = [edge(f"n{i - 1}.value", f"n{i}.string") for i in range(1, length)]
    return parse_graph({"nodes": nodes, "edges": edges})


async def nodes_per_s(directory: Path, name: str, **settings: Any) -> float:
    """One worker's nodes per second over chains of ``string_replace`` nodes."""
    async with Service.open(settings_in(directory / name, **settings)) as service:
        if settings.get("node_isolation") == "process":
            await warm_up(service)
        strings = [f"session {s}" for s in range(CHAIN_SESSIONS)]
        inputs = [[BatchDatum(node_path="n0", field_name="string", items=strings)]]
        batch = Batch(batch_id="chain", graph=replace_chain(CHAIN_LENGTH), data=inputs)
        await service.enqueue_batch("default", batch)
        elapsed = await run_until_done(service, "chain", CHAIN_SESSIONS)
    return CHAIN_SESSIONS * CHAIN_LENGTH / elapsed


async def warm_up(service: Service) -> None:
    """Start the worker process (spawning it is not what the figure measures)."""
    batch = Batch(batch_id="warm", graph=replace_chain(2))
    await service.enqueue_batch("default", batch)
    await run_until_done(service, "warm", 1)


async def best_of_two(
    directory: Path, first: dict[str, Any], second: dict[str, Any]
) -> tuple[float, float]:
    """The best nodes per second of two modes (settings), their runs alternated."""
    best = [0.0, 0.0]
    for round_ in range(ROUNDS):
        for index, mode in enumerate((first, second)):
            rate = await nodes_per_s(directory, f"{index}-{round_}", **mode)
            best[index] = max(best[index], rate)
    return best[0], best[1]


async def traced(directory: Path) -> Figure:
    on, off = await best_of_two(directory, {"tracing": True}, {"tracing": False})
    return Figure("nodes_per_s_traced", on, "nodes/s", off, "0.95-1.05 (vs off)")


async def process_pool(directory: Path) -> Figure:
    pool, threads = await best_of_two(
        directory, {"node_isolation": "process"}, {"node_isolation": "thread"}
    )
    return Figure("nodes_per_s_process_pool", pool, "nodes/s", threads, ">= 0.5 (vs threads)")


async def webhook_deliveries(directory: Path) -> Figure:
    [figure] = await bench_webhooks(directory)
    return figure


FIGURES: tuple[Callable[[Path], Awaitable[Figure]], ...] = (
    metrics_scrape, traced, process_pool, webhook_deliveries,
)  # fmt: skip


async def bench_operations(directory: Path) -> list[Figure]:
    figures = []
    for index, figure in enumerate(FIGURES):
        place = directory / str(index)
        place.mkdir()
        figures.append(await figure(place))
    return figures
