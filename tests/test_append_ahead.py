"""Appends made ahead of an attempt: in order, merged while one is in flight, and an append
that fails drops everything after it and is raised at the attempt's next call."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import pytest

from eventsvc.append_ahead import MAX_EVENTS, AppendAhead
from eventsvc.events import Event

pytestmark = pytest.mark.anyio


class Log:
    """An append that waits for ``release`` while ``hold`` is set, and records each call."""

    def __init__(self) -> None:
        self.appends: list[list[Event]] = []
        self.hold = False
        self.release = anyio.Event()
        self.entered = anyio.Event()
        self.fail_next = False

    async def append(self, events: Sequence[Event]) -> None:
        self.entered.set()
        if self.hold:
            await self.release.wait()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("fenced")
        self.appends.append(list(events))


def events(*names: str) -> list[Event]:
    return list(names)  # type: ignore[arg-type]  # any value stands for an event here


async def test_what_is_submitted_during_an_append_goes_into_the_next_one_in_order() -> None:
    log = Log()
    log.hold = True
    async with anyio.create_task_group() as tasks:
        ahead = AppendAhead(tasks, log.append)
        await ahead.submit(events("a"))
        await log.entered.wait()
        await ahead.submit(events("b"))
        await ahead.submit(events("c", "d"))
        log.hold = False
        log.release.set()
        await ahead.settle()
        ahead.close()
    assert log.appends == [["a"], ["b", "c", "d"]]


async def test_when_durable_waits_for_what_was_submitted_before_it() -> None:
    log = Log()
    log.hold = True
    seen: list[list[list[Event]]] = []

    async def note() -> None:
        seen.append([list(a) for a in log.appends])

    async with anyio.create_task_group() as tasks:
        ahead = AppendAhead(tasks, log.append)
        await ahead.when_durable(note)  # nothing submitted: at once
        await ahead.submit(events("a"))
        await log.entered.wait()
        await ahead.when_durable(note)  # after the append in flight
        await ahead.submit(events("b"))
        await ahead.when_durable(note)  # after the queued one
        log.hold = False
        log.release.set()
        await ahead.settle()
        ahead.close()
    assert seen == [[], [["a"]], [["a"], ["b"]]]


async def test_a_failed_append_drops_what_follows_and_is_raised_at_the_next_call() -> None:
    log = Log()
    log.hold = True
    log.fail_next = True
    ran: list[str] = []

    async def never() -> None:
        ran.append("never")

    async with anyio.create_task_group() as tasks:
        ahead = AppendAhead(tasks, log.append)
        await ahead.submit(events("a"))
        await log.entered.wait()
        await ahead.submit(events("b"))
        await ahead.when_durable(never)
        log.release.set()
        with pytest.raises(RuntimeError, match="fenced"):
            await ahead.settle()
        with pytest.raises(RuntimeError, match="fenced"):
            await ahead.submit(events("c"))
        with pytest.raises(RuntimeError, match="fenced"):
            await ahead.append(events("d"))
        ahead.close()
    assert log.appends == []
    assert ran == []


async def test_submit_waits_once_an_append_is_full() -> None:
    log = Log()
    log.hold = True
    submitted = anyio.Event()
    async with anyio.create_task_group() as tasks:
        ahead = AppendAhead(tasks, log.append)

        async def one_more() -> None:
            await ahead.submit(events("over"))
            submitted.set()

        await ahead.submit(events("first"))
        await log.entered.wait()
        for n in range(MAX_EVENTS):
            await ahead.submit(events(str(n)))
        tasks.start_soon(one_more)
        for _ in range(20):
            await anyio.lowlevel.checkpoint()
        assert not submitted.is_set()  # held back while the next append is full
        log.hold = False
        log.release.set()
        await submitted.wait()
        await ahead.settle()
        ahead.close()
    assert [len(a) for a in log.appends] == [1, MAX_EVENTS, 1]


async def test_append_waits_for_what_was_submitted_and_for_its_own_events() -> None:
    log = Log()
    log.hold = True
    async with anyio.create_task_group() as tasks:
        ahead = AppendAhead(tasks, log.append)
        await ahead.submit(events("a"))
        await log.entered.wait()
        log.hold = False
        log.release.set()
        await ahead.append(events("b"))
        assert log.appends == [["a"], ["b"]]
        ahead.close()
