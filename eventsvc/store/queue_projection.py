"""The queue projection: batches, their virtual sessions, and the queue's state.

Sessions are virtual until they start (DESIGN section 2): a batch is one row with counters per
state and a cursor, the lowest index never materialized. A session gets a row only when it is
started, canceled or retried on its own; a session without a row is ``uninitialized``, or
``canceled`` once its batch is. Every query answers as if all sessions existed, at a cost that
does not grow with the batch: the next sessions are the free indexes from the cursors of the
runnable batches, walked in order, and the best retried rows; a page of a listing walks indexes
from its cursor and fetches only the rows in its window. A query's statements may each see a
later commit of the fold (PostgreSQL's runner commits on its own connection), so no answer
relies on two of them agreeing: a batch found claimed to its end gives way to the next one.

Times come only from events' ``recorded_at``, so a rebuild from position 0 equals the live
tables.

Design note: DESIGN section 3 puts projections' folding logic in ``projections/`` (L2) and
only their persistence in L1. Here the fold *is* a handful of SQL statements run inside the
store's own transaction, so it lives in L1 beside its tables. The SQL is written once for
both backends (``?`` placeholders, ``ON CONFLICT`` upserts with qualified columns, no
SQLite-only functions; the database clock comes from the store): SQLite applies it inside
each append's transaction, and PostgreSQL's runner (``postgres_projections``) applies it page
by page with wider column types. What does not depend on SQL (the session state machine,
session values, the read models) is in the domain: ``sessions``, ``batches``, ``views``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from eventsvc.batches import BatchDatum, data_of, session_values
from eventsvc.bounds import MAX_SAFE_INT
from eventsvc.errors import NotFoundError
from eventsvc.events import (
    BatchCanceled,
    BatchEnqueued,
    BatchReprioritized,
    QueuePaused,
    QueuePruned,
    QueueResumed,
    RecordedEvent,
    SessionEvent,
    SessionFailed,
)
from eventsvc.ids import batch_stream, parse_session_id, session_id
from eventsvc.store.projection import ProjectionTransaction
from eventsvc.views import BatchStatus, QueueStatus, SessionPage, SessionView, counts_from

if TYPE_CHECKING:
    from eventsvc.store.projection import ProjectedStore

log = logging.getLogger("eventsvc.projections")

STATES = ("uninitialized", "in_progress", "completed", "failed", "canceled")
NEW_STATUS = {
    "session.started": "in_progress",
    "session.resumed": "in_progress",
    "session.completed": "completed",
    "session.failed": "failed",
    "session.canceled": "canceled",
    "session.retried": "uninitialized",
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_state (
    queue_id TEXT PRIMARY KEY,
    paused INTEGER NOT NULL DEFAULT 0,
    pruned_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS queue_batches (
    batch_id TEXT PRIMARY KEY,
    queue_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    session_count INTEGER NOT NULL,
    cursor INTEGER NOT NULL DEFAULT 0,
    canceled_at INTEGER,
    origin TEXT,
    destination TEXT,
    enqueued_at INTEGER NOT NULL,
    pruned INTEGER NOT NULL DEFAULT 0,
    n_uninitialized INTEGER NOT NULL,
    n_in_progress INTEGER NOT NULL DEFAULT 0,
    n_completed INTEGER NOT NULL DEFAULT 0,
    n_failed INTEGER NOT NULL DEFAULT 0,
    n_canceled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS queue_batches_order ON queue_batches (queue_id, position);
CREATE INDEX IF NOT EXISTS queue_batches_runnable
    ON queue_batches (queue_id, priority DESC, position)
    WHERE canceled_at IS NULL AND cursor < session_count;
CREATE TABLE IF NOT EXISTS queue_sessions (
    session_id TEXT PRIMARY KEY,
    batch_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    queue_id TEXT NOT NULL,
    priority INTEGER NOT NULL,
    batch_position INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    worker_id TEXT,
    updated_position INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    error_type TEXT,
    error_message TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS queue_sessions_index ON queue_sessions (batch_id, idx);
CREATE INDEX IF NOT EXISTS queue_sessions_runnable
    ON queue_sessions (queue_id, priority DESC, batch_position, idx)
    WHERE status = 'uninitialized'
"""

