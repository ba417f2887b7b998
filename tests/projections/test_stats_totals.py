"""The stats projection's running totals: equal to a summary of the runs they count, whatever
the pages, with invalid graphs subtracted; per minute of ended sessions; and kept whole
across an archive (snapshot, forget, restore, fold the live log)."""

from __future__ import annotations

import random
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eventsvc import events as ev
from eventsvc.events import RecordedEvent
from eventsvc.projections import stats_totals
from eventsvc.projections.runner import ddl_statements
from eventsvc.projections.stats import StatsProjection
from eventsvc.projections.stats_totals import TABLES
from eventsvc.stats import NodeRun, StatsSummary, duration_bucket, summarize
from eventsvc.store.sqlite import SqliteTransaction

T0 = datetime(2026, 1, 1, tzinfo=UTC)
IDS = {"queue_id": "default"}


class Tables:
    """The stats projection's tables in a private database, folded page by page."""

    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:", isolation_level=None)
        self.conn.execute("CREATE TABLE projection_checkpoints (name TEXT PRIMARY KEY, position)")
        for statement in ddl_statements(StatsProjection.schema):
            self.conn.execute(statement)
        self.tx = SqliteTransaction(self.conn)

    def fold(self, records: Sequence[RecordedEvent], pages: random.Random) -> None:
        projection, start = StatsProjection(), 0
        while start < len(records):
            size = pages.randint(1, 40)
            projection.apply(self.tx, records[start : start + size])
            start += size
        if records:
            self.conn.execute(
                "INSERT INTO projection_checkpoints VALUES ('stats', ?) "
                "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                (records[-1].position,),
            )

    def rows(self, table: str) -> list[tuple[Any, ...]]:
        return sorted(self.conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)

    async def summary(self, scope: str | None) -> StatsSummary:
        return await stats_totals.summary(_View(self.conn), "" if scope is None else scope)


class _View:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()

    async def exists(self, table: str) -> bool:
        return True


Traffic = tuple[list[RecordedEvent], list[NodeRun], list[NodeRun]]


def traffic(seed: int, batches: int = 6) -> Traffic:
    """Sessions of several batches, measured runs, some failures and invalid graphs; the runs
    a summary counts (an invalid graph's are left out), and every run seen."""
    rng = random.Random(seed)
    records: list[RecordedEvent] = []
    counted: list[NodeRun] = []
    seen: list[NodeRun] = []

    def record(data: ev.Event, at: datetime) -> None:
        records.append(
            RecordedEvent(
                position=len(records) + 1,
                stream="s",
                version=0,
                event_id=uuid.uuid4(),
                tag=type(data).__struct_config__.tag,  # type: ignore[arg-type]
                schema_version=1,
                data=data,
                recorded_at=round(at.timestamp() * 1_000_000),
                hash=b"",
            )
        )

    now = T0
    for b in range(batches):
        for s in range(rng.randint(1, 5)):
            ids = {**IDS, "batch_id": f"b{b}", "session_id": f"b{b}.{s}"}
            now += timedelta(seconds=rng.uniform(0, 50))
            record(ev.SessionStarted(**ids, worker_id="w"), now)
            runs = []
            for n in range(rng.randint(0, 4)):
                seconds = rng.choice([None, 0.0, rng.uniform(0.001, 3)])
                failed = rng.random() < 0.1
                measured = ev.NodeMeasurement(
                    started_at=now,
                    ended_at=now + timedelta(seconds=seconds or 0),
                    wall_seconds=seconds,
                    rss_before=rng.choice([None, rng.randint(1, 10**9)]),
                    rss_after=rng.choice([None, rng.randint(1, 10**9)]),
                    vram_peak=rng.choice([None, rng.randint(0, 10**10)]),
                )
                node = {"node_id": f"n{n}", "source_node_id": f"n{n}"}
                node_type = rng.choice(["add", "noise", "blur"])
                cached = rng.random() < 0.2
                data: ev.Event
                if failed:
                    data = ev.InvocationFailed(
                        **ids,
                        **node,
                        node_type=node_type,
                        error_type="E",
                        error_message="e",
                        measurement=measured,
                    )
                else:
                    data = ev.InvocationCompleted(
                        **ids,
                        **node,
                        node_type=node_type,
                        outputs={},
                        cached=cached,
                        measurement=measured,
                    )
                now += timedelta(seconds=seconds or 0, microseconds=1)  # starts differ
                record(data, now)
                runs.append(
                    NodeRun(
                        ids["session_id"],
                        ids["batch_id"],
                        node["node_id"],
                        node_type,
                        seconds,
                        measured.started_at,
                        measured.ended_at,
                        measured.rss_before,
                        measured.rss_after,
                        measured.vram_peak,
                        failed,
                        cached and not failed,
                    )
                )
            seen += runs
            if rng.random() < 0.15:
                record(ev.GraphInvalid(**ids, problems=[]), now)
                record(ev.SessionFailed(**ids, error_type="GraphInvalid", error_message="x"), now)
                continue
            end = rng.choice(
                [
                    ev.SessionCompleted(**ids),
                    ev.SessionCanceled(**ids),
                    ev.SessionFailed(**ids, error_type="E", error_message="e"),
                ]
            )
            record(end, now)
            counted += runs
    return records, counted, seen


