"""Subscriptions: read the log from a position, then follow it live, never skipping or repeating.

The writer's ``Fanout`` is one bounded ring of recently committed groups shared by every live
subscriber, and one "something new" event: publishing a commit costs the same however many
subscribers there are. Each reads the ring from its own place, takes everything it has not read
in one step, and is woken only when it had caught up. A subscription catches up from the store,
joins the ring, reads the store once more, then follows the ring, dropping positions already
seen (a gap is filled from the store). One more than ``capacity`` commits behind is told with
``SubscriberLaggedError`` where to resume: an append never waits for a reader. A process that
does not write the log has no fanout: it waits on the backend's change poll.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import anyio

from eventsvc import instruments
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

    @property
    def everything(self) -> bool:
        """Whether the filter lets every event through (so nothing need be asked per event)."""
        return self.stream_prefix is None and self.tags is None

    def matches(self, event: RecordedEvent) -> bool:
        if self.stream_prefix is not None and not event.stream.startswith(self.stream_prefix):
            return False
        return self.tags is None or event.tag in self.tags


class Group:
    """Consecutive events in position order: one commit as the writer published it, or a page
    read from the store. A published group is one object shared by every subscriber reading
    it, so what a reader derives from it can be kept in ``memo`` and derived once, not once
    per reader."""

    __slots__ = ("events", "memo")

    def __init__(self, events: Sequence[RecordedEvent]) -> None:
        self.events = events
        self.memo: object = None

    @property
    def first(self) -> int:
        return self.events[0].position


class Run(NamedTuple):
    """The part of a group a subscription delivers: ``group.events[start:stop]``, of which its
    filter wants those at the indices ``wanted`` (None: all of them, as when not filtering)."""

    group: Group
    start: int
    stop: int
    wanted: Sequence[int] | None

    @staticmethod
    def whole(group: Group) -> Run:
        return Run(group, 0, len(group.events), None)

    @property
    def last(self) -> int:
        """The position of the run's last event, wanted or not."""
        return self.group.events[self.stop - 1].position

    def events(self) -> Iterator[RecordedEvent]:
        """The wanted events."""
        events = self.group.events
        indices = range(self.start, self.stop) if self.wanted is None else self.wanted
        return (events[i] for i in indices)


class _Cursor:
    """A live subscriber's place in the ring: the sequence number of the next group to read."""

    __slots__ = ("seq",)

    def __init__(self, seq: int) -> None:
        self.seq = seq


