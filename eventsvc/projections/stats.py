"""The stats projection: one row per node execution, folded into summaries on demand, and the
artifacts that node outputs name.

Rows come from ``invocation.completed`` and ``invocation.failed`` and carry the measurements of
``sampling.py``; a session that got ``graph.invalid`` has its rows dropped. Its SQL serves both
backends, like the queue projection's.

``artifact_refs`` keeps every artifact an ``invocation.completed`` names, with the first
position naming it. An artifact may be deleted only when no cache entry and no event refers to
it (the invocation cache asks when it evicts the last entry naming one); events never leave
the log, so ``graph.invalid`` drops none of these rows, and the question is one indexed lookup
instead of a scan of every completion. The table lives in this projection rather than in one
of its own because it folds the same events: on PostgreSQL another projection would be another
runner, lease and checkpoint per page, which the executor measurably paid for there.

``artifact_uses`` keeps one row per artifact each completion names, with where it came from
(batch, session, node, output field, image size), so a gallery of a batch or session pages
through it by position on an index instead of reading the batch's events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from eventsvc.events import GraphInvalid, InvocationCompleted, InvocationFailed, RecordedEvent
from eventsvc.invocations.context import artifacts_in
from eventsvc.projections import ProjectionTransaction
from eventsvc.stats import NodeRun, StatsSummary, summarize
from eventsvc.store.protocols import Reads

SCHEMA = """
CREATE TABLE IF NOT EXISTS stats_runs (
    position INTEGER PRIMARY KEY,
    queue_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    node_id TEXT NOT NULL,
    node_type TEXT NOT NULL,
    failed INTEGER NOT NULL,
    started_at INTEGER,
    ended_at INTEGER,
    wall_seconds REAL,
    rss_before INTEGER,
    rss_after INTEGER,
    vram_peak INTEGER,
    vram_delta INTEGER,
    overlapped INTEGER NOT NULL,
    cache_hit INTEGER NOT NULL,
    cache_miss INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS stats_runs_session ON stats_runs (session_id);
CREATE INDEX IF NOT EXISTS stats_runs_batch ON stats_runs (batch_id);
CREATE INDEX IF NOT EXISTS stats_runs_type ON stats_runs (node_type);
CREATE TABLE IF NOT EXISTS artifact_refs (
    sha256 TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS artifact_uses (
    position INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    field TEXT NOT NULL,
    kind TEXT NOT NULL,
    width INTEGER,
    height INTEGER,
    queue_id TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    node_type TEXT NOT NULL,
    PRIMARY KEY (position, field, sha256)
);
CREATE INDEX IF NOT EXISTS artifact_uses_batch ON artifact_uses (batch_id, position);
CREATE INDEX IF NOT EXISTS artifact_uses_session ON artifact_uses (session_id, position)
"""
_INSERT = (
    "INSERT INTO stats_runs (position, queue_id, batch_id, session_id, attempt, node_id, "
    "node_type, failed, started_at, ended_at, wall_seconds, rss_before, rss_after, vram_peak, "
    "vram_delta, overlapped, cache_hit, cache_miss) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_USE = (
    "INSERT INTO artifact_uses (position, sha256, field, kind, width, height, queue_id, "
    "batch_id, session_id, node_id, node_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (position, field, sha256) DO NOTHING"
)
_INSERT_REF = (
    "INSERT INTO artifact_refs (sha256, position) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING"
)
# Whether an event of the log names an artifact.
ARTIFACT_NAMED = "SELECT 1 FROM artifact_refs WHERE sha256 = ?"
_RUN_COLUMNS = (
    "session_id, batch_id, node_id, node_type, wall_seconds, started_at, ended_at, rss_before, "
    "rss_after, vram_peak, failed, cache_hit, cache_miss"
)


class StatsProjection:
    name = "stats"
    schema = SCHEMA
    tables = ("stats_runs", "artifact_refs", "artifact_uses")
    tags = frozenset({"invocation.completed", "invocation.failed", "graph.invalid"})
    reads_own_tables = False

    def apply(self, tx: ProjectionTransaction, events: Sequence[RecordedEvent]) -> None:
        rows, refs, uses = [], [], []
        for record in events:
            data = record.data
            if isinstance(data, InvocationCompleted) and (named := artifacts_in(data.outputs)):
                refs += [(sha, record.position) for sha in sorted(named)]
                uses += _uses(record.position, data)
            if isinstance(data, InvocationCompleted | InvocationFailed):
                m = data.measurement
                hit = isinstance(data, InvocationCompleted) and data.cached
                rows.append(
                    (
                        record.position,
                        data.queue_id,
                        data.batch_id,
                        data.session_id,
                        data.attempt,
                        data.node_id,
                        data.node_type,
                        int(isinstance(data, InvocationFailed)),
                        _micros(m.started_at),
                        _micros(m.ended_at),
                        m.wall_seconds,
                        m.rss_before,
                        m.rss_after,
                        m.vram_peak,
                        m.vram_delta,
                        int(m.overlapped),
                        int(hit),
                        int(not hit and getattr(data, "cache_key", None) is not None),
                    )
                )
            elif isinstance(data, GraphInvalid):
                if rows:
                    tx.executemany(_INSERT, rows)
                    rows = []
                tx.execute("DELETE FROM stats_runs WHERE session_id = ?", (data.session_id,))
        if rows:
            tx.executemany(_INSERT, rows)
        if refs:
            tx.executemany(_INSERT_REF, refs)
        if uses:
            tx.executemany(_INSERT_USE, uses)


class StatsView:
    """Summaries per session, per batch and per node type."""

    def __init__(self, store: Reads) -> None:
        self._store = store

    async def session(self, session_id: str) -> StatsSummary:
        return await self._summary("WHERE session_id = ?", (session_id,))

    async def batch(self, batch_id: str) -> StatsSummary:
        return await self._summary("WHERE batch_id = ?", (batch_id,))

    async def node_types(self) -> StatsSummary:
        return await self._summary("", ())

    async def cache_counts(self) -> tuple[int, int]:
        """Invocation cache hits and misses over every node run."""
        [(hits, misses)] = await self._store.query(
            "SELECT coalesce(sum(cache_hit), 0), coalesce(sum(cache_miss), 0) FROM stats_runs"
        )
        return int(hits), int(misses)

    async def _summary(self, where: str, params: Sequence[Any]) -> StatsSummary:
        rows = await self._store.query(f"SELECT {_RUN_COLUMNS} FROM stats_runs {where}", params)
        return summarize(
            NodeRun(
                s,
                b,
                n,
                t,
                w,
                _datetime(start),
                _datetime(end),
                rb,
                ra,
                vp,
                bool(f),
                bool(h),
                bool(m),
            )
            for s, b, n, t, w, start, end, rb, ra, vp, f, h, m in rows
        )


def _uses(position: int, data: InvocationCompleted) -> list[tuple[Any, ...]]:
    """The ``artifact_uses`` rows of one completion: each reference in each output field."""
    rows = []
    where = (data.queue_id, data.batch_id, data.session_id, data.node_id, data.node_type)
    for field_name, value in sorted(data.outputs.items()):
        for ref in _refs_in(value):
            size = ref.get("size")
            width, height = size if isinstance(size, list) and len(size) == 2 else (None, None)
            rows.append((position, ref["artifact"], field_name, str(ref["kind"]), width, height))
    return [(*row, *where) for row in rows]


def _refs_in(value: Any) -> list[dict[str, Any]]:
    """Every artifact reference (``{"artifact": sha, "kind": ...}``) inside a JSON value."""
    if isinstance(value, dict):
        if isinstance(value.get("artifact"), str) and "kind" in value:
            return [value]
        return [ref for child in value.values() for ref in _refs_in(child)]
    if isinstance(value, list):
        return [ref for child in value for ref in _refs_in(child)]
    return []


def _micros(value: datetime | None) -> int | None:
    return None if value is None else round(value.timestamp() * 1_000_000)


def _datetime(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1_000_000, UTC)
