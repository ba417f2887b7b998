"""An attempt's appends made ahead of it: in order, one at a time, while the attempt goes on.

A node whose type declares itself inline (pure, returning at once) need not wait for its
``invocation.started`` to be durable before it runs, nor for its outcome to be durable before
the next node runs: its events are ``submit``-ted and appended by a task of their own, after
the events submitted before; what is submitted while an append is in flight goes into the
next one together (group commit within one session). The log is exactly what
append-then-invoke would write, one event after another at the exact expected version, only
in fewer commits. An append that fails (fenced: another writer owns the session) drops
everything submitted after it, and the attempt learns of it at its next call: the pure bodies
that ran meanwhile leave no trace. A crash loses what was not yet durable, and a resumed
attempt runs those nodes again, as it would have had they not finished.

What an attempt does only once a node's start is durable (put its outputs in the invocation
cache) waits for it with ``when_durable``; ``settle`` waits for everything, before an append
that must itself be waited for (a node with effects starts so).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import anyio
from anyio.abc import TaskGroup

from eventsvc.events import Event

Append = Callable[[Sequence[Event]], Awaitable[object]]
Work = Callable[[], Awaitable[None]]

MAX_EVENTS = 64
"""Events one append takes at most; past them, ``submit`` waits (the events' payloads may be
large, and a subscriber sees a node's progress at least this often)."""


class AppendAhead:
    """Appends in one task of ``tasks`` (a task per node would cost more than the node)."""

    def __init__(self, tasks: TaskGroup, append: Append) -> None:
        self._append = append
        self._queued: list[Event] = []
        self._queued_after: list[Work] = []  # once the queued events are durable
        self._flying_after: list[Work] = []  # once the append in flight is
        self._in_flight = False
        self._closed = False
        self._error: Exception | None = None
        self._wake = anyio.Event()  # the appender has work, or is to stop
        self._progress = anyio.Event()  # an append ended
        tasks.start_soon(self._appender)

    async def submit(self, events: Sequence[Event]) -> None:
        """Append ``events`` after everything submitted before; return without waiting for
        it, unless ``MAX_EVENTS`` are already waiting."""
        self._raise_error()
        while len(self._queued) >= MAX_EVENTS:
            await self._next_progress()
        self._queued += events
        self._wake.set()
        # Let the appender start now: an inline node never yields, so without this the
        # attempt would run on, and keep every other task waiting, until MAX_EVENTS.
        await anyio.lowlevel.checkpoint()

    async def when_durable(self, work: Work) -> None:
        """Run ``work`` once what was submitted so far is durable (now, if it is)."""
        if self._queued:
            self._queued_after.append(work)
        elif self._in_flight:
            self._flying_after.append(work)
        else:
            await work()

    async def settle(self) -> None:
        """Return once everything submitted is durable; raise what an append raised."""
        while self._queued or self._in_flight:
            await self._next_progress()
        self._raise_error()

    async def append(self, events: Sequence[Event]) -> None:
        """Append ``events`` after everything submitted, and return once they are durable."""
        await self.settle()
        await self._append(events)

    def close(self) -> None:
        """Stop the appending task once it is idle."""
        self._closed = True
        self._wake.set()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    async def _next_progress(self) -> None:
        self._raise_error()
        await self._progress.wait()

    async def _appender(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            while self._queued and self._error is None:
                await self._append_queued()
            if self._closed:
                return

    async def _append_queued(self) -> None:
        events, self._queued = self._queued, []
        self._flying_after, self._queued_after = self._queued_after, []
        self._in_flight = True
        try:
            await self._append(events)
            for work in self._flying_after:
                await work()
        except Exception as exc:  # the attempt's, raised in its task at its next call
            self._error = exc
            self._queued.clear()
        finally:
            self._in_flight = False
            self._flying_after = []
            self._progress.set()
            self._progress = anyio.Event()
