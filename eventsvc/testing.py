"""Fakes shared by eventsvc's tests and by users' tests: a clock and event builders.

``memory_store()`` opens the one-connection, non-durable ``sqlite://:memory:`` store.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from eventsvc.events import BatchEnqueued, EventMetadata, NewEvent, QueuePaused, SessionStarted
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


def new_event(event: BatchEnqueued | SessionStarted | QueuePaused, **metadata: str) -> NewEvent:
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
