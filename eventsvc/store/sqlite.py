"""The SQLite event store on aiosqlite: the embedded default (DESIGN section 3).

One table holds the log: ``position`` is its AUTOINCREMENT key (never reused, even after the
tail is deleted), ``(stream, version)`` and ``event_id`` are unique. Payloads are JSON text,
stored exactly as hashed. The database runs in WAL mode with ``synchronous=FULL`` unless told
otherwise, and every write transaction is ``BEGIN IMMEDIATE``.

One process writes a file: it holds an exclusive ``flock`` on ``<file>.lock`` (released by the
kernel if the process dies) and refuses a second writer by name; read-only processes open the
file alongside it and follow new commits by polling ``PRAGMA data_version``.

Group commit (``group_commit``): an append queues its prepared rows; if no commit is in flight
its caller becomes the leader and commits everything queued, in one transaction, then hands
leadership to the next caller waiting. No timer, no lock around single appends: appends that
arrive while a commit is in flight simply go together into the next one. Expected versions are
checked per append inside the transaction, so one caller's conflict fails only that caller.

Because this process is the only writer, it keeps the log's head (last position, hash and
recorded_at) and the versions of recently written streams in memory, computes positions and
hashes before inserting, and hands committed events straight to in-process subscribers. A
common append costs three statements: BEGIN, one executemany, COMMIT. Idempotent retries are
recognised on the rare paths only: when an insert collides on an event id, or when the version
check fails because the retried append itself already moved the stream on.

Projections (``eventsvc.projections``) are folded inside each append's own transaction: a
command costs one commit and is visible to reads when it returns, and an append whose events a
projection cannot fold is refused alone. A projection registered on a log ahead of it catches
up page by page; one that cannot fold an event of the log stalls there. sqlite3's errors
become ``StoreError`` at one boundary (``_translated``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO, TypeVar
from urllib.parse import parse_qsl

import aiosqlite
import anyio

from eventsvc import instruments
from eventsvc.artifacts import FileArtifactStore
from eventsvc.chain import GENESIS, StoredRow, chain_hash
from eventsvc.clock import Clock
from eventsvc.errors import (
    ArchiveConflictError,
    ConcurrencyError,
    DuplicateEventError,
    ImportRejectedError,
    NotFoundError,
    StoreError,
    StoreLockedError,
)
from eventsvc.events import Event, NewEvent, RecordedEvent
from eventsvc.ids import of_a_batch
from eventsvc.projections import FoldError, Projection, ProjectionStall, fold_or_raise
from eventsvc.projections.runner import (
    checkpoint,
    choose,
    ddl_statements,
    fold_exactly,
    prepare_tables,
    rebuild_in,
    save_checkpoint,
)
from eventsvc.store import archives, migrations
from eventsvc.store.group_commit import GroupCommit
from eventsvc.store.protocols import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    ExpectedVersion,
    StoreOptions,
    Transaction,
)
from eventsvc.store.rows import (
    COLUMNS,
    STORED,
    Head,
    Item,
    check_repeat,
    columns_of,
    decode_rows,
    importable,
    known_span,
    prepare,
    record,
    repeat_of,
)
from eventsvc.store.subscription import EventFilter, Fanout, Subscription

log = logging.getLogger("eventsvc.store")
_K = TypeVar("_K")
_V = TypeVar("_V")

SCHEMA_SQL = """
CREATE TABLE eventsvc_schema (version INTEGER NOT NULL);
CREATE TABLE events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    stream TEXT NOT NULL,
    version INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    data TEXT NOT NULL,
    metadata TEXT NOT NULL,
    hash BLOB NOT NULL
);
CREATE UNIQUE INDEX events_stream_version ON events (stream, version);
CREATE UNIQUE INDEX events_event_id ON events (event_id);
"""
# The database's clock, in seconds since the epoch: leases are judged by it, not by a worker's.
DB_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
_BETWEEN = f"SELECT {COLUMNS} FROM events WHERE position BETWEEN ? AND ?"
# The payloads as the UTF-8 bytes that were hashed, straight from the page: no decode to text
# and encode back per row (the hot read of audit).
_STORED = (
    "SELECT position, stream, version, event_id, tag, schema_version, recorded_at, "
    "CAST(data AS BLOB), CAST(metadata AS BLOB), hash FROM events"
)
_INSERT = f"INSERT INTO events ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_MEMORY = ":memory:"
# The page cache an archive's transaction gets (negative: KiB), 64 MiB.
ARCHIVE_CACHE_KIB = -65536
# The most events an archive removes while its file is written (``commit_archive``): about a
# second or two of holding the writer.
OVERLAPPED_EVENTS = 100_000


class _FileNotWritten(Exception):
    """The archive's file failed or was canceled: its transaction rolls back."""


