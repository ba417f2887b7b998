"""Fakes shared by eventsvc's tests and by users' tests: a clock, a node context, artifacts
in memory, event builders and a sequential graph runner.

``memory_store()`` opens the one-connection, non-durable ``sqlite://:memory:`` store.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio

from eventsvc.events import (
    BatchCanceled,
    BatchEnqueued,
    Event,
    EventMetadata,
    InvocationCompleted,
    InvocationStarted,
    NewEvent,
    NodeMeasurement,
    SessionCompleted,
    SessionFailed,
    SessionRetried,
    SessionStarted,
)
from eventsvc.execution import GraphExecutionState
from eventsvc.graph import Graph
from eventsvc.ids import batch_stream, session_stream
from eventsvc.store import EventStore, StoreOptions, open_store


class FakeClock:
    """A clock that stands still until told to move; starts at 2026-01-01T00:00:00Z."""

    def __init__(self, now_us: int = 1_767_225_600_000_000) -> None:
        self.now = now_us

    def now_us(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += round(seconds * 1_000_000)


@asynccontextmanager
async def memory_store(
    options: StoreOptions | None = None, clock: FakeClock | None = None
) -> AsyncIterator[EventStore]:
    async with open_store("sqlite://:memory:", options=options, clock=clock or FakeClock()) as s:
        yield s


_counter = itertools.count()


def new_event(event: Event, **metadata: str) -> NewEvent:
    """Wrap an event with a fresh id (and optional correlation/causation ids)."""
    return NewEvent(event=event, event_id=uuid.uuid4(), metadata=EventMetadata(**metadata))


def batch_enqueued(
    batch_id: str = "b1", queue_id: str = "default", sessions: int = 1
) -> BatchEnqueued:
    return BatchEnqueued(
        queue_id=queue_id,
        batch_id=batch_id,
        graph={"nodes": {}, "edges": []},
        session_count=sessions,
    )


def session_started(session_id: str | None = None, worker_id: str = "w1") -> SessionStarted:
    """A ``session.started`` event for a fresh session of batch ``b1`` unless named."""
    sid = session_id or f"b1.{next(_counter)}"
    batch_id = sid.rpartition(".")[0]
    return SessionStarted(
        queue_id="default", batch_id=batch_id, session_id=sid, worker_id=worker_id
    )


def invocation_completed(
    node_id: str, outputs: dict[str, Any], session_id: str = "b1.0", node_type: str = "noise"
) -> InvocationCompleted:
    """An ``invocation.completed`` of node ``node_id`` in ``session_id`` with ``outputs``."""
    return InvocationCompleted(
        queue_id="default",
        batch_id=session_id.rpartition(".")[0],
        session_id=session_id,
        node_id=node_id,
        source_node_id=node_id,
        node_type=node_type,
        outputs=outputs,
    )


class MemoryArtifactStore:
    """Artifacts in a dict, content-addressed like the file store."""

    def __init__(self) -> None:
        self.blobs: dict[str, tuple[bytes, str]] = {}

    def put(self, data: bytes, media_type: str) -> str:
        sha = hashlib.sha256(data).hexdigest()
        self.blobs.setdefault(sha, (data, media_type))
        return sha

    def get(self, sha256: str) -> bytes:
        return self.blobs[sha256][0]

    def media_type(self, sha256: str) -> str:
        return self.blobs[sha256][1]

    def delete(self, sha256: str) -> None:
        self.blobs.pop(sha256, None)

    def __contains__(self, sha256: str) -> bool:
        return sha256 in self.blobs


@dataclass
class FakeContext:
    """An ``InvocationContext`` that records progress and can be canceled by hand."""

    queue_id: str = "default"
    batch_id: str = "b1"
    session_id: str = "b1.0"
    node_id: str = "node"
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("eventsvc.node"))
    artifacts: MemoryArtifactStore = field(default_factory=MemoryArtifactStore)
    canceled: bool = False
    reported: list[tuple[float, str]] = field(default_factory=list)

    def is_canceled(self) -> bool:
        return self.canceled

    def progress(self, fraction: float, message: str = "") -> None:
        self.reported.append((fraction, message))


def run_graph(graph: Graph, context: FakeContext | None = None) -> GraphExecutionState:
    """Run every node of ``graph`` in this thread, in ``next()`` order (no store, no events)."""
    context = context or FakeContext()
    state = GraphExecutionState(graph)
    while (node := state.next()) is not None:
        context.node_id = node.id
        state.complete(node.id, node.invoke(context))
    return state


async def append_traffic(
    store: EventStore, events: int, *, sessions_per_batch: int = 50, concurrency: int = 64
) -> int:
    """Append about ``events`` events of realistic queue traffic straight to ``store``: batches
    whose sessions run three nodes each and complete, or fail once and complete on a retry,
    and every seventh batch canceled halfway. Deterministic but for event ids and times;
    returns the number of events appended."""
    limiter = anyio.CapacityLimiter(concurrency)
    appended = 0

    async def append(stream: str, batch: list[Event]) -> None:
        nonlocal appended
        async with limiter:
            await store.append(stream, batch)
        appended += len(batch)

    for number in itertools.count():
        if appended >= events:
            return appended
        batch_id = f"traffic-{number}"
        canceled = number % 7 == 6
        enqueued = batch_enqueued(batch_id, sessions=sessions_per_batch)
        await append(batch_stream(batch_id), [enqueued])
        async with anyio.create_task_group() as tg:
            for index in range(sessions_per_batch // 2 if canceled else sessions_per_batch):
                tg.start_soon(append, *_session_traffic(batch_id, index))
        if canceled:
            await append(
                batch_stream(batch_id), [BatchCanceled(queue_id="default", batch_id=batch_id)]
            )
    raise AssertionError("unreachable")


def _session_traffic(batch_id: str, index: int) -> tuple[str, list[Event]]:
    sid = f"{batch_id}.{index}"
    ids: dict[str, Any] = {"queue_id": "default", "batch_id": batch_id, "session_id": sid}
    worker = f"w{index % 4}"
    events: list[Event] = [SessionStarted(**ids, worker_id=worker)]
    attempts = 2 if index % 10 == 3 else 1
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            events += [
                SessionRetried(**ids, attempt=attempt),
                SessionStarted(**ids, attempt=attempt, worker_id=worker),
            ]
        for step, node_type in enumerate(("add", "multiply", "subtract")):
            node: dict[str, Any] = {
                "node_id": f"n{step}",
                "source_node_id": f"n{step}",
                "node_type": node_type,
            }
            events += [
                InvocationStarted(**ids, **node, attempt=attempt, worker_id=worker),
                InvocationCompleted(
                    **ids,
                    **node,
                    attempt=attempt,
                    worker_id=worker,
                    outputs={"value": index + step},
                    measurement=NodeMeasurement(wall_seconds=0.001 * step, rss_before=1 << 20),
                ),
            ]
        if attempt < attempts:
            events.append(
                SessionFailed(**ids, attempt=attempt, error_type="ValueError", error_message="x")
            )
    events.append(SessionCompleted(**ids, attempt=attempts))
    return session_stream(sid), events
