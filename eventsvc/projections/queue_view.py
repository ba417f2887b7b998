"""Queue queries: the queue projection's tables read as if every session existed (L1).

The next sessions are the free indexes from the cursors of the runnable batches, walked in
order, and the best retried rows; a page of a listing walks indexes from its cursor and
fetches only the rows in its window; each costs the same with a batch of ten sessions or a
million. A query's statements may each see a later commit of the fold (PostgreSQL's runner
commits on its own connection), so no answer relies on two of them agreeing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from eventsvc.batches import BatchDatum, data_of, session_values
from eventsvc.bounds import MAX_SAFE_INT
from eventsvc.errors import NotFoundError
from eventsvc.events import BatchEnqueued, RecordedEvent
from eventsvc.ids import batch_stream, parse_session_id, session_id
from eventsvc.projections.queue import STATES
from eventsvc.store.protocols import Reads
from eventsvc.views import BatchStatus, QueueStatus, SessionPage, SessionView, counts_from

_BATCH_COLUMNS = (
    "batch_id, queue_id, position, priority, session_count, cursor, canceled_at, origin, "
    "destination, n_uninitialized, n_in_progress, n_completed, n_failed, n_canceled"
)
_SESSION_COLUMNS = (
    "session_id, batch_id, idx, queue_id, priority, status, attempt, worker_id, error_type, "
    "error_message, started_at, finished_at"
)

# A queue that is not paused, for a table with a queue_id column (``{table}``): each query for
# the next sessions asks it in the same statement, instead of a statement of its own first.
_NOT_PAUSED = (
    "AND NOT EXISTS (SELECT 1 FROM queue_state s "
    "WHERE s.queue_id = {table}.queue_id AND s.paused <> 0) "
)
# Batches with sessions to start, best first; _AFTER continues past a (priority, position).
_RUNNABLE_WHERE = (
    f"SELECT {_BATCH_COLUMNS} FROM queue_batches WHERE queue_id = ? "
    "AND canceled_at IS NULL AND cursor < session_count "
    + _NOT_PAUSED.format(table="queue_batches")
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


class QueueReads(Reads, Protocol):
    """What queue queries read: the projection's tables, and a batch's enqueue event (its data)."""

    async def read_stream(
        self, stream: str, from_version: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]: ...


class QueueView:
    """Answers queue queries from the projection's tables, as if every session existed."""

    def __init__(self, store: QueueReads, cached_batches: int = 64) -> None:
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
        """The first ``limit`` sessions to start, best first: priority, batch, then index
        (none while the queue is paused)."""
        retried = await self._store.query(
            f"SELECT {_SESSION_COLUMNS}, batch_position FROM queue_sessions WHERE queue_id = ? "
            "AND status = 'uninitialized' "
            + _NOT_PAUSED.format(table="queue_sessions")
            + "ORDER BY priority DESC, batch_position, idx LIMIT ?",
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
