"""Group commit, as every store does it (L1): concurrent appends of one process share one
transaction.

Callers queue their request; one that finds no commit running leads: it commits up to
``max_group`` queued requests together, then wakes their callers and the next leader. Work
that needs the writer alone (a rebuild, an import) takes the leader's place the same way, and
the appends arriving meanwhile go together into the next commit.

A caller returns only once the commit that took its request has finished (``settled``), never
on what the commit wrote into the request midway: a result decided inside the transaction is
not yet visible (or may be rolled back). A commit that raises fails every request of its
group with that error; the leader's task is one caller among them, so it never takes down
whatever task it happens to be.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

import anyio

log = logging.getLogger("eventsvc.store")


class Request(Protocol):
    # Made only by a request that has to wait: one that leads at once never needs it.
    wakeup: anyio.Event | None
    # Set by the group commit once the commit that took the request has finished.
    settled: bool
    error: BaseException | None


_R = TypeVar("_R", bound=Request)
_T = TypeVar("_T")


class GroupCommit(Generic[_R]):
    def __init__(self, max_group: int, commit: Callable[[list[_R]], Awaitable[None]]) -> None:
        self._max_group = max_group
        self._commit = commit
        self._queue: list[_R] = []
        self._busy = False
        # Set when the leader steps down, for work waiting to run exclusively.
        self._idle: anyio.Event | None = None

    async def submit(self, request: _R) -> None:
        """Return once a commit has done ``request``. Shielded: once queued, an append runs to
        its end, since other callers' events may share its commit."""
        with anyio.CancelScope(shield=True):
            self._queue.append(request)
            while not request.settled:
                if self._busy:
                    request.wakeup = anyio.Event()
                    await request.wakeup.wait()
                else:
                    await self._lead()

    async def exclusively(self, work: Callable[[], Awaitable[_T]]) -> _T:
        """Run ``work`` while no commit runs."""
        while self._busy:
            if self._idle is None:
                self._idle = anyio.Event()
            await self._idle.wait()
        self._busy = True
        try:
            return await work()
        finally:
            self._hand_on()

    async def _lead(self) -> None:
        self._busy = True
        group, self._queue = self._queue[: self._max_group], self._queue[self._max_group :]
        try:
            await self._commit(group)
        except Exception as exc:  # the commit's own failure: its callers' error, not the leader's
            log.exception("a group commit of %d appends failed", len(group))
            for request in group:
                request.error = exc
        finally:
            for request in group:
                request.settled = True
                if request.wakeup is not None:
                    request.wakeup.set()
            self._hand_on()

    def _hand_on(self) -> None:
        """Step down: wake the next queued request and any work waiting to run alone."""
        self._busy = False
        if self._queue and (first := self._queue[0].wakeup) is not None:
            first.set()
        if self._idle is not None:
            self._idle.set()
            self._idle = None
