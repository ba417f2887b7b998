"""What only the PostgreSQL backend does: sealing, its lease and failover, several writers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from urllib.parse import urlsplit

import anyio
import asyncpg
import pytest

from eventsvc.chain import verify_chain
from eventsvc.errors import ConcurrencyError, StoreError
from eventsvc.events import CODEC, RecordedEvent
from eventsvc.leases import Leases
from eventsvc.store import ANY, NO_STREAM, AppendResult, EventStore, StoreOptions, open_store
from eventsvc.store.postgres.common import KEPT
from eventsvc.store.postgres.store import DB_NOW, PostgresEventStore, _Append, _append_statement
from eventsvc.store.rows import prepare
from eventsvc.testing import new_event, session_started
from tests.backends import PostgresBackend
from tests.postgres import everything

pytestmark = pytest.mark.anyio

FAST = StoreOptions(sealer_lease=0.5, poll_interval=0.02, seal_timeout=10)


@asynccontextmanager
async def opened(
    backend: PostgresBackend,
    options: StoreOptions = FAST,
    seal_hook: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[PostgresEventStore]:
    async with PostgresEventStore.connect(
        backend.url, options=options, clock=backend.clock, seal_hook=seal_hook
    ) as store:
        yield store


async def assert_dense_and_chained(store: EventStore, results: list[AppendResult]) -> None:
    """Positions 1..head with no gap, each append's events where its result says, a clean chain."""
    log = await everything(store)
    assert [e.position for e in log] == list(range(1, len(log) + 1))
    assert verify_chain(await store.read_rows(limit=100_000)) is None
    claimed = sorted(p for r in results for p in range(r.first_position, r.last_position + 1))
    assert claimed == sorted(set(claimed))
    by_position = {e.position: e for e in log}
    for result in results:
        assert {
            by_position[p].stream for p in range(result.first_position, result.last_position + 1)
        } == {result.stream}


