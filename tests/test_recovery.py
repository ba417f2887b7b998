"""Interrupted sessions: resumed from their durable completions, or failed as Interrupted."""

from __future__ import annotations

import collections
import os
import signal
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

import tests.slow_nodes  # noqa: F401 (the node type the crash test's batch uses)
from eventsvc import events as ev
from eventsvc.batches import Batch, BatchDatum
from eventsvc.config import Settings
from eventsvc.errors import StoreLockedError
from eventsvc.ids import session_stream
from eventsvc.service import Service
from eventsvc.store import NO_STREAM, EventFilter, open_store
from tests.test_executor import edge, graph, settle

pytestmark = pytest.mark.anyio

ENDED = frozenset({"session.completed", "session.failed", "session.canceled"})


def settings_for(directory: Path, **extra: Any) -> Settings:
    return Settings(
        store_url=f"sqlite://{directory}/events.db",
        artifacts_dir=str(directory / "artifacts"),
        **extra,
    )


def chain() -> Any:
    return graph(
        {
            "a": {"type": "add", "b": 1},
            "b": {"type": "add", "b": 10},
            "c": {"type": "add", "b": 100},
        },
        [edge("a.value", "b.a"), edge("b.value", "c.a")],
    )


def ids(session: str, node: str, node_type: str = "add") -> dict[str, Any]:
    return {
        "queue_id": "default",
        "batch_id": session.split(".")[0],
        "session_id": session,
        "node_id": node,
        "source_node_id": node,
        "node_type": node_type,
    }


async def test_a_dead_workers_session_resumes_where_it_stopped(tmp_path: Path) -> None:
    async with Service.open(settings_for(tmp_path, lease_seconds=0.3)) as service:
        await service.enqueue_batch(
            "default",
            Batch(
                batch_id="r",
                graph=chain(),
                data=[[BatchDatum(node_path="a", field_name="a", items=[5])]],
            ),
        )
        # A worker that never heartbeats claimed the session, finished "a", started "b", died.
        died = [
            ev.SessionStarted(
                queue_id="default", batch_id="r", session_id="r.0", worker_id="ghost"
            ),
            ev.InvocationStarted(**ids("r.0", "a")),
            ev.InvocationCompleted(
                **ids("r.0", "a"), outputs={"value": 6, "type": "integer_output"}
            ),
            ev.InvocationStarted(**ids("r.0", "b")),
        ]
        await service.store.append(session_stream("r.0"), died, NO_STREAM)
        await settle(service, ["r"])

        recorded = await service.store.read_stream(session_stream("r.0"))
        tags = [r.tag for r in recorded]
        assert tags[4:] == [
            "session.resumed",
            "invocation.started",
            "invocation.completed",
            "invocation.started",
            "invocation.completed",
            "session.completed",
        ]
        completed = [r.data.node_id for r in recorded if r.tag == "invocation.completed"]  # type: ignore[attr-defined]
        assert completed == ["a", "b", "c"]  # "a" did not run again
        assert recorded[-2].data.outputs["value"] == 116  # type: ignore[attr-defined]
        assert recorded[4].data.previous_worker_id == "ghost"  # type: ignore[attr-defined]


async def test_an_attempt_interrupted_too_often_fails_as_interrupted(tmp_path: Path) -> None:
    async with Service.open(settings_for(tmp_path, lease_seconds=0.3, max_resumes=1)) as service:
        await service.enqueue_batch("default", Batch(batch_id="x", graph=chain()))
        fields = {"queue_id": "default", "batch_id": "x", "session_id": "x.0"}
        died = [
            ev.SessionStarted(**fields, worker_id="ghost-1"),
            ev.SessionResumed(**fields, worker_id="ghost-2", resumes=1),
        ]
        await service.store.append(session_stream("x.0"), died, NO_STREAM)
        await settle(service, ["x"])
        last = (await service.store.read_stream(session_stream("x.0")))[-1].data
        assert isinstance(last, ev.SessionFailed)
        assert last.error_type == "Interrupted"


async def wait_for_ended_sessions(url: str, count: int) -> None:
    """Follow the log from another process's point of view until ``count`` sessions ended."""
    async with (
        open_store(url, read_only=True) as follower,
        follower.subscribe(filter=EventFilter(tags=ENDED)) as ended,
    ):
        done = 0
        async for _ in ended:
            done += 1
            if done == count:
                return


async def test_a_killed_service_is_recovered_by_the_next_one(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, lease_seconds=0.6)
    slow = graph(
        {
            "a": {"type": "test_slow_add"},
            "b": {"type": "test_slow_add"},
            "c": {"type": "test_slow_add"},
        },
        [edge("a.value", "b.a"), edge("b.value", "c.a")],
    )
    batch = Batch(
        batch_id="k",
        graph=slow,
        data=[[BatchDatum(node_path="a", field_name="a", items=list(range(60)))]],
    )
    async with Service.open(settings) as service:
        await service.enqueue_batch("default", batch)

    log_path = tmp_path / "killed-service.log"
    with log_path.open("wb") as log:
        process = await anyio.open_process(
            [
                sys.executable,
                "-m",
                "tests.run_executor",
                settings.store_url,
                settings.artifacts_dir,
            ],
            cwd=Path(__file__).parent.parent,
            stdout=log,
            stderr=log,
        )
        try:
            with anyio.fail_after(30):
                await wait_for_ended_sessions(settings.store_url, 10)
            with pytest.raises(StoreLockedError, match=f"pid {process.pid}"):
                async with Service.open(settings):
                    pass
        finally:
            os.kill(process.pid, signal.SIGKILL)
            await process.wait()
            await process.aclose()
    assert process.returncode == -signal.SIGKILL, log_path.read_text()

    async with Service.open(settings) as service:
        await settle(service, ["k"])
        assert (await service.queue.batch_status("k")).counts.completed == 60
        everything = []
        while page := await service.store.read_all(
            after=everything[-1].position if everything else 0, limit=1000
        ):
            everything += page
        completions = collections.Counter(
            (r.data.session_id, r.data.attempt, r.data.node_id)  # type: ignore[attr-defined]
            for r in everything
            if r.tag == "invocation.completed"
        )
        assert max(completions.values()) == 1  # no durable completion ran twice
        for index in range(60):
            outputs = {
                r.data.node_id: r.data.outputs["value"]
                for r in everything  # type: ignore[attr-defined]
                if r.tag == "invocation.completed" and r.stream == f"session-k.{index}"
            }
            assert outputs == {"a": index + 1, "b": index + 2, "c": index + 3}
