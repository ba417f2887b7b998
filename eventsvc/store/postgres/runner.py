"""Projections on PostgreSQL: the SQLite folds, run by one process per projection (DESIGN
section 3).

The queue and stats projections are SQL written to run on both backends (``?`` placeholders,
``ON CONFLICT`` upserts, qualified columns); here their DDL gets PostgreSQL's wider types and
their statements ``$n`` placeholders. Several processes share the tables, so each projection
has one runner at a time: the holder of its lease (``projection:<name>`` in ``leases``, the
sealer's kind). The runner folds a page of sealed events and writes the checkpoint in one
transaction that first renews the lease, which locks the lease row: a runner that lost its
lease (stalled past it, or its connection gone) cannot commit a page, and a rebuild, which
locks the same rows, never interleaves with one. Every process waits for a position with
``wait_for``, woken by the runner's NOTIFY per page and else by a bounded poll.

A page costs few round trips: its events come from the follower's memory when this process
sealed or read them lately (``SealedLog.read_page``), its transaction opens with the lease's
renewal and checks in one simple query and ends with the checkpoint, its NOTIFY and COMMIT in
another, and an idle runner renews its lease only every third of it. A fold is synchronous (it
is written for SQLite's one-call transactions) and its writes are held back, to run in order on
the page's connection once it has folded. A fold that reads needs a worker thread, where each
read first runs the writes held before it; one that does not (the stats projection's, nearly
always) may fold a small page on the event loop, as a hop to a thread and back costs more CPU
than such a fold. So a small page of a projection declared ``nonblocking`` (its fold never
waits on anything of its own) is folded on the loop first, unless the projection's last page
read; the first read it asks for abandons that try (nothing has run: its writes were only
held) and the page is folded again, from the start, in a thread. Folds are deterministic
functions of the tables and the events (a rebuild relies on it), so the second fold is the
one the first would have been.

A page costs its runner those round trips however few events it holds, so a runner that has
caught up with the head paces itself while events keep coming: it starts its next page only
``projection_page_interval`` (``StoreOptions``) after the last one started, and that page holds
the events of the while. A caller that waits for the projection (``wait_for``) starts the next
page at once: in the runner's own process directly, from any other by a notice on the
checkpoints channel (``name?position``, sent once per position asked for). The first event
after a quiet while is folded at once; what the pace delays is only what nobody waits for.

A page the fold cannot take (a data error of the database, a defect) is folded event by event
to find the very event; the projection then stalls at the position before it, recorded in
``projection_stalls`` and announced on the checkpoints channel, so every process answers a
command that needs it at once, naming the event, instead of waiting for it. The runner tries
again every third of its lease, and clears the stall once it gets past it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any, Protocol, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
import asyncpg  # type: ignore[import-untyped]

from eventsvc.errors import StoreError
from eventsvc.events import RecordedEvent
from eventsvc.projections import (
    FoldError,
    Projection,
    ProjectionStall,
    fold_or_raise,
    nonblocking,
)
from eventsvc.projections.runner import (
    choose,
    ddl_statements,
    fold_exactly,
    prepare_tables,
    rebuild_in,
)
from eventsvc.store.postgres.common import DRIVER_ERRORS, Database, Lease, dollar_placeholders
from eventsvc.store.protocols import Transaction

log = logging.getLogger("eventsvc.projections")
_T = TypeVar("_T")

PAGE = 1000
_RUNNER_ERRORS: tuple[type[BaseException], ...] = (StoreError, *DRIVER_ERRORS)
_DDL_LOCK = "SELECT pg_advisory_xact_lock(hashtext('eventsvc tables'))"
_TYPES = {"INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION", "BLOB": "BYTEA"}
_TYPE_WORDS = re.compile(r"\b(" + "|".join(_TYPES) + r")\b")
_STALLS_TABLE = (
    "CREATE TABLE IF NOT EXISTS projection_stalls "
    "(name TEXT PRIMARY KEY, position BIGINT NOT NULL, reason TEXT NOT NULL)"
)
_STALL = (
    "WITH saved AS (INSERT INTO projection_stalls (name, position, reason) VALUES ($1, $2, $3) "
    "ON CONFLICT (name) DO UPDATE SET position = excluded.position, reason = excluded.reason "
    "RETURNING 1) SELECT pg_notify($4::text, $1 || '!' || $2 || '!' || $5) FROM saved"
)
_UNSTALL = (
    "WITH gone AS (DELETE FROM projection_stalls WHERE name = $1 RETURNING 1) "
    "SELECT pg_notify($2::text, $1 || '!') FROM gone"
)
# Driver errors that mean the connection or the server, not the events: the runner competes
# again rather than calling the events unfoldable.
_TRANSIENT_SQLSTATE = ("08", "40", "53", "55", "57", "58")
_CHECKPOINT = (
    "WITH saved AS (INSERT INTO projection_checkpoints (name, position) VALUES ($1, $2) "
    "ON CONFLICT (name) DO UPDATE SET position = excluded.position RETURNING position) "
    "SELECT pg_notify($3::text, $1 || ':' || position) FROM saved"
)


def postgres_ddl(script: str) -> list[str]:
    """A projection's DDL (written for SQLite) as PostgreSQL statements."""
    return [_TYPE_WORDS.sub(lambda m: _TYPES[m.group(1)], s) for s in ddl_statements(script)]


