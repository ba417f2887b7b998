"""``GET /metrics`` on both backends: gauges read from the projections (right after a
restart), counters where things happen, names by Prometheus' rules, and the token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from eventsvc.api import create_app
from eventsvc.batches import Batch, BatchDatum
from eventsvc.config import Settings
from eventsvc.graph import parse_graph
from eventsvc.service import Service
from eventsvc.store import EventFilter
from tests.backends import fresh_schema

pytestmark = pytest.mark.anyio

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path}/events.db"
        return
    with fresh_schema() as schema:
        yield schema.url


def settings(store_url: str, tmp_path: Path) -> Settings:
    return Settings(store_url=store_url, artifacts_dir=str(tmp_path / "artifacts"))


def add_batch(batch_id: str, count: int) -> Batch:
    graph = parse_graph({"nodes": {"a": {"type": "add", "id": "a", "b": 1}}})
    items = [BatchDatum(node_path="a", field_name="a", items=list(range(count)))]
    return Batch(batch_id=batch_id, graph=graph, data=[items])


async def scrape(service: Service, **app: bool) -> tuple[str, Samples]:
    transport = httpx.ASGITransport(app=create_app(service, **app))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    return response.text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


async def run_until_completed(service: Service, count: int) -> None:
    """Run a worker until ``count`` sessions have completed."""
    async with anyio.create_task_group() as tg:
        await tg.start(service.executor().run)
        with anyio.fail_after(30):
            done = EventFilter(tags=frozenset({"session.completed"}))
            async with service.store.subscribe(after=0, filter=done) as sub:
                seen = 0
                async for _ in sub:
                    seen += 1
                    if seen == count:
                        break
        tg.cancel_scope.cancel()


async def test_gauges_come_from_the_projections_and_counters_from_the_work(
    store_url: str, tmp_path: Path
) -> None:
    async with Service.open(settings(store_url, tmp_path)) as service:
        await service.enqueue_batch("default", add_batch("m", 3))
        await service.enqueue_batch("other", add_batch("w", 5))
        await run_until_completed(service, 3)
        head = await service.store.head()
        await service.wait_for(head)
        text, samples = await scrape(service)
    assert value(samples, "eventsvc_sessions", queue="default", state="completed") == 3
    assert value(samples, "eventsvc_sessions", queue="other", state="uninitialized") == 5
    assert value(samples, "eventsvc_sessions_finished", queue="default", status="completed") == 3
    assert value(samples, "eventsvc_log_head_position") == head
    assert value(samples, "eventsvc_projection_lag_events", projection="queue") == 0
    assert value(samples, "eventsvc_workers_alive") >= 0
    assert value(samples, "eventsvc_cache_entries") == 3
    assert value(samples, "eventsvc_events_appended_total", tag="session.completed") >= 3
    assert value(samples, "eventsvc_append_duration_seconds_count") >= 1
    assert value(samples, "eventsvc_node_duration_seconds_count", node_type="add",
                 status="completed") >= 3  # fmt: skip
    assert value(samples, "eventsvc_cache_requests_total", result="miss") >= 3
    assert value(samples, "eventsvc_session_queue_wait_seconds_count", queue="default") >= 3
    assert value(samples, "eventsvc_subscribers_dropped_total") >= 0
    sealing = ("eventsvc_sealing_lag_rows", frozenset())
    assert (sealing in samples) == store_url.startswith("postgresql")
    # Never an id as a label: only small closed sets.
    labels = {name for (_, pairs) in samples for name, _ in pairs}
    assert labels <= {"queue", "state", "status", "projection", "tag", "node_type", "result",
                      "le"}, labels  # fmt: skip
    assert "m.0" not in text


async def test_the_gauges_are_right_after_a_restart(store_url: str, tmp_path: Path) -> None:
    async with Service.open(settings(store_url, tmp_path)) as service:
        await service.enqueue_batch("default", add_batch("r", 2))
        await run_until_completed(service, 2)
    async with Service.open(settings(store_url, tmp_path)) as service:
        # On PostgreSQL the projections fold beside the log: read them once caught up.
        await service.wait_for(await service.store.head())
        _, samples = await scrape(service)
    assert value(samples, "eventsvc_sessions", queue="default", state="completed") == 2


async def test_metrics_need_the_token_unless_open_on_loopback(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/events.db"
    async with Service.open(settings(url, tmp_path)) as service:

        async def status(client: tuple[str, int], headers: dict[str, str], open_: bool) -> int:
            app = create_app(service, token="s3cret", metrics_open_on_loopback=open_)
            transport = httpx.ASGITransport(app=app, client=client)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                return (await http.get("/metrics", headers=headers)).status_code

        loopback, remote = ("127.0.0.1", 5000), ("192.0.2.7", 5000)
        bearer = {"authorization": "Bearer s3cret"}
        assert await status(loopback, {}, False) == 401
        assert await status(loopback, bearer, False) == 200
        assert await status(loopback, {}, True) == 200
        assert await status(remote, {}, True) == 401
        assert await status(remote, bearer, True) == 200
