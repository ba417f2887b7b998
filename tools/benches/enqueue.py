"""``enqueue``: enqueueing batches of up to a million sessions, beside one durable raw row of
the same event bytes, and queue queries over them, beside one indexed lookup."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psutil

from benches.common import RAW_INSERT, Figure
from eventsvc.batches import Batch, BatchDatum, enqueued
from eventsvc.config import Settings
from eventsvc.events import CODEC
from eventsvc.graph import parse_graph
from eventsvc.service import Service
from eventsvc.store.sqlite import SCHEMA_SQL


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
            RAW_INSERT,
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
            payload = CODEC.encode(enqueued(batch, "bench"))
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
        floor = floor_one_row_ms(
            directory / "raw-million.db", CODEC.encode(enqueued(product, "bench"))
        )
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