class _ThreadTransaction:
    """A fold's view of an open transaction, called from a worker thread."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        anyio.from_thread.run(self._call, self._conn.execute, sql, *params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            anyio.from_thread.run(self._call, self._conn.executemany, sql, rows)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows = anyio.from_thread.run(self._call, self._conn.fetch, sql, *params)
        return [tuple(row) for row in rows]

    @staticmethod
    async def _call(method: Any, sql: str, *args: Any) -> Any:
        return await method(dollar_placeholders(sql), *args)


ThreadTransaction = _ThreadTransaction
"""A synchronous transaction over one connection, for SQL written for both backends."""


Held = list[tuple[str, str, Sequence[Any]]]
"""Writes a fold held back: ("execute" or "executemany", the statement, its arguments)."""

# The most events a page may hold to be folded on the event loop (a fold takes microseconds
# an event: a longer page would hold the loop up).
LOOP_FOLD_EVENTS = 64


class _ReadNeeded(BaseException):
    """A fold tried on the event loop asked to read (a BaseException, so that
    ``fold_or_raise`` lets it through instead of calling the page unfoldable)."""


class _HeldWrites:
    """A fold's transaction on the event loop: writes held, no read (``_ReadNeeded``)."""

    def __init__(self) -> None:
        self.held: Held = []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.held.append(("execute", sql, params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.held.append(("executemany", sql, rows))

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise _ReadNeeded


class _PageTransaction(_HeldWrites):
    """A fold's transaction in a worker thread: writes held back until it reads (or ends),
    so they still run in the fold's order on the page's connection, but a run of writes
    before a read costs one hop to the event loop instead of one each; what is held at the
    end is the runner's to run."""

    def __init__(self, conn: Any) -> None:
        super().__init__()
        self._conn = conn
        self.reads = 0

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.reads += 1
        held, self.held = self.held, []
        rows = anyio.from_thread.run(self._read_after, held, sql, params)
        return [tuple(row) for row in rows]

    async def _read_after(self, held: Held, sql: str, params: Sequence[Any]) -> Any:
        await _run_held(self._conn, held)
        return await self._conn.fetch(dollar_placeholders(sql), *params)


async def _run_held(conn: Any, held: Held) -> None:
    """Run held writes, in order, on ``conn``."""
    for kind, statement, args in held:
        if kind == "execute":
            await conn.execute(dollar_placeholders(statement), *args)
        else:
            await conn.executemany(dollar_placeholders(statement), args)


async def _write_folded(
    conn: Any, held: Held, projection: Projection, records: list[RecordedEvent]
) -> None:
    """The writes a fold of ``records`` held back: a failing one is the page's ``FoldError``
    too, as a failing read inside the fold already is."""
    try:
        await _run_held(conn, held)
    except Exception as exc:
        first = records[0]
        reason = f"{type(exc).__name__}: {exc}"
        raise FoldError(projection.name, first.position, first.tag, reason) from exc


class SealedLog(Protocol):
    """What a runner reads of the log: sealed pages, and a wait for the head to move on."""

    async def read_page(self, after: int, limit: int) -> list[RecordedEvent]:
        """Sealed events after ``after``, up to ``limit``: from memory where this process has
        them, and none beyond the head it knows of."""
        ...

    async def wait_for_head(self, position: int) -> None: ...


class PostgresProjections:
    """The projections of one store: their tables, runners, checkpoints and rebuilds."""

    def __init__(
        self,
        db: Database,
        log_reader: SealedLog,
        *,
        holder: str,
        lease_seconds: float,
        poll_interval: float,
        page_interval: float = 0.0,
    ) -> None:
        self._db = db
        self._log = log_reader
        self._holder = holder
        self._lease_seconds = lease_seconds
        self._poll_interval = poll_interval
        # Every page renews the lease, so a paced runner must not wait past a third of it.
        self._page_interval = min(page_interval, lease_seconds / 3)
        self._projections: dict[str, Projection] = {}
        self._known: dict[str, int] = {}
        self._stalls: dict[str, ProjectionStall] = {}
        self._changed = anyio.Event()
        # The highest position a caller waits for, by projection (asked here or in another
        # process); a paced runner is woken (``_wanted_more``) when it rises past its page.
        self._wanted: dict[str, int] = {}
        self._wanted_more = anyio.Event()
        # The projections whose runner is in this process, and the positions this process
        # asked the runners of the others for.
        self._here: set[str] = set()
        self._asked: dict[str, int] = {}
        # The projections whose last page read: their next goes straight to a worker thread.
        self._reading: set[str] = set()

    @property
    def names(self) -> list[str]:
        return list(self._projections)

    def projection(self, name: str) -> Projection:
        return self._projections[name]

    async def create_tables(self, statements: Sequence[str]) -> None:
        """Run DDL under the lock every creating process takes (``IF NOT EXISTS`` alone races
        in PostgreSQL's catalog)."""
        async with self._db.pool.acquire() as conn, conn.transaction():
            await conn.execute(_DDL_LOCK)
            for statement in statements:
                await conn.execute(dollar_placeholders(statement))

    async def create(self, projection: Projection) -> None:
        """Create the projection's tables if no process has yet (rebuilt if made from another
        schema)."""
        async with self._db.pool.acquire() as conn, conn.transaction():
            await conn.execute(_DDL_LOCK)
            await anyio.to_thread.run_sync(
                prepare_tables, _ThreadTransaction(conn), projection, postgres_ddl
            )
            await conn.execute(_STALLS_TABLE)
        self._projections[projection.name] = projection
        await self.read_stall(projection.name)

    def on_checkpoint(self, payload: str) -> None:
        """A runner (in any process) committed ``name:position``, or stalled at an event
        (``name!position!reason``), or got past its stall (``name!``); or a caller waits for
        ``name`` to fold ``position`` (``name?position``)."""
        if "?" in payload:
            name, _, position = payload.rpartition("?")
            self._want(name, int(position))
            return
        if "!" in payload:
            name, _, rest = payload.partition("!")
            position, _, reason = rest.partition("!")
            if position:
                self._stalls[name] = ProjectionStall(name, int(position), reason)
            else:
                self._stalls.pop(name, None)
        else:
            name, _, position = payload.rpartition(":")
            self._known[name] = max(self._known.get(name, 0), int(position))
        self._changed.set()
        self._changed = anyio.Event()

    async def read_stall(self, name: str) -> None:
        """What ``projection_stalls`` says of ``name`` (the poll behind the notifications)."""
        rows = await self._query(
            "SELECT position, reason FROM projection_stalls WHERE name = ?", (name,)
        )
        if rows:
            self._stalls[name] = ProjectionStall(name, int(rows[0][0]), str(rows[0][1]))
        else:
            self._stalls.pop(name, None)

    def known(self, name: str) -> int:
        """The checkpoint of ``name`` as this process last heard of it."""
        return self._known.get(name, 0)

    def stalls(self) -> list[ProjectionStall]:
        return [self._stalls[name] for name in self.names if name in self._stalls]

    async def checkpoint(self, name: str) -> int:
        rows = await self._query(
            "SELECT position FROM projection_checkpoints WHERE name = ?", (name,)
        )
        position = int(rows[0][0]) if rows else 0
        self._known[name] = max(self._known.get(name, 0), position)
        return position

    async def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows = await self._db.fetch(dollar_placeholders(sql), *params)
        return [tuple(row) for row in rows]

    async def wait_for(self, position: int) -> None:
        """Return once every projection has folded ``position``; raise at once if one has
        stalled before it."""
        for name in self.names:
            while self._known.get(name, 0) < position:
                await self._ask_for(name, position)
                stall = self._stalls.get(name)
                if stall is not None and position >= stall.position:
                    # The runner may have got past it, its notice still on the way: the
                    # table says for sure (one read, only while a stall is known).
                    await self.read_stall(name)
                    stall = self._stalls.get(name)
                    if stall is not None and position >= stall.position:
                        raise stall.error()
                changed = self._changed
                with anyio.move_on_after(self._poll_interval):
                    await changed.wait()
                if not changed.is_set():
                    await self.checkpoint(name)
                    await self.read_stall(name)

    async def _ask_for(self, name: str, position: int) -> None:
        """Have the runner of ``name`` fold ``position`` without pacing itself: here at
        once, in another process by a notice (once per position)."""
        self._want(name, position)
        if name not in self._here and self._asked.get(name, 0) < position:
            self._asked[name] = position
            channel = self._db.channel("checkpoints")
            await self._db.execute(
                "SELECT pg_notify($1::text, $2::text)", channel, f"{name}?{position}"
            )

    def _want(self, name: str, position: int) -> None:
        """A caller waits for ``name`` to fold ``position``: its runner, if pacing, goes on."""
        if self._wanted.get(name, 0) < position:
            self._wanted[name] = position
            self._wanted_more.set()
            self._wanted_more = anyio.Event()

    # --- the runner -------------------------------------------------------------------------

    async def run(self, name: str) -> None:
        """Keep projection ``name`` up to date whenever this process holds its lease."""
        lease = Lease(f"projection:{name}", self._holder, self._lease_seconds)
        while True:
            try:
                async with self._db.pool.acquire() as conn:
                    if await lease.acquire(conn):
                        log.info("running projection %s", name)
                        self._here.add(name)
                        try:
                            await self._follow(conn, lease, self._projections[name])
                        finally:
                            self._here.discard(name)
                            await _reset_idle_timeout(conn)
            except FoldError as exc:
                if not _transient(exc.__cause__):
                    await self._stall(lease, exc)
                elif not self._db.closed:
                    log.warning("projection %s stopped (%s); competing again", name, exc)
                lease.epoch = None
            except _RUNNER_ERRORS as exc:
                if self._db.closed:
                    return
                log.warning("projection %s stopped (%s); competing again", name, exc)
                lease.epoch = None
            await anyio.sleep(self._lease_seconds / 3)

    async def _stall(self, lease: Lease, exc: FoldError) -> None:
        """Record that the projection cannot fold the event ``exc`` names (if still ours)."""
        reason = f"{exc.tag!r}: {exc.reason}"
        known = self._stalls.get(exc.projection)
        if known is None or known.position != exc.position:
            log.error("%s; it is stalled until eventsvc is fixed", exc)
        channel = self._db.channel("checkpoints")
        try:
            async with self._db.pool.acquire() as conn, conn.transaction():
                if await lease.renew(conn):
                    await conn.execute(
                        _STALL, exc.projection, exc.position, reason, channel, reason[:2000]
                    )
        except DRIVER_ERRORS as error:
            log.warning("recording the stall of projection %s failed: %s", exc.projection, error)

    async def _follow(self, conn: Any, lease: Lease, projection: Projection) -> None:
        """Fold pages while the lease holds; return when it is lost."""
        channel = self._db.channel("checkpoints")
        # A runner stalled inside its page (idle in its transaction past the lease) is cut off
        # by the server: its page rolls back, the lease row's lock goes, and another process
        # takes over. Set once for the connection, and reset before it goes back to the pool
        # (which keeps session state, see common._session_kept).
        await conn.execute(
            "SELECT set_config('idle_in_transaction_session_timeout', $1, false)",
            f"{max(1, round(self._lease_seconds * 1000))}ms",
        )
        checkpoint = await self.checkpoint(projection.name)
        renewed = anyio.current_time()
        while True:
            page = await self._log.read_page(checkpoint, PAGE)
            if not page:
                # Every page renews the lease: an idle runner renews it every third of it.
                if anyio.current_time() - renewed >= self._lease_seconds / 3:
                    renewed = anyio.current_time()
                    if not await lease.renew(conn):
                        return
                with anyio.move_on_after(self._lease_seconds / 3):
                    await self._log.wait_for_head(checkpoint + 1)
                continue
            renewed = anyio.current_time()
            folded = await self._fold_page(conn, lease, projection, page, checkpoint)
            if folded is None:
                return
            checkpoint = folded
            stall = self._stalls.get(projection.name)
            if stall is not None and checkpoint >= stall.position:
                await conn.execute(_UNSTALL, projection.name, channel)
                log.warning("projection %s got past its stall at %d", stall.name, stall.position)
            if len(page) < PAGE:  # caught up with the head: let the next page gather events
                await self._pace(projection.name, checkpoint, renewed + self._page_interval)

    async def _pace(self, name: str, checkpoint: int, deadline: float) -> None:
        """Wait until ``deadline``, or until a caller (here, or in another process by its
        notice) waits for a position past ``checkpoint``."""
        with anyio.CancelScope(deadline=deadline):
            while self._wanted.get(name, 0) <= checkpoint:
                await self._wanted_more.wait()

    async def _fold_page(
        self,
        conn: Any,
        lease: Lease,
        projection: Projection,
        page: list[RecordedEvent],
        checkpoint: int,
    ) -> int | None:
        """Fold a page and its checkpoint in one transaction that holds the lease; the new
        checkpoint, or None once the lease is lost. A page that cannot be folded is folded
        event by event, so the ``FoldError`` names the very event."""
        channel = self._db.channel("checkpoints")
        folded_to = checkpoint

        async def fold(records: list[RecordedEvent]) -> int | None:
            nonlocal folded_to
            try:
                await conn.execute(_begin_page(lease, projection.name, folded_to))
            except asyncpg.InvalidTextRepresentationError as exc:
                await _rollback(conn)
                moved = _refusal(exc)
                if moved is None:
                    lease.epoch = None
                return moved
            try:
                held = await self._fold(conn, projection, records)
                await _write_folded(conn, held, projection, records)
                await conn.execute(_end_page(projection.name, records[-1].position, channel))
            except BaseException:
                await _rollback(conn)
                raise
            folded_to = records[-1].position
            return folded_to

        return await fold_exactly(fold, page, lambda exc: _transient(exc.__cause__))

    async def _fold(self, conn: Any, projection: Projection, records: list[RecordedEvent]) -> Held:
        """Fold ``records`` (on the event loop if the page is small and needs no read, else in
        a worker thread, see the module's docstring); the writes it held back."""
        if (
            len(records) <= LOOP_FOLD_EVENTS
            and nonblocking(projection)
            and projection.name not in self._reading
        ):
            on_loop = _HeldWrites()
            try:
                fold_or_raise(projection, on_loop, records)
                return on_loop.held
            except _ReadNeeded:
                pass
        tx = _PageTransaction(conn)
        await anyio.to_thread.run_sync(fold_or_raise, projection, tx, records)
        if tx.reads:
            self._reading.add(projection.name)
        else:
            self._reading.discard(projection.name)
        return tx.held

    async def write(self, work: Callable[[Transaction], _T]) -> _T:
        """Run a synchronous ``work`` in one transaction of a pooled connection."""
        async with self._db.pool.acquire() as conn, conn.transaction():
            return await anyio.to_thread.run_sync(work, _ThreadTransaction(conn))

    # --- rebuilds ---------------------------------------------------------------------------

    async def rebuild(self, names: Sequence[str]) -> int:
        """Drop the named projections' tables and fold the whole sealed log into them again,
        in one transaction; their runners wait on the lease rows meanwhile."""
        chosen = choose(self._projections, names)
        channel = self._db.channel("checkpoints")

        def save(tx: Transaction, name: str, position: int) -> None:
            tx.execute(_CHECKPOINT, (name, position, channel))  # and tell every process

        with self._db.translated("rebuilding projections"):
            async with self._db.pool.acquire() as conn, conn.transaction():
                for projection in chosen:
                    await conn.execute(
                        "SELECT 1 FROM leases WHERE name = $1 FOR UPDATE",
                        f"projection:{projection.name}",
                    )
                return await anyio.to_thread.run_sync(
                    rebuild_in, _ThreadTransaction(conn), chosen, postgres_ddl, save
                )


def _transient(error: BaseException | None) -> bool:
    """Whether ``error`` says the connection or the server failed, not the events."""
    if isinstance(error, asyncpg.PostgresError):
        return str(getattr(error, "sqlstate", "") or "")[:2] in _TRANSIENT_SQLSTATE
    return isinstance(error, DRIVER_ERRORS)


async def _reset_idle_timeout(conn: Any) -> None:
    """Give the connection back to the pool as the pool gave it: a connection that failed is
    closed by the pool instead, so a failure here changes nothing."""
    with anyio.CancelScope(shield=True), anyio.move_on_after(1), suppress(*DRIVER_ERRORS):
        await conn.execute("RESET idle_in_transaction_session_timeout")


# A page's transaction opens and ends in one round trip each (simple queries, so values are
# literals): BEGIN, the renewal of the lease (which locks its row until the commit, so a
# rebuild never interleaves) and, in a statement of its own that sees a rebuild that held the
# row, a check that the lease is still ours and the checkpoint the one the page continues;
# then the checkpoint, its NOTIFY and COMMIT. The check refuses by failing a cast to bigint of
# a text naming why (SQL has no RAISE), so the transaction is rolled back.
_LOST, _MOVED = "eventsvc: projection lease lost", "eventsvc: projection checkpoint at"


def _begin_page(lease: Lease, name: str, checkpoint: int) -> str:
    holder, epoch = _literal(lease.name), int(lease.epoch or 0)
    return (
        "BEGIN; UPDATE leases SET expires_at = clock_timestamp() + make_interval(secs => "
        f"{float(lease.seconds)!r}), holder_pid = pg_backend_pid() "
        f"WHERE name = {holder} AND epoch = {epoch}; "
        f"SELECT CASE WHEN l.epoch IS DISTINCT FROM {epoch} "
        f"THEN ('{_LOST} ' || coalesce(l.epoch::text, 'none'))::bigint "
        f"WHEN coalesce(c.position, 0) <> {int(checkpoint)} "
        f"THEN ('{_MOVED} ' || coalesce(c.position, 0))::bigint END "
        f"FROM (SELECT 1) q LEFT JOIN leases l ON l.name = {holder} "
        f"LEFT JOIN projection_checkpoints c ON c.name = {_literal(name)}"
    )


def _end_page(name: str, position: int, channel: str) -> str:
    return (
        "INSERT INTO projection_checkpoints (name, position) "
        f"VALUES ({_literal(name)}, {int(position)}) "
        "ON CONFLICT (name) DO UPDATE SET position = excluded.position; "
        f"SELECT pg_notify({_literal(channel)}, {_literal(f'{name}:{int(position)}')}); COMMIT"
    )


def _refusal(exc: BaseException) -> int | None:
    """What ``_begin_page``'s check said: the checkpoint a rebuild moved to, or None when the
    lease is lost. Any other failed cast is not the check's, and is raised."""
    message = str(exc)
    if _MOVED in message:
        return int(message.partition(_MOVED)[2].strip(' "'))
    if _LOST in message:
        return None
    raise exc


def _literal(text: str) -> str:
    """``text`` as an SQL string literal, whatever ``standard_conforming_strings`` says."""
    return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


async def _rollback(conn: Any) -> None:
    """End a page's transaction that failed; a connection that failed too is closed by the
    pool instead (which rolls back whatever is open), so a failure here changes nothing."""
    with anyio.CancelScope(shield=True), suppress(*DRIVER_ERRORS):
        await conn.execute("ROLLBACK")
