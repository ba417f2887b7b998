"""Routes: the queue, stats, the node catalogue, artifacts and health."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import parse_qsl

import anyio
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventsvc import __version__, replay
from eventsvc.api import errors
from eventsvc.api.browse import browse_routes
from eventsvc.api.errors import CHANGES, WITH_BODY, documented
from eventsvc.api.events import event_routes
from eventsvc.api.loopback import LoopbackGuard
from eventsvc.api.metrics import PATH as METRICS_PATH
from eventsvc.api.metrics import metrics_routes
from eventsvc.api.models import (
    ArchiveBody,
    ArchiveResult,
    BatchIds,
    CacheCleared,
    CacheStatusBody,
    EnqueueBatchBody,
    Health,
    NodeType,
    Position,
    Priority,
    RebuiltProjection,
    SessionIds,
    Stall,
    State,
)
from eventsvc.api.params import BatchFilter, BatchId, QueueId, SessionCursor, SessionId
from eventsvc.api.web import web_routes
from eventsvc.api.webhooks import webhook_routes
from eventsvc.archive import ArchiveRequest, parse_duration
from eventsvc.errors import NotFoundError
from eventsvc.invocations import schema
from eventsvc.invocations.registry import builtin_registry
from eventsvc.service import Service
from eventsvc.stats import Completions, StatsSummary
from eventsvc.store import archives
from eventsvc.views import BatchStatus, EnqueueResult, QueueStatus, SessionDetail, SessionPage


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]
MINUTES_OF_A_DAY, MINUTES_OF_A_WEEK = 1440, 10080


def _catalogue(service: Service) -> list[NodeType]:
    """Every node type this service runs, with its schema."""
    return [
        NodeType(
            type=cls.meta.type,
            title=cls.meta.title,
            tags=list(cls.meta.tags),
            category=cls.meta.category,
            version=cls.meta.version,
            classification=cls.meta.classification.value,
            output=cls.meta.output.output_type,
            schema=cls.model_json_schema(),
        )
        for cls in service.registry.invocations()
    ]


async def _cache_status(service: Service) -> CacheStatusBody:
    return CacheStatusBody(**asdict(await service.cache_status()))


def create_app(
    service: Service | None,
    token: str | None = None,
    cors_origins: Sequence[str] = (),
    *,
    loopback_only: bool = False,
    metrics_open_on_loopback: bool = False,
) -> FastAPI:
    """The app around an opened service; with ``token``, every API request must carry
    ``Authorization: Bearer <token>`` (the event stream also takes ``?token=``, as a browser's
    EventSource sends no headers). With ``loopback_only`` (``serve`` on a loopback address
    without a token) only loopback Host names are served and cross-site or non-JSON
    state-changing requests are refused (``loopback.py``). CORS is off unless origins are
    given. With ``metrics_open_on_loopback``, ``/metrics`` needs no token from a loopback
    client. (``None`` builds the app only to render its schema.)"""
    app = FastAPI(title="eventsvc", version=__version__)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    app.state.service = service
    errors.install(app)
    app.add_middleware(BodyLimit, limit=errors.MAX_BODY_BYTES)
    if token:
        app.add_middleware(
            BearerToken, token=token, metrics_open_on_loopback=metrics_open_on_loopback
        )
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
    app.include_router(browse_routes())
    app.include_router(web_routes())
    app.include_router(metrics_routes())
    app.include_router(webhook_routes())
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
        return await service.session_detail(queue_id, session_id)

    @router.put("/s/{session_id}/cancel", responses=documented(404, 409, *CHANGES))
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

    @router.put("/processor/pause", responses=documented(*CHANGES))
    async def pause(queue_id: QueueId, service: ServiceDep) -> Position:
        return Position(position=await service.pause_queue(queue_id))

    @router.put("/processor/resume", responses=documented(*CHANGES))
    async def resume(queue_id: QueueId, service: ServiceDep) -> Position:
        return Position(position=await service.resume_queue(queue_id))

    @router.put("/prune", responses=documented(*CHANGES))
    async def prune(queue_id: QueueId, service: ServiceDep) -> Position:
        return Position(position=await service.prune_queue(queue_id))

    return router


def other_routes() -> APIRouter:
    router = APIRouter(prefix="/api/v1")

    @router.get("/stats/sessions/{session_id}", tags=["stats"], responses=documented(410))
    async def session_stats(session_id: SessionId, service: ServiceDep) -> StatsSummary:
        """The session's stats (empty before it runs); 410 once archived."""
        return await service.session_stats(session_id)

    @router.get("/stats/batches/{batch_id}", tags=["stats"], responses=documented(410))
    async def batch_stats(batch_id: BatchId, service: ServiceDep) -> StatsSummary:
        """The batch's stats (empty before it runs); 410 once archived."""
        return await service.batch_stats(batch_id)

    @router.get("/stats/node_types", tags=["stats"], responses=documented())
    async def node_type_stats(service: ServiceDep) -> StatsSummary:
        return await service.stats.node_types()

    @router.get("/stats/completions", tags=["stats"], responses=documented())
    async def completions(
        service: ServiceDep,
        limit: Annotated[
            int, Query(ge=1, le=MINUTES_OF_A_WEEK, description="How many minutes, at most")
        ] = MINUTES_OF_A_DAY,
    ) -> Completions:
        """Sessions ended per minute, oldest first: the last ``limit`` minutes that had any."""
        return await service.stats.completions(limit)

    @router.get("/invocations", tags=["nodes"], responses=documented())
    async def invocations(request: Request, service: ServiceDep) -> list[NodeType]:
        # The catalogue does not change while the app runs: its schemas are built once.
        state = request.app.state
        if getattr(state, "invocation_catalogue", None) is None:
            state.invocation_catalogue = _catalogue(service)
        catalogue: list[NodeType] = state.invocation_catalogue
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

    @router.delete("/cache", tags=["cache"], responses=documented(*CHANGES))
    async def cache_clear(service: ServiceDep) -> CacheCleared:
        return CacheCleared(removed=await service.cache.clear())

    @router.put("/cache/enable", tags=["cache"], responses=documented(*CHANGES))
    async def cache_enable(service: ServiceDep) -> CacheStatusBody:
        await service.cache.set_enabled(True)
        return await _cache_status(service)

    @router.put("/cache/disable", tags=["cache"], responses=documented(*CHANGES))
    async def cache_disable(service: ServiceDep) -> CacheStatusBody:
        await service.cache.set_enabled(False)
        return await _cache_status(service)

    @router.post("/projections/{name}/rebuild", tags=["admin"], responses=documented(404, *CHANGES))
    async def rebuild_projection(name: str, service: ServiceDep) -> RebuiltProjection:
        """Fold the whole log into fresh tables and swap them in with one commit; commands
        wait meanwhile."""
        rebuilt = await replay.rebuild(service.store, replay.projection_names(name, False))
        return RebuiltProjection(name=name, position=rebuilt.position, seconds=rebuilt.seconds)

    @router.post("/archive", tags=["admin"], responses=documented(409, *WITH_BODY))
    async def archive(body: ArchiveBody, service: ServiceDep) -> ArchiveResult:
        """Move finished work below a horizon out of the live log into an archive file;
        409 while another archive of the store runs."""
        older = None if body.older_than is None else parse_duration(body.older_than)
        request = ArchiveRequest(body.before_position, older, body.dry_run)
        return ArchiveResult(**asdict(await service.archive(request)))

    @router.get("/health", tags=["health"], responses=documented())
    async def health(service: ServiceDep) -> Health:
        head = await service.store.head()
        folded = await service.checkpoints()
        checkpoints = {name: folded.get(name, 0) for name in replay.PROJECTION_NAMES}
        stalls = await service.store.stalls()
        return Health(
            store="stalled" if stalls else "ok",
            head=head,
            first_live=archives.first_live(await archives.markers(service.store)),
            projection_lag={name: head - position for name, position in checkpoints.items()},
            stalled={s.name: Stall(position=s.position, reason=s.reason) for s in stalls},
            subscribers=service.store.subscribers,
            workers_alive=await service.leases.live_workers(service.settings.lease_seconds),
            abandoned_threads=service.abandoned_threads,
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


LOOPBACK_CLIENTS = frozenset({"127.0.0.1", "::1"})


class BearerToken:
    """Answer 401 to an API or ``/metrics`` request without ``Authorization: Bearer <token>``
    (``/metrics`` from a loopback client passes when ``metrics_open_on_loopback``)."""

    def __init__(self, app: ASGIApp, token: str, metrics_open_on_loopback: bool = False) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()
        self.metrics_open_on_loopback = metrics_open_on_loopback

    def _guarded(self, scope: Scope) -> bool:
        path: str = scope["path"]
        if path == METRICS_PATH:
            client = scope.get("client") or ("", 0)
            return not (self.metrics_open_on_loopback and client[0] in LOOPBACK_CLIENTS)
        return path.startswith("/api/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._guarded(scope):
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
