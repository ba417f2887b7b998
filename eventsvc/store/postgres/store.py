"""The PostgreSQL event store on asyncpg: the scale-out engine (DESIGN section 3).

Several processes share one database (one schema: the first of the URL's ``search_path``).
``events`` holds the log; a row is **unsealed** (``position``, ``recorded_at`` and ``hash``
NULL) until the sealer gives it its place. An append is one statement: it moves the stream's
row in ``streams`` (the optimistic version check: ``ON CONFLICT DO UPDATE`` for ``ANY``, a
conditional ``UPDATE`` for an exact version, no table lock) and inserts its events under a
``batch`` number drawn after that row is locked. Concurrent appends of one process go together
into one transaction (group commit); one caller's conflict fails only that caller. A conflict
costs no second statement: the append's own returns whether its first id is stored, the
stream's version, and its last event's position and batch (whose seal, once heard of, gives
that position); only a view older than the commit the check waited on is read again.

The parts, each a module of this package: ``sealer`` (one process at a time gives committed
rows their positions and hashes, under a fenced lease), ``follower`` (this process's view of
the sealed log: its head, its subscribers, its waiting appends), ``waiting`` (those appends),
``runner`` (the projections, one runner each across all processes), ``artifacts`` (a table of
the database), ``common`` (the database as they reach it, and the one place where asyncpg's
errors become ``StoreError``).

**Why no reader can skip a row.** Readers see sealed rows only, and positions are handed out
only by the one sealer, densely, in serialized seal statements, each over rows already
committed. A row that commits late is simply sealed in a later round, at a later position:
nothing sealed before it can be "behind" it. Rows of one stream are sealed in version order,
because an append draws its batch number after locking its stream row, and so after the
append before it has committed. An append returns once its rows are sealed, with their real
positions, or fails after ``StoreOptions.seal_timeout`` with a ``StoreError`` naming the
sealing lag (its rows are then sealed later; a retry with the same event ids is safe).

**Durability.** Appends commit with ``synchronous_commit = off``: the seal statement that
makes them visible commits synchronously, and flushing its WAL flushes theirs, which comes
before it. So an append that returned is durable, and an append costs no WAL flush of its own.

**Beside the log**, in the same schema: the projections, the workers' leases, the invocation
cache and the artifacts, so a session resumed on another machine finds its inputs.
``import_rows`` writes exported rows already sealed, holding the sealer's lease row; the
sealer's next statement sees that the head moved and reads it again.

What sealing costs, and why concurrent appends are latency-bound on a small machine, is
measured by ``tools/bench.py store --backend postgres`` (the README says what it compares).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import anyio
import anyio.abc
import asyncpg  # type: ignore[import-untyped]

from eventsvc import instruments
from eventsvc.chain import StoredRow
from eventsvc.clock import Clock, SystemClock
from eventsvc.errors import ArchiveConflictError, ConcurrencyError, NotFoundError, StoreError
from eventsvc.events import Event, NewEvent, RecordedEvent
from eventsvc.projections import FoldError, Projection, ProjectionStall
from eventsvc.store import archives, migrations
from eventsvc.store.group_commit import GroupCommit
from eventsvc.store.postgres.artifacts import PostgresArtifactStore
from eventsvc.store.postgres.common import (
    DB_NOW,
    DRIVER_ERRORS,
    HEAD,
    Database,
    close_quietly,
    dollar_placeholders,
    read_head,
    redact,
    sealed_payload,
)
from eventsvc.store.postgres.follower import Follower
from eventsvc.store.postgres.runner import PostgresProjections, ThreadTransaction
from eventsvc.store.postgres.sealer import Sealer
from eventsvc.store.postgres.waiting import Pending, Waiting
from eventsvc.store.protocols import (
    ANY,
    NO_STREAM,
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
    repeat_of,
    stored_rows,
)
from eventsvc.store.subscription import EventFilter, Fanout, Subscription

log = logging.getLogger("eventsvc.store")
_T = TypeVar("_T")

__all__ = ["DB_NOW", "PostgresEventStore", "PostgresSnapshot"]

SCHEMA_SQL = """
CREATE TABLE eventsvc_schema (version BIGINT NOT NULL);
CREATE TABLE events (
    position BIGINT,
    stream TEXT NOT NULL,
    version BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    schema_version BIGINT NOT NULL,
    recorded_at BIGINT,
    data TEXT NOT NULL,
    metadata TEXT NOT NULL,
    hash BYTEA,
    batch BIGINT NOT NULL,
    CONSTRAINT events_sealed_whole CHECK (
        (position IS NULL) = (hash IS NULL) AND (position IS NULL) = (recorded_at IS NULL)
    )
);
CREATE UNIQUE INDEX events_position ON events (position) WHERE position IS NOT NULL;
CREATE UNIQUE INDEX events_stream_version ON events (stream, version);
CREATE UNIQUE INDEX events_event_id ON events (event_id);
CREATE INDEX events_unsealed ON events (batch, version) WHERE position IS NULL;
CREATE SEQUENCE events_batch;
CREATE TABLE streams (stream TEXT PRIMARY KEY, version BIGINT NOT NULL);
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    epoch BIGINT NOT NULL,
    holder TEXT NOT NULL,
    holder_pid INTEGER,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE artifacts (sha256 TEXT PRIMARY KEY, media_type TEXT NOT NULL, data BYTEA NOT NULL);