_UPSERT_SESSION = """
INSERT INTO queue_sessions (session_id, batch_id, idx, queue_id, priority, batch_position, status,
    attempt, worker_id, updated_position, started_at, finished_at, error_type, error_message)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (session_id) DO UPDATE SET
    status = excluded.status, attempt = excluded.attempt,
    worker_id = coalesce(excluded.worker_id, queue_sessions.worker_id),
    updated_position = excluded.updated_position,
    started_at = coalesce(excluded.started_at, queue_sessions.started_at),
    finished_at = excluded.finished_at,
    error_type = excluded.error_type, error_message = excluded.error_message
"""


class QueueProjection:
    """Folds batch, session and queue events into the queue tables."""

    name = "queue"
    schema = SCHEMA
    tables = ("queue_state", "queue_batches", "queue_sessions")
    reads_own_tables = True

    def __init__(self) -> None:
        self._handlers: dict[str, Callable[[ProjectionTransaction, Any, RecordedEvent], None]] = {
            "batch.enqueued": self._batch_enqueued,
            "batch.canceled": self._batch_canceled,
            "batch.reprioritized": self._batch_reprioritized,
            "queue.paused": self._queue_paused,
            "queue.resumed": self._queue_paused,
            "queue.pruned": self._queue_pruned,
        }
        self.tags = frozenset(self._handlers) | frozenset(NEW_STATUS)

    def apply(self, tx: ProjectionTransaction, events: Sequence[RecordedEvent]) -> None:
        # Consecutive session events fold together (one read and one write per session and
        # batch); any other event first flushes them, so every event sees what came before.
        sessions: list[RecordedEvent] = []
        for record in events:
            if record.tag in NEW_STATUS:
                sessions.append(record)
                continue
            handler = self._handlers.get(record.tag)
            if handler is not None:
                if sessions:
                    _fold_sessions(tx, sessions)
                    sessions = []
                handler(tx, record.data, record)
        if sessions:
            _fold_sessions(tx, sessions)

    def _batch_enqueued(
        self, tx: ProjectionTransaction, event: BatchEnqueued, record: RecordedEvent
    ) -> None:
        tx.execute(
            "INSERT INTO queue_batches (batch_id, queue_id, position, priority, session_count, "
            "origin, destination, enqueued_at, n_uninitialized) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            # A batch enqueued twice (only a direct append can do it) keeps its first enqueue,
            # on both backends; audit names the second.
            "ON CONFLICT (batch_id) DO NOTHING",
            (
                event.batch_id,
                event.queue_id,
                record.position,
                event.priority,
                event.session_count,
                event.origin,
                event.destination,
                record.recorded_at,
                event.session_count,
            ),
        )
        tx.execute(
            "INSERT INTO queue_state (queue_id) VALUES (?) ON CONFLICT DO NOTHING",
            (event.queue_id,),
        )

    def _batch_canceled(
        self, tx: ProjectionTransaction, event: BatchCanceled, record: RecordedEvent
    ) -> None:
        # Every session not started yet, virtual or retried, is canceled; running ones stop
        # when their worker sees the cancel and appends session.canceled.
        tx.execute(
            "UPDATE queue_batches SET canceled_at = ?, n_canceled = n_canceled + n_uninitialized, "
            "n_uninitialized = 0 WHERE batch_id = ?",
            (record.position, event.batch_id),
        )
        tx.execute(
            "UPDATE queue_sessions SET status = 'canceled', updated_position = ?, "
            "finished_at = ? WHERE batch_id = ? AND status = 'uninitialized'",
            (record.position, record.recorded_at, event.batch_id),
        )

    def _batch_reprioritized(
        self, tx: ProjectionTransaction, event: BatchReprioritized, record: RecordedEvent
    ) -> None:
        for table in ("queue_batches", "queue_sessions"):
            tx.execute(
                f"UPDATE {table} SET priority = ? WHERE batch_id = ?",
                (event.priority, event.batch_id),
            )

    def _queue_paused(
        self, tx: ProjectionTransaction, event: QueuePaused | QueueResumed, record: RecordedEvent
    ) -> None:
        tx.execute(
            "INSERT INTO queue_state (queue_id, paused) VALUES (?, ?) "
            "ON CONFLICT (queue_id) DO UPDATE SET paused = excluded.paused",
            (event.queue_id, int(isinstance(event, QueuePaused))),
        )

    def _queue_pruned(
        self, tx: ProjectionTransaction, event: QueuePruned, record: RecordedEvent
    ) -> None:
        tx.execute(
            "UPDATE queue_batches SET pruned = 1 WHERE queue_id = ? AND pruned = 0 "
            "AND n_uninitialized = 0 AND n_in_progress = 0",
            (event.queue_id,),
        )
        tx.execute(
            "INSERT INTO queue_state (queue_id, pruned_at) VALUES (?, ?) "
            "ON CONFLICT (queue_id) DO UPDATE SET pruned_at = excluded.pruned_at",
            (event.queue_id, record.position),
        )


