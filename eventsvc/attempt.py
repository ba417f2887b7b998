"""One attempt of one session: its graph built and parsed, its nodes run one after another,
each node's events appended at the session stream's exact version (DESIGN section 4).

Blocking node bodies run in worker threads under a capacity limiter, async bodies are awaited.
Each node's ``invocation.completed`` is appended together with the next node's
``invocation.started``, at the exact expected version, so a writer that is no longer the
session's owner is fenced off (``Fenced``) and abandons the session. A node whose type declares
itself inline (pure, returning at once) does not wait for its start to commit: its events go to
the attempt's own appending task (``append_ahead``), several nodes to a commit, in the order
append-then-invoke would write them; any other node's start is durable before it runs (one
commit per node). A cancel (of the session or its batch) stops the attempt before its next node
and tells a polling node through ``context.is_canceled()``; a node thread cannot be killed: it
is abandoned, keeping its limiter slot until it returns.

Where a body runs is its type's ``isolation`` or the service's default: a thread, or a worker
process of ``eventsvc.isolation`` (killed and replaced on a cancel). How long it may run is
its type's ``timeout_seconds``, the service's default, or what is left of the session's
maximum runtime, whichever is shortest; past it the node fails its session with
``invocation.failed`` of type ``timeout``: an async body is canceled, a process killed, and a
thread abandoned (its later result is discarded, never appended; the worker moves on, and
health and ``/metrics`` count the thread until it returns).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import math
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel

from eventsvc import bounds, instruments, tracing
from eventsvc import events as ev
from eventsvc.append_ahead import AppendAhead
from eventsvc.batches import data_of, session_values, substitute
from eventsvc.cache import InvocationCache
from eventsvc.clock import SystemClock
from eventsvc.errors import (
    ConcurrencyError,
    GraphValidationError,
    InvalidValueError,
    MissingInputError,
    NodeInputError,
    NodeTimeoutError,
)
from eventsvc.events import Event, NodeMeasurement, RecordedEvent
from eventsvc.execution import GraphExecutionState
from eventsvc.graph import parse_graph
from eventsvc.ids import batch_stream, parse_session_id, session_stream
from eventsvc.invocations.base import BaseInvocation, BaseInvocationOutput, Isolation
from eventsvc.invocations.cache_key import cache_key
from eventsvc.invocations.context import ArtifactStore
from eventsvc.invocations.registry import InvocationRegistry
from eventsvc.isolation import Ids, ProcessPool
from eventsvc.progress import Progress
from eventsvc.sampling import Sampler, StatsContext
from eventsvc.sessions import (
    BATCH_CANCELED,
    ApplyBatchCancel,
    Cancel,
    Complete,
    Fail,
    RejectGraph,
    SessionState,
    decide,
    evolve,
    fold,
)
from eventsvc.store import NO_STREAM, EventStore, ExpectedVersion

log = logging.getLogger("eventsvc.executor")
FINISHED = frozenset({"completed", "failed", "canceled"})


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
class Running:
    """A session a worker is running, and the flag that stops it."""

    batch_id: str
    canceled: anyio.Event = field(default_factory=anyio.Event)


class Fenced(Exception):
    """Another writer appended to the session: this worker no longer owns it."""


class Abandoned(Exception):
    """The session was canceled while its node ran in a thread, which was left to finish."""


async def _cancel_when_set(flag: anyio.Event, scope: anyio.CancelScope) -> None:
    await flag.wait()
    scope.cancel()


class _Slot:
    """A limiter slot held for one node thread, given back by whoever sees the thread end.

    Normally the event loop gives it back when the thread's result arrives; a thread that
    was abandoned hands it back to the loop itself when it finally returns, so the slot stays
    taken for exactly as long as the thread runs. It hands it over from a daemon thread of
    its own, without waiting: a loop that has stopped (the process is shutting down) runs
    nothing more, and a worker thread waiting on it would hold the interpreter's exit up for
    ever (anyio offers no hand-off to a loop that does not wait for its result).
    """

    def __init__(self, limiter: anyio.CapacityLimiter, bench: Workbench) -> None:
        self._limiter = limiter
        self._bench = bench
        self._lock = threading.Lock()
        self._abandoned = self._done = False
        self._token: anyio.lowlevel.EventLoopToken | None = None

    async def take(self) -> None:
        await self._limiter.acquire_on_behalf_of(self)

    def give_back(self) -> None:
        self._limiter.release_on_behalf_of(self)

    def abandon(self) -> None:
        self._token = anyio.lowlevel.current_token()  # the loop the thread hands the slot to
        with self._lock:
            self._abandoned = True
            done = self._done
        if done:  # the thread ended just as it was abandoned
            self.give_back()
        else:
            self._bench.abandoned_threads += 1

    def _abandoned_done(self) -> None:
        self._bench.abandoned_threads -= 1
        self.give_back()

    def thread_done(self) -> None:
        with self._lock:
            self._done = True
            abandoned = self._abandoned
        if abandoned:
            threading.Thread(target=self._hand_back, name="eventsvc slot", daemon=True).start()

    def _hand_back(self) -> None:
        # RuntimeError: the event loop is closed (the process is shutting down).
        with contextlib.suppress(RuntimeError):
            anyio.from_thread.run_sync(self._abandoned_done, token=self._token)


async def session_state(
    store: EventStore, queue_id: str, session_id: str
) -> tuple[SessionState, ExpectedVersion]:
    """A session's state folded from its own stream, and the version to append at."""
    recorded = await store.read_stream(session_stream(session_id))
    state = fold(SessionState.new(queue_id, session_id), [(r.data, r.position) for r in recorded])
    return state, recorded[-1].version if recorded else NO_STREAM


