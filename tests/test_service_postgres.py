"""The service, its API and the command line on PostgreSQL: workers, commands that return once
the projections (run by whichever process holds their lease) have folded them, artifacts in the
database, and several services sharing one queue."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import threading
import types
import uuid
from collections import Counter
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from eventsvc import replay
from eventsvc.api import create_app
from eventsvc.audit import audit
from eventsvc.batches import Batch
from eventsvc.cli import main
from eventsvc.config import Settings
from eventsvc.errors import IllegalTransitionError
from eventsvc.events import BatchEnqueued, InvocationCompleted, SessionCompleted, SessionStarted
from eventsvc.graph import parse_graph
from eventsvc.ids import session_stream
from eventsvc.projections.runner import checkpoint
from eventsvc.service import Service
from eventsvc.store import EventFilter, open_store
from eventsvc.store.postgres import PostgresEventStore
from eventsvc.testing import FakeClock, append_traffic
from tests.backends import PostgresBackend, fresh_schema
from tests.postgres import (
    everything,
    fold_differences,
    lease_holders,
    projected_store,
    settle,
)
from tests.test_executor import GATES, datum, edge, graph

pytestmark = pytest.mark.anyio

ADD_MULTIPLY = graph(
    {"a": {"type": "add"}, "m": {"type": "multiply", "b": 10}}, [edge("a.value", "m.a")]
)


@pytest.fixture
def schema() -> Iterator[PostgresBackend]:
    with fresh_schema() as fresh:
        yield fresh


def settings_for(schema: PostgresBackend, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(store_url=schema.url, artifacts_dir=str(tmp_path / "artifacts"), **extra)


def batch(batch_id: str, values: list[int]) -> Batch:
    return Batch(batch_id=batch_id, graph=ADD_MULTIPLY, data=[[datum("a", "a", values)]])


async def outputs(service: Service, session_id: str) -> dict[str, Any]:
    return {
        e.data.node_id: e.data.outputs
        for e in await service.store.read_stream(session_stream(session_id))
        if isinstance(e.data, InvocationCompleted)
    }


# --- workers and commands --------------------------------------------------------------------


async def test_a_service_with_workers_runs_a_batch_to_completion(
    schema: PostgresBackend, tmp_path: Path
) -> None:
    data = [
        [datum("a", "a", [1, 2, 3]), datum("m", "b", [10, 20, 30])],
        [datum("a", "b", [100, 200])],
    ]
    work = Batch(batch_id="b1", graph=ADD_MULTIPLY, data=data, runs=2)
    settings = settings_for(schema, tmp_path, workers=2)
    async with Service.open(settings, run_workers=True) as service:
        await service.enqueue_batch("default", work)
        await settle(service, ["b1"])
        for index in range(work.session_count):
            values = {(v.node_path, v.field_name): v.value for v in work.session_values(index)}
            result = await outputs(service, f"b1.{index}")
            total = values["a", "a"] + values["a", "b"]
            assert (result["a"]["value"], result["m"]["value"]) == (total, total * values["m", "b"])
        counts = (await service.queue.batch_status("b1")).counts
        assert (counts.completed, counts.total) == (12, 12)
        await service.wait_for(await service.store.head())
        assert (await audit(service.store)).clean


async def test_a_query_right_after_a_command_sees_it_in_either_process(
    schema: PostgresBackend, tmp_path: Path
) -> None:
    settings = settings_for(schema, tmp_path)
    async with Service.open(settings) as first:
        # Only the first competes yet: its enqueue returns once it runs both projections.
        await first.enqueue_batch("q", batch("b1", [1, 2]))
        async with Service.open(settings) as second:
            assert isinstance(first.store, PostgresEventStore)
            runs = (1, first.store.holder)
            holders = await lease_holders(schema)
            assert holders["projection:queue"] == holders["projection:stats"] == runs
            # Through the process that does not fold: read at once, in both.
            result = await second.enqueue_batch("q", batch("b2", [1, 2, 3]))
            assert (await second.queue.batch_status("b2")).counts.uninitialized == 3
            assert (await first.queue.queue_status("q")).counts.uninitialized == 5
            assert await checkpoint(second.store, "queue") >= result.position
            result = await first.enqueue_batch("q", batch("b3", [1]), prepend=True)
            assert result.priority == 1
            assert (await second.queue.next_session("q")).session_id == "b3.0"  # type: ignore[union-attr]


async def test_cancel_retry_and_pause_commands_are_seen_by_the_other_process(
    schema: PostgresBackend, tmp_path: Path
) -> None:
    settings = settings_for(schema, tmp_path)
    async with Service.open(settings) as first, Service.open(settings) as second:
        await first.enqueue_batch("q", batch("b1", [1, 2, 3, 4]))
        await second.cancel_session("b1.0")
        assert (await first.queue.get_session("b1.0")).state == "canceled"
        await second.retry_sessions(["b1.0"])
        retried = await first.queue.get_session("b1.0")
        assert (retried.state, retried.attempt) == ("uninitialized", 2)
        with pytest.raises(IllegalTransitionError, match=r"'b1\.0' is uninitialized: Retry"):
            await first.retry_sessions(["b1.0"])

        await second.pause_queue("q")
        assert (await first.queue.queue_status("q")).paused
        assert await first.queue.next_session("q") is None
        await first.resume_queue("q")
        assert not (await second.queue.queue_status("q")).paused
        assert (await second.queue.next_session("q")).session_id == "b1.0"  # type: ignore[union-attr]

        await first.cancel_batches("q", ["b1"])
        counts = (await second.queue.batch_status("b1")).counts
        assert (counts.canceled, counts.total) == (4, 4)
        assert await second.queue.next_session("q") is None


async def test_two_services_on_one_schema_share_one_queue(
    schema: PostgresBackend, tmp_path: Path
) -> None:
    gate = f"postgres-{uuid.uuid4().hex}"
    gated = Batch(
        batch_id="shared",
        graph=graph({"g": {"type": "test_gate", "gate": gate}}),
        data=[[datum("g", "value", list(range(6)))]],
    )
    settings = settings_for(schema, tmp_path, workers=1)
    async with (
        Service.open(settings, run_workers=True) as first,
        Service.open(settings, run_workers=True) as second,
    ):
        starts = EventFilter(tags=frozenset({"session.started"}))
        try:
            async with first.store.subscribe(filter=starts) as subscription:
                await second.enqueue_batch("default", gated)
                started = aiter(subscription)
                with anyio.fail_after(10):
                    held = [(await anext(started)).data for _ in range(2)]
        finally:
            GATES.setdefault(gate, threading.Event()).set()
        # Each service's one worker held one session at the closed gate: both took one.
        executors = {e.worker_id.rpartition("-")[0] for e in held if isinstance(e, SessionStarted)}
        assert len(executors) == 2
        await settle(first, ["shared"])

        counts = (await second.queue.batch_status("shared")).counts
        assert (counts.completed, counts.total) == (6, 6)
        log = await everything(first.store)
        starts_per_session = Counter(e.stream for e in log if isinstance(e.data, SessionStarted))
        assert starts_per_session == {f"session-shared.{n}": 1 for n in range(6)}
        assert {
            e.data.worker_id.rpartition("-")[0] for e in log if isinstance(e.data, SessionStarted)
        } == executors
        assert not [e for e in log if e.tag == "session.resumed"]
        assert await second.leases.live_workers(settings.lease_seconds) == 2  # one each
        assert (await audit(first.store)).clean


async def test_a_node_measured_while_torch_is_half_imported_is_no_failure(
    schema: PostgresBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two services in one process running the seed-grid at once: the first node to import
    torch leaves it half-initialized in ``sys.modules`` while another node's measurement
    (``sampling._cuda``) reads ``torch.cuda``. That must be no reading, as a broken driver
    is; it raised AttributeError, and reporting that failure crashed the service."""
    monkeypatch.setitem(sys.modules, "torch", types.ModuleType("torch"))  # as during its import
    settings = settings_for(schema, tmp_path, workers=1)
    async with Service.open(settings, run_workers=True) as service:
        await service.enqueue_batch("default", batch("b1", [1, 2]))
        await settle(service, ["b1"])
        counts = (await service.queue.batch_status("b1")).counts
        assert (counts.completed, counts.total) == (2, 2)