# SQLite's default limit on the parameters of one statement is 999 (before 3.32).
_CHUNK = 500


def _fold_sessions(tx: ProjectionTransaction, records: list[RecordedEvent]) -> None:
    """Fold consecutive session events: each session's row and each batch's counters are
    read once and written once, with what the events in order would have left."""
    by_session: dict[str, list[RecordedEvent]] = {}
    batch_of: dict[str, str] = {}
    for record in records:
        event = cast(SessionEvent, record.data)
        by_session.setdefault(event.session_id, []).append(record)
        batch_of[event.session_id] = event.batch_id
    batches = _select_in(
        tx,
        "SELECT batch_id, canceled_at, cursor, priority, position FROM queue_batches "
        "WHERE batch_id IN ({})",
        list(set(batch_of.values())),
    )
    stored = _select_in(
        tx,
        "SELECT session_id, status FROM queue_sessions WHERE session_id IN ({})",
        list(by_session),
    )
    upserts = []
    deltas: dict[str, dict[str, int]] = {}
    # Batches whose cursor's session got its first row here: the cursor moves past it.
    at_cursor: set[str] = set()
    for sid, events in by_session.items():
        batch_id = batch_of[sid]
        if batch_id not in batches:
            first = events[0]
            log.warning("%s at position %d: no batch %r", first.tag, first.position, batch_id)
            continue
        canceled_at, cursor, priority, batch_position = batches[batch_id]
        _, index = parse_session_id(sid)
        previous: str = stored.get(sid) or (
            "canceled" if canceled_at is not None else "uninitialized"
        )
        row = _session_row(events, index, priority, batch_position)
        upserts.append(row)
        status: str = row[6]
        if previous != status:
            counts = deltas.setdefault(batch_id, dict.fromkeys(STATES, 0))
            counts[previous] -= 1
            counts[status] += 1
        if sid not in stored and index == cursor:
            at_cursor.add(batch_id)
    tx.executemany(_UPSERT_SESSION, upserts)
    if deltas:
        tx.executemany(
            "UPDATE queue_batches SET "
            + ", ".join(f"n_{state} = n_{state} + ?" for state in STATES)
            + " WHERE batch_id = ?",
            [(*counts.values(), batch_id) for batch_id, counts in deltas.items()],
        )
    for batch_id in at_cursor:
        _advance_cursor(tx, batch_id, batches[batch_id][1])


