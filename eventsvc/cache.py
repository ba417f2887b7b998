"""The persistent invocation cache: outputs of node executions, by ``cache_key`` (L1).

Entries live in the store's own database, beside the log (``write_beside``), so they survive
restarts and every process sharing a PostgreSQL store shares them; the SQL is written once for
both backends. An entry holds the outputs as JSON (large values are artifact references) and
the artifacts they name.

Bounded by ``max_entries`` and ``max_bytes`` (the bytes of the stored outputs), evicting the
least recently used. New entries and the recency of hits are kept in memory and written back
together in batches (every ``RECENCY_BATCH`` puts and hits, at each executor heartbeat, before
a status, and on close): never one durable write per hit, nor per miss. This process's
lookups find its unwritten entries at once; other processes, once they are written. A counter
row keeps the totals, so a bound is checked without counting the table. An evicted
entry's artifacts are deleted only when no other entry and no event refers to them (events
never leave the log, so in practice only artifacts that no event ever named go); the events
are asked through the stats projection's ``artifact_refs`` table (one indexed lookup), and the
cache registers that projection on a store that does not fold it yet; the other entries,
through ``invocation_cache_artifacts``, which names the entries naming each artifact.

Whether the cache is on is a row of the same database: every process follows it.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import anyio

from eventsvc.clock import Clock, SystemClock
from eventsvc.invocations.context import ArtifactStore, artifacts_in
from eventsvc.projections import ProjectionHost
from eventsvc.projections.runner import checkpoint
from eventsvc.projections.stats import ARTIFACT_NAMED, StatsProjection
from eventsvc.store.protocols import Tables, Transaction

log = logging.getLogger("eventsvc.cache")

RECENCY_BATCH = 256
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS invocation_cache (key TEXT PRIMARY KEY, node_type TEXT NOT NULL, "
    "outputs TEXT NOT NULL, artifacts TEXT NOT NULL, size BIGINT NOT NULL, "
    "last_used BIGINT NOT NULL, token TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS invocation_cache_lru ON invocation_cache (last_used)",
    # Which entries name each artifact: an eviction asks per artifact, by key, not by a scan.
    "CREATE TABLE IF NOT EXISTS invocation_cache_artifacts (sha256 TEXT NOT NULL, "
    "key TEXT NOT NULL, PRIMARY KEY (sha256, key))",
    "CREATE INDEX IF NOT EXISTS invocation_cache_artifacts_key ON invocation_cache_artifacts (key)",
    "CREATE TABLE IF NOT EXISTS invocation_cache_state (id BIGINT PRIMARY KEY, "
    "enabled BIGINT NOT NULL, entries BIGINT NOT NULL, bytes BIGINT NOT NULL)",
    "INSERT INTO invocation_cache_state (id, enabled, entries, bytes) VALUES (1, 1, 0, 0) "
    "ON CONFLICT DO NOTHING",
)
_LOOKUP = (
    "SELECT s.enabled, c.outputs FROM invocation_cache_state s "
    "LEFT JOIN invocation_cache c ON c.key = ? WHERE s.id = 1"
)
_INSERT = (
    "INSERT INTO invocation_cache (key, node_type, outputs, artifacts, size, last_used, token) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
# Counted only if this call's row went in (another process may have inserted the key first).
_COUNT_INSERT = (
    "UPDATE invocation_cache_state SET entries = entries + 1, bytes = bytes + ? "
    "WHERE id = 1 AND EXISTS (SELECT 1 FROM invocation_cache WHERE key = ? AND token = ?)"
)
_TOUCH = "UPDATE invocation_cache SET last_used = ? WHERE key = ? AND last_used < ?"
# Named only if this call's row went in, like the count.
_NAME_ARTIFACT = (
    "INSERT INTO invocation_cache_artifacts (sha256, key) SELECT ?, ? "
    "WHERE EXISTS (SELECT 1 FROM invocation_cache WHERE key = ? AND token = ?) "
    "ON CONFLICT DO NOTHING"
)
_UNNAME_ARTIFACT = "DELETE FROM invocation_cache_artifacts WHERE sha256 = ? AND key = ?"
_ARTIFACT_IN_ENTRY = "SELECT 1 FROM invocation_cache_artifacts WHERE sha256 = ? LIMIT 1"
# The events the stats projection has not folded yet: few, found by position.
_TAIL_NAMING = (
    "SELECT 1 FROM events WHERE position BETWEEN ? AND ? AND tag = 'invocation.completed' "
    "AND data LIKE ? LIMIT 1"
)


@dataclass(frozen=True, slots=True)
class CacheStatus:
    enabled: bool
    entries: int
    bytes: int
    max_entries: int
    max_bytes: int


class CacheHome(Tables, ProjectionHost, Protocol):
    """What the cache asks of its store: tables beside the log, the stats projection (which
    it registers if need be), and the log's head."""

    async def head(self) -> int: ...


