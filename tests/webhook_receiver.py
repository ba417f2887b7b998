"""A real HTTP receiver on a loopback port for the webhook tests: it records every request
and answers as the test's ``answer`` says (a status; it may first wait, to be slow, or block
until the test lets it go). Minimal HTTP/1.1 with keep-alive, which is all httpx needs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.abc


@dataclass(frozen=True)
class Request:
    headers: dict[str, str]
    body: bytes
    connection: int = 0

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Answer = Callable[[int, Request], Awaitable[int]]


async def always_ok(index: int, request: Request) -> int:
    return 200


class Receiver:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[Request] = []
        self.accepted: list[Request] = []  # those answered 2xx
        self.url = ""
        self.connections = 0
        self._changed = anyio.Event()

    async def wait_for(self, accepted: int) -> None:
        """Until ``accepted`` requests have been answered 2xx."""
        await self.wait_until(lambda: len(self.accepted) >= accepted)

    async def wait_until(self, holds: Callable[[], bool]) -> None:
        """Until ``holds()``, looked at as each request arrives and as it is answered."""
        while not holds():
            await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def serve(self, stream: anyio.abc.ByteStream) -> None:
        buffer = b""
        self.connections += 1
        connection = self.connections
        async with stream:
            while True:
                while b"\r\n\r\n" not in buffer:
                    try:
                        buffer += await stream.receive()
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        return
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                headers = dict(line.split(": ", 1) for line in lines[1:])
                headers = {k.lower(): v for k, v in headers.items()}
                length = int(headers.get("content-length", "0"))
                while len(buffer) < length:
                    buffer += await stream.receive()
                body, buffer = buffer[:length], buffer[length:]
                request = Request(headers, body, connection)
                index = len(self.requests)
                self.requests.append(request)
                self._notify()
                status = await self.answer(index, request)
                if 200 <= status < 300:
                    self.accepted.append(request)
                self._notify()
                try:
                    await stream.send(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n".encode())
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    return  # the sender went away meanwhile


@asynccontextmanager
async def receiving(answer: Answer = always_ok) -> AsyncIterator[Receiver]:
    receiver = Receiver(answer)
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    receiver.url = f"http://127.0.0.1:{port}/hook"
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, receiver.serve)
        yield receiver
        tg.cancel_scope.cancel()
