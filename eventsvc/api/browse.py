"""Routes the dashboard browses by: the queues with their counts, batches of a queue newest
first, artifacts of a batch or session, one event of the log with its hash, the audit job,
and the queue and stats as they were at a position.

Every route but the past ones is one indexed lookup (``projections.browse``, a position's
row). The past ones replay the log up to the position into a scratch store
(``replay.as_of``), so they cost what that part of the log costs; one replay runs at a time
and the last few answers are kept, as a slider asks for the same positions again.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, Response
from pydantic import BaseModel, Field

from eventsvc import replay
from eventsvc.api.errors import CHANGES, documented, error_response
from eventsvc.api.models import State
from eventsvc.api.params import BatchId, QueueId, SessionId
from eventsvc.audit_jobs import AuditJob, AuditJobs, AuditRunningError
from eventsvc.bounds import MAX_SAFE_INT
from eventsvc.errors import NotFoundError
from eventsvc.events import CODEC, RecordedEvent
from eventsvc.ids import QUEUE_ID_PATTERN, session_stream
from eventsvc.projections.browse import ArtifactPage, BatchPage, BatchSummary, Browse, QueuePage
from eventsvc.projections.queue_view import QueueView
from eventsvc.projections.stats import StatsView
from eventsvc.service import Service
from eventsvc.stats import StatsSummary
from eventsvc.views import QueueStatus, StateCounts

PAST_BATCHES = 50
PAST_KEPT = 8
FINDINGS_SHOWN = 1000

Kind = Literal["image", "tensor"]
LogPosition = Annotated[int, Path(ge=1, le=MAX_SAFE_INT, description="A position of the log")]
PastPosition = Annotated[int, Path(ge=0, le=MAX_SAFE_INT, description="A position of the log")]
Limit = Annotated[int, Query(ge=1, le=500)]


class LoggedEvent(BaseModel):
    """One event exactly as the log holds it, with its chain hash."""

    position: int
    stream: str
    version: int
    event_id: str
    tag: str
    schema_version: int
    recorded_at: int = Field(description="UTC microseconds")
    hash: str = Field(description="sha256 chaining it to the event before, as hex")
    data: dict[str, object]


class AuditFinding(BaseModel):
    check: str
    position: int
    stream: str | None
    reason: str


class AuditStatus(BaseModel):
    """The latest audit this service process ran, or is running."""

    state: Literal["idle", "running", "done", "failed"]
    started_at: float | None = Field(default=None, description="UTC seconds")
    finished_at: float | None = None
    events: int = Field(0, description="Events the audit read")
    anchor: str | None = Field(default=None, description="POSITION:HASH of its last event")
    error: str | None = None
    findings_total: int = 0
    findings: list[AuditFinding] = Field(
        default_factory=list, description=f"The first {FINDINGS_SHOWN}, by position"
    )


class PastQueue(BaseModel):
    """A queue as it was at ``position``, folded from the log up to there."""

    position: int
    recorded_at: int | None = Field(description="When the event at the position was recorded")
    status: QueueStatus
    batches: list[BatchSummary] = Field(
        default_factory=list, description=f"Its newest {PAST_BATCHES} listed batches"
    )


class PastStats(BaseModel):
    position: int
    recorded_at: int | None
    stats: StatsSummary


class _Past(BaseModel):
    position: int
    recorded_at: int | None
    queues: dict[str, PastQueue]
    stats: StatsSummary


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _logged(record: RecordedEvent) -> LoggedEvent:
    return LoggedEvent(
        position=record.position,
        stream=record.stream,
        version=record.version,
        event_id=str(record.event_id),
        tag=record.tag,
        schema_version=record.schema_version,
        recorded_at=record.recorded_at,
        hash=record.hash.hex(),
        data=json.loads(CODEC.encode(record.data)),
    )


def _audit_status(job: AuditJob) -> AuditStatus:
    findings = sorted(job.findings, key=lambda f: f.position)
    return AuditStatus(
        state=job.state,
        started_at=job.started_at,
        finished_at=job.finished_at,
        events=job.events,
        anchor=job.anchor,
        error=job.error,
        findings_total=len(findings),
        findings=[
            AuditFinding(check=f.check, position=f.position, stream=f.stream, reason=f.reason)
            for f in findings[:FINDINGS_SHOWN]
        ],
    )


class _PastCache:
    """Replays to a position, one at a time, the last few kept."""

    def __init__(self) -> None:
        self._lock = anyio.Lock()
        self._kept: OrderedDict[int, _Past] = OrderedDict()

    async def at(self, service: Service, position: int) -> _Past:
        async with self._lock:
            if (kept := self._kept.get(position)) is not None:
                self._kept.move_to_end(position)
                return kept
            past = await _replayed(service, position)
            self._kept[position] = past
            if len(self._kept) > PAST_KEPT:
                self._kept.popitem(last=False)
            return past


async def _replayed(service: Service, position: int) -> _Past:
    async with replay.as_of(service.store, position) as scratch:
        last = await scratch.read_all(after=position - 1, limit=1) if position else []
        recorded_at = last[0].recorded_at if last else None
        queue, browse = QueueView(scratch), Browse(scratch)
        queues = {
            queue_id: PastQueue(
                position=position,
                recorded_at=recorded_at,
                status=await queue.queue_status(queue_id),
                batches=(await browse.batches(queue_id, limit=PAST_BATCHES)).items,
            )
            for queue_id in await queue.queue_ids()
        }
        stats = await StatsView(scratch).node_types()
    return _Past(position=position, recorded_at=recorded_at, queues=queues, stats=stats)


def browse_routes() -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    past = _PastCache()

    @router.get("/queues", tags=["queue"], responses=documented())
    async def list_queues(
        request: Request,
        after: Annotated[
            str | None,
            Query(pattern=QUEUE_ID_PATTERN, description="The next_after of the previous page"),
        ] = None,
        limit: Limit = 100,
    ) -> QueuePage:
        """Every queue by id (paused or resumed, or holding batches), each with its counts by
        state and its paused state, as ``/queue/{queue_id}/status`` tells them."""
        return await Browse(_service(request).store).queues(after=after or "", limit=limit)

    @router.get("/queue/{queue_id}/batches", tags=["queue"], responses=documented())
    async def list_batches(
        queue_id: QueueId,
        request: Request,
        state: State | None = None,
        before: Annotated[
            int | None,
            Query(ge=1, le=MAX_SAFE_INT, description="The next_before of the previous page"),
        ] = None,
        limit: Limit = 20,
    ) -> BatchPage:
        """Listed batches newest first, each with its counts; ``state`` keeps those with a
        session in that state."""
        browse = Browse(_service(request).store)
        return await browse.batches(queue_id, state=state, before=before, limit=limit)

    @router.get("/queue/{queue_id}/b/{batch_id}/artifacts", tags=["artifacts"],
                responses=documented(404))  # fmt: skip
    async def batch_artifacts(
        queue_id: QueueId,
        batch_id: BatchId,
        request: Request,
        kind: Kind | None = None,
        after: Annotated[int, Query(ge=0, le=MAX_SAFE_INT)] = 0,
        limit: Limit = 60,
    ) -> ArtifactPage:
        """The artifacts the batch's nodes produced, in log order."""
        service = _service(request)
        await service.batch_in(queue_id, batch_id)
        return await Browse(service.store).batch_artifacts(
            batch_id, kind=kind, after=after, limit=limit
        )

    @router.get("/queue/{queue_id}/s/{session_id}/artifacts", tags=["artifacts"],
                responses=documented(404))  # fmt: skip
    async def session_artifacts(
        queue_id: QueueId,
        session_id: SessionId,
        request: Request,
        kind: Kind | None = None,
        after: Annotated[int, Query(ge=0, le=MAX_SAFE_INT)] = 0,
        limit: Limit = 60,
    ) -> ArtifactPage:
        """The artifacts the session's nodes produced, in log order (every attempt)."""
        service = _service(request)
        await service.session_in(queue_id, session_id)
        return await Browse(service.store).session_artifacts(
            session_id, kind=kind, after=after, limit=limit
        )

    @router.get("/queue/{queue_id}/s/{session_id}/events", tags=["queue"],
                responses=documented(404))  # fmt: skip
    async def session_events(
        queue_id: QueueId, session_id: SessionId, request: Request
    ) -> list[LoggedEvent]:
        """The session's own stream, every attempt (none while it is virtual)."""
        service = _service(request)
        await service.session_in(queue_id, session_id)
        return [_logged(r) for r in await service.store.read_stream(session_stream(session_id))]

    @router.get("/log/{position}", tags=["events"], responses=documented(404))
    async def logged_event(position: LogPosition, request: Request) -> LoggedEvent:
        """The event at ``position`` as stored, with its hash."""
        found = await _service(request).store.read_all(after=position - 1, limit=1)
        if not found or found[0].position != position:
            raise NotFoundError(f"no event at position {position}")
        return _logged(found[0])

    def audits(request: Request) -> AuditJobs:
        state = request.app.state
        if getattr(state, "audit_jobs", None) is None:
            state.audit_jobs = AuditJobs(_service(request).store)
        jobs: AuditJobs = state.audit_jobs
        return jobs

    @router.post("/audit", tags=["admin"], status_code=202, response_model=AuditStatus,
                 responses=documented(409, *CHANGES))  # fmt: skip
    async def start_audit(request: Request, background: BackgroundTasks) -> Response | AuditStatus:
        """Start an audit of the whole log in the background; 409 while one is running."""
        jobs = audits(request)
        try:
            job = jobs.start()
        except AuditRunningError as exc:
            return error_response(409, "conflict", str(exc), [])
        background.add_task(jobs.run, job)
        return _audit_status(job)

    @router.get("/audit", tags=["admin"], responses=documented())
    async def audit_status(
        request: Request,
        wait: Annotated[
            float, Query(ge=0, le=60, description="Seconds to wait for a running audit to end")
        ] = 0,
    ) -> AuditStatus:
        """The latest audit of this process: running, or its findings by position. With
        ``wait``, a running audit is answered when it ends (or when ``wait`` runs out)."""
        job = audits(request).latest
        if wait and job.state == "running":
            with anyio.move_on_after(wait):
                await job.ended.wait()
        return _audit_status(job)

    @router.get("/as_of/{position}/queue/{queue_id}", tags=["time travel"],
                responses=documented(404))  # fmt: skip
    async def past_queue(position: PastPosition, queue_id: QueueId, request: Request) -> PastQueue:
        """The queue as it was at ``position``, replayed from the log."""
        found = await past.at(_service(request), position)
        if queue_id in found.queues:
            return found.queues[queue_id]
        empty = QueueStatus(queue_id=queue_id, paused=False, counts=StateCounts(), batches=0)
        return PastQueue(position=position, recorded_at=found.recorded_at, status=empty)

    @router.get("/as_of/{position}/stats", tags=["time travel"], responses=documented(404))
    async def past_stats(position: PastPosition, request: Request) -> PastStats:
        """The node-type stats as they were at ``position``, replayed from the log."""
        found = await past.at(_service(request), position)
        return PastStats(position=position, recorded_at=found.recorded_at, stats=found.stats)

    return router
