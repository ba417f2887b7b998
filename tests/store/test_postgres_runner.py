"""What runs beside the PostgreSQL log: the projections' runners (one per projection across all
processes, by lease), rebuilds, audit and import in the same database, and artifacts."""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import anyio
import asyncpg
import pytest

from eventsvc import replay
from eventsvc.audit import Finding, audit
from eventsvc.chain import verify_chain
from eventsvc.errors import NotFoundError, StoreError
from eventsvc.events import BatchReprioritized, RecordedEvent
from eventsvc.projections import ProjectionTransaction
from eventsvc.projections.builtin import projected
from eventsvc.projections.runner import checkpoint, checkpoints
from eventsvc.store import StoreOptions, Subscription, open_store
from eventsvc.store.postgres import PostgresEventStore
from eventsvc.store.sqlite import SqliteEventStore
from eventsvc.testing import FakeClock, append_traffic, batch_enqueued, session_started
from tests.backends import PostgresBackend, fresh_schema
from tests.postgres import (
    FAST,
    STEADY,
    fold_differences,
    lease_holders,
    projected_store,
    watching,
)

pytestmark = pytest.mark.anyio

# Failover must happen within this many lease periods.
PERIODS = 4


@pytest.fixture
def schema() -> Iterator[PostgresBackend]:
    with fresh_schema() as fresh:
        yield fresh


async def enqueue(store: PostgresEventStore, batch_id: str, sessions: int = 3) -> int:
    """One ``batch.enqueued`` of a batch never seen before; its position."""
    result = await store.append(f"batch-{batch_id}", [batch_enqueued(batch_id, sessions=sessions)])
    return result.last_position


async def side_traffic(store: PostgresEventStore, batches: int) -> None:
    """Batches of their own (not ``append_traffic``'s ids), each with a started session."""
    for n in range(batches):
        await enqueue(store, f"side-{n}", sessions=2)
        await store.append(f"session-side-{n}.0", [session_started(f"side-{n}.0")])


async def queued(store: PostgresEventStore, batch_id: str) -> bool:
    rows = await store.query("SELECT batch_id FROM queue_batches WHERE batch_id = ?", (batch_id,))
    return rows == [(batch_id,)]


class Seen:
    """A projection of the positions and streams of ``batch.enqueued`` events. A page holding
    ``stall_on`` blocks its fold (once) until ``release`` is set; one holding ``fail_on``
    raises ``fail_with`` (once)."""

    name = "seen"
    # No key: a page folded twice shows as twice the rows.
    schema = "CREATE TABLE IF NOT EXISTS seen (position INTEGER NOT NULL, stream TEXT NOT NULL)"
    tables = ("seen",)
    tags = frozenset({"batch.enqueued"})
    reads_own_tables = False

    def __init__(
        self,
        stall_on: str | None = None,
        fail_on: str | None = None,
        fail_with: Exception | None = None,
    ) -> None:
        self.stall_on, self.fail_on, self.fail_with = stall_on, fail_on, fail_with
        self.entered = threading.Event()
        self.release = threading.Event()
        self.failed = False

    def apply(self, tx: ProjectionTransaction, events: Sequence[RecordedEvent]) -> None:
        rows = [(e.position, e.stream) for e in events if e.tag == "batch.enqueued"]
        streams = {stream for _, stream in rows}
        if self.stall_on in streams and not self.entered.is_set():
            self.entered.set()
            self.release.wait(20)  # a bound, so a failing test still ends
        tx.executemany("INSERT INTO seen (position, stream) VALUES (?, ?)", rows)
        if self.fail_on in streams and not self.failed:
            self.failed = True
            assert self.fail_with is not None
            raise self.fail_with


class LoopSeen(Seen):
    """``Seen``, declared ``nonblocking``; a page holding ``reads_on`` reads its own table.
    Notes which thread folded each page (``threads``: True on the event loop's)."""

    nonblocking = True

    def __init__(self, reads_on: str) -> None:
        super().__init__()
        self.reads_on = reads_on
        self.threads: list[tuple[int, bool]] = []

    def apply(self, tx: ProjectionTransaction, events: Sequence[RecordedEvent]) -> None:
        if any(e.stream == self.reads_on for e in events):
            tx.fetchall("SELECT count(*) FROM seen")
        super().apply(tx, events)
        self.threads.append((events[-1].position, threading.current_thread() is MAIN))