class Fanout:
    """The writer's side of live subscriptions: a ring of the last ``capacity`` groups.

    Groups are numbered as they are published and kept as whole runs, the form most readers
    take them in. Groups every reader has passed, and those beyond the last ``capacity``, are
    dropped every ``capacity // 4`` publications (so that the look at every reader stays off
    the per-commit path); nothing is kept while nobody reads.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self.closed = False
        self._runs: list[Run] = []
        self._base = 0  # the sequence number of _runs[0]
        self._step = max(16, capacity // 4)
        self._trim_at = self._step
        # Sequence numbers of groups that do not continue the one before them.
        self._breaks: list[int] = []
        self._cursors: set[_Cursor] = set()
        self._news = anyio.Event()

    def __len__(self) -> int:
        return len(self._cursors)

    @property
    def held(self) -> int:
        """The groups the ring holds now."""
        return len(self._runs)

    @property
    def end(self) -> int:
        """The sequence number the next group published will have."""
        return self._base + len(self._runs)

    def join(self) -> _Cursor:
        cursor = _Cursor(self.end)
        self._cursors.add(cursor)
        return cursor

    def leave(self, cursor: _Cursor) -> None:
        self._cursors.discard(cursor)
        if not self._cursors:
            self._base, self._runs, self._breaks = self.end, [], []
            self._trim_at = self._step

    def publish(self, events: Sequence[RecordedEvent]) -> None:
        """Add a committed group to the ring and wake whoever waits for news."""
        if not self._cursors or not events:
            return
        runs = self._runs
        if runs and runs[-1].last + 1 != events[0].position:
            self._breaks.append(self.end)
        runs.append(Run.whole(Group(events)))
        if len(runs) >= self._trim_at:
            self._trim()
        self._news.set()

    def _trim(self) -> None:
        oldest = min(cursor.seq for cursor in self._cursors)
        keep = max(self.end - self.capacity, oldest)
        if keep > self._base:
            del self._runs[: keep - self._base]
            self._base = keep
            self._breaks = [seq for seq in self._breaks if seq > keep]
        self._trim_at = len(self._runs) + self._step

    def lagged(self, cursor: _Cursor) -> bool:
        """Whether more than ``capacity`` groups were published since ``cursor`` last read."""
        return self.end - cursor.seq > self.capacity

    def read(self, cursor: _Cursor) -> tuple[list[Run], bool]:
        """Every group ``cursor`` has not read, as whole runs (none: nothing new), and whether
        any of them but the first does not continue the one before it. The caller checks
        ``lagged`` first."""
        runs = self._runs[cursor.seq - self._base :]
        broken = bool(self._breaks) and self._breaks[-1] > cursor.seq
        cursor.seq = self.end
        return runs, broken

    async def wait(self, cursor: _Cursor) -> None:
        """Return once a group ``cursor`` has not read was published, or the fanout closed."""
        if cursor.seq < self.end or self.closed:
            return
        if self._news.is_set():
            self._news = anyio.Event()
        await self._news.wait()

    def close(self) -> None:
        """Readers take what the ring still holds, then hear that the store closed."""
        self.closed = True
        self._news.set()


class Subscription:
    """An async iterator over the log's events after ``position``, live once caught up.

    ``position`` is the last position this subscription has looked at (delivered or filtered
    out); reopening with ``after=position`` continues exactly where it stopped. ``runs()``
    gives the same events a wake-up at a time: everything available, as runs of shared groups.
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
        page_size: int = 1000,
    ) -> None:
        self.position = after
        # True while caught up and following the writer's commits through the ring.
        self.live = False
        self._went_live = anyio.Event()
        self._read_page = read_page
        self._fanout = fanout
        self._change_mark = change_mark
        self._wait_for_change = wait_for_change
        self._filter = filter or EventFilter()
        self._page_size = page_size

    def __aiter__(self) -> AsyncIterator[RecordedEvent]:
        return self._events(None)

    def read_until(self, position: int) -> AsyncIterator[RecordedEvent]:
        """The matching events up to ``position``, then the end: read in pages, so a filter
        that matches nothing near ``position`` still ends."""
        return self._events(position)

    def runs(self, until: int | None = None) -> AsyncIterator[list[Run]]:
        """Everything available at each step, as runs in position order: a page of the store
        while catching up, then every commit since the last step. ``position`` moves to the
        end of a step as it is handed out; with ``until``, the steps end there."""
        return self._steps(until)

    async def wait_live(self) -> None:
        """Return once the iterating task has caught up and follows the writer live."""
        await self._went_live.wait()

    async def _events(self, until: int | None) -> AsyncIterator[RecordedEvent]:
        async for step in self._steps(until):
            for run in step:
                for event in run.events():
                    self.position = event.position
                    yield event
                self.position = run.last

    async def _steps(self, until: int | None) -> AsyncIterator[list[Run]]:
        """Non-empty steps, each continuing the one before. The consumer is done with a step
        before it asks for the next, so ``seen`` is where this subscription stands."""
        seen = self.position
        if until is not None:
            async for run in self._pages(seen, until):
                self.position = run.last
                yield [run]
            return
        fanout = self._fanout
        while fanout is None:
            # Marked before reading, so a commit landing after the read is never waited past.
            mark = await self._change_mark()
            async for run in self._pages(seen, None):
                seen = self.position = run.last
                yield [run]
            await self._wait_for_change(mark)
        cursor = fanout.join()
        try:
            # Whatever committed before joining is in the store; what commits from now on
            # waits in the ring. Should the ring move on too far meanwhile, read again.
            while True:
                async for run in self._pages(seen, None):
                    seen = self.position = run.last
                    yield [run]
                if not fanout.lagged(cursor):
                    break
                cursor.seq = fanout.end
            self.live = True
            self._went_live.set()
            while True:
                if fanout.lagged(cursor):
                    instruments.SUBSCRIBERS_DROPPED.inc()
                    raise SubscriberLaggedError(seen, fanout.capacity)
                runs, broken = fanout.read(cursor)
                if not runs:
                    if fanout.closed:
                        raise StoreError(f"the store was closed; resume with after={seen}")
                    await fanout.wait(cursor)
                    continue
                step = (
                    await self._fill(runs, seen)
                    if broken or runs[0].group.first > seen + 1
                    else self._live_step(runs, seen)
                )
                if step:
                    seen = self.position = step[-1].last
                    yield step
        finally:
            if self.live:
                self.live = False
                self._went_live = anyio.Event()
            fanout.leave(cursor)

    async def _pages(self, after: int, until: int | None) -> AsyncIterator[Run]:
        """Runs of pages read from the store, until the log (or ``until``) is reached."""
        while until is None or after < until:
            page = await self._read_page(after, self._page_size)
            stop = len(page)
            if until is not None:
                while stop and page[stop - 1].position > until:
                    stop -= 1
            if not stop:
                return
            run = self._run(Group(page), 0, stop)
            after = run.last
            yield run
            if stop < len(page):
                return

    def _live_step(self, runs: list[Run], seen: int) -> list[Run]:
        """Consecutive whole runs from ``seen + 1`` or before: the first cut to what is new,
        each filtered. Without a filter the ring's own runs go out as they are."""
        # Those read from the store while catching up come first: drop them.
        skip = 0
        while skip < len(runs) and runs[skip].last <= seen:
            skip += 1
        if skip:
            runs = runs[skip:]
            if not runs:
                return []
        first = runs[0]
        start = seen + 1 - first.group.first
        if self._filter.everything:
            if start > 0:
                runs[0] = Run(first.group, start, first.stop, None)
            return runs
        return [
            self._run(run.group, max(start, 0) if n == 0 else 0, run.stop)
            for n, run in enumerate(runs)
        ]

    async def _fill(self, runs: list[Run], seen: int) -> list[Run]:
        """Runs with a gap before or between them (never expected from an in-process writer):
        each gap is read from the store."""
        step: list[Run] = []
        for run in runs:
            if run.group.first > seen + 1:
                async for page in self._pages(seen, run.group.first - 1):
                    step.append(page)
                    seen = page.last
            part = self._live_step([run], seen)
            if part:
                step += part
                seen = part[-1].last
        return step

    def _run(self, group: Group, start: int, stop: int) -> Run:
        if self._filter.everything:
            return Run(group, start, stop, None)
        matches, events = self._filter.matches, group.events
        return Run(group, start, stop, [i for i in range(start, stop) if matches(events[i])])
