"""Artifacts in the PostgreSQL store's database, so every process reads what any process wrote:
a session resumed on another machine finds its inputs (DESIGN section 3).

The ``ArtifactStore`` protocol is synchronous, as node bodies that make artifacts run in worker
threads; each call hops to the event loop to run its statement on the store's pool. An
artifact is inserted before any event can refer to it (the node's completion is appended only
after ``put`` returns), and content addressing makes a second ``put`` of the same bytes a
no-op.
"""

from __future__ import annotations

import hashlib
from typing import Any

import anyio.from_thread

from eventsvc.errors import StoreError
from eventsvc.store.postgres.common import DB_NOW, Database


class PostgresArtifactStore:
    """Artifacts as rows of the store's ``artifacts`` table (sha256, media type, bytes)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def put(self, data: bytes, media_type: str) -> str:
        sha = hashlib.sha256(data).hexdigest()
        # Stored again: young again (retention judges an artifact by its latest put).
        self._run(
            f"INSERT INTO artifacts (sha256, media_type, data, stored_at) "
            f"VALUES ($1, $2, $3, {DB_NOW}) "
            "ON CONFLICT (sha256) DO UPDATE SET stored_at = excluded.stored_at",
            sha,
            media_type,
            data,
        )
        return sha

    def stored_before(self, grace: float) -> list[str]:
        """The artifacts last stored more than ``grace`` seconds ago (by the database's clock)."""
        rows = self._run(
            f"SELECT sha256 FROM artifacts WHERE stored_at < {DB_NOW} - $1 ORDER BY sha256", grace
        )
        return [str(row[0]) for row in rows]

    def remove_if_older(self, sha256: str, grace: float) -> bool:
        """Remove the artifact if it was last stored more than ``grace`` seconds ago, in one
        statement: a concurrent put's upsert either comes first (and keeps it) or after."""
        rows = self._run(
            f"DELETE FROM artifacts WHERE sha256 = $1 AND stored_at < {DB_NOW} - $2 RETURNING 1",
            sha256,
            grace,
        )
        return bool(rows)

    def get(self, sha256: str) -> bytes:
        return bytes(self._row(sha256)[1])

    def media_type(self, sha256: str) -> str:
        return str(self._row(sha256)[0])

    def delete(self, sha256: str) -> None:
        self._run("DELETE FROM artifacts WHERE sha256 = $1", sha256)

    def __contains__(self, sha256: str) -> bool:
        return bool(self._run("SELECT 1 FROM artifacts WHERE sha256 = $1", sha256))

    def _row(self, sha256: str) -> Any:
        rows = self._run("SELECT media_type, data FROM artifacts WHERE sha256 = $1", sha256)
        if not rows:
            raise KeyError(f"no artifact {sha256!r} in the store's database")
        return rows[0]

    def _run(self, sql: str, *args: Any) -> list[Any]:
        try:
            return anyio.from_thread.run(self._fetch, sql, *args)
        except RuntimeError as exc:
            raise StoreError(
                "PostgreSQL artifacts are read and written from worker threads (blocking node "
                f"bodies, or through anyio.to_thread), not on the event loop: {exc}"
            ) from exc

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        with self._db.translated("reading or writing an artifact"):
            async with self._db.pool.acquire() as conn:
                return list(await conn.fetch(sql, *args))
