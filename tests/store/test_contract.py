"""The event store contract: every backend passes exactly these tests."""

from __future__ import annotations

import random
import uuid
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import anyio.lowlevel
import msgspec
import pytest

from eventsvc.chain import GENESIS, chain_hash, verify_chain
from eventsvc.errors import (
    ConcurrencyError,
    DuplicateEventError,
    EventTooLargeError,
    ImportRejectedError,
    InvalidValueError,
    StoreError,
    SubscriberLaggedError,
)
from eventsvc.events import (
    BatchEnqueued,
    BatchReprioritized,
    Event,
    EventMetadata,
    NewEvent,
    RecordedEvent,
)
from eventsvc.projections.builtin import projected
from eventsvc.store import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    EventFilter,
    EventStore,
    StoreOptions,
    Subscription,
    open_store,
)
from eventsvc.store.rows import columns_of
from eventsvc.testing import batch_enqueued, new_event, session_started
from tests.backends import Backend

pytestmark = pytest.mark.anyio


async def read_everything(store: EventStore) -> list[RecordedEvent]:
    events: list[RecordedEvent] = []
    while page := await store.read_all(after=events[-1].position if events else 0, limit=100):
        events.extend(page)
    return events


async def collect(store: EventStore, after: int, until: int, **kwargs: object) -> list[int]:
    """Positions a subscriber sees after ``after`` until it reaches position ``until``."""
    seen: list[int] = []
    async with store.subscribe(after=after, **kwargs) as subscription:  # type: ignore[arg-type]
        if subscription.position >= until:
            return seen
        async for event in subscription:
            seen.append(event.position)
            if subscription.position >= until:
                break
    return seen


# --- ordering and versions -----------------------------------------------------------------


async def test_positions_are_dense_and_versions_count_per_stream(store: EventStore) -> None:
    first = await store.append("a", [session_started(), session_started()])
    second = await store.append("b", [session_started()])
    third = await store.append("a", [session_started()])

    assert (first.first_position, first.last_position, first.version) == (1, 2, 1)
    assert (second.first_position, second.last_position, second.version) == (3, 3, 0)
    assert (third.first_position, third.last_position, third.version) == (4, 4, 2)
    everything = await read_everything(store)
    assert [e.position for e in everything] == [1, 2, 3, 4]
    assert [(e.stream, e.version) for e in everything] == [("a", 0), ("a", 1), ("b", 0), ("a", 2)]
    assert [e.version for e in await store.read_stream("a")] == [0, 1, 2]
    assert [e.version for e in await store.read_stream("a", from_version=1, limit=1)] == [1]
    assert await store.read_stream("missing") == []
    assert await store.head() == 4


async def test_read_all_pages_from_a_position(store: EventStore) -> None:
    for _ in range(5):
        await store.append("a", [session_started()])
    assert [e.position for e in await store.read_all(after=2, limit=2)] == [3, 4]
    assert await store.read_all(after=5) == []


async def test_recorded_events_keep_data_ids_and_metadata(store: EventStore) -> None:
    event = batch_enqueued("b7", sessions=3)
    event_id = uuid.uuid4()
    metadata = EventMetadata(correlation_id="req-1", causation_id="cause-9")
    await store.append("batch-b7", [NewEvent(event=event, event_id=event_id, metadata=metadata)])

    [recorded] = await store.read_all()
    assert recorded.data == event
    assert recorded.event_id == event_id
    assert recorded.tag == "batch.enqueued"
    assert recorded.schema_version == 1
    assert recorded.metadata == metadata
    assert len(recorded.hash) == 32


async def test_recorded_at_never_goes_backwards(backend: Backend) -> None:
    async with backend.open() as store:
        await store.append("a", [session_started()])
        backend.clock.advance(-60)
        await store.append("a", [session_started()])
        first, second = await store.read_all()
    assert second.recorded_at >= first.recorded_at


# --- expected versions ---------------------------------------------------------------------