MAIN = threading.main_thread()


async def test_a_nonblocking_fold_runs_on_the_loop_until_it_reads_and_folds_each_page_once(
    schema: PostgresBackend,
) -> None:
    seen = LoopSeen(reads_on="batch-reads")
    async with projected_store(schema, projections=[seen]) as store:
        positions = []
        for batch_id in ("first", "reads", "after", "later"):
            positions.append(await enqueue(store, batch_id))
            await store.wait_for_projections(positions[-1])
        # A page that only writes folds on the loop; the one that reads is tried there, then
        # folded again in a thread; the page after a read goes to a thread at once, and the
        # next one to the loop again.
        assert seen.threads == [
            (positions[0], True),
            (positions[1], False),
            (positions[2], False),
            (positions[3], True),
        ]
        rows = await store.query("SELECT position, stream FROM seen ORDER BY 1")
        assert rows == [
            (p, f"batch-{b}")
            for p, b in zip(positions, ("first", "reads", "after", "later"), strict=True)
        ]


# A page interval no test run outlasts (a third of the lease caps it).
PACED = StoreOptions(
    sealer_lease=60, poll_interval=0.02, seal_timeout=10, projection_page_interval=20
)


class PagesSeen(Seen):
    """``Seen``, noting the positions of each page it folds."""

    def __init__(self) -> None:
        super().__init__()
        self.pages: list[list[int]] = []

    def apply(self, tx: ProjectionTransaction, events: Sequence[RecordedEvent]) -> None:
        super().apply(tx, events)
        self.pages.append([e.position for e in events])


async def test_a_runner_gathers_a_trickle_of_events_into_one_page_until_a_caller_here_waits(
    schema: PostgresBackend,
) -> None:
    seen = PagesSeen()
    async with projected_store(schema, PACED, projections=[seen]) as store:
        first = await enqueue(store, "first")  # an idle runner folds it at once
        await store.wait_for_projections(first)
        trickle = [await enqueue(store, f"trickle-{n}") for n in range(3)]
        await store.wait_for_projections(trickle[-1])  # the pacing runner goes on at once
        assert seen.pages == [[first], trickle]


async def test_a_caller_in_another_process_starts_a_pacing_runners_next_page_at_once(
    schema: PostgresBackend,
) -> None:
    seen = PagesSeen()
    async with projected_store(schema, PACED, projections=[seen]) as runner:
        first = await enqueue(runner, "first")
        await runner.wait_for_projections(first)  # this store holds the runner's lease
        async with projected_store(schema, PACED, projections=[Seen()]) as other:
            trickle = [await enqueue(runner, f"trickle-{n}") for n in range(3)]
            # Paced for a third of a minute, unless the other process's notice wakes it.
            with anyio.fail_after(10):
                await other.wait_for_projections(trickle[-1])
        assert seen.pages == [[first], trickle]


async def test_an_audit_compares_a_projection_that_lags_behind_the_head_while_it_reads_on(
    schema: PostgresBackend,
) -> None:
    async with projected_store(schema, PACED) as store:
        first = await enqueue(store, "first")
        await store.wait_for_projections(first)
        await enqueue(store, "unfolded")  # the runner paces itself: nobody waits for it
        # The checkpoints lie inside the log: each projection is compared there, while the
        # next page of the log is being read from the same snapshot.
        assert await checkpoint(store, "queue") == first < await store.head()
        report = await audit(store)
        assert report.findings == []


# --- one runner per projection ---------------------------------------------------------------


async def test_two_stores_run_each_projection_once_and_wait_for_appends_through_either(
    schema: PostgresBackend,
) -> None:
    with (
        watching("eventsvc.projections", "running projection") as started,
        watching("eventsvc.projections", "stopped") as stopped,
    ):
        async with (
            projected_store(schema, STEADY) as first,
            projected_store(schema, STEADY) as second,
        ):
            for writer, other, batch_id in ((first, second, "one"), (second, first, "two")):
                position = await enqueue(writer, batch_id)
                with anyio.fail_after(10):
                    await other.wait_for_projections(position)
                assert await queued(other, batch_id)
                await writer.wait_for_projections(position)
                assert await queued(writer, batch_id)
            async with anyio.create_task_group() as tg:
                tg.start_soon(append_traffic, first, 1000)
                tg.start_soon(side_traffic, second, 30)
            head = await first.head()
            with anyio.fail_after(10):
                await first.wait_for_projections(head)
                await second.wait_for_projections(head)
            assert await checkpoint(first, "queue") == await checkpoint(second, "stats") == head
            assert await fold_differences(second) == {}
            holders = await lease_holders(schema)
    # Each projection was taken once, by one of the two, and never changed hands.
    assert sorted(started.messages) == ["running projection queue", "running projection stats"]
    assert stopped.messages == []
    for name in ("projection:queue", "projection:stats"):
        epoch, holder = holders[name]
        assert epoch == 1
        assert holder in (first.holder, second.holder)


