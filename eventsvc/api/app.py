"""Routes: the queue, stats, the node catalogue, artifacts and health."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import asdict
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

import anyio
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field, StrictBool, StrictInt, StringConstraints
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventsvc import __version__, replay
from eventsvc.api import errors
from eventsvc.api.errors import WITH_BODY, documented
from eventsvc.api.events import event_routes
from eventsvc.api.params import BatchFilter, BatchId, QueueId, SessionCursor, SessionId
from eventsvc.batches import Batch
from eventsvc.bounds import MAX_SAFE_INT
from eventsvc.errors import NotFoundError
from eventsvc.events import InvocationCompleted, InvocationFailed, SessionStarted
from eventsvc.ids import BATCH_ID_PATTERN, SESSION_ID_PATTERN, session_stream
from eventsvc.invocations import schema
from eventsvc.invocations.registry import builtin_registry
from eventsvc.service import EnqueueResult, Service
from eventsvc.stats import to_json
from eventsvc.views import BatchStatus, QueueStatus, SessionPage, SessionView

State = Literal["uninitialized", "in_progress", "completed", "failed", "canceled"]


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


class EnqueueBatchBody(BaseModel):
    batch: Batch
    prepend: StrictBool = Field(False, description="Run ahead of every batch waiting now")


BatchIdItem = Annotated[str, StringConstraints(pattern=BATCH_ID_PATTERN)]
SessionIdItem = Annotated[str, StringConstraints(pattern=SESSION_ID_PATTERN)]


class BatchIds(BaseModel):
    batch_ids: list[BatchIdItem] = Field(min_length=1, max_length=10_000)


class SessionIds(BaseModel):
    session_ids: list[SessionIdItem] = Field(min_length=1, max_length=10_000)


class Priority(BaseModel):
    priority: StrictInt = Field(
        ge=-MAX_SAFE_INT, le=MAX_SAFE_INT, description="Higher runs first (an I-JSON integer)"
    )


class Position(BaseModel):
    """Where the command's last event landed in the log."""

    position: int


class CacheStatusBody(BaseModel):
    enabled: bool
    entries: int
    size: int = Field(description="Bytes of cached outputs")
    max_entries: int
    max_bytes: int
    hits: int = Field(description="Node runs answered by the cache")
    misses: int = Field(description="Node runs the cache was asked for and did not hold")


class CacheCleared(BaseModel):
    removed: int


def _catalogue(service: Service) -> list[dict[str, Any]]:
    """Every node type this service runs, with its schema."""
    return [
        {
            "type": cls.meta.type,
            "title": cls.meta.title,
            "tags": list(cls.meta.tags),
            "category": cls.meta.category,
            "version": cls.meta.version,
            "classification": cls.meta.classification.value,
            "output": cls.meta.output.output_type,
            "schema": cls.model_json_schema(),
        }
        for cls in service.registry.invocations()
    ]


async def _cache_status(service: Service) -> CacheStatusBody:
    return CacheStatusBody(**asdict(await service.cache_status()))


class RebuiltProjection(BaseModel):
    name: str
    position: int = Field(description="The log position the rebuilt projection folded up to")
    seconds: float


class Stall(BaseModel):
    position: int = Field(description="The event the projection cannot fold")
    reason: str


class Health(BaseModel):
    store: Literal["ok", "stalled"] = Field(
        description="'stalled' when a projection cannot fold an event: reads answer as of the "
        "position before it, commands that need it answer 503 naming it"
    )
    head: int = Field(description="The position of the log's last event")
    projection_lag: dict[str, int] = Field(description="Events each projection has yet to fold")
    stalled: dict[str, Stall] = Field(default_factory=dict)
    subscribers: int = Field(description="Live event subscriptions this process feeds")
    workers_alive: int = Field(description="Workers with a current lease, in every process")


class SessionDetail(BaseModel):
    session: dict[str, Any]
    results: dict[str, dict[str, Any]] = Field(default_factory=dict)
    errors: dict[str, str] = Field(default_factory=dict)


def create_app(
    service: Service | None, token: str | None = None, cors_origins: Sequence[str] = ()
) -> FastAPI:
    """The app around an opened service; with ``token``, every API request must carry
    ``Authorization: Bearer <token>`` (the event stream also takes ``?token=``, as a browser's
    EventSource sends no headers). CORS is off unless origins are given. (``None`` builds the
    app only to render its schema.)"""
    app = FastAPI(title="eventsvc", version=__version__)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    app.state.service = service
    errors.install(app)
    app.add_middleware(BodyLimit, limit=errors.MAX_BODY_BYTES)
    if token:
        app.add_middleware(BearerToken, token=token)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.include_router(queue_routes())
    app.include_router(other_routes())
    app.include_router(event_routes())
    return app


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document with every built-in node type and output as a component, and
    ``Graph.nodes`` (wherever a node appears) the discriminated union of them
    (``eventsvc.invocations.schema``)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    ref_template = "#/components/schemas/{model}"
    generated = get_openapi(title=app.title, version=app.version, routes=app.routes)
    document: dict[str, Any] = schema.refer_to_unions(generated, ref_template)
    components: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for base in schema.UNIONS:
        components.pop(base, None)
    components.update(schema.definitions(builtin_registry(), ref_template))
    app.openapi_schema = document
    return document


