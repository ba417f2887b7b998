"""Request and response of every route, through httpx.ASGITransport around an opened service."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn

from eventsvc import events as ev
from eventsvc.api import create_app
from eventsvc.artifacts import FileArtifactStore
from eventsvc.batches import Batch
from eventsvc.client import ClientError, EventsvcClient
from eventsvc.config import Settings
from eventsvc.projections.runner import checkpoint
from eventsvc.service import Service
from tests.test_executor import settle

pytestmark = pytest.mark.anyio

GRAPH = {
    "nodes": {"a": {"type": "add", "id": "a"}, "d": {"type": "divide", "id": "d", "a": 12}},
    "edges": [],
}


def batch(batch_id: str, items: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "batch": {
            "batch_id": batch_id,
            "graph": GRAPH,
            "data": [[{"node_path": "d", "field_name": "b", "items": items}]],
            **extra,
        }
    }


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    settings = Settings(
        store_url=f"sqlite://{tmp_path}/events.db",
        artifacts_dir=str(tmp_path / "artifacts"),
        max_batch_sessions=100,
    )
    async with Service.open(settings) as opened:
        yield opened


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as opened:
        yield opened


Q = "/api/v1/queue/q"


async def test_enqueue_then_query_the_queue(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{Q}/enqueue_batch", json=batch("b1", [1, 2, 3]))
    assert response.status_code == 200
    body = response.json()
    assert (body["batch_id"], body["session_count"], body["enqueued"], body["priority"]) == (
        "b1",
        3,
        3,
        0,
    )
    status = (await client.get(f"{Q}/status")).json()
    assert status["counts"]["uninitialized"] == 3
    assert (await client.get(f"{Q}/b/b1/status")).json()["session_count"] == 3
    page = (await client.get(f"{Q}/sessions", params={"limit": 2})).json()
    assert [s["session_id"] for s in page["items"]] == ["b1.0", "b1.1"]
    rest = (await client.get(f"{Q}/sessions", params={"after": page["next_cursor"]})).json()
    assert [s["session_id"] for s in rest["items"]] == ["b1.2"]
    session = (await client.get(f"{Q}/s/b1.1")).json()
    assert session["session"]["state"] == "uninitialized"
    assert session["session"]["field_values"] == [{"node_path": "d", "field_name": "b", "value": 2}]
    assert (session["results"], session["errors"]) == ({}, {})


async def test_a_session_shows_its_results_and_errors(
    client: httpx.AsyncClient, service: Service
) -> None:
    await client.post(f"{Q}/enqueue_batch", json=batch("b1", [4, 0]))
    await settle(service, ["b1"], queue_id="q")
    done = (await client.get(f"{Q}/s/b1.0")).json()
    assert done["session"]["state"] == "completed"
    assert done["results"]["d"] == {"value": 3, "type": "integer_output"}
    failed = (await client.get(f"{Q}/s/b1.1")).json()
    assert failed["session"]["state"] == "failed"
    assert failed["errors"]["d"]["error_type"] == "NodeError"
    assert "cannot divide 12 by zero" in failed["errors"]["d"]["message"]
    assert "Traceback" in failed["errors"]["d"]["traceback"]
    assert set(done["graph"]["nodes"]) == {"a", "d"}
    assert done["graph"]["nodes"]["d"]["b"] == 4
    stats = (await client.get("/api/v1/stats/batches/b1")).json()
    assert {t["node_type"]: t["calls"] for t in stats["node_types"]} == {"add": 2, "divide": 2}
    assert (await client.get("/api/v1/stats/sessions/b1.0")).json()["sessions"] == 1
    by_type = (await client.get("/api/v1/stats/node_types")).json()["node_types"]
    assert {t["node_type"]: (t["calls"], t["failures"]) for t in by_type} == {
        "add": (2, 0),
        "divide": (2, 1),
    }
    ended = (await client.get("/api/v1/stats/completions")).json()
    assert ended["bucket_seconds"] == 60
    assert [(b["completed"], b["failed"]) for b in ended["buckets"]] == [(1, 1)]
    assert (await client.get("/api/v1/stats/completions?limit=0")).status_code == 422
    retried = await client.put(f"{Q}/retry_sessions", json={"session_ids": ["b1.1"]})
    assert retried.status_code == 200
    assert (await client.get(f"{Q}/s/b1.1")).json()["session"]["attempt"] == 2


async def test_commands_return_the_position_of_their_event(client: httpx.AsyncClient) -> None:
    await client.post(f"{Q}/enqueue_batch", json=batch("b1", [1, 2]))
    await client.post(f"{Q}/enqueue_batch", json=batch("b2", [1]))
    positions = [
        (await client.put(f"{Q}/s/b1.0/cancel")).json()["position"],
        (await client.put(f"{Q}/b/b2/priority", json={"priority": 3})).json()["position"],
        (await client.put(f"{Q}/processor/pause")).json()["position"],
        (await client.put(f"{Q}/processor/resume")).json()["position"],
        (await client.put(f"{Q}/cancel_by_batch_ids", json={"batch_ids": ["b1"]})).json()[
            "position"
        ],
        (await client.put(f"{Q}/prune")).json()["position"],
    ]
    assert positions == list(range(3, 9))
    assert (await client.get(f"{Q}/b/b2/status")).json()["priority"] == 3
    listed = (await client.get(f"{Q}/sessions")).json()["items"]
    assert [s["session_id"] for s in listed] == ["b2.0"]  # b1 finished (canceled) and pruned


async def test_the_catalogue_artifacts_and_health(
    client: httpx.AsyncClient, service: Service
) -> None:
    catalogue = (await client.get("/api/v1/invocations")).json()
    add = next(n for n in catalogue if n["type"] == "add")
    assert (add["output"], add["schema"]["class"]) == ("integer_output", "invocation")
    sha = FileArtifactStore(service.settings.artifacts_dir).put(b"\x89PNG...", "image/png")
    response = await client.get(f"/api/v1/artifacts/{sha}")
    assert (response.status_code, response.headers["content-type"], response.content) == (
        200,
        "image/png",
        b"\x89PNG...",
    )
    assert (await client.get(f"/api/v1/artifacts/{'0' * 64}")).status_code == 404
    health = (await client.get("/api/v1/health")).json()
    assert health["store"] == "ok"
    assert health["projection_lag"] == {"queue": 0, "stats": 0}
    assert (health["subscribers"], health["workers_alive"]) == (0, 0)


# --- errors -------------------------------------------------------------------------------


async def test_an_invalid_graph_is_422_with_every_problem(client: httpx.AsyncClient) -> None:
    body = batch("bad", [1])
    body["batch"]["graph"] = {
        "nodes": {"a": {"type": "ad", "id": "a"}, "m": {"type": "multiply", "id": "x"}}
    }
    response = await client.post(f"{Q}/enqueue_batch", json=body)
    assert response.status_code == 422
    error = response.json()
    assert error["code"] == "invalid_graph"
    assert {(d["code"], d["node_id"], d["field"]) for d in error["details"]} == {
        ("unknown_node_type", "a", "type")
    }


async def test_bad_items_and_limits_are_422_and_append_nothing(
    client: httpx.AsyncClient, service: Service
) -> None:
    response = await client.post(f"{Q}/enqueue_batch", json=batch("bad", [1, "x"]))
    assert (response.status_code, response.json()["code"]) == (422, "invalid_batch")
    details = {(d["code"], d["node_id"], d["field"]) for d in response.json()["details"]}
    assert details == {("invalid_item", "d", "b"), ("mixed_types", "d", "b")}
    too_many = await client.post(f"{Q}/enqueue_batch", json=batch("big", list(range(101))))
    assert too_many.status_code == 422
    assert too_many.json()["code"] == "limit_exceeded"
    assert "max_batch_sessions: requested 101, allowed 100" in too_many.json()["message"]
    runs = await client.post(f"{Q}/enqueue_batch", json=batch("zero", [1], runs=0))
    assert (runs.status_code, runs.json()["code"]) == (422, "invalid_request")
    assert runs.json()["details"][0]["field"] == "batch.runs"
    assert await service.store.head() == 0


async def test_a_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    huge = b'{"batch": "' + b"x" * (16 * 1024 * 1024 + 1) + b'"}'
    response = await client.post(
        f"{Q}/enqueue_batch", content=huge, headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.json()["code"]) == (413, "body_too_large")


async def test_unknown_things_are_404_and_conflicts_409(client: httpx.AsyncClient) -> None:
    await client.post(f"{Q}/enqueue_batch", json=batch("b1", [1]))
    for path in (
        f"{Q}/b/nope/status",
        f"{Q}/s/nope.0",
        f"{Q}/s/b1.5",
        "/api/v1/queue/other/s/b1.0",
    ):
        response = await client.get(path)
        assert (response.status_code, response.json()["code"]) == (404, "not_found"), path
    await client.put(f"{Q}/s/b1.0/cancel")
    again_cancel = await client.put(f"{Q}/s/b1.0/cancel")
    assert (again_cancel.status_code, again_cancel.json()["code"]) == (409, "conflict")
    await client.post(f"{Q}/enqueue_batch", json=batch("b9", [1]))
    retry = await client.put(f"{Q}/retry_sessions", json={"session_ids": ["b9.0"]})
    assert (retry.status_code, retry.json()["code"]) == (409, "conflict")
    assert "'b9.0' is uninitialized: Retry" in retry.json()["message"]
    again = await client.post(f"{Q}/enqueue_batch", json=batch("b1", [1]))
    assert again.status_code == 409
    state = await client.get(f"{Q}/sessions", params={"state": "sleeping"})
    assert state.status_code == 422


async def test_a_token_protects_every_api_route(service: Service) -> None:
    transport = httpx.ASGITransport(app=create_app(service, token="s3cret"))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        refused = await client.get(f"{Q}/status")
        assert (refused.status_code, refused.json()["code"]) == (401, "unauthorized")
        wrong = await client.get(f"{Q}/status", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        allowed = await client.get(f"{Q}/status", headers={"Authorization": "Bearer s3cret"})
        assert allowed.status_code == 200
        events = "/api/v1/events?follow=false"
        assert (await client.get(f"{events}&token=s3cret")).status_code == 200
        assert (await client.get(f"{events}&token=nope")).status_code == 401
        assert (await client.get(f"{Q}/status?token=s3cret")).status_code == 401


async def test_the_server_answers_while_a_heavy_node_runs(tmp_path: Path) -> None:
    import threading

    import anyio

    from tests.test_executor import ENTERED, GATES

    GATES.pop("heavy", None)
    ENTERED.pop("heavy", None)
    settings = Settings(
        store_url=f"sqlite://{tmp_path}/events.db", artifacts_dir=str(tmp_path / "artifacts")
    )
    async with Service.open(settings, run_workers=True) as service:
        transport = httpx.ASGITransport(app=create_app(service))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            heavy = {
                "batch": {
                    "batch_id": "h",
                    "graph": {
                        "nodes": {"s": {"type": "test_stubborn", "id": "s", "gate": "heavy"}}
                    },
                }
            }
            assert (await client.post("/api/v1/queue/default/enqueue_batch", json=heavy)).is_success
            await anyio.to_thread.run_sync(ENTERED.setdefault("heavy", threading.Event()).wait, 10)
            with anyio.fail_after(5):
                status = await client.get("/api/v1/queue/default/status")
                health = await client.get("/api/v1/health")
            assert status.json()["counts"]["in_progress"] == 1
            assert health.json()["workers_alive"] == 1
            assert health.json()["subscribers"] == 1  # the executor's follower
            GATES["heavy"].set()


# --- admin: projections rebuilt from the log ----------------------------------------------


async def test_an_admin_rebuilds_a_projection_from_the_log(
    client: httpx.AsyncClient, service: Service, tmp_path: Path
) -> None:
    await client.post(f"{Q}/enqueue_batch", json=batch("b1", [1, 2, 3]))
    await client.put(f"{Q}/s/b1.1/cancel")
    status = (await client.get(f"{Q}/b/b1/status")).json()
    assert status["counts"]["canceled"] == 1
    with sqlite3.connect(tmp_path / "events.db") as conn:  # damage it behind the service's back
        conn.execute("UPDATE queue_batches SET n_uninitialized = 0, n_canceled = 3")
    assert (await client.get(f"{Q}/b/b1/status")).json() != status
    response = await client.post("/api/v1/projections/queue/rebuild")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"name", "position", "seconds"}
    assert (body["name"], body["position"]) == ("queue", await service.store.head())
    assert body["position"] == 2
    assert 0 <= body["seconds"] < 10
    assert (await client.get(f"{Q}/b/b1/status")).json() == status
    assert await checkpoint(service.store, "queue") == 2


async def test_rebuilding_an_unknown_projection_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/projections/nope/rebuild")
    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": "no projection 'nope' (known: 'queue', 'stats')",
        "details": [],
    }


async def test_a_rebuild_needs_the_token(service: Service) -> None:
    transport = httpx.ASGITransport(app=create_app(service, token="s3cret"))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        refused = await client.post("/api/v1/projections/stats/rebuild")
        assert (refused.status_code, refused.json()["code"]) == (401, "unauthorized")
        wrong = await client.post(
            "/api/v1/projections/stats/rebuild", headers={"Authorization": "Bearer nope"}
        )
        assert wrong.status_code == 401
        allowed = await client.post(
            "/api/v1/projections/stats/rebuild", headers={"Authorization": "Bearer s3cret"}
        )
        assert (allowed.status_code, allowed.json()["name"]) == (200, "stats")


async def test_the_client_asks_for_a_rebuild(service: Service) -> None:
    await service.enqueue_batch("q", Batch.model_validate(batch("b1", [1, 2])["batch"]))
    transport = httpx.ASGITransport(app=create_app(service, token="s3cret"))
    async with EventsvcClient("http://test", token="s3cret", transport=transport) as client:
        answer = await client.rebuild_projection("queue")
        assert (answer.name, answer.position) == ("queue", 1)
        with pytest.raises(ClientError) as caught:
            await client.rebuild_projection("nope")
        assert (caught.value.status, caught.value.code) == (404, "not_found")


# --- the invocation cache -----------------------------------------------------------------

CACHE = "/api/v1/cache"
CACHE_FIELDS = {"enabled", "entries", "size", "max_entries", "max_bytes", "hits", "misses"}


async def test_the_cache_route_shows_entries_size_hits_and_misses(
    client: httpx.AsyncClient, service: Service
) -> None:
    empty = await client.get(CACHE)
    assert empty.status_code == 200
    assert empty.json() == {
        "enabled": True,
        "entries": 0,
        "size": 0,
        "max_entries": service.settings.cache_max_entries,
        "max_bytes": service.settings.cache_max_bytes,
        "hits": 0,
        "misses": 0,
    }
    await client.post(f"{Q}/enqueue_batch", json=batch("b1", [3]))
    await settle(service, ["b1"], queue_id="q")
    first = (await client.get(CACHE)).json()
    assert (first["entries"], first["hits"], first["misses"]) == (2, 0, 2)  # a and d missed
    assert first["size"] == (await service.cache.status()).bytes > 0
    await client.post(f"{Q}/enqueue_batch", json=batch("b2", [3]))
    await settle(service, ["b2"], queue_id="q")
    second = (await client.get(CACHE)).json()
    assert set(second) == CACHE_FIELDS
    assert (second["entries"], second["size"]) == (2, first["size"])
    assert (second["hits"], second["misses"]) == (2, 2)


async def test_deleting_the_cache_says_how_many_entries_went(
    client: httpx.AsyncClient, service: Service
) -> None:
    await client.post(f"{Q}/enqueue_batch", json=batch("b1", [3]))
    await settle(service, ["b1"], queue_id="q")
    cleared = await client.delete(CACHE)
    assert (cleared.status_code, cleared.json()) == (200, {"removed": 2})
    after = (await client.get(CACHE)).json()
    assert (after["entries"], after["size"], after["misses"]) == (0, 0, 2)
    assert (await client.delete(CACHE)).json() == {"removed": 0}


async def test_the_cache_is_turned_off_and_on(client: httpx.AsyncClient, service: Service) -> None:
    off = await client.put(f"{CACHE}/disable")
    assert (off.status_code, off.json()["enabled"]) == (200, False)
    assert set(off.json()) == CACHE_FIELDS
    assert (await client.get(CACHE)).json()["enabled"] is False
    assert not (await service.cache.status()).enabled
    await client.post(f"{Q}/enqueue_batch", json=batch("b1", [3]))
    await settle(service, ["b1"], queue_id="q")
    assert (await client.get(CACHE)).json()["entries"] == 0  # nothing kept while off
    on = await client.put(f"{CACHE}/enable")
    assert (on.status_code, on.json()["enabled"]) == (200, True)
    assert (await service.cache.status()).enabled
    assert (await client.put(f"{CACHE}/enable")).json()["enabled"] is True  # idempotent


async def test_the_cache_routes_need_the_token(service: Service) -> None:
    transport = httpx.ASGITransport(app=create_app(service, token="s3cret"))
    routes = [
        ("GET", CACHE),
        ("DELETE", CACHE),
        ("PUT", f"{CACHE}/enable"),
        ("PUT", f"{CACHE}/disable"),
    ]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for method, path in routes:
            refused = await client.request(method, path)
            assert (refused.status_code, refused.json()["code"]) == (401, "unauthorized"), path
            wrong = await client.request(method, path, headers={"Authorization": "Bearer no"})
            assert wrong.status_code == 401, path
        assert (await service.cache.status()).enabled  # the refused disable changed nothing
        for method, path in routes:
            allowed = await client.request(method, path, headers={"Authorization": "Bearer s3cret"})
            assert allowed.status_code == 200, path


async def test_the_client_reads_clears_and_switches_the_cache(service: Service) -> None:
    await service.enqueue_batch("q", Batch.model_validate(batch("b1", [4])["batch"]))
    await settle(service, ["b1"], queue_id="q")
    transport = httpx.ASGITransport(app=create_app(service, token="s3cret"))
    async with EventsvcClient("http://test", token="s3cret", transport=transport) as client:
        status = await client.cache()
        assert (status.entries, status.misses, status.enabled) == (2, 2, True)
        assert (await client.enable_cache(False)).enabled is False
        assert (await client.cache()).enabled is False
        assert (await client.enable_cache()).enabled is True
        assert await client.clear_cache() == 2
        assert (await client.cache()).entries == 0


# --- under load and after faults ----------------------------------------------------------


@pytest.fixture
async def served(service: Service) -> AsyncIterator[str]:
    """The app on a real uvicorn on a free loopback port (ASGITransport runs one request at a
    time per client and hides races between requests)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    server = uvicorn.Server(
        uvicorn.Config(create_app(service), log_level="warning", lifespan="off")
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [listener])
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
        server.should_exit = True
    listener.close()


