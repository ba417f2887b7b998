"""The executor: workers that take sessions from the queue and run their nodes (DESIGN section 4).

A worker takes the next session from the queue projection and claims it by appending
``session.started`` at the session stream's exact version (``NO_STREAM`` for a session that
never ran): a conflict means another worker got it, and the worker picks again. After the
claim it re-reads the batch stream and cancels the attempt at once if the batch was canceled
since the session's last retry. Only then is the session's graph built (the batch graph with
the session's values) and parsed; a failure appends ``graph.invalid`` and ``session.failed``.

Nodes run one after another: blocking bodies in worker threads under a capacity limiter,
async bodies awaited. Each node's ``invocation.completed`` is appended together with the next
node's ``invocation.started`` (one commit per node), at the exact expected version, so a
writer that is no longer the session's owner is fenced off and abandons the session.

A follower task reads the log live: new work (an enqueue, a retry, a resume, a new priority)
wakes idle workers, and a cancel (of a running session or its batch) stops its worker before
its next node and tells a polling node through ``context.is_canceled()``.

Liveness: the workers' leases are stamped in a table beside the log every third of the lease,
by the database's clock. A session in progress whose worker's lease ran out (a crashed or
killed process) is resumed by a live worker: ``session.resumed`` at the exact version, then
the attempt's execution state is rebuilt from its durable completions (execution ids are
deterministic) and only the remaining nodes run. Past ``max_resumes`` the attempt fails as
``Interrupted`` instead, so a node that kills its process cannot loop forever. Worker ids are
unique per process run, so a restarted process never mistakes a dead predecessor for itself.

Not yet here: abandoning a node thread on shutdown (shutdown waits for running nodes).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import secrets
import threading
import traceback
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
from anyio.abc import TaskStatus

from eventsvc import bounds
from eventsvc import events as ev
from eventsvc.batches import data_of, session_values, substitute
from eventsvc.errors import (
    ConcurrencyError,
    GraphValidationError,
    IllegalTransitionError,
    InvalidValueError,
    MissingInputError,
    NodeInputError,
    StoreError,
    SubscriberLaggedError,
)
from eventsvc.events import Event, NodeMeasurement, RecordedEvent
from eventsvc.execution import GraphExecutionState
from eventsvc.graph import parse_graph
from eventsvc.ids import batch_stream, parse_session_id, session_stream
from eventsvc.invocations.base import BaseInvocation, BaseInvocationOutput
from eventsvc.invocations.cache_key import cache_key
from eventsvc.invocations.context import ArtifactStore
from eventsvc.progress import Progress
from eventsvc.sampling import StatsContext
from eventsvc.sessions import (
    BATCH_CANCELED,
    ApplyBatchCancel,
    Cancel,
    Complete,
    Fail,
    RejectGraph,
    Resume,
    SessionState,
    Start,
    decide,
    evolve,
)
from eventsvc.store import EventFilter, ExpectedVersion

if TYPE_CHECKING:
    from eventsvc.service import Service

log = logging.getLogger("eventsvc.executor")

WAKING_TAGS = frozenset(
    {"batch.enqueued", "session.retried", "queue.resumed", "batch.reprioritized"}
)
CANCELING_TAGS = frozenset({"batch.canceled", "session.canceled"})
CANDIDATES = 4  # under contention a worker picks among this many next sessions


@dataclass
class NodeContext:
    """The ``InvocationContext`` a worker hands to ``invoke``."""

    queue_id: str
    batch_id: str
    session_id: str
    node_id: str
    logger: logging.Logger
    artifacts: ArtifactStore
    canceled: anyio.Event
    report: Callable[[Progress], None]

    def is_canceled(self) -> bool:
        return self.canceled.is_set()

    def progress(self, fraction: float, message: str = "") -> None:
        self.report(
            Progress(self.queue_id, self.batch_id, self.session_id, self.node_id, fraction, message)
        )


@dataclass
class _Running:
    """A session a worker is running, and the flag that stops it."""

    batch_id: str
    canceled: anyio.Event = field(default_factory=anyio.Event)


class _Fenced(Exception):
    """Another writer appended to the session: this worker no longer owns it."""


class _Abandoned(Exception):
    """The session was canceled while its node ran in a thread, which was left to finish."""


async def _cancel_when_set(flag: anyio.Event, scope: anyio.CancelScope) -> None:
    await flag.wait()
    scope.cancel()


class _Slot:
    """A limiter slot held for one node thread, given back by whoever sees the thread end.

    Normally the event loop gives it back when the thread's result arrives; a thread that
    was abandoned gives it back itself when it finally returns, so the slot stays taken for
    exactly as long as the thread runs.
    """

    def __init__(self, limiter: anyio.CapacityLimiter) -> None:
        self._limiter = limiter
        self._lock = threading.Lock()
        self._abandoned = self._done = False

    async def take(self) -> None:
        await self._limiter.acquire_on_behalf_of(self)

    def give_back(self) -> None:
        self._limiter.release_on_behalf_of(self)

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            done = self._done
        if done:  # the thread ended just as it was abandoned
            self.give_back()

    def thread_done(self) -> None:
        with self._lock:
            self._done = True
            abandoned = self._abandoned
        if abandoned:
            # RuntimeError: the event loop is gone (the process is shutting down).
            with contextlib.suppress(RuntimeError):
                anyio.from_thread.run_sync(self.give_back)


class Executor:
    def __init__(
        self,
        service: Service,
        *,
        queue_id: str = "default",
        workers: int = 1,
        threads: int = 4,
        name: str = "worker",
    ) -> None:
        self.service = service
        self.queue_id = queue_id
        self.workers = workers
        self.name = name
        self.limiter = anyio.CapacityLimiter(threads)
        # Nodes abandoned in their threads (session canceled, or shutdown): id -> session.
        self.abandoned: dict[str, str] = {}
        # The enqueue events of the batches recently run (a few: they hold all the data).
        self.enqueued: dict[str, ev.BatchEnqueued] = {}
        self._work = anyio.Event()
        self._running: dict[str, _Running] = {}
        self.live_workers = workers
        instance = f"{name}-{os.getpid()}-{secrets.token_hex(3)}"
        self.worker_ids = [f"{instance}-{n}" for n in range(workers)]
        # Resumed sessions run under the first worker's id: its lease covers them too.
        self.recovery_id = self.worker_ids[0]

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
        ids, lease = self.worker_ids, self.service.settings.lease_seconds
        while True:
            try:
                await self.service.store.heartbeat(ids)
                self.live_workers = await self.service.queue.live_workers(lease)
                await self.service.cache.flush()  # the entries and recency held since the last
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
        lease = self.service.settings.lease_seconds
        while True:
            try:
                await self._recover_once(tg, lease)
            except StoreError as exc:
                log.warning("looking for sessions to resume failed (%s)", exc)
            await anyio.sleep(lease / 2)

    async def _recover_once(self, tg: anyio.abc.TaskGroup, lease: float) -> None:
        """Resume the sessions of dead workers, and this process's own sessions that no task
        runs any more (their run stopped on a store error, so their lease never expires)."""
        queue = self.service.queue
        expired = await queue.expired_sessions(self.queue_id, lease)
        orphaned = await queue.sessions_of(self.queue_id, self.worker_ids)
        for session_id in dict.fromkeys([*expired, *orphaned]):
            if session_id not in self._running:
                self._running[session_id] = _Running(session_id.rpartition(".")[0])
                tg.start_soon(self._resume, session_id)

    async def _resume(self, session_id: str) -> None:
        try:
            state, version = await self.service.session_state(self.queue_id, session_id)
            limit = self.service.settings.max_resumes
            try:
                events = decide(Resume(self.recovery_id, limit), state)
                result = await self.service.store.append(
                    session_stream(session_id), events, version
                )
            except (ConcurrencyError, IllegalTransitionError):
                return  # someone else resumed or ended it meanwhile
            if not isinstance(events[0], ev.SessionResumed):
                log.warning("session %s interrupted too often: failed", session_id)
                return
            log.warning("resuming session %s of %s", session_id, state.worker_id)
            state = evolve(state, events[0], result.last_position)
            run = _SessionRun(
                self, self.recovery_id, state, result.version, self._running[session_id]
            )
            await run.run(resumed=True)
        except _Fenced:
            log.warning("lost session %s to another writer while resuming it", session_id)
        finally:
            self._running.pop(session_id, None)

    # --- the follower -------------------------------------------------------------------

    async def _follow(self, *, task_status: TaskStatus[None]) -> None:
        tags = EventFilter(tags=WAKING_TAGS | CANCELING_TAGS)
        position = await self.service.store.head()
        task_status.started()
        while True:
            try:
                async with self.service.store.subscribe(after=position, filter=tags) as sub:
                    async for record in sub:
                        position = record.position
                        await self._let_projection_see(record)
                        self._observe(record)
            except SubscriberLaggedError as exc:  # fell behind a busy log: read on from there
                position = exc.position
            except StoreError as exc:
                log.warning("following the log failed (%s); following again", exc)
                await anyio.sleep(self.service.settings.lease_seconds / 3)

    async def _let_projection_see(self, record: RecordedEvent) -> None:
        """Workers look for work in the queue projection: a waking event is observed once the
        projection has folded it (or cannot: a stall wakes them all the same)."""
        if record.tag in WAKING_TAGS:
            try:
                await self.service.wait_for(record.position)
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
                pause = self.service.settings.lease_seconds / 2
                log.warning("%s: %s; looking for work again in %g s", worker_id, exc, pause)
                await anyio.sleep(pause)

    async def _work_once(self, worker_id: str, picks: int) -> int:
        """Take and run one session, or wait for work; the number of picks made so far."""
        work = self._work  # taken before looking, so no wake-up is missed
        if any(stall.name == "queue" for stall in await self.service.store.stalls()):
            # The queue projection cannot show what is runnable: wait for it to be fixed.
            with anyio.move_on_after(self.service.settings.lease_seconds):
                await work.wait()
            return picks
        spread = min(CANDIDATES, max(1, self.live_workers))
        candidates = await self.service.queue.next_sessions(self.queue_id, spread)
        if not candidates:
            await work.wait()
            return picks
        # A lone worker takes the next session; under contention each worker picks by its own
        # hash, moved on at every pick so every candidate (the cursor's first) is taken.
        picks += 1
        pick = zlib.crc32(f"{worker_id}:{picks}".encode()) % len(candidates)
        await self._take(worker_id, candidates[pick].session_id)
        return picks

    async def _take(self, worker_id: str, session_id: str) -> None:
        if session_id in self._running:
            return
        # Held from before the claim, so _recover never takes the session for an orphan.
        running = self._running[session_id] = _Running(parse_session_id(session_id)[0])
        try:
            state, version = await self.service.session_state(self.queue_id, session_id)
            try:
                [started] = decide(Start(worker_id), state)
                claimed = await self.service.store.append(
                    session_stream(session_id), [started], version
                )
            except ConcurrencyError as exc:
                await self.service.wait_for(exc.position)  # another worker got it
                return
            except IllegalTransitionError:
                return  # it moved on since the projection was read
            state = evolve(state, started, claimed.last_position)
            await _SessionRun(self, worker_id, state, claimed.version, running).run()
        except _Fenced:
            log.warning("%s lost session %s to another writer", worker_id, session_id)
        finally:
            del self._running[session_id]

    def remember(self, enqueued: ev.BatchEnqueued, keep: int = 16) -> ev.BatchEnqueued:
        if len(self.enqueued) >= keep:
            del self.enqueued[next(iter(self.enqueued))]
        self.enqueued[enqueued.batch_id] = enqueued
        return enqueued

    def report(self, progress: Progress) -> None:
        self.service.progress.publish_threadsafe(progress)


class _SessionRun:
    """One attempt of one session, from just after its claim to its last event."""

    def __init__(
        self,
        executor: Executor,
        worker_id: str,
        state: SessionState,
        version: int,
        running: _Running,
    ) -> None:
        self.executor = executor
        self.worker_id = worker_id
        self.state = state
        self.version = version
        self.running = running
        self.store = executor.service.store

    async def run(self, resumed: bool = False) -> None:
        enqueued, later = await self._batch_events()
        canceled_at = max((r.position for r in later if r.tag == "batch.canceled"), default=0)
        if canceled_at and await self._append(decide(ApplyBatchCancel(canceled_at), self.state)):
            return
        try:
            graph = parse_graph(self._session_graph(enqueued), self.executor.service.registry)
        except GraphValidationError as exc:
            await self._append(decide(RejectGraph(tuple(exc.problems)), self.state))
            return
        if resumed:
            execution = GraphExecutionState.rebuild(graph, await self._completions())
        else:
            execution = GraphExecutionState(graph)
        await self._run_nodes(execution)

    async def _completions(self) -> list[tuple[str, BaseInvocationOutput]]:
        """This attempt's durable node completions, in order (what a resume keeps)."""
        recorded = await self.store.read_stream(session_stream(self.state.session_id))
        attempt_start = max(i for i, r in enumerate(recorded) if r.tag == "session.started")
        registry = self.executor.service.registry
        completions = []
        for record in recorded[attempt_start:]:
            if isinstance(record.data, ev.InvocationCompleted):
                output_type = registry.get_output(record.data.outputs["type"])
                assert output_type is not None, record.data.outputs["type"]
                completions.append(
                    (record.data.node_id, output_type.model_validate(record.data.outputs))
                )
        return completions

    async def _batch_events(self) -> tuple[ev.BatchEnqueued, list[RecordedEvent]]:
        """The batch's enqueue (decoded once per batch: it holds all the data) and every
        event after it, re-read after each claim so a cancel is never missed."""
        stream = batch_stream(self.state.batch_id)
        enqueued = self.executor.enqueued.get(self.state.batch_id)
        if enqueued is None:
            [first] = await self.store.read_stream(stream, 0, 1)
            assert isinstance(first.data, ev.BatchEnqueued)
            enqueued = self.executor.remember(first.data)
        return enqueued, await self.store.read_stream(stream, from_version=1)

    def _session_graph(self, enqueued: ev.BatchEnqueued) -> dict[str, Any]:
        _, index = parse_session_id(self.state.session_id)
        values = session_values(data_of(enqueued), enqueued.session_count, index)
        return substitute(enqueued.graph, values)

    async def _run_nodes(self, execution: GraphExecutionState) -> None:
        pending: list[Event] = []
        while True:
            if self.running.canceled.is_set():
                await self._cancel(pending)
                return
            try:
                node = execution.next()
            except (MissingInputError, NodeInputError) as exc:
                node_id = exc.node_id
                pending += self._failure(node_id, execution, exc, None)
                await self._append(pending + self._fail_session(exc, node_id))
                return
            if node is None:
                break
            pending.append(self._started(node, execution))
            key, hit = await self._cached(node)
            if hit is not None:  # invoke() is not called: the cached outputs are the result
                execution.complete(node.id, hit)
                pending.append(self._completed(node, execution, hit, None, key, cached=True))
                continue
            await self._append(pending)
            output, error, stats = await self._invoke(node)
            if isinstance(error, _Abandoned):
                await self._cancel([])
                return
            if error is not None:
                pending = self._failure(node.id, execution, error, stats)
                if self.running.canceled.is_set():
                    await self._cancel(pending)
                else:
                    await self._append(pending + self._fail_session(error, node.id))
                return
            assert output is not None
            completed = self._completed(node, execution, output, stats, key)
            if found := bounds.problems(completed.outputs, "outputs"):
                # A value the log cannot hold fails the node, as a failing body would.
                error = InvalidValueError(f"node {node.id!r} returned a value out of bounds", found)
                pending = self._failure(node.id, execution, error, stats)
                await self._append(pending + self._fail_session(error, node.id))
                return
            execution.complete(node.id, output)
            if key is not None:
                # Cached now, appended with the next node: the entry is the newest, so it names
                # its artifacts until the event does (an entry too big to keep is not put).
                await self.executor.service.cache.put(key, node.node_type, completed.outputs)
            pending = [completed]
        await self._append(pending + decide(Complete(), self.state))

    async def _cached(self, node: BaseInvocation) -> tuple[str | None, BaseInvocationOutput | None]:
        """The node's cache key if the cache was asked (cacheable node, cache on), and the
        cached output on a hit."""
        key = cache_key(node)
        if key is None:
            return None, None
        enabled, outputs = await self.executor.service.cache.lookup(key)
        if not enabled:
            return None, None
        if outputs is None:
            return key, None
        output_type = self.executor.service.registry.get_output(outputs.get("type", ""))
        if output_type is None:  # an output type no longer known: run the node instead
            await self.executor.service.cache.discard(key)
            return key, None
        return key, output_type.model_validate(outputs)

    async def _invoke(
        self, node: BaseInvocation
    ) -> tuple[BaseInvocationOutput | None, Exception | None, StatsContext]:
        """The node's output or the exception it raised, with its measurements."""
        context = NodeContext(
            self.state.queue_id,
            self.state.batch_id,
            self.state.session_id,
            node.id,
            logging.getLogger(f"eventsvc.node.{node.node_type}"),
            self.executor.service.artifacts,
            self.running.canceled,
            self.executor.report,
        )
        stats = StatsContext()
        try:
            if inspect.iscoroutinefunction(node.invoke):
                with stats:
                    output = await node.invoke(context)
            else:
                output = await self._in_thread(node, context, stats)
        except Exception as exc:  # a failing node is data, not a crash of the worker
            return None, exc, stats
        return output, None, stats

    async def _in_thread(
        self, node: BaseInvocation, context: NodeContext, stats: StatsContext
    ) -> BaseInvocationOutput:
        """Run a blocking node in a worker thread; abandon it if its session is canceled.

        A thread cannot be killed: an abandoned node keeps its limiter slot until its thread
        returns, and is recorded so shutdown can say so instead of hanging.
        """
        slot = _Slot(self.executor.limiter)
        await slot.take()

        def call() -> BaseInvocationOutput:
            try:
                return _timed_invoke(node, context, stats)
            finally:
                slot.thread_done()

        output: BaseInvocationOutput | None = None
        error: Exception | None = None
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_cancel_when_set, self.running.canceled, tg.cancel_scope)
                try:
                    output = await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
                except Exception as exc:  # the node's own failure, raised unwrapped below
                    error = exc
                tg.cancel_scope.cancel()
        except anyio.get_cancelled_exc_class():
            slot.abandon()
            self._abandon(node)
            raise
        if error is None and output is None:
            slot.abandon()
            self._abandon(node)
            raise _Abandoned(f"node {node.id} abandoned: its session was canceled")
        slot.give_back()
        if error is not None:
            raise error
        assert output is not None
        return output

    def _abandon(self, node: BaseInvocation) -> None:
        self.executor.abandoned[node.id] = self.state.session_id
        log.warning("abandoned node %s of session %s in its thread", node.id, self.state.session_id)

    # --- events -------------------------------------------------------------------------

    def _node_fields(self, node_id: str, execution: GraphExecutionState) -> dict[str, Any]:
        source_id, _ = execution.prepared_source[node_id]
        return {
            "queue_id": self.state.queue_id,
            "batch_id": self.state.batch_id,
            "session_id": self.state.session_id,
            "attempt": self.state.attempt,
            "node_id": node_id,
            "source_node_id": source_id,
            "node_type": execution.graph.nodes[source_id].node_type,
            "worker_id": self.worker_id,
        }

    def _started(self, node: BaseInvocation, execution: GraphExecutionState) -> Event:
        return ev.InvocationStarted(**self._node_fields(node.id, execution))

    def _completed(
        self,
        node: BaseInvocation,
        execution: GraphExecutionState,
        output: BaseInvocationOutput,
        stats: StatsContext | None,
        key: str | None,
        cached: bool = False,
    ) -> ev.InvocationCompleted:
        return ev.InvocationCompleted(
            **self._node_fields(node.id, execution),
            outputs=output.model_dump(mode="json"),
            measurement=_measurement(stats),
            cache_key=key,
            cached=cached,
        )

    def _failure(
        self,
        node_id: str,
        execution: GraphExecutionState,
        error: Exception,
        stats: StatsContext | None,
    ) -> list[Event]:
        return [
            ev.InvocationFailed(
                **self._node_fields(node_id, execution),
                error_type=type(error).__name__,
                error_message=bounds.storable_text(str(error)),
                measurement=_measurement(stats),
                error_traceback=bounds.storable_text(
                    "".join(traceback.format_exception(error)), 4 * bounds.MAX_TEXT_CHARS
                ),
            )
        ]

    def _fail_session(self, error: Exception, node_id: str) -> list[Event]:
        message = bounds.storable_text(str(error))
        return decide(Fail(type(error).__name__, message, node_id), self.state)

    async def _cancel(self, pending: Sequence[Event]) -> None:
        state, _ = await self.executor.service.session_state(
            self.state.queue_id, self.state.session_id
        )
        if state.status.value == "canceled":
            return  # canceled on its own stream: nothing more to write
        await self._append([*pending, *decide(Cancel(BATCH_CANCELED), self.state)])

    async def _append(self, events: Sequence[Event]) -> bool:
        """Append at the exact version; False when there was nothing to append."""
        if not events:
            return False
        expected: ExpectedVersion = self.version
        try:
            result = await self.store.append(
                session_stream(self.state.session_id), events, expected
            )
        except ConcurrencyError as exc:
            raise _Fenced(str(exc)) from exc
        self.version = result.version
        for event in events:
            self.state = evolve(self.state, event, result.last_position)
        return True


def _measurement(stats: StatsContext | None) -> NodeMeasurement:
    """What was measured around a node (nothing for a cache hit: it did not run)."""
    return NodeMeasurement() if stats is None else NodeMeasurement(**stats.as_measurement())


def _timed_invoke(
    node: BaseInvocation, context: NodeContext, stats: StatsContext
) -> BaseInvocationOutput:
    with stats:
        return node.invoke(context)
