"""Replay: rebuilds equal the incremental projections, the log as of a past position, and the
log moved between stores as NDJSON."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest

from eventsvc import replay
from eventsvc.audit import audit
from eventsvc.chain import StoredRow
from eventsvc.errors import ImportRejectedError, NotFoundError, StoreError
from eventsvc.events import BatchCanceled, QueuePaused
from eventsvc.projections.builtin import builtin_projections
from eventsvc.projections.runner import checkpoint, checkpoints
from eventsvc.store import open_store
from eventsvc.store.sqlite import SqliteEventStore
from eventsvc.testing import FakeClock, append_traffic, batch_enqueued, session_started

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def projected(url: str, clock: FakeClock | None = None) -> AsyncIterator[SqliteEventStore]:
    """A writable file store folding the built-in projections."""
    async with open_store(url, clock=clock or FakeClock()) as store:
        assert isinstance(store, SqliteEventStore)
        for projection in builtin_projections():
            await store.register(projection)
        yield store


async def dump(store: SqliteEventStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every projection table, in a stable order."""
    tables = [table for projection in builtin_projections() for table in projection.tables]
    return {
        table: sorted(await store.query(f"SELECT * FROM {table}"), key=repr) for table in tables
    }


# --- rebuild ------------------------------------------------------------------------------


async def test_a_rebuild_of_100k_events_equals_the_incremental_projections(
    tmp_path: Path,
) -> None:
    url = f"sqlite://{tmp_path}/e.db?synchronous=OFF"
    async with projected(url) as store:
        appended = await append_traffic(store, 100_000)
        head = await store.head()
        assert head == appended >= 100_000
        incremental = await dump(store)
        # The traffic is realistic: canceled batches, retried sessions, every node measured.
        batches = incremental["queue_batches"]
        assert len(batches) == len({row[0] for row in batches}) > 200
        assert any(row[6] is not None for row in batches)  # canceled_at
        assert any(row[7] == 2 for row in incremental["queue_sessions"])  # attempt
        assert len(incremental["stats_runs"]) > 30_000
        # Damage the live tables behind the store's back, so only a real rebuild repairs them.
        with sqlite3.connect(tmp_path / "e.db") as conn:
            conn.execute("DELETE FROM stats_runs WHERE position % 2 = 0")
            conn.execute("UPDATE queue_batches SET n_completed = 0, cursor = 0")
            conn.execute("DELETE FROM queue_sessions WHERE attempt = 2")
        assert await dump(store) != incremental
        rebuilt = await replay.rebuild(store, replay.projection_names(None, every=True))
        assert (rebuilt.names, rebuilt.position) == (("queue", "stats"), head)
        assert rebuilt.seconds > 0
        assert await dump(store) == incremental
        assert await checkpoints(store) == {"queue": head, "stats": head}
    async with open_store(url, read_only=True) as reader:
        assert isinstance(reader, SqliteEventStore)
        report = await audit(reader)
    assert (report.findings, report.events) == ([], head)


def test_projection_names_are_the_built_in_ones() -> None:
    assert replay.projection_names(None, every=True) == ["queue", "stats"]
    assert replay.projection_names("stats", every=False) == ["stats"]
    with pytest.raises(NotFoundError, match=r"^no projection 'nope' \(known: 'queue', 'stats'\)$"):
        replay.projection_names("nope", every=False)


# --- time travel --------------------------------------------------------------------------


