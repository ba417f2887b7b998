"""The executor: workers that take sessions from the queue and run them (DESIGN section 4).

A worker takes the next session from the queue projection and claims it by appending
``session.started`` at the session stream's exact version (``NO_STREAM`` for a session that
never ran, claimed without reading its stream first): a conflict means another worker got it,
and the worker waits for the projection to show that and picks again. The projection may not
show a claim yet (PostgreSQL's runner folds a page at a time), so a worker passes over the
sessions this process runs or claimed lately at the attempt the projection shows, and waits
for the projection if it shows nothing else. The claimed attempt then runs in
``eventsvc.attempt``: the batch re-read for a cancel, the graph built and parsed, the nodes
run one commit each, fenced by the exact version.

A follower task reads the log live: new work (an enqueue, a retry, a resume, a new priority)
wakes idle workers, and a cancel (of a running session or its batch) stops its attempt before
its next node. A store error under a worker, the follower or the heartbeat is logged and tried
again; it never takes the service down.

Liveness (``eventsvc.leases``): the workers' leases are stamped every third of the lease. A
session in progress whose worker's lease ran out (a crashed or killed process), or one of this
process's own that no task runs any more, is resumed by a live worker: ``session.resumed`` at
the exact version, then the attempt's execution state is rebuilt from its durable completions
(execution ids are deterministic) and only the remaining nodes run. Past ``max_resumes`` the
attempt fails as ``Interrupted`` instead, so a node that kills its process cannot loop forever.
Worker ids are unique per process run, so a restarted process never mistakes a dead
predecessor for itself.

The executor is built from explicit collaborators (``Collaborators``): the composition root
hands it the store, the queue view, the leases, the cache and the node types.
"""

from __future__ import annotations

import logging
import os
import secrets
import zlib
from dataclasses import dataclass, field
from typing import Protocol

import anyio
import anyio.abc
from anyio.abc import TaskStatus

from eventsvc import events as ev
from eventsvc.attempt import Attempt, Fenced, NodeLimits, Running, Workbench, session_state
from eventsvc.cache import InvocationCache
from eventsvc.errors import (
    ConcurrencyError,
    IllegalTransitionError,
    StoreError,
    SubscriberLaggedError,
)
from eventsvc.events import RecordedEvent
from eventsvc.ids import parse_session_id, session_stream
from eventsvc.invocations.context import ArtifactStore
from eventsvc.invocations.registry import InvocationRegistry
from eventsvc.isolation import ProcessPool
from eventsvc.leases import Leases
from eventsvc.progress import Progress, ProgressHub
from eventsvc.projections import ProjectionHost
from eventsvc.projections.queue_view import QueueView
from eventsvc.sessions import (
    Resume,
    SessionState,
    Start,
    decide,
    evolve,
)
from eventsvc.store import NO_STREAM, EventFilter, EventStore, ExpectedVersion
from eventsvc.views import SessionView

log = logging.getLogger("eventsvc.executor")

WAKING_TAGS = frozenset(
    {"batch.enqueued", "session.retried", "queue.resumed", "batch.reprioritized"}
)
CANCELING_TAGS = frozenset({"batch.canceled", "session.canceled"})
CANDIDATES = 4  # under contention a worker picks among this many next sessions
CLAIMS_KEPT = 256  # claims remembered, until the queue projection surely shows them


class WorkStore(EventStore, ProjectionHost, Protocol):
    """What workers need of the store: the log, and its projections caught up."""


@dataclass(frozen=True)
class Collaborators:
    """What an executor works with, handed to it by the composition root (``Service``)."""

    store: WorkStore
    queue: QueueView
    leases: Leases
    cache: InvocationCache
    registry: InvocationRegistry
    artifacts: ArtifactStore
    progress: ProgressHub
    lease_seconds: float
    max_resumes: int
    limits: NodeLimits = field(default_factory=NodeLimits)
    pool: ProcessPool | None = None  # for nodes isolated in worker processes


