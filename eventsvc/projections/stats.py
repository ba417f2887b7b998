"""The stats projection: one row per node execution, running totals per node type and batch,
and the artifacts that node outputs name.

Rows come from ``invocation.completed`` and ``invocation.failed`` and carry the measurements of
``sampling.py``; a session that got ``graph.invalid`` has its rows dropped. A session's summary
is folded from its rows on demand; a batch's and every node type's come from the running totals
of ``projections.stats_totals``, kept by the same fold, so they answer in constant time. Its
SQL serves both backends, like the queue projection's.

``artifact_refs`` keeps every artifact an ``invocation.completed`` names, with the first
position naming it. An artifact may be deleted only when no cache entry and no event refers to
it (the invocation cache asks when it evicts the last entry naming one); ``graph.invalid``
drops none of these rows (its events stay in the log), and the question is one indexed lookup
instead of a scan of every completion. The table lives in this projection rather than in one
of its own because it folds the same events: on PostgreSQL another projection would be another
runner, lease and checkpoint per page, which the executor measurably paid for there.

``artifact_uses`` keeps one row per artifact each completion names, with where it came from
(batch, session, node, output field, image size), so a gallery of a batch or session pages
through it by position on an index instead of reading the batch's events.

Archived events (``snapshot`` / ``forget`` / ``restore``): the runs and artifact rows below the
horizon are forgotten, and an artifact stays named while a live completion names it; the
totals of every run survive in the snapshot (``stats_totals``).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from eventsvc.events import (
    GraphInvalid,
    InvocationCompleted,
    InvocationFailed,
    RecordedEvent,
    SessionStarted,
)
from eventsvc.invocations.context import artifacts_in
from eventsvc.projections import ProjectionTransaction, stats_totals
from eventsvc.projections.stats_totals import RUN_COLUMNS, Tally
from eventsvc.stats import Completions, NodeRun, StatsSummary, summarize
from eventsvc.store.protocols import Reads

SCHEMA = (
    """
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
CREATE INDEX IF NOT EXISTS artifact_uses_session ON artifact_uses (session_id, position);
CREATE INDEX IF NOT EXISTS artifact_uses_sha ON artifact_uses (sha256);
"""
    + stats_totals.SCHEMA
)
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
    tables = ("stats_runs", "artifact_refs", "artifact_uses", *stats_totals.TABLES)
    tags = frozenset(
        {
            "invocation.completed",
            "invocation.failed",
            "graph.invalid",
            "session.started",
            *stats_totals.ENDINGS,
        }
    )
    reads_own_tables = False
    nonblocking = True  # its fold only computes and writes (``projections.nonblocking``)

    def __init__(self) -> None:
        # Where a restored snapshot's totals count through, read once, and again after this
        # projection's own ``restore`` or ``forget``. It matters only to the events a rebuild
        # folds from a snapshot: any other fold starts past its checkpoint, which is never
        # below it, so a value another process's archive (or a rolled back rebuild) left
        # stale decides nothing.
        self._counted_through: int | None = None

    def apply(self, tx: ProjectionTransaction, events: Sequence[RecordedEvent]) -> None:
        rows: list[tuple[Any, ...]] = []
        refs, uses = [], []
        if self._counted_through is None:
            self._counted_through = stats_totals.counted_through(tx)
        tally = Tally(self._counted_through)
        for record in events:
            data = record.data
            if isinstance(data, InvocationCompleted) and (named := artifacts_in(data.outputs)):
                refs += [(sha, record.position) for sha in sorted(named)]
                uses += _uses(record.position, data)
            if isinstance(data, InvocationCompleted | InvocationFailed):
                row = _run_row(record.position, data)
                rows.append(row)
                tally.run(_measured(row), 1, record.position)
            elif isinstance(data, SessionStarted):
                tally.session(data.batch_id, record.position, 1)
            elif isinstance(data, GraphInvalid):
                if rows:
                    tx.executemany(_INSERT, rows)
                    rows = []
                _drop_session(tx, tally, data, record.position)
            elif record.tag in stats_totals.ENDINGS:
                tally.end(record.tag, record.recorded_at, record.position)
        if rows:
            tx.executemany(_INSERT, rows)
        if refs:
            tx.executemany(_INSERT_REF, refs)
        if uses:
            tx.executemany(_INSERT_USE, uses)
        tally.write(tx)

    # --- archiving ------------------------------------------------------------------------

    def snapshot(
        self, tx: ProjectionTransaction, horizon: int, previous: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The totals of every run (``previous`` is in them already: the tables keep them)."""
        return stats_totals.snapshot(tx)

    def forget(self, tx: ProjectionTransaction, horizon: int) -> None:
        """Drop the rows of archived runs, and the totals of archived batches; an artifact
        named below the horizon and again above keeps its first live position."""
        self._counted_through = None  # read again, as this transaction leaves it
        stats_totals.forget_batches(tx, horizon)
        # The live tables now stand as a rebuild restored from this snapshot would: the
        # totals count every run through the checkpoint the snapshot was taken at.
        tx.execute("DELETE FROM stats_restored")
        tx.execute(
            "INSERT INTO stats_restored (through) SELECT coalesce(max(position), 0) "
            "FROM projection_checkpoints WHERE name = 'stats'"
        )
        tx.execute("DELETE FROM stats_runs WHERE position < ?", (horizon,))
        tx.execute("DELETE FROM artifact_uses WHERE position < ?", (horizon,))
        tx.execute(
            "DELETE FROM artifact_refs WHERE position < ? AND NOT EXISTS "
            "(SELECT 1 FROM artifact_uses u WHERE u.sha256 = artifact_refs.sha256)",
            (horizon,),
        )
        tx.execute(
            "UPDATE artifact_refs SET position = (SELECT min(u.position) FROM artifact_uses u "
            "WHERE u.sha256 = artifact_refs.sha256) WHERE position < ?",
            (horizon,),
        )

    def restore(self, tx: ProjectionTransaction, state: dict[str, Any]) -> None:
        self._counted_through = None
        stats_totals.restore(tx, state)


