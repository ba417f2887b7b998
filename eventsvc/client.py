"""The HTTP API from Python (L3): ``AsyncClient``, and ``Client``, its synchronous twin for
scripts and notebooks (as httpx has both).

    with Client("http://127.0.0.1:9090", token=...) as client:
        result = client.enqueue_batch("default", batch)
        print(client.batch_status("default", result.batch_id).counts)

Every method returns the API's own models (``eventsvc.views``, ``eventsvc.api.models``), and
an error answer raises the ``ClientError`` subclass of its code. ``subscribe`` parses the event
stream with httpx-sse (lines end only where SSE says they do, so U+2028 in a payload is just
text), yields each event decoded, and reconnects with ``Last-Event-ID`` after a dropped
connection, so a consumer sees every event once, in order; it gives up after
``max_reconnects`` failures in a row. ``Client`` runs an ``AsyncClient`` on an event loop of
its own, in a thread, so both behave the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import httpx
import msgspec
from httpx_sse import EventSource
from pydantic import TypeAdapter, ValidationError

from eventsvc.api.browse import AuditStatus, LoggedEvent, PastQueue, PastStats
from eventsvc.api.errors import ArchivedDetail, ErrorDetail
from eventsvc.api.models import (
    ArchiveResult,
    CacheCleared,
    CacheStatusBody,
    Health,
    NodeType,
    Position,
    RebuiltProjection,
    State,
)
from eventsvc.api.webhooks import AddWebhook, WebhookList
from eventsvc.batches import Batch
from eventsvc.events import CODEC, Event
from eventsvc.progress import Progress
from eventsvc.projections.browse import ArtifactPage, BatchPage, QueuePage
from eventsvc.stats import Completions, StatsSummary
from eventsvc.views import BatchStatus, EnqueueResult, QueueStatus, SessionDetail, SessionPage
from eventsvc.webhooks import Webhook, WebhookFilter

_M = TypeVar("_M")


# --- errors ---------------------------------------------------------------------------------


class ClientError(Exception):
    """The server answered with an error: its status, code, message and details.

    ClientError
    ├── BadRequest          400 bad_request: the body is not JSON
    ├── Unauthorized        401 unauthorized: the token is missing or wrong
    ├── Forbidden           403 cross_site_request (a server without a token)
    ├── NotFound            404 not_found
    ├── Conflict            409 conflict: the state does not allow the command
    ├── Gone                410 archived: it left the live log for an archive file
    ├── PayloadTooLarge     413 body_too_large
    ├── UnsupportedMedia    415 unsupported_media_type (a server without a token)
    ├── MisdirectedRequest  421 host_not_allowed (a server without a token)
    ├── InvalidRequest      422 invalid_request, invalid_batch, invalid_graph,
    │                           invalid_value, limit_exceeded: ``details`` name each problem
    └── Unavailable         503 store_unavailable: the store, or a stalled projection
    """

    def __init__(self, status: int, code: str, message: str, details: list[ErrorDetail]) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class BadRequest(ClientError):
    pass


class Unauthorized(ClientError):
    pass


class Forbidden(ClientError):
    pass


class NotFound(ClientError):
    pass


class Conflict(ClientError):
    pass


class Gone(ClientError):
    """``first_live_position``: where the live log begins; ``files``: the archive files that
    hold what was asked for (None, [] from a server that did not say)."""

    def __init__(self, status: int, code: str, message: str, details: list[ErrorDetail]) -> None:
        super().__init__(status, code, message, details)
        self.first_live_position: int | None = None
        self.files: list[str] = []


class PayloadTooLarge(ClientError):
    pass


class UnsupportedMedia(ClientError):
    pass


class MisdirectedRequest(ClientError):
    pass


class InvalidRequest(ClientError):
    pass


class Unavailable(ClientError):
    pass


_BY_CODE: dict[str, type[ClientError]] = {
    "bad_request": BadRequest,
    "unauthorized": Unauthorized,
    "cross_site_request": Forbidden,
    "not_found": NotFound,
    "conflict": Conflict,
    "archived": Gone,
    "body_too_large": PayloadTooLarge,
    "unsupported_media_type": UnsupportedMedia,
    "host_not_allowed": MisdirectedRequest,
    "invalid_request": InvalidRequest,
    "invalid_batch": InvalidRequest,
    "invalid_graph": InvalidRequest,
    "invalid_value": InvalidRequest,
    "limit_exceeded": InvalidRequest,
    "store_unavailable": Unavailable,
}
_BY_STATUS = {400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
              410: Gone, 413: PayloadTooLarge, 415: UnsupportedMedia, 421: MisdirectedRequest,
              422: InvalidRequest, 503: Unavailable}  # fmt: skip


def error_of(response: httpx.Response) -> ClientError:
    """The error an error answer stands for (an answer without the API's body, from a proxy
    say, is known by its status)."""
    body: Any = None
    try:
        body = response.json()
        code, message = str(body["code"]), str(body["message"])
        details = [ErrorDetail.model_validate(d) for d in body.get("details", [])]
    except (ValueError, KeyError, TypeError, ValidationError):
        code, message, details = "error", response.text[:200], []
    kind = _BY_CODE.get(code) or _BY_STATUS.get(response.status_code, ClientError)
    error = kind(response.status_code, code, message, details)
    if (
        isinstance(error, Gone)
        and isinstance(body, dict)
        and isinstance(body.get("archived"), dict)
    ):
        with contextlib.suppress(ValidationError):
            where = ArchivedDetail.model_validate(body["archived"])
            error.first_live_position, error.files = where.first_live_position, where.files
    return error


# --- the event stream -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """One frame of the event stream: a log event at position ``id``, or a node's progress
    (``id`` None, ``event`` ``invocation.progress``)."""

    id: int | None
    event: str
    data: Event | Progress


def _server_event(id_: str, event: str, data: str) -> ServerEvent:
    if event == "invocation.progress":
        return ServerEvent(None, event, msgspec.json.decode(data, type=Progress))
    return ServerEvent(int(id_), event, CODEC.decode_current(data))


# --- the async client -----------------------------------------------------------------------


class AsyncClient:
    """The API over one HTTP connection pool; use it as ``async with``."""

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

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- the queue --------------------------------------------------------------------

    async def enqueue_batch(
        self, queue_id: str, batch: Batch | dict[str, Any], prepend: bool = False
    ) -> EnqueueResult:
        body = batch.model_dump(mode="json") if isinstance(batch, Batch) else batch
        path = f"/queue/{queue_id}/enqueue_batch"
        return await self._call(EnqueueResult, "POST", path, {"batch": body, "prepend": prepend})

    async def status(self, queue_id: str) -> QueueStatus:
        return await self._call(QueueStatus, "GET", f"/queue/{queue_id}/status")

    async def batch_status(self, queue_id: str, batch_id: str) -> BatchStatus:
        return await self._call(BatchStatus, "GET", f"/queue/{queue_id}/b/{batch_id}/status")

    async def sessions(
        self,
        queue_id: str,
        *,
        batch_id: str | None = None,
        state: State | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> SessionPage:
        """A page of the queue's sessions; pass ``next_cursor`` as ``after`` for the next."""
        query = {"batch_id": batch_id, "state": state, "after": after, "limit": limit}
        params = {key: value for key, value in query.items() if value is not None}
        return await self._call(SessionPage, "GET", f"/queue/{queue_id}/sessions", params=params)

    async def session(self, queue_id: str, session_id: str) -> SessionDetail:
        return await self._call(SessionDetail, "GET", f"/queue/{queue_id}/s/{session_id}")

    async def cancel_session(self, queue_id: str, session_id: str) -> int:
        path = f"/queue/{queue_id}/s/{session_id}/cancel"
        return (await self._call(Position, "PUT", path)).position

    async def cancel_batches(self, queue_id: str, batch_ids: list[str]) -> int:
        path = f"/queue/{queue_id}/cancel_by_batch_ids"
        return (await self._call(Position, "PUT", path, {"batch_ids": batch_ids})).position

    async def retry_sessions(self, queue_id: str, session_ids: list[str]) -> int:
        path = f"/queue/{queue_id}/retry_sessions"
        return (await self._call(Position, "PUT", path, {"session_ids": session_ids})).position

    async def reprioritize(self, queue_id: str, batch_id: str, priority: int) -> int:
        path = f"/queue/{queue_id}/b/{batch_id}/priority"
        return (await self._call(Position, "PUT", path, {"priority": priority})).position

    async def pause(self, queue_id: str) -> int:
        return (await self._call(Position, "PUT", f"/queue/{queue_id}/processor/pause")).position

    async def resume(self, queue_id: str) -> int:
        return (await self._call(Position, "PUT", f"/queue/{queue_id}/processor/resume")).position

    async def prune(self, queue_id: str) -> int:
        return (await self._call(Position, "PUT", f"/queue/{queue_id}/prune")).position

    # --- stats, nodes, artifacts, cache, health ---------------------------------------

    async def session_stats(self, session_id: str) -> StatsSummary:
        return await self._call(StatsSummary, "GET", f"/stats/sessions/{session_id}")

    async def batch_stats(self, batch_id: str) -> StatsSummary:
        return await self._call(StatsSummary, "GET", f"/stats/batches/{batch_id}")

    async def node_type_stats(self) -> StatsSummary:
        return await self._call(StatsSummary, "GET", "/stats/node_types")

    async def completions(self, limit: int = 1440) -> Completions:
        """Sessions ended per minute, oldest first: the last ``limit`` minutes that had any."""
        return await self._call(Completions, "GET", "/stats/completions", params={"limit": limit})

    async def node_types(self) -> list[NodeType]:
        return await self._call(list[NodeType], "GET", "/invocations")

    async def artifact(self, sha256: str) -> bytes:
        response = await self._http.get(f"/api/v1/artifacts/{sha256}")
        if response.status_code >= 400:
            raise error_of(response)
        return response.content

    async def cache(self) -> CacheStatusBody:
        """The invocation cache: enabled, entries, size, bounds, hits and misses."""
        return await self._call(CacheStatusBody, "GET", "/cache")

    async def clear_cache(self) -> int:
        return (await self._call(CacheCleared, "DELETE", "/cache")).removed

    async def enable_cache(self, enabled: bool = True) -> CacheStatusBody:
        path = f"/cache/{'enable' if enabled else 'disable'}"
        return await self._call(CacheStatusBody, "PUT", path)

    async def rebuild_projection(self, name: str) -> RebuiltProjection:
        """Ask the service to rebuild projection ``name`` from the log (an admin route)."""
        return await self._call(RebuiltProjection, "POST", f"/projections/{name}/rebuild")

    async def archive(
        self,
        *,
        older_than: str | None = None,
        before_position: int | None = None,
        dry_run: bool = False,
    ) -> ArchiveResult:
        body = {"older_than": older_than, "before_position": before_position, "dry_run": dry_run}
        return await self._call(ArchiveResult, "POST", "/archive", body)

    async def health(self) -> Health:
        return await self._call(Health, "GET", "/health")

    # --- browsing: queues, batches, artifacts, one event, the audit job, the past -------

    async def queues(self, *, after: str | None = None, limit: int = 100) -> QueuePage:
        """Every queue by id with its counts by state; pass ``next_after`` as ``after``."""
        params: dict[str, Any] = {"limit": limit, **({"after": after} if after else {})}
        return await self._call(QueuePage, "GET", "/queues", params=params)

    async def batches(
        self,
        queue_id: str,
        *,
        state: State | None = None,
        before: int | None = None,
        limit: int = 20,
    ) -> BatchPage:
        """A page of the queue's batches, newest first; pass ``next_before`` as ``before``."""
        query = {"state": state, "before": before, "limit": limit}
        params = {key: value for key, value in query.items() if value is not None}
        return await self._call(BatchPage, "GET", f"/queue/{queue_id}/batches", params=params)

    async def batch_artifacts(
        self, queue_id: str, batch_id: str, *, kind: str | None = None, after: int = 0,
        limit: int = 60,
    ) -> ArtifactPage:  # fmt: skip
        params = {"after": after, "limit": limit, **({"kind": kind} if kind else {})}
        path = f"/queue/{queue_id}/b/{batch_id}/artifacts"
        return await self._call(ArtifactPage, "GET", path, params=params)

    async def session_artifacts(
        self, queue_id: str, session_id: str, *, kind: str | None = None, after: int = 0,
        limit: int = 60,
    ) -> ArtifactPage:  # fmt: skip
        params = {"after": after, "limit": limit, **({"kind": kind} if kind else {})}
        path = f"/queue/{queue_id}/s/{session_id}/artifacts"
        return await self._call(ArtifactPage, "GET", path, params=params)

    async def session_events(self, queue_id: str, session_id: str) -> list[LoggedEvent]:
        """The session's own events, as stored."""
        return await self._call(
            list[LoggedEvent], "GET", f"/queue/{queue_id}/s/{session_id}/events"
        )

    async def logged_event(self, position: int) -> LoggedEvent:
        """The event at ``position`` exactly as stored, with its chain hash."""
        return await self._call(LoggedEvent, "GET", f"/log/{position}")

    async def start_audit(self) -> AuditStatus:
        """Start an audit in the background (Conflict while one is running)."""
        return await self._call(AuditStatus, "POST", "/audit")

    async def audit_status(self, wait: float = 0) -> AuditStatus:
        """The latest audit; with ``wait``, a running one answers when it ends (or in time)."""
        return await self._call(AuditStatus, "GET", "/audit", params={"wait": wait})

    async def queue_as_of(self, position: int, queue_id: str) -> PastQueue:
        """The queue as it was at ``position`` (the server replays the log up to it)."""
        return await self._call(PastQueue, "GET", f"/as_of/{position}/queue/{queue_id}")

    async def stats_as_of(self, position: int) -> PastStats:
        return await self._call(PastStats, "GET", f"/as_of/{position}/stats")

    # --- webhooks ---------------------------------------------------------------------

    async def add_webhook(
        self,
        url: str,
        secret: str,
        filter: WebhookFilter | None = None,
        *,
        batch_size: int = 1,
        after: int | None = None,
    ) -> Webhook:
        """Register a webhook; ``secret`` goes to the server once and never comes back."""
        body = AddWebhook(
            url=url,
            secret=secret,
            filter=filter or WebhookFilter(),
            batch_size=batch_size,
            after=after,
        )
        return await self._call(Webhook, "POST", "/webhooks", body.model_dump(mode="json"))

    async def webhooks(self) -> list[Webhook]:
        return (await self._call(WebhookList, "GET", "/webhooks")).webhooks

    async def webhook(self, webhook_id: str) -> Webhook:
        return await self._call(Webhook, "GET", f"/webhooks/{webhook_id}")

    async def remove_webhook(self, webhook_id: str) -> None:
        response = await self._http.delete(f"/api/v1/webhooks/{webhook_id}")
        if response.status_code >= 400:
            raise error_of(response)

    async def retry_webhook(self, webhook_id: str) -> Webhook:
        return await self._call(Webhook, "POST", f"/webhooks/{webhook_id}/retry")

    async def _call(
        self,
        model: type[_M],
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> _M:
        response = await self._http.request(method, f"/api/v1{path}", json=body, params=params)
        if response.status_code >= 400:
            raise error_of(response)
        return _adapter(model).validate_json(response.content)

    # --- events -----------------------------------------------------------------------

    async def subscribe(self, after: int = 0, **filters: str) -> AsyncGenerator[ServerEvent, None]:
        """Every event after ``after`` matching ``filters`` (``queue_id``, ``batch_id``,
        ``session_id``, ``tags``), and progress frames, reconnecting on a dropped line."""
        last, failures = after, 0
        while True:
            try:
                async with self._http.stream(
                    "GET",
                    "/api/v1/events",
                    params=filters,
                    headers={"Last-Event-ID": str(last), "Accept": "text/event-stream"},
                ) as response:
                    if response.status_code != 200:
                        await response.aread()
                        raise error_of(response)
                    failures = 0
                    async for sse in EventSource(response).aiter_sse():
                        if not sse.data:
                            # A comment (a heartbeat): the spec dispatches nothing for it,
                            # httpx-sse an empty event with the last id.
                            continue
                        event = _server_event(sse.id, sse.event, sse.data)
                        if event.id is not None:
                            last = event.id
                        yield event
            except httpx.TransportError:
                failures += 1
                if failures > self.max_reconnects:
                    raise
                await anyio.sleep(self.reconnect_delay)


EventsvcClient = AsyncClient
"""The name ``AsyncClient`` had before its synchronous twin existed."""

_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(model: type[_M]) -> TypeAdapter[_M]:
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    return adapter


# --- the synchronous twin -------------------------------------------------------------------


class Client:
    """``AsyncClient`` for code without an event loop; use it as ``with``."""

    def __init__(self, base_url: str, **options: Any) -> None:
        self._portal_context: AbstractContextManager[anyio.from_thread.BlockingPortal] = (
            anyio.from_thread.start_blocking_portal()
        )
        self._portal = self._portal_context.__enter__()
        self._client = AsyncClient(base_url, **options)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._portal.call(self._client.aclose)
        finally:
            self._portal_context.__exit__(None, None, None)

    def enqueue_batch(
        self, queue_id: str, batch: Batch | dict[str, Any], prepend: bool = False
    ) -> EnqueueResult:
        return self._portal.call(lambda: self._client.enqueue_batch(queue_id, batch, prepend))

    def status(self, queue_id: str) -> QueueStatus:
        return self._portal.call(self._client.status, queue_id)

    def batch_status(self, queue_id: str, batch_id: str) -> BatchStatus:
        return self._portal.call(self._client.batch_status, queue_id, batch_id)

    def sessions(self, queue_id: str, **query: Any) -> SessionPage:
        return self._portal.call(lambda: self._client.sessions(queue_id, **query))

    def session(self, queue_id: str, session_id: str) -> SessionDetail:
        return self._portal.call(self._client.session, queue_id, session_id)

    def cancel_session(self, queue_id: str, session_id: str) -> int:
        return self._portal.call(self._client.cancel_session, queue_id, session_id)

    def cancel_batches(self, queue_id: str, batch_ids: list[str]) -> int:
        return self._portal.call(self._client.cancel_batches, queue_id, batch_ids)

    def retry_sessions(self, queue_id: str, session_ids: list[str]) -> int:
        return self._portal.call(self._client.retry_sessions, queue_id, session_ids)

    def reprioritize(self, queue_id: str, batch_id: str, priority: int) -> int:
        return self._portal.call(self._client.reprioritize, queue_id, batch_id, priority)

    def pause(self, queue_id: str) -> int:
        return self._portal.call(self._client.pause, queue_id)

    def resume(self, queue_id: str) -> int:
        return self._portal.call(self._client.resume, queue_id)

    def prune(self, queue_id: str) -> int:
        return self._portal.call(self._client.prune, queue_id)

    def session_stats(self, session_id: str) -> StatsSummary:
        return self._portal.call(self._client.session_stats, session_id)

    def batch_stats(self, batch_id: str) -> StatsSummary:
        return self._portal.call(self._client.batch_stats, batch_id)

    def node_type_stats(self) -> StatsSummary:
        return self._portal.call(self._client.node_type_stats)

    def completions(self, limit: int = 1440) -> Completions:
        return self._portal.call(self._client.completions, limit)

    def node_types(self) -> list[NodeType]:
        return self._portal.call(self._client.node_types)

    def artifact(self, sha256: str) -> bytes:
        return self._portal.call(self._client.artifact, sha256)

    def cache(self) -> CacheStatusBody:
        return self._portal.call(self._client.cache)

    def clear_cache(self) -> int:
        return self._portal.call(self._client.clear_cache)

    def enable_cache(self, enabled: bool = True) -> CacheStatusBody:
        return self._portal.call(self._client.enable_cache, enabled)

    def rebuild_projection(self, name: str) -> RebuiltProjection:
        return self._portal.call(self._client.rebuild_projection, name)

    def add_webhook(self, url: str, secret: str, filter: WebhookFilter | None = None,
                    **options: Any) -> Webhook:  # fmt: skip
        return self._portal.call(lambda: self._client.add_webhook(url, secret, filter, **options))

    def webhooks(self) -> list[Webhook]:
        return self._portal.call(self._client.webhooks)

    def webhook(self, webhook_id: str) -> Webhook:
        return self._portal.call(self._client.webhook, webhook_id)

    def remove_webhook(self, webhook_id: str) -> None:
        self._portal.call(self._client.remove_webhook, webhook_id)

    def retry_webhook(self, webhook_id: str) -> Webhook:
        return self._portal.call(self._client.retry_webhook, webhook_id)

    def health(self) -> Health:
        return self._portal.call(self._client.health)

    def archive(self, **request: Any) -> ArchiveResult:
        return self._portal.call(lambda: self._client.archive(**request))

    def queues(self, **query: Any) -> QueuePage:
        return self._portal.call(lambda: self._client.queues(**query))

    def batches(self, queue_id: str, **query: Any) -> BatchPage:
        return self._portal.call(lambda: self._client.batches(queue_id, **query))

    def batch_artifacts(self, queue_id: str, batch_id: str, **query: Any) -> ArtifactPage:
        return self._portal.call(lambda: self._client.batch_artifacts(queue_id, batch_id, **query))

    def session_artifacts(self, queue_id: str, session_id: str, **query: Any) -> ArtifactPage:
        call = self._client.session_artifacts
        return self._portal.call(lambda: call(queue_id, session_id, **query))

    def session_events(self, queue_id: str, session_id: str) -> list[LoggedEvent]:
        return self._portal.call(self._client.session_events, queue_id, session_id)

    def logged_event(self, position: int) -> LoggedEvent:
        return self._portal.call(self._client.logged_event, position)

    def start_audit(self) -> AuditStatus:
        return self._portal.call(self._client.start_audit)

    def audit_status(self, wait: float = 0) -> AuditStatus:
        return self._portal.call(self._client.audit_status, wait)

    def queue_as_of(self, position: int, queue_id: str) -> PastQueue:
        return self._portal.call(self._client.queue_as_of, position, queue_id)

    def stats_as_of(self, position: int) -> PastStats:
        return self._portal.call(self._client.stats_as_of, position)

    def subscribe(self, after: int = 0, **filters: str) -> Iterator[ServerEvent]:
        """As ``AsyncClient.subscribe``; closing the iterator closes the stream."""
        events = self._client.subscribe(after, **filters)
        try:
            while True:
                try:
                    yield self._portal.call(events.__anext__)
                except StopAsyncIteration:
                    return
        finally:
            self._portal.call(events.aclose)
