"""Node progress: published live to whoever listens, never written to the log (L2).

A listener gets a bounded buffer; one that falls behind is dropped rather than slowing a node
(it can listen again). Reports may come from node threads: ``publish_threadsafe`` hops onto
the event loop first.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream


@dataclass(frozen=True, slots=True)
class Progress:
    """How far one node is: published as ``invocation.progress``."""

    queue_id: str
    batch_id: str
    session_id: str
    node_id: str
    fraction: float
    message: str = ""


class ProgressHub:
    def __init__(self, buffer: int = 256) -> None:
        self._buffer = buffer
        self._listeners: set[MemoryObjectSendStream[Progress]] = set()
        self._loop_thread: int | None = None

    @asynccontextmanager
    async def listen(self) -> AsyncIterator[MemoryObjectReceiveStream[Progress]]:
        self._loop_thread = threading.get_ident()
        send, receive = anyio.create_memory_object_stream[Progress](self._buffer)
        self._listeners.add(send)
        try:
            async with receive:
                yield receive
        finally:
            self._listeners.discard(send)
            send.close()

    def publish(self, progress: Progress) -> None:
        """Hand a report to every listener (on the event loop's thread)."""
        for listener in list(self._listeners):
            try:
                listener.send_nowait(progress)
            except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._listeners.discard(listener)
                listener.close()

    def publish_threadsafe(self, progress: Progress) -> None:
        """``publish`` from any thread: a node thread hops onto the event loop first."""
        if not self._listeners:
            return
        if threading.get_ident() == self._loop_thread:
            self.publish(progress)
        else:
            anyio.from_thread.run_sync(self.publish, progress)