class Watch(logging.Handler):
    """Sets an event when the store logs a message containing ``text``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = anyio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


@asynccontextmanager
async def watching(text: str) -> AsyncIterator[Watch]:
    watch = Watch(text)
    logger = logging.getLogger("eventsvc.store")
    logger.addHandler(watch)
    try:
        yield watch
    finally:
        logger.removeHandler(watch)


# --- ordering ------------------------------------------------------------------------------


async def test_a_row_committed_late_is_delivered_after_one_sealed_before_it(
    postgres_backend: PostgresBackend,
) -> None:
    async with opened(postgres_backend) as store, store.subscribe() as subscription:
        seen: list[RecordedEvent] = []
        events = aiter(subscription)
        conn = await asyncpg.connect(postgres_backend.url)
        try:
            # Transaction A inserts its row exactly as an append does, and stays open.
            late = _Append(
                "late", ANY, prepare("late", [session_started("a")], FAST.max_event_bytes)
            )
            transaction = conn.transaction()
            await transaction.start()
            sql, args = _append_statement(late, store.channel("unsealed"))
            late_batch = (await conn.fetchrow(sql, *args))[0]
            # B appends and commits meanwhile: sealed and delivered first.
            with anyio.fail_after(10):
                early = await store.append("early", [session_started("b")])
                seen.append(await anext(events))
            assert (early.first_position, seen[0].stream) == (1, "early")
            # A commits: sealed at the next position, delivered after B.
            await transaction.commit()
            with anyio.fail_after(10):
                seen.append(await anext(events))
        finally:
            await conn.close()
        [stored_early] = await postgres_backend.fetch(
            "SELECT batch FROM events WHERE stream = 'early'"
        )
        assert late_batch < stored_early[0]  # A began first, yet is sealed second
        assert [(e.position, e.stream) for e in seen] == [(1, "early"), (2, "late")]
        assert [e.position for e in await store.read_all()] == [1, 2]
        assert verify_chain(await store.read_rows()) is None


async def test_a_conflict_sees_the_stream_in_its_own_statement_and_waits_for_the_seal(
    postgres_backend: PostgresBackend,
) -> None:
    reached, release = anyio.Event(), anyio.Event()

    async def held_round() -> None:
        reached.set()
        await release.wait()

    async with opened(postgres_backend, seal_hook=held_round) as store:
        outcomes: dict[str, AppendResult | ConcurrencyError] = {}

        async def append(name: str) -> None:
            try:
                outcomes[name] = await store.append("s", [session_started(name)], NO_STREAM)
            except ConcurrencyError as exc:
                outcomes[name] = exc

        async with anyio.create_task_group() as tg:
            tg.start_soon(append, "first")
            with anyio.fail_after(10):
                await reached.wait()  # its row is committed, its seal held
            # The statement that conflicts tells what the error needs: not a repeat, the
            # stream's version, its last event not yet sealed, and that event's batch.
            conn = await asyncpg.connect(postgres_backend.url)
            try:
                late = _Append(
                    "s", NO_STREAM, prepare("s", [session_started("x")], FAST.max_event_bytes)
                )
                row = await conn.fetchrow(*_statement(late))
            finally:
                await conn.close()
            assert (row[0], row[2], row[3], row[4]) == (None, False, 0, None)
            assert row[5] is not None
            tg.start_soon(append, "second")
            release.set()
        first, second = outcomes["first"], outcomes["second"]
        assert isinstance(first, AppendResult)
        assert isinstance(second, ConcurrencyError)
        assert (second.stream, second.actual, second.position) == ("s", 0, first.last_position)


def _statement(request: _Append) -> tuple[str, ...]:
    sql, args = _append_statement(request, None)
    return (sql, *args)


async def write(
    store: EventStore,
    stream: str,
    goal: int,
    results: list[AppendResult],
    appended: dict[str, int],
) -> None:
    """Single events, one at a time, until the writers together have appended ``goal``."""
    while len(results) < goal:
        event = new_event(session_started(f"{stream}.{len(results)}"))
        result = await store.append(stream, [event])
        results.append(result)
        appended[str(event.event_id)] = result.first_position


async def test_six_writers_and_a_tailing_subscriber_skip_and_repeat_nothing(
    postgres_backend: PostgresBackend,
) -> None:
    async with AsyncExitStack() as stack:
        writers = [await stack.enter_async_context(opened(postgres_backend)) for _ in range(6)]
        tail = await stack.enter_async_context(opened(postgres_backend))
        for _ in range(3):
            after = await tail.head()
            results: list[AppendResult] = []
            appended: dict[str, int] = {}

            with anyio.fail_after(30):
                async with tail.subscribe(after=after) as subscription:
                    async with anyio.create_task_group() as tg:
                        for n, store in enumerate(writers):
                            tg.start_soon(write, store, f"w{n}", 90, results, appended)
                    head = await tail.head()
                    delivered = []
                    async for event in subscription:
                        delivered.append(event)
                        if event.position == head:
                            break
            assert [e.position for e in delivered] == list(range(after + 1, head + 1))
            assert {str(e.event_id): e.position for e in delivered} == appended
            assert len(results) == head - after >= 90
        await assert_dense_and_chained(tail, [])


async def test_writers_released_by_a_seal_are_sealed_together_in_the_next_round(
    postgres_backend: PostgresBackend,
) -> None:
    async def slow_round() -> None:
        await anyio.sleep(0.2)  # so that the gather's bound (the round's time) is generous

    # The bound is also at most a poll interval.
    patient = StoreOptions(sealer_lease=FAST.sealer_lease, poll_interval=1, seal_timeout=10)
    async with AsyncExitStack() as stack:
        sealer = await stack.enter_async_context(
            opened(postgres_backend, patient, seal_hook=slow_round)
        )
        await sealer.append("warm-up", [session_started()])
        writers = [await stack.enter_async_context(opened(postgres_backend)) for _ in range(4)]
        rounds_before = sealer.rounds

        async def write(store: EventStore, stream: str) -> None:
            for _ in range(5):
                await store.append(stream, [session_started()])

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for n, store in enumerate(writers):
                    tg.start_soon(write, store, f"w{n}")
        # 20 appends from 4 writers: about 6 rounds of 4, not 10 of the 2 that were quickest.
        assert sealer.rounds - rounds_before <= 8
        await assert_dense_and_chained(sealer, [])


# --- the sealer lease ----------------------------------------------------------------------


async def holder(backend: PostgresBackend) -> tuple[int, str]:
    [(epoch, name)] = await backend.fetch("SELECT epoch, holder FROM leases WHERE name = 'sealer'")
    return epoch, name


async def test_a_killed_sealer_connection_is_replaced_and_appends_go_on(
    postgres_backend: PostgresBackend,
) -> None:
    async with opened(postgres_backend) as first, opened(postgres_backend) as second:
        assert first.sealing
        assert not second.sealing
        results = [await first.append("a", [session_started()])]
        results.append(await second.append("b", [session_started()]))
        assert await holder(postgres_backend) == (1, first.holder)

        async with watching("control connection") as lost:
            [(killed,)] = await postgres_backend.fetch(
                "SELECT pg_terminate_backend(holder_pid) FROM leases WHERE name = 'sealer'"
            )
            assert killed
            with anyio.fail_after(10):
                results.append(await second.append("b", [session_started()]))
                await lost.seen.wait()
        assert second.sealing
        assert not first.sealing
        assert await holder(postgres_backend) == (2, second.holder)
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for store in (first, second) * 5:

                    async def append(store: PostgresEventStore = store) -> None:
                        results.append(await store.append("c", [session_started()]))

                    tg.start_soon(append)
        await assert_dense_and_chained(first, results)
        assert await first.head() == len(results) == 13


async def test_a_stalled_sealer_is_fenced_off_by_the_epoch(
    postgres_backend: PostgresBackend,
) -> None:
    stall, stalled, release = False, anyio.Event(), anyio.Event()

    async def hold_inside_the_seal() -> None:
        if stall:
            stalled.set()
            await release.wait()

    results: list[AppendResult] = []
    async with (
        opened(postgres_backend, seal_hook=hold_inside_the_seal) as first,
        opened(postgres_backend) as second,
        watching("was refused") as refused,
    ):
        results.append(await first.append("a", [session_started()]))
        assert first.sealing
        stall = True
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:

                async def append_stalled() -> None:
                    results.append(await first.append("a", [session_started()]))

                tg.start_soon(append_stalled)
                await stalled.wait()
                # The sealer holds the rows it read past its lease: the other takes over.
                results.append(await second.append("b", [session_started()]))
                assert second.sealing
                assert await holder(postgres_backend) == (2, second.holder)
            # Both appends are sealed by the new sealer, the stalled one's included.
            assert await second.head() == 3
            stall = False
            release.set()
            await refused.seen.wait()
        assert first.fenced == 1
        assert not first.sealing
        results.append(await first.append("a", [session_started()]))
        results.append(await second.append("b", [session_started()]))
        assert sorted(r.first_position for r in results) == [1, 2, 3, 4, 5]
        await assert_dense_and_chained(second, results)


async def test_a_sealer_whose_head_was_edited_away_reads_it_again(
    postgres_backend: PostgresBackend,
) -> None:
    async with opened(postgres_backend) as store, watching("reading the head again") as moved:
        first = await store.append("a", [session_started()])
        # A row sealed behind the sealer's back, past a gap (an edit of the log).
        await postgres_backend.fetch(
            "INSERT INTO events SELECT position + 2, 'edited', 0, gen_random_uuid()::text, tag, "
            "schema_version, recorded_at, data, metadata, hash, batch FROM events"
        )
        with anyio.fail_after(10):
            after = await store.append("a", [session_started()])
            await moved.seen.wait()
    assert (first.first_position, after.first_position) == (1, 4)


async def test_an_append_nobody_seals_fails_naming_the_sealing_lag(
    postgres_backend: PostgresBackend,
) -> None:
    never = anyio.Event()

    async def stall_forever() -> None:
        await never.wait()

    options = StoreOptions(seal_timeout=0.3, sealer_lease=30, poll_interval=0.02)
    async with opened(postgres_backend, options, stall_forever) as store:
        with pytest.raises(StoreError, match=r"not sealed within 0\.3 s") as caught:
            await store.append("a", [session_started()])
        assert "sealing lag: 1 committed row(s) wait to be sealed" in str(caught.value)
        assert store.holder in str(caught.value)
        never.set()
        # Sealed in the end, at its position; a retry with the same ids is safe.
        with anyio.fail_after(10):
            await store.wait_for_head(1)


# --- several processes on one database -----------------------------------------------------


async def test_writers_share_the_log_and_a_read_only_follower_sees_it(
    postgres_backend: PostgresBackend,
) -> None:
    async with opened(postgres_backend) as first, opened(postgres_backend) as second:
        await first.append("a", [session_started()])
        await second.append("a", [session_started()])
        async with postgres_backend.open(read_only=True) as reader:
            assert [e.version for e in await reader.read_stream("a")] == [0, 1]
            with pytest.raises(StoreError, match="read-only"):
                await reader.append("a", [session_started()])
            async with reader.subscribe(after=2) as subscription:
                with anyio.fail_after(10):
                    await second.append("a", [session_started()])
                    event = await anext(aiter(subscription))
            assert (event.position, event.version) == (3, 2)


async def test_payloads_are_stored_as_text_exactly_as_hashed(
    postgres_backend: PostgresBackend,
) -> None:
    event = session_started("s.1")
    async with opened(postgres_backend) as store:
        await store.append("s", [event])
        [row] = await store.read_rows()
    [(data, metadata)] = await postgres_backend.fetch("SELECT data, metadata FROM events")
    assert data.encode() == CODEC.encode(event) == row.data
    assert metadata == "{}"


async def test_queries_take_sqlite_placeholders_and_heartbeats_use_database_time(
    postgres_backend: PostgresBackend,
) -> None:
    async with opened(postgres_backend) as store:
        leases = Leases(store)
        await leases.create()
        await leases.beat(["w1", "w2"])
        rows = await store.query(
            f"SELECT worker_id FROM worker_leases WHERE heartbeat_at >= {DB_NOW} - ? "
            "AND worker_id <> '?' ORDER BY worker_id",
            (60.0,),
        )
        assert rows == [("w1",), ("w2",)]


async def backend_pid(store: EventStore) -> int:
    [(pid,)] = await store.query("SELECT pg_backend_pid()")
    return int(pid)


async def test_single_statements_run_on_connections_kept_out_of_the_pool(
    postgres_backend: PostgresBackend,
) -> None:
    async with opened(postgres_backend) as store:
        one_after_another = {await backend_pid(store) for _ in range(5)}
        assert len(one_after_another) == 1
        async with store._db.pool.acquire() as conn:  # not the kept one: that stays out
            assert await conn.fetchval("SELECT pg_backend_pid()") not in one_after_another
        # More at once than are kept: the others take the pool's own path, and all answer.
        answered: list[int] = []

        async def slow() -> None:
            await store.query("SELECT pg_sleep(0.05)")
            answered.append(await backend_pid(store))

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for _ in range(KEPT + 2):
                    tg.start_soon(slow)
        assert len(answered) == KEPT + 2
        assert await backend_pid(store) in one_after_another | set(answered)


async def test_a_kept_connection_that_fails_under_a_statement_is_not_kept(
    postgres_backend: PostgresBackend,
) -> None:
    async with opened(postgres_backend) as store:
        first = await backend_pid(store)
        with pytest.raises(StoreError, match="reading the store"):
            await store.query("SELECT pg_terminate_backend(pg_backend_pid())")
        assert await backend_pid(store) != first
        # One cancelled mid-statement goes back to the pool too, and the next one answers.
        with anyio.move_on_after(0.2):
            await store.query("SELECT pg_sleep(30)")
        with anyio.fail_after(10):
            assert await store.query("SELECT 1") == [(1,)]


async def test_an_unreachable_server_is_named_without_its_password() -> None:
    url = "postgresql://eventsvc:s3cret@127.0.0.1:9/test"
    with pytest.raises(StoreError) as caught:
        async with open_store(url):
            pass
    assert "cannot connect to PostgreSQL at 127.0.0.1:9" in str(caught.value)
    assert "s3cret" not in str(caught.value)


async def test_the_url_carries_no_password(postgres_backend: PostgresBackend) -> None:
    dsn = urlsplit(postgres_backend.dsn)
    async with opened(postgres_backend) as store:
        assert dsn.password is None or dsn.password not in store.url
        assert store.url.endswith(
            f"@{dsn.netloc.rpartition('@')[2]}{dsn.path}?search_path={postgres_backend.schema}"
        )
