"""Listings for browsing the queue: the queues with their counts, batches newest first, and
the artifacts of a batch or a session (L1).

Each page is one keyset query on an index the projections keep: batches by
``(queue_id, position)`` walked backwards from a position, artifacts by ``(batch_id,
position)`` or ``(session_id, position)`` walked forwards. A page costs the same with ten
sessions queued or a million (the queues' counts add up their batches' counters, as a
queue's status does). A state filter on batches keeps those with at least one session
in that state; it skips the batches without one on the same index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from eventsvc.projections.queue import STATES
from eventsvc.store.protocols import Reads
from eventsvc.views import BatchStatus, QueueStatus, counts_from

_COLUMNS = (
    "batch_id, queue_id, position, priority, session_count, canceled_at, origin, destination, "
    "enqueued_at, n_uninitialized, n_in_progress, n_completed, n_failed, n_canceled"
)
_ARTIFACT_COLUMNS = (
    "position, sha256, field, kind, width, height, queue_id, batch_id, session_id, node_id, "
    "node_type"
)

# Every queue the projection knows (paused or resumed, or holding batches) with its listed
# batches' counters added up, by queue id from after a cursor.
_QUEUES = (
    "SELECT q.queue_id, coalesce(s.paused, 0), coalesce(b.batches, 0), "
    + ", ".join(f"coalesce(b.n_{state}, 0)" for state in STATES)
    + " FROM (SELECT queue_id FROM queue_state UNION SELECT queue_id FROM queue_batches) AS q"
    " LEFT JOIN queue_state AS s ON s.queue_id = q.queue_id"
    " LEFT JOIN (SELECT queue_id, count(*) AS batches, "
    + ", ".join(f"sum(n_{state}) AS n_{state}" for state in STATES)
    + " FROM queue_batches WHERE pruned = 0 GROUP BY queue_id) AS b ON b.queue_id = q.queue_id"
    " WHERE q.queue_id > ? ORDER BY q.queue_id LIMIT ?"
)


class QueuePage(BaseModel):
    items: list[QueueStatus]
    next_after: str | None = Field(
        default=None, description="Pass as after= for the next page (queue ids in order)"
    )


class BatchSummary(BatchStatus):
    """A batch as the queue's listing shows it: its status and when it was enqueued."""

    enqueued_at: int = Field(description="UTC microseconds, from its batch.enqueued event")


class BatchPage(BaseModel):
    items: list[BatchSummary]
    next_before: int | None = Field(
        default=None, description="Pass as before= for the next (older) page"
    )


class ArtifactUse(BaseModel):
    """An artifact a node output names, and where it came from."""

    position: int = Field(description="The invocation.completed event that named it")
    sha256: str
    field: str = Field(description="The output field holding it")
    kind: str = Field(description="'image' or 'tensor'")
    width: int | None = None
    height: int | None = None
    queue_id: str
    batch_id: str
    session_id: str
    node_id: str
    node_type: str


class ArtifactPage(BaseModel):
    items: list[ArtifactUse]
    next_after: int | None = Field(
        default=None, description="Pass as after= for the next (later) page"
    )


class Browse:
    """Pages of batches and artifacts, each one indexed query."""

    def __init__(self, store: Reads) -> None:
        self._store = store

    async def queues(self, *, after: str = "", limit: int) -> QueuePage:
        """Every queue by id, each with its status, from after ``after``."""
        rows = await self._store.query(_QUEUES, (after, limit))
        items = [
            QueueStatus(
                queue_id=row[0],
                paused=bool(row[1]),
                batches=int(row[2]),
                counts=counts_from([int(c) for c in row[3:8]]),
            )
            for row in rows
        ]
        full = len(items) == limit
        return QueuePage(items=items, next_after=items[-1].queue_id if full else None)

    async def batches(
        self, queue_id: str, *, state: str | None = None, before: int | None = None, limit: int
    ) -> BatchPage:
        """Listed (not pruned) batches of ``queue_id`` newest first, from before ``before``."""
        if state is not None and state not in STATES:
            raise ValueError(f"unknown session state {state!r}; expected one of {STATES}")
        having = f"AND n_{state} > 0 " if state else ""
        rows = await self._store.query(
            f"SELECT {_COLUMNS} FROM queue_batches WHERE queue_id = ? AND pruned = 0 "
            f"AND position < ? {having}ORDER BY position DESC LIMIT ?",
            (queue_id, before if before is not None else 2**63 - 1, limit),
        )
        items = [_summary(row) for row in rows]
        full = len(items) == limit
        return BatchPage(items=items, next_before=items[-1].enqueued_position if full else None)

    async def batch_artifacts(
        self, batch_id: str, *, kind: str | None, after: int, limit: int
    ) -> ArtifactPage:
        return await self._artifacts("batch_id", batch_id, kind, after, limit)

    async def session_artifacts(
        self, session_id: str, *, kind: str | None, after: int, limit: int
    ) -> ArtifactPage:
        return await self._artifacts("session_id", session_id, kind, after, limit)

    async def _artifacts(
        self, column: str, value: str, kind: str | None, after: int, limit: int
    ) -> ArtifactPage:
        rows = await self._store.query(
            f"SELECT {_ARTIFACT_COLUMNS} FROM artifact_uses WHERE {column} = ? AND position > ? "
            "AND (CAST(? AS TEXT) IS NULL OR kind = ?) ORDER BY position, field, sha256 LIMIT ?",
            (value, after, kind, kind, limit + 1),
        )
        items = [_artifact(row) for row in rows[:limit]]
        # A page never ends inside one event's artifacts: the cursor is a position.
        if len(rows) > limit and rows[limit][0] == items[-1].position:
            items = [item for item in items if item.position != items[-1].position] or items
        more = len(rows) > limit
        return ArtifactPage(items=items, next_after=items[-1].position if more else None)


def _summary(row: Sequence[Any]) -> BatchSummary:
    return BatchSummary(
        batch_id=row[0],
        queue_id=row[1],
        enqueued_position=row[2],
        priority=row[3],
        session_count=row[4],
        canceled=row[5] is not None,
        origin=row[6],
        destination=row[7],
        enqueued_at=row[8],
        counts=counts_from(row[9:14]),
    )


def _artifact(row: Sequence[Any]) -> ArtifactUse:
    names = _ARTIFACT_COLUMNS.split(", ")
    return ArtifactUse(**dict(zip(names, row, strict=True)))