async def test_concurrent_enqueuers_are_each_told_their_own_position(
    served: str, service: Service
) -> None:
    answers: list[tuple[str, int, dict[str, Any]]] = []

    async def enqueuer(n: int) -> None:
        async with httpx.AsyncClient(base_url=served, timeout=10) as http:
            for k in range(40):
                batch_id = f"c{n}-{k}"
                response = await http.post(f"{Q}/enqueue_batch", json=batch(batch_id, [1]))
                answers.append((batch_id, response.status_code, response.json()))

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for n in range(8):
                tg.start_soon(enqueuer, n)
    assert [(b, status) for b, status, _ in answers if status != 200] == []
    records = {r.position: r for r in await service.store.read_all(limit=1000)}
    for batch_id, _, body in answers:
        assert records[body["position"]].data.batch_id == batch_id  # type: ignore[attr-defined]


class Poison:
    """A projection that cannot fold any pause of queue 'poison'."""

    name = "poison"
    schema = "CREATE TABLE IF NOT EXISTS poison_seen (position INTEGER PRIMARY KEY)"
    tables = ("poison_seen",)
    reads_own_tables = False
    tags = frozenset({"queue.paused"})

    def apply(self, tx: Any, events: Any) -> None:
        if any(record.data.queue_id == "poison" for record in events):
            raise ValueError("cannot fold this")