async def test_a_store_that_polls_rarely_is_woken_by_the_runners_checkpoints(
    schema: PostgresBackend,
) -> None:
    async with projected_store(schema) as runner:
        await runner.wait_for_projections(await enqueue(runner, "b1"))  # it holds both leases
        sleepy = StoreOptions(sealer_lease=FAST.sealer_lease, poll_interval=10, seal_timeout=10)
        async with projected_store(schema, sleepy) as waiter:
            for batch_id in ("b2", "b3"):
                position = await enqueue(runner, batch_id)
                with anyio.fail_after(3):  # far within its poll: the NOTIFY woke it
                    await waiter.wait_for_projections(position)
                assert await queued(waiter, batch_id)


async def test_a_position_beyond_the_head_or_an_unknown_projection_is_not_found(
    schema: PostgresBackend,
) -> None:
    async with projected_store(schema) as store:
        await store.wait_for_projections(0)  # an empty log has nothing to wait for
        position = await enqueue(store, "b1")
        await store.wait_for_projections(position)
        with pytest.raises(NotFoundError, match=r"^position 2 is beyond the log's head \(1\)$"):
            await store.wait_for_projections(position + 1)
        with pytest.raises(NotFoundError, match=r"^no projection 'nope' \(known: 'queue', 'stats'"):
            await store.rebuild("queue", "nope")
        # Refused before anything was dropped.
        assert await queued(store, "b1")
        assert [await checkpoint(store, name) for name in ("queue", "stats")] == [1, 1]


async def test_closing_the_store_that_runs_the_projections_hands_them_to_the_other(
    schema: PostgresBackend,
) -> None:
    async with projected_store(schema) as first:
        # Only the first competes yet: once it has folded, it holds both leases.
        await first.wait_for_projections(await enqueue(first, "b1"))
        async with projected_store(schema) as second:
            await second.wait_for_projections(await enqueue(second, "b2"))
            holders = await lease_holders(schema)
            assert holders["projection:queue"] == holders["projection:stats"] == (1, first.holder)
            await first.aclose()
            position = await enqueue(second, "b3")
            with anyio.fail_after(PERIODS * FAST.sealer_lease):
                await second.wait_for_projections(position)
            holders = await lease_holders(schema)
            assert holders["projection:queue"] == holders["projection:stats"] == (2, second.holder)
            assert await queued(second, "b3")
            assert await fold_differences(second) == {}


async def test_a_runner_whose_connection_is_killed_mid_page_is_replaced_and_folds_it_once(
    schema: PostgresBackend,
) -> None:
    stalling = Seen(stall_on="batch-killed")
    async with projected_store(schema, projections=[stalling]) as first:
        await first.wait_for_projections(await enqueue(first, "before"))
        async with projected_store(schema, projections=[Seen()]) as second:
            try:
                position = await enqueue(second, "killed")
                assert await anyio.to_thread.run_sync(stalling.entered.wait, 10)
                [(killed,)] = await schema.fetch(
                    "SELECT pg_terminate_backend(holder_pid) FROM leases "
                    "WHERE name = 'projection:seen'"
                )
                assert killed
            finally:
                stalling.release.set()
            with anyio.fail_after(PERIODS * FAST.sealer_lease):
                await second.wait_for_projections(position)
            assert await second.query("SELECT position, stream FROM seen ORDER BY 1") == [
                (1, "batch-before"),
                (2, "batch-killed"),
            ]
            assert (await lease_holders(schema))["projection:seen"][0] >= 2  # taken over


