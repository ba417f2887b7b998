"""The roles a store plays, each a protocol of its own (DESIGN section 3).

``EventStore`` is the log. The database that holds it also hosts tables beside it
(``Tables``: projections, leases, the invocation cache), reads that see one commit
(``Snapshots``, for audit), the import of exported rows (``Importer``) and the artifacts of a
deployment (``ArtifactHost``). Each client asks for the role it needs; the composition root
holds a backend that plays them all (``eventsvc.projections.builtin.ProjectedStore``).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias, TypeVar

from eventsvc.chain import StoredRow
from eventsvc.events import Event, NewEvent, RecordedEvent
from eventsvc.invocations.context import ArtifactStore
from eventsvc.store.archive_model import ArchiveState, Committed, Plan
from eventsvc.store.subscription import EventFilter, Subscription

_T = TypeVar("_T")


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
    # PostgreSQL: while events keep coming, a projection's runner starts a page at most this
    # often, in seconds, so a page holds the events of that while (a page costs its runner a
    # few statements however few events it holds); a caller that waits for the projection, in
    # any process, starts the next page at once. Reads that do not wait may see the
    # projection this much behind. Capped at a third of the lease, which every page renews.
    projection_page_interval: float = 0.05


class EventStore(Protocol):
    """The log. Every method is safe to call from many tasks at once."""

    @property
    def url(self) -> str:
        """The store's URL with any secret removed."""
        ...

    @property
    def read_only(self) -> bool: ...

    @property
    def subscribers(self) -> int:
        """Live subscriptions this process is feeding."""
        ...

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


class Transaction(Protocol):
    """An open write transaction on tables beside the log.

    Synchronous: a store runs a whole transaction (on SQLite the append and every projection
    with it) in one call on its connection's thread, rather than paying a thread hop per
    statement. SQL takes ``?`` placeholders on every backend.
    """

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class Reads(Protocol):
    """Read-only queries on the store's database (``?`` placeholders on every backend)."""

    async def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    async def exists(self, table: str) -> bool:
        """Whether ``table`` exists (projections make theirs when first registered)."""
        ...


class Tables(Reads, Protocol):
    """Tables the store's database holds beside the log, and the database's clock."""

    @property
    def db_now(self) -> str:
        """SQL for the database's clock in seconds since the epoch (leases are judged by it)."""
        ...

    async def point_query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read of a row or two by key, the cheapest way the backend has."""
        ...

    async def create_beside(self, statements: Sequence[str]) -> None:
        """Create tables beside the log (``IF NOT EXISTS``), safely from many processes."""
        ...

    async def write_beside(self, work: Callable[[Transaction], _T], action: str = "write") -> _T:
        """Run ``work`` in a write transaction of its own on tables beside the log."""
        ...


class Snapshot(Reads, Protocol):
    """The log, and the tables beside it, as of one commit."""

    async def read_rows(self, after: int = 0, limit: int = 1000) -> list[StoredRow]: ...


class Snapshots(Protocol):
    def snapshot(self) -> AbstractAsyncContextManager[Snapshot]:
        """Reads that all see one state of the database."""
        ...


class Importer(Protocol):
    async def import_rows(
        self, rows: Sequence[StoredRow], *, verify: bool = True, archive: ArchiveState | None = None
    ) -> int:
        """Store exported rows as they were (positions, hashes), folding them into the
        projections; rows already held identically are skipped. How many were new. An
        ``archive`` state (an export of an archived log) goes first: an empty store takes
        it in, one holding the same archives skips it."""
        ...


class Archiver(Protocol):
    """What an archive of the log (``eventsvc.archive``) asks of a store."""

    def archiving(self) -> AbstractAsyncContextManager[None]:
        """Held while one archive runs; another one meanwhile raises ArchiveConflictError."""
        ...

    async def commit_archive(
        self, plan: Plan, write_file: Callable[[], Awaitable[None]]
    ) -> Committed:
        """Write the archive's file (``write_file``, which fills in ``plan``'s facts of it)
        and apply the archive in one transaction (``archives.commit``) that commits only once
        the file is in place. A backend may remove the rows (``archives.remove``) while the
        file is being written, and seal the archive (``archives.seal``) after it."""
        ...

    async def give_back_space(self) -> None:
        """Hand the space of deleted rows back (SQLite) or to later rows (PostgreSQL)."""
        ...

    async def size_bytes(self) -> int:
        """The database's size on disk."""
        ...


class ArtifactHost(Protocol):
    def artifact_store(self, directory: str | os.PathLike[str]) -> ArtifactStore:
        """Where this store's processes keep artifacts: files in ``directory`` for one
        process, the database itself where several share it."""
        ...