async def test_no_stream_accepts_only_a_new_stream(store: EventStore) -> None:
    await store.append("s", [session_started()], NO_STREAM)
    with pytest.raises(ConcurrencyError) as caught:
        await store.append("s", [session_started()], NO_STREAM)
    assert (caught.value.stream, caught.value.actual, caught.value.position) == ("s", 0, 1)
    assert "expected version no stream, found version 0" in str(caught.value)


async def test_stream_exists_refuses_a_missing_stream(store: EventStore) -> None:
    with pytest.raises(ConcurrencyError) as caught:
        await store.append("s", [session_started()], STREAM_EXISTS)
    assert caught.value.actual is None
    assert caught.value.position == 0
    await store.append("s", [session_started()])
    await store.append("s", [session_started()], STREAM_EXISTS)


async def test_exact_version_must_match(store: EventStore) -> None:
    await store.append("other", [session_started()])
    await store.append("s", [session_started(), session_started()], NO_STREAM)
    await store.append("s", [session_started()], 1)
    with pytest.raises(ConcurrencyError) as caught:
        await store.append("s", [session_started()], 1)
    assert (caught.value.expected, caught.value.actual, caught.value.position) == (1, 2, 4)
    with pytest.raises(ConcurrencyError):
        await store.append("never", [session_started()], 0)
    assert await store.head() == 4


async def test_any_appends_whatever_the_stream_holds(store: EventStore) -> None:
    await store.append("s", [session_started()], ANY)
    await store.append("s", [session_started()], ANY)
    assert len(await store.read_stream("s")) == 2


# --- idempotency and atomicity -------------------------------------------------------------


async def test_appending_the_same_ids_again_returns_the_original_result(store: EventStore) -> None:
    events = [new_event(session_started()), new_event(session_started())]
    first = await store.append("s", events, NO_STREAM)
    await store.append("t", [session_started()])

    again = await store.append("s", events, NO_STREAM)

    assert again == first
    assert await store.head() == 3


async def test_the_same_id_with_other_content_is_refused(store: EventStore) -> None:
    original = new_event(session_started())
    await store.append("s", [original])
    forged = NewEvent(event=session_started(), event_id=original.event_id)

    with pytest.raises(DuplicateEventError, match=str(original.event_id)):
        await store.append("s", [forged])
    with pytest.raises(DuplicateEventError):
        await store.append("elsewhere", [original])
    assert await store.head() == 1


async def test_an_append_that_fails_half_way_leaves_nothing(store: EventStore) -> None:
    stored = new_event(session_started())
    await store.append("s", [stored])

    # The second event's id is already stored: the first must not be written either.
    with pytest.raises(DuplicateEventError):
        await store.append("t", [new_event(session_started()), stored])
    duplicate = new_event(session_started())
    with pytest.raises(DuplicateEventError, match="twice"):
        await store.append("t", [duplicate, duplicate])

    assert await store.head() == 1
    assert await store.read_stream("t") == []
    result = await store.append("t", [session_started()], NO_STREAM)
    assert result.first_position == 2


async def test_an_oversized_event_is_refused_by_name(backend: Backend) -> None:
    async with backend.open(options=StoreOptions(max_event_bytes=2048)) as store:
        big = BatchEnqueued(
            queue_id="q", batch_id="big", graph={"blob": "x" * 4096}, session_count=1
        )
        with pytest.raises(EventTooLargeError) as caught:
            await store.append("batch-big", [session_started(), big])
        assert await store.head() == 0
    message = str(caught.value)
    assert "'batch.enqueued'" in message
    assert "'batch-big'" in message
    assert "allowed 2048" in message
    assert caught.value.requested > 4096


# --- concurrency ---------------------------------------------------------------------------


async def test_concurrent_appenders_lose_and_duplicate_nothing(store: EventStore) -> None:
    results = []
    conflicts = []

    async def writer(n: int) -> None:
        for i in range(5):
            results.append(await store.append(f"own-{n}", [session_started()] * (1 + i % 3)))
        try:
            await store.append("contended", [session_started()], NO_STREAM)
        except ConcurrencyError as exc:
            conflicts.append(exc)

    async with anyio.create_task_group() as tg:
        for n in range(40):
            tg.start_soon(writer, n)

    everything = await read_everything(store)
    assert [e.position for e in everything] == list(range(1, len(everything) + 1))
    assert len(everything) == sum(r.last_position - r.first_position + 1 for r in results) + 1
    assert len(conflicts) == 39
    assert all(c.actual == 0 for c in conflicts)
    for n in range(40):
        assert [e.version for e in await store.read_stream(f"own-{n}")] == list(range(9))
    assert verify_chain(await store.read_rows(limit=10_000)) is None