async def test_a_runner_stalled_inside_its_page_is_replaced_within_a_few_lease_periods(
    schema: PostgresBackend,
) -> None:
    """DESIGN section 3: one runner per projection, "the holder of a lease like the sealer's",
    and a stalled sealer is replaced within the lease; the runners' module says a runner that
    stalled past its lease cannot commit a page. Here the first runner stalls inside a page
    (its process's loop blocked, a GC pause, a paused VM) for longer than several leases."""
    stalling = Seen(stall_on="batch-stall")
    async with projected_store(schema, projections=[stalling]) as first:
        await first.wait_for_projections(await enqueue(first, "before"))
        async with projected_store(schema, projections=[Seen()]) as second:
            try:
                position = await enqueue(second, "stall")
                assert await anyio.to_thread.run_sync(stalling.entered.wait, 10)
                with anyio.fail_after(PERIODS * FAST.sealer_lease):
                    await second.wait_for_projections(position)
                assert (await lease_holders(schema))["projection:seen"] == (2, second.holder)
            finally:
                stalling.release.set()
            # The stalled page, once let go, is fenced off: nothing is folded twice.
            await first.wait_for_projections(position)
            assert await first.query("SELECT position, stream FROM seen ORDER BY 1") == [
                (1, "batch-before"),
                (2, "batch-stall"),
            ]


async def test_a_page_that_meets_a_terminated_connection_is_folded_again(
    schema: PostgresBackend,
) -> None:
    """asyncpg raises ``InternalClientError`` when a statement meets a connection the server
    has just terminated (``postgres._DRIVER_ERRORS`` says so); a runner's page statements may
    meet it like any other driver error. Killing runners' connections under load shows it
    (about one run in three); here a fold raises it, once."""
    lost = asyncpg.exceptions.InternalClientError(
        "cannot switch to state 11; another operation (2) is in progress"
    )
    flaky = Seen(fail_on="batch-lost", fail_with=lost)
    async with projected_store(schema, projections=[flaky]) as store:
        position = await enqueue(store, "lost")
        with anyio.fail_after(PERIODS * FAST.sealer_lease):
            await store.wait_for_projections(position)
        assert flaky.failed
        assert await store.query("SELECT position, stream FROM seen") == [(1, "batch-lost")]
        # The store is still up: appends and projections go on.
        position = await enqueue(store, "after")
        await store.wait_for_projections(position)


# --- rebuilds --------------------------------------------------------------------------------


async def test_a_rebuild_beside_appends_and_the_runner_equals_a_fresh_fold(
    schema: PostgresBackend,
) -> None:
    async with projected_store(schema) as first, projected_store(schema) as second:
        await append_traffic(first, 800, sessions_per_batch=10)
        await second.wait_for_projections(await first.head())
        # Damage the live tables behind the stores' backs, so only a real rebuild repairs them.
        await schema.fetch("UPDATE queue_batches SET n_completed = 0, cursor = 0")
        await schema.fetch("DELETE FROM stats_runs WHERE position % 2 = 0")
        assert set(await fold_differences(second)) == {"queue_batches", "stats_runs"}

        stop, appending = anyio.Event(), anyio.Event()

        async def keep_appending() -> None:
            for n in itertools.count():
                if stop.is_set():
                    return
                await enqueue(first, f"during-{n}", sessions=2)
                await first.append(f"session-during-{n}.0", [session_started(f"during-{n}.0")])
                appending.set()

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(keep_appending)
                await appending.wait()
                seen = await second.head()
                rebuilt = await second.rebuild("queue", "stats")
                folded = await checkpoints(second)
                # Appends after the rebuild are folded onto the new tables.
                await first.wait_for_projections(await enqueue(first, "after"))
                stop.set()
        assert seen <= rebuilt <= folded["queue"]
        assert rebuilt <= folded["stats"]
        head = await first.head()
        assert head > rebuilt
        await second.wait_for_projections(head)
        assert await fold_differences(second) == {}


async def test_a_rebuild_waits_for_the_page_the_runner_is_folding(
    schema: PostgresBackend,
) -> None:
    stalling = Seen(stall_on="batch-stall")
    async with (
        projected_store(schema, projections=[stalling]) as runner,
        projected_store(schema, projections=[Seen()]) as other,
        anyio.create_task_group() as tg,
    ):
        await runner.wait_for_projections(await enqueue(runner, "before"))
        rebuilt = anyio.Event()

        async def rebuild() -> None:
            assert await other.rebuild("seen") == 2
            rebuilt.set()

        try:
            position = await enqueue(runner, "stall")
            assert await anyio.to_thread.run_sync(stalling.entered.wait, 10)
            tg.start_soon(rebuild)
            with anyio.fail_after(10):
                # A lock wait on the server has no event to await: poll pg_stat_activity.
                while not (rebuilt.is_set() or await waiting_for_a_lock(schema)):  # noqa: ASYNC110
                    await anyio.sleep(0.01)
            assert not rebuilt.is_set()  # it waits on the lease row the page holds
        finally:
            stalling.release.set()
        with anyio.fail_after(10):
            await rebuilt.wait()
        await other.wait_for_projections(position)
        assert await other.query("SELECT position, stream FROM seen ORDER BY 1") == [
            (1, "batch-before"),
            (2, "batch-stall"),
        ]
        assert await checkpoint(other, "seen") == 2


