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

from eventsvc.events import BatchEnqueued, Event, EventMetadata, NewEvent, SessionStarted
from eventsvc.execution import GraphExecutionState
from eventsvc.graph import Graph
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