@dataclass(frozen=True, slots=True)
class NodeLimits:
    """Where node bodies run and how long they may, unless a node type says otherwise."""

    isolation: Isolation = Isolation.THREAD
    node_timeout: float | None = None
    session_timeout: float | None = None


@dataclass
class Workbench:
    """What every attempt of one executor works with."""

    store: EventStore
    registry: InvocationRegistry
    cache: InvocationCache
    artifacts: ArtifactStore
    limiter: anyio.CapacityLimiter
    report: Callable[[Progress], None]
    limits: NodeLimits = field(default_factory=NodeLimits)
    pool: ProcessPool | None = None  # for nodes isolated in worker processes
    # Nodes abandoned in their threads (session canceled, or shutdown): id -> session.
    abandoned: dict[str, str] = field(default_factory=dict)
    # How many of them still run (their threads hold limiter slots until they return).
    abandoned_threads: int = 0
    # The enqueue records of the batches recently run (a few: they hold all the data).
    enqueued: dict[str, RecordedEvent] = field(default_factory=dict)

    def remember(self, enqueued: RecordedEvent, keep: int = 16) -> RecordedEvent:
        if len(self.enqueued) >= keep:
            del self.enqueued[next(iter(self.enqueued))]
        assert isinstance(enqueued.data, ev.BatchEnqueued)
        self.enqueued[enqueued.data.batch_id] = enqueued
        return enqueued


