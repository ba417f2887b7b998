"""``retention``: archiving the log, and a log that runs for a month under daily archives.

``archive_eps`` is an archive's events per second (planning, the gzip file written and
fsynced, the one transaction that forgets and deletes, the incremental vacuum), beside the
floor of ``eventsvc events export`` of the same rows in the same run (its pages and lines,
written to a file, as the command writes them), both the median over the daily archives of
the steady state below: at least 0.5 of it. ``archive_vs_sql_floor`` is the same rate beside
the SQL any archive must do beyond writing its file, with none of the Python of ours (the
export's read of the rows, the delete of their positions in one transaction, the incremental
vacuum that gives their pages back, the WAL truncated), run on a page-exact copy of the store
before each archive: what the archive's own Python and its compression cost.

The steady state simulates 30 days at 20,000 small sessions a day (batches of 100 sessions,
each session started, one node started and completed, the session completed), appended
straight through the store with the store's clock moved on instead of slept, and archives
what is older than 7 days at the end of every day. ``live_db_bytes`` and ``audit_live_s`` at
day 30 are printed with the day-8 figure as their floor (the first day a full week is live):
a log under retention stays the size of its retention, ratio at most 1.3 (the audit is the
best of three). Bytes per session, live and archived, follow. ``--quick`` runs the same days
at a tenth of the sessions.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

import anyio

from benches.common import Figure
from eventsvc import replay
from eventsvc.archive import ArchiveRequest, archive, plan
from eventsvc.audit import audit
from eventsvc.events import (
    BatchEnqueued,
    Event,
    InvocationCompleted,
    InvocationStarted,
    NodeMeasurement,
    SessionCompleted,
    SessionStarted,
)
from eventsvc.ids import batch_stream, session_stream
from eventsvc.projections.builtin import ProjectedStore, open_projected
from eventsvc.store import StoreOptions, archives
from eventsvc.store.sqlite import ARCHIVE_CACHE_KIB, free_pages_beyond_reserve
from eventsvc.testing import FakeClock

DAYS = 30
RETENTION_DAYS = 7
PER_BATCH = 100
TOGETHER = 10  # batches appended at once
DAY = 86_400.0
_READ = (
    "SELECT position, stream, version, event_id, tag, schema_version, recorded_at, data, "
    "metadata, hash FROM events WHERE position > ? ORDER BY position LIMIT ?"
)


async def bench_retention(directory: Path, sessions_per_day: int = 20_000) -> list[Figure]:
    clock = FakeClock()
    archive_dir = directory / "archives"
    options = StoreOptions(synchronous="NORMAL")
    figures: dict[str, Any] = {}
    # (archive, export) events per second of every daily archive: their medians are printed,
    # as one run on a shared machine says little.
    rates: list[tuple[float, float, float]] = []
    async with open_projected(f"sqlite://{directory}/retention.db", options=options,
                              clock=clock) as store:  # fmt: skip
        batches, spacing = 0, DAY / sessions_per_day
        for day in range(1, DAYS + 1):
            started = time.perf_counter()
            for _ in range(sessions_per_day // PER_BATCH // TOGETHER):
                ids = [f"d{day}-{batches + n}" for n in range(TOGETHER)]
                await append_batches(store, ids, clock, spacing)
                batches += TOGETHER
            request = ArchiveRequest(older_than=RETENTION_DAYS * DAY)
            export_s = await export_floor(store, directory, request, clock)
            sql_s = await archive_sql_floor(store, directory, request, clock)
            report = await archive(store, request, archive_dir, clock=clock)
            if report.events:
                rates.append(
                    (report.events / report.seconds, report.events / export_s,
                     report.events / sql_s)
                )  # fmt: skip
            if day in (RETENTION_DAYS + 1, DAYS):
                figures[f"day{day}"] = await measure(store)
            print(
                f"day {day:2d}: {sessions_per_day} sessions in "
                f"{time.perf_counter() - started:5.1f} s; archived {report.events} events "
                f"in {report.seconds:.2f} s (export {export_s:.2f} s, sql {sql_s:.2f} s); "
                f"live db {await store.size_bytes() / 1e6:7.1f} MB",
                flush=True,
            )
        markers = await archives.markers(store)
    archived_bytes = sum(m.bytes for m in markers)
    archived_sessions = sessions_per_day * (DAYS - RETENTION_DAYS)
    archive_eps = statistics.median(rate for rate, _, _ in rates)
    export_eps = statistics.median(rate for _, rate, _ in rates)
    sql_eps = statistics.median(rate for _, _, rate in rates)
    day8, day30 = figures[f"day{RETENTION_DAYS + 1}"], figures[f"day{DAYS}"]
    return [
        Figure("archive_eps", archive_eps, "events/s", export_eps, ">= 0.5"),
        Figure("archive_vs_sql_floor", archive_eps, "events/s", sql_eps),
        Figure("live_db_bytes", day30["bytes"], "bytes", day8["bytes"], "<= 1.3"),
        Figure("audit_live_s", day30["audit_s"], "s", day8["audit_s"], "<= 1.3"),
        Figure("live_bytes_per_session", day30["bytes"] / day30["sessions"], "bytes", None),
        Figure("archived_bytes_per_session", archived_bytes / archived_sessions, "bytes", None),
        Figure("live_events_day30", day30["events"], "events", day8["events"]),
        Figure("archived_events", sum(m.events for m in markers), "events", None),
    ]


async def append_batches(
    store: ProjectedStore, batch_ids: list[str], clock: FakeClock, spacing: float
) -> None:
    """Batches of small sessions, appended as services would (their sessions concurrently,
    so that group commit gathers them), ``spacing`` seconds apart on the store's clock
    (moved on, never slept)."""
    # Below 500: a commit group of more new streams than that fails in SQLite (too many terms
    # in the compound SELECT that looks their versions up); left to the store append work.
    limiter = anyio.CapacityLimiter(256)

    async def append(stream: str, events: list[Event]) -> None:
        async with limiter:
            await store.append(stream, events)

    async with anyio.create_task_group() as tg:
        for batch_id in batch_ids:
            enqueued = BatchEnqueued(
                queue_id="default", batch_id=batch_id, graph={"nodes": {}, "edges": []},
                session_count=PER_BATCH,
            )  # fmt: skip
            tg.start_soon(append, batch_stream(batch_id), [enqueued])
    async with anyio.create_task_group() as tg:
        for batch_id in batch_ids:
            for index in range(PER_BATCH):
                stream = session_stream(f"{batch_id}.{index}")
                tg.start_soon(append, stream, session_events(batch_id, index))
    clock.advance(spacing * PER_BATCH * len(batch_ids))


def session_events(batch_id: str, index: int) -> list[Event]:
    ids: dict[str, Any] = {
        "queue_id": "default", "batch_id": batch_id, "session_id": f"{batch_id}.{index}"
    }  # fmt: skip
    node: dict[str, Any] = {"node_id": "add", "source_node_id": "add", "node_type": "add",
                            "worker_id": "w1", **ids}  # fmt: skip
    measured = NodeMeasurement(wall_seconds=0.001 + index / 100_000, rss_before=1 << 26)
    return [
        SessionStarted(**ids, worker_id="w1"),
        InvocationStarted(**node),
        InvocationCompleted(**node, outputs={"value": index}, measurement=measured),
        SessionCompleted(**ids),
    ]


async def export_floor(
    store: ProjectedStore, directory: Path, request: ArchiveRequest, clock: FakeClock
) -> float:
    """Seconds ``eventsvc events export`` takes over the rows the archive of ``request``
    will move: its pages (``read_rows``, 1000 at a time) as its lines (``replay.row_lines``),
    written to a file."""
    planned, _ = await plan(store, request, clock.now_us())
    started = time.perf_counter()
    after = planned.first - 1
    with (directory / "export.ndjson").open("wb") as out:
        while after < planned.last:
            rows = await store.read_rows(after=after, limit=min(1000, planned.last - after))
            out.write(replay.row_lines(rows))
            after = rows[-1].position
    return time.perf_counter() - started


async def archive_sql_floor(
    store: ProjectedStore, directory: Path, request: ArchiveRequest, clock: FakeClock
) -> float:
    """Seconds of the SQL an archive of ``request`` must do beyond its file, on a page-exact
    copy of the store (so the store itself is left to the archive): the rows read in pages of
    1000, as the export pages them, straight through sqlite3 (the driver under aiosqlite),
    deleted by position range in one transaction with the page cache the archive's
    transaction gets, their pages given back by an incremental vacuum (beyond the store's
    reserve of free pages), and the WAL truncated;
    no projection's rows, no Python of ours. 0 when nothing is archived."""
    planned, _ = await plan(store, request, clock.now_us())
    if planned.horizon == planned.first:
        return 0.0
    copy = directory / "sql-floor.db"
    await anyio.to_thread.run_sync(_copy_pages, store.url.removeprefix("sqlite://"), copy)
    try:
        return await anyio.to_thread.run_sync(_archive_sql, copy, planned.first, planned.last)
    finally:
        await anyio.to_thread.run_sync(_remove, copy)


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _copy_pages(source: str, target: Path) -> None:
    """Copy a live store page by page, as one snapshot of it (sqlite3's backup)."""
    src, dst = sqlite3.connect(f"file:{source}?mode=ro", uri=True), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def _archive_sql(path: Path, first: int, last: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA cache_size = {ARCHIVE_CACHE_KIB}")
        started = time.perf_counter()
        after = first - 1
        while after < last:
            rows = conn.execute(_READ, (after, min(1000, last - after))).fetchall()
            after = rows[-1][0]
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM events WHERE position BETWEEN ? AND ?", (first, last))
        conn.execute("COMMIT")
        free_pages_beyond_reserve(conn)  # the store's own vacuum policy
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        return time.perf_counter() - started
    finally:
        conn.close()


async def measure(store: ProjectedStore) -> dict[str, float]:
    """The store's size, an audit of its live log, and the sessions and events it holds."""
    size = await store.size_bytes()
    head = await store.head()
    first = archives.first_live(await archives.markers(store))
    sessions = len(await store.query("SELECT session_id FROM queue_sessions"))
    seconds = float("inf")
    for _ in range(3):  # the best of three, as the replay bench times its audit
        started = time.perf_counter()
        report = await audit(store)
        seconds = min(seconds, time.perf_counter() - started)
        assert report.clean, report.findings[:5]
    return {"bytes": size, "audit_s": seconds, "events": head - first + 1, "sessions": sessions}