async def waiting_for_a_lock(schema: PostgresBackend) -> bool:
    """Whether a rebuild (``SELECT ... FOR UPDATE`` of a lease row) waits for a lock that the
    runner of ``seen`` holds (the other store's runner, competing, may wait on it too)."""
    rows = await schema.fetch(
        "SELECT 1 FROM leases l, pg_stat_activity a WHERE l.name = 'projection:seen' "
        "AND l.holder_pid = ANY(pg_blocking_pids(a.pid)) AND a.query LIKE '%FOR UPDATE'"
    )
    return bool(rows)


# --- audit -----------------------------------------------------------------------------------


async def test_audit_of_a_log_with_no_projections_is_clean(schema: PostgresBackend) -> None:
    # No projection tables at all: nothing to read that could fail the snapshot's transaction.
    async with schema.open() as opened:
        await opened.append("s", [session_started("s.1")])
        report = await audit(projected(opened))
    assert (report.findings, report.events) == ([], 1)


async def test_audit_is_clean_after_traffic_and_names_what_sql_tampered_with(
    schema: PostgresBackend,
) -> None:
    async with projected_store(schema) as store:
        await append_traffic(store, 3000)
        head = await store.head()
        await store.wait_for_projections(head)
        report = await audit(store)
        assert (report.findings, report.events) == ([], head)
        [(last_hash,)] = await schema.fetch("SELECT hash FROM events WHERE position = $1", head)
        assert report.anchor == f"{head}:{last_hash.hex()}"

        # One event's payload edited: the chain breaks exactly there.
        position = head // 2
        [(stream, data)] = await schema.fetch(
            "SELECT stream, data FROM events WHERE position = $1", position
        )
        forged = data.replace('"queue_id":"default"', '"queue_id":"forged"')
        assert forged != data
        edit = "UPDATE events SET data = $1 WHERE position = $2"
        await schema.fetch(edit, forged, position)
        report = await audit(store)
        assert [f for f in report.findings if f.check == "chain"] == [
            Finding("chain", position, stream, "hash does not chain to the previous event")
        ]
        assert min(f.position for f in report.findings) == position
        await schema.fetch(edit, data, position)
        assert (await audit(store)).clean

        # A counter of the queue projection changed: named at its row, beside a rebuild's.
        [(completed,)] = await schema.fetch(
            "SELECT n_completed FROM queue_batches WHERE batch_id = 'traffic-3'"
        )
        await schema.fetch(
            "UPDATE queue_batches SET n_completed = n_completed + 1 WHERE batch_id = 'traffic-3'"
        )
        report = await audit(store)
        assert report.findings == [
            Finding(
                "projection",
                head,
                None,
                f"queue: queue_batches row batch_id='traffic-3': n_completed is {completed + 1}, "
                f"a rebuild gives {completed}",
            )
        ]


# --- import ----------------------------------------------------------------------------------


async def sqlite_log(url: str, events: int, sessions_per_batch: int = 10) -> None:
    """Fill a new SQLite store at ``url`` with traffic."""
    async with open_store(url, clock=FakeClock()) as source:
        await append_traffic(source, events, sessions_per_batch=sessions_per_batch)


