"""The event store: one append-only log of positioned, hash-chained events (DESIGN section 3).

``EventStore`` is the protocol every backend implements identically (one contract test suite
proves it), beside the other roles a store plays (``eventsvc.store.protocols``);
``open_store(url)`` picks the backend from the URL's scheme:

- ``sqlite:///abs/path.db`` or ``sqlite://relative/path.db``: the embedded default, one
  writing process per file plus any number of read-only processes;
- ``sqlite://:memory:``: one connection for everything, **not durable** (tests and demos);
- ``postgresql://user:password@host:port/database`` (or ``postgres://``): the scale-out
  engine, any number of processes on one database; the store lives in the first schema of
  the search path, which the URL may name (``?search_path=eventsvc``). Needs asyncpg (the
  ``postgres`` extra).

``position`` is the dense global sequence from 1 (the SSE id); ``version`` counts each stream's
events from 0. Driver errors never leave this package: each backend translates them at one
boundary into ``StoreError``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from eventsvc.clock import Clock, SystemClock
from eventsvc.errors import StoreError
from eventsvc.store.protocols import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    ArtifactHost,
    EventStore,
    ExpectedVersion,
    Importer,
    Reads,
    Snapshot,
    Snapshots,
    StoreOptions,
    StreamState,
    Tables,
    Transaction,
)
from eventsvc.store.subscription import EventFilter, Group, Run, Subscription


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
    "ArtifactHost",
    "EventFilter",
    "EventStore",
    "ExpectedVersion",
    "Group",
    "Importer",
    "Reads",
    "Run",
    "Snapshot",
    "Snapshots",
    "StoreOptions",
    "StreamState",
    "Subscription",
    "Tables",
    "Transaction",
    "open_store",
]