class InvocationCache:
    """Lookups, inserts, recency, eviction and control of the invocation cache."""

    def __init__(
        self,
        store: CacheHome,
        artifacts: ArtifactStore,
        *,
        max_entries: int,
        max_bytes: int,
        clock: Clock | None = None,
    ) -> None:
        self._store = store
        self._artifacts = artifacts
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock or SystemClock()
        self._recency: dict[str, int] = {}
        # Entries put and not yet written: the rows of ``_INSERT``.
        self._pending: dict[str, tuple[Any, ...]] = {}
        # Hits and puts since the last flush.
        self._unflushed = 0

    async def create(self) -> None:
        await self._store.create_beside(SCHEMA)
        await self._store.write_beside(_index_artifacts, "index the cache's artifacts")
        if StatsProjection.name not in self._store.projections:
            await self._store.register(StatsProjection())

    async def lookup(self, key: str) -> tuple[bool, dict[str, Any] | None]:
        """Whether the cache is on, and the outputs cached under ``key`` (a hit) or None."""
        rows = await self._store.point_query(_LOOKUP, (key,))
        if not rows or not rows[0][0]:
            return False, None
        outputs = rows[0][1]
        if outputs is None:
            pending = self._pending.get(key)
            if pending is None:
                return True, None
            outputs = pending[2]
        self._recency[key] = self._clock.now_us()
        self._unflushed += 1
        if self._unflushed >= RECENCY_BATCH:
            await self.flush()
        decoded: dict[str, Any] = json.loads(outputs)
        return True, decoded

    async def put(self, key: str, node_type: str, outputs: dict[str, Any]) -> None:
        """Keep ``outputs`` under ``key`` (a no-op if present, or if larger than the byte
        bound: it could never stay). Held in memory, where this process's lookups find it at
        once, and written with the next batch (``flush``)."""
        text = json.dumps(outputs, separators=(",", ":"))
        if len(text) > self.max_bytes:
            log.debug("not caching %s outputs of %d bytes: over the bound", node_type, len(text))
            return
        artifacts = json.dumps(sorted(artifacts_in(outputs)))
        token = secrets.token_hex(8)
        now = self._clock.now_us()
        self._pending[key] = (key, node_type, text, artifacts, len(text), now, token)
        self._unflushed += 1
        if self._unflushed >= RECENCY_BATCH:
            await self.flush()

    async def flush(self) -> None:
        """Write the entries put since the last flush and the recency of recent hits, in one
        transaction; then evict beyond the bounds."""
        if not self._recency and not self._pending:
            return
        count, size = await self._write()
        if count > self.max_entries or size > self.max_bytes:
            await self._evict()

    async def evict(self) -> int:
        """Remove the least recently used entries until both bounds hold; how many went."""
        if self._recency or self._pending:
            await self._write()
        return await self._evict()

    async def _write(self) -> tuple[int, int]:
        """Write what is held in memory; the totals after it."""
        touched, self._recency, self._unflushed = self._recency, {}, 0
        entries = list(self._pending.values())
        touches = [(used, key, used) for key, used in touched.items()]

        def write(tx: Transaction) -> tuple[int, int]:
            tx.executemany(_INSERT, entries)
            tx.executemany(_COUNT_INSERT, [(row[4], row[0], row[6]) for row in entries])
            tx.executemany(
                _NAME_ARTIFACT,
                [(sha, row[0], row[0], row[6]) for row in entries for sha in _named(row[3])],
            )
            tx.executemany(_TOUCH, touches)
            [(count, size)] = tx.fetchall(
                "SELECT entries, bytes FROM invocation_cache_state WHERE id = 1"
            )
            return int(count), int(size)

        totals = await self._store.write_beside(write, "write the cache")
        for row in entries:
            if self._pending.get(row[0]) is row:
                del self._pending[row[0]]
        return totals

    async def _evict(self) -> int:
        limits = (self.max_entries, self.max_bytes)

        def evict(tx: Transaction) -> tuple[int, list[str]]:
            entries, size = _locked_totals(tx)
            gone: list[tuple[int, str]] = []
            while entries > limits[0] or size > limits[1]:
                oldest = tx.fetchall(
                    "SELECT key FROM invocation_cache ORDER BY last_used, key LIMIT ?",
                    (max(1, min(1000, entries - limits[0])),),
                )
                if not oldest:
                    break
                for (key,) in oldest:
                    if entries <= limits[0] and size <= limits[1]:
                        break
                    for entry_size, artifacts in _delete(tx, key):
                        gone.append((entry_size, artifacts))
                        entries, size = entries - 1, size - entry_size
            return len(gone), _forget(tx, gone)

        removed, orphans = await self._store.write_beside(evict, "evict cache entries")
        await self._delete_unreferenced(orphans)
        return removed

    async def discard(self, key: str) -> None:
        """Remove one entry (its outputs can no longer be read back)."""

        def discard(tx: Transaction) -> list[str]:
            _locked_totals(tx)
            return _forget(tx, _delete(tx, key))

        await self._delete_unreferenced(await self._store.write_beside(discard, "cache"))

    async def clear(self) -> int:
        """Remove every entry, written or not yet; how many there were."""
        await self.flush()

        def clear(tx: Transaction) -> tuple[int, list[str]]:
            _locked_totals(tx)
            gone = tx.fetchall("DELETE FROM invocation_cache RETURNING size, artifacts")
            tx.execute("DELETE FROM invocation_cache_artifacts")
            return len(gone), _forget(tx, [(int(size), str(a)) for size, a in gone])

        removed, orphans = await self._store.write_beside(clear, "clear the cache")
        await self._delete_unreferenced(orphans)
        return removed

    async def set_enabled(self, enabled: bool) -> None:
        sql = "UPDATE invocation_cache_state SET enabled = ? WHERE id = 1"
        await self._store.write_beside(lambda tx: tx.execute(sql, (int(enabled),)), "cache")

    async def status(self) -> CacheStatus:
        await self.flush()
        [(enabled, entries, size)] = await self._store.query(
            "SELECT enabled, entries, bytes FROM invocation_cache_state WHERE id = 1"
        )
        return CacheStatus(bool(enabled), entries, size, self.max_entries, self.max_bytes)

    def _named_by_pending(self) -> set[str]:
        return {sha for row in self._pending.values() for sha in _named(row[3])}

    async def _delete_unreferenced(self, candidates: Sequence[str]) -> None:
        """Delete the artifacts no entry and no event names (rare: events keep theirs)."""
        for sha in candidates:
            # Artifact stores are synchronous (some reach their database from a thread).
            if not await self._named(sha) and await anyio.to_thread.run_sync(
                self._artifacts.__contains__, sha
            ):
                await anyio.to_thread.run_sync(self._artifacts.delete, sha)
                log.info("deleted artifact %s: no cache entry or event names it", sha)

    async def _named(self, sha: str) -> bool:
        """Whether an entry (held here or written) or an event names ``sha``, asked just before
        the artifact would go. Events past the stats projection's checkpoint are read, then its
        ``artifact_refs``: an event folded between the two questions is still found, and
        nothing waits for a projection. Not seen: an entry another process holds unwritten
        and the event its node has not appended yet (nor, on PostgreSQL, committed but not
        sealed): a node that makes the same artifact again at that moment can lose it."""
        if sha in self._named_by_pending():
            return True
        pattern = f"%{sha}%"
        folded = await checkpoint(self._store, StatsProjection.name)
        head = await self._store.head()
        if folded < head and await self._store.query(_TAIL_NAMING, (folded + 1, head, pattern)):
            return True
        if await self._store.point_query(ARTIFACT_NAMED, (sha,)):
            return True
        return bool(await self._store.point_query(_ARTIFACT_IN_ENTRY, (sha,)))