def _session_row(
    events: list[RecordedEvent], index: int, priority: int, batch_position: int
) -> tuple[Any, ...]:
    """The upsert that leaves a session's row as its events, applied one by one, would."""
    last = events[-1]
    event = cast(SessionEvent, last.data)
    worker = started = None
    for record in events:
        worker = getattr(record.data, "worker_id", None) or worker
        if record.tag == "session.started":
            started = record.recorded_at
    status = NEW_STATUS[last.tag]
    terminal = status in ("completed", "failed", "canceled")
    error = (event.error_type, event.error_message) if isinstance(event, SessionFailed) else None
    return (
        event.session_id,
        event.batch_id,
        index,
        event.queue_id,
        priority,
        batch_position,
        status,
        event.attempt,
        worker,
        last.position,
        started,
        last.recorded_at if terminal else None,
        *(error or (None, None)),
    )


def _select_in(tx: ProjectionTransaction, sql: str, keys: list[str]) -> dict[str, Any]:
    """Rows keyed by their first column (the rest as a tuple, or the one value), fetched for
    ``keys`` a chunk at a time."""
    found: dict[str, Any] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        for key, *rest in tx.fetchall(sql.format(", ".join("?" * len(chunk))), chunk):
            found[key] = tuple(rest) if len(rest) > 1 else rest[0]
    return found


def _advance_cursor(tx: ProjectionTransaction, batch_id: str, cursor: int) -> None:
    """Move the cursor past every materialized index from it on, a chunk at a time."""
    while True:
        indexes = tx.fetchall(
            "SELECT idx FROM queue_sessions WHERE batch_id = ? AND idx >= ? ORDER BY idx LIMIT ?",
            (batch_id, cursor, _CHUNK),
        )
        start = cursor
        for (index,) in indexes:
            if index != cursor:
                break
            cursor += 1
        if cursor - start < _CHUNK:
            break
    tx.execute("UPDATE queue_batches SET cursor = ? WHERE batch_id = ?", (cursor, batch_id))


# --- queries ------------------------------------------------------------------------------

_BATCH_COLUMNS = (
    "batch_id, queue_id, position, priority, session_count, cursor, canceled_at, origin, "
    "destination, n_uninitialized, n_in_progress, n_completed, n_failed, n_canceled"
)
_SESSION_COLUMNS = (
    "session_id, batch_id, idx, queue_id, priority, status, attempt, worker_id, error_type, "
    "error_message, started_at, finished_at"
)

# Batches with sessions to start, best first; _AFTER continues past a (priority, position).
_RUNNABLE_WHERE = (
    f"SELECT {_BATCH_COLUMNS} FROM queue_batches WHERE queue_id = ? "
    "AND canceled_at IS NULL AND cursor < session_count "
)
_RUNNABLE_ORDER = "ORDER BY priority DESC, position LIMIT ?"
_RUNNABLE = _RUNNABLE_WHERE + _RUNNABLE_ORDER
_RUNNABLE_AFTER = (
    _RUNNABLE_WHERE + "AND (priority < ? OR (priority = ? AND position > ?)) " + _RUNNABLE_ORDER
)

_QUEUE_STATUS = (
    "SELECT (SELECT paused FROM queue_state WHERE queue_id = ?), count(*), "
    + ", ".join(f"coalesce(sum(n_{state}), 0)" for state in STATES)
    + " FROM queue_batches WHERE queue_id = ? AND pruned = 0"
)


def _batch_status(row: Sequence[Any]) -> BatchStatus:
    """A ``queue_batches`` row (``_BATCH_COLUMNS``) as the batch's status."""
    return BatchStatus(
        queue_id=row[1],
        batch_id=row[0],
        enqueued_position=row[2],
        priority=row[3],
        session_count=row[4],
        canceled=row[6] is not None,
        origin=row[7],
        destination=row[8],
        counts=counts_from(row[9:14]),
    )