def assert_same(totals: StatsSummary, exact: StatsSummary, seen: StatsSummary) -> None:
    """``totals`` count the runs ``exact`` summarizes; the extremes (the span of time the runs
    covered, the memory first and last read) keep what was ``seen``."""
    by_type = {t.node_type: t for t in exact.node_types}
    highest = {t.node_type: t.max_vram for t in seen.node_types}
    assert [t.node_type for t in totals.node_types] == sorted(by_type)
    for got in totals.node_types:
        want = by_type[got.node_type]
        assert (got.calls, got.cache_hits, got.failures) == (
            want.calls,
            want.cache_hits,
            want.failures,
        )
        assert (got.max_vram, got.ram_change) == (highest[got.node_type], want.ram_change)
        assert got.total_seconds == pytest.approx(want.total_seconds, abs=1e-5)
        assert got.mean_seconds == pytest.approx(want.mean_seconds, abs=1e-5)
        # Within one bucket of the histogram (an eighth of an octave), or both (near) zero.
        assert got.p95_seconds == pytest.approx(want.p95_seconds, rel=0.1, abs=1e-6)
    assert totals.execution_seconds == pytest.approx(exact.execution_seconds, abs=1e-4)
    assert totals.wall_seconds == pytest.approx(seen.wall_seconds)
    assert (totals.ram_in_use, totals.ram_change) == (seen.ram_in_use, seen.ram_change)


def started(records: Sequence[RecordedEvent], tag: str = "session.started") -> set[str]:
    return {r.data.session_id for r in records if r.tag == tag}  # type: ignore[attr-defined]


@pytest.mark.anyio
@pytest.mark.parametrize("seed", range(8))
async def test_the_totals_equal_a_summary_of_the_runs_whatever_the_pages(seed: int) -> None:
    records, counted, seen = traffic(seed)
    tables = Tables()
    tables.fold(records, random.Random(seed))
    assert_same(await tables.summary(None), summarize(counted), summarize(seen))
    for batch_id in {run.batch_id for run in counted}:
        runs = [run for run in counted if run.batch_id == batch_id]
        all_runs = summarize(run for run in seen if run.batch_id == batch_id)
        assert_same(await tables.summary(batch_id), summarize(runs), all_runs)
    # Another paging gives exactly the same rows.
    again = Tables()
    again.fold(records, random.Random(seed + 100))
    for table in TABLES:
        assert again.rows(table) == tables.rows(table), table


@pytest.mark.anyio
async def test_an_invalid_graph_takes_its_runs_and_its_session_back() -> None:
    records, counted, _ = traffic(3)
    invalid = started(records, "graph.invalid")
    assert invalid, "the traffic has an invalid graph"
    tables = Tables()
    tables.fold(records, random.Random(1))
    assert (await tables.summary(None)).sessions == len(started(records) - invalid)
    assert sum(t.calls for t in (await tables.summary(None)).node_types) == len(counted)


def test_sessions_ended_are_counted_per_minute_by_status() -> None:
    records, _, _ = traffic(5)
    tables = Tables()
    tables.fold(records, random.Random(2))
    expected: dict[int, list[int]] = {}
    for r in records:
        if (
            column := {"session.completed": 0, "session.failed": 1, "session.canceled": 2}.get(
                r.tag
            )
        ) is not None:
            expected.setdefault(r.recorded_at // 60_000_000, [0, 0, 0])[column] += 1
    assert tables.rows("stats_completions") == sorted(
        ((m, *n) for m, n in expected.items()), key=repr
    )


def horizons(records: Sequence[RecordedEvent]) -> Iterator[int]:
    """Positions no batch straddles: the first event of each batch after the first."""
    seen: set[str] = set()
    for r in records:
        batch_id = getattr(r.data, "batch_id", None)
        if batch_id is not None and batch_id not in seen:
            seen.add(batch_id)
            if len(seen) > 1:
                yield r.position


@pytest.mark.anyio
@pytest.mark.parametrize("seed", range(4))
async def test_totals_survive_an_archive_and_a_rebuild_from_its_snapshot(seed: int) -> None:
    records, _, _ = traffic(seed, batches=8)
    horizon = list(horizons(records))[3]
    live = Tables()
    head = horizon + (len(records) - horizon) // 2  # the fold is past the horizon when archiving
    live.fold(records[:head], random.Random(seed))
    before = await live.summary(None)
    projection = StatsProjection()
    state = projection.snapshot(live.tx, horizon, None)
    projection.forget(live.tx, horizon)
    assert live.conn.execute(
        "SELECT count(*) FROM stats_runs WHERE position < ?", (horizon,)
    ).fetchone() == (0,)
    assert await live.summary(None) == before  # every run is still counted
    assert live.conn.execute("SELECT count(*) FROM stats_types WHERE scope = 'b0'").fetchone() == (
        0,
    )
    live.fold(records[head:], random.Random(seed))

    rebuilt = Tables()
    projection.restore(rebuilt.tx, state)
    rebuilt.fold([r for r in records if r.position >= horizon], random.Random(seed + 1))
    for table in TABLES:
        if table != "stats_restored":
            assert rebuilt.rows(table) == live.rows(table), table
    assert rebuilt.rows("stats_runs") == live.rows("stats_runs")


def test_duration_buckets_are_an_eighth_of_an_octave() -> None:
    assert duration_bucket(1.0) == 0
    assert duration_bucket(2.0) == 8
    assert duration_bucket(0.5) == -8
    assert duration_bucket(0.0) == duration_bucket(-1.0)
