"""``GET /api/v1/events``: the log as Server-Sent Events, resumable by position.

Each stored event goes out with ``id:`` = its position and ``event:`` = its tag; a client that
reconnects with ``Last-Event-ID`` (or ``?after=``) continues with no gap and no duplicate.
Node progress goes out as ``event: invocation.progress`` without an id (it is not in the log).
A client that cannot keep up is disconnected by its subscription's bounded ring, rather than
slowing anyone else, and resumes by id. ``follow=false`` replays up to the head and closes.

A frame is built once per event whatever the number of streams: it is kept with the committed
group that every subscriber shares (``Frames``). A stream writes everything pending in one
send. On a busy log a live stream that has just written pauses before it looks again, so that
what commits meanwhile goes out in one write: the live streams share a budget of writes a
second (each pauses subscribers / budget, at most ``flush`` seconds), which bounds what
fanning out costs the service however many there are, while an idle log's event goes out at
once. The response is a small ASGI app of its own: the log, the progress and the heartbeat
each run in a task of one task group, all stopped when the client goes away.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Annotated

import anyio
import anyio.abc
from fastapi import APIRouter, Header, Query, Request, Response
from starlette.types import Receive, Scope, Send

from eventsvc.api.errors import documented
from eventsvc.api.params import BatchFilter, QueueFilter, SessionFilter
from eventsvc.bounds import MAX_SAFE_INT
from eventsvc.errors import StoreError, SubscriberLaggedError
from eventsvc.events import CODEC, RecordedEvent
from eventsvc.progress import Progress
from eventsvc.service import Service
from eventsvc.store import EventFilter, Group, Run, Subscription, archives

HEARTBEAT_SECONDS = 15.0
# Writes a second that the live streams of a busy log share; and the longest pause a stream
# takes between writes to stay within it, bounding how late a busy log's events go out.
WRITE_BUDGET = 2000.0
FLUSH_SECONDS = 0.1

# Positions are 64-bit in both stores; a client names them as I-JSON integers.
MAX_POSITION = MAX_SAFE_INT


@dataclass(frozen=True, slots=True)
class Selection:
    """What a client asked to receive."""

    queue_id: str | None = None
    batch_id: str | None = None
    session_id: str | None = None
    tags: frozenset[str] | None = None

    @property
    def any_source(self) -> bool:
        """Whether events of every queue, batch and session are wanted (none is asked about)."""
        return self.queue_id is None and self.batch_id is None and self.session_id is None

    def wants(self, queue_id: str | None, batch_id: str | None, session_id: str | None) -> bool:
        return (
            (self.queue_id is None or self.queue_id == queue_id)
            and (self.batch_id is None or self.batch_id == batch_id)
            and (self.session_id is None or self.session_id == session_id)
        )

    def wants_event(self, record: RecordedEvent) -> bool:
        data = record.data
        return self.wants(
            getattr(data, "queue_id", None),
            getattr(data, "batch_id", None),
            getattr(data, "session_id", None),
        )


def frame(record: RecordedEvent) -> bytes:
    data = CODEC.encode(record.data).decode()
    return f"id: {record.position}\nevent: {record.tag}\ndata: {data}\n\n".encode()


def progress_frame(progress: Progress) -> bytes:
    return f"event: invocation.progress\ndata: {json.dumps(asdict(progress))}\n\n".encode()


class Frames:
    """The frames of one group's events, each built when a stream first sends it and then
    shared by every stream (the group is shared, and keeps this as its memo)."""

    __slots__ = ("_events", "_frames", "_whole")

    def __init__(self, events: Sequence[RecordedEvent]) -> None:
        self._events = events
        self._frames: list[bytes | None] = [None] * len(events)
        self._whole: bytes | None = None

    @staticmethod
    def of(group: Group) -> Frames:
        frames = group.memo
        if not isinstance(frames, Frames):
            frames = group.memo = Frames(group.events)
        return frames

    def at(self, index: int) -> bytes:
        built = self._frames[index]
        if built is None:
            built = self._frames[index] = frame(self._events[index])
        return built

    def span(self, start: int, stop: int) -> bytes:
        """The frames of ``start:stop`` as one chunk; the whole group's is kept."""
        if start == 0 and stop == len(self._frames):
            if self._whole is None:
                self._whole = b"".join([self.at(i) for i in range(stop)])
            return self._whole
        return b"".join([self.at(i) for i in range(start, stop)])


def chunk(runs: Sequence[Run], selection: Selection) -> bytes:
    """The frames of ``runs`` that ``selection`` wants, as one chunk to write."""
    if selection.any_source:
        return b"".join(
            [
                Frames.of(run.group).span(run.start, run.stop)
                if run.wanted is None
                else b"".join([Frames.of(run.group).at(i) for i in run.wanted])
                for run in runs
            ]
        )
    parts = []
    for run in runs:
        frames, events = Frames.of(run.group), run.group.events
        indices = range(run.start, run.stop) if run.wanted is None else run.wanted
        parts += [frames.at(i) for i in indices if selection.wants_event(events[i])]
    return b"".join(parts)