class Attempt:
    """One attempt of one session, from just after its claim to its last event."""

    def __init__(
        self,
        bench: Workbench,
        worker_id: str,
        state: SessionState,
        version: int,
        running: Running,
    ) -> None:
        self.bench = bench
        self.worker_id = worker_id
        self.state = state
        self.version = version
        self.running = running
        self.store = bench.store
        self._stream = session_stream(state.session_id)
        self.traceparent: str | None = None  # of the attempt's span, carried by its events

    async def run(self, resumed: bool = False) -> None:
        started = time.perf_counter()
        # A resumed attempt's runtime counts from its resume: its earlier part ran elsewhere.
        self.deadline = started + (self.bench.limits.session_timeout or math.inf)
        try:
            await self._run(resumed)
        finally:
            if self.state.status.value in FINISHED:
                instruments.SESSION_DURATION.labels(
                    self.state.queue_id, self.state.status.value
                ).observe(time.perf_counter() - started)

    async def _run(self, resumed: bool) -> None:
        record, later = await self._batch_events()
        if resumed:  # the trace the interrupted attempt wrote its events under
            parent = tracing.found_in(await self.store.read_stream(self._stream))
        else:
            parent = tracing.found_in([record])
            waited = (SystemClock().now_us() - record.recorded_at) / 1e6
            instruments.QUEUE_WAIT.labels(self.state.queue_id).observe(max(0.0, waited))
        span = tracing.start_span(
            "session", parent, queue=self.state.queue_id, batch=self.state.batch_id,
            session=self.state.session_id, attempt=self.state.attempt, resumed=resumed,
        )  # fmt: skip
        with tracing.active(span):
            self.traceparent = tracing.traceparent(span)
            await self._run_traced(record, later, resumed)
            span.set_attribute("status", self.state.status.value)

    async def _run_traced(
        self, record: RecordedEvent, later: list[RecordedEvent], resumed: bool
    ) -> None:
        assert isinstance(record.data, ev.BatchEnqueued)
        enqueued = record.data
        canceled_at = max((r.position for r in later if r.tag == "batch.canceled"), default=0)
        if canceled_at and await self._append(decide(ApplyBatchCancel(canceled_at), self.state)):
            return
        try:
            graph = parse_graph(self._session_graph(enqueued), self.bench.registry)
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
        registry = self.bench.registry
        completions = []
        for record in recorded[attempt_start:]:
            if isinstance(record.data, ev.InvocationCompleted):
                output_type = registry.get_output(record.data.outputs["type"])
                assert output_type is not None, record.data.outputs["type"]
                completions.append(
                    (record.data.node_id, output_type.model_validate(record.data.outputs))
                )
        return completions

    async def _batch_events(self) -> tuple[RecordedEvent, list[RecordedEvent]]:
        """The batch's enqueue (decoded once per batch: it holds all the data) and every
        event after it, re-read after each claim so a cancel is never missed."""
        stream = batch_stream(self.state.batch_id)
        enqueued = self.bench.enqueued.get(self.state.batch_id)
        if enqueued is None:
            [first] = await self.store.read_stream(stream, 0, 1)
            enqueued = self.bench.remember(first)
        return enqueued, await self.store.read_stream(stream, from_version=1)

    def _session_graph(self, enqueued: ev.BatchEnqueued) -> dict[str, Any]:
        _, index = parse_session_id(self.state.session_id)
        values = session_values(data_of(enqueued), enqueued.session_count, index)
        return substitute(enqueued.graph, values)

    async def _run_nodes(self, execution: GraphExecutionState) -> None:
        failed: Exception | None = None
        async with anyio.create_task_group() as tasks:
            ahead = AppendAhead(tasks, self._append)
            try:
                await self._run_nodes_ahead(execution, ahead)
            except Exception as exc:  # raised as it is, not in the task group's ExceptionGroup
                failed = exc
            finally:
                ahead.close()
        if failed is not None:
            raise failed

    async def _run_nodes_ahead(self, execution: GraphExecutionState, ahead: AppendAhead) -> None:
        pending: list[Event] = []
        while True:
            if self.running.canceled.is_set():
                await ahead.settle()
                await self._cancel(pending)
                return
            try:
                node = execution.next()
            except (MissingInputError, NodeInputError) as exc:
                node_id = exc.node_id
                pending += self._failure(node_id, execution, exc, None)
                await ahead.append(pending + self._fail_session(exc, node_id))
                return
            if node is None:
                break
            pending.append(self._started(node, execution))
            key, hit = await self._cached(node)
            if hit is not None:  # invoke() is not called: the cached outputs are the result
                execution.complete(node.id, hit)
                pending.append(self._completed(node, execution, hit, None, key, cached=True))
                continue
            if _pure_inline(node):  # runs while its start commits (``append_ahead``)
                await ahead.submit(pending)
            else:
                await ahead.append(pending)
            output, error, stats = await self._invoke(node)
            if isinstance(error, Abandoned):
                await ahead.settle()
                await self._cancel([])
                return
            if error is not None:
                pending = self._failure(node.id, execution, error, stats)
                await ahead.settle()
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
                await ahead.append(pending + self._fail_session(error, node.id))
                return
            execution.complete(node.id, output)
            if key is not None:
                # Cached once its start is durable, appended with the next node: the entry is
                # the newest, so it names its artifacts until the event does (an entry too big
                # to keep is not put).
                cache = self.bench.cache
                await ahead.when_durable(
                    functools.partial(cache.put, key, node.node_type, completed.outputs)
                )
            pending = [completed]
        await ahead.append(pending + decide(Complete(), self.state))

    async def _cached(self, node: BaseInvocation) -> tuple[str | None, BaseInvocationOutput | None]:
        """The node's cache key if the cache was asked (cacheable node, cache on), and the
        cached output on a hit."""
        key = cache_key(node)
        if key is None:
            return None, None
        enabled, outputs = await self.bench.cache.lookup(key)
        if not enabled:
            return None, None
        instruments.labeled(instruments.CACHE_REQUESTS, "miss" if outputs is None else "hit").inc()
        if outputs is None:
            return key, None
        output_type = self.bench.registry.get_output(outputs.get("type", ""))
        if output_type is None:  # an output type no longer known: run the node instead
            await self.bench.cache.discard(key)
            return key, None
        return key, output_type.model_validate(outputs)

    async def _invoke(
        self, node: BaseInvocation
    ) -> tuple[BaseInvocationOutput | None, Exception | None, Sampler | None]:
        """The node's output or the exception it raised, with its measurements; past its
        time limit (its own, or what is left of the session's) a ``NodeTimeoutError``."""
        span = tracing.start_child(f"node {node.node_type}", node=node.id, node_type=node.node_type)
        with tracing.active(span):
            output, error, stats = await self._invoke_limited(node)
            if error is not None:
                tracing.failed(span, error)
            return output, error, stats

    async def _invoke_limited(
        self, node: BaseInvocation
    ) -> tuple[BaseInvocationOutput | None, Exception | None, Sampler | None]:
        limit, what = self._limit(node)
        context = NodeContext(
            self.state.queue_id,
            self.state.batch_id,
            self.state.session_id,
            node.id,
            logging.getLogger(f"eventsvc.node.{node.node_type}"),
            self.bench.artifacts,
            self.running.canceled,
            self.bench.report,
        )
        stats: Sampler | None = StatsContext()
        output: BaseInvocationOutput | None = None
        error: Exception | None = None
        with anyio.move_on_after(limit) as scope:
            try:
                output, stats = await self._body(node, context, stats)
            except Exception as exc:  # a failing node is data, not a crash of the worker
                error = exc
                stats = getattr(exc, "measured", stats)  # read in the node's own process
        stats = _readings(stats)
        if scope.cancelled_caught:
            instruments.NODE_TIMEOUTS.labels(node.node_type).inc()
            wording, seconds = what
            error = NodeTimeoutError(
                f"node {node.id!r} ({node.node_type}) ran past {wording} of {seconds:g} s"
            )
            _observe(node, stats, "timeout")
            return None, error, stats
        _observe(node, stats, "completed" if error is None else "failed")
        return output, error, stats

    def _limit(self, node: BaseInvocation) -> tuple[float, tuple[str, float]]:
        """How long the node may run now, and which limit that is (its wording and value)."""
        limits = self.bench.limits
        own = type(node).meta.timeout_seconds or limits.node_timeout or math.inf
        if limits.session_timeout is None:
            return own, ("its time limit", own)
        left = max(0.0, self.deadline - time.perf_counter())
        if left < own:
            return left, ("the session's time limit", limits.session_timeout)
        return own, ("its time limit", own)

    async def _body(
        self, node: BaseInvocation, context: NodeContext, stats: Sampler | None
    ) -> tuple[BaseInvocationOutput, Sampler | None]:
        """Run the body where it belongs: awaited, in a thread, or in a worker process."""
        assert isinstance(stats, StatsContext)
        if inspect.iscoroutinefunction(node.invoke):
            with stats:
                return await node.invoke(context), stats
        isolation = type(node).meta.isolation or self.bench.limits.isolation
        if isolation is Isolation.INLINE:
            with stats:
                return node.invoke(context), stats
        if isolation is Isolation.PROCESS and self.bench.pool is not None:
            return await self._in_process(node)
        return await self._in_thread(node, context, stats), stats

    async def _in_process(self, node: BaseInvocation) -> tuple[BaseInvocationOutput, Sampler]:
        """Run a node in a worker process; a cancel kills the process (``Abandoned``)."""
        assert self.bench.pool is not None
        ids = Ids(self.state.queue_id, self.state.batch_id, self.state.session_id, node.id)

        def report(fraction: float, message: str) -> None:
            self.bench.report(Progress(*ids.as_tuple(), fraction, message))

        answer: tuple[str | None, Exception | None, Sampler] | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(_cancel_when_set, self.running.canceled, tg.cancel_scope)
            answer = await self.bench.pool.run(node, ids, self.bench.artifacts, report)
            tg.cancel_scope.cancel()
        if answer is None:
            raise Abandoned(f"node {node.id} killed in its process: its session was canceled")
        outputs, error, measured = answer
        if error is not None:
            error.measured = measured  # type: ignore[attr-defined]
            raise error
        assert outputs is not None
        output_type = self.bench.registry.get_output(node.meta.output.output_type)
        assert output_type is not None
        return output_type.model_validate_json(outputs), measured

    async def _in_thread(
        self, node: BaseInvocation, context: NodeContext, stats: StatsContext
    ) -> BaseInvocationOutput:
        """Run a blocking node in a worker thread; abandon it if its session is canceled.

        A thread cannot be killed: an abandoned node keeps its limiter slot until its thread
        returns, and is recorded so shutdown can say so instead of hanging.
        """
        slot = _Slot(self.bench.limiter, self.bench)
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
            raise Abandoned(f"node {node.id} abandoned: its session was canceled")
        slot.give_back()
        if error is not None:
            raise error
        assert output is not None
        return output

    def _abandon(self, node: BaseInvocation) -> None:
        self.bench.abandoned[node.id] = self.state.session_id
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
        stats: Sampler | None,
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
        stats: Sampler | None,
    ) -> list[Event]:
        return [
            ev.InvocationFailed(
                **self._node_fields(node_id, execution),
                error_type=_error_type(error),
                error_message=bounds.storable_text(str(error)),
                measurement=_measurement(stats),
                error_traceback=bounds.storable_text(
                    "".join(traceback.format_exception(error)), 4 * bounds.MAX_TEXT_CHARS
                ),
            )
        ]

    def _fail_session(self, error: Exception, node_id: str) -> list[Event]:
        message = bounds.storable_text(str(error))
        return decide(Fail(_error_type(error), message, node_id), self.state)

    async def _cancel(self, pending: Sequence[Event]) -> None:
        state, _ = await session_state(self.store, self.state.queue_id, self.state.session_id)
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
                self._stream, tracing.carried(events, self.traceparent), expected
            )
        except ConcurrencyError as exc:
            raise Fenced(str(exc)) from exc
        self.version = result.version
        for event in events:
            self.state = evolve(self.state, event, result.last_position)
        return True


