"""The Python client against a real server: commands, errors, and a stream that survives drops."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from eventsvc.client import ClientError, EventsvcClient
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
        async with EventsvcClient(url, transport=transport, reconnect_delay=0.01) as client:
            result = await client.enqueue_batch("default", batch("b1", 3).model_dump(mode="json"))
            assert result["session_count"] == 3
            async for event in client.subscribe(after=0):
                if event.id is not None:
                    seen.append(event.id)
                if len(seen) == 13:
                    break
            status = await client.batch_status("default", "b1")
    assert seen == list(range(1, 14))
    assert transport.streams >= 2
    assert status["counts"]["completed"] == 3


async def test_errors_arrive_as_client_errors(live: tuple[Service, str]) -> None:  # noqa: F811
    _, url = live
    async with EventsvcClient(url) as client:
        with pytest.raises(ClientError) as caught:
            await client.session("default", "nope.0")
        assert (caught.value.status, caught.value.code) == (404, "not_found")
        bad = {"graph": {"nodes": {"a": {"type": "ad", "id": "a"}}}}
        with pytest.raises(ClientError) as invalid:
            await client.enqueue_batch("default", bad)
        assert invalid.value.status == 422
        assert invalid.value.details[0]["node_id"] == "a"
