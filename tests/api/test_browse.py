"""The routes the dashboard browses by, on every backend: the queues, batches newest first,
artifacts of a batch and a session, one event with its hash, the audit job and the past."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from eventsvc.api import create_app
from eventsvc.client import AsyncClient
from eventsvc.config import Settings
from eventsvc.service import Service
from eventsvc.store import EventFilter
from tests.backends import Backend

pytestmark = pytest.mark.anyio

Q = "/api/v1/queue/default"


def image_batch(batch_id: str, seeds: list[int]) -> dict[str, Any]:
    edge = {
        "source": {"node_id": "noise", "field": "tensor"},
        "destination": {"node_id": "image", "field": "tensor"},
    }
    graph = {
        "nodes": {
            "noise": {"type": "noise", "id": "noise", "width": 8, "height": 6, "channels": 3},
            "image": {"type": "to_image", "id": "image"},
        },
        "edges": [edge],
    }
    data = [[{"node_path": "noise", "field_name": "seed", "items": seeds}]]
    return {"batch": {"batch_id": batch_id, "graph": graph, "data": data}}


def add_batch(batch_id: str, count: int) -> dict[str, Any]:
    graph = {"nodes": {"a": {"type": "add", "id": "a", "b": 1}}, "edges": []}
    data = [[{"node_path": "a", "field_name": "a", "items": list(range(count))}]]
    return {"batch": {"batch_id": batch_id, "graph": graph, "data": data}}


async def settle(service: Service, batch_ids: list[str]) -> None:
    """Run workers until every session of the batches has ended and every projection has
    folded the log that far (on PostgreSQL they fold after the event is delivered, each at
    its own pace: the queue may show an ending the others have not folded yet)."""
    ended = frozenset({"session.completed", "session.failed", "session.canceled"})
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            async with service.store.subscribe(filter=EventFilter(tags=ended)) as events:
                await tg.start(service.executor(workers=2).run)
                async for record in events:
                    await service.wait_for(record.position)
                    counts = [(await service.queue.batch_status(b)).counts for b in batch_ids]
                    if not any(c.uninitialized or c.in_progress for c in counts):
                        break
            tg.cancel_scope.cancel()
    await service.wait_for(await service.store.head())


@pytest.fixture
async def service(backend: Backend, tmp_path: Path) -> AsyncIterator[Service]:
    settings = Settings(store_url=backend.url, artifacts_dir=str(tmp_path / "artifacts"))
    async with Service.open(settings) as opened:
        yield opened


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as opened:
        yield opened


async def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


async def test_queues_are_listed_by_id_with_their_counts_and_paused_state(
    service: Service, client: httpx.AsyncClient
) -> None:
    assert (await ok(await client.get("/api/v1/queues"))) == {"items": [], "next_after": None}
    await ok(await client.post(f"{Q}/enqueue_batch", json=add_batch("d1", 3)))
    await ok(await client.post(f"{Q}/enqueue_batch", json=add_batch("d2", 2)))
    await ok(await client.put(f"{Q}/cancel_by_batch_ids", json={"batch_ids": ["d2"]}))
    await ok(await client.post("/api/v1/queue/b-side/enqueue_batch", json=add_batch("x", 4)))
    await ok(await client.put("/api/v1/queue/idle/processor/pause"))
    await service.wait_for(await service.store.head())
    listed = await ok(await client.get("/api/v1/queues"))
    assert [q["queue_id"] for q in listed["items"]] == ["b-side", "default", "idle"]
    for queue in listed["items"]:
        status = await ok(await client.get(f"/api/v1/queue/{queue['queue_id']}/status"))
        assert queue == status
    counts = {q["queue_id"]: q["counts"] for q in listed["items"]}
    assert (counts["default"]["uninitialized"], counts["default"]["canceled"]) == (3, 2)
    by_id = {q["queue_id"]: q for q in listed["items"]}
    assert (by_id["idle"]["paused"], by_id["idle"]["batches"]) == (True, 0)
    first = await ok(await client.get("/api/v1/queues", params={"limit": 2}))
    assert ([q["queue_id"] for q in first["items"]], first["next_after"]) == (
        ["b-side", "default"],
        "default",
    )
    rest = await ok(await client.get("/api/v1/queues", params={"after": "default", "limit": 2}))
    assert ([q["queue_id"] for q in rest["items"]], rest["next_after"]) == (["idle"], None)
    await ok(await client.put(f"{Q}/prune"))
    await service.wait_for(await service.store.head())
    pruned = {q["queue_id"]: q for q in (await ok(await client.get("/api/v1/queues")))["items"]}
    assert (pruned["default"]["batches"], pruned["default"]["counts"]["canceled"]) == (1, 0)
    bad = await client.get("/api/v1/queues", params={"limit": 0})
    assert bad.status_code == 422


async def test_the_client_lists_the_queues(service: Service) -> None:
    transport = httpx.ASGITransport(app=create_app(service))
    async with AsyncClient("http://test", transport=transport) as api:
        await api.enqueue_batch("default", add_batch("c", 2)["batch"])
        await service.wait_for(await service.store.head())
        page = await api.queues()
        assert [(q.queue_id, q.counts.uninitialized) for q in page.items] == [("default", 2)]
        assert (await api.queues(after="default")).items == []


async def test_batches_are_listed_newest_first_paged_and_filtered(
    service: Service, client: httpx.AsyncClient
) -> None:
    for name in ("b1", "b2", "b3"):
        await ok(await client.post(f"{Q}/enqueue_batch", json=add_batch(name, 2)))
    await ok(await client.put(f"{Q}/cancel_by_batch_ids", json={"batch_ids": ["b2"]}))
    first = await ok(await client.get(f"{Q}/batches", params={"limit": 2}))
    assert [b["batch_id"] for b in first["items"]] == ["b3", "b2"]
    assert first["items"][0]["enqueued_at"] > 0
    rest = await ok(await client.get(f"{Q}/batches", params={"before": first["next_before"]}))
    assert ([b["batch_id"] for b in rest["items"]], rest["next_before"]) == (["b1"], None)
    canceled = await ok(await client.get(f"{Q}/batches", params={"state": "canceled"}))
    assert [b["batch_id"] for b in canceled["items"]] == ["b2"]
    assert canceled["items"][0]["counts"]["canceled"] == 2
    await ok(await client.put(f"{Q}/prune"))
    pruned = await ok(await client.get(f"{Q}/batches"))
    assert [b["batch_id"] for b in pruned["items"]] == ["b3", "b1"]
    bad = await client.get(f"{Q}/batches", params={"state": "sleeping"})
    assert bad.status_code == 422


async def test_artifacts_of_a_batch_and_a_session_name_their_node(
    service: Service, client: httpx.AsyncClient
) -> None:
    await ok(await client.post(f"{Q}/enqueue_batch", json=image_batch("img", [1, 2, 3])))
    await settle(service, ["img"])
    page = await ok(await client.get(f"{Q}/b/img/artifacts", params={"kind": "image"}))
    images = sorted(page["items"], key=lambda i: str(i["session_id"]))
    assert [(i["session_id"], i["node_id"], i["field"]) for i in images] == [
        (f"img.{n}", "image", "image") for n in range(3)
    ]
    assert (images[0]["width"], images[0]["height"], page["next_after"]) == (8, 6, None)
    png = await client.get(f"/api/v1/artifacts/{images[1]['sha256']}")
    assert png.content.startswith(b"\x89PNG")
    paged = await ok(await client.get(f"{Q}/b/img/artifacts", params={"limit": 2}))
    positions = [i["position"] for i in paged["items"]]
    assert (len(positions), positions == sorted(positions)) == (2, True)
    after = {"after": paged["next_after"], "limit": 2}
    following = await ok(await client.get(f"{Q}/b/img/artifacts", params=after))
    assert following["items"][0]["position"] > paged["items"][-1]["position"]
    events = await ok(await client.get(f"{Q}/s/img.2/events"))
    assert events[0]["tag"] == "session.started"
    assert events[-1]["tag"] == "session.completed"
    own = await ok(await client.get(f"{Q}/s/img.2/artifacts", params={"kind": "image"}))
    assert [i["sha256"] for i in own["items"]] == [images[2]["sha256"]]
    missing = await client.get(f"{Q}/b/nope/artifacts")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


async def test_one_event_comes_with_its_hash(service: Service, client: httpx.AsyncClient) -> None:
    position = (await ok(await client.post(f"{Q}/enqueue_batch", json=add_batch("b", 1))))[
        "position"
    ]
    event = await ok(await client.get(f"/api/v1/log/{position}"))
    [stored] = await service.store.read_all(after=position - 1, limit=1)
    assert (event["tag"], event["hash"], event["data"]["batch_id"]) == (
        "batch.enqueued",
        stored.hash.hex(),
        "b",
    )
    assert (await client.get(f"/api/v1/log/{position + 1}")).status_code == 404


async def test_an_audit_runs_in_the_background_and_reports(client: httpx.AsyncClient) -> None:
    assert (await ok(await client.get("/api/v1/audit")))["state"] == "idle"
    await ok(await client.post(f"{Q}/enqueue_batch", json=add_batch("b", 2)))
    started = await client.post("/api/v1/audit")
    assert started.status_code == 202
    # The transport returns once the background task is done too.
    report = await ok(await client.get("/api/v1/audit"))
    assert (report["state"], report["findings"], report["events"]) == ("done", [], 1)
    assert report["anchor"].startswith("1:")


async def test_the_past_shows_the_queue_and_stats_as_they_were(
    service: Service, client: httpx.AsyncClient
) -> None:
    first = await ok(await client.post(f"{Q}/enqueue_batch", json=add_batch("b1", 2)))
    await settle(service, ["b1"])
    await ok(await client.post(f"{Q}/enqueue_batch", json=add_batch("b2", 3)))
    then = await ok(await client.get(f"/api/v1/as_of/{first['position']}/queue/default"))
    assert (then["status"]["counts"]["uninitialized"], then["status"]["batches"]) == (2, 1)
    assert [b["batch_id"] for b in then["batches"]] == ["b1"]
    head = await service.store.head()
    now = await ok(await client.get(f"/api/v1/as_of/{head}/queue/default"))
    assert (now["status"]["counts"]["completed"], now["status"]["counts"]["uninitialized"]) == (
        2,
        3,
    )
    stats_then = await ok(await client.get(f"/api/v1/as_of/{first['position']}/stats"))
    stats_now = await ok(await client.get(f"/api/v1/as_of/{head}/stats"))
    assert stats_then["stats"]["node_types"] == []
    assert [t["node_type"] for t in stats_now["stats"]["node_types"]] == ["add"]
    beyond = await client.get(f"/api/v1/as_of/{head + 1}/stats")
    assert (beyond.status_code, beyond.json()["code"]) == (404, "not_found")
    other = await ok(await client.get(f"/api/v1/as_of/{head}/queue/elsewhere"))
    assert other["status"]["batches"] == 0
