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
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventsvc import __version__, replay
from eventsvc.api import errors
from eventsvc.api.events import event_routes
from eventsvc.api.loopback import LoopbackGuard
from eventsvc.batches import Batch
from eventsvc.errors import NotFoundError
from eventsvc.events import InvocationCompleted, InvocationFailed, SessionStarted
from eventsvc.ids import session_stream
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
    prepend: bool = False


class BatchIds(BaseModel):
    batch_ids: list[str] = Field(min_length=1)


class SessionIds(BaseModel):
    session_ids: list[str] = Field(min_length=1)


class Priority(BaseModel):
    priority: int


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


class SessionDetail(BaseModel):
    session: dict[str, Any]
    results: dict[str, dict[str, Any]] = Field(default_factory=dict)
    errors: dict[str, str] = Field(default_factory=dict)


def create_app(
    service: Service | None,
    token: str | None = None,
    cors_origins: Sequence[str] = (),
    *,
    loopback_only: bool = False,
) -> FastAPI:
    """The app around an opened service; with ``token``, every API request must carry
    ``Authorization: Bearer <token>`` (the event stream also takes ``?token=``, as a browser's
    EventSource sends no headers). With ``loopback_only`` (``serve`` on a loopback address
    without a token) only loopback Host names are served and cross-site or non-JSON
    state-changing requests are refused (``loopback.py``). CORS is off unless origins are
    given. (``None`` builds the app only to render its schema.)"""
    app = FastAPI(title="eventsvc", version=__version__)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    app.state.service = service
    errors.install(app)
    app.add_middleware(BodyLimit, limit=errors.MAX_BODY_BYTES)
    if token:
        app.add_middleware(BearerToken, token=token)
    if loopback_only:
        # Inside CORS, so that a configured origin can read why a request was refused.
        app.add_middleware(LoopbackGuard, allowed_origins=list(cors_origins))
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
    """FastAPI's document plus every built-in invocation and output schema as a component
    (with their ``class`` extras and required lists) and ``InvocationOutputMap``."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(title=app.title, version=app.version, routes=app.routes)
    components: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    components.update(invocation_components("#/components/schemas/{model}"))
    app.openapi_schema = document
    return document


def invocation_components(ref_template: str) -> dict[str, Any]:
    registry = builtin_registry()
    models = [*registry.invocations(), *registry.outputs()]
    _, schema = models_json_schema(
        [(model, "validation") for model in models], ref_template=ref_template
    )
    definitions: dict[str, Any] = schema["$defs"]
    output_map: dict[str, Any] = {}
    for cls in registry.invocations():
        reference = {"$ref": ref_template.format(model=cls.meta.output.__name__)}
        definitions[cls.__name__]["output"] = reference
        output_map[cls.meta.type] = reference
    definitions["InvocationOutputMap"] = {
        "type": "object",
        "description": "The output schema of each invocation type.",
        "properties": output_map,
        "required": sorted(output_map),
    }
    return definitions


def queue_routes() -> APIRouter:
    router = APIRouter(prefix="/api/v1/queue/{queue_id}", tags=["queue"])

    @router.post("/enqueue_batch")
    async def enqueue_batch(
        queue_id: str, body: EnqueueBatchBody, service: ServiceDep
    ) -> EnqueueResult:
        return await service.enqueue_batch(queue_id, body.batch, body.prepend)

    @router.get("/status")
    async def queue_status(queue_id: str, service: ServiceDep) -> QueueStatus:
        return await service.queue.queue_status(queue_id)

    @router.get("/b/{batch_id}/status")
    async def batch_status(queue_id: str, batch_id: str, service: ServiceDep) -> BatchStatus:
        return await service.batch_in(queue_id, batch_id)

    @router.get("/sessions")
    async def list_sessions(
        queue_id: str,
        service: ServiceDep,
        state: State | None = None,
        batch_id: str | None = None,
        after: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> SessionPage:
        return await service.queue.list_sessions(
            queue_id, batch_id=batch_id, state=state, after=after, limit=limit
        )

    @router.get("/s/{session_id}")
    async def get_session(queue_id: str, session_id: str, service: ServiceDep) -> SessionDetail:
        return await session_detail(service, await service.session_in(queue_id, session_id))

    @router.put("/s/{session_id}/cancel")
    async def cancel_session(queue_id: str, session_id: str, service: ServiceDep) -> Position:
        return Position(position=await service.cancel_session(session_id, queue_id=queue_id))

    @router.put("/cancel_by_batch_ids")
    async def cancel_batches(queue_id: str, body: BatchIds, service: ServiceDep) -> Position:
        return Position(position=await service.cancel_batches(queue_id, body.batch_ids))

    @router.put("/retry_sessions")
    async def retry_sessions(queue_id: str, body: SessionIds, service: ServiceDep) -> Position:
        return Position(position=await service.retry_sessions(body.session_ids))

    @router.put("/b/{batch_id}/priority")
    async def reprioritize(
        queue_id: str, batch_id: str, body: Priority, service: ServiceDep
    ) -> Position:
        return Position(
            position=await service.reprioritize_batch(queue_id, batch_id, body.priority)
        )

    @router.put("/processor/pause")
    async def pause(queue_id: str, service: ServiceDep) -> Position:
        return Position(position=await service.pause_queue(queue_id))

    @router.put("/processor/resume")
    async def resume(queue_id: str, service: ServiceDep) -> Position:
        return Position(position=await service.resume_queue(queue_id))

    @router.put("/prune")
    async def prune(queue_id: str, service: ServiceDep) -> Position:
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

    @router.get("/stats/sessions/{session_id}", tags=["stats"])
    async def session_stats(session_id: str, service: ServiceDep) -> dict[str, Any]:
        return to_json(await service.stats.session(session_id))

    @router.get("/stats/batches/{batch_id}", tags=["stats"])
    async def batch_stats(batch_id: str, service: ServiceDep) -> dict[str, Any]:
        return to_json(await service.stats.batch(batch_id))

    @router.get("/stats/node_types", tags=["stats"])
    async def node_type_stats(service: ServiceDep) -> dict[str, Any]:
        return to_json(await service.stats.node_types())

    @router.get("/invocations", tags=["nodes"])
    async def invocations(request: Request, service: ServiceDep) -> list[dict[str, Any]]:
        # The catalogue does not change while the app runs: its schemas are built once.
        state = request.app.state
        if getattr(state, "invocation_catalogue", None) is None:
            state.invocation_catalogue = _catalogue(service)
        catalogue: list[dict[str, Any]] = state.invocation_catalogue
        return catalogue

    @router.get("/artifacts/{sha256}", tags=["artifacts"])
    async def artifact(sha256: str, service: ServiceDep) -> Response:
        artifacts = service.artifacts
        try:
            data = await anyio.to_thread.run_sync(artifacts.get, sha256)
            media_type = await anyio.to_thread.run_sync(artifacts.media_type, sha256)
        except KeyError as exc:
            raise NotFoundError(str(exc.args[0])) from None
        return Response(content=data, media_type=media_type)

    @router.get("/cache", tags=["cache"])
    async def cache_status(service: ServiceDep) -> CacheStatusBody:
        return await _cache_status(service)

    @router.delete("/cache", tags=["cache"])
    async def cache_clear(service: ServiceDep) -> CacheCleared:
        return CacheCleared(removed=await service.cache.clear())

    @router.put("/cache/enable", tags=["cache"])
    async def cache_enable(service: ServiceDep) -> CacheStatusBody:
        await service.cache.set_enabled(True)
        return await _cache_status(service)

    @router.put("/cache/disable", tags=["cache"])
    async def cache_disable(service: ServiceDep) -> CacheStatusBody:
        await service.cache.set_enabled(False)
        return await _cache_status(service)

    @router.post("/projections/{name}/rebuild", tags=["admin"])
    async def rebuild_projection(name: str, service: ServiceDep) -> RebuiltProjection:
        """Fold the whole log into fresh tables and swap them in with one commit; commands
        wait meanwhile."""
        rebuilt = await replay.rebuild(service.store, replay.projection_names(name, False))
        return RebuiltProjection(name=name, position=rebuilt.position, seconds=rebuilt.seconds)

    @router.get("/health", tags=["health"])
    async def health(service: ServiceDep) -> dict[str, Any]:
        head = await service.store.head()
        folded = await service.store.checkpoints()
        checkpoints = {name: folded.get(name, 0) for name in replay.PROJECTION_NAMES}
        return {
            "store": "ok",
            "head": head,
            "projection_lag": {name: head - position for name, position in checkpoints.items()},
            "subscribers": service.store.subscribers,
            "workers_alive": await service.queue.live_workers(service.settings.lease_seconds),
        }

    return router


class BodyLimit:
    """Answer 413 for a request body over ``limit`` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counting() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counting, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = errors.error_response(
            413, "body_too_large", f"the request body is over {self.limit} bytes", []
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


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