async def test_a_stalled_projection_fails_commands_at_once_and_health_names_it(
    client: httpx.AsyncClient, service: Service
) -> None:
    await client.post(f"{Q}/enqueue_batch", json=batch("b1", [1, 2]))
    stalled_at = await service.store.append("queue-poison", [ev.QueuePaused(queue_id="poison")])
    await service.store.register(Poison())  # an older log holds what it cannot fold
    with anyio.fail_after(5):  # at once, not after a timeout
        refused = await client.put(f"{Q}/processor/pause")
    assert (refused.status_code, refused.json()["code"]) == (503, "store_unavailable")
    assert (
        f"projection 'poison' is stalled at position {stalled_at.last_position}"
        in (refused.json()["message"])
    )
    assert (await client.get(f"{Q}/status")).json()["counts"]["uninitialized"] == 2
    health = (await client.get("/api/v1/health")).json()
    assert health["store"] == "stalled"
    assert health["stalled"]["poison"]["position"] == stalled_at.last_position
    assert "cannot fold this" in health["stalled"]["poison"]["reason"]


async def test_a_priority_no_backend_can_store_is_422_while_a_batch_runs(
    client: httpx.AsyncClient, service: Service
) -> None:
    await client.post(f"{Q}/enqueue_batch", json=batch("b1", list(range(1, 6))))
    head = await service.store.head()
    async with anyio.create_task_group() as tg:
        tg.start_soon(settle, service, ["b1"], "q")
        for priority in (2**63, -(2**63) - 1):
            response = await client.put(f"{Q}/b/b1/priority", json={"priority": priority})
            assert (response.status_code, response.json()["code"]) == (422, "invalid_request")
            assert response.json()["details"][0]["field"] == "priority"
    assert (await service.queue.batch_status("b1")).counts.completed == 5
    assert [r.tag for r in await service.store.read_all(after=head, limit=1000)].count(
        "batch.reprioritized"
    ) == 0