async def test_a_conflict_fails_only_its_caller_within_one_commit(store: EventStore) -> None:
    await store.append("s", [session_started()])
    outcomes: dict[str, object] = {}

    async def attempt(name: str, expected: int) -> None:
        try:
            outcomes[name] = await store.append("s", [session_started()], expected)
        except ConcurrencyError as exc:
            outcomes[name] = exc

    async with anyio.create_task_group() as tg:
        for name, expected in [("stale", 5), ("good", 0), ("next", 1), ("other", 0)]:
            tg.start_soon(attempt, name, expected)

    assert isinstance(outcomes["stale"], ConcurrencyError)
    assert not isinstance(outcomes["good"], ConcurrencyError)
    # Exactly one of the two appends expecting version 0 won; "next" follows the winner.
    assert isinstance(outcomes["other"], ConcurrencyError)
    assert not isinstance(outcomes["next"], ConcurrencyError)
    assert [e.version for e in await store.read_stream("s")] == [0, 1, 2]


async def test_a_canceled_caller_still_completes_its_append(store: EventStore) -> None:
    with anyio.CancelScope() as scope:
        scope.cancel()
        await store.append("s", [session_started()])
    assert await store.head() == 1


# --- subscriptions -------------------------------------------------------------------------


async def test_subscribe_catches_up_then_follows_live(store: EventStore) -> None:
    for _ in range(3):
        await store.append("a", [session_started()])
    seen: list[int] = []

    async with store.subscribe(after=1) as subscription, anyio.create_task_group() as tg:

        async def append_more() -> None:
            for _ in range(3):
                await store.append("a", [session_started()])

        with anyio.fail_after(10):
            async for event in subscription:
                seen.append(event.position)
                if event.position == 3:
                    tg.start_soon(append_more)
                if event.position == 6:
                    break
    assert seen == [2, 3, 4, 5, 6]


async def test_subscribe_filters_by_stream_prefix_and_tag(store: EventStore) -> None:
    await store.append("batch-b1", [batch_enqueued()])
    await store.append("session-b1.0", [session_started("b1.0")])
    await store.append("batch-b2", [batch_enqueued("b2")])
    await store.append("session-b1.1", [session_started("b1.1")])

    by_prefix = await collect(store, 0, 4, filter=EventFilter(stream_prefix="session-"))
    by_tag = await collect(store, 0, 3, filter=EventFilter(tags=frozenset({"batch.enqueued"})))

    assert by_prefix == [2, 4]
    assert by_tag == [1, 3]


async def test_read_until_ends_there_even_when_nothing_near_it_matches(store: EventStore) -> None:
    await store.append("batch-b1", [batch_enqueued()])
    for n in range(5):
        await store.append(f"session-b1.{n}", [session_started(f"b1.{n}")])
    batches = EventFilter(tags=frozenset({"batch.enqueued"}))
    async with store.subscribe(after=0, filter=batches) as subscription:
        with anyio.fail_after(10):
            read = [e.position async for e in subscription.read_until(4)]
        assert (read, subscription.position) == ([1], 4)


