"""The PostgreSQL event store on asyncpg: the scale-out engine (DESIGN section 3).

Several processes share one database (one schema: the first of the URL's ``search_path``).
``events`` holds the log; a row is **unsealed** (``position``, ``recorded_at`` and ``hash``
NULL) until the sealer gives it its place. An append is one statement: it moves the stream's
row in ``streams`` (the optimistic version check: ``ON CONFLICT DO UPDATE`` for ``ANY``, a
conditional ``UPDATE`` for an exact version, no table lock) and inserts its events under a
``batch`` number drawn after that row is locked. Concurrent appends of one process go together
into one transaction (group commit); one caller's conflict fails only that caller.

**One sealer at a time.** Every writing process competes for the ``sealer`` row of ``leases``,
judged by the database's clock (``clock_timestamp()``) and taken over when it expires or when
its holder's backend is gone; every takeover bumps the row's ``epoch``. The holder seals
committed unsealed rows in ``(batch, version)`` order, a round at a time: it reads them, hashes
them (``eventsvc.chain``) continuing from the last sealed row, and writes positions, hashes and
``recorded_at`` in one statement that also renews the lease **only if the epoch is still its
own and the last sealed row is still the one it continued from**. A stalled sealer that lost
its lease is fenced off by that statement; a stale head fails instead of forking the chain.
The sealer keeps the head in memory between rounds (read when it takes the lease) and checks
it in each seal statement, rather than re-reading it in a transaction of its own.

**Why no reader can skip a row.** Readers see sealed rows only, and positions are handed out
only by the one sealer, densely, in serialized seal statements, each over rows already
committed. A row that commits late is simply sealed in a later round, at a later position:
nothing sealed before it can be "behind" it. Rows of one stream are sealed in version order,
because an append draws its batch number after locking its stream row, and so after the
append before it has committed.

**recorded_at** is stamped by the sealer from its store's clock, never below the last sealed
row's, so it never decreases along positions (as on SQLite, where the single writer stamps
it). An append returns once its rows are sealed, with their real positions, or fails after
``StoreOptions.seal_timeout`` with a ``StoreError`` naming the sealing lag (its rows are then
sealed later; a retry with the same event ids is safe).

**Durability.** Appends commit with ``synchronous_commit = off``: the seal statement that
makes them visible commits synchronously, and flushing its WAL flushes theirs, which comes
before it. So an append that returned is durable, and an append costs no WAL flush of its own.

**Wake-ups.** An appender in a process that does not hold the lease adds one ``pg_notify`` to
its group's transaction; the sealer adds one to each seal statement, carrying the new head and
the last position of every batch it sealed, which resolves waiting appends in every process
without a query. A process publishes sealed groups to its own subscribers (``Fanout``); a
bounded poll (``StoreOptions.poll_interval``) covers a lost notification.

**Beside the log**, in the same schema: the projections, each run by one process at a time
(``postgres_projections``), the workers' heartbeats, the invocation cache and the artifacts,
so a session resumed on another machine finds its inputs. ``import_rows`` writes exported rows
already sealed, holding the sealer's lease row; the sealer's next statement sees that the head
moved and reads it again.

**Cost of sealing**, measured with ``tools/bench.py store --backend postgres`` (2 cores, local
server): every row is written twice, inserted unsealed and then updated by the seal (not a HOT
update: it sets the indexed position, so every index gets a new entry), read back once (only
its keys when the sealer's own process appended it) and hashed in Python. In appends of 1000
events the seal takes about three quarters of the time (some 24 us a row, 8 us for the insert);
the whole runs at 0.45-0.6x raw ``executemany`` into a table with the same columns and
indexes. The partial index of unsealed rows keeps the sealed rows' dead entries until vacuum,
so the sealer's read slows down between autovacuums.

**Concurrent single appends** (8 stores in one process, each appending one event at a time) run
at 1.1-1.3x the same appends under ``LOCK TABLE`` in most runs (0.8-1.56x; 3,000-4,100
events/s). After a round the sealer waits for the writers it released (``_gather``), so a round
seals all 8 instead of the half that was quickest: rounds fall by 40% and the CPU per event by
some 5%, but the throughput stays the same, because each writer's cycle is latency-bound: its
insert (0.6 ms), the sealer's read (0.2 ms) and seal (0.8-1 ms, with its WAL flush) each take
3-5x what they take on an idle server, with the client process about 55% busy and the machine
about 75%. The floor is fast here because this server's WAL flush is short (about 0.1 ms, the
bench's ``pg_wal_flush_ms``), so holding the table lock through it costs little; the store's
advantage, one flush for a whole round, grows with the flush time. The bench's
``pg_append_concurrent_vs_protocol`` runs the protocol's bare database work with as little
Python as it can have (no stream version rows, lease, fence or anyio): it reaches 1.25-1.85x the
``LOCK TABLE`` floor here, and the store 0.6-1.05x of it: even the design's bare work falls
short of 2x on this machine, and the store's own bookkeeping (the version row, the fence) costs
up to 30% more. Measured and not kept: no NOTIFY from appenders at all, with the sealer polling
(1.2-1.4x: each NOTIFY wakes every listening backend of the database, before PostgreSQL 19, but
that was not the limit); each store in a process of its own (worse, and noisier); one statement
per round hashing the chain in SQL (recursive CTE; +15% concurrent, but batched appends fell to
0.3-0.5x raw and subscribe latency rose).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from hashlib import sha1
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import anyio.abc
import asyncpg  # type: ignore[import-untyped]

from eventsvc.chain import StoredRow, chain_hash
from eventsvc.clock import Clock, SystemClock
from eventsvc.errors import (
    ConcurrencyError,
    DuplicateEventError,
    NotFoundError,
    StoreError,
)
from eventsvc.events import Event, NewEvent, RecordedEvent
from eventsvc.store import ANY, AppendResult, ExpectedVersion, StoreOptions
from eventsvc.store.group_commit import GroupCommit
from eventsvc.store.postgres_artifacts import PostgresArtifactStore
from eventsvc.store.postgres_common import DRIVER_ERRORS, Lease, dollar_placeholders
from eventsvc.store.postgres_projections import PostgresProjections
from eventsvc.store.projection import (
    FoldError,
    InlineProjection,
    ProjectionStall,
    ProjectionTransaction,
)
from eventsvc.store.rows import (
    COLUMNS,
    Head,
    Item,
    columns_of,
    decode_rows,
    importable,
    known_span,
    prepare,
    record,
    stored_rows,
)
from eventsvc.store.subscription import EventFilter, Fanout, Subscription

log = logging.getLogger("eventsvc.store")
_T = TypeVar("_T")

SCHEMA_VERSION = 1
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
CREATE TABLE worker_leases (worker_id TEXT PRIMARY KEY, heartbeat_at DOUBLE PRECISION NOT NULL);
CREATE TABLE artifacts (sha256 TEXT PRIMARY KEY, media_type TEXT NOT NULL, data BYTEA NOT NULL);
"""
# The database's clock, in seconds since the epoch: leases are judged by it, not by a worker's.
DB_NOW = "extract(epoch FROM clock_timestamp())::float8"
_BEAT = (
    f"INSERT INTO worker_leases (worker_id, heartbeat_at) SELECT w, {DB_NOW} "
    "FROM unnest($1::text[]) AS w "
    "ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at"
)
_BETWEEN = f"SELECT {COLUMNS} FROM events WHERE position BETWEEN $1 AND $2"
_HEAD = (
    "SELECT position, hash, recorded_at FROM events WHERE position IS NOT NULL "
    "ORDER BY position DESC LIMIT 1"
)
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
# Payloads of this process's own waiting batches are not read back: the sealer has them.
_UNSEALED = """
SELECT batch, version, stream, event_id, tag, schema_version,
       CASE WHEN batch = ANY($1::bigint[]) THEN NULL ELSE data END,
       CASE WHEN batch = ANY($1::bigint[]) THEN NULL ELSE metadata END
FROM events WHERE position IS NULL ORDER BY batch, version LIMIT $2
"""
_UNSEALED_BATCH = """
SELECT batch, version, stream, event_id, tag, schema_version, data, metadata
FROM events WHERE position IS NULL AND batch = $1 ORDER BY version
"""
# One statement, so one commit: the fence (the epoch is ours and the head is the one we
# continued from; it also renews the lease and locks its row against a takeover), the seal,
# a guard that no row read went missing (a gap would follow), and the readers' wake-up.
# "Nothing sealed past the head" asks for the largest position (one probe of the position
# index, whatever the plan), not for a row beyond the head: a generic plan ran "position >
# head" as a scan of the whole log, and asking for head + 1 alone would miss rows past a gap.
_SEAL = """
WITH fence AS (
    UPDATE leases
    SET expires_at = clock_timestamp() + make_interval(secs => $4::float8),
        holder_pid = pg_backend_pid()
    WHERE name = 'sealer' AND epoch = $1::bigint
      AND ($2::bigint = 0 OR EXISTS (
          SELECT 1 FROM events WHERE position = $2::bigint AND hash = $3::bytea))
      AND coalesce((SELECT max(position) FROM events), 0) = $2::bigint
    RETURNING epoch
), sealed AS (
    UPDATE events AS e
    SET position = $2::bigint + u.n, recorded_at = $5::bigint, hash = u.hash
    FROM fence, unnest($6::bigint[], $7::bigint[], $8::bytea[])
        WITH ORDINALITY AS u(batch, version, hash, n)
    WHERE e.batch = u.batch AND e.version = u.version AND e.position IS NULL
    RETURNING 1
), counted AS (
    SELECT count(*) AS n FROM sealed
)
SELECT
    (SELECT count(*) FROM fence) AS fenced_in,
    CASE WHEN counted.n = cardinality($6::bigint[]) OR NOT EXISTS (SELECT 1 FROM fence)
        THEN counted.n
        ELSE ('sealed ' || counted.n || ' of ' || cardinality($6::bigint[]) || ' rows')::bigint
    END AS sealed,
    CASE WHEN EXISTS (SELECT 1 FROM fence) THEN pg_notify($9::text, $10::text) END
FROM counted
"""
_LAG = """
SELECT (SELECT count(*) FROM events WHERE position IS NULL), holder, epoch,
       extract(epoch FROM expires_at - clock_timestamp())::float8
FROM leases WHERE name = 'sealer'
"""
# A seal round takes whole appends, up to this many rows (more only for one larger append).
_SEAL_ROWS = 10_000
_NOTIFY_LIMIT = 7900
_CONTROL_ERRORS: tuple[type[BaseException], ...] = (*DRIVER_ERRORS, StoreError)