def _run_row(position: int, data: InvocationCompleted | InvocationFailed) -> tuple[Any, ...]:
    m = data.measurement
    hit = isinstance(data, InvocationCompleted) and data.cached
    return (
        position,
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


# The part of a ``stats_runs`` row (``_INSERT``'s column order) the totals count.
_measured = operator.itemgetter(0, 2, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17)


def _drop_session(
    tx: ProjectionTransaction, tally: Tally, data: GraphInvalid, position: int
) -> None:
    """A session whose graph is invalid leaves the stats: its rows, and what they added."""
    for run in tx.fetchall(
        f"SELECT {RUN_COLUMNS} FROM stats_runs WHERE session_id = ?", (data.session_id,)
    ):
        tally.run(run, -1, position)
    tally.session(data.batch_id, position, -1)
    tx.execute("DELETE FROM stats_runs WHERE session_id = ?", (data.session_id,))


class StatsView:
    """Summaries per session, per batch and per node type, and sessions ended over time."""

    def __init__(self, store: Reads) -> None:
        self._store = store

    async def session(self, session_id: str) -> StatsSummary:
        return await self._summary("WHERE session_id = ?", (session_id,))

    async def batch(self, batch_id: str) -> StatsSummary:
        """From the batch's running totals (a p95 within a histogram bucket)."""
        return await stats_totals.summary(self._store, batch_id)

    async def node_types(self) -> StatsSummary:
        """From the running totals of every run, archived ones included."""
        return await stats_totals.summary(self._store, stats_totals.EVERY_RUN)

    async def cache_counts(self) -> tuple[int, int]:
        """Invocation cache hits and misses over every node run."""
        return await stats_totals.cache_counts(self._store)

    async def completions(self, limit: int) -> Completions:
        """Sessions ended per minute: the last ``limit`` minutes that had any."""
        return await stats_totals.completions(self._store, limit)

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
