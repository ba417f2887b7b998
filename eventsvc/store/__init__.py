"""The event store: one append-only log of positioned, hash-chained events (DESIGN section 3).

``EventStore`` is the protocol every backend implements identically (one contract test suite
proves it); ``open_store(url)`` picks the backend from the URL's scheme:

- ``sqlite:///abs/path.db`` or ``sqlite://relative/path.db``: the embedded default, one
  writing process per file plus any number of read-only processes;
- ``sqlite://:memory:``: one connection for everything, **not durable** (tests and demos);
- ``postgresql://user:password@host:port/database`` (or ``postgres://``): the scale-out
  engine, any number of processes on one database; the store lives in the first schema of
  the search path, which the URL may name (``?search_path=eventsvc``). Needs asyncpg (the
  ``postgres`` extra).

``position`` is the dense global sequence from 1 (the SSE id); ``version`` counts each stream's
events from 0. Driver errors never leave this package: they become ``StoreError``.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol, TypeAlias

from eventsvc.chain import StoredRow
from eventsvc.clock import Clock, SystemClock
from eventsvc.errors import StoreError
from eventsvc.events import Event, NewEvent, RecordedEvent
from eventsvc.store.subscription import EventFilter, Group, Run, Subscription


class StreamState(enum.Enum):
    """Expected versions that are not a number."""

    ANY = "any"
    NO_STREAM = "no stream"
    STREAM_EXISTS = "stream exists"

    def __str__(self) -> str:
        return self.value


ANY = StreamState.ANY
NO_STREAM = StreamState.NO_STREAM
STREAM_EXISTS = StreamState.STREAM_EXISTS

ExpectedVersion: TypeAlias = int | StreamState
"""``ANY``, ``NO_STREAM``, ``STREAM_EXISTS`` or the exact version of the stream's last event."""


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Where an append's events landed: positions and the stream's new version."""

    stream: str
    first_position: int
    last_position: int
    version: int


@dataclass(frozen=True, slots=True)
class StoreOptions:
    """Settings of a store; every one has a safe default."""

    max_event_bytes: int = 32 * 1024 * 1024
    # FULL makes every commit durable on power loss; NORMAL trades that for speed in WAL mode.
    synchronous: str = "FULL"
    # Commits a live subscriber may have unread before it is closed and told to resume.
    subscriber_buffer: int = 1024
    # How often a read-only process following the log looks for new commits, in seconds.
    poll_interval: float = 0.05
    # Appends committed together in one transaction at most (group commit).
    max_group: int = 512
    # Stream versions a writer remembers, sparing a lookup per append to a known stream.
    stream_cache: int = 65_536
    # PostgreSQL: how long an append waits for its rows to be sealed before it fails, naming
    # the sealing lag; and how long the sealer's lease lasts unless renewed, in seconds (a
    # stalled or vanished sealer is replaced within it).
    seal_timeout: float = 30.0
    sealer_lease: float = 5.0


class EventStore(Protocol):
    """The log. Every method is safe to call from many tasks at once."""

    @property
    def url(self) -> str:
        """The store's URL with any secret removed."""
        ...

    @property
    def read_only(self) -> bool: ...

    async def append(
        self,
        stream: str,
        events: Sequence[Event | NewEvent],
        expected_version: ExpectedVersion = ANY,
    ) -> AppendResult:
        """Append atomically; return once durable. A bare ``Event`` gets a fresh id.

        Raises ``ConcurrencyError`` when ``expected_version`` does not hold (failing only this
        call), ``EventTooLargeError`` for an oversized event, ``DuplicateEventError`` for an id
        already stored with other content. Appending the same ids again returns the original
        result and writes nothing.
        """
        ...

    async def read_stream(
        self, stream: str, from_version: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        """One stream's events from ``from_version`` on, in version order."""
        ...

    async def read_all(self, after: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Up to ``limit`` events with position greater than ``after``, in position order."""
        ...

    async def read_rows(self, after: int = 0, limit: int = 1000) -> list[StoredRow]:
        """Like ``read_all`` but undecoded, exactly as stored and hashed (for audit)."""
        ...

    async def head(self) -> int:
        """The position of the last event in the log (0 when empty)."""
        ...

    def subscribe(
        self, after: int = 0, filter: EventFilter | None = None
    ) -> AbstractAsyncContextManager[Subscription]:
        """Every event after ``after`` matching ``filter``: catch-up, then live, no gap."""
        ...

    async def aclose(self) -> None: ...


@asynccontextmanager
async def open_store(
    url: str,
    *,
    read_only: bool = False,
    options: StoreOptions | None = None,
    clock: Clock | None = None,
) -> AsyncIterator[EventStore]:
    """Open the store at ``url`` for the duration of the ``async with`` block."""
    scheme, separator, _ = url.partition("://")
    if not separator:
        raise StoreError(
            f"not a store URL: {url!r}; expected 'sqlite:///path/to/file.db', "
            "'sqlite://:memory:' or 'postgresql://user@host:port/database'"
        )
    options = options or StoreOptions()
    clock = clock or SystemClock()
    if scheme in ("postgresql", "postgres"):
        from eventsvc.store.postgres import PostgresEventStore

        async with PostgresEventStore.connect(
            url, read_only=read_only, options=options, clock=clock
        ) as postgres:
            yield postgres
        return
    if scheme != "sqlite":
        raise StoreError(
            f"unknown store URL scheme {scheme!r}: expected 'sqlite://', 'postgresql://' "
            "or 'postgres://'"
        )
    from eventsvc.store.sqlite import SqliteEventStore

    store = await SqliteEventStore.open(url, read_only=read_only, options=options, clock=clock)
    try:
        yield store
    finally:
        await store.aclose()


__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "AppendResult",
    "EventFilter",
    "EventStore",
    "ExpectedVersion",
    "Group",
    "Run",
    "StoreOptions",
    "StreamState",
    "Subscription",
    "open_store",
]