class QueueView:
    """Answers queue queries from the projection's tables, as if every session existed."""

    def __init__(self, store: ProjectedStore, cached_batches: int = 64) -> None:
        self._store = store
        self._data: dict[str, list[list[BatchDatum]]] = {}
        self._cached_batches = cached_batches

    async def queue_status(self, queue_id: str) -> QueueStatus:
        rows = await self._store.query(_QUEUE_STATUS, (queue_id, queue_id))
        paused, batches, *counts = rows[0]
        return QueueStatus(
            queue_id=queue_id,
            paused=bool(paused),
            batches=batches,
            counts=counts_from([int(c) for c in counts]),
        )

    async def batch_status(self, batch_id: str) -> BatchStatus:
        return _batch_status(await self._batch(batch_id))

    async def queue_ids(self) -> list[str]:
        """Every queue the projection knows: paused or resumed, or holding batches."""
        rows = await self._store.query(
            "SELECT queue_id FROM queue_state UNION SELECT queue_id FROM queue_batches ORDER BY 1"
        )
        return [queue_id for (queue_id,) in rows]

    async def batch_statuses(self) -> list[BatchStatus]:
        """Every batch, in the order they were enqueued."""
        rows = await self._store.query(
            f"SELECT {_BATCH_COLUMNS} FROM queue_batches ORDER BY position"
        )
        return [_batch_status(row) for row in rows]

    async def get_session(self, session_id: str) -> SessionView:
        try:
            batch_id, index = parse_session_id(session_id)
        except ValueError as exc:
            raise NotFoundError(str(exc)) from None
        batch = await self._batch(batch_id)
        if index >= batch[4]:
            raise NotFoundError(f"no session {session_id!r}: batch {batch_id!r} has {batch[4]}")
        rows = await self._store.query(
            f"SELECT {_SESSION_COLUMNS} FROM queue_sessions WHERE session_id = ?", (session_id,)
        )
        return await self._view(batch, index, rows[0] if rows else None)

    async def next_session(self, queue_id: str) -> SessionView | None:
        """The session a worker should start next, or None (nothing pending, or paused)."""
        best = await self.next_sessions(queue_id, 1)
        return best[0] if best else None

    async def next_sessions(self, queue_id: str, limit: int) -> list[SessionView]:
        """The first ``limit`` sessions to start, best first: priority, batch, then index."""
        paused = await self._store.query(
            "SELECT paused FROM queue_state WHERE queue_id = ?", (queue_id,)
        )
        if paused and paused[0][0]:
            return []
        retried = await self._store.query(
            f"SELECT {_SESSION_COLUMNS}, batch_position FROM queue_sessions WHERE queue_id = ? "
            "AND status = 'uninitialized' ORDER BY priority DESC, batch_position, idx LIMIT ?",
            (queue_id, limit),
        )
        candidates: list[tuple[tuple[int, int, int], tuple[Any, ...] | None, int, Any]] = []
        for batch, index in await self._next_virtual(queue_id, limit):
            candidates.append(((-batch[3], batch[2], index), batch, index, None))
        for found in retried:
            candidates.append(((-found[4], found[12], found[2]), None, found[2], found[:12]))
        candidates.sort(key=lambda c: c[0])
        views = []
        for _, owner, index, row in candidates[:limit]:
            views.append(await self._view(owner or await self._batch(row[1]), index, row))
        return views

    async def _next_virtual(self, queue_id: str, limit: int) -> list[tuple[tuple[Any, ...], int]]:
        """The first ``limit`` virtual sessions to start, as (batch row, index): the runnable
        batches are walked in order until they give that many.

        Each statement sees the tables as they are when it runs, and a fold may commit between
        two of them (on PostgreSQL the runner commits on its own connection at any time). A
        batch read with its cursor just before a fold moved it may then have no index left
        without a row: its sessions have all been claimed (rows are only ever added), so the
        walk goes on to the next batch. Stopping there would answer "nothing to start" while
        later batches wait, and a worker told so sleeps until the next enqueue.
        """
        found: list[tuple[tuple[Any, ...], int]] = []
        after: tuple[Any, ...] = ()  # (priority, priority, position) of the last batch walked
        while len(found) < limit:
            # Every runnable batch has at least its cursor to give: ask for as many as needed.
            want = limit - len(found)
            sql = _RUNNABLE_AFTER if after else _RUNNABLE
            batches = await self._store.query(sql, (queue_id, *after, want))
            for batch in batches:
                indexes = await self._virtual(batch[0], batch[5], batch[4], limit - len(found))
                found += [(batch, index) for index in indexes]
                if len(found) >= limit:
                    break
            if len(batches) < want:
                break  # no runnable batch left
            after = (batches[-1][3], batches[-1][3], batches[-1][2])
        return found

    async def prepend_priority(self, queue_id: str) -> int:
        """One above the highest priority among batches with sessions still to start (the
        highest priority there is, if that one is taken already)."""
        rows = await self._store.query(
            "SELECT max(priority) FROM queue_batches WHERE queue_id = ? "
            "AND canceled_at IS NULL AND cursor < session_count",
            (queue_id,),
        )
        highest = rows[0][0]
        return 0 if highest is None else min(int(highest) + 1, MAX_SAFE_INT)

    async def live_workers(self, lease_seconds: float) -> int:
        """Workers whose lease is current (by the database's clock), in any process."""
        rows = await self._store.query(
            f"SELECT count(*) FROM worker_leases WHERE heartbeat_at >= {self._store.db_now} - ?",
            (lease_seconds,),
        )
        return int(rows[0][0])

    async def expired_sessions(self, queue_id: str, lease_seconds: float) -> list[str]:
        """Sessions in progress whose worker's lease ran out (by the database's clock)."""
        rows = await self._store.query(
            "SELECT s.session_id FROM queue_sessions s "
            "LEFT JOIN worker_leases w ON w.worker_id = s.worker_id "
            "WHERE s.queue_id = ? AND s.status = 'in_progress' "
            f"AND (w.heartbeat_at IS NULL OR w.heartbeat_at < {self._store.db_now} - ?) "
            "ORDER BY s.batch_position, s.idx",
            (queue_id, lease_seconds),
        )
        return [row[0] for row in rows]

    async def sessions_of(self, queue_id: str, worker_ids: Sequence[str]) -> list[str]:
        """Sessions in progress claimed by one of ``worker_ids``."""
        if not worker_ids:
            return []
        marks = ", ".join("?" * len(worker_ids))
        rows = await self._store.query(
            "SELECT session_id FROM queue_sessions WHERE queue_id = ? "
            f"AND status = 'in_progress' AND worker_id IN ({marks}) ORDER BY batch_position, idx",
            (queue_id, *worker_ids),
        )
        return [row[0] for row in rows]

    async def list_sessions(
        self,
        queue_id: str,
        *,
        batch_id: str | None = None,
        state: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> SessionPage:
        """Sessions in batch order, then index order; ``after`` is the last id of a page."""
        if state is not None and state not in STATES:
            raise ValueError(f"unknown session state {state!r}; expected one of {STATES}")
        position, start, after_batch = 0, 0, None
        if after is not None:
            try:
                after_batch, after_index = parse_session_id(after)
            except ValueError:
                raise NotFoundError(f"cursor {after!r} names no session") from None
            start = after_index + 1
        items: list[SessionView] = []
        while len(items) < limit:
            batches = await self._store.query(
                f"SELECT {_BATCH_COLUMNS} FROM queue_batches WHERE queue_id = ? AND pruned = 0 "
                "AND position >= coalesce("
                "(SELECT position FROM queue_batches WHERE batch_id = ?), ?) "
                "AND (CAST(? AS TEXT) IS NULL OR batch_id = ?) ORDER BY position LIMIT 20",
                (queue_id, after_batch, position, batch_id, batch_id),
            )
            if after_batch is not None and (not batches or batches[0][0] != after_batch):
                raise NotFoundError(f"cursor {after!r} names no listed session of {queue_id!r}")
            if not batches:
                break
            for batch in batches:
                first = start if batch[0] == after_batch else 0
                items += await self._batch_page(batch, first, state, limit - len(items))
                if len(items) >= limit:
                    break
            position, after_batch = batches[-1][2] + 1, None
        full = len(items) >= limit
        return SessionPage(items=items, next_cursor=items[-1].session_id if full else None)

    async def _batch_page(
        self, batch: tuple[Any, ...], start: int, state: str | None, need: int
    ) -> list[SessionView]:
        batch_id, count, cursor, canceled_at = batch[0], batch[4], batch[5], batch[6]
        if state is None:
            # Every index below the count is a session: the page is the next ``need`` of them.
            end = min(count, start + need)
            rows = await self._store.query(
                f"SELECT {_SESSION_COLUMNS} FROM queue_sessions WHERE batch_id = ? "
                "AND idx >= ? AND idx < ?",
                (batch_id, start, end),
            )
            found: dict[int, tuple[Any, ...] | None] = dict.fromkeys(range(start, end))
            found.update((row[2], row) for row in rows)
            return [await self._view(batch, index, found[index]) for index in found]
        rows = await self._store.query(
            f"SELECT {_SESSION_COLUMNS} FROM queue_sessions WHERE batch_id = ? AND idx >= ? "
            "AND status = ? ORDER BY idx LIMIT ?",
            (batch_id, start, state, need),
        )
        found = {row[2]: row for row in rows}
        virtual_state = "canceled" if canceled_at is not None else "uninitialized"
        if state == virtual_state:
            found.update(
                dict.fromkeys(await self._virtual(batch_id, max(start, cursor), count, need))
            )
        chosen = sorted(found)[:need]
        return [await self._view(batch, index, found[index]) for index in chosen]

    async def _virtual(self, batch_id: str, start: int, count: int, need: int) -> list[int]:
        """The first ``need`` indexes from ``start`` that have no row."""
        indexes: list[int] = []
        while len(indexes) < need and start < count:
            end = min(count, start + 2 * need)
            taken = {
                row[0]
                for row in await self._store.query(
                    "SELECT idx FROM queue_sessions WHERE batch_id = ? AND idx >= ? AND idx < ?",
                    (batch_id, start, end),
                )
            }
            indexes += [i for i in range(start, end) if i not in taken][: need - len(indexes)]
            start = end
        return indexes

    async def _view(
        self, batch: tuple[Any, ...], index: int, row: tuple[Any, ...] | None
    ) -> SessionView:
        batch_id, queue_id, count = batch[0], batch[1], batch[4]
        values = session_values(await self._batch_data(batch_id), count, index)
        if row is None:
            state = "canceled" if batch[6] is not None else "uninitialized"
            return SessionView(
                queue_id=queue_id,
                batch_id=batch_id,
                session_id=session_id(batch_id, index),
                index=index,
                state=state,
                attempt=1,
                worker_id=None,
                priority=batch[3],
                field_values=values,
                error_type=None,
                error_message=None,
                started_at=None,
                finished_at=None,
            )
        return SessionView(
            session_id=row[0],
            batch_id=batch_id,
            index=index,
            queue_id=queue_id,
            priority=row[4],
            state=row[5],
            attempt=row[6],
            worker_id=row[7],
            error_type=row[8],
            error_message=row[9],
            started_at=row[10],
            finished_at=row[11],
            field_values=values,
        )

    async def _batch(self, batch_id: str) -> tuple[Any, ...]:
        rows = await self._store.query(
            f"SELECT {_BATCH_COLUMNS} FROM queue_batches WHERE batch_id = ?", (batch_id,)
        )
        if not rows:
            raise NotFoundError(f"no batch {batch_id!r}")
        return rows[0]

    async def _batch_data(self, batch_id: str) -> list[list[BatchDatum]]:
        """The batch's data, from its batch.enqueued event (a few batches kept decoded)."""
        data = self._data.get(batch_id)
        if data is None:
            [record] = await self._store.read_stream(batch_stream(batch_id), 0, 1)
            assert isinstance(record.data, BatchEnqueued)
            data = data_of(record.data)
            if len(self._data) >= self._cached_batches:
                del self._data[next(iter(self._data))]
            self._data[batch_id] = data
        return data