# --- artifacts -------------------------------------------------------------------------------


def seed_grid(seeds: list[int]) -> Batch:
    """The seed-grid example (noise, blur, normalize, image) over ``seeds`` only."""
    text = resources.files("eventsvc.examples").joinpath("seed-grid.json").read_text()
    document = json.loads(text)
    data = [[{"node_path": "noise", "field_name": "seed", "items": seeds}]]
    graph_ = parse_graph(document["graph"])
    return Batch.model_validate({"batch_id": "seeds", "graph": graph_, "data": data})


async def test_a_tensor_node_writes_its_image_to_the_database_and_the_api_serves_it(
    schema: PostgresBackend, tmp_path: Path
) -> None:
    settings = settings_for(schema, tmp_path)
    async with (
        Service.open(settings, run_workers=True) as service,
        Service.open(settings) as other,  # another process, which ran nothing
    ):
        await service.enqueue_batch("default", seed_grid([1, 2]))
        await settle(service, ["seeds"])
        assert (await other.queue.batch_status("seeds")).counts.completed == 2
        images = [(await outputs(service, f"seeds.{n}"))["image"]["image"] for n in (0, 1)]
        assert [image["size"] for image in images] == [[64, 64]] * 2
        shas = [image["artifact"] for image in images]
        assert len(set(shas)) == 2  # two seeds, two pictures
        stored = dict(await schema.fetch("SELECT sha256, media_type FROM artifacts"))
        assert {sha: stored.get(sha) for sha in shas} == dict.fromkeys(shas, "image/png")

        transport = httpx.ASGITransport(app=create_app(other))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for sha in shas:
                response = await client.get(f"/api/v1/artifacts/{sha}")
                assert (response.status_code, response.headers["content-type"]) == (
                    200,
                    "image/png",
                )
                assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
                assert hashlib.sha256(response.content).hexdigest() == sha
            missing = await client.get(f"/api/v1/artifacts/{'0' * 64}")
            assert missing.status_code == 404
            # The other process sees the worker's heartbeat (by the database's clock).
            await other.wait_for(await other.store.head())
            health = (await client.get("/api/v1/health")).json()
            assert (health["projection_lag"], health["workers_alive"]) == (
                {"queue": 0, "stats": 0},
                1,
            )
    assert not (tmp_path / "artifacts").exists()  # in the database, not in files


