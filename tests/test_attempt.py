"""An attempt's node threads: a thread abandoned by its session hands its limiter slot back
when it ends, and never waits on an event loop to do it."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import anyio
import anyio.to_thread

from eventsvc.attempt import _Slot


class AbandonedNode:
    """A node thread (an AnyIO worker thread, as attempts run them) abandoned by its session
    on ``loop``: it ends, giving its slot back, once ``finish`` is set."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.limiter = anyio.CapacityLimiter(1)
        self.bench = SimpleNamespace(abandoned_threads=0)
        self.slot = _Slot(self.limiter, self.bench)  # type: ignore[arg-type]
        self.started, self.finish = threading.Event(), threading.Event()
        self.ended = threading.Event()
        loop.run_until_complete(self._start())

    async def _start(self) -> None:
        await self.slot.take()

        def node() -> None:
            self.started.set()
            self.finish.wait(10)
            self.slot.thread_done()
            self.ended.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: anyio.to_thread.run_sync(node, abandon_on_cancel=True))
            await anyio.to_thread.run_sync(self.started.wait, 10)
            tg.cancel_scope.cancel()  # the session is canceled: its thread is abandoned
        self.slot.abandon()


def test_an_abandoned_thread_gives_its_slot_back_on_the_loop_when_it_ends() -> None:
    loop = asyncio.new_event_loop()
    try:
        node = AbandonedNode(loop)
        assert (node.bench.abandoned_threads, node.limiter.borrowed_tokens) == (1, 1)

        async def end_it() -> None:
            node.finish.set()
            # The slot is the limiter's last: taking it again waits for the hand-back.
            with anyio.fail_after(10):
                async with node.limiter:
                    pass

        loop.run_until_complete(end_it())
        assert node.bench.abandoned_threads == 0
    finally:
        loop.close()


def test_an_abandoned_thread_that_ends_after_its_loop_stopped_does_not_wait_for_it() -> None:
    """A loop that stopped but is not closed yet (a process shutting down) runs nothing more:
    a thread that waited for it would hold the interpreter's exit up for ever."""
    loop = asyncio.new_event_loop()
    try:
        node = AbandonedNode(loop)
        node.finish.set()
        assert node.ended.wait(5)
    finally:
        loop.close()
