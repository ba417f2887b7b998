"""The SSE stream: replay through ASGITransport, live and resumable against a real uvicorn."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn

from eventsvc.api import create_app
from eventsvc.batches import Batch, BatchDatum
from eventsvc.config import Settings
from eventsvc.graph import parse_graph
from eventsvc.service import Service

pytestmark = pytest.mark.anyio

GRAPH = parse_graph({"nodes": {"a": {"type": "add", "id": "a"}}})


def batch(batch_id: str, count: int) -> Batch:
    data = [[BatchDatum(node_path="a", field_name="a", items=list(range(count)))]]
    return Batch(batch_id=batch_id, graph=GRAPH, data=data)


def settings_for(directory: Path) -> Settings:
    return Settings(
        store_url=f"sqlite://{directory}/events.db", artifacts_dir=str(directory / "artifacts")
    )


def parse(text: str) -> list[dict[str, str]]:
    frames = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1)
            for line in block.splitlines()
            if ": " in line and not line.startswith(":")
        )
        if fields:
            frames.append(fields)
    return frames


async def test_a_replay_closes_at_the_head_and_filters(tmp_path: Path) -> None:
    async with Service.open(settings_for(tmp_path)) as service:
        await service.enqueue_batch("q", batch("b1", 2))
        await service.enqueue_batch("other", batch("b2", 1))
        await service.cancel_session("b1.1")
        transport = httpx.ASGITransport(app=create_app(service))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            everything = await client.get("/api/v1/events", params={"follow": "false"})
            assert everything.headers["content-type"].startswith("text/event-stream")
            frames = parse(everything.text)
            assert [(f["id"], f["event"]) for f in frames] == [
                ("1", "batch.enqueued"),
                ("2", "batch.enqueued"),
                ("3", "session.canceled"),
            ]
            queue_q = parse(
                (
                    await client.get(
                        "/api/v1/events",
                        params={"follow": "false", "queue_id": "q", "tags": "session.canceled"},
                    )
                ).text
            )
            assert [f["id"] for f in queue_q] == ["3"]
            resumed = parse(
                (
                    await client.get(
                        "/api/v1/events", params={"follow": "false"}, headers={"Last-Event-ID": "1"}
                    )
                ).text
            )
            assert [f["id"] for f in resumed] == ["2", "3"]


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[Service, str]]:
    async with Service.open(settings_for(tmp_path), run_workers=True) as service:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(create_app(service), log_level="warning", lifespan="off")
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [listener])
            yield service, f"http://127.0.0.1:{port}"
            server.should_exit = True
        listener.close()


async def read_ids(client: httpx.AsyncClient, count: int, **request: Any) -> list[int]:
    """The first ``count`` positions the stream delivers, then the connection is dropped."""
    ids: list[int] = []
    async with client.stream("GET", "/api/v1/events", **request) as response:
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                ids.append(int(line[4:]))
                if len(ids) == count:
                    break
    return ids


async def test_a_live_stream_resumes_by_id_without_gap_or_duplicate(
    live: tuple[Service, str],
) -> None:
    service, url = live
    with anyio.fail_after(30):
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await service.enqueue_batch("default", batch("b1", 3))
            # 1 enqueue + 3 sessions x (started, node started, node completed, completed)
            first = await read_ids(client, 5)
            rest = await read_ids(client, 8, headers={"Last-Event-ID": str(first[-1])})
    assert first + rest == list(range(1, 14))


async def never_disconnects() -> dict[str, Any]:
    """The receive side of a client that stays connected."""
    await anyio.sleep_forever()
    raise AssertionError("unreachable")


async def test_a_client_that_cannot_keep_up_is_disconnected_and_told_where_to_resume(
    tmp_path: Path,
) -> None:
    from eventsvc.api.events import EventStream, Selection

    settings = settings_for(tmp_path).model_copy(update={"subscriber_buffer": 2})
    async with Service.open(settings) as service:
        stream = EventStream(service, after=0, follow=True, selection=Selection(), heartbeat=60)
        sent: list[bytes] = []
        first_write, unblock = anyio.Event(), anyio.Event()

        async def slow_send(message: dict[str, Any]) -> None:
            if message.get("body"):
                first_write.set()
                await unblock.wait()  # a client that stopped reading
            sent.append(message.get("body", b""))

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(stream, {"type": "http"}, never_disconnects, slow_send)
                await stream.live.wait()
                await service.enqueue_batch("q", batch("b0", 1))
                await first_write.wait()
                for n in range(1, 6):  # more commits than the subscriber's buffer holds
                    await service.enqueue_batch("q", batch(f"b{n}", 1))
                unblock.set()
        text = b"".join(sent).decode()
        assert "subscriber fell more than 2 commits behind" in text
        resume_at = int(text.rsplit("after=", 1)[1].split()[0])
        assert [int(f["id"]) for f in parse(text)] == list(range(1, resume_at + 1))


async def test_progress_goes_out_without_an_id_and_only_when_selected(tmp_path: Path) -> None:
    from eventsvc.api.events import EventStream, Selection
    from eventsvc.progress import Progress

    async with Service.open(settings_for(tmp_path)) as service:
        chosen = Selection(tags=frozenset({"invocation.progress"}), session_id="b1.0")
        stream = EventStream(service, after=0, follow=True, selection=chosen, heartbeat=60)
        sent: list[bytes] = []
        got_one = anyio.Event()

        async def send(message: dict[str, Any]) -> None:
            sent.append(message.get("body", b""))
            if b"invocation.progress" in message.get("body", b""):
                got_one.set()

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(stream, {"type": "http"}, never_disconnects, send)
                await stream.live.wait()
                await service.enqueue_batch("q", batch("b1", 1))  # not selected: no frame
                for session_id in ("b1.1", "b1.0"):  # only b1.0 is selected
                    service.progress.publish(Progress("q", "b1", session_id, "a", 0.5, "half"))
                await got_one.wait()
                tg.cancel_scope.cancel()
        frames = parse(b"".join(sent).decode())
        assert len(frames) == 1
        assert frames[0]["event"] == "invocation.progress"
        assert "id" not in frames[0]
        assert '"session_id": "b1.0"' in frames[0]["data"]


class Client:
    """The send side of one stream's client: every body it was sent, and the ids in them."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.ids: list[int] = []
        self._waiting: tuple[int, anyio.Event] | None = None

    async def send(self, message: dict[str, Any]) -> None:
        body = message.get("body", b"")
        if not body:
            return
        self.bodies.append(body)
        self.ids += [int(f["id"]) for f in parse(body.decode()) if "id" in f]
        if self._waiting is not None and self.ids and self.ids[-1] >= self._waiting[0]:
            self._waiting[1].set()

    async def wait_for(self, position: int) -> None:
        if self.ids and self.ids[-1] >= position:
            return
        self._waiting = (position, anyio.Event())
        await self._waiting[1].wait()