@dataclass(slots=True)
class _Append:
    """One caller's append, prepared in the caller's task, inserted by the commit leader."""

    stream: str
    expected: ExpectedVersion
    items: list[Item]
    wakeup: anyio.Event = field(default_factory=anyio.Event)
    settled: bool = False
    # Set by the leader: the append is inserted (waits for its seal), conflicted, or a
    # repeat of stored ids; or it failed.
    pending: _Pending | None = None
    conflict: bool = False
    duplicate: bool = False
    error: BaseException | None = None


@dataclass(slots=True)
class _Pending:
    """An inserted append waiting for its rows to be sealed."""

    batch: int
    stream: str
    last_version: int
    items: list[Item]
    sealed: anyio.Event = field(default_factory=anyio.Event)
    last_position: int | None = None
    since: float = field(default_factory=anyio.current_time)

    def payload(self, version: int) -> tuple[str, str]:
        item = self.items[version - self.last_version + len(self.items) - 1]
        return item[3], item[4]

    def event(self, version: int) -> Event:
        return self.items[version - self.last_version + len(self.items) - 1][5]

    def resolve(self, last_position: int) -> None:
        self.last_position = last_position
        self.sealed.set()

    def result(self) -> AppendResult:
        assert self.last_position is not None
        first = self.last_position - len(self.items) + 1
        return AppendResult(self.stream, first, self.last_position, self.last_version)


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
        self._dsn = url
        self._url = _redact(url)
        self._where = _host_port(url)
        self._read_only = read_only
        self._options = options
        self._clock = clock
        self._seal_hook = seal_hook
        self._pool: Any = None
        self._writer: Any = None
        self._control_conn: Any = None
        self._schema = ""
        self._closed = False
        self._stopped = ""
        # The background tasks' own scopes, so closing never cancels the caller's block.
        self._scopes: list[anyio.CancelScope] = []
        self._fanout = Fanout(options.subscriber_buffer)
        self._group = GroupCommit(options.max_group, self._insert)
        # Sealing.
        holder = f"{socket.gethostname()} pid {os.getpid()} store {uuid.uuid4().hex[:8]}"
        self._lease = Lease("sealer", holder, options.sealer_lease)
        self._seal_head = Head()
        self._wake_sealer = anyio.Event()
        self._arrived = 0  # appends committed since the last seal
        self._lease_freed = anyio.Event()
        self._renewed_at = 0.0
        self._compete_after = 0.0
        # What this process knows of the sealed log.
        self._pending: dict[int, _Pending] = {}
        self._recent: OrderedDict[int, int] = OrderedDict()
        self._known_head = 0
        self._published = 0
        self._publishing = anyio.Lock()
        self._tick = anyio.Event()
        self._heard_at = 0.0
        self._projections = PostgresProjections(self, options.sealer_lease)
        self._task_group: anyio.abc.TaskGroup | None = None
        self._behind = anyio.Event()
        # Append transactions committed, seal rounds, and seal rounds fenced off.
        self.commits = 0
        self.rounds = 0
        self.fenced = 0

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
        """The store at ``url`` for the block, its sealer and listener running alongside.

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
                await tg.start(store._control)
                tg.start_soon(store._follow)
                try:
                    yield store
                finally:
                    await store.aclose()
        finally:
            await store._close_connections()

    async def _open(self) -> None:
        settings = {"default_transaction_read_only": "on"} if self._read_only else {}
        try:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=8,
                timeout=10,
                server_settings=self._settings("pool", settings),
            )
        except DRIVER_ERRORS as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {self._where}: {exc}") from exc
        self._control_conn = await self._connect("control")
        try:
            await self._check_schema(self._control_conn)
            row = await self._control_conn.fetchrow(_HEAD)
        except DRIVER_ERRORS as exc:
            raise StoreError(f"opening the store at {self._where} failed: {exc}") from exc
        self._known_head = self._published = 0 if row is None else int(row[0])

    async def _check_schema(self, conn: Any) -> None:
        self._schema = await conn.fetchval("SELECT current_schema()") or ""
        if not self._schema:
            raise StoreError(
                f"no schema to hold the store at {self._where}: the search_path names none "
                "that exists (create it, or name one with ?search_path=...)"
            )
        async with conn.transaction():
            if not self._read_only:
                # Processes opening a fresh schema at once: one creates it, the others wait.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")
            if await conn.fetchval("SELECT to_regclass('eventsvc_schema')") is None:
                if self._read_only:
                    raise StoreError(f"schema {self._schema!r} at {self._where} holds no store")
                await conn.execute(SCHEMA_SQL)
                await conn.execute(f"INSERT INTO eventsvc_schema VALUES ({SCHEMA_VERSION})")
                await conn.execute("INSERT INTO leases VALUES ('sealer', 0, '', NULL, '-infinity')")
        version = await conn.fetchval("SELECT max(version) FROM eventsvc_schema")
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"schema {self._schema!r} has store schema version {version!r}; this eventsvc "
                f"reads version {SCHEMA_VERSION} (a newer eventsvc wrote it?)"
            )

    def _settings(self, role: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        query = dict(parse_qsl(urlsplit(self._dsn).query))
        name = {} if "application_name" in query else {"application_name": f"eventsvc {role}"}
        return {**name, **(extra or {})}

    async def _connect(self, role: str, extra: dict[str, str] | None = None) -> Any:
        try:
            return await asyncpg.connect(
                self._dsn, timeout=10, server_settings=self._settings(role, extra)
            )
        except DRIVER_ERRORS as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {self._where}: {exc}") from exc

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._fanout.close()
        self._stop_waiting(f"store {self._url!r} was closed")
        with anyio.CancelScope(shield=True):
            if self._lease.epoch is not None and self._pool is not None:
                try:
                    await self._lease.release(self._pool, self.channel("lease"))
                except DRIVER_ERRORS as exc:
                    log.warning("releasing the sealer lease at %s failed: %s", self._where, exc)
            for scope in self._scopes:
                scope.cancel()
            await self._close_connections()

    def _stop_waiting(self, why: str) -> None:
        """Wake every append waiting for its seal with ``why`` (it may still be sealed)."""
        self._stopped = why
        for pending in self._pending.values():
            pending.sealed.set()

    async def _close_connections(self) -> None:
        with anyio.CancelScope(shield=True):
            for conn in (self._writer, self._control_conn):
                if conn is not None:
                    await _close_quietly(conn)
            self._writer = self._control_conn = None
            if self._pool is not None:
                pool, self._pool = self._pool, None
                with anyio.move_on_after(5):
                    await pool.close()
                    return
                pool.terminate()

    # --- the protocol -------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._url

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def subscribers(self) -> int:
        """Live subscriptions this process is feeding."""
        return len(self._fanout)

    @property
    def sealing(self) -> bool:
        """Whether this process holds the sealer lease (as far as it knows)."""
        return self._lease.epoch is not None

    async def head(self) -> int:
        row = await self._fetchrow(_HEAD)
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
        request = _Append(
            stream, expected_version, prepare(stream, events, self._options.max_event_bytes)
        )
        outcome = None
        with anyio.CancelScope(shield=True):
            await self._group.submit(request)
            # Waiting for the seal too: a canceled caller's append is still read back at once.
            outcome = await self._outcome(request)
        assert outcome is not None
        return outcome

    async def read_stream(
        self, stream: str, from_version: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        rows = await self._fetch(
            f"SELECT {COLUMNS} FROM events WHERE stream = $1 AND version >= $2 "
            "AND position IS NOT NULL ORDER BY version LIMIT $3",
            stream,
            from_version,
            limit,
        )
        return decode_rows(rows)

    async def read_all(self, after: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        rows = await self._fetch(
            f"SELECT {COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2",
            after,
            limit,
        )
        return decode_rows(rows)

    async def read_rows(self, after: int = 0, limit: int = 1000) -> list[StoredRow]:
        rows = await self._fetch(
            f"SELECT {COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2",
            after,
            limit,
        )
        return stored_rows(rows)

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

    # --- beside the log -----------------------------------------------------------------

    async def heartbeat(self, worker_ids: Sequence[str]) -> None:
        """Stamp the workers' leases with the database's clock, in a table beside the log."""
        if self._read_only:
            raise StoreError(f"store {self._url!r} was opened read-only; it cannot heartbeat")
        await self._execute(_BEAT, list(worker_ids))

    async def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query (for projection views); ``?`` placeholders work as on SQLite."""
        return [tuple(row) for row in await self._fetch(dollar_placeholders(sql), *params)]

    async def point_query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read of a row or two by key: here, as any query."""
        return await self.query(sql, params)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def db_now(self) -> str:
        """SQL for the database's clock in seconds since the epoch (leases are judged by it)."""
        return DB_NOW

    def artifact_store(self, directory: str | os.PathLike[str]) -> PostgresArtifactStore:
        """A table in this database, so a session resumed on another machine finds its
        inputs (``directory`` is for file stores; unused here)."""
        return PostgresArtifactStore(self)

    # --- projections (eventsvc.store.postgres_projections) --------------------------------

    @property
    def projections(self) -> list[str]:
        return self._projections.names

    async def register(self, projection: InlineProjection) -> None:
        """Create the projection's tables if needed; a writing process also competes to run
        it (one runner per projection across all processes)."""
        try:
            await self._projections.create(projection)
        except DRIVER_ERRORS as exc:
            raise StoreError(
                f"creating projection {projection.name!r} at {self._where} failed: {exc}"
            ) from exc
        if not self._read_only and self._task_group is not None:
            self._task_group.start_soon(self._run_projection, projection.name)

    async def _run_projection(self, name: str) -> None:
        with self._background():
            await self._projections.run(name)

    async def rebuild(self, *names: str) -> int:
        try:
            return await self._projections.rebuild(names)
        except FoldError as exc:
            raise StoreError(f"rebuild failed, the tables are as they were: {exc}") from None
        except DRIVER_ERRORS as exc:
            raise StoreError(f"rebuilding projections at {self._where} failed: {exc}") from exc

    async def stalls(self) -> list[ProjectionStall]:
        """The projections that cannot fold the event at some position, in any process."""
        return self._projections.stalls()

    async def checkpoint(self, name: str) -> int:
        return await self._projections.checkpoint(name)

    async def checkpoints(self) -> dict[str, int]:
        return await self._projections.checkpoints()

    async def wait_for_projections(self, position: int) -> None:
        """Return once every registered projection has folded ``position`` (the runners
        may run in other processes); a position beyond the log is an error."""
        if position > self._known_head:  # only then ask: the known head only ever rises
            self._observe_head(await self.head())
        if position > self._known_head:
            raise NotFoundError(
                f"position {position} is beyond the log's head ({self._known_head})"
            )
        with anyio.move_on_after(self._options.seal_timeout) as waited:
            await self._projections.wait_for(position)
        if waited.cancelled_caught:
            behind = {name: self._projections.known(name) for name in self.projections}
            raise StoreError(
                f"the projections have not folded position {position} after "
                f"{self._options.seal_timeout:g} s (folded: {behind}); is a process running them?"
            )

    def snapshot(self) -> AbstractAsyncContextManager[PostgresSnapshot]:
        return self._snapshot()

    @asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[PostgresSnapshot]:
        async with self.pool.acquire() as conn:
            try:
                async with conn.transaction(isolation="repeatable_read", readonly=True):
                    yield PostgresSnapshot(conn, self._where)
            except DRIVER_ERRORS as exc:
                raise StoreError(f"reading the store at {self._where} failed: {exc}") from exc

    async def write_beside(
        self, work: Callable[[ProjectionTransaction], _T], action: str = "write"
    ) -> _T:
        """Run ``work`` (synchronous, written for both backends) in a transaction of its own
        on tables beside the log, from a worker thread whose statements hop to this loop."""
        try:
            return await self._projections.write(work)
        except DRIVER_ERRORS as exc:
            raise StoreError(f"{action} at {self._where} failed: {exc}") from exc

    async def create_beside(self, statements: Sequence[str]) -> None:
        """Create tables beside the log, once, however many processes start at once."""
        try:
            await self._projections.create_tables(statements)
        except DRIVER_ERRORS as exc:
            raise StoreError(f"creating tables at {self._where} failed: {exc}") from exc

    async def import_rows(self, rows: Sequence[StoredRow], *, verify: bool = True) -> int:
        """Store exported rows as they were, sealed (positions, times, hashes), in one
        transaction that holds the sealer's lease row, so no seal interleaves; the runners
        fold them. Rows this log holds identically are skipped."""
        if self._read_only:
            raise StoreError(f"store {self._url!r} was opened read-only; it cannot import")
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT 1 FROM leases WHERE name = 'sealer' FOR UPDATE")
                fresh = await _importable(conn, rows, verify)
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
                    head = _sealed_payload(fresh[-1].position, {})
                    await conn.execute("SELECT pg_notify($1, $2)", self.channel("sealed"), head)
        except DRIVER_ERRORS as exc:
            raise StoreError(f"importing into the store at {self._where} failed: {exc}") from exc
        if fresh:
            self._observe_head(fresh[-1].position)
        return len(fresh)

    # --- hooks for what runs beside the log in this database (projection runners) --------

    @property
    def pool(self) -> Any:
        """The store's asyncpg pool, for code in ``eventsvc.store`` that keeps its own tables
        in this schema (it translates driver errors itself)."""
        if self._pool is None:
            raise StoreError(f"store {self._url!r} is closed")
        return self._pool

    @property
    def poll_interval(self) -> float:
        """The bounded poll that stands in for a lost notification, in seconds."""
        return self._options.poll_interval

    @property
    def holder(self) -> str:
        """This process's name in leases."""
        return self._lease.holder

    def channel(self, name: str) -> str:
        """A NOTIFY channel of this store's schema (schemas in one database do not mix)."""
        channel = f"eventsvc:{self._schema}:{name}"
        if len(channel) <= 63:
            return channel
        return f"eventsvc:{sha1(self._schema.encode()).hexdigest()[:20]}:{name}"

    async def wait_for_head(self, position: int) -> None:
        """Return once the sealed log reaches ``position`` (woken by seals, else a poll)."""
        while self._known_head < position:
            tick = self._tick
            with anyio.move_on_after(self._options.poll_interval):
                await tick.wait()
            if not tick.is_set():
                self._observe_head(await self.head())

    # --- group commit -------------------------------------------------------------------

    async def _insert(self, group: list[_Append]) -> None:
        try:
            conn = await self._writer_connection()
            notify = self._lease.epoch is None
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
        except DRIVER_ERRORS as exc:
            writer, self._writer = self._writer, None
            if writer is not None:
                await _close_quietly(writer)
            error = StoreError(
                f"append to PostgreSQL at {self._where} failed ({exc}); it may or may not have "
                "been stored: retrying it with the same event ids is safe"
            )
            for request in group:
                request.pending, request.error = None, error
            return
        self.commits += 1
        if self._lease.epoch is not None:
            self._arrived += sum(request.pending is not None for request in group)
            self._wake_sealer.set()

    async def _insert_group(self, conn: Any, group: list[_Append], notify: bool) -> None:
        # Stream rows are locked in one order by every process, so groups never deadlock.
        ordered = sorted(group, key=lambda request: request.stream)
        inserted: list[tuple[_Append, int, int]] = []
        async with conn.transaction():
            for request in ordered:
                sql, args = _append_statement(request, None)
                row = await conn.fetchrow(sql, *args)
                if row is None:
                    request.conflict = True
                else:
                    inserted.append((request, int(row[0]), int(row[1])))
            if inserted and notify:
                await conn.execute(
                    "SELECT pg_notify($1::text, $2::text)", self.channel("unsealed"),
                    str(len(inserted)),
                )  # fmt: skip
        for request, batch, last in inserted:
            request.pending = self._register(request, batch, last)

    async def _insert_one(self, conn: Any, request: _Append, notify: bool) -> None:
        sql, args = _append_statement(request, self.channel("unsealed") if notify else None)
        row = await conn.fetchrow(sql, *args)
        if row is None:
            request.conflict = True
        else:
            request.pending = self._register(request, int(row[0]), int(row[1]))

    def _register(self, request: _Append, batch: int, last_version: int) -> _Pending:
        pending = _Pending(batch, request.stream, last_version, request.items)
        last = self._recent.get(batch)
        if last is not None:
            pending.resolve(last)
        else:
            self._pending[batch] = pending
            if self._stopped:
                pending.sealed.set()
        return pending

    async def _writer_connection(self) -> Any:
        if self._writer is None or self._writer.is_closed():
            # The seal statement commits synchronously and flushes these commits' WAL too.
            self._writer = await self._connect("writer", {"synchronous_commit": "off"})
        return self._writer

    async def _outcome(self, request: _Append) -> AppendResult:
        """The caller's side: wait for the seal, or work out the conflict or the repeat."""
        if request.error is not None:
            raise request.error
        if request.pending is not None:
            return await self._sealed(request.pending)
        if request.conflict and not await self._is_stored(request):
            raise await self._conflict_error(request)
        return await self._resolve_stored(request)

    async def _sealed(self, pending: _Pending) -> AppendResult:
        timeout = self._options.seal_timeout
        with anyio.move_on_after(timeout):
            await pending.sealed.wait()
        if pending.last_position is None:
            if self._stopped:
                raise StoreError(
                    f"{self._stopped} before an append to stream {pending.stream!r} was "
                    "sealed; it will be sealed by another process or on reopening, and "
                    "retrying it with the same event ids is safe"
                )
            raise StoreError(
                f"append to stream {pending.stream!r} was committed but not sealed within "
                f"{timeout:g} s: {await self._lag()}; it will be sealed once a sealer runs, "
                "and retrying it with the same event ids is safe"
            )
        return pending.result()

    async def _lag(self) -> str:
        """The sealing lag, in words: rows waiting and the state of the sealer lease."""
        try:
            row = await self._fetchrow(_LAG)
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

    async def _is_stored(self, request: _Append) -> bool:
        row = await self._fetchrow("SELECT 1 FROM events WHERE event_id = $1", request.items[0][0])
        return row is not None

    async def _conflict_error(self, request: _Append) -> ConcurrencyError:
        """The stream's version and last position (once sealed) for the caller's error."""

        async def look() -> tuple[int | None, int | None]:
            row = await self._fetchrow(
                "SELECT s.version, e.position FROM streams s LEFT JOIN events e "
                "ON e.stream = s.stream AND e.version = s.version WHERE s.stream = $1",
                request.stream,
            )
            if row is None:
                return None, 0
            return int(row[0]), row[1]

        version, position = await self._when_sealed(look, lambda found: found[1] is not None)
        assert position is not None
        return ConcurrencyError(request.stream, request.expected, version, position)

    async def _resolve_stored(self, request: _Append) -> AppendResult:
        """An append whose ids are stored: the original result if it is the same, else an error."""
        ids = [item[0] for item in request.items]

        async def look() -> dict[str, Any]:
            rows = await self._fetch(
                "SELECT event_id, stream, version, position, tag, data, metadata FROM events "
                "WHERE event_id = ANY($1::text[])",
                ids,
            )
            return {row[0]: row for row in rows}

        stored = await look()
        for event_id, tag, _, data, meta, _ in request.items:
            row = stored.get(event_id)
            if row is None or row[1] != request.stream or tuple(row[4:]) != (tag, data, meta):
                where = "not stored" if row is None else f"stored in stream {row[1]!r}"
                raise DuplicateEventError(
                    f"append to stream {request.stream!r} repeats event ids of an earlier "
                    f"append with other content: event {event_id} is {where}"
                )
        stored = await self._when_sealed(
            look, lambda found: all(found[i][3] is not None for i in ids)
        )
        first, last = stored[ids[0]], stored[ids[-1]]
        return AppendResult(request.stream, first[3], last[3], last[2])

    async def _when_sealed(
        self, look: Callable[[], Awaitable[Any]], ready: Callable[[Any], bool]
    ) -> Any:
        """``look()`` again after each seal until ``ready``, within the seal timeout."""
        with anyio.move_on_after(self._options.seal_timeout):
            while True:
                tick = self._tick
                found = await look()
                if ready(found):
                    return found
                with anyio.move_on_after(self._options.poll_interval):
                    await tick.wait()
        raise StoreError(
            f"an event this append depends on was not sealed within "
            f"{self._options.seal_timeout:g} s: {await self._lag()}"
        )

    # --- the sealer ---------------------------------------------------------------------

    async def _control(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """Listen for wake-ups on the control connection and, in a writing process, compete
        for the sealer lease and seal while holding it. Reconnects when the connection fails;
        it then leaves the lease to the others for one lease period."""
        with self._background():
            try:
                await self._control_forever(task_status)
            except Exception as exc:
                # A defect, not a lost connection: no append may wait out its timeout for it.
                self._stop_waiting(f"the store's sealer stopped: {exc!r}")
                raise

    def _background(self) -> anyio.CancelScope:
        scope = anyio.CancelScope()
        self._scopes.append(scope)
        return scope

    async def _control_forever(self, task_status: anyio.abc.TaskStatus[None]) -> None:
        conn = self._control_conn
        try:
            await self._listen(conn)
            if not self._read_only:
                await self._compete(conn)
        except DRIVER_ERRORS as exc:
            raise StoreError(f"opening the store at {self._where} failed: {exc}") from exc
        task_status.started()
        while True:
            try:
                if conn is None:
                    conn = self._control_conn = await self._connect("control")
                    await self._listen(conn)
                if self._read_only:
                    await self._watch(conn)
                else:
                    await self._seal_loop(conn)
            except _CONTROL_ERRORS as exc:
                if self._lease.epoch is not None or conn is not None:
                    log.warning(
                        "the store's control connection to %s failed (%s); reconnecting, "
                        "and leaving the sealer lease to others for %g s",
                        self._where,
                        exc,
                        self._lease.seconds,
                    )
                self._lease.epoch = None
                self._compete_after = anyio.current_time() + self._lease.seconds
                if conn is not None:
                    await _close_quietly(conn)
                conn = self._control_conn = None
                await anyio.sleep(min(1.0, self._lease.seconds / 4))

    async def _listen(self, conn: Any) -> None:
        await conn.add_listener(self.channel("sealed"), self._on_sealed)
        await conn.add_listener(self.channel("lease"), self._on_lease_freed)
        await conn.add_listener(self.channel("checkpoints"), self._on_checkpoint)

    def _on_checkpoint(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        self._projections.on_checkpoint(payload)

    async def _watch(self, conn: Any) -> None:
        """A read-only process only listens; notice when its connection goes."""
        closed = anyio.Event()
        conn.add_termination_listener(lambda _: closed.set())
        if not conn.is_closed():
            await closed.wait()
        raise StoreError("the listening connection was closed")

    async def _seal_loop(self, conn: Any) -> None:
        while True:
            if self._lease.epoch is None:
                self._lease_freed = anyio.Event()
                await self._compete(conn)
                if self._lease.epoch is None:
                    with anyio.move_on_after(self._lease.seconds / 4):
                        await self._lease_freed.wait()
                    continue
            self._wake_sealer = anyio.Event()
            started = anyio.current_time()
            released = await self._seal_round(conn)
            if released is not None:
                await self._gather(released, anyio.current_time() - started)
                continue
            if anyio.current_time() - self._renewed_at >= self._lease.seconds / 3:
                await self._renew(conn)
                continue
            with anyio.move_on_after(self._options.poll_interval):
                await self._wake_sealer.wait()

    async def _gather(self, released: int, took: float) -> None:
        """Group commit for the seal. Sealing ``released`` appends woke their writers, and a
        busy writer appends again at once: wait (at most as long as the round took, and never
        past a poll interval) until as many appends have arrived, so that the next round seals
        them together instead of only those that were quickest. Without it, closed-loop writers
        split into two halves that take turns, and each round seals half of them."""
        self._arrived = 0
        with anyio.move_on_after(min(took, self._options.poll_interval)):
            while self._arrived < released:
                self._wake_sealer = anyio.Event()
                await self._wake_sealer.wait()

    async def _compete(self, conn: Any) -> None:
        if anyio.current_time() < self._compete_after or not await self._lease.acquire(conn):
            return
        self._seal_head = await _read_head(conn)
        self._renewed_at = anyio.current_time()
        await conn.add_listener(self.channel("unsealed"), self._on_unsealed)
        log.info("%s seals the log at %s (epoch %d)", self.holder, self._where, self._lease.epoch)

    async def _renew(self, conn: Any) -> None:
        epoch = self._lease.epoch
        if await self._lease.renew(conn):
            self._renewed_at = anyio.current_time()
        else:
            await self._step_down(conn, f"its lease (epoch {epoch}) was taken over")

    async def _step_down(self, conn: Any, why: str) -> None:
        self._lease.epoch = None
        log.warning("%s stops sealing the log at %s: %s", self.holder, self._where, why)
        await conn.remove_listener(self.channel("unsealed"), self._on_unsealed)

    async def _seal_round(self, conn: Any) -> int | None:
        """Seal the committed unsealed rows (whole appends, a bounded number): how many appends
        were sealed (0 when fenced off), None when none were waiting."""
        rows = await self._unsealed(conn)
        if not rows:
            return None
        self.rounds += 1
        if self._seal_hook is not None:
            await self._seal_hook()
        epoch = self._lease.epoch
        head = self._seal_head
        recorded_at = max(self._clock.now_us(), head.recorded_at)
        position, previous = head.position, head.hash
        batches, versions, hashes, sealed = [], [], [], []
        lasts: dict[int, int] = {}
        for batch, version, stream, event_id, tag, schema_version, data, meta in rows:
            position += 1
            previous = chain_hash(
                previous, position, stream, version, event_id, tag, schema_version,
                recorded_at, data.encode(), meta.encode(),
            )  # fmt: skip
            batches.append(batch)
            versions.append(version)
            hashes.append(previous)
            lasts[batch] = position
            sealed.append(
                (position, stream, version, event_id, tag, schema_version, recorded_at, data,
                 meta, previous, batch)
            )  # fmt: skip
        payload = _sealed_payload(position, lasts)
        fenced_in, _, _ = await conn.fetchrow(
            _SEAL, epoch, head.position, head.hash, self._lease.seconds, recorded_at,
            batches, versions, hashes, self.channel("sealed"), payload,
        )  # fmt: skip
        if not fenced_in:
            self.fenced += 1
            await self._fenced_off(conn, epoch, len(rows))
            return 0
        self._renewed_at = anyio.current_time()
        self._seal_head = Head(position, previous, recorded_at)
        self._sealed_locally(sealed, lasts)
        return len(lasts)

    async def _unsealed(self, conn: Any) -> list[tuple[Any, ...]]:
        """The next rows to seal, whole appends only, payloads filled in."""
        rows = [tuple(row) for row in await conn.fetch(_UNSEALED, list(self._pending), _SEAL_ROWS)]
        if len(rows) == _SEAL_ROWS:
            last = rows[-1][0]
            if rows[0][0] == last:  # one append larger than a round: all of it
                rows = [tuple(row) for row in await conn.fetch(_UNSEALED_BATCH, last)]
            else:  # the last append may be cut short: it goes in the next round
                rows = [row for row in rows if row[0] != last]
        filled = []
        for row in rows:
            if row[6] is None:
                pending = self._pending.get(row[0])
                if pending is None:  # resolved meanwhile: read everything again
                    return [tuple(r) for r in await conn.fetch(_UNSEALED, [], _SEAL_ROWS)]
                row = (*row[:6], *pending.payload(row[1]))
            filled.append(row)
        return filled

    async def _fenced_off(self, conn: Any, epoch: int | None, count: int) -> None:
        row = await conn.fetchrow("SELECT epoch, holder FROM leases WHERE name = 'sealer'")
        if row is not None and row[0] == epoch:
            # Still ours: the head moved under us (an import, or an edit). Read it again.
            log.warning(
                "the last sealed row at %s is not the one the sealer continued from "
                "(position %d): the log was imported into or edited; reading the head again",
                self._where,
                self._seal_head.position,
            )
            self._seal_head = await _read_head(conn)
            return
        found = "no holder" if row is None else f"epoch {row[0]} of {row[1]!r}"
        await self._step_down(
            conn,
            f"its seal of {count} row(s) was refused: the lease's epoch is no longer {epoch} "
            f"but {found}",
        )

    def _sealed_locally(self, sealed: list[tuple[Any, ...]], lasts: dict[int, int]) -> None:
        """After this process's seal: resolve waiting appends, hand the rows to subscribers."""
        first, last = sealed[0][0], sealed[-1][0]
        if len(self._fanout) and self._published == first - 1 and not self._publishing.locked():
            self._fanout.publish(self._records(sealed))
            self._published = last
        self._heard_at = anyio.current_time()
        self._resolve(lasts)
        self._observe_head(last)

    def _records(self, sealed: list[tuple[Any, ...]]) -> list[RecordedEvent]:
        """Sealed rows as events: this process's own from memory, the others decoded in one
        page."""
        others = iter(decode_rows([row[:10] for row in sealed if row[10] not in self._pending]))
        return [
            next(others)
            if (pending := self._pending.get(row[10])) is None
            else record(row, pending.event(row[2]))
            for row in sealed
        ]

    def _resolve(self, lasts: dict[int, int]) -> None:
        for batch, last in lasts.items():
            self._recent[batch] = last
            pending = self._pending.pop(batch, None)
            if pending is not None:
                pending.resolve(last)
        while len(self._recent) > 8192:
            self._recent.popitem(last=False)

    # --- following the sealed log -------------------------------------------------------

    def _on_sealed(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        if pid == conn.get_server_pid():
            return  # this process's own seal: _sealed_locally has it, rows and all
        head, lasts = _parse_sealed_payload(payload)
        self._heard_at = anyio.current_time()
        self._resolve(lasts)
        self._observe_head(head)

    def _on_unsealed(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        self._arrived += int(payload) if payload.isdigit() else 1
        self._wake_sealer.set()

    def _on_lease_freed(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        self._lease_freed.set()

    def _observe_head(self, head: int) -> None:
        if head > self._known_head:
            self._known_head = head
        tick, self._tick = self._tick, anyio.Event()
        tick.set()
        if self._known_head > self._published:
            if len(self._fanout) or self._publishing.locked():
                self._behind.set()  # subscribers to feed: the follower reads and publishes
            else:
                self._published = self._known_head

    async def _follow(self) -> None:
        """Hand sealed rows to this process's subscribers; poll when nothing was heard."""
        with self._background():
            await self._follow_forever()

    async def _follow_forever(self) -> None:
        while True:
            behind = self._behind
            with anyio.move_on_after(self._options.poll_interval):
                await behind.wait()
            if behind.is_set():
                self._behind = anyio.Event()
            try:
                if not behind.is_set() and self._overdue():
                    await self._poll()
                await self._publish()
            except StoreError as exc:
                log.warning("following the log at %s: %s", self._where, exc)
                await anyio.sleep(self._options.poll_interval)

    def _overdue(self) -> bool:
        """Whether to poll: an append has waited a poll interval for its seal (its
        notification lost, or cut to the head), or subscribers heard of no seal that long."""
        horizon = anyio.current_time() - self._options.poll_interval
        oldest = next(iter(self._pending.values()), None)
        if oldest is not None and oldest.since <= horizon:
            return True
        return bool(len(self._fanout)) and self._heard_at <= horizon

    async def _poll(self) -> None:
        """The fallback for lost notifications: the head, and the fate of waiting appends."""
        if self._pending:
            pendings = list(self._pending.values())
            rows = await self._fetch(
                "SELECT u.batch, e.position FROM unnest($1::bigint[], $2::text[], $3::bigint[]) "
                "AS u(batch, stream, version) JOIN events e "
                "ON e.stream = u.stream AND e.version = u.version WHERE e.position IS NOT NULL",
                [p.batch for p in pendings],
                [p.stream for p in pendings],
                [p.last_version for p in pendings],
            )
            self._resolve({int(batch): int(position) for batch, position in rows})
        self._observe_head(await self.head())

    async def _publish(self) -> None:
        """Read what was sealed since the last publication and hand it to subscribers."""
        async with self._publishing:
            if not len(self._fanout):
                self._published = max(self._published, self._known_head)
                return
            while self._published < self._known_head and len(self._fanout):
                page = await self.read_all(self._published, 1000)
                if not page:
                    return
                self._fanout.publish(page)
                self._published = page[-1].position

    # --- reading ------------------------------------------------------------------------

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        pool = self._usable_pool()
        try:
            return list(await pool.fetch(sql, *args))
        except DRIVER_ERRORS as exc:
            raise StoreError(f"reading the store at {self._where} failed: {exc}") from exc

    async def _fetchrow(self, sql: str, *args: Any) -> Any:
        pool = self._usable_pool()
        try:
            return await pool.fetchrow(sql, *args)
        except DRIVER_ERRORS as exc:
            raise StoreError(f"reading the store at {self._where} failed: {exc}") from exc

    async def _execute(self, sql: str, *args: Any) -> None:
        pool = self._usable_pool()
        try:
            await pool.execute(sql, *args)
        except DRIVER_ERRORS as exc:
            raise StoreError(f"writing the store at {self._where} failed: {exc}") from exc

    def _usable_pool(self) -> Any:
        if self._closed or self._pool is None:
            raise StoreError(f"store {self._url!r} is closed")
        return self._pool


def _append_statement(request: _Append, notify: str | None) -> tuple[str, list[Any]]:
    """The one statement of an append: version check, batch number, rows (and a NOTIFY)."""
    expected = request.expected
    kind = "exact" if isinstance(expected, int) else expected.value
    args: list[Any] = [request.stream, len(request.items)]
    args += [list(column) for column in zip(*request.items, strict=True)][:5]
    if isinstance(expected, int):
        args.append(expected)
    if notify is not None:
        args.append(notify)
    return _append_sql(kind, notify is not None, len(args)), args


@lru_cache(maxsize=16)
def _append_sql(kind: str, notify: bool, last_param: int) -> str:
    wake = f", pg_notify(${last_param}::text, '1')" if notify else ""
    return f"""
WITH v AS ({_VERSION_SQL[kind]}),
b AS (SELECT version AS last, nextval('events_batch') AS batch FROM v),
i AS (
    INSERT INTO events (stream, version, event_id, tag, schema_version, data, metadata, batch)
    SELECT $1::text, b.last - $2::bigint + u.n, u.event_id, u.tag, u.schema_version, u.data,
           u.metadata, b.batch
    FROM b, unnest($3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[])
        WITH ORDINALITY AS u(event_id, tag, schema_version, data, metadata, n)
)
SELECT b.batch, b.last{wake} FROM b
"""


def _sealed_payload(head: int, lasts: dict[int, int]) -> str:
    """``"<head> <batch>:<last position>,..."``; just the head when that would not fit."""
    payload = f"{head} " + ",".join(f"{batch}:{last}" for batch, last in lasts.items())
    return payload if len(payload) <= _NOTIFY_LIMIT else str(head)


def _parse_sealed_payload(payload: str) -> tuple[int, dict[int, int]]:
    head, _, rest = payload.partition(" ")
    lasts = {}
    for pair in filter(None, rest.split(",")):
        batch, _, last = pair.partition(":")
        lasts[int(batch)] = int(last)
    return int(head), lasts


@lru_cache(maxsize=256)
async def _no_mark() -> int:
    return 0


async def _no_change(mark: int) -> None:  # every store has a fanout: never called
    raise AssertionError("a PostgreSQL store follows the log through its fanout")


async def _close_quietly(conn: Any) -> None:
    with anyio.CancelScope(shield=True):
        try:
            with anyio.move_on_after(2):
                await conn.close()
                return
        except DRIVER_ERRORS:
            pass
        conn.terminate()


def _redact(url: str) -> str:
    """The URL without its password (in the authority or as a query parameter)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}@{host}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    host = parts.hostname or query.get("host") or "localhost"
    port = parts.port or query.get("port") or 5432
    return f"{host}:{port}"


class PostgresSnapshot:
    """Reads that all see one state of the database (a repeatable-read transaction)."""

    def __init__(self, conn: Any, where: str) -> None:
        self._conn = conn
        self._where = where

    async def read_rows(self, after: int = 0, limit: int = 1000) -> list[StoredRow]:
        rows = await self._conn.fetch(
            f"SELECT {COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2",
            after,
            limit,
        )
        return stored_rows(rows)

    async def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            rows = await self._conn.fetch(dollar_placeholders(sql), *params)
        except asyncpg.PostgresError as exc:
            raise StoreError(f"reading the store at {self._where} failed: {exc}") from exc
        return [tuple(row) for row in rows]

    async def checkpoints(self) -> dict[str, int]:
        rows = await self._by_name("projection_checkpoints", "position")
        return {name: int(position) for name, position in rows}

    async def schema_digests(self) -> dict[str, str]:
        return {
            name: str(digest)
            for name, digest in await self._by_name("projection_schemas", "digest")
        }

    async def _by_name(self, table: str, column: str) -> list[tuple[Any, Any]]:
        """``(name, column)`` of a table the projections make (none before they do: a failed
        read would end this transaction)."""
        if await self._conn.fetchval("SELECT to_regclass($1)", table) is None:
            return []
        return [tuple(row) for row in await self._conn.fetch(f"SELECT name, {column} FROM {table}")]


_IMPORT = (
    f"INSERT INTO events ({COLUMNS}, batch) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
)


async def _read_head(conn: Any) -> Head:
    row = await conn.fetchrow(_HEAD)
    return Head() if row is None else Head(int(row[0]), bytes(row[1]), int(row[2]))


async def _importable(conn: Any, rows: Sequence[StoredRow], verify: bool) -> list[StoredRow]:
    """The rows this log does not hold yet, checked to continue it (``rows.importable``)."""
    head = await _read_head(conn)
    span = known_span(rows, head.position)
    held = await conn.fetch(_BETWEEN, *span) if span else []
    return importable(rows, (head.position, head.hash), held, verify)