def queue_routes() -> APIRouter:
    router = APIRouter(prefix="/api/v1/queue/{queue_id}", tags=["queue"])

    @router.post("/enqueue_batch", responses=documented(409, *WITH_BODY))
    async def enqueue_batch(
        queue_id: QueueId, body: EnqueueBatchBody, service: ServiceDep
    ) -> EnqueueResult:
        return await service.enqueue_batch(queue_id, body.batch, body.prepend)

    @router.get("/status", responses=documented())
    async def queue_status(queue_id: QueueId, service: ServiceDep) -> QueueStatus:
        return await service.queue.queue_status(queue_id)

    @router.get("/b/{batch_id}/status", responses=documented(404))
    async def batch_status(
        queue_id: QueueId, batch_id: BatchId, service: ServiceDep
    ) -> BatchStatus:
        return await service.batch_in(queue_id, batch_id)

    @router.get("/sessions", responses=documented(404))
    async def list_sessions(
        queue_id: QueueId,
        service: ServiceDep,
        state: State | None = None,
        batch_id: BatchFilter = None,
        after: SessionCursor = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> SessionPage:
        return await service.queue.list_sessions(
            queue_id, batch_id=batch_id, state=state, after=after, limit=limit
        )

    @router.get("/s/{session_id}", responses=documented(404))
    async def get_session(
        queue_id: QueueId, session_id: SessionId, service: ServiceDep
    ) -> SessionDetail:
        return await session_detail(service, await service.session_in(queue_id, session_id))

    @router.put("/s/{session_id}/cancel", responses=documented(404, 409))
    async def cancel_session(
        queue_id: QueueId, session_id: SessionId, service: ServiceDep
    ) -> Position:
        return Position(position=await service.cancel_session(session_id, queue_id=queue_id))

    @router.put("/cancel_by_batch_ids", responses=documented(404, 409, *WITH_BODY))
    async def cancel_batches(queue_id: QueueId, body: BatchIds, service: ServiceDep) -> Position:
        return Position(position=await service.cancel_batches(queue_id, body.batch_ids))

    @router.put("/retry_sessions", responses=documented(404, 409, *WITH_BODY))
    async def retry_sessions(queue_id: QueueId, body: SessionIds, service: ServiceDep) -> Position:
        return Position(position=await service.retry_sessions(body.session_ids))

    @router.put("/b/{batch_id}/priority", responses=documented(404, *WITH_BODY))
    async def reprioritize(
        queue_id: QueueId, batch_id: BatchId, body: Priority, service: ServiceDep
    ) -> Position:
        return Position(
            position=await service.reprioritize_batch(queue_id, batch_id, body.priority)
        )

    @router.put("/processor/pause", responses=documented())
    async def pause(queue_id: QueueId, service: ServiceDep) -> Position:
        return Position(position=await service.pause_queue(queue_id))

    @router.put("/processor/resume", responses=documented())
    async def resume(queue_id: QueueId, service: ServiceDep) -> Position:
        return Position(position=await service.resume_queue(queue_id))

    @router.put("/prune", responses=documented())
    async def prune(queue_id: QueueId, service: ServiceDep) -> Position:
        return Position(position=await service.prune_queue(queue_id))

    return router


async def session_detail(service: Service, view: SessionView) -> SessionDetail:
    """The session with the outputs and errors of its current attempt."""
    recorded = await service.store.read_stream(session_stream(view.session_id))
    starts = [i for i, r in enumerate(recorded) if isinstance(r.data, SessionStarted)]
    detail = SessionDetail(session=asdict(view))
    for record in recorded[starts[-1] if starts else len(recorded) :]:
        if isinstance(record.data, InvocationCompleted):
            detail.results[record.data.node_id] = record.data.outputs
        elif isinstance(record.data, InvocationFailed):
            detail.errors[record.data.node_id] = record.data.error_message
    return detail


def other_routes() -> APIRouter:
    router = APIRouter(prefix="/api/v1")

    @router.get("/stats/sessions/{session_id}", tags=["stats"], responses=documented())
    async def session_stats(session_id: SessionId, service: ServiceDep) -> dict[str, Any]:
        return to_json(await service.stats.session(session_id))

    @router.get("/stats/batches/{batch_id}", tags=["stats"], responses=documented())
    async def batch_stats(batch_id: BatchId, service: ServiceDep) -> dict[str, Any]:
        return to_json(await service.stats.batch(batch_id))

    @router.get("/stats/node_types", tags=["stats"], responses=documented())
    async def node_type_stats(service: ServiceDep) -> dict[str, Any]:
        return to_json(await service.stats.node_types())

    @router.get("/invocations", tags=["nodes"], responses=documented())
    async def invocations(request: Request, service: ServiceDep) -> list[dict[str, Any]]:
        # The catalogue does not change while the app runs: its schemas are built once.
        state = request.app.state
        if getattr(state, "invocation_catalogue", None) is None:
            state.invocation_catalogue = _catalogue(service)
        catalogue: list[dict[str, Any]] = state.invocation_catalogue
        return catalogue

    @router.get("/artifacts/{sha256}", tags=["artifacts"], responses=documented(404))
    async def artifact(sha256: str, service: ServiceDep) -> Response:
        artifacts = service.artifacts
        try:
            data = await anyio.to_thread.run_sync(artifacts.get, sha256)
            media_type = await anyio.to_thread.run_sync(artifacts.media_type, sha256)
        except KeyError as exc:
            raise NotFoundError(str(exc.args[0])) from None
        return Response(content=data, media_type=media_type)

    @router.get("/cache", tags=["cache"], responses=documented())
    async def cache_status(service: ServiceDep) -> CacheStatusBody:
        return await _cache_status(service)

    @router.delete("/cache", tags=["cache"], responses=documented())
    async def cache_clear(service: ServiceDep) -> CacheCleared:
        return CacheCleared(removed=await service.cache.clear())

    @router.put("/cache/enable", tags=["cache"], responses=documented())
    async def cache_enable(service: ServiceDep) -> CacheStatusBody:
        await service.cache.set_enabled(True)
        return await _cache_status(service)

    @router.put("/cache/disable", tags=["cache"], responses=documented())
    async def cache_disable(service: ServiceDep) -> CacheStatusBody:
        await service.cache.set_enabled(False)
        return await _cache_status(service)

    @router.post("/projections/{name}/rebuild", tags=["admin"], responses=documented(404))
    async def rebuild_projection(name: str, service: ServiceDep) -> RebuiltProjection:
        """Fold the whole log into fresh tables and swap them in with one commit; commands
        wait meanwhile."""
        rebuilt = await replay.rebuild(service.store, replay.projection_names(name, False))
        return RebuiltProjection(name=name, position=rebuilt.position, seconds=rebuilt.seconds)

    @router.get("/health", tags=["health"], responses=documented())
    async def health(service: ServiceDep) -> Health:
        head = await service.store.head()
        folded = await service.store.checkpoints()
        checkpoints = {name: folded.get(name, 0) for name in replay.PROJECTION_NAMES}
        stalls = await service.store.stalls()
        return Health(
            store="stalled" if stalls else "ok",
            head=head,
            projection_lag={name: head - position for name, position in checkpoints.items()},
            stalled={s.name: Stall(position=s.position, reason=s.reason) for s in stalls},
            subscribers=service.store.subscribers,
            workers_alive=await service.queue.live_workers(service.settings.lease_seconds),
        )

    return router


class BodyLimit:
    """Answer 413 for a request body over ``limit`` bytes, declared or streamed.

    A body without a declared length (chunked) is read up to the limit before the app sees
    it: refused there, it never reaches the body parser, which would call it malformed.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            # The server holds the client to the length it declared.
            if declared.isdigit() and int(declared) > self.limit:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        messages = await self._read_up_to_limit(receive)
        if messages is None:
            await self._refuse(scope, receive, send)
            return
        await self.app(scope, _replay(messages, receive), send)

    async def _read_up_to_limit(self, receive: Receive) -> list[Message] | None:
        """The request's body messages, or None once they pass the limit."""
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            seen += len(message.get("body", b""))
            if seen > self.limit:
                return None
            if not message.get("more_body", False):
                return messages

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = errors.error_response(
            413, "body_too_large", f"the request body is over {self.limit} bytes", []
        )
        await response(scope, receive, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` that first hands out ``messages`` again."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


class BearerToken:
    """Answer 401 to an API request without ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            given = dict(scope.get("headers", [])).get(b"authorization", b"")
            if scope["path"] == "/api/v1/events" and not given:
                query = dict(parse_qsl(scope.get("query_string", b"").decode()))
                given = f"Bearer {query.get('token', '')}".encode()
            if not hmac.compare_digest(given, self.expected):
                response = errors.error_response(
                    401, "unauthorized", "this server needs 'Authorization: Bearer <token>'", []
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
