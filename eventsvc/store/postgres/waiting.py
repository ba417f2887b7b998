"""The appends of this process that wait for their seal: the caller waits on its own entry;
whoever learns where an append's rows were sealed (this process's sealer, another process's
seal notification, the follower's poll) resolves it by its batch number."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import anyio

from eventsvc.events import Event
from eventsvc.store.protocols import AppendResult
from eventsvc.store.rows import Item

# Batches sealed lately, remembered for an append whose seal is heard before it registers.
_RECENT = 8192


@dataclass(slots=True)
class Pending:
    """An inserted append waiting for its rows to be sealed."""

    batch: int
    stream: str
    last_version: int
    items: list[Item]
    sealed: anyio.Event = field(default_factory=anyio.Event)
    last_position: int | None = None
    since: float = field(default_factory=anyio.current_time)

    def payload(self, version: int) -> tuple[str, str]:
        item = self.items[version - self.last_version + len(self.items) - 1]
        return item[3], item[4]

    def event(self, version: int) -> Event:
        return self.items[version - self.last_version + len(self.items) - 1][5]

    def resolve(self, last_position: int) -> None:
        self.last_position = last_position
        self.sealed.set()

    def result(self) -> AppendResult:
        assert self.last_position is not None
        first = self.last_position - len(self.items) + 1
        return AppendResult(self.stream, first, self.last_position, self.last_version)


class Waiting:
    """The pending appends by batch number, and the batches sealed lately."""

    def __init__(self) -> None:
        self.pending: dict[int, Pending] = {}
        self._recent: OrderedDict[int, int] = OrderedDict()
        # Set when the store stops: why no pending append will be resolved by this process.
        self.stopped = ""

    def register(self, stream: str, batch: int, last_version: int, items: list[Item]) -> Pending:
        pending = Pending(batch, stream, last_version, items)
        last = self._recent.get(batch)
        if last is not None:
            pending.resolve(last)
        else:
            self.pending[batch] = pending
            if self.stopped:
                pending.sealed.set()
        return pending

    def resolve(self, lasts: dict[int, int]) -> None:
        """Batches sealed, each with the position of its last row."""
        self._recent.update(lasts)
        if self.pending:  # a seal names every batch it sealed, most of them other processes'
            for batch in lasts.keys() & self.pending.keys():
                self.pending.pop(batch).resolve(lasts[batch])
        while len(self._recent) > _RECENT:
            self._recent.popitem(last=False)

    def sealed_at(self, batch: int) -> int | None:
        """The position of the last row of ``batch``, if its seal was heard of lately."""
        return self._recent.get(batch)

    def stop(self, why: str) -> None:
        """Wake every pending append with ``why`` (it may still be sealed, elsewhere)."""
        self.stopped = why
        for pending in self.pending.values():
            pending.sealed.set()

    def oldest(self) -> Pending | None:
        return next(iter(self.pending.values()), None)