async def test_an_export_of_a_sqlite_log_imports_into_postgres_exactly_once(
    schema: PostgresBackend, tmp_path: Path
) -> None:
    url = f"sqlite://{tmp_path}/source.db"
    await sqlite_log(url, 1200)
    async with open_store(url, read_only=True) as source:
        assert isinstance(source, SqliteEventStore)
        lines = b"".join([page async for page in replay.export_rows(source)]).splitlines(True)
        rows = await source.read_rows(limit=100_000)
        anchor = (await audit(source)).anchor
    head = len(rows)
    assert head > replay.PAGE  # more than one page, so the import takes several transactions
    async with projected_store(schema) as store:
        with anyio.fail_after(30):
            assert await replay.import_rows(store, replay.parse_export(lines)) == (head, head)
        assert await store.read_rows(limit=100_000) == rows
        await store.wait_for_projections(head)
        assert await fold_differences(store) == {}
        report = await audit(store)
        assert (report.findings, report.anchor) == ([], anchor)

        # A second import changes nothing.
        assert await replay.import_rows(store, replay.parse_export(lines)) == (head, 0)
        assert await store.read_rows(limit=100_000) == rows

        # Appends continue the chain: the sealer finds the head it did not write, and the
        # imported streams' versions.
        with anyio.fail_after(10):
            moved = await store.append(
                "batch-traffic-0",
                [BatchReprioritized(queue_id="default", batch_id="traffic-0", priority=5)],
                expected_version=0,
            )
            assert (moved.first_position, moved.version) == (head + 1, 1)
            assert await enqueue(store, "after") == head + 2
        assert verify_chain(await store.read_rows(limit=100_000)) is None
        await store.wait_for_projections(head + 2)
        assert await fold_differences(store) == {}
        assert (await audit(store)).clean


async def test_an_import_wakes_the_subscribers_of_other_processes(
    schema: PostgresBackend, tmp_path: Path
) -> None:
    url = f"sqlite://{tmp_path}/source.db"
    await sqlite_log(url, 60, sessions_per_batch=5)
    async with open_store(url, read_only=True) as source:
        rows = await source.read_rows(limit=1000)
    # The other process polls far less often than the test waits: only a NOTIFY wakes it.
    sleepy = StoreOptions(sealer_lease=FAST.sealer_lease, poll_interval=10, seal_timeout=10)
    delivered: list[int] = []
    everything_delivered = anyio.Event()

    async def follow(subscription: Subscription) -> None:
        async for event in subscription:
            delivered.append(event.position)
            if event.position == len(rows):
                everything_delivered.set()

    async with (
        projected_store(schema, projections=[]) as importer,
        PostgresEventStore.connect(schema.url, options=sleepy, clock=schema.clock) as other,
        other.subscribe() as subscription,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(follow, subscription)
        with anyio.fail_after(10):
            await subscription.wait_live()
        assert await importer.import_rows(rows) == len(rows)
        with anyio.move_on_after(3):
            await everything_delivered.wait()
        tg.cancel_scope.cancel()
    assert delivered == list(range(1, len(rows) + 1))


# --- artifacts -------------------------------------------------------------------------------


async def test_an_artifact_put_from_a_worker_thread_is_read_through_another_store(
    schema: PostgresBackend, tmp_path: Path
) -> None:
    directory = tmp_path / "artifacts"
    async with (
        projected_store(schema, projections=[]) as first,
        projected_store(schema, projections=[]) as second,
    ):
        writer, reader = first.artifact_store(directory), second.artifact_store(directory)
        data = bytes(range(256)) * 64
        sha = await anyio.to_thread.run_sync(writer.put, data, "application/x-test")
        assert sha == hashlib.sha256(data).hexdigest()
        # Content addressed: the same bytes again are the same artifact, stored once.
        assert await anyio.to_thread.run_sync(writer.put, data, "application/x-test") == sha
        assert await schema.fetch("SELECT count(*) FROM artifacts") == [(1,)]

        assert await anyio.to_thread.run_sync(reader.get, sha) == data
        assert await anyio.to_thread.run_sync(reader.media_type, sha) == "application/x-test"
        assert await anyio.to_thread.run_sync(reader.__contains__, sha)
        unknown = "0" * 64
        assert not await anyio.to_thread.run_sync(reader.__contains__, unknown)
        with pytest.raises(KeyError, match=f"no artifact '{unknown}'"):
            await anyio.to_thread.run_sync(reader.get, unknown)
        with pytest.raises(KeyError, match=f"no artifact '{unknown}'"):
            await anyio.to_thread.run_sync(reader.media_type, unknown)

        # On the event loop's own thread: a clear error, not a hang or a driver error.
        with pytest.raises(StoreError, match=r"from worker threads .* not on the event loop"):
            reader.get(sha)
        with pytest.raises(StoreError, match=r"from worker threads .* not on the event loop"):
            writer.put(b"late", "text/plain")
    assert not directory.exists()  # nothing went to files
