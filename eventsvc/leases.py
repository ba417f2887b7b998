"""Worker liveness: the lease rule in one place (DESIGN section 4).

Each worker stamps its lease in ``worker_leases`` a third of the lease apart, by the database's
clock (never a worker's own), in a table beside the log. A worker is alive while its stamp is
younger than the lease; a session in progress whose worker is not alive (its process crashed
or was killed) is resumed by a live worker, and so is a session of this process's own workers
that no task runs any more. The SQL serves both backends.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventsvc.store.protocols import Tables

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS worker_leases "
    "(worker_id TEXT PRIMARY KEY, heartbeat_at DOUBLE PRECISION NOT NULL)",
)


class Leases:
    """The workers' leases in one store's database."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables
        now = tables.db_now
        self._beat = (
            f"INSERT INTO worker_leases (worker_id, heartbeat_at) VALUES (?, {now}) "
            "ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at"
        )
        self._alive = f"heartbeat_at >= {now} - ?"

    async def create(self) -> None:
        await self._tables.create_beside(SCHEMA)

    async def beat(self, worker_ids: Sequence[str]) -> None:
        """Stamp the workers' leases with the database's clock."""
        rows = [(worker_id,) for worker_id in worker_ids]
        await self._tables.write_beside(lambda tx: tx.executemany(self._beat, rows), "heartbeat")

    async def live_workers(self, lease_seconds: float) -> int:
        """Workers whose lease is current, in any process."""
        rows = await self._tables.query(
            f"SELECT count(*) FROM worker_leases WHERE {self._alive}", (lease_seconds,)
        )
        return int(rows[0][0])

    async def expired_sessions(self, queue_id: str, lease_seconds: float) -> list[str]:
        """Sessions in progress whose worker's lease ran out (by the queue projection)."""
        rows = await self._tables.query(
            "SELECT s.session_id FROM queue_sessions s "
            "LEFT JOIN worker_leases w ON w.worker_id = s.worker_id "
            "WHERE s.queue_id = ? AND s.status = 'in_progress' "
            f"AND (w.heartbeat_at IS NULL OR NOT (w.{self._alive})) "
            "ORDER BY s.batch_position, s.idx",
            (queue_id, lease_seconds),
        )
        return [row[0] for row in rows]

    async def sessions_of(self, queue_id: str, worker_ids: Sequence[str]) -> list[str]:
        """Sessions in progress claimed by one of ``worker_ids``."""
        if not worker_ids:
            return []
        marks = ", ".join("?" * len(worker_ids))
        rows = await self._tables.query(
            "SELECT session_id FROM queue_sessions WHERE queue_id = ? "
            f"AND status = 'in_progress' AND worker_id IN ({marks}) ORDER BY batch_position, idx",
            (queue_id, *worker_ids),
        )
        return [row[0] for row in rows]