def _pure_inline(node: BaseInvocation) -> bool:
    """Whether the node's own type declares a synchronous inline body: pure and returning at
    once, so it may run before its start is durable (an async body may do I/O: it waits)."""
    inline = type(node).meta.isolation is Isolation.INLINE
    return inline and not inspect.iscoroutinefunction(node.invoke)


def _measurement(stats: Sampler | None) -> NodeMeasurement:
    """What was measured around a node (nothing for a cache hit: it did not run)."""
    return NodeMeasurement() if stats is None else NodeMeasurement(**stats.as_measurement())


def _timed_invoke(
    node: BaseInvocation, context: NodeContext, stats: StatsContext
) -> BaseInvocationOutput:
    with stats:
        return node.invoke(context)


def _error_type(error: Exception) -> str:
    """What a failure is called in the log: a timeout by its code, others by their class."""
    return NodeTimeoutError.code if isinstance(error, NodeTimeoutError) else type(error).__name__


def _readings(stats: Sampler | None) -> Sampler | None:
    """The readings, or None where nothing was measured (the node never started)."""
    return stats if stats is not None and hasattr(stats, "started_at") else None


def _observe(node: BaseInvocation, stats: Sampler | None, status: str) -> None:
    """A node's duration and VRAM peak, by its type (nothing for a node abandoned unmeasured)."""
    if stats is None:
        return
    if stats.wall_seconds is not None:
        duration = instruments.labeled(instruments.NODE_DURATION, node.node_type, status)
        duration.observe(stats.wall_seconds)
    if stats.vram_peak is not None:
        instruments.labeled(instruments.NODE_VRAM_PEAK, node.node_type).observe(stats.vram_peak)