async def test_the_log_as_of_a_past_position_gives_the_summary_it_had_then(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    async with projected(f"sqlite://{tmp_path}/e.db?synchronous=OFF", clock) as store:
        await append_traffic(store, 3000)
        then_position = await store.head()
        then = await replay.summary(store)
        clock.advance(60)
        await store.append("batch-late", [batch_enqueued("late", sessions=3)])
        await store.append("session-late.0", [session_started("late.0")])
        await store.append(
            "batch-traffic-0", [BatchCanceled(queue_id="default", batch_id="traffic-0")]
        )
        await store.append("queue-default", [QueuePaused(queue_id="default")])
        head = await store.head()
        now = await replay.summary(store)
        assert (then.position, now.position) == (then_position, head)
        assert [q.paused for q in now.queues] == [True] != [q.paused for q in then.queues]
        assert len(now.batches) == len(then.batches) + 1
        assert then.recorded_at is not None
        assert now.recorded_at == then.recorded_at + 60_000_000
        live, folded = await dump(store), await checkpoints(store)

        async with replay.as_of(store, then_position) as past:
            assert await replay.summary(past) == then
            assert await past.head() == then_position
        async with replay.as_of(store, head) as past:
            assert await replay.summary(past) == now
        async with replay.as_of(store, 0) as past:
            empty = await replay.summary(past)
        assert (empty.position, empty.recorded_at, empty.queues, empty.batches) == (0, None, [], [])

        # The live projections were left alone.
        assert await store.head() == head
        assert await checkpoints(store) == folded
        assert await dump(store) == live
        assert await replay.summary(store) == now


async def test_a_position_beyond_the_head_is_not_in_the_log(tmp_path: Path) -> None:
    async with projected(f"sqlite://{tmp_path}/e.db") as store:
        await store.append("batch-b1", [batch_enqueued()])
        for position in (2, -1):
            with pytest.raises(NotFoundError) as caught:
                async with replay.as_of(store, position):
                    pass
            assert str(caught.value) == f"position {position} is not in the log (its head is 1)"


async def test_copy_log_stops_at_the_position_it_is_given(tmp_path: Path) -> None:
    async with projected(f"sqlite://{tmp_path}/e.db") as store, replay.scratch_store() as scratch:
        await append_traffic(store, 500, sessions_per_batch=5)
        assert await replay.copy_log(store, scratch, to_position=123) == 123
        assert await scratch.read_rows(limit=10_000) == await store.read_rows(limit=123)
        assert await checkpoints(scratch) == {"queue": 123, "stats": 123}


# --- export and import --------------------------------------------------------------------


async def exported(store: SqliteEventStore, after: int = 0) -> list[bytes]:
    """The export's lines, as a file would give them."""
    return b"".join([page async for page in replay.export_rows(store, after)]).splitlines(True)


async def test_an_export_imports_into_an_empty_store_exactly(tmp_path: Path) -> None:
    async with (
        projected(f"sqlite://{tmp_path}/a.db") as source,
        projected(f"sqlite://{tmp_path}/b.db") as target,
    ):
        await append_traffic(source, 2500, sessions_per_batch=10)
        lines = await exported(source)
        assert len(lines) == await source.head()
        # More than one page, so the import goes in several transactions.
        assert await replay.import_rows(target, replay.parse_export(lines)) == (len(lines),) * 2
        assert await target.read_rows(limit=10_000) == await source.read_rows(limit=10_000)
        assert await dump(target) == await dump(source)
        assert await replay.import_rows(target, replay.parse_export(lines)) == (len(lines), 0)
        assert await target.head() == len(lines)
        assert (await audit(target)).anchor == (await audit(source)).anchor


async def test_an_export_after_a_position_cannot_start_an_empty_log(tmp_path: Path) -> None:
    async with (
        projected(f"sqlite://{tmp_path}/a.db") as source,
        projected(f"sqlite://{tmp_path}/b.db") as target,
    ):
        await append_traffic(source, 100, sessions_per_batch=5)
        later = await exported(source, after=40)
        [first, *_] = next(replay.parse_export(later))
        assert (first.position, len(later)) == (41, await source.head() - 40)
        with pytest.raises(ImportRejectedError) as caught:
            await replay.import_rows(target, replay.parse_export(later))
        assert caught.value.position == 41
        assert "position 41" in str(caught.value)
        assert await target.head() == 0
        # It continues a log holding the first 40 events.
        earlier = await source.read_rows(limit=40)
        assert await target.import_rows(earlier) == 40
        assert await replay.import_rows(target, replay.parse_export(later)) == (len(later),) * 2
        assert await target.read_rows(limit=1000) == await source.read_rows(limit=1000)


async def test_a_tampered_row_is_refused_and_nothing_of_its_call_is_stored(
    tmp_path: Path,
) -> None:
    async with (
        projected(f"sqlite://{tmp_path}/a.db") as source,
        projected(f"sqlite://{tmp_path}/b.db") as target,
    ):
        await append_traffic(source, 200, sessions_per_batch=5)
        rows = await source.read_rows(limit=1000)
        data = rows[99].data.replace(b'"queue_id":"default"', b'"queue_id":"forged"')
        tampered = msgspec.structs.replace(rows[99], data=data)
        assert tampered.data != rows[99].data
        forged = [*rows[:99], tampered, *rows[100:]]
        with pytest.raises(ImportRejectedError) as caught:
            await target.import_rows(forged)
        assert caught.value.position == 100
        assert str(caught.value) == (
            "cannot import the event at position 100: hash does not chain to the previous event"
        )
        assert (await target.head(), await target.read_rows()) == (0, [])
        assert [await checkpoint(target, name) for name in ("queue", "stats")] == [0, 0]
        assert await dump(target) == {table: [] for table in await dump(target)}
        # The store still takes the genuine log afterwards.
        assert await target.import_rows(rows) == len(rows)


async def test_a_different_log_is_refused_at_the_first_position_it_differs(
    tmp_path: Path,
) -> None:
    async with (
        projected(f"sqlite://{tmp_path}/a.db") as source,
        projected(f"sqlite://{tmp_path}/b.db") as target,
    ):
        await append_traffic(source, 60, sessions_per_batch=5)
        rows = await source.read_rows()
        await target.import_rows(rows[:10])
        await target.append("batch-other", [batch_enqueued("other")])
        head = await target.head()
        with pytest.raises(ImportRejectedError) as caught:
            await target.import_rows(rows)
        assert caught.value.position == 11
        assert "this log holds another event at that position" in str(caught.value)
        assert await target.head() == head == 11


def test_a_malformed_line_is_named_by_its_number() -> None:
    row = StoredRow(1, "s", 0, "e", "t", 1, 0, b"{}", b"{}", bytes(32))
    fields = msgspec.structs.asdict(row) | {"data": "{}", "metadata": "{}", "hash": "00" * 32}
    good = msgspec.json.encode(replay.ExportedRow(**fields)) + b"\n"
    assert list(replay.parse_export([good, b"\n", good])) == [[row, row]]
    for bad in (b"{not json\n", b'{"position": "one"}\n', good.replace(b'"00', b'"zz')):
        with pytest.raises(StoreError, match=r"^log\.ndjson, line 3: not an exported event: "):
            list(replay.parse_export([good, b"\n", bad, good], source="log.ndjson"))
