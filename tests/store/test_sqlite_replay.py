"""What the SQLite store does for replay: rebuilds and imports beside appends in flight,
snapshots that stay put."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from eventsvc import replay
from eventsvc.errors import NotFoundError, StoreError
from eventsvc.projections.runner import checkpoints
from eventsvc.store import AppendResult
from eventsvc.store.sqlite import SqliteEventStore
from eventsvc.testing import append_traffic, batch_enqueued, memory_store
from tests.test_replay import dump, projected

pytestmark = pytest.mark.anyio

APPENDS = 100


async def assert_nothing_lost(store: SqliteEventStore, results: list[AppendResult]) -> None:
    """Every append landed once, the log is dense and chains (a copy re-verifies it), the
    projections are at the head and equal a fresh fold of the whole log."""
    head = await store.head()
    rows = await store.read_rows(limit=1_000_000)
    assert [row.position for row in rows] == list(range(1, head + 1))
    streams = {row.stream for row in rows}
    assert {result.stream for result in results} <= streams
    assert len({result.first_position for result in results}) == len(results)
    assert await checkpoints(store) == {"queue": head, "stats": head}
    async with replay.scratch_store() as fresh:
        assert await replay.copy_log(store, fresh) == head
        assert await dump(store) == await dump(fresh)


async def append_batches(
    store: SqliteEventStore, names: range, results: list[AppendResult]
) -> None:
    async def append(number: int) -> None:
        event = batch_enqueued(f"late-{number}", sessions=2)
        results.append(await store.append(f"batch-late-{number}", [event]))

    async with anyio.create_task_group() as tg:
        for number in names:
            tg.start_soon(append, number)


async def test_a_rebuild_waits_for_appends_in_flight_and_they_wait_for_it(
    tmp_path: Path,
) -> None:
    async with projected(f"sqlite://{tmp_path}/e.db?synchronous=OFF") as store:
        await append_traffic(store, 20_000)
        before = await store.head()
        results: list[AppendResult] = []
        rebuilt: list[int] = []

        async def rebuild() -> None:
            rebuilt.append(await store.rebuild("queue", "stats"))

        with anyio.fail_after(60):
            # Appends first: the rebuild waits for the commit in flight.
            async with anyio.create_task_group() as tg:
                tg.start_soon(append_batches, store, range(APPENDS), results)
                await anyio.wait_all_tasks_blocked()
                tg.start_soon(rebuild)
            # The rebuild saw the log at a commit boundary.
            assert rebuilt[0] in {before} | {result.last_position for result in results}
            middle = await store.head()
            assert middle == before + APPENDS
            # The rebuild first: appends arriving meanwhile wait for it, then commit.
            async with anyio.create_task_group() as tg:
                tg.start_soon(rebuild)
                await anyio.wait_all_tasks_blocked()
                tg.start_soon(append_batches, store, range(APPENDS, 2 * APPENDS), results)
        assert rebuilt[1] == middle
        assert sorted(r.first_position for r in results) == list(
            range(before + 1, before + 2 * APPENDS + 1)
        )
        assert await store.head() == before + 2 * APPENDS
        [(batches,)] = await store.query(
            "SELECT count(*) FROM queue_batches WHERE batch_id LIKE 'late-%'"
        )
        assert batches == 2 * APPENDS
        await assert_nothing_lost(store, results)


async def test_an_import_waits_for_appends_in_flight_and_they_wait_for_it(
    tmp_path: Path,
) -> None:
    async with (
        projected(f"sqlite://{tmp_path}/source.db?synchronous=OFF") as source,
        projected(f"sqlite://{tmp_path}/target.db?synchronous=OFF") as target,
    ):
        await append_traffic(source, 3000, sessions_per_batch=10)
        rows = await source.read_rows(limit=1_000_000)
        results: list[AppendResult] = []
        imported: list[int] = []

        async def import_rows() -> None:
            imported.append(await target.import_rows(rows))

        with anyio.fail_after(60):
            # The import first: appends arriving meanwhile wait, then chain onto its rows.
            async with anyio.create_task_group() as tg:
                tg.start_soon(import_rows)
                await anyio.wait_all_tasks_blocked()
                tg.start_soon(append_batches, target, range(APPENDS), results)
            assert imported == [len(rows)]
            assert min(r.first_position for r in results) == len(rows) + 1
            # Appends first, then the same rows again: nothing new, nothing in the way.
            async with anyio.create_task_group() as tg:
                tg.start_soon(append_batches, target, range(APPENDS, 2 * APPENDS), results)
                await anyio.wait_all_tasks_blocked()
                tg.start_soon(import_rows)
        assert imported == [len(rows), 0]
        assert await target.read_rows(limit=len(rows)) == rows
        assert await target.head() == len(rows) + 2 * APPENDS
        await assert_nothing_lost(target, results)
        # The imported streams' versions are known to later appends.
        last = rows[-1]
        appended = await target.append(last.stream, [batch_enqueued("again")], last.version)
        assert appended.version == last.version + 1


async def test_rebuilding_an_unknown_projection_names_the_known_ones(tmp_path: Path) -> None:
    async with projected(f"sqlite://{tmp_path}/e.db") as store:
        await store.append("batch-b1", [batch_enqueued()])
        with pytest.raises(NotFoundError) as caught:
            await store.rebuild("queue", "nope")
        assert str(caught.value) == "no projection 'nope' (known: 'queue', 'stats')"
        # Nothing was held: the store still appends and rebuilds.
        await store.append("batch-b2", [batch_enqueued("b2")])
        assert await store.rebuild("queue") == 2


async def test_a_snapshot_does_not_see_later_commits(tmp_path: Path) -> None:
    async with projected(f"sqlite://{tmp_path}/e.db") as store:
        await store.append("batch-b1", [batch_enqueued("b1")])
        async with store.snapshot() as snapshot:
            assert snapshot.read_only
            await store.append("batch-b2", [batch_enqueued("b2")])
            await store.rebuild("queue")
            assert await store.head() == 2
            assert await snapshot.head() == 1
            assert [row.position for row in await snapshot.read_rows()] == [1]
            assert await checkpoints(snapshot) == {"queue": 1, "stats": 1}
            assert await snapshot.query("SELECT batch_id FROM queue_batches") == [("b1",)]
            with pytest.raises(StoreError, match="read-only"):
                await snapshot.append("batch-b3", [batch_enqueued("b3")])
        async with store.snapshot() as later:
            assert await later.head() == 2
            assert sorted(await later.query("SELECT batch_id FROM queue_batches")) == [
                ("b1",),
                ("b2",),
            ]


async def test_the_memory_store_has_no_snapshots() -> None:
    async with memory_store() as store:
        assert isinstance(store, SqliteEventStore)
        with pytest.raises(StoreError, match="no snapshots"):
            async with store.snapshot():
                pass