class SqliteTransaction:
    """A projection's view of the writer's open transaction (on the connection's thread)."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self._raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._raw.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._raw.executemany(sql, rows)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        # No row factory is set, so the driver's rows are tuples already.
        return self._raw.execute(sql, params).fetchall()


# Free pages kept for the appends to come, as a share of the pages in use: what a daily
# archive frees, the next day's appends take again, and handing those pages back to the file
# system only to grow the file again would cost a vacuum's I/O every day for nothing.
FREE_RESERVE = 0.25


def free_pages_beyond_reserve(raw: sqlite3.Connection) -> None:
    """Hand the free pages beyond ``FREE_RESERVE`` back to the file system: a store whose
    live log shrinks gives its disk back, one that archives what it appends keeps its size."""
    [(free,)] = raw.execute("PRAGMA freelist_count").fetchall()
    [(pages,)] = raw.execute("PRAGMA page_count").fetchall()
    beyond = int(free) - int((int(pages) - int(free)) * FREE_RESERVE)
    if beyond > 0:
        # executescript steps the pragma to its end; execute() frees one page.
        raw.executescript(f"PRAGMA incremental_vacuum({beyond});")


def _vacuum_after_archive(raw: sqlite3.Connection) -> None:
    """Hand the pages an archive's commit freed back to the file system at once, while they
    are in its cache (pages freed in a transaction are reusable only once it has committed).
    The archive stands whatever this does: ``give_back_space`` runs next, vacuums what is
    left, and says why if it fails."""
    with contextlib.suppress(sqlite3.Error):
        if raw.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:  # 2: INCREMENTAL
            free_pages_beyond_reserve(raw)


@contextmanager
def _transaction(raw: sqlite3.Connection) -> Iterator[None]:
    raw.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    raw.execute("COMMIT")


_T = TypeVar("_T")


async def _on_connection_thread(
    conn: aiosqlite.Connection, function: Callable[[sqlite3.Connection], _T]
) -> _T:
    """Run ``function`` with the raw sqlite3 connection on aiosqlite's own thread.

    A write transaction (the append, every inline projection and the checkpoint) then costs
    one thread hop instead of one per statement. aiosqlite offers no public way to do this:
    ``_execute`` and ``_conn`` have kept their meaning since 0.17, and the dependency is
    capped below the next minor version so a change cannot slip in unnoticed.
    """
    return await conn._execute(lambda: function(conn._conn))  # type: ignore[no-untyped-call,no-any-return]


@dataclass(slots=True)
class _Append:
    """One caller's append, prepared in the caller's task, decided by the commit leader."""

    stream: str
    expected: ExpectedVersion
    # (event_id, tag, schema_version, data, metadata, event) per event.
    items: list[tuple[str, str, int, str, str, Event]]
    wakeup: anyio.Event | None = None
    settled: bool = False
    result: AppendResult | None = None
    error: BaseException | None = None


class SqliteEventStore:
    """The ``EventStore`` on one SQLite file (or ``:memory:``); open it with ``open_store``."""

    def __init__(
        self,
        url: str,
        path: str,
        writer: aiosqlite.Connection | None,
        reader: aiosqlite.Connection,
        lock: TextIO | None,
        options: StoreOptions,
        clock: Clock,
    ) -> None:
        self._url = url
        self._path = path
        self._writer = writer
        self._reader = reader
        self._lock = lock
        self._options = options
        self._clock = clock
        self._head = Head()
        self._group = GroupCommit(options.max_group, self._commit)
        self._closed = False
        self._fanout = Fanout(options.subscriber_buffer) if writer is not None else None
        self._projections: list[Projection] = []
        self._stalls: dict[str, ProjectionStall] = {}
        self._side: aiosqlite.Connection | None = None
        self._inline: sqlite3.Connection | None = None
        self._archive_lock = anyio.Lock()
        # Write transactions committed by this process (group commit shows as events/commit).
        self.commits = 0
        # The writer's knowledge of stream versions; it is the only writer, so it stays true.
        self._versions = _BoundedCache[str, tuple[int | None, int]](options.stream_cache)

    # --- opening ------------------------------------------------------------------------

    @classmethod
    async def open(
        cls, url: str, *, read_only: bool, options: StoreOptions, clock: Clock
    ) -> SqliteEventStore:
        path, query = _parse_url(url)
        options = _apply_query(options, query)
        if path == _MEMORY:
            if read_only:
                raise StoreError("sqlite://:memory: cannot be opened read-only: it holds nothing")
            conn = await _connect(_MEMORY, options, uri=False)
            log.warning("sqlite://:memory: store: not durable, everything is lost on close")
            store = cls(url, path, conn, conn, None, options, clock)
        elif read_only:
            if not await anyio.Path(path).exists():
                raise StoreError(f"no event store at {path!r}")
            reader = await _connect(f"file:{path}?mode=ro", options, uri=True)
            store = cls(url, path, None, reader, None, options, clock)
        else:
            await anyio.Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            lock = _acquire_writer_lock(path)
            writer = None
            try:
                _create_private(path)
                writer = await _connect(path, options, uri=False)
                reader = await _connect(f"file:{path}?mode=ro", options, uri=True)
            except BaseException:
                if writer is not None:
                    await writer.close()
                lock.close()
                raise
            store = cls(url, path, writer, reader, lock, options, clock)
        try:
            await store._check_schema()
            await store._load_head()
        except BaseException:
            await store.aclose()
            raise
        return store

    async def _check_schema(self) -> None:
        try:
            tables = {
                row[0]
                for row in await self._reader.execute_fetchall(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                )
            }
            if not tables and self._writer is not None:
                # Created at the base version, then migrated like any older store.
                await self._writer.executescript(
                    f"BEGIN IMMEDIATE; {SCHEMA_SQL} "
                    f"INSERT INTO eventsvc_schema VALUES ({migrations.BASE_VERSION}); COMMIT;"
                )
                rows: list[Any] = [(migrations.BASE_VERSION,)]
            elif "eventsvc_schema" not in tables:
                raise StoreError(f"{self._path!r} is not an eventsvc store (no eventsvc_schema)")
            else:
                rows = list(
                    await self._reader.execute_fetchall("SELECT version FROM eventsvc_schema")
                )
        except sqlite3.Error as exc:
            raise StoreError(f"{self._path!r} is not a readable SQLite database: {exc}") from exc
        version = rows[0][0] if rows else None
        steps = migrations.pending(version, repr(self._path))
        if not steps:
            return
        if self._writer is None:
            assert version is not None  # pending refuses a store recording none
            raise migrations.read_only_refusal(repr(self._path), version)
        now = self._clock.now_us()
        with self._translated("migrating the store"):
            await _on_connection_thread(self._writer, lambda raw: _migrate(raw, steps, now))
        log.info("migrated %r to store schema version %d", self._path, steps[-1].version)

    async def _load_head(self) -> None:
        rows = list(
            await self._reader.execute_fetchall(
                # recorded_at never decreases along positions, so the last row holds the max.
                "SELECT seq, hash, recorded_at FROM sqlite_sequence "
                "LEFT JOIN events ON position = seq WHERE name = 'events'"
            )
        )
        if rows:
            seq, hash_, recorded_at = rows[0]
            self._head = Head(seq, hash_ if hash_ is not None else GENESIS, recorded_at or 0)

    # --- the protocol -------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._url

    @property
    def read_only(self) -> bool:
        return self._writer is None

    @property
    def db_now(self) -> str:
        """SQL for the database's clock in seconds since the epoch (leases are judged by it)."""
        return DB_NOW

    @property
    def subscribers(self) -> int:
        """Live subscriptions this process is feeding."""
        return 0 if self._fanout is None else len(self._fanout)

    async def head(self) -> int:
        if self._writer is not None:
            return self._head.position
        rows = list(await self._read("SELECT max(position) FROM events", ()))
        return int(rows[0][0] or 0)

    async def append(
        self,
        stream: str,
        events: Sequence[Event | NewEvent],
        expected_version: ExpectedVersion = ANY,
    ) -> AppendResult:
        if self._writer is None:
            raise StoreError(f"store {self._path!r} was opened read-only; it cannot append")
        if self._closed:
            raise StoreError(f"store {self._path!r} is closed")
        if not events:
            raise ValueError("append needs at least one event")
        started = time.perf_counter()
        request = _Append(stream, expected_version, self._prepare(stream, events))
        await self._group.submit(request)
        if request.error is not None:
            raise request.error
        assert request.result is not None
        instruments.appended(events, time.perf_counter() - started)
        return request.result

    async def read_stream(
        self, stream: str, from_version: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        rows = await self._read(
            f"SELECT {COLUMNS} FROM events WHERE stream = ? AND version >= ? "
            "ORDER BY version LIMIT ?",
            (stream, from_version, -1 if limit is None else limit),
        )
        return decode_rows(rows)

    async def read_all(self, after: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        rows = await self._read(
            f"SELECT {COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?",
            (after, limit),
        )
        if rows and rows[0][0] > after + 1:
            await archives.check_after(self, after)
        return decode_rows(rows)

    async def read_rows(self, after: int = 0, limit: int = 1000) -> list[StoredRow]:
        rows = await self._read(
            f"{_STORED} WHERE position > ? ORDER BY position LIMIT ?", (after, limit)
        )
        if rows and rows[0][0] > after + 1:
            await archives.check_after(self, after)
        return [StoredRow(p, s, v, i, t, sv, r, d, m, h) for p, s, v, i, t, sv, r, d, m, h in rows]

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[SqliteEventStore]:
        """A read-only store in which every read sees the database as of one commit: the
        log, the projections and their checkpoints together (one WAL read transaction)."""
        if self._path == _MEMORY:
            raise StoreError("sqlite://:memory: has no snapshots: it holds a single connection")
        reader = await _connect(f"file:{self._path}?mode=ro", self._options, uri=True)
        view = SqliteEventStore(
            self._url, self._path, None, reader, None, self._options, self._clock
        )
        try:
            with self._translated("reading"):
                # The read transaction takes its snapshot at its first read, so read at once.
                await reader.execute("BEGIN")
                await view._read("SELECT count(*) FROM eventsvc_schema", ())
            yield view
        finally:
            await view.aclose()

    def subscribe(
        self, after: int = 0, filter: EventFilter | None = None
    ) -> AbstractAsyncContextManager[Subscription]:
        return self._subscribe(after, filter)

    @asynccontextmanager
    async def _subscribe(
        self, after: int, filter: EventFilter | None
    ) -> AsyncIterator[Subscription]:
        yield Subscription(
            self.read_all,
            self._fanout,
            self._change_mark,
            self._wait_for_change,
            after=after,
            filter=filter,
        )

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._fanout is not None:
            self._fanout.close()
        with anyio.CancelScope(shield=True):
            connections = (self._writer, self._reader, self._side)
            for conn in {id(c): c for c in connections if c}.values():
                try:
                    await conn.close()
                except sqlite3.Error as exc:  # its thread is stopped all the same
                    log.warning("closing %r: %s", self._path, exc)
            if self._inline is not None:
                self._inline.close()
        if self._lock is not None:
            self._lock.close()

    # --- group commit -------------------------------------------------------------------

    def _prepare(self, stream: str, events: Sequence[Event | NewEvent]) -> list[Item]:
        return prepare(stream, events, self._options.max_event_bytes)

    async def _exclusively(
        self, action: str, work: Callable[[aiosqlite.Connection], Awaitable[_T]]
    ) -> _T:
        """Run ``work`` with the writer while no append commits.

        It takes the commit leader's place: appends arriving meanwhile queue up, as they do
        behind any commit, and go together into the next one once ``work`` is done.
        """
        if self._writer is None:
            raise StoreError(f"store {self._path!r} was opened read-only; it cannot {action}")
        if self._closed:
            raise StoreError(f"store {self._path!r} is closed")
        writer = self._writer
        with self._translated(action):
            return await self._group.exclusively(lambda: work(writer))

    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        """The one boundary where sqlite3's errors become eventsvc's: ``StoreError`` naming
        what was being done, and the file."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"{action} in {self._path!r} failed: {exc}") from exc

    async def _commit(self, group: list[_Append]) -> None:
        assert self._writer is not None
        try:
            committed = await self._commit_group(self._writer, group)
        except FoldError as exc:
            # Nothing of the group is stored. Alone, the append that cannot be folded is
            # refused; in a group, each append is tried alone so only that one fails.
            if len(group) == 1:
                group[0].error = StoreError(
                    f"append to stream {group[0].stream!r} refused, nothing stored: {exc}"
                )
                return
            for request in group:
                await self._commit([request])
            return
        except sqlite3.IntegrityError:
            if len(group) == 1:
                await self._resolve_stored(group[0])
                return
            # An event id already stored (a retry): commit one by one, so the retry resolves
            # against the stored rows and no other caller fails.
            for request in group:
                await self._commit([request])
            return
        except sqlite3.Error as exc:
            error = StoreError(f"append to {self._path!r} failed: {exc}")
            for request in group:
                request.result, request.error = None, error
            return
        for request in group:
            # A retry of an append that created or advanced its stream fails the version check.
            if isinstance(request.error, ConcurrencyError) and await self._is_stored(request):
                await self._resolve_stored(request)
        if committed:
            assert self._fanout is not None
            self._fanout.publish(committed)

    async def _commit_group(
        self, conn: aiosqlite.Connection, group: list[_Append]
    ) -> list[RecordedEvent]:
        """One transaction for the whole group, projections included, in a single call on the
        connection's thread; the committed events if anyone listens."""
        listening = self._fanout is not None and len(self._fanout) > 0

        def transaction(raw: sqlite3.Connection) -> tuple[list[RecordedEvent], Any, Any, Head]:
            raw.execute("BEGIN IMMEDIATE")
            try:
                versions = self._stream_versions(raw, group)
                rows, events, head = self._plan(group, versions)
                records = []
                if self._projections or listening:
                    records = [record(row, event) for row, event in zip(rows, events, strict=True)]
                if rows:
                    raw.executemany(_INSERT, rows)
                    self._apply_projections(raw, records)
                raw.execute("COMMIT")
            except BaseException:
                raw.execute("ROLLBACK")
                for request in group:
                    request.result = request.error = None
                raise
            return records, (rows, events), versions, head

        records, planned, versions, head = await _on_connection_thread(conn, transaction)
        self._head = head
        self.commits += 1
        self._versions.update(versions)
        if self._fanout is None or not len(self._fanout):
            return []
        if not records:
            # A subscriber joined while this commit ran: its read of the log may have come
            # before the commit, so it must hear of these events from the fanout.
            records = [record(row, event) for row, event in zip(*planned, strict=True)]
        return records

    # --- inline projections -------------------------------------------------------------

    async def register(self, projection: Projection) -> None:
        """Apply ``projection`` in every later append's transaction, catching up first
        (appends wait meanwhile); tables made by another version of it are rebuilt."""

        def create(raw: sqlite3.Connection) -> None:
            with _transaction(raw):
                prepare_tables(SqliteTransaction(raw), projection, ddl_statements)

        async def catch_up(conn: aiosqlite.Connection) -> None:
            await _on_connection_thread(conn, create)
            after = await checkpoint(self, projection.name)

            async def fold(page: list[RecordedEvent]) -> bool:
                await _on_connection_thread(conn, self._fold_transaction(projection, page))
                return True

            try:
                while page := await self.read_all(after=after, limit=1000):
                    await fold_exactly(fold, page)
                    after = page[-1].position
            except FoldError as exc:
                # The log holds an event this projection cannot fold: it stays where it was,
                # readable, and commands that need it say why instead of waiting for it.
                log.error("%s; it is stalled until eventsvc is fixed", exc)
                self._stalls[projection.name] = ProjectionStall(
                    projection.name, exc.position, f"{exc.tag!r}: {exc.reason}"
                )
                return
            self._stalls.pop(projection.name, None)
            self._projections.append(projection)

        await self._exclusively("register a projection", catch_up)

    @property
    def projections(self) -> list[str]:
        """The names of the projections folded in this store's appends."""
        return [p.name for p in self._projections]

    async def rebuild(self, *names: str) -> int:
        """Drop the named projections' tables and fold the whole log into them again, in one
        transaction: readers see the old tables or the new ones. Appends wait meanwhile.
        Returns the position the rebuilt projections have folded up to."""
        chosen = choose({p.name: p for p in self._projections}, names)

        def transaction(raw: sqlite3.Connection) -> int:
            with _transaction(raw):
                return rebuild_in(SqliteTransaction(raw), chosen, ddl_statements)

        async def rebuild(conn: aiosqlite.Connection) -> int:
            return await _on_connection_thread(conn, transaction)

        try:
            return await self._exclusively("rebuild a projection", rebuild)
        except FoldError as exc:
            raise StoreError(f"rebuild failed, the tables are as they were: {exc}") from None

    async def import_rows(
        self,
        rows: Sequence[StoredRow],
        *,
        verify: bool = True,
        archive: archives.ArchiveState | None = None,
    ) -> int:
        """Store rows exported from a log exactly as they were (positions, times, hashes) and
        fold them into the projections, in one transaction; return how many were new.

        Rows at positions this log already holds must be the same events (same hash) and are
        skipped, so importing a file twice changes nothing. The others must continue this
        log densely and, unless ``verify`` is off, its hash chain: the first position that
        does not is named and nothing of the call is stored. An export of an archived log
        carries its ``archive`` state, taken in by an empty store (its log then continues
        from the archives' marker) and skipped by one holding the same archives.
        """

        async def store(conn: aiosqlite.Connection) -> int:
            records, head = await _on_connection_thread(
                conn, self._import_transaction(rows, verify, archive)
            )
            self._head = head
            self._versions.clear()
            if records and self._fanout is not None:
                self._fanout.publish(records)
            return len(records)

        return await self._exclusively("import events", store)

    def _import_transaction(
        self, rows: Sequence[StoredRow], verify: bool, archive: archives.ArchiveState | None
    ) -> Callable[[sqlite3.Connection], tuple[list[RecordedEvent], Head]]:
        head = self._head

        def transaction(raw: sqlite3.Connection) -> tuple[list[RecordedEvent], Head]:
            nonlocal head
            with _transaction(raw):
                tx = SqliteTransaction(raw)
                if archive is not None:
                    start = archives.import_state(tx, archive, self._projections, head.position)
                    head = head if start is None else Head(*start)
                span = known_span(rows, head.position)
                held = raw.execute(_BETWEEN, span).fetchall() if span else []
                through = archives.first_live(archives.held_markers(tx)) - 1
                fresh = importable(rows, (head.position, head.hash), held, verify, through)
                stored = [columns_of(row) for row in fresh]
                try:
                    raw.executemany(_INSERT, stored)
                except sqlite3.IntegrityError as exc:
                    raise ImportRejectedError(fresh[0].position, str(exc)) from None
                records = decode_rows(stored)
                if records:
                    self._apply_projections(raw, records)
            if not fresh:
                return [], head
            last = fresh[-1]
            return records, Head(last.position, last.hash, last.recorded_at)

        return transaction

    # --- archives (eventsvc.archive) -----------------------------------------------------

    @asynccontextmanager
    async def archiving(self) -> AsyncIterator[None]:
        """One archive at a time: this process is the store's only writer, so a lock of its
        own is the store's; a second archive meanwhile is refused."""
        if self._writer is None:
            raise StoreError(f"store {self._path!r} was opened read-only; it cannot archive")
        if self._archive_lock.locked():
            raise ArchiveConflictError(f"an archive of {self._path!r} is already running")
        async with self._archive_lock:
            yield

    async def commit_archive(
        self, plan: archives.Plan, write_file: Callable[[], Awaitable[None]]
    ) -> archives.Committed:
        """Apply an archive in one transaction with the inline projections, while no append
        commits. The rows are removed (``archives.remove``) while ``write_file`` writes the
        file from the reader connection, whose snapshots this open transaction cannot change,
        and the archive is sealed (``archives.seal``) and committed once the file is in place.
        The in-memory store (its one connection is also its reader), and an archive of more
        than ``OVERLAPPED_EVENTS`` (it would hold the writer, and the side tables' writes, for
        as long as its file takes), write the file first."""
        if self._path == _MEMORY or plan.horizon - plan.first > OVERLAPPED_EVENTS:
            await write_file()
            return await self._archive_transaction(plan, None)
        file_done = threading.Event()
        failed: list[Exception] = []
        written = False

        async def write() -> None:
            nonlocal written
            try:
                await write_file()
                written = True
            except Exception as exc:  # raised below, once the transaction has rolled back
                failed.append(exc)
            finally:
                file_done.set()

        def wait_for_file() -> None:  # on the connection's thread, inside the transaction
            file_done.wait()
            if not written:
                raise _FileNotWritten

        committed: archives.Committed | None = None
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(write)
            with anyio.CancelScope(shield=True):  # the transaction ends on its own thread
                with contextlib.suppress(_FileNotWritten):
                    committed = await self._archive_transaction(plan, wait_for_file)
        if failed:
            raise failed[0]
        assert committed is not None  # else the file was canceled, and so is this task
        return committed

    async def _archive_transaction(
        self, plan: archives.Plan, wait_for_file: Callable[[], None] | None
    ) -> archives.Committed:
        def transaction(raw: sqlite3.Connection) -> tuple[archives.Committed, RecordedEvent]:
            # The delete touches every index page of the rows it removes, and the vacuum after
            # it moves pages the delete has just read: let them stay in memory for both, then
            # give the memory back.
            size = raw.execute("PRAGMA cache_size").fetchone()[0]
            raw.execute(f"PRAGMA cache_size = {ARCHIVE_CACHE_KIB}")
            try:
                done = commit(raw)
                _vacuum_after_archive(raw)
                return done
            finally:
                raw.execute(f"PRAGMA cache_size = {int(size)}")

        def commit(raw: sqlite3.Connection) -> tuple[archives.Committed, RecordedEvent]:
            with _transaction(raw):
                tx = SqliteTransaction(raw)
                removed = archives.remove(tx, plan, self._projections)
                if wait_for_file is not None:
                    wait_for_file()
                committed = archives.seal(
                    tx, plan, removed, now_us=self._clock.now_us(), backend="sqlite"
                )
                [event] = decode_rows([committed.row])
                self._apply_projections(raw, [event])
            return committed, event

        async def run(conn: aiosqlite.Connection) -> archives.Committed:
            committed, event = await _on_connection_thread(conn, transaction)
            self._head = Head(event.position, event.hash, event.recorded_at)
            self._versions.clear()
            if self._fanout is not None:
                self._fanout.publish([event])
            return committed

        return await self._exclusively("archive", run)

    async def give_back_space(self) -> None:
        """Hand the pages of deleted rows back to the file system, beyond a reserve for the
        appends to come (``FREE_RESERVE``): an incremental vacuum (a store made before
        archives existed is first switched to incremental auto-vacuum by one full VACUUM, at
        its first archive), then a checkpoint that truncates the WAL."""

        def vacuum(raw: sqlite3.Connection) -> None:
            if raw.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:  # 2: INCREMENTAL
                raw.execute("PRAGMA auto_vacuum = INCREMENTAL")
                raw.execute("VACUUM")
            else:
                free_pages_beyond_reserve(raw)
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

        async def run(conn: aiosqlite.Connection) -> None:
            await _on_connection_thread(conn, vacuum)

        await self._exclusively("give disk space back", run)

    async def size_bytes(self) -> int:
        """The database's size: its pages in use and free, and its write-ahead log."""
        [(pages,)] = await self._read("PRAGMA page_count", ())
        [(size,)] = await self._read("PRAGMA page_size", ())
        try:  # a stat is metadata the kernel has at hand: no worker thread for it
            extra = os.stat(f"{self._path}-wal").st_size
        except FileNotFoundError:
            extra = 0
        return int(pages) * int(size) + extra

    async def create_beside(self, statements: Sequence[str]) -> None:
        """Create tables beside the log (one writer: no race to guard against)."""

        def create(tx: Transaction) -> None:
            for statement in statements:
                tx.execute(statement)

        await self.write_beside(create, "create tables")

    async def write_beside(self, work: Callable[[Transaction], _T], action: str = "write") -> _T:
        """Run ``work`` in a write transaction of its own on tables beside the log (leases,
        the invocation cache), never joining an append's transaction.

        A file store uses a connection of its own for these; the in-memory store has one
        connection, so the work waits for the commit in flight, like an append would.
        """

        def run(raw: sqlite3.Connection) -> _T:
            with _transaction(raw):
                return work(SqliteTransaction(raw))

        if self._path == _MEMORY:
            return await self._exclusively(action, lambda c: _on_connection_thread(c, run))
        if self._writer is None:
            raise StoreError(f"store {self._path!r} was opened read-only; it cannot {action}")
        with self._translated(action):
            if self._side is None:
                self._side = await _connect(self._path, self._options, uri=False)
            return await _on_connection_thread(self._side, run)

    async def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query on the reader connection (for projection views). No row
        factory is set, so the driver's rows are tuples already (audit reads whole tables)."""
        return await self._read(sql, params)

    async def point_query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read of a row or two by key, answered on the calling thread: an indexed read
        takes microseconds here, a hop to the reader connection's thread a hundred (the
        invocation cache asks one per node). The in-memory store has one connection."""
        if self._path == _MEMORY:
            return await self.query(sql, params)
        if self._closed:
            raise StoreError(f"store {self._path!r} is closed")
        with self._translated("reading"):
            if self._inline is None:
                self._inline = sqlite3.connect(
                    f"file:{self._path}?mode=ro", uri=True, isolation_level=None
                )
                # A WAL reader is not blocked by the writer; never stall the loop for long.
                self._inline.execute("PRAGMA busy_timeout = 100")
            return self._inline.execute(sql, params).fetchall()

    def artifact_store(self, directory: str | os.PathLike[str]) -> FileArtifactStore:
        """Files beside the one process that writes this store."""
        return FileArtifactStore(directory)

    async def wait_for_projections(self, position: int) -> None:
        """Projections here are folded in the append's own transaction, so they are never
        behind a position an append has returned; a position beyond the log is an error, and
        one past where a stalled projection stopped answers why at once."""
        head = await self.head()
        if position > head:
            raise NotFoundError(f"position {position} is beyond the log's head ({head})")
        for stall in self._stalls.values():
            if position >= stall.position:
                raise stall.error()

    async def stalls(self) -> list[ProjectionStall]:
        """The projections that cannot fold the event at some position (registered here)."""
        return list(self._stalls.values())

    async def exists(self, table: str) -> bool:
        return bool(await self._read("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)))

    def _fold_transaction(
        self, projection: Projection, page: list[RecordedEvent]
    ) -> Callable[[sqlite3.Connection], None]:
        """Catching up: one page and its checkpoint in one transaction."""

        def fold(raw: sqlite3.Connection) -> None:
            with _transaction(raw):
                transaction = SqliteTransaction(raw)
                fold_or_raise(projection, transaction, page)
                save_checkpoint(transaction, projection.name, page[-1].position)

        return fold

    def _apply_projections(self, raw: sqlite3.Connection, records: list[RecordedEvent]) -> None:
        if not self._projections:
            return
        transaction = SqliteTransaction(raw)
        for projection in self._projections:
            fold_or_raise(projection, transaction, records)
        for projection in self._projections:
            save_checkpoint(transaction, projection.name, records[-1].position)

    def _stream_versions(
        self, raw: sqlite3.Connection, group: list[_Append]
    ) -> dict[str, tuple[int | None, int]]:
        """Each stream's (version, last position): from the cache, else one query for all."""
        versions = {}
        missing = []
        for stream in dict.fromkeys(request.stream for request in group):
            cached = self._versions.get(stream)
            if cached is None:
                missing.append(stream)
            else:
                versions[stream] = cached
        if missing:
            sql = " UNION ALL ".join(
                ["SELECT ?, max(version), position FROM events WHERE stream = ?"] * len(missing)
            )
            params = [p for stream in missing for p in (stream, stream)]
            for stream, version, position in raw.execute(sql, params):
                versions[stream] = (version, position or 0)
            self._archived_versions(raw, versions, missing)
        return versions

    @staticmethod
    def _archived_versions(
        raw: sqlite3.Connection, versions: dict[str, tuple[int | None, int]], streams: list[str]
    ) -> None:
        """A stream that is not a batch's and has no live event may have archived ones: it
        goes on from their last version (``archived_streams``; a batch's streams are
        archived whole, and never written again)."""
        gone = [s for s in streams if versions[s][0] is None and not of_a_batch(s)]
        if gone:
            sql = f"SELECT stream, version FROM archived_streams WHERE stream IN ({_marks(gone)})"
            for stream, version in raw.execute(sql, gone):
                versions[stream] = (version, 0)

    async def _is_stored(self, request: _Append) -> bool:
        assert self._writer is not None
        rows = await self._writer.execute_fetchall(
            "SELECT 1 FROM events WHERE event_id = ?", (request.items[0][0],)
        )
        return bool(list(rows))

    async def _resolve_stored(self, request: _Append) -> None:
        """An append whose ids are stored: the original result if it is the same, else an error."""
        assert self._writer is not None
        ids = [item[0] for item in request.items]
        rows = await self._writer.execute_fetchall(
            f"SELECT {STORED} FROM events WHERE event_id IN ({_marks(ids)})", ids
        )
        stored = {row[0]: row for row in rows}
        request.result, request.error = None, None
        try:
            check_repeat(request.stream, request.items, stored)
        except DuplicateEventError as exc:
            request.error = exc
            return
        request.result = repeat_of(request.stream, request.items, stored)

    def _plan(
        self, group: list[_Append], versions: dict[str, tuple[int | None, int]]
    ) -> tuple[list[tuple[Any, ...]], list[Event], Head]:
        """Decide each append against the stream versions; positions and hashes for the rest.

        ``versions`` is updated in place with the accepted appends.
        """
        head = self._head
        position, previous = head.position, head.hash
        recorded_at = max(self._clock.now_us(), head.recorded_at)
        rows: list[tuple[Any, ...]] = []
        events: list[Event] = []
        for request in group:
            version, last_position = versions[request.stream]
            if not _expected_holds(request.expected, version):
                request.error = ConcurrencyError(
                    request.stream, request.expected, version, last_position
                )
                continue
            first = position + 1
            version = -1 if version is None else version
            for event_id, tag, schema_version, data, meta, event in request.items:
                position += 1
                version += 1
                row = (position, request.stream, version, event_id, tag, schema_version,
                       recorded_at, data, meta)  # fmt: skip
                previous = chain_hash(previous, *row[:7], data.encode(), meta.encode())
                rows.append((*row, previous))
                events.append(event)
            versions[request.stream] = (version, position)
            request.result = AppendResult(request.stream, first, position, version)
        return rows, events, Head(position, previous, recorded_at)

    # --- reading ------------------------------------------------------------------------

    async def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        if self._closed:
            raise StoreError(f"store {self._path!r} is closed")
        with self._translated("reading"):
            rows = await self._reader.execute_fetchall(sql, params)
            return rows if isinstance(rows, list) else list(rows)

    async def _change_mark(self) -> int:
        rows = list(await self._read("PRAGMA data_version", ()))
        return int(rows[0][0])

    async def _wait_for_change(self, mark: int) -> None:
        """A read-only process's bounded poll of ``PRAGMA data_version``: another process
        writes the file, so there is nothing in this one to wait on."""
        while True:
            if await self._change_mark() != mark:
                return
            await anyio.sleep(self._options.poll_interval)


def _migrate(raw: sqlite3.Connection, steps: Sequence[migrations.Step], now_us: int) -> None:
    """Every step and the new version in one transaction (the writer lock is held)."""
    with _transaction(raw):
        for step in steps:
            for statement in step.statements("sqlite"):
                raw.execute(statement)
            raw.execute(migrations.RECORD, (step.version, step.description, now_us))
        raw.execute(migrations.SET_VERSION, (steps[-1].version,))


class _BoundedCache(dict[_K, _V]):
    """A dict that forgets its oldest entries beyond ``size``."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self._size = size

    def update(self, other: Mapping[_K, _V]) -> None:  # type: ignore[override]
        for key, value in other.items():
            self.pop(key, None)
            self[key] = value
        for _ in range(len(self) - self._size):
            del self[next(iter(self))]


def _expected_holds(expected: ExpectedVersion, version: int | None) -> bool:
    if expected is ANY:
        return True
    if expected is NO_STREAM:
        return version is None
    if expected is STREAM_EXISTS:
        return version is not None
    return version == expected


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


def _parse_url(url: str) -> tuple[str, list[tuple[str, str]]]:
    rest = url.removeprefix("sqlite://")
    path, _, query = rest.partition("?")
    if not path:
        raise StoreError(
            f"no path in store URL {url!r}: expected 'sqlite:///path/to/file.db' "
            "or 'sqlite://:memory:'"
        )
    return path, parse_qsl(query, strict_parsing=False)


def _apply_query(options: StoreOptions, query: list[tuple[str, str]]) -> StoreOptions:
    """``?synchronous=NORMAL`` in the URL overrides the options given in code."""
    for key, value in query:
        if key != "synchronous":
            raise StoreError(f"unknown sqlite store URL option {key!r} (known: 'synchronous')")
        options = dataclasses.replace(options, synchronous=value.upper())
    if options.synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise StoreError(
            f"synchronous must be one of OFF, NORMAL, FULL, EXTRA; got {options.synchronous!r}"
        )
    return options


async def _connect(target: str, options: StoreOptions, *, uri: bool) -> aiosqlite.Connection:
    conn = None
    try:
        conn = await aiosqlite.connect(target, uri=uri, isolation_level=None)
        await conn.execute("PRAGMA busy_timeout = 5000")
        if not target.startswith("file:") or "mode=ro" not in target:
            # Before WAL: it takes only in a file that holds nothing yet (a new store), so an
            # archive gives its space back with an incremental vacuum (``give_back_space``).
            await conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute(f"PRAGMA synchronous = {options.synchronous}")
    except sqlite3.Error as exc:
        if conn is not None:
            # Its thread would otherwise keep the process from exiting.
            with contextlib.suppress(sqlite3.Error):
                await conn.close()
        raise StoreError(f"cannot open SQLite database {target!r}: {exc}") from exc
    return conn


def _private(path: str, flags: int) -> int:
    """``open``'s opener for files only this user may read: 0600 when created."""
    return os.open(path, flags, 0o600)


def _create_private(path: str) -> None:
    """Create the database file 0600 if it is missing, before SQLite opens it: SQLite gives
    the -wal and -shm files the database file's mode, so they are private too. An existing
    file keeps the mode its owner gave it."""
    try:
        os.close(_private(path, os.O_RDWR | os.O_CREAT))
    except OSError as exc:
        raise StoreError(f"cannot create the SQLite database {path!r}: {exc.strerror}") from exc


def _acquire_writer_lock(path: str) -> TextIO:
    """Hold ``<path>.lock`` exclusively for this process's lifetime, or name who holds it."""
    lock_path = f"{path}.lock"
    try:
        # Held open until the store closes (hence SIM115).
        handle = open(lock_path, "a+", opener=_private)  # noqa: SIM115
    except OSError as exc:
        raise StoreError(f"cannot create the writer lock {lock_path!r}: {exc}") from exc
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise StoreLockedError(
            f"store {path!r} is already open for writing by {holder}; one process writes a "
            "SQLite store (open it read-only alongside, or use PostgreSQL to scale out)"
        ) from None
    handle.seek(0)
    handle.truncate()
    since = datetime.now(UTC).isoformat(timespec="seconds")
    handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {since}")
    handle.flush()
    return handle
