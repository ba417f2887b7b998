"""Subscriptions: read the log from a position, then follow it live, never skipping or repeating.

A subscription first catches up by reading pages from the store. It then registers with the
writer's ``Fanout`` and reads once more, so whatever committed before the registration is read
and whatever commits after it arrives through a bounded buffer; positions already seen are
dropped, and a gap (never expected from an in-process writer) is filled from the store. A
process that does not write the log has no fanout: it waits on the backend's change poll.

The buffer holds committed groups, not events. When it is full the writer closes it rather
than wait: the subscriber drains what it has and then gets ``SubscriberLaggedError`` naming
the position to resume from. An append never waits for a reader.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from eventsvc.errors import StoreError, SubscriberLaggedError
from eventsvc.events import RecordedEvent

ReadPage = Callable[[int, int], Awaitable[list[RecordedEvent]]]
"""``read_all(after, limit)`` of the store."""

ChangeMark = Callable[[], Awaitable[int]]
"""A marker of the log's state (a read-only process's ``PRAGMA data_version``)."""

WaitForChange = Callable[[int], Awaitable[None]]
"""Returns once the marker differs from the one given (a bounded poll)."""


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a subscriber wants: streams starting with a prefix, and/or some tags."""

    stream_prefix: str | None = None
    tags: frozenset[str] | None = None

    def matches(self, event: RecordedEvent) -> bool:
        if self.stream_prefix is not None and not event.stream.startswith(self.stream_prefix):
            return False
        return self.tags is None or event.tag in self.tags


class Fanout:
    """The writer's side of live subscriptions: hands each committed group to every buffer."""

    def __init__(self) -> None:
        self._streams: set[MemoryObjectSendStream[Sequence[RecordedEvent]]] = set()
        self.closed = False

    def __len__(self) -> int:
        return len(self._streams)

    def add(self, stream: MemoryObjectSendStream[Sequence[RecordedEvent]]) -> None:
        self._streams.add(stream)

    def discard(self, stream: MemoryObjectSendStream[Sequence[RecordedEvent]]) -> None:
        self._streams.discard(stream)

    def publish(self, events: Sequence[RecordedEvent]) -> None:
        """Offer a committed group to every subscriber; close those whose buffer is full."""
        for stream in list(self._streams):
            try:
                stream.send_nowait(events)
            except anyio.WouldBlock:
                self._streams.discard(stream)
                stream.close()
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._streams.discard(stream)

    def close(self) -> None:
        self.closed = True
        for stream in self._streams:
            stream.close()
        self._streams.clear()


class Subscription:
    """An async iterator over the log's events after ``position``, live once caught up.

    ``position`` is the last position this subscription has looked at (delivered or filtered
    out); reopening with ``after=position`` continues exactly where it stopped.
    """

    def __init__(
        self,
        read_page: ReadPage,
        fanout: Fanout | None,
        change_mark: ChangeMark,
        wait_for_change: WaitForChange,
        *,
        after: int,
        filter: EventFilter | None,
        buffer: int,
        page_size: int = 1000,
    ) -> None:
        self.position = after
        # True while caught up and following the writer's commits through the buffer.
        self.live = False
        self._went_live = anyio.Event()
        self._read_page = read_page
        self._fanout = fanout
        self._change_mark = change_mark
        self._wait_for_change = wait_for_change
        self._filter = filter or EventFilter()
        self._buffer = buffer
        self._page_size = page_size

    def __aiter__(self) -> AsyncIterator[RecordedEvent]:
        return self._events()

    def read_until(self, position: int) -> AsyncIterator[RecordedEvent]:
        """The matching events up to ``position``, then the end: read in pages, so a filter
        that matches nothing near ``position`` still ends."""
        return self._catch_up(until=position)

    async def wait_live(self) -> None:
        """Return once the iterating task has caught up and follows the writer live."""
        await self._went_live.wait()

    async def _events(self) -> AsyncIterator[RecordedEvent]:
        while True:
            # Marked before reading, so a commit landing after the read is never waited past.
            mark = await self._change_mark() if self._fanout is None else 0
            async for event in self._catch_up():
                yield event
            if self._fanout is None:
                await self._wait_for_change(mark)
                continue
            async for event in self._follow(self._fanout):
                yield event

    async def _catch_up(self, until: int | None = None) -> AsyncIterator[RecordedEvent]:
        """Read pages until the log (or ``until``) is reached."""
        while until is None or self.position < until:
            page = await self._read_page(self.position, self._page_size)
            if not page:
                return
            for event in page:
                if until is not None and event.position > until:
                    return
                self.position = event.position
                if self._filter.matches(event):
                    yield event

    async def _follow(self, fanout: Fanout) -> AsyncIterator[RecordedEvent]:
        send, receive = anyio.create_memory_object_stream[Sequence[RecordedEvent]](self._buffer)
        fanout.add(send)
        try:
            async for event in self._catch_up():
                yield event
            if receive.statistics().open_send_streams == 0:
                return  # overflowed while catching up from the store: catch up again
            self.live = True
            self._went_live.set()
            async with receive:
                async for group in receive:
                    if group[0].position > self.position + 1:
                        async for event in self._catch_up(until=group[0].position - 1):
                            yield event
                    for event in group:
                        if event.position <= self.position:
                            continue
                        self.position = event.position
                        if self._filter.matches(event):
                            yield event
        finally:
            if self.live:
                self.live = False
                self._went_live = anyio.Event()
            fanout.discard(send)
            send.close()
            receive.close()
        if fanout.closed:
            raise StoreError(f"the store was closed; resume with after={self.position}")
        raise SubscriberLaggedError(self.position, self._buffer)