async def test_catch_up_hands_over_to_live_without_gap_or_duplicate(store: EventStore) -> None:
    """Subscribers join at random moments and positions while many tasks append."""
    rng = random.Random(7)
    total = 600
    appended = anyio.Event()

    async def writer(n: int) -> None:
        for i in range(total // 20):
            await store.append(f"w{n}", [session_started()])
            if i % 7 == n % 7:
                await anyio.lowlevel.checkpoint()

    async def subscriber(start_after: int, results: list[list[int]]) -> None:
        await anyio.lowlevel.checkpoint()
        after = min(start_after, await store.head())
        positions = await collect(store, after, total)
        results.append([after, *positions])

    results: list[list[int]] = []
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for n in range(20):
                tg.start_soon(writer, n)
            for _ in range(25):
                tg.start_soon(subscriber, rng.randrange(0, total), results)
                for _ in range(rng.randrange(1, 20)):
                    await anyio.lowlevel.checkpoint()
        appended.set()
    assert len(results) == 25
    for after, *positions in results:
        assert positions == list(range(after + 1, total + 1))


async def test_many_live_subscribers_each_see_every_event_exactly_once(store: EventStore) -> None:
    """Sixty subscribers, half taking events one by one and half a step at a time, follow
    eight concurrent writers live."""
    writers, appends, count = 8, 25, 60
    total = writers * appends
    results: dict[int, list[int]] = {}

    async def one_by_one(n: int, subscription: Subscription) -> None:
        seen = results[n] = []
        async for event in subscription:
            seen.append(event.position)
            if subscription.position >= total:
                return

    async def stepwise(n: int, subscription: Subscription) -> None:
        seen = results[n] = []
        async for step in subscription.runs():
            seen += [event.position for run in step for event in run.events()]
            if subscription.position >= total:
                return

    async def writer(n: int) -> None:
        for _ in range(appends):
            await store.append(f"w{n}", [session_started()])

    with anyio.fail_after(60):
        async with AsyncExitStack() as stack, anyio.create_task_group() as tg:
            for n in range(count):
                subscription = await stack.enter_async_context(store.subscribe())
                tg.start_soon(stepwise if n % 2 else one_by_one, n, subscription)
                await subscription.wait_live()
            for n in range(writers):
                tg.start_soon(writer, n)
    assert len(results) == count
    for seen in results.values():
        assert seen == list(range(1, total + 1))


async def test_a_subscriber_that_falls_behind_is_closed_and_resumes(backend: Backend) -> None:
    async with backend.open(options=StoreOptions(subscriber_buffer=4)) as store:
        seen: list[int] = []
        async with store.subscribe() as subscription:
            events = aiter(subscription)
            with anyio.fail_after(10):
                async with anyio.create_task_group() as tg:

                    async def receive_first() -> None:
                        seen.append((await anext(events)).position)

                    tg.start_soon(receive_first)
                    await subscription.wait_live()
                    await store.append("a", [session_started()])
            # Live now: ten commits while this subscriber is busy are more than its buffer.
            for _ in range(10):
                await store.append("a", [session_started()])

            async def drain() -> None:
                async for event in events:
                    seen.append(event.position)

            with pytest.raises(SubscriberLaggedError) as caught:
                await drain()
        resume = caught.value.position
        assert f"after={resume}" in str(caught.value)
        assert seen == list(range(1, resume + 1))
        head = await store.head()
        assert resume < head
        assert await collect(store, resume, head) == list(range(resume + 1, head + 1))


async def test_a_slow_subscriber_never_blocks_appends(backend: Backend) -> None:
    async with backend.open(options=StoreOptions(subscriber_buffer=2)) as store:
        async with store.subscribe() as subscription:
            iterator = aiter(subscription)
            await store.append("a", [session_started()])
            assert (await anext(iterator)).position == 1
            with anyio.fail_after(10):
                for _ in range(50):
                    await store.append("a", [session_started()])
        assert await store.head() == 51


# --- the chain and persistence -------------------------------------------------------------


async def fill(store: EventStore, count: int) -> None:
    for n in range(count):
        await store.append(f"s{n % 3}", [session_started()])


async def test_the_chain_verifies_a_clean_log(store: EventStore) -> None:
    await fill(store, 10)
    assert verify_chain(await store.read_rows()) is None


@pytest.mark.parametrize(
    ("tamper", "broken_at"),
    [
        pytest.param(
            lambda b: b.edit_payload(4, '{"type":"queue.paused","queue_id":"x"}'), 4, id="edited"
        ),
        pytest.param(lambda b: b.delete(4), 5, id="deleted"),
        pytest.param(lambda b: b.swap_payloads(3, 6), 3, id="swapped"),
    ],
)
async def test_the_chain_detects_tampering(
    backend: Backend, tamper: object, broken_at: int
) -> None:
    async with backend.open() as store:
        await fill(store, 8)
    tamper(backend)  # type: ignore[operator]
    async with backend.open(read_only=True) as reader:
        broken = verify_chain(await reader.read_rows())
    assert broken is not None
    assert broken.position == broken_at


async def test_reopening_continues_positions_and_the_chain(backend: Backend) -> None:
    async with backend.open() as store:
        await fill(store, 5)
    async with backend.open() as store:
        result = await store.append("s0", [session_started()])
        assert result.first_position == 6
        assert [e.version for e in await store.read_stream("s0")] == [0, 1, 2]
        assert verify_chain(await store.read_rows()) is None


@pytest.mark.backends(
    "sqlite",
    reason="one process writes a SQLite file; PostgreSQL takes any number of writers "
    "(test_postgres.py shows them, and a read-only follower, working alongside)",
)
async def test_a_second_writer_is_refused_and_readers_work_alongside(
    backend: Backend,
) -> None:
    async with backend.open() as writer:
        await writer.append("a", [session_started()])
        with pytest.raises(StoreError, match="already open for writing by pid"):
            async with backend.open():
                pass
        async with backend.open(read_only=True) as reader:
            assert [e.position for e in await reader.read_all()] == [1]
            with pytest.raises(StoreError, match="read-only"):
                await reader.append("a", [session_started()])
            # A read-only follower sees later commits through its bounded poll.
            async with anyio.create_task_group() as tg:
                tg.start_soon(writer.append, "a", [session_started()])
                with anyio.fail_after(10):
                    assert await collect(reader, 1, 2) == [2]
    async with backend.open() as again:
        assert await again.head() == 2


async def test_unknown_url_schemes_are_refused() -> None:
    from eventsvc.store import open_store

    with pytest.raises(StoreError, match="unknown store URL scheme 'redis'"):
        async with open_store("redis://localhost/0"):
            pass


# --- bounds ---------------------------------------------------------------------------------


def nested(levels: int) -> list[object]:
    value: list[object] = []
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (BatchReprioritized(queue_id="q", batch_id="b", priority=2**63), "priority"),
        (msgspec.structs.replace(batch_enqueued("b"), origin="nul\x00here"), "origin"),
        (msgspec.structs.replace(batch_enqueued("b"), destination="\udc80"), "destination"),
        (BatchEnqueued(queue_id="q", batch_id="b", graph={"x": nested(70)}, session_count=1),
         ("graph.x" + "[0]" * 24)[:77] + "..."),
    ],
)  # fmt: skip
async def test_a_value_no_backend_can_fold_is_refused_before_anything_is_stored(
    store: EventStore, event: Event, field: str
) -> None:
    await store.append("s", [session_started()])
    with pytest.raises(InvalidValueError) as caught:
        await store.append("batch-b", [session_started(), event])
    assert [problem.field for problem in caught.value.problems] == [field]
    assert "stream 'batch-b'" in str(caught.value)
    assert (await store.head(), await store.read_stream("batch-b")) == (1, [])
    assert (await store.append("batch-b", [session_started()], NO_STREAM)).first_position == 2


async def test_an_imported_row_no_backend_can_fold_is_refused_by_position(
    backend: Backend, tmp_path: Path
) -> None:
    async with open_store(f"sqlite://{tmp_path}/source.db") as source:
        await source.append("s", [session_started()])
        [row] = await source.read_rows()
    data = msgspec.json.encode(BatchReprioritized(queue_id="q", batch_id="b", priority=1))
    forged = msgspec.structs.replace(
        row,
        tag="batch.reprioritized",
        data=data.replace(b'"priority":1', b'"priority":1' + b"0" * 19),
    )
    forged = msgspec.structs.replace(forged, hash=chain_hash(GENESIS, *columns_of(forged)[:7],
                                                         forged.data, forged.metadata))  # fmt: skip
    async with backend.open() as opened:
        store = projected(opened)
        with pytest.raises(ImportRejectedError, match=r"position 1: priority: integer"):
            await store.import_rows([forged])
        assert await store.head() == 0