class EventStream(Response):
    """The streaming response: log events, progress reports and heartbeats until disconnect."""

    media_type = "text/event-stream"

    def __init__(
        self,
        service: Service,
        after: int,
        follow: bool,
        selection: Selection,
        heartbeat: float,
        flush: float = FLUSH_SECONDS,
        write_budget: float = WRITE_BUDGET,
    ) -> None:
        super().__init__(media_type="text/event-stream")
        # Set once the stream follows the log live (caught up); tests synchronise on it.
        self.live = anyio.Event()
        self.service, self.after, self.follow = service, after, follow
        self.selection, self.heartbeat = selection, heartbeat
        self.flush, self.write_budget = flush, write_budget
        self._sending = anyio.Lock(fast_acquire=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                    (b"x-accel-buffering", b"no"),
                ],
            }
        )
        self._send = send
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._until_disconnect, receive, tg.cancel_scope)
            if self.follow:
                tg.start_soon(self._progress)
                tg.start_soon(self._heartbeats)
            await self._log(tg)
            tg.cancel_scope.cancel()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _write(self, chunk: bytes) -> None:
        async with self._sending:
            await self._send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def _log(self, tg: anyio.abc.TaskGroup) -> None:
        store = self.service.store
        until = None if self.follow else await store.head()
        tags = self.selection.tags
        log_tags = None if tags is None else tags - {"invocation.progress"}
        try:
            async with store.subscribe(after=self.after, filter=EventFilter(tags=log_tags)) as sub:
                if until is None:
                    tg.start_soon(self._signal_live, sub)
                # follow=false: the log up to the head it had when asked, then the end.
                await self._write_runs(sub, until)
        except (SubscriberLaggedError, StoreError) as exc:
            # The client resumes with Last-Event-ID; say why the stream ends.
            await self._write(f": closed: {exc}\n\n".encode())

    async def _write_runs(self, subscription: Subscription, until: int | None) -> None:
        ready_at = -self.flush  # when this stream last asked for more
        async for runs in subscription.runs(until):
            body = chunk(runs, self.selection)
            if not body:
                continue
            await self._write(body)
            # More came within a pause of asking: a busy log. Let what commits meanwhile
            # gather in the ring for one write; an idle log's next event goes out at once.
            pause = self._pause()
            if subscription.live and anyio.current_time() - ready_at < pause:
                await anyio.sleep(pause)
            ready_at = anyio.current_time()

    def _pause(self) -> float:
        """This stream's share of the write budget, as a pause between writes."""
        return min(self.flush, self.service.store.subscribers / self.write_budget)

    async def _signal_live(self, subscription: Subscription) -> None:
        await subscription.wait_live()
        self.live.set()

    async def _progress(self) -> None:
        tags = self.selection.tags
        if tags is not None and "invocation.progress" not in tags:
            return
        async with self.service.progress.listen() as reports:
            async for report in reports:
                if self.selection.wants(report.queue_id, report.batch_id, report.session_id):
                    await self._write(progress_frame(report))

    async def _heartbeats(self) -> None:
        while True:
            await anyio.sleep(self.heartbeat)
            await self._write(b": heartbeat\n\n")

    @staticmethod
    async def _until_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        scope.cancel()


def event_routes() -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["events"])

    @router.get(
        "/events",
        response_class=EventStream,
        status_code=200,
        responses={
            200: {
                "description": "Server-Sent Events: 'id:' is the position, 'event:' the tag, "
                "'data:' the event as JSON; 'event: invocation.progress' has no id",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            **documented(410, beside_another_type=True),
        },
    )
    async def events(
        request: Request,
        after: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0,
        follow: bool = True,
        queue_id: QueueFilter = None,
        batch_id: BatchFilter = None,
        session_id: SessionFilter = None,
        tags: str | None = None,
        last_event_id: Annotated[
            str,
            Header(
                pattern=r"^\s*[0-9]{0,16}\s*$",
                description="The id of the last event received: the stream resumes after it",
            ),
        ] = "",
    ) -> Response:
        """Server-Sent Events of the log: ``id:`` is the position; resume with Last-Event-ID.
        A position the log archived is a 410 naming the archive files."""
        if last_event_id.strip():
            after = min(int(last_event_id), MAX_POSITION)
        chosen = frozenset(t.strip() for t in tags.split(",") if t.strip()) if tags else None
        selection = Selection(queue_id, batch_id, session_id, chosen)
        service: Service = request.app.state.service
        # Asking for archived positions is a 410 naming the archives, before any 200.
        await archives.check_after(service.store, after)
        heartbeat = getattr(request.app.state, "heartbeat_seconds", HEARTBEAT_SECONDS)
        flush = getattr(request.app.state, "flush_seconds", FLUSH_SECONDS)
        budget = getattr(request.app.state, "write_budget", WRITE_BUDGET)
        return EventStream(service, after, follow, selection, heartbeat, flush, budget)

    return router