class Executor:
    def __init__(
        self,
        parts: Collaborators,
        *,
        queue_id: str = "default",
        workers: int = 1,
        threads: int = 4,
        name: str = "worker",
    ) -> None:
        self.parts = parts
        self.store = parts.store
        self.queue_id = queue_id
        self.workers = workers
        self.name = name
        self.bench = Workbench(
            parts.store,
            parts.registry,
            parts.cache,
            parts.artifacts,
            anyio.CapacityLimiter(threads),
            self.report,
            parts.limits,
            parts.pool,
        )
        self._work = anyio.Event()
        self._running: dict[str, Running] = {}
        # The latest claims of this process: session id -> (attempt, log position).
        self._claimed: dict[str, tuple[int, int]] = {}
        self.live_workers = workers
        instance = f"{name}-{os.getpid()}-{secrets.token_hex(3)}"
        self.worker_ids = [f"{instance}-{n}" for n in range(workers)]
        # Resumed sessions run under the first worker's id: its lease covers them too.
        self.recovery_id = self.worker_ids[0]

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        """The worker threads blocking node bodies run in."""
        return self.bench.limiter

    @property
    def abandoned(self) -> dict[str, str]:
        """Nodes abandoned in their threads (session canceled, or shutdown): id -> session."""
        return self.bench.abandoned

    @property
    def abandoned_threads(self) -> int:
        """Abandoned node bodies whose threads still run."""
        return self.bench.abandoned_threads

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Follow the log, keep the leases, recover dead sessions and run the workers."""
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(self._follow)
                await tg.start(self._beat)
                tg.start_soon(self._recover, tg)
                for worker_id in self.worker_ids:
                    tg.start_soon(self._worker, worker_id)
                task_status.started()
        finally:
            for node_id, session_id in self.abandoned.items():
                log.warning(
                    "shutting down with node %s of session %s still running in its "
                    "thread (abandoned; it cannot be killed)",
                    node_id,
                    session_id,
                )

    # --- liveness -----------------------------------------------------------------------

    async def _beat(self, *, task_status: TaskStatus[None]) -> None:
        """Stamp every lease of this process, a third of the lease apart, count the live
        workers of every process (how many compete for the next sessions), and write back
        what the invocation cache holds in memory."""
        ids, lease = self.worker_ids, self.parts.lease_seconds
        while True:
            try:
                await self.parts.leases.beat(ids)
                self.live_workers = await self.parts.leases.live_workers(lease)
                await self.parts.cache.flush()  # the entries and recency held since the last
            except StoreError as exc:
                if task_status is not anyio.TASK_STATUS_IGNORED:
                    raise  # the first beat: the executor cannot start
                log.warning("heartbeat failed (%s); beating again in %g s", exc, lease / 3)
            if task_status is not anyio.TASK_STATUS_IGNORED:
                task_status.started()
                task_status = anyio.TASK_STATUS_IGNORED
            await anyio.sleep(lease / 3)

    async def _recover(self, tg: anyio.abc.TaskGroup) -> None:
        """Resume the sessions of dead workers: at once (a restart), then every half lease."""
        lease = self.parts.lease_seconds
        while True:
            try:
                await self._recover_once(tg, lease)
            except StoreError as exc:
                log.warning("looking for sessions to resume failed (%s)", exc)
            await anyio.sleep(lease / 2)

    async def _recover_once(self, tg: anyio.abc.TaskGroup, lease: float) -> None:
        """Resume the sessions of dead workers, and this process's own sessions that no task
        runs any more (their run stopped on a store error, so their lease never expires)."""
        leases = self.parts.leases
        expired = await leases.expired_sessions(self.queue_id, lease)
        orphaned = await leases.sessions_of(self.queue_id, self.worker_ids)
        for session_id in dict.fromkeys([*expired, *orphaned]):
            if session_id not in self._running:
                self._running[session_id] = Running(session_id.rpartition(".")[0])
                tg.start_soon(self._resume, session_id)

    async def _resume(self, session_id: str) -> None:
        try:
            state, version = await session_state(self.store, self.queue_id, session_id)
            limit = self.parts.max_resumes
            try:
                events = decide(Resume(self.recovery_id, limit), state)
                result = await self.store.append(session_stream(session_id), events, version)
            except (ConcurrencyError, IllegalTransitionError):
                return  # someone else resumed or ended it meanwhile
            if not isinstance(events[0], ev.SessionResumed):
                log.warning("session %s interrupted too often: failed", session_id)
                return
            log.warning("resuming session %s of %s", session_id, state.worker_id)
            state = evolve(state, events[0], result.last_position)
            running = self._running[session_id]
            run = Attempt(self.bench, self.recovery_id, state, result.version, running)
            await run.run(resumed=True)
        except Fenced:
            log.warning("lost session %s to another writer while resuming it", session_id)
        finally:
            self._running.pop(session_id, None)

    # --- the follower -------------------------------------------------------------------

    async def _follow(self, *, task_status: TaskStatus[None]) -> None:
        tags = EventFilter(tags=WAKING_TAGS | CANCELING_TAGS)
        position = await self.store.head()
        task_status.started()
        while True:
            try:
                async with self.store.subscribe(after=position, filter=tags) as sub:
                    async for record in sub:
                        position = record.position
                        await self._let_projection_see(record)
                        self._observe(record)
            except SubscriberLaggedError as exc:  # fell behind a busy log: read on from there
                position = exc.position
            except StoreError as exc:
                log.warning("following the log failed (%s); following again", exc)
                await anyio.sleep(self.parts.lease_seconds / 3)

    async def _let_projection_see(self, record: RecordedEvent) -> None:
        """Workers look for work in the queue projection: a waking event is observed once the
        projection has folded it (or cannot: a stall wakes them all the same)."""
        if record.tag in WAKING_TAGS:
            try:
                await self.store.wait_for_projections(record.position)
            except StoreError as exc:
                log.warning("waking workers for position %d: %s", record.position, exc)

    def _observe(self, record: RecordedEvent) -> None:
        match record.data:
            case ev.BatchCanceled(batch_id=batch_id):
                for running in self._running.values():
                    if running.batch_id == batch_id:
                        running.canceled.set()
            case ev.SessionCanceled(session_id=session_id) if session_id in self._running:
                self._running[session_id].canceled.set()
            case _:
                self._work.set()
                self._work = anyio.Event()

    # --- workers ------------------------------------------------------------------------

    async def _worker(self, worker_id: str) -> None:
        picks = 0
        while True:
            try:
                picks = await self._work_once(worker_id, picks)
            except StoreError as exc:
                # The store failed under this worker (a lost connection, a stalled
                # projection): its session, if it had claimed one, is resumed by _recover.
                pause = self.parts.lease_seconds / 2
                log.warning("%s: %s; looking for work again in %g s", worker_id, exc, pause)
                await anyio.sleep(pause)

    async def _work_once(self, worker_id: str, picks: int) -> int:
        """Take and run one session, or wait for work; the number of picks made so far."""
        work = self._work  # taken before looking, so no wake-up is missed
        if any(stall.name == "queue" for stall in await self.store.stalls()):
            # The queue projection cannot show what is runnable: wait for it to be fixed.
            with anyio.move_on_after(self.parts.lease_seconds):
                await work.wait()
            return picks
        spread = min(CANDIDATES, max(1, self.live_workers))
        # Asked for past the sessions this process runs, which the projection may still show.
        asked = spread + self.workers
        shown = await self.parts.queue.next_sessions(self.queue_id, asked)
        candidates = [view for view in shown if not self._ours(view)][:spread]
        if not candidates:
            if len(shown) == asked and self._claimed:
                # Sessions this process claimed, and maybe more behind them: once the
                # projection shows those claims, it shows what is left.
                await self.store.wait_for_projections(max(p for _, p in self._claimed.values()))
            else:
                await work.wait()
            return picks
        # A lone worker takes the next session; under contention each worker picks by its own
        # hash, moved on at every pick so every candidate (the cursor's first) is taken.
        picks += 1
        pick = zlib.crc32(f"{worker_id}:{picks}".encode()) % len(candidates)
        chosen = candidates[pick]
        fresh = chosen.started_at is None and chosen.attempt == 1
        await self._take(worker_id, chosen.session_id, fresh=fresh)
        return picks

    def _ours(self, view: SessionView) -> bool:
        """Whether ``view`` is a session this process runs, or an attempt of it that this
        process claimed (the projection has not folded the claim yet)."""
        if view.session_id in self._running:
            return True
        claimed = self._claimed.get(view.session_id)
        return claimed is not None and claimed[0] == view.attempt

    async def _take(self, worker_id: str, session_id: str, *, fresh: bool = False) -> None:
        """Claim and run ``session_id``; ``fresh``: the projection shows it never started."""
        if session_id in self._running:
            return
        # Held from before the claim, so _recover never takes the session for an orphan.
        running = self._running[session_id] = Running(parse_session_id(session_id)[0])
        try:
            claim = await self._claim(worker_id, session_id, fresh)
            if claim is not None:
                state, version = claim
                await Attempt(self.bench, worker_id, state, version, running).run()
        except Fenced:
            log.warning("%s lost session %s to another writer", worker_id, session_id)
        finally:
            del self._running[session_id]

    async def _claim(
        self, worker_id: str, session_id: str, fresh: bool
    ) -> tuple[SessionState, int] | None:
        """Append ``session.started`` at the session stream's exact version: the attempt's
        state and version, or None when another worker got it or it moved on. A ``fresh`` one
        is claimed as a stream that does not exist yet, with no read: a conflict means some
        event of it is in the log, which the projection shows once it has folded that far."""
        state: SessionState
        version: ExpectedVersion
        if fresh:
            state, version = SessionState.new(self.queue_id, session_id), NO_STREAM
        else:
            state, version = await session_state(self.store, self.queue_id, session_id)
        try:
            [started] = decide(Start(worker_id), state)
            claimed = await self.store.append(session_stream(session_id), [started], version)
        except ConcurrencyError as exc:
            await self.store.wait_for_projections(exc.position)  # another worker got it
            return None
        except IllegalTransitionError:
            return None  # it moved on since the projection was read
        state = evolve(state, started, claimed.last_position)
        self._remember(session_id, state.attempt, claimed.last_position)
        return state, claimed.version

    def _remember(self, session_id: str, attempt: int, position: int) -> None:
        self._claimed.pop(session_id, None)
        self._claimed[session_id] = (attempt, position)
        if len(self._claimed) > CLAIMS_KEPT:
            del self._claimed[next(iter(self._claimed))]

    def report(self, progress: Progress) -> None:
        self.parts.progress.publish_threadsafe(progress)
