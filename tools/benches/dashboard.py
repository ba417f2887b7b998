"""``dashboard``: every API call the queue, batch and stats views make when they load, with a
million sessions queued and 100,000 events of traffic in the store, each beside one indexed
lookup; and the log view in Chromium fed 2,000 events a second for ten seconds: its longest
main-thread task and its DOM size at the end, beside the size after the first second."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import anyio
import httpx
import uvicorn

from benches.common import Figure, free_port
from eventsvc import events as ev
from eventsvc.api import create_app
from eventsvc.batches import Batch, BatchDatum
from eventsvc.config import Settings
from eventsvc.graph import parse_graph
from eventsvc.ids import queue_stream
from eventsvc.service import Service
from eventsvc.testing import append_traffic

CHROMIUM = "/usr/bin/chromium"
RATE = 2000  # events a second into the log view
SECONDS = 10
TICK = 0.01  # appends of RATE * TICK events, each tick

# Each view's calls at load, as the page makes them (``app.js`` asks for /health first).
Q = "/api/v1/queue/default"
CALLS = {
    "health": "/api/v1/health",
    # the queue view
    "queue_status": f"{Q}/status",
    "queue_batches": f"{Q}/batches?limit=20",
    "queues": "/api/v1/queues?limit=500",
    # the batch view, and a jump to its page 10,000
    "batch_status": f"{Q}/b/million/status",
    "batch_stats": "/api/v1/stats/batches/million",
    "batch_sessions": f"{Q}/sessions?batch_id=million&limit=50",
    "batch_sessions_page_10000": f"{Q}/sessions?batch_id=million&after=million.499999&limit=50",
    # the stats view
    "node_type_stats": "/api/v1/stats/node_types",
    "stats_completions": "/api/v1/stats/completions",
}

LONGEST_TASK = """
window.__longest = 0;
window.__since = Infinity;  // set when the feed starts: the page's own loading is not counted
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.startTime < window.__since) continue;
    window.__longest = Math.max(window.__longest, entry.duration);
  }
}).observe({ type: "longtask", buffered: true });
"""


def million() -> Batch:
    thousand = list(range(1000))
    return Batch(
        batch_id="million",
        graph=parse_graph({"nodes": {"add": {"type": "add", "id": "add"}}}),
        data=[
            [BatchDatum(node_path="add", field_name="a", items=thousand)],
            [BatchDatum(node_path="add", field_name="b", items=thousand)],
        ],
    )


async def best_ms(client: httpx.AsyncClient, path: str, runs: int = 30) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = await client.get(path)
        timings.append(time.perf_counter() - started)
        response.raise_for_status()
    return min(timings) * 1000


async def floor_ms(service: Service, runs: int = 30) -> float:
    """One indexed lookup through the same store connection."""
    sql = "SELECT session_count FROM queue_batches WHERE batch_id = ?"
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        await service.store.query(sql, ("million",))
        timings.append(time.perf_counter() - started)
    return min(timings) * 1000


async def api_figures(service: Service) -> list[Figure]:
    floor = await floor_ms(service)
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return [
            Figure(f"dashboard_{name}_ms", await best_ms(client, path), "ms", floor, "<= 5 ms")
            for name, path in CALLS.items()
        ]


async def feed(service: Service, stop: anyio.Event) -> None:
    """RATE events a second, in a group each TICK, until ``stop``."""
    per_tick = int(RATE * TICK)
    started = time.perf_counter()
    tick = 0
    while not stop.is_set():
        events: list[ev.Event] = [
            ev.QueuePaused(queue_id="feed") if n % 2 else ev.QueueResumed(queue_id="feed")
            for n in range(per_tick)
        ]
        await service.store.append(queue_stream("feed"), events)
        tick += 1
        await anyio.sleep(max(0.0, started + tick * TICK - time.perf_counter()))


async def log_view_figures(service: Service) -> list[Figure]:
    from playwright.async_api import async_playwright

    port = free_port()
    config = uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        # uvicorn says it has bound its socket by a flag only.
        while not server.started:  # noqa: ASYNC110
            await anyio.sleep(0.05)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM)
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await page.add_init_script(LONGEST_TASK)
            await page.goto(f"http://127.0.0.1:{port}/#/log")
            await page.wait_for_selector("#log-rows tr[data-position]")
            await page.evaluate("window.__since = performance.now()")
            stop = anyio.Event()
            tg.start_soon(feed, service, stop)
            await anyio.sleep(1)
            first = await page.evaluate("document.getElementsByTagName('*').length")
            await anyio.sleep(SECONDS - 1)
            stop.set()
            last = await page.evaluate("document.getElementsByTagName('*').length")
            longest = await page.evaluate("window.__longest")
            await browser.close()
        server.should_exit = True
    return [
        # A long task is one of 50 ms or more: 0 says there was none.
        Figure("log_view_longest_task_ms", longest, "ms", None, "<= 100 ms (0: none >= 50 ms)"),
        Figure("log_view_dom_nodes", last, "nodes", first, "ratio near 1"),
    ]


async def bench_dashboard(directory: Path, browser: bool) -> list[Figure]:
    settings = Settings(
        store_url=f"sqlite://{directory / 'dashboard.db'}?synchronous=NORMAL",
        artifacts_dir=str(directory / "artifacts"),
        max_batch_sessions=10**7,
        max_queue_uninitialized=10**8,
    )
    async with Service.open(settings) as service:
        events = await append_traffic(service.store, 100_000)
        await service.enqueue_batch("default", million())
        figures = await api_figures(service)
        figures.append(Figure("log_events", events + 1, "events", None))
        if browser:
            figures += await log_view_figures(service)
        else:
            print(f"no Chromium at {CHROMIUM}: the log view figures are left out", file=sys.stderr)
    return figures