def _locked_totals(tx: Transaction) -> tuple[int, int]:
    """The totals, with the row locked until the transaction ends (a no-op update does it
    on both backends), so processes evicting or clearing at once take turns."""
    tx.execute("UPDATE invocation_cache_state SET entries = entries WHERE id = 1")
    [(entries, size)] = tx.fetchall(
        "SELECT entries, bytes FROM invocation_cache_state WHERE id = 1"
    )
    return int(entries), int(size)


def _delete(tx: Transaction, key: str) -> list[tuple[int, str]]:
    """Delete one entry; its (size, artifacts) if this transaction is the one that did."""
    rows = tx.fetchall(
        "DELETE FROM invocation_cache WHERE key = ? RETURNING size, artifacts", (key,)
    )
    for _, artifacts in rows:
        tx.executemany(_UNNAME_ARTIFACT, [(sha, key) for sha in _named(artifacts)])
    return [(int(size), str(artifacts)) for size, artifacts in rows]


def _forget(tx: Transaction, gone: Sequence[tuple[int, str]]) -> list[str]:
    """Take deleted entries off the totals; the artifacts that no remaining entry names."""
    if gone:
        tx.execute(
            "UPDATE invocation_cache_state SET entries = entries - ?, bytes = bytes - ? "
            "WHERE id = 1",
            (len(gone), sum(size for size, _ in gone)),
        )
    named = {sha for _, artifacts in gone for sha in _named(artifacts)}
    return [sha for sha in sorted(named) if not tx.fetchall(_ARTIFACT_IN_ENTRY, (sha,))]


def _named(artifacts: str) -> list[str]:
    """The artifacts of an entry's ``artifacts`` column (a JSON list, usually empty)."""
    return [] if artifacts == "[]" else list(json.loads(artifacts))


def _index_artifacts(tx: Transaction) -> None:
    """Name in ``invocation_cache_artifacts`` the artifacts of entries written without it (by
    an older eventsvc), so that eviction sees what they name."""
    rows = tx.fetchall(
        "SELECT key, artifacts FROM invocation_cache c WHERE artifacts <> '[]' "
        "AND NOT EXISTS (SELECT 1 FROM invocation_cache_artifacts a WHERE a.key = c.key)"
    )
    tx.executemany(
        "INSERT INTO invocation_cache_artifacts (sha256, key) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [(sha, key) for key, artifacts in rows for sha in _named(artifacts)],
    )