"""
_BETWEEN = f"SELECT {COLUMNS} FROM events WHERE position BETWEEN $1 AND $2"
_VERSION_SQL = {
    "any": "INSERT INTO streams AS s (stream, version) VALUES ($1::text, $2::bigint - 1) "
    "ON CONFLICT (stream) DO UPDATE SET version = s.version + $2::bigint RETURNING s.version",
    "no stream": "INSERT INTO streams (stream, version) VALUES ($1::text, $2::bigint - 1) "
    "ON CONFLICT (stream) DO NOTHING RETURNING version",
    "stream exists": "UPDATE streams SET version = version + $2::bigint WHERE stream = $1::text "
    "RETURNING version",
    "exact": "UPDATE streams SET version = version + $2::bigint WHERE stream = $1::text "
    "AND version = $8::bigint RETURNING version",
}
# What a conflicting append reads again when its own statement saw the stream from before the
# commit it waited on (``_shows_conflict``): whether its first event id is stored (a repeat),
# else the stream's version and the position of its last event (NULL until sealed).
_CONFLICT = (
    "SELECT EXISTS (SELECT 1 FROM events WHERE event_id = $1), s.version, e.position "
    "FROM (SELECT $2::text AS stream) q LEFT JOIN streams s ON s.stream = q.stream "
    "LEFT JOIN events e ON e.stream = s.stream AND e.version = s.version"
)
_LAG = """
SELECT (SELECT count(*) FROM events WHERE position IS NULL), holder, epoch,
       extract(epoch FROM expires_at - clock_timestamp())::float8
