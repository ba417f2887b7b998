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

Archives (``eventsvc.archive``): a batch's row keeps the position of its first event
(``position``) and of its latest (``last_position``), so an archive finds the horizon no
batch straddles from these rows alone. Archived batches and their sessions are forgotten; the
queue-level state (paused, pruned) survives in the snapshot, as the live tables hold it: every
fold of ``queue_state`` sets a value, so folding the live log again over it changes nothing.

The SQL is written once for both backends (``?`` placeholders, ``ON CONFLICT`` upserts with
qualified columns, no SQLite-only functions): SQLite applies it inside each append's
transaction, and PostgreSQL's runner (``store.postgres.runner``) applies it page by page with
wider column types. ``queue_view`` answers the queries. What does not depend on SQL (the
session state machine, session values, the read models) is in the domain: ``sessions``,
``batches``, ``views``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, cast

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
from eventsvc.ids import parse_session_id
from eventsvc.projections import ProjectionTransaction

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
    last_position INTEGER NOT NULL,
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
    nonblocking = True  # its fold only computes and writes (``projections.nonblocking``)

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
            "origin, destination, enqueued_at, last_position, n_uninitialized) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
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
                record.position,
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
            "n_uninitialized = 0, last_position = ? WHERE batch_id = ?",
            (record.position, record.position, event.batch_id),
        )
        tx.execute(
            "UPDATE queue_sessions SET status = 'canceled', updated_position = ?, "
            "finished_at = ? WHERE batch_id = ? AND status = 'uninitialized'",
            (record.position, record.recorded_at, event.batch_id),
        )

    def _batch_reprioritized(
        self, tx: ProjectionTransaction, event: BatchReprioritized, record: RecordedEvent
    ) -> None:
        tx.execute(
            "UPDATE queue_batches SET priority = ?, last_position = ? WHERE batch_id = ?",
            (event.priority, record.position, event.batch_id),
        )
        tx.execute(
            "UPDATE queue_sessions SET priority = ? WHERE batch_id = ?",
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

    # --- archiving ------------------------------------------------------------------------

    def snapshot(
        self, tx: ProjectionTransaction, horizon: int, previous: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Each queue's state (``previous`` is in it already: the table keeps it)."""
        rows = tx.fetchall("SELECT queue_id, paused, pruned_at FROM queue_state ORDER BY queue_id")
        return {"queues": [[str(q), int(paused), int(pruned)] for q, paused, pruned in rows]}

    def forget(self, tx: ProjectionTransaction, horizon: int) -> None:
        """Drop the archived batches (every one enqueued below the horizon) and their
        sessions."""
        # By batch id, on the sessions' (batch_id, idx) index, rather than a scan of them all.
        tx.execute(
            "DELETE FROM queue_sessions WHERE batch_id IN "
            "(SELECT batch_id FROM queue_batches WHERE position < ?)",
            (horizon,),
        )
        tx.execute("DELETE FROM queue_batches WHERE position < ?", (horizon,))

    def restore(self, tx: ProjectionTransaction, state: dict[str, Any]) -> None:
        tx.executemany(
            "INSERT INTO queue_state (queue_id, paused, pruned_at) VALUES (?, ?, ?)",
            [tuple(row) for row in state.get("queues", [])],
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
    batches, stored = _batches_and_sessions(tx, list(set(batch_of.values())), list(by_session))
    upserts = []
    deltas: dict[str, dict[str, int]] = {}
    # Each batch's latest event here (what an archive's horizon must not cut through).
    latest: dict[str, int] = {}
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
        latest[batch_id] = max(latest.get(batch_id, 0), events[-1].position)
        status: str = row[6]
        if previous != status:
            counts = deltas.setdefault(batch_id, dict.fromkeys(STATES, 0))
            counts[previous] -= 1
            counts[status] += 1
        if sid not in stored and index == cursor:
            at_cursor.add(batch_id)
    tx.executemany(_UPSERT_SESSION, upserts)
    if latest:
        none = dict.fromkeys(STATES, 0)
        tx.executemany(
            _UPDATE_BATCH,
            [
                (*deltas.get(batch_id, none).values(), position, batch_id in at_cursor, batch_id)
                for batch_id, position in latest.items()
            ],
        )


# A batch's counters and latest position; and, when the session at its cursor got its first
# row (the third parameter), its cursor moved past every materialized index from there: to
# the first index after it whose successor has no row, found on ``queue_sessions_index`` in
# the same statement (a fold that reads less holds back fewer writes on PostgreSQL).
_UPDATE_BATCH = (
    "UPDATE queue_batches SET "
    + ", ".join(f"n_{state} = n_{state} + ?" for state in STATES)
    + """, last_position = ?,
    cursor = CASE WHEN ? THEN coalesce((
        SELECT s.idx + 1 FROM queue_sessions s
        WHERE s.batch_id = queue_batches.batch_id AND s.idx >= queue_batches.cursor
            AND NOT EXISTS (SELECT 1 FROM queue_sessions t
                            WHERE t.batch_id = s.batch_id AND t.idx = s.idx + 1)
        ORDER BY s.idx LIMIT 1), queue_batches.cursor) ELSE queue_batches.cursor END
WHERE batch_id = ?"""
)


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


def _batches_and_sessions(
    tx: ProjectionTransaction, batch_ids: list[str], session_ids: list[str]
) -> tuple[dict[str, tuple[Any, ...]], dict[str, str]]:
    """The batches' (canceled_at, cursor, priority, position) and the sessions' stored status,
    read together, one statement per chunk of keys (on PostgreSQL each read of a fold is a
    round trip and a hop from its thread)."""
    batches: dict[str, tuple[Any, ...]] = {}
    stored: dict[str, str] = {}
    keys = [(True, key) for key in batch_ids] + [(False, key) for key in session_ids]
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        of_batches = [key for is_batch, key in chunk if is_batch]
        of_sessions = [key for is_batch, key in chunk if not is_batch]
        selects = []
        if of_batches:
            selects.append(_BATCHES_READ.format(", ".join("?" * len(of_batches))))
        if of_sessions:
            selects.append(_SESSIONS_READ.format(", ".join("?" * len(of_sessions))))
        for kind, key, *batch, status in tx.fetchall(
            " UNION ALL ".join(selects), of_batches + of_sessions
        ):
            if kind == "batch":
                batches[key] = tuple(batch)
            else:
                stored[key] = status
    return batches, stored


# The two halves of that read, in the same columns: a kind, a key, the batch's four, a status.
_BATCHES_READ = (
    "SELECT 'batch', batch_id, canceled_at, cursor, priority, position, NULL "
    "FROM queue_batches WHERE batch_id IN ({})"
)
_SESSIONS_READ = (
    "SELECT 'session', session_id, NULL, NULL, NULL, NULL, status "
    "FROM queue_sessions WHERE session_id IN ({})"
)
