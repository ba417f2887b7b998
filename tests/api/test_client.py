"""The Python client against a real server: commands, errors, and a stream that survives drops."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from eventsvc.batches import Batch
from eventsvc.client import (
    AsyncClient,
    Client,
    ClientError,
    Conflict,
    InvalidRequest,
    NotFound,
)
from eventsvc.events import InvocationCompleted, QueuePaused
from eventsvc.graph import parse_graph
from eventsvc.progress import Progress
from eventsvc.service import Service
from tests.api.test_events import batch, live  # noqa: F401 (the live server fixture)

pytestmark = pytest.mark.anyio


class DropOnce(httpx.AsyncBaseTransport):
    """A real transport whose first event stream breaks after its first chunk."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.streams = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path == "/api/v1/events":
            self.streams += 1
            if self.streams == 1:
                response.stream = Broken(response.stream)  # type: ignore[arg-type]
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class Broken(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self.inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            yield chunk
            raise httpx.ReadError("the connection dropped")

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_the_stream_resumes_after_a_dropped_connection(
    live: tuple[Service, str],  # noqa: F811
) -> None:
    _, url = live
    transport = DropOnce()
    seen: list[int] = []
    with anyio.fail_after(30):
        async with AsyncClient(url, transport=transport, reconnect_delay=0.01) as client:
            result = await client.enqueue_batch("default", batch("b1", 3).model_dump(mode="json"))
            assert result.session_count == 3
            async for event in client.subscribe(after=0):
                if event.id is not None:
                    seen.append(event.id)
                if len(seen) == 13:
                    break
            status = await client.batch_status("default", "b1")
    assert seen == list(range(1, 14))
    assert transport.streams >= 2
    assert status.counts.completed == 3


async def test_errors_arrive_as_the_client_error_of_their_code(
    live: tuple[Service, str],  # noqa: F811
) -> None:
    _, url = live
    async with AsyncClient(url) as client:
        with pytest.raises(NotFound) as missing:
            await client.session("default", "nope.0")
        assert (missing.value.status, missing.value.code) == (404, "not_found")
        bad = {"graph": {"nodes": {"a": {"type": "ad", "id": "a"}}}}
        with pytest.raises(InvalidRequest) as invalid:
            await client.enqueue_batch("default", bad)
        assert (invalid.value.status, invalid.value.code) == (422, "invalid_graph")
        assert (invalid.value.details[0].node_id, invalid.value.details[0].field) == ("a", "type")
        await client.enqueue_batch("default", batch("b1", 1))
        with pytest.raises(Conflict):
            await client.enqueue_batch("default", batch("b1", 1))
        assert isinstance(missing.value, ClientError)


SEPARATORS = "line\u2028separator\u2029paragraph\u0085next\r\nwindows\rold-mac\nunix"


async def test_text_with_every_line_separator_comes_back_intact_through_subscribe(
    live: tuple[Service, str],  # noqa: F811
) -> None:
    _, url = live
    graph = parse_graph({"nodes": {"s": {"type": "string", "id": "s", "value": SEPARATORS}}})
    async with AsyncClient(url) as client:
        await client.enqueue_batch("default", Batch(batch_id="text", graph=graph))
        with anyio.fail_after(30):
            async for event in client.subscribe(after=0, batch_id="text"):
                if isinstance(event.data, InvocationCompleted):
                    break
    assert event.data.outputs == {"type": "string_output", "value": SEPARATORS}


class CraftedStream(httpx.AsyncBaseTransport):
    """An event stream written as other servers may write it, then the end."""

    body = (
        b": a comment\r\n"
        b"id:7\r\nevent:queue.paused\r\ndata:{\"type\":\"queue.paused\",\r\n"
        b'data: "queue_id":"q"}\r\n\r\n'
        b": heartbeat\n\n"
        b"event: invocation.progress\ndata: " + json.dumps({
            "queue_id": "q", "batch_id": "b", "session_id": "b.0", "node_id": "n",
            "fraction": 0.5, "message": "half",
        }).encode() + b"\n\n"
    )  # fmt: skip

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=self.body)


async def test_fields_without_a_space_and_data_over_several_lines_are_joined() -> None:
    client = AsyncClient("http://test", transport=CraftedStream(), max_reconnects=0)
    seen = []
    async with client:
        async for event in client.subscribe():
            seen.append(event)
            if len(seen) == 2:
                break
    paused, progress = seen
    assert (paused.id, paused.event, paused.data) == (7, "queue.paused", QueuePaused(queue_id="q"))
    assert progress.id is None
    assert progress.data == Progress("q", "b", "b.0", "n", 0.5, "half")


async def test_the_sync_client_does_what_the_async_one_does(live: tuple[Service, str]) -> None:  # noqa: F811
    _, url = live

    def script() -> tuple[int, int, str, int]:
        with Client(url) as client:
            result = client.enqueue_batch("default", batch("sync", 2))
            events = client.subscribe(after=0, batch_id="sync", tags="session.completed")
            done = [next(events), next(events)]
            events.close()
            status = client.batch_status("default", result.batch_id)
            with pytest.raises(NotFound):
                client.batch_status("default", "nope")
            return result.session_count, status.counts.completed, done[0].event, len(done)

    # A script of its own, in a thread without an event loop, as a notebook cell would be.
    assert await anyio.to_thread.run_sync(script) == (2, 2, "session.completed", 2)


async def test_the_sync_client_lists_queues_and_the_stats_the_dashboard_shows(
    live: tuple[Service, str],  # noqa: F811
) -> None:
    _, url = live

    def script() -> tuple[list[str], int, int, int]:
        with Client(url) as client:
            client.enqueue_batch("default", batch("listed", 3))
            events = client.subscribe(after=0, batch_id="listed", tags="session.completed")
            [next(events) for _ in range(3)]
            events.close()
            queues = [q.queue_id for q in client.queues().items]
            [add] = client.node_type_stats().node_types
            ended = client.completions(limit=5)
            return queues, sum(b.completed for b in ended.buckets), add.calls, add.failures

    assert await anyio.to_thread.run_sync(script) == (["default"], 3, 3, 0)