FROM leases WHERE name = 'sealer'
"""
_IMPORT = (
    f"INSERT INTO events ({COLUMNS}, batch) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
)
# What a failed append may raise once its connection is gone (or cannot be had).
_APPEND_ERRORS: tuple[type[BaseException], ...] = (*DRIVER_ERRORS, StoreError)
# Taken by every process creating tables (``IF NOT EXISTS`` alone races in the catalog).
_DDL_LOCK = "SELECT pg_advisory_xact_lock(hashtext('eventsvc tables'))"


@dataclass(slots=True)
class _Append:
    """One caller's append, prepared in the caller's task, inserted by the commit leader."""

    stream: str
    expected: ExpectedVersion
    items: list[Item]
    wakeup: anyio.Event | None = None
    settled: bool = False
    # Set by the leader: the append is inserted (waits for its seal), conflicted, or a
    # repeat of stored ids; or it failed.
    pending: Pending | None = None
    conflict: bool = False
    # What the append's statement saw of the stream when it conflicted (``_Conflict``).
    seen: tuple[Any, ...] | None = None
    duplicate: bool = False
    error: BaseException | None = None


class PostgresEventStore:
    """The ``EventStore`` on a PostgreSQL schema shared by any number of processes; open it
    with ``open_store("postgresql://...")`` or ``PostgresEventStore.connect``."""

    def __init__(
        self,
        url: str,
        *,
        read_only: bool,
        options: StoreOptions,
        clock: Clock,
        seal_hook: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._db = Database(url)
        self._url = redact(url)
        self._read_only = read_only
        self._options = options
        self._clock = clock
        self._writer: Any = None
        self._closed = False
        # The background tasks' own scopes, so closing never cancels the caller's block.
        self._scopes: list[anyio.CancelScope] = []
        self._fanout = Fanout(options.subscriber_buffer)
        self._group = GroupCommit(options.max_group, self._insert)
        self._waiting = Waiting()
        self.holder = f"{socket.gethostname()} pid {os.getpid()} store {uuid.uuid4().hex[:8]}"
        self._follower = Follower(
            self._db, self._fanout, self._waiting, self.read_all, options.poll_interval
        )
        self._projections = PostgresProjections(
            self._db,
            self,
            holder=self.holder,
            lease_seconds=options.sealer_lease,
            poll_interval=options.poll_interval,
            page_interval=options.projection_page_interval,
        )
        self._sealer = Sealer(
            self._db,
            self._waiting,
            self._follower,
            holder=self.holder,
            clock=clock,
            options=options,
            read_only=read_only,
            on_checkpoint=lambda conn, pid, channel, payload: self._projections.on_checkpoint(
                payload
            ),
            seal_hook=seal_hook,
        )
        self._task_group: anyio.abc.TaskGroup | None = None
        # Append transactions committed.
        self.commits = 0

    # --- opening and closing ------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        url: str,
        *,
        read_only: bool = False,
        options: StoreOptions | None = None,
        clock: Clock | None = None,
        seal_hook: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncIterator[PostgresEventStore]:
        """The store at ``url`` for the block, its sealer and follower running alongside.

        ``seal_hook`` (tests only) is awaited inside every seal round, after the sealer has
        read the rows it will seal and before it writes them.
        """
        store = cls(
            url,
            read_only=read_only,
            options=options or StoreOptions(),
            clock=clock or SystemClock(),
            seal_hook=seal_hook,
        )
        try:
            await store._open()
            async with anyio.create_task_group() as tg:
                store._task_group = tg
                await tg.start(store._run_sealer)
                tg.start_soon(store._run, store._follower.run)
                try:
                    yield store
                finally:
                    await store.aclose()
        finally:
            await store._close_connections()

    def _scope(self) -> anyio.CancelScope:
        """A scope of a background task's own, which closing the store cancels (never the
        caller's block)."""
        scope = anyio.CancelScope()
        self._scopes.append(scope)
        return scope

    async def _run_sealer(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        with self._scope():
            await self._sealer.run(task_status=task_status)

    async def _run(self, work: Callable[[], Awaitable[None]]) -> None:
        with self._scope():
            await work()

    async def _open(self) -> None:
        await self._db.open_pool(self._read_only)
        self._sealer.control = await self._db.connect("control")
        with self._db.translated("opening the store"):
            await self._check_schema(self._sealer.control)
            row = await self._sealer.control.fetchrow(HEAD)
        self._follower.start_at(0 if row is None else int(row[0]))

    async def _check_schema(self, conn: Any) -> None:
        self._db.schema = await conn.fetchval("SELECT current_schema()") or ""
        if not self._db.schema:
            raise StoreError(
                f"no schema to hold the store at {self._db.where}: the search_path names none "
                "that exists (create it, or name one with ?search_path=...)"
            )
        async with conn.transaction():
            if not self._read_only:
                # Processes opening a fresh schema at once: one creates it, the others wait.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")
            if await conn.fetchval("SELECT to_regclass('eventsvc_schema')") is None:
                if self._read_only:
                    schema = self._db.schema
                    raise StoreError(f"schema {schema!r} at {self._db.where} holds no store")
                await conn.execute(SCHEMA_SQL)
                await conn.execute(
                    f"INSERT INTO eventsvc_schema VALUES ({migrations.BASE_VERSION})"
                )
                await conn.execute("INSERT INTO leases VALUES ('sealer', 0, '', NULL, '-infinity')")
            # Under the advisory lock: one process migrates, the others then find it done.
            await self._migrate(conn)

    async def _migrate(self, conn: Any) -> None:
        """Apply the steps the schema lacks; refuse a schema of another version than this
        code's (newer, or older in a read-only process), naming both."""
        where = f"schema {self._db.schema!r} at {self._db.where}"
        version = await conn.fetchval("SELECT max(version) FROM eventsvc_schema")
        steps = migrations.pending(version, where)
        if not steps:
            return
        if self._read_only:
            raise migrations.read_only_refusal(where, version)
        now = self._clock.now_us()
        for step in steps:
            for statement in step.statements("postgres"):
                await conn.execute(statement)
            record = dollar_placeholders(migrations.RECORD)
            await conn.execute(record, step.version, step.description, now)
        await conn.execute(dollar_placeholders(migrations.SET_VERSION), steps[-1].version)
        log.info("migrated %s to store schema version %d", where, steps[-1].version)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._fanout.close()
        self._waiting.stop(f"store {self._url!r} was closed")
        with anyio.CancelScope(shield=True):
            try:
                await self._sealer.release()
            except StoreError as exc:
                log.warning("%s", exc)
            for scope in self._scopes:
                scope.cancel()
            await self._close_connections()

    async def _close_connections(self) -> None:
        with anyio.CancelScope(shield=True):
            for conn in (self._writer, self._sealer.control):
                if conn is not None:
                    await close_quietly(conn)
            self._writer = self._sealer.control = None
            await self._db.close_pool()

    # --- the protocol -------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._url

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def subscribers(self) -> int:
        """Live subscriptions this process is feeding."""
        return len(self._fanout)

    @property
    def sealing(self) -> bool:
        """Whether this process holds the sealer lease (as far as it knows)."""
        return self._sealer.sealing

    @property
    def rounds(self) -> int:
        """Seal rounds this process has run."""
        return self._sealer.rounds

    @property
    def fenced(self) -> int:
        """Seal rounds of this process the fence refused."""
        return self._sealer.fenced

    def channel(self, name: str) -> str:
        """A NOTIFY channel of this store's schema."""
        return self._db.channel(name)

    async def head(self) -> int:
        row = await self._db.fetchrow(HEAD)
        return 0 if row is None else int(row[0])

    async def append(
        self,
        stream: str,
        events: Sequence[Event | NewEvent],
        expected_version: ExpectedVersion = ANY,
    ) -> AppendResult:
        if self._read_only:
            raise StoreError(f"store {self._url!r} was opened read-only; it cannot append")
        if self._closed:
            raise StoreError(f"store {self._url!r} is closed")
        if not events:
            raise ValueError("append needs at least one event")
        started = time.perf_counter()
        request = _Append(
            stream, expected_version, prepare(stream, events, self._options.max_event_bytes)
        )
        outcome = None
        # Waiting for the seal too: a canceled caller's append is still read back at once.
        # The same scope times the wait for the seal (one scope an append, not two).
        with anyio.CancelScope(shield=True) as scope:
            await self._group.submit(request)
            if request.pending is not None:
                scope.deadline = anyio.current_time() + self._options.seal_timeout
            outcome = await self._outcome(request)
        if outcome is None:
            assert request.pending is not None
            raise await self._unsealed(request.pending)
        instruments.appended(events, time.perf_counter() - started)
        return outcome

    async def unsealed_rows(self) -> int:
        """The sealing lag: committed rows that wait for a position."""
        [(waiting,)] = await self._db.fetch("SELECT count(*) FROM events WHERE position IS NULL")
        return int(waiting)

    async def read_stream(
        self, stream: str, from_version: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        rows = await self._db.fetch(
            f"SELECT {COLUMNS} FROM events WHERE stream = $1 AND version >= $2 "
            "AND position IS NOT NULL ORDER BY version LIMIT $3",
            stream,
            from_version,
            limit,
        )
        return decode_rows(rows)

    async def read_all(self, after: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        rows = await self._db.fetch(
            f"SELECT {COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2",
            after,
            limit,
        )
        if rows and rows[0][0] > after + 1:
            await archives.check_after(self, after)
        return decode_rows(rows)

    async def read_rows(self, after: int = 0, limit: int = 1000) -> list[StoredRow]:
        rows = await self._db.fetch(
            f"SELECT {COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2",
            after,
            limit,
        )
        if rows and rows[0][0] > after + 1:
            await archives.check_after(self, after)
        return stored_rows(rows)

    async def read_page(self, after: int, limit: int) -> list[RecordedEvent]:
        """A projection runner's page: what this process sealed or read lately from memory,
        and nothing past the head it knows (the runner then waits for the head, which polls
        when no seal is heard of); else from the database."""
        if after >= self._follower.known_head:
            return []
        page = self._follower.recent(after, limit)
        return page if page is not None else await self.read_all(after, limit)

    async def wait_for_head(self, position: int) -> None:
        """Return once the sealed log reaches ``position`` (woken by seals, else a poll)."""
        await self._follower.wait_for_head(position)

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
            _no_mark,
            _no_change,
            after=after,
            filter=filter,
        )

    # --- tables beside the log ----------------------------------------------------------

    @property
    def db_now(self) -> str:
        """SQL for the database's clock in seconds since the epoch (leases are judged by it)."""
        return DB_NOW

    async def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query (for projection views); ``?`` placeholders work as on SQLite."""
        return [tuple(row) for row in await self._db.fetch(dollar_placeholders(sql), *params)]

    async def point_query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read of a row or two by key: here, as any query."""
        return await self.query(sql, params)

    async def exists(self, table: str) -> bool:
        row = await self._db.fetchrow("SELECT to_regclass($1)", table)
        return row is not None and row[0] is not None

    async def create_beside(self, statements: Sequence[str]) -> None:
        """Create tables beside the log, once, however many processes start at once."""
        with self._db.translated("creating tables"):
            async with self._db.pool.acquire() as conn, conn.transaction():
                await conn.execute(_DDL_LOCK)
                for statement in statements:
                    await conn.execute(dollar_placeholders(statement))

    async def write_beside(self, work: Callable[[Transaction], _T], action: str = "write") -> _T:
        """Run ``work`` (synchronous, written for both backends) in a transaction of its own
        on tables beside the log, from a worker thread whose statements hop to this loop."""
        with self._db.translated(action):
            return await self._projections.write(work)

    def artifact_store(self, directory: str | os.PathLike[str]) -> PostgresArtifactStore:
        """A table in this database, so a session resumed on another machine finds its
        inputs (``directory`` is for file stores; unused here)."""
        return PostgresArtifactStore(self._db)

    # --- projections (eventsvc.store.postgres.runner) -----------------------------------

    @property
    def projections(self) -> list[str]:
        return self._projections.names

    async def register(self, projection: Projection) -> None:
        """Create the projection's tables if needed; a writing process also competes to run
        it (one runner per projection across all processes)."""
        with self._db.translated(f"creating projection {projection.name!r}"):
            await self._projections.create(projection)
        if not self._read_only and self._task_group is not None:
            run = self._projections.run
            self._task_group.start_soon(self._run, lambda: run(projection.name))

    async def rebuild(self, *names: str) -> int:
        try:
            return await self._projections.rebuild(names)
        except FoldError as exc:
            raise StoreError(f"rebuild failed, the tables are as they were: {exc}") from None

    async def stalls(self) -> list[ProjectionStall]:
        """The projections that cannot fold the event at some position, in any process."""
        return self._projections.stalls()

    async def wait_for_projections(self, position: int) -> None:
        """Return once every registered projection has folded ``position`` (the runners
        may run in other processes); a position beyond the log is an error."""
        follower = self._follower
        if position > follower.known_head:  # only then ask: the known head only ever rises
            follower.observe_head(await self.head())
        if position > follower.known_head:
            raise NotFoundError(
                f"position {position} is beyond the log's head ({follower.known_head})"
            )
        with anyio.move_on_after(self._options.seal_timeout) as waited:
            await self._projections.wait_for(position)
        if waited.cancelled_caught:
            behind = {name: self._projections.known(name) for name in self.projections}
            raise StoreError(
                f"the projections have not folded position {position} after "
                f"{self._options.seal_timeout:g} s (folded: {behind}); is a process running them?"
            )

    # --- snapshots and imports ----------------------------------------------------------

    def snapshot(self) -> AbstractAsyncContextManager[PostgresSnapshot]:
        return self._snapshot()

    @asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[PostgresSnapshot]:
        with self._db.translated("reading the store"):
            async with (
                self._db.pool.acquire() as conn,
                conn.transaction(isolation="repeatable_read", readonly=True),
            ):
                yield PostgresSnapshot(conn, self._db)

    async def import_rows(
        self,
        rows: Sequence[StoredRow],
        *,
        verify: bool = True,
        archive: archives.ArchiveState | None = None,
    ) -> int:
        """Store exported rows as they were, sealed (positions, times, hashes), in one
        transaction that holds the sealer's lease row, so no seal interleaves; the runners
        fold them. Rows this log holds identically are skipped. An export of an archived
        log carries its ``archive`` state, taken in by an empty store and skipped by one
        that holds the same archives (``archives.import_state``)."""
        if self._read_only:
            raise StoreError(f"store {self._url!r} was opened read-only; it cannot import")
        with self._db.translated("importing into the store"):
            async with self._db.pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT 1 FROM leases WHERE name = 'sealer' FOR UPDATE")
                start = None
                if archive is not None:
                    start = await self._import_state(conn, archive)
                fresh = await _importable(conn, rows, verify, start)
                await conn.executemany(_IMPORT, [(*columns_of(r), -1) for r in fresh])
                await conn.execute(
                    "INSERT INTO streams AS s (stream, version) "
                    "SELECT stream, max(version) FROM unnest($1::text[], $2::bigint[]) "
                    "AS u(stream, version) GROUP BY stream ON CONFLICT (stream) "
                    "DO UPDATE SET version = greatest(s.version, excluded.version)",
                    [r.stream for r in fresh],
                    [r.version for r in fresh],
                )
                if fresh:  # the other processes' followers read what was imported
                    head = sealed_payload(fresh[-1].position, {})
                    await conn.execute("SELECT pg_notify($1, $2)", self._db.channel("sealed"), head)
        if fresh:
            self._follower.observe_head(fresh[-1].position)
        return len(fresh)

    async def _import_state(
        self, conn: Any, archive: archives.ArchiveState
    ) -> tuple[int, bytes, int] | None:
        """``archives.import_state`` in the import's transaction; the streams the archive
        continues get their version rows."""
        projections = [self._projections.projection(name) for name in self.projections]
        transaction = ThreadTransaction(conn)
        head = (await read_head(conn)).position
        start = await anyio.to_thread.run_sync(
            archives.import_state, transaction, archive, projections, head
        )
        if start is not None:
            await conn.executemany(
                "INSERT INTO streams (stream, version) VALUES ($1, $2) ON CONFLICT (stream) "
                "DO UPDATE SET version = greatest(streams.version, excluded.version)",
                archive.streams,
            )
        return start

    # --- archives (eventsvc.archive) -----------------------------------------------------

    @asynccontextmanager
    async def archiving(self) -> AsyncIterator[None]:
        """One archive at a time across every process on the schema: the holder of an
        advisory lock on a connection of its own (closing it releases the lock); another
        archive meanwhile is refused."""
        if self._read_only:
            raise StoreError(f"store {self._url!r} was opened read-only; it cannot archive")
        conn = await self._db.connect("archive")
        try:
            with self._db.translated("taking the archive lock"):
                held = await conn.fetchval(
                    "SELECT pg_try_advisory_lock(hashtext('eventsvc archive ' || current_schema()))"
                )
            if not held:
                raise ArchiveConflictError(
                    f"another process is archiving schema {self._db.schema!r} at {self._db.where}"
                )
            yield
        finally:
            await close_quietly(conn)

    async def commit_archive(
        self, plan: archives.Plan, write_file: Callable[[], Awaitable[None]]
    ) -> archives.Committed:
        """Write the archive's file, then apply the archive (``archives.commit``) in one
        transaction that holds the sealer's lease row (no seal interleaves, and the
        ``log.archived`` row goes in sealed, as an import's do) and every projection's (no
        fold interleaves)."""
        await write_file()
        names = self.projections
        projections = [self._projections.projection(name) for name in names]
        with self._db.translated("archiving"):
            async with self._db.pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT 1 FROM leases WHERE name = 'sealer' FOR UPDATE")
                for name in sorted(names):
                    await conn.execute(
                        "SELECT 1 FROM leases WHERE name = $1 FOR UPDATE", f"projection:{name}"
                    )
                committed = await anyio.to_thread.run_sync(
                    lambda: archives.commit(
                        ThreadTransaction(conn),
                        plan,
                        projections,
                        now_us=self._clock.now_us(),
                        backend="postgres",
                    )
                )
                head = sealed_payload(committed.row[0], {})
                await conn.execute("SELECT pg_notify($1, $2)", self._db.channel("sealed"), head)
        self._follower.observe_head(committed.row[0])
        return committed

    async def give_back_space(self) -> None:
        """VACUUM the tables an archive deletes from (outside any transaction), so their
        space is used again by what the log appends next."""
        tables = ["events", "streams", "log_archives", "archived_batches"]
        tables += [
            t for name in self.projections for t in self._projections.projection(name).tables
        ]
        with self._db.translated("vacuuming"):
            async with self._db.pool.acquire() as conn:
                for table in tables:
                    await conn.execute(f"VACUUM {table}")

    async def size_bytes(self) -> int:
        """The tables of the store's schema, with their indexes and TOAST."""
        [(size,)] = await self._db.fetch(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
        )
        return int(size)

    # --- appends ------------------------------------------------------------------------

    async def _insert(self, group: list[_Append]) -> None:
        try:
            conn = await self._writer_connection()
            notify = not self._sealer.sealing
            epoch = self._sealer.lease.epoch
            if len(group) == 1:
                await self._insert_one(conn, group[0], notify)
            else:
                await self._insert_group(conn, group, notify)
        except (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError):
            if len(group) == 1:
                group[0].duplicate = True
                return
            # A repeated event id (or a lock cycle with another process): one by one, so the
            # repeat resolves against the stored rows and no other caller fails.
            for request in group:
                request.pending, request.conflict, request.duplicate = None, False, False
                await self._insert([request])
            return
        except _APPEND_ERRORS as exc:
            writer, self._writer = self._writer, None
            if writer is not None:
                await close_quietly(writer)
            error = StoreError(
                f"append to PostgreSQL at {self._db.where} failed ({exc}); it may or may not "
                "have been stored: retrying it with the same event ids is safe"
            )
            for request in group:
                request.pending, request.error = None, error
            return
        self.commits += 1
        batches = [request.pending.batch for request in group if request.pending is not None]
        self._sealer.appended(batches, epoch)

    async def _insert_group(self, conn: Any, group: list[_Append], notify: bool) -> None:
        # Stream rows are locked in one order by every process, so groups never deadlock.
        ordered = sorted(group, key=lambda request: request.stream)
        inserted: list[tuple[_Append, int, int]] = []
        async with conn.transaction():
            for request in ordered:
                sql, args = _append_statement(request, None)
                row = await conn.fetchrow(sql, *args)
                if row[0] is None:
                    request.conflict, request.seen = True, tuple(row[2:6])
                else:
                    inserted.append((request, int(row[0]), int(row[1])))
            if inserted and notify:
                await conn.execute(
                    "SELECT pg_notify($1::text, $2::text)", self._db.channel("unsealed"),
                    str(len(inserted)),
                )  # fmt: skip
        for request, batch, last in inserted:
            request.pending = self._waiting.register(request.stream, batch, last, request.items)

    async def _insert_one(self, conn: Any, request: _Append, notify: bool) -> None:
        channel = self._db.channel("unsealed") if notify else None
        sql, args = _append_statement(request, channel)
        row = await conn.fetchrow(sql, *args)
        if row[0] is None:
            request.conflict, request.seen = True, tuple(row[2:6])
        else:
            batch, last = int(row[0]), int(row[1])
            request.pending = self._waiting.register(request.stream, batch, last, request.items)

    async def _writer_connection(self) -> Any:
        if self._writer is None or self._writer.is_closed():
            # The seal statement commits synchronously and flushes these commits' WAL too.
            self._writer = await self._db.connect("writer", {"synchronous_commit": "off"})
        return self._writer

    async def _outcome(self, request: _Append) -> AppendResult:
        """The caller's side: wait for the seal, or work out the conflict or the repeat."""
        if request.error is not None:
            raise request.error
        if request.pending is not None:
            return await self._sealed(request.pending)
        if request.conflict:
            tick = self._follower.tick
            seen = request.seen
            if seen is None or not _shows_conflict(request.expected, seen):
                # What the statement saw predates a concurrent commit: look again.
                stored, version, position = await self._db.fetchrow(
                    _CONFLICT, request.items[0][0], request.stream
                )
                seen = (stored, version, position, None)
            if not seen[0]:
                raise await self._conflict_error(request, (tick, seen[1:]))
        return await self._resolve_stored(request)

    async def _sealed(self, pending: Pending) -> AppendResult:
        """The sealed append's result (the caller's scope times the wait, see ``append``)."""
        await pending.sealed.wait()
        if pending.last_position is None:
            raise await self._unsealed(pending)
        return pending.result()

    async def _unsealed(self, pending: Pending) -> StoreError:
        """Why ``pending`` is not sealed: the store stopped, or the seal timeout passed."""
        if self._waiting.stopped:
            return StoreError(
                f"{self._waiting.stopped} before an append to stream {pending.stream!r} "
                "was sealed; it will be sealed by another process or on reopening, and "
                "retrying it with the same event ids is safe"
            )
        return StoreError(
            f"append to stream {pending.stream!r} was committed but not sealed within "
            f"{self._options.seal_timeout:g} s: {await self._lag()}; it will be sealed once a "
            "sealer runs, and retrying it with the same event ids is safe"
        )

    async def _lag(self) -> str:
        """The sealing lag, in words: rows waiting and the state of the sealer lease."""
        try:
            row = await self._db.fetchrow(_LAG)
        except StoreError:
            return "the sealing lag could not be read"
        waiting, holder, epoch, left = row
        if not holder:
            lease = "no process has held the sealer lease"
        elif left > 0:
            lease = f"the sealer lease is held by {holder!r} (epoch {epoch}) for {left:.1f} s more"
        else:
            lease = f"the sealer lease of {holder!r} (epoch {epoch}) has expired"
        return f"sealing lag: {waiting} committed row(s) wait to be sealed, {lease}"

    async def _conflict_error(
        self, request: _Append, first: tuple[anyio.Event, tuple[int | None, int | None, int | None]]
    ) -> ConcurrencyError:
        """The stream's version and last position (once sealed) for the caller's error;
        ``first`` is the look already made, with the batch of the stream's last event, whose
        seal, once heard of, gives that position without another look."""
        tick, (version, position, batch) = first

        async def look() -> tuple[int | None, int | None]:
            if batch is not None and (last := self._waiting.sealed_at(batch)) is not None:
                return version, last
            _, found, at = await self._db.fetchrow(_CONFLICT, request.items[0][0], request.stream)
            return found, at

        def ready(found: tuple[int | None, int | None]) -> bool:
            return found[0] is None or found[1] is not None

        version, position = await self._when_sealed(look, ready, (tick, (version, position)))
        if version is None:
            position = 0
        assert position is not None
        return ConcurrencyError(request.stream, request.expected, version, position)

    async def _resolve_stored(self, request: _Append) -> AppendResult:
        """An append whose ids are stored: the original result if it is the same, else an error
        (``rows.check_repeat``), once every one of its rows is sealed."""
        ids = [item[0] for item in request.items]

        async def look() -> dict[str, Any]:
            sql = f"SELECT {STORED} FROM events WHERE event_id = ANY($1::text[])"
            return {row[0]: row for row in await self._db.fetch(sql, ids)}

        tick = self._follower.tick
        found = await look()
        check_repeat(request.stream, request.items, found)
        stored = await self._when_sealed(
            look, lambda found: all(found[i][3] is not None for i in ids), (tick, found)
        )
        return repeat_of(request.stream, request.items, stored)

    async def _when_sealed(
        self,
        look: Callable[[], Awaitable[Any]],
        ready: Callable[[Any], bool],
        first: tuple[anyio.Event, Any] | None = None,
    ) -> Any:
        """``look()`` again after each seal until ``ready``, within the seal timeout; ``first``
        is a look already made (and the seal tick before it), so it is not made twice."""
        with anyio.move_on_after(self._options.seal_timeout):
            while True:
                if first is None:
                    tick = self._follower.tick
                    found = await look()
                else:
                    (tick, found), first = first, None
                if ready(found):
                    return found
                with anyio.move_on_after(self._options.poll_interval):
                    await tick.wait()
        raise StoreError(
            f"an event this append depends on was not sealed within "
            f"{self._options.seal_timeout:g} s: {await self._lag()}"
        )


def _append_statement(request: _Append, notify: str | None) -> tuple[str, list[Any]]:
    """The one statement of an append: version check, batch number, rows (and a NOTIFY). A
    single event goes as plain values: arrays and ``unnest`` cost the driver and the server
    more than the row itself."""
    expected = request.expected
    kind = "exact" if isinstance(expected, int) else expected.value
    args: list[Any] = [request.stream, len(request.items)]
    single = len(request.items) == 1
    if single:
        args += request.items[0][:5]
    else:
        args += [list(column) for column in zip(*request.items, strict=True)][:5]
    if isinstance(expected, int):
        args.append(expected)
    if notify is not None:
        args.append(notify)
    return _append_sql(kind, notify is not None, len(args), single), args


@lru_cache(maxsize=32)
def _append_sql(kind: str, notify: bool, last_param: int, single: bool) -> str:
    wake = f", pg_notify(${last_param}::text, '1')" if notify else ""
    rows = (
        "SELECT $1::text, b.last, $3::text, $4::text, $5::bigint, $6::text, $7::text, b.batch "
        "FROM b"
        if single
        else """SELECT $1::text, b.last - $2::bigint + u.n, u.event_id, u.tag, u.schema_version,
           u.data, u.metadata, b.batch
    FROM b, unnest($3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[])
        WITH ORDINALITY AS u(event_id, tag, schema_version, data, metadata, n)"""
    )
    first_id = "$3::text" if single else "($3::text[])[1]"
    return f"""
WITH v AS ({_VERSION_SQL[kind]}),
b AS MATERIALIZED (SELECT version AS last, nextval('events_batch') AS batch FROM v),
i AS (
    INSERT INTO events (stream, version, event_id, tag, schema_version, data, metadata, batch)
    {rows}
)
SELECT b.batch, b.last, NULL::boolean, NULL::bigint, NULL::bigint, NULL::bigint{wake} FROM b
UNION ALL
SELECT NULL, NULL, EXISTS (SELECT 1 FROM events WHERE event_id = {first_id}), s.version,
       e.position, e.batch{", NULL" if notify else ""}
FROM (SELECT 1) q LEFT JOIN streams s ON s.stream = $1::text
    LEFT JOIN events e ON e.stream = s.stream AND e.version = s.version
WHERE NOT EXISTS (SELECT 1 FROM b)
"""


def _shows_conflict(expected: ExpectedVersion, seen: tuple[Any, ...]) -> bool:
    """Whether what a conflicting append's statement saw (``_append_sql``: stored, version,
    position, batch) is a state that conflicts with ``expected``. Its snapshot predates
    the lock its check waited for: a stream created or moved by the commit it waited on is
    not in it, and then it is read again."""
    stored, version = seen[0], seen[1]
    if stored:
        return True
    if isinstance(expected, int):
        return version is not None and version != expected
    if expected is NO_STREAM:
        return version is not None
    return version is None  # STREAM_EXISTS (ANY never conflicts)


async def _no_mark() -> int:
    return 0


async def _no_change(mark: int) -> None:  # every store has a fanout: never called
    raise AssertionError("a PostgreSQL store follows the log through its fanout")


class PostgresSnapshot:
    """Reads that all see one state of the database (a repeatable-read transaction). Its
    tasks may read at once (audit reads the next page of the log while it compares a table),
    and a connection runs one statement at a time: they take turns."""

    def __init__(self, conn: Any, db: Database) -> None:
        self._conn = conn
        self._db = db
        self._turn = anyio.Lock()

    async def read_rows(self, after: int = 0, limit: int = 1000) -> list[StoredRow]:
        sql = f"SELECT {COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2"
        return stored_rows(await self._fetch(sql, after, limit))

    async def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await self._fetch(dollar_placeholders(sql), *params)]

    async def exists(self, table: str) -> bool:
        [(found,)] = await self._fetch("SELECT to_regclass($1) IS NOT NULL", table)
        return bool(found)

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        async with self._turn:
            with self._db.translated("reading the store"):
                return list(await self._conn.fetch(sql, *args))


async def _importable(
    conn: Any, rows: Sequence[StoredRow], verify: bool, start: tuple[int, bytes, int] | None
) -> list[StoredRow]:
    """The rows this log does not hold yet, checked to continue it (``rows.importable``);
    ``start`` is where an archive state just taken in leaves the log."""
    head = await read_head(conn) if start is None else Head(*start)
    span = known_span(rows, head.position)
    held = await conn.fetch(_BETWEEN, *span) if span else []
    through = await conn.fetchval("SELECT coalesce(max(last_position), 0) FROM log_archives")
    return importable(rows, (head.position, head.hash), held, verify, int(through))
