"""``webhooks``: deliveries of one webhook to a loopback receiver (one signed POST per event,
each followed by its checkpoint write), beside a bare httpx POST loop of the same bodies to
the same receiver in the same run."""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.abc
import httpx

from benches.common import Figure, timed
from eventsvc import events as ev
from eventsvc.config import Settings
from eventsvc.service import Service
from eventsvc.webhooks import new_secret

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


class Receiver:
    """The least HTTP/1.1 server that answers every POST 200 and counts them."""

    def __init__(self) -> None:
        self.count = 0
        self.target = 0
        self.reached = anyio.Event()

    def expect(self, count: int) -> None:
        self.count, self.target, self.reached = 0, count, anyio.Event()

    async def serve(self, stream: anyio.abc.ByteStream) -> None:
        buffer = b""
        async with stream:
            while True:
                while b"\r\n\r\n" not in buffer:
                    try:
                        buffer += await stream.receive()
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        return
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                while len(buffer) < length:
                    buffer += await stream.receive()
                buffer = buffer[length:]
                self.count += 1
                if self.count >= self.target:
                    self.reached.set()
                await stream.send(OK)


async def bench_webhooks(directory: Path, deliveries: int = 2000) -> list[Figure]:
    receiver = Receiver()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    url = f"http://127.0.0.1:{listener.extra(anyio.abc.SocketAttribute.local_port)}/hook"
    settings = Settings(
        store_url=f"sqlite://{directory / 'webhooks.db'}",
        artifacts_dir=str(directory / "artifacts"),
        webhooks_allow=("127.0.0.0/8",),
    )
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, receiver.serve)
        async with Service.open(settings) as service:
            events = [ev.QueuePaused(queue_id="q") for _ in range(deliveries)]
            for start in range(0, deliveries, 500):
                await service.store.append("queue-q", events[start : start + 500])
            body = (await service.store.read_all(0, 1))[0]
            sample = httpx.Request("POST", url, json={"data": str(body.data)}).content

            async def bare() -> None:
                receiver.expect(deliveries)
                async with httpx.AsyncClient() as http:
                    for _ in range(deliveries):
                        await http.post(url, content=sample)

            async def delivered() -> None:
                receiver.expect(deliveries)
                dispatcher = service.webhooks.dispatcher
                assert dispatcher is not None
                async with anyio.create_task_group() as running:
                    await running.start(dispatcher.run)
                    await service.webhooks.add(url, new_secret(), after=0)
                    await receiver.reached.wait()
                    running.cancel_scope.cancel()

            floor_s = await timed(bare)
            value_s = await timed(delivered)
        tg.cancel_scope.cancel()
    return [
        Figure(
            "webhook_deliveries_per_s",
            deliveries / value_s,
            "deliveries/s",
            deliveries / floor_s,
            ">= 0.5 of a bare httpx POST loop",
        )
    ]
