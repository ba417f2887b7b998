"""Live SSE subscribers of ``/api/v1/events`` in a process of their own: the load of a bench.

    python tools/subscribers.py http://127.0.0.1:PORT COUNT AFTER

Each subscriber follows the log live from ``AFTER`` over a raw HTTP/1.1 connection and only
counts ids (no JSON parsing), so the client costs little beside the server it loads. It prints
``ready`` once every stream has answered; then it reads a position from stdin, waits until
every subscriber has seen it, and prints one JSON line: how many saw every event after
``AFTER`` exactly once, in order, how often they had to resume with Last-Event-ID, how many
chunks (the server's writes) they received, and the wall-clock time (``time.time()``) at
which the last of them reached the position.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# Every frame starts on a new line (the stream's first one too, see read_chunks): a literal
# prefix lets the regex engine skip ahead quickly.
ID = re.compile(rb"\nid: (\d+)")


@dataclass
class Follower:
    """One subscriber: the next id it expects, and what went wrong."""

    expected: int
    received: int = 0
    chunks: int = 0
    errors: int = 0
    reconnects: int = 0
    reached_at: float = 0.0
    target: int | None = None
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    def take(self, chunk: bytes) -> None:
        self.chunks += 1
        found = ID.findall(chunk)
        if not found:
            return
        ids = list(map(int, found))
        if ids != list(range(self.expected, self.expected + len(ids))):
            self.errors += 1
        self.received += len(ids)
        self.expected = ids[-1] + 1
        self.check()

    def check(self) -> None:
        if self.target is not None and self.expected > self.target and not self.reached.is_set():
            self.reached_at = time.time()
            self.reached.set()


async def follow(host: str, port: int, follower: Follower, answered: asyncio.Event) -> None:
    """Follow the stream, resuming with Last-Event-ID whenever the server closes it."""
    while True:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            resume = follower.expected - 1
            writer.write(
                f"GET /api/v1/events HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Accept: text/event-stream\r\nLast-Event-ID: {resume}\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"the stream answered {head[:40]!r}")
            if b"chunked" not in head.lower():
                raise RuntimeError("the stream is expected in chunked transfer encoding")
            answered.set()
            await read_chunks(reader, follower)
        finally:
            writer.close()
        follower.reconnects += 1


async def read_chunks(reader: asyncio.StreamReader, follower: Follower) -> None:
    rest = b"\n"
    while True:
        size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return
        data = rest + (await reader.readexactly(size + 2))[:-2]
        # Frames end with a blank line: take whole ones, keeping the newline that ends the
        # last, so that every frame taken (and the next chunk's first) follows a newline.
        cut = data.rfind(b"\n\n") + 1
        rest = data[cut:]
        follower.take(data[:cut])
        if b"\n: closed:" in data:
            return


async def main(base: str, count: int, after: int) -> None:
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    followers = [Follower(after + 1) for _ in range(count)]
    answered = [asyncio.Event() for _ in range(count)]
    tasks = [
        asyncio.create_task(follow(host, port, f, a))
        for f, a in zip(followers, answered, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(a.wait() for a in answered)), 60)
    print("ready", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    target = int(line)
    for follower in followers:
        follower.target = target
        follower.check()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(f.reached.wait() for f in followers)), 300)
    for task in tasks:
        task.cancel()
    expected = target - after
    exact = sum(f.errors == 0 and f.received == expected for f in followers)
    result = {
        "subscribers": count,
        "exactly_once": exact,
        "reconnects": sum(f.reconnects for f in followers),
        "chunks": sum(f.chunks for f in followers),
        "reached_at": max(f.reached_at or time.time() for f in followers),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
