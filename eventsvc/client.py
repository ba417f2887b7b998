"""``EventsvcClient``: the HTTP API from Python (L3), with an event stream that resumes by id.

    async with EventsvcClient("http://127.0.0.1:9090", token=...) as client:
        result = await client.enqueue_batch("default", {"graph": ..., "data": ...})
        async for event in client.subscribe(after=0, batch_id=result["batch_id"]):
            ...

``subscribe`` reconnects with ``Last-Event-ID`` after a dropped connection, so a consumer sees
every event once, in order; it gives up after ``max_reconnects`` failures in a row.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import anyio
import httpx

from eventsvc.batches import Batch


class ClientError(Exception):
    """The server answered with an error: its status, code, message and details."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.code = str(body.get("code", "error"))
        self.details: list[dict[str, Any]] = list(body.get("details", []))
        super().__init__(f"{status} {self.code}: {body.get('message', '')}")


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """One frame of the event stream: ``id`` is the log position (None for progress)."""

    id: int | None
    event: str
    data: dict[str, Any]


class EventsvcClient:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_reconnects: int = 10,
        reconnect_delay: float = 0.2,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            transport=transport,
            timeout=httpx.Timeout(30, read=None),
        )
        self.max_reconnects = max_reconnects
        self.reconnect_delay = reconnect_delay

    async def __aenter__(self) -> EventsvcClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._http.aclose()

    # --- commands and queries -----------------------------------------------------------

    async def enqueue_batch(
        self, queue_id: str, batch: Batch | dict[str, Any], prepend: bool = False
    ) -> dict[str, Any]:
        body = batch.model_dump(mode="json") if isinstance(batch, Batch) else batch
        return await self._call(
            "POST", f"/queue/{queue_id}/enqueue_batch", json={"batch": body, "prepend": prepend}
        )

    async def status(self, queue_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/queue/{queue_id}/status")

    async def batch_status(self, queue_id: str, batch_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/queue/{queue_id}/b/{batch_id}/status")

    async def session(self, queue_id: str, session_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/queue/{queue_id}/s/{session_id}")

    async def cancel_session(self, queue_id: str, session_id: str) -> int:
        return int(
            (await self._call("PUT", f"/queue/{queue_id}/s/{session_id}/cancel"))["position"]
        )

    async def cancel_batches(self, queue_id: str, batch_ids: list[str]) -> int:
        body = {"batch_ids": batch_ids}
        return int(
            (await self._call("PUT", f"/queue/{queue_id}/cancel_by_batch_ids", json=body))[
                "position"
            ]
        )

    async def retry_sessions(self, queue_id: str, session_ids: list[str]) -> int:
        body = {"session_ids": session_ids}
        return int(
            (await self._call("PUT", f"/queue/{queue_id}/retry_sessions", json=body))["position"]
        )

    async def batch_stats(self, batch_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/stats/batches/{batch_id}")

    async def cache(self) -> dict[str, Any]:
        """The invocation cache: enabled, entries, size, bounds, hits and misses."""
        return await self._call("GET", "/cache")

    async def clear_cache(self) -> int:
        return int((await self._call("DELETE", "/cache"))["removed"])

    async def enable_cache(self, enabled: bool = True) -> dict[str, Any]:
        return await self._call("PUT", f"/cache/{'enable' if enabled else 'disable'}")

    async def rebuild_projection(self, name: str) -> dict[str, Any]:
        """Ask the service to rebuild projection ``name`` from the log (an admin route)."""
        return await self._call("POST", f"/projections/{name}/rebuild")

    async def artifact(self, sha256: str) -> bytes:
        response = await self._http.get(f"/api/v1/artifacts/{sha256}")
        _raise_for(response)
        return response.content

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self._http.request(method, f"/api/v1{path}", **kwargs)
        _raise_for(response)
        body: dict[str, Any] = response.json()
        return body

    # --- events -------------------------------------------------------------------------

    async def subscribe(self, after: int = 0, **filters: str) -> AsyncIterator[ServerEvent]:
        """Every event after ``after`` (and progress frames), reconnecting on a dropped line."""
        last, failures = after, 0
        while True:
            try:
                async with self._http.stream(
                    "GET",
                    "/api/v1/events",
                    params=filters,
                    headers={"Last-Event-ID": str(last)},
                ) as response:
                    if response.status_code != 200:
                        await response.aread()
                        _raise_for(response)
                    failures = 0
                    async for frame in _frames(response):
                        if frame.id is not None:
                            last = frame.id
                        yield frame
            except httpx.TransportError:
                failures += 1
                if failures > self.max_reconnects:
                    raise
                await anyio.sleep(self.reconnect_delay)


async def _frames(response: httpx.Response) -> AsyncIterator[ServerEvent]:
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if not line:
            if "data" in fields:
                identifier = fields.get("id")
                yield ServerEvent(
                    int(identifier) if identifier else None,
                    fields.get("event", "message"),
                    json.loads(fields["data"]),
                )
            fields = {}
        elif not line.startswith(":") and ": " in line:
            key, value = line.split(": ", 1)
            fields[key] = value


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {"code": "error", "message": response.text[:200]}
    raise ClientError(response.status_code, body)