# --- the command line ------------------------------------------------------------------------


async def cli(*argv: str) -> tuple[int, str]:
    """``eventsvc ARGV`` (it runs its own event loop: in a worker thread here)."""

    def run() -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), out=out, err=err)
        return code, out.getvalue() + err.getvalue()

    return await anyio.to_thread.run_sync(run)


async def test_the_cli_audits_and_replays_a_postgres_store(schema: PostgresBackend) -> None:
    async with projected_store(schema) as store:
        await append_traffic(store, 600, sessions_per_batch=5)
        head = await store.head()
        await store.wait_for_projections(head)
        code, out = await cli("audit", "--store", schema.url, "--json")
        report = json.loads(out)
        assert (code, report["clean"], report["events"]) == (0, True, head)

        # A damaged projection is found, and replay --all repairs it.
        await schema.fetch("UPDATE queue_batches SET n_completed = 0")
        code, out = await cli("audit", "--store", schema.url, "--json")
        assert code == 1
        assert {(f["check"], f["position"]) for f in json.loads(out)["findings"]} == {
            ("projection", head)
        }
        code, out = await cli("replay", "--all", "--store", schema.url)
        assert code == 0
        assert out.startswith(f"rebuilt queue, stats from the log up to position {head} in ")
        assert await fold_differences(store) == {}
        code, out = await cli("audit", "--store", schema.url)
        assert (code, out) == (0, f"audit: {head} events, clean; anchor {report['anchor']}\n")

        # The queue as of a past position, from the log alone; the live tables left alone.
        log = await everything(store)
        position = head // 2
        code, out = await cli(
            "replay", "--to-position", str(position), "--store", schema.url, "--json"
        )
        assert code == 0
        past = json.loads(out)
        assert (past["position"], past["recorded_at"]) == (position, log[position - 1].recorded_at)
        then = log[:position]
        enqueued = [e.data.batch_id for e in then if isinstance(e.data, BatchEnqueued)]
        completed = Counter(e.data.batch_id for e in then if isinstance(e.data, SessionCompleted))
        assert [b["batch_id"] for b in past["batches"]] == enqueued
        assert {b["batch_id"]: b["counts"]["completed"] for b in past["batches"]} == {
            batch_id: completed[batch_id] for batch_id in enqueued
        }
        assert [await checkpoint(store, name) for name in ("queue", "stats")] == [head, head]


async def test_the_cli_moves_a_sqlite_log_into_postgres_and_back_out_unchanged(
    schema: PostgresBackend, tmp_path: Path
) -> None:
    async with open_store(f"sqlite://{tmp_path}/source.db", clock=FakeClock()) as source:
        await append_traffic(source, 300, sessions_per_batch=5)
        exported = b"".join([page async for page in replay.export_rows(source)])
    head = exported.count(b"\n")
    path = tmp_path / "log.ndjson"
    path.write_bytes(exported)

    code, out = await cli("events", "import", str(path), "--store", schema.url)
    assert (code, out) == (
        0,
        f"imported {head} of {head} events from {path} (0 already in the log); "
        f"the log ends at position {head}\n",
    )
    code, out = await cli("events", "import", str(path), "--store", schema.url)
    assert (code, out) == (
        0,
        f"imported 0 of {head} events from {path} ({head} already in the log); "
        f"the log ends at position {head}\n",
    )
    code, out = await cli("events", "export", "--store", schema.url)
    assert (code, out.encode()) == (0, exported)
    code, out = await cli("audit", "--store", schema.url, "--json")
    assert (code, json.loads(out)["events"]) == (0, head)