async def test_each_frame_is_built_once_whatever_the_number_of_streams(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventsvc.api import events
    from eventsvc.api.events import EventStream, Selection

    built: list[int] = []
    real_frame = events.frame

    def counting_frame(record: Any) -> bytes:
        built.append(record.position)
        return real_frame(record)

    monkeypatch.setattr(events, "frame", counting_frame)
    selections = [Selection()] * 20 + [
        Selection(queue_id="q"),
        Selection(tags=frozenset({"batch.enqueued"})),
    ]
    async with Service.open(settings_for(tmp_path)) as service:
        streams = [
            EventStream(service, after=0, follow=True, selection=s, heartbeat=60, flush=0)
            for s in selections
        ]
        clients = [Client() for _ in streams]
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                for stream, client in zip(streams, clients, strict=True):
                    tg.start_soon(stream, {"type": "http"}, never_disconnects, client.send)
                    await stream.live.wait()
                for n in range(6):
                    await service.enqueue_batch("q" if n % 2 else "other", batch(f"b{n}", 1))
                for client in clients:
                    await client.wait_for(6)
                tg.cancel_scope.cancel()
    assert sorted(built) == [1, 2, 3, 4, 5, 6]
    assert all(client.ids == [1, 2, 3, 4, 5, 6] for client in clients[:20])
    assert clients[20].ids == [2, 4, 6]
    assert clients[21].ids == [1, 2, 3, 4, 5, 6]


async def test_a_stream_that_is_behind_sends_everything_pending_in_one_write(
    tmp_path: Path,
) -> None:
    from eventsvc.api.events import EventStream, Selection

    async with Service.open(settings_for(tmp_path)) as service:
        stream = EventStream(
            service, after=0, follow=True, selection=Selection(), heartbeat=60, flush=0
        )
        client = Client()
        first_write, unblock = anyio.Event(), anyio.Event()

        async def slow_send(message: dict[str, Any]) -> None:
            if message.get("body"):
                first_write.set()
                await unblock.wait()  # a client reading slowly
            await client.send(message)

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(stream, {"type": "http"}, never_disconnects, slow_send)
                await stream.live.wait()
                await service.enqueue_batch("q", batch("b0", 1))
                await first_write.wait()
                for n in range(1, 6):  # five commits while the first write is under way
                    await service.enqueue_batch("q", batch(f"b{n}", 1))
                unblock.set()
                await client.wait_for(6)
                tg.cancel_scope.cancel()
    assert client.ids == [1, 2, 3, 4, 5, 6]
    assert [len(parse(body.decode())) for body in client.bodies] == [1, 5]


async def test_an_idle_logs_next_event_goes_out_at_once_despite_a_long_flush_interval(
    tmp_path: Path,
) -> None:
    from eventsvc.api.events import EventStream, Selection

    async with Service.open(settings_for(tmp_path)) as service:
        stream = EventStream(
            service, after=0, follow=True, selection=Selection(), heartbeat=60, flush=3600
        )
        stream.write_budget = 1e-9  # so small a share that a busy stream pauses the longest
        client = Client()
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(stream, {"type": "http"}, never_disconnects, client.send)
                await stream.live.wait()
                for n in range(2):
                    await service.enqueue_batch("q", batch(f"b{n}", 1))
                    await client.wait_for(n + 1)
                tg.cancel_scope.cancel()
    assert client.ids == [1, 2]


async def test_many_live_clients_each_get_every_event_exactly_once(
    live: tuple[Service, str],
) -> None:
    """The clients connect while the batch runs: each catches up, then follows live."""
    service, url = live
    sessions = 40
    total = 1 + sessions * 4  # the enqueue, then each session's four events
    received: list[list[int]] = []
    with anyio.fail_after(60):
        async with (
            httpx.AsyncClient(base_url=url, timeout=30) as client,
            anyio.create_task_group() as tg,
        ):

            async def follow() -> None:
                received.append(await read_ids(client, total))

            for _ in range(20):
                tg.start_soon(follow)
            await service.enqueue_batch("default", batch("many", sessions))
    assert len(received) == 20
    assert all(ids == list(range(1, total + 1)) for ids in received)
