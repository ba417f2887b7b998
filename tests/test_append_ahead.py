"""Appends made ahead of an attempt: in order, merged while one is in flight, and an append
that fails drops everything after it and is raised at the attempt's next call."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio
import pytest
from anyio.abc import TaskGroup

from eventsvc.append_ahead import MAX_EVENTS, AppendAhead
from eventsvc.events import Event

pytestmark = pytest.mark.anyio


class Log:
    """An append that waits for ``let_go`` while held, and records each call."""

    def __init__(self, *, fail_next: bool = False) -> None:
        self.appends: list[list[Event]] = []
        self.hold = True
        self.release = anyio.Event()
        self.entered = anyio.Event()
        self.fail_next = fail_next

    async def append(self, events: Sequence[Event]) -> None:
        self.entered.set()
        if self.hold:
            await self.release.wait()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("fenced")
        self.appends.append(list(events))

    def let_go(self) -> None:
        """Let the append that waits, and every one after it, through."""
        self.hold = False
        self.release.set()


@asynccontextmanager
async def appending(log: Log) -> AsyncIterator[tuple[AppendAhead, TaskGroup]]:
    """An ``AppendAhead`` appending to ``log``, its task stopped at the end of the block."""
    async with anyio.create_task_group() as tasks:
        ahead = AppendAhead(tasks, log.append)
        yield ahead, tasks
        ahead.close()


async def in_flight(ahead: AppendAhead, log: Log, *names: str) -> None:
    """Submit ``names`` and wait until their append has reached ``log``."""
    await ahead.submit(events(*names))
    await log.entered.wait()


def events(*names: str) -> list[Event]:
    return list(names)  # type: ignore[arg-type]  # any value stands for an event here


async def test_what_is_submitted_during_an_append_goes_into_the_next_one_in_order() -> None:
    log = Log()
    async with appending(log) as (ahead, _):
        await in_flight(ahead, log, "a")
        await ahead.submit(events("b"))
        await ahead.submit(events("c", "d"))
        log.let_go()
        await ahead.settle()
    assert log.appends == [["a"], ["b", "c", "d"]]


async def test_when_durable_waits_for_what_was_submitted_before_it() -> None:
    log = Log()
    seen: list[list[list[Event]]] = []

    async def note() -> None:
        seen.append([list(a) for a in log.appends])

    async with appending(log) as (ahead, _):
        await ahead.when_durable(note)  # nothing submitted: at once
        await in_flight(ahead, log, "a")
        await ahead.when_durable(note)  # after the append in flight
        await ahead.submit(events("b"))
        await ahead.when_durable(note)  # after the queued one
        log.let_go()
        await ahead.settle()
    assert seen == [[], [["a"]], [["a"], ["b"]]]


async def test_a_failed_append_drops_what_follows_and_is_raised_at_the_next_call() -> None:
    log = Log(fail_next=True)
    ran: list[str] = []

    async def never() -> None:
        ran.append("never")

    async with appending(log) as (ahead, _):
        await in_flight(ahead, log, "a")
        await ahead.submit(events("b"))
        await ahead.when_durable(never)
        log.release.set()
        with pytest.raises(RuntimeError, match="fenced"):
            await ahead.settle()
        with pytest.raises(RuntimeError, match="fenced"):
            await ahead.submit(events("c"))
        with pytest.raises(RuntimeError, match="fenced"):
            await ahead.append(events("d"))
    assert log.appends == []
    assert ran == []


async def test_submit_waits_once_an_append_is_full() -> None:
    log = Log()
    submitted = anyio.Event()
    async with appending(log) as (ahead, tasks):

        async def one_more() -> None:
            await ahead.submit(events("over"))
            submitted.set()

        await in_flight(ahead, log, "first")
        for n in range(MAX_EVENTS):
            await ahead.submit(events(str(n)))
        tasks.start_soon(one_more)
        for _ in range(20):
            await anyio.lowlevel.checkpoint()
        assert not submitted.is_set()  # held back while the next append is full
        log.let_go()
        await submitted.wait()
        await ahead.settle()
    assert [len(a) for a in log.appends] == [1, MAX_EVENTS, 1]


async def test_append_waits_for_what_was_submitted_and_for_its_own_events() -> None:
    log = Log()
    async with appending(log) as (ahead, _):
        await in_flight(ahead, log, "a")
        log.let_go()
        await ahead.append(events("b"))
        assert log.appends == [["a"], ["b"]]
