"""The fanout's ring and the subscriptions that read it, without a database.

A list stands in for the log: ``Log.commit`` appends to it and publishes the group, as a
writer does after its commit.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import anyio
import pytest

from eventsvc.errors import StoreError, SubscriberLaggedError
from eventsvc.events import RecordedEvent
from eventsvc.store import EventFilter, Run
from eventsvc.store.subscription import Fanout, Subscription
from eventsvc.testing import session_started

pytestmark = pytest.mark.anyio


class Log:
    def __init__(self, capacity: int = 1024) -> None:
        self.events: list[RecordedEvent] = []
        self.fanout = Fanout(capacity)

    def commit(self, count: int = 1, tag: str = "session.started") -> None:
        group = []
        for _ in range(count):
            position = len(self.events) + 1
            event = RecordedEvent(
                position, "s", position - 1, uuid.uuid4(), tag, 1, session_started(), 0, b""
            )
            self.events.append(event)
            group.append(event)
        self.fanout.publish(group)

    async def read_page(self, after: int, limit: int) -> list[RecordedEvent]:
        return self.events[after : after + limit]

    def subscribe(self, after: int = 0, filter: EventFilter | None = None) -> Subscription:
        return Subscription(
            self.read_page, self.fanout, _no_mark, _no_change, after=after, filter=filter
        )


async def _no_mark() -> int:
    return 0


async def _no_change(mark: int) -> None:
    raise AssertionError("a writer's subscriptions follow its fanout")


def positions(step: list[Run]) -> list[int]:
    return [event.position for run in step for event in run.events()]


async def go_live(log: Log, *subscriptions: Subscription) -> list[AsyncIterator[list[Run]]]:
    """The step iterators of subscriptions on an empty log, live and past one commit."""
    steps = [subscription.runs() for subscription in subscriptions]
    async with anyio.create_task_group() as tg:
        for iterator in steps:

            async def take_first(iterator: AsyncIterator[list[Run]] = iterator) -> None:
                assert positions(await anext(iterator)) == [1]

            tg.start_soon(take_first)
        for subscription in subscriptions:
            await subscription.wait_live()
        log.commit()
    return steps


async def test_a_subscriber_that_is_behind_takes_every_pending_commit_in_one_step() -> None:
    log = Log()
    subscription = log.subscribe()
    with anyio.fail_after(10):
        [steps] = await go_live(log, subscription)
        for count in (1, 3, 2):  # three commits while the subscriber is busy elsewhere
            log.commit(count)
        step = await anext(steps)
    assert positions(step) == [2, 3, 4, 5, 6, 7]
    assert len(step) == 3  # one run per commit, all handed over at once
    assert subscription.position == 7


async def test_every_subscriber_reads_the_same_published_groups() -> None:
    """What a reader derives from a group (its SSE frames) can be derived once for all."""
    log = Log()
    subscriptions = [log.subscribe() for _ in range(3)]
    with anyio.fail_after(10):
        steps = await go_live(log, *subscriptions)
        log.commit(3)
        taken = [await anext(iterator) for iterator in steps]
    assert len({id(run.group) for step in taken for run in step}) == 1
    assert all(positions(step) == [2, 3, 4] for step in taken)


async def test_a_filtered_subscriber_takes_only_what_it_wants() -> None:
    log = Log()
    log.commit(1, tag="session.completed")
    wanted = EventFilter(tags=frozenset({"session.completed"}))
    subscription = log.subscribe(after=1, filter=wanted)
    with anyio.fail_after(10):
        steps = subscription.runs()
        async with anyio.create_task_group() as tg:

            async def take_first() -> None:
                assert positions(await anext(steps)) == []

            tg.start_soon(take_first)
            await subscription.wait_live()
            log.commit(2)
        log.commit(1, tag="session.completed")
        log.commit(1)
        step = await anext(steps)
    assert positions(step) == [4]
    assert subscription.position == 5  # what it did not want was looked at too


async def test_a_subscriber_more_than_capacity_commits_behind_is_told_where_to_resume() -> None:
    log = Log(capacity=4)
    subscription = log.subscribe()
    with anyio.fail_after(10):
        [steps] = await go_live(log, subscription)
        for _ in range(4):  # as many unread commits as the ring holds: still fine
            log.commit()
        assert positions(await anext(steps)) == [2, 3, 4, 5]
        for _ in range(5):  # one more than it holds
            log.commit()
        with pytest.raises(SubscriberLaggedError) as caught:
            await anext(steps)
    assert caught.value.position == 5
    assert subscription.position == 5


async def test_a_subscriber_lagging_while_it_catches_up_reads_the_store_again() -> None:
    log = Log(capacity=2)
    for _ in range(10):
        log.commit()  # nobody listens yet
    subscription = log.subscribe()
    events = aiter(subscription)
    seen: list[int] = []
    with anyio.fail_after(10):
        while len(seen) < 22:
            seen.append((await anext(events)).position)
            if seen[-1] <= 12:
                log.commit()  # while it reads the store, more commits land than the ring holds
        async with anyio.create_task_group() as tg:

            async def take_next() -> None:
                seen.append((await anext(events)).position)

            tg.start_soon(take_next)
            await subscription.wait_live()
            log.commit()
    assert seen == list(range(1, 24))


async def test_the_ring_holds_only_what_some_reader_still_needs() -> None:
    log = Log(capacity=1024)
    log.commit()  # nobody listens: nothing is kept
    assert log.fanout.held == 0
    subscription = log.subscribe(after=1)
    steps = subscription.runs()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:

            async def take_first() -> None:
                assert positions(await anext(steps)) == [2]

            tg.start_soon(take_first)
            await subscription.wait_live()
            log.commit()
        for _ in range(2000):
            log.commit()
            await anext(steps)  # the subscriber keeps up
            assert log.fanout.held <= 1024 // 4 + 1  # trimmed every capacity // 4 groups
        await steps.aclose()  # type: ignore[attr-defined]
    assert (len(log.fanout), log.fanout.held) == (0, 0)


async def test_closing_the_fanout_ends_a_live_subscription_after_what_it_holds() -> None:
    log = Log()
    subscription = log.subscribe()
    with anyio.fail_after(10):
        [steps] = await go_live(log, subscription)
        log.commit()
        log.commit()
        log.fanout.close()
        assert positions(await anext(steps)) == [2, 3]
        with pytest.raises(StoreError, match="after=3"):
            await anext(steps)