async def test_a_priority_written_as_an_integral_float_counts_and_extra_fields_are_422(
    client: httpx.AsyncClient,
) -> None:
    await client.post(f"{Q}/enqueue_batch", json=batch("b1", [1]))
    assert (await client.put(f"{Q}/b/b1/priority", json={"priority": 4.0})).status_code == 200
    assert (await client.get(f"{Q}/b/b1/status")).json()["priority"] == 4
    for body in ({"priority": 4.5}, {"priority": 1, "extra": 2}):
        response = await client.put(f"{Q}/b/b1/priority", json=body)
        assert (response.status_code, response.json()["code"]) == (422, "invalid_request")
    assert response.json()["details"][0]["field"] == "extra"


async def test_a_chunked_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"batch": "'
        for _ in range(17):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    response = await client.post(
        f"{Q}/enqueue_batch", content=chunks(), headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.json()["code"]) == (413, "body_too_large")


async def test_malformed_ids_and_positions_are_4xx_that_name_them(
    client: httpx.AsyncClient,
) -> None:
    cursor = await client.get(f"{Q}/sessions", params={"after": "b." + "9" * 23})
    assert (cursor.status_code, cursor.json()["details"][0]["field"]) == (422, "query.after")
    for header in ("²".encode(), b"12abc", b"9" * 17):
        answer = await client.get(
            "/api/v1/events", params={"follow": "false"}, headers={"Last-Event-ID": header}
        )
        assert answer.status_code == 422, header
        assert answer.json()["details"][0]["field"] == "header.last-event-id"
    resumed = await client.get(
        "/api/v1/events", params={"follow": "false"}, headers={"Last-Event-ID": " 0 "}
    )
    assert resumed.status_code == 200
    nul = await client.get("/api/v1/queue/a%00b/status")
    assert (nul.status_code, nul.json()["details"][0]["field"]) == (422, "path.queue_id")
    deep = b'{"batch": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    parsed = await client.post(
        f"{Q}/enqueue_batch", content=deep, headers={"content-type": "application/json"}
    )
    assert parsed.status_code in (400, 422)
    assert set(parsed.json()) == {"code", "message", "details"}


async def test_a_body_that_is_not_json_is_400_naming_where_it_stops(
    client: httpx.AsyncClient, service: Service
) -> None:
    for body, where in (
        (b"nope", "at character 0"),
        (b'{"batch": {"batch_id": ', "at character 23"),
    ):
        response = await client.post(
            f"{Q}/enqueue_batch", content=body, headers={"content-type": "application/json"}
        )
        assert (response.status_code, response.json()["code"]) == (400, "bad_request")
        assert response.json()["message"].startswith(f"the request body is not JSON {where}: ")
    assert await service.store.head() == 0


async def test_framework_errors_have_the_api_error_body_and_every_allowed_method(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get("/api/v1/nowhere")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    wrong = await client.post("/api/v1/cache")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")
    assert wrong.headers["allow"] == "DELETE, GET, HEAD"
