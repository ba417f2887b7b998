"""The service: the composition root that owns the store and its projections (L2).

Commands append events and return the position of their last one; because the SQLite queue
projection is applied inside the append's transaction, a query made after a command returns
already sees its effect (read-your-writes). Limits are checked against the projection at the
command's read position, so two processes enqueueing at once may each pass the check and
overshoot the queue limit by one batch each; one writing process per SQLite file makes that
impossible there, and the PostgreSQL store will document its bound.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio

from eventsvc import events as ev
from eventsvc import tracing
from eventsvc.archive import ArchiveReport, ArchiveRequest, Schedule, archive, directory_for
from eventsvc.attempt import NodeLimits, session_state
from eventsvc.batches import Batch, enqueued, substitute, validate_batch
from eventsvc.cache import InvocationCache
from eventsvc.clock import Clock, SystemClock
from eventsvc.config import Settings, duration_seconds
from eventsvc.errors import (
    ArchivedError,
    BatchValidationError,
    ConcurrencyError,
    GraphValidationError,
    IllegalTransitionError,
    LimitExceededError,
    NotFoundError,
)
from eventsvc.executor import Collaborators, Executor
from eventsvc.graph import parse_graph
from eventsvc.ids import batch_stream, queue_stream, session_stream
from eventsvc.invocations.registry import InvocationRegistry
from eventsvc.isolation import ProcessPool
from eventsvc.leases import Leases
from eventsvc.progress import ProgressHub
from eventsvc.projections.builtin import ProjectedStore, open_projected
from eventsvc.projections.queue_view import QueueView
from eventsvc.projections.runner import checkpoints
from eventsvc.projections.stats import StatsView
from eventsvc.sessions import Cancel, Command, Retry, SessionState, decide
from eventsvc.stats import StatsSummary
from eventsvc.store import NO_STREAM, STREAM_EXISTS, ExpectedVersion, StoreOptions, archives
from eventsvc.views import BatchStatus, EnqueueResult, NodeFailure, SessionDetail, SessionView
from eventsvc.webhooks import (
    AllowList,
    DeliveryOptions,
    Dispatcher,
    WebhookRegistry,
    Webhooks,
    exponential_backoff,
)

TERMINAL_STATES = frozenset({"completed", "failed", "canceled"})


@dataclass(frozen=True, slots=True)
class CacheReport:
    """The invocation cache as users see it: its state, and its hits and misses so far."""

    enabled: bool
    entries: int
    size: int
    max_entries: int
    max_bytes: int
    hits: int
    misses: int


class Service:
    """Commands and queries over one event store."""

    def __init__(
        self,
        store: ProjectedStore,
        settings: Settings,
        registry: InvocationRegistry,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.registry = registry
        self.queue = QueueView(store)
        self.stats = StatsView(store)
        self.leases = Leases(store)
        self.progress = ProgressHub()
        tracing.enabled = settings.tracing
        self.executors: list[Executor] = []  # what health and /metrics count threads of
        # Started when a node first needs one, stopped when the service closes.
        self.pool = ProcessPool(settings.node_processes)
        self.limits = NodeLimits(
            settings.node_isolation, settings.node_timeout_seconds, settings.session_timeout_seconds
        )
        self.artifacts = store.artifact_store(settings.artifacts_dir)
        self.cache = InvocationCache(
            store,
            self.artifacts,
            max_entries=settings.cache_max_entries,
            max_bytes=settings.cache_max_bytes,
            clock=clock,
        )
        self.webhooks = _webhooks(store, settings, clock)
        self.clock = clock or SystemClock()

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        run_workers: bool = False,
    ) -> AsyncIterator[Service]:
        """The service on its store; with ``run_workers``, ``settings.workers`` workers run
        the queue ``settings.queue_id`` in the service's own task group until it closes."""
        settings = settings or Settings.from_env()
        registry = settings.registry()
        options = StoreOptions(
            max_event_bytes=settings.max_event_bytes, subscriber_buffer=settings.subscriber_buffer
        )
        async with open_projected(settings.store_url, options=options, clock=clock) as store:
            service = cls(store, settings, registry, clock)
            await service.leases.create()
            await service.cache.create()
            try:
                if not run_workers:
                    yield service
                    return
                failure: BaseException | None = None
                async with anyio.create_task_group() as tg:
                    executor = service.executor(
                        queue_id=settings.queue_id, workers=settings.workers
                    )
                    await tg.start(executor.run)
                    if service.webhooks.dispatcher is not None:
                        await tg.start(service.webhooks.dispatcher.run)
                    if (schedule := service.archive_schedule()) is not None:
                        await tg.start(schedule.run)
                    try:
                        yield service
                    except BaseException as exc:  # re-raised below, not wrapped in a group
                        failure = exc
                    tg.cancel_scope.cancel()
                if failure is not None:
                    raise failure
            finally:
                with anyio.CancelScope(shield=True):
                    await service.cache.flush()  # the recency of the last hits
                    await service.pool.aclose()

    def executor(
        self, *, queue_id: str = "default", workers: int = 1, threads: int = 4
    ) -> Executor:
        """Workers for ``queue_id`` over this service's store, cache and node types."""
        parts = Collaborators(
            store=self.store,
            queue=self.queue,
            leases=self.leases,
            cache=self.cache,
            registry=self.registry,
            artifacts=self.artifacts,
            progress=self.progress,
            lease_seconds=self.settings.lease_seconds,
            max_resumes=self.settings.max_resumes,
            limits=self.limits,
            pool=self.pool,
        )
        executor = Executor(parts, queue_id=queue_id, workers=workers, threads=threads)
        self.executors.append(executor)
        return executor

    @property
    def abandoned_threads(self) -> int:
        """Node bodies abandoned in their threads that still run, over this process."""
        return sum(executor.abandoned_threads for executor in self.executors)

    async def checkpoints(self) -> dict[str, int]:
        """How far each projection has folded the log."""
        return await checkpoints(self.store)

    async def cache_status(self) -> CacheReport:
        status = await self.cache.status()
        hits, misses = await self.stats.cache_counts()
        return CacheReport(
            status.enabled,
            status.entries,
            status.bytes,
            status.max_entries,
            status.max_bytes,
            hits,
            misses,
        )

    async def wait_for(self, position: int) -> int:
        """Return ``position`` once every projection has folded the log up to it.

        Every command ends here, so a query made after a command sees its effect in any
        process: on SQLite at once (projections fold inside the append's transaction), on
        PostgreSQL once the projections' runners have folded it.
        """
        await self.store.wait_for_projections(position)
        return position

    # --- batches ------------------------------------------------------------------------

    async def enqueue_batch(
        self, queue_id: str, batch: Batch, prepend: bool = False
    ) -> EnqueueResult:
        """Validate, check the limits, and append one ``batch.enqueued``; nothing else."""
        problems = validate_batch(batch, self.registry)
        if problems:
            raise BatchValidationError(problems)
        count = batch.session_count
        if count > self.settings.max_batch_sessions:
            raise LimitExceededError("max_batch_sessions", count, self.settings.max_batch_sessions)
        await self._check_queue_room(queue_id, count)
        priority = await self.queue.prepend_priority(queue_id) if prepend else 0
        event = enqueued(batch, queue_id, priority)
        span = tracing.start_span("enqueue", queue=queue_id, batch=batch.batch_id, sessions=count)
        try:
            with tracing.active(span):
                events = tracing.carried([event], tracing.traceparent(span))
                result = await self.store.append(batch_stream(batch.batch_id), events, NO_STREAM)
        except ConcurrencyError:
            raise IllegalTransitionError(batch.batch_id, "already enqueued", "enqueue") from None
        position = await self.wait_for(result.last_position)
        return EnqueueResult(queue_id, batch.batch_id, count, count, priority, count, position)

    async def _check_queue_room(self, queue_id: str, count: int) -> None:
        waiting = (await self.queue.queue_status(queue_id)).counts.uninitialized
        allowed = self.settings.max_queue_uninitialized
        if waiting + count > allowed:
            raise LimitExceededError(
                "max_queue_uninitialized",
                waiting + count,
                allowed,
                f"queue {queue_id!r} already holds {waiting} uninitialized sessions",
            )

    async def cancel_batches(self, queue_id: str, batch_ids: Sequence[str]) -> int:
        position = 0
        for batch_id in batch_ids:
            await self.batch_in(queue_id, batch_id)
            event = ev.BatchCanceled(queue_id=queue_id, batch_id=batch_id, reason="canceled")
            result = await self.store.append(batch_stream(batch_id), [event], STREAM_EXISTS)
            position = result.last_position
        return await self.wait_for(position)

    async def reprioritize_batch(self, queue_id: str, batch_id: str, priority: int) -> int:
        await self.batch_in(queue_id, batch_id)
        event = ev.BatchReprioritized(queue_id=queue_id, batch_id=batch_id, priority=priority)
        return await self.wait_for(
            (await self.store.append(batch_stream(batch_id), [event])).last_position
        )

    async def batch_in(self, queue_id: str, batch_id: str) -> BatchStatus:
        """The batch's status, if it is in ``queue_id``; NotFoundError if not, and
        ArchivedError if an archive moved it out of the live log."""
        try:
            status = await self.queue.batch_status(batch_id)
        except NotFoundError:
            await self._archived(batch_id, f"batch {batch_id!r}")
            raise
        if status.queue_id != queue_id:
            raise NotFoundError(f"no batch {batch_id!r} in queue {queue_id!r}")
        return status

    async def session_in(self, queue_id: str, session_id: str) -> SessionView:
        """The session, if it is in ``queue_id``; NotFoundError if not, and ArchivedError
        if an archive moved it out of the live log."""
        view = await self._session(session_id)
        if view.queue_id != queue_id:
            raise NotFoundError(f"no session {session_id!r} in queue {queue_id!r}")
        return view

    async def _session(self, session_id: str) -> SessionView:
        try:
            return await self.queue.get_session(session_id)
        except NotFoundError:
            if batch_id := session_id.rpartition(".")[0]:
                await self._archived(batch_id, f"session {session_id!r}")
            raise

    async def session_stats(self, session_id: str) -> StatsSummary:
        """The session's stats; ArchivedError, not an empty summary, if an archive moved
        its runs out of the live log."""
        summary = await self.stats.session(session_id)
        if not summary.node_types and (batch_id := session_id.rpartition(".")[0]):
            await self._archived(batch_id, f"session {session_id!r}")
        return summary

    async def batch_stats(self, batch_id: str) -> StatsSummary:
        """The batch's stats; ArchivedError, not an empty summary, if an archive moved its
        runs out of the live log."""
        summary = await self.stats.batch(batch_id)
        if not summary.node_types:
            await self._archived(batch_id, f"batch {batch_id!r}")
        return summary

    async def _archived(self, batch_id: str, what: str) -> None:
        """Raise ArchivedError if batch ``batch_id`` (``what`` asked for) is archived."""
        file = await archives.batch_archive(self.store, batch_id)
        if file is None:
            return
        found = await archives.markers(self.store)
        raise ArchivedError(
            f"{what} is archived in {file} (the live log starts at position "
            f"{archives.first_live(found)}); 'eventsvc archive restore {file}' brings it back "
            "for inspection",
            archives.first_live(found),
            [file],
        )

    # --- archives -----------------------------------------------------------------------

    async def archive(self, request: ArchiveRequest) -> ArchiveReport:
        """Archive what ``request`` asks (``eventsvc.archive``): one at a time per store."""
        directory = directory_for(self.settings.archive_dir, self.store.url)
        return await archive(
            self.store,
            request,
            directory,
            clock=self.clock,
            artifacts=self.artifacts,  # type: ignore[arg-type]
            move_artifacts=self.settings.archive_artifacts,
        )

    def archive_schedule(self) -> Schedule | None:
        """The archives ``archive_older_than`` and ``archive_every`` ask for, if set."""
        older, every = self.settings.archive_older_than, self.settings.archive_every
        if older is None or every is None:
            return None
        seconds, period = duration_seconds(older), duration_seconds(every)
        # The settings checked both.
        assert seconds is not None
        assert period is not None
        return Schedule(self.archive, seconds, period)

    # --- sessions -----------------------------------------------------------------------

    async def cancel_session(
        self, session_id: str, reason: str = "canceled", *, queue_id: str | None = None
    ) -> int:
        """Cancel the session (NotFoundError if it is not in ``queue_id``, when given)."""
        command = Cancel(reason)
        return await self.wait_for(await self._session_command(session_id, command, queue_id))

    async def retry_sessions(self, session_ids: Sequence[str]) -> int:
        position = 0
        for session_id in session_ids:
            position = await self._session_command(session_id, Retry())
        return await self.wait_for(position)

    async def _session_command(
        self, session_id: str, command: Command, queue_id: str | None = None
    ) -> int:
        if queue_id is None:
            view = await self._session(session_id)
        else:
            view = await self.session_in(queue_id, session_id)
        state, version = await self.session_state(view.queue_id, session_id)
        if state.status.value != view.state and view.state in TERMINAL_STATES:
            # A virtual session of a canceled batch has no event of its own yet.
            raise IllegalTransitionError(session_id, view.state, type(command).__name__)
        events = decide(command, state)
        result = await self.store.append(session_stream(session_id), events, version)
        return result.last_position

    async def session_state(
        self, queue_id: str, session_id: str
    ) -> tuple[SessionState, ExpectedVersion]:
        """The session's state folded from its own stream, and the version to append at."""
        return await session_state(self.store, queue_id, session_id)

    async def session_detail(self, queue_id: str, session_id: str) -> SessionDetail:
        """The session, the graph it runs, and the outputs and errors of its current attempt."""
        view = await self.session_in(queue_id, session_id)
        recorded = await self.store.read_stream(session_stream(session_id))
        starts = [i for i, r in enumerate(recorded) if isinstance(r.data, ev.SessionStarted)]
        detail = SessionDetail(session=view, graph=await self._session_graph(view))
        for record in recorded[starts[-1] if starts else len(recorded) :]:
            match record.data:
                case ev.InvocationCompleted(node_id=node_id, outputs=outputs):
                    detail.results[node_id] = outputs
                case ev.InvocationFailed() as failed:
                    detail.errors[failed.node_id] = NodeFailure(
                        error_type=failed.error_type,
                        message=failed.error_message,
                        traceback=failed.error_traceback,
                    )
        return detail

    async def _session_graph(self, view: SessionView) -> dict[str, Any] | None:
        [first] = await self.store.read_stream(batch_stream(view.batch_id), 0, 1)
        assert isinstance(first.data, ev.BatchEnqueued)
        graph = substitute(first.data.graph, view.field_values)
        try:
            return parse_graph(graph, self.registry).model_dump(mode="json")
        except GraphValidationError:
            return None

    # --- queues -------------------------------------------------------------------------

    async def pause_queue(self, queue_id: str) -> int:
        return await self._queue_event(ev.QueuePaused(queue_id=queue_id))

    async def resume_queue(self, queue_id: str) -> int:
        return await self._queue_event(ev.QueueResumed(queue_id=queue_id))

    async def prune_queue(self, queue_id: str) -> int:
        return await self._queue_event(ev.QueuePruned(queue_id=queue_id))

    async def _queue_event(self, event: ev.QueuePaused | ev.QueueResumed | ev.QueuePruned) -> int:
        result = await self.store.append(queue_stream(event.queue_id), [event])
        return await self.wait_for(result.last_position)


def _webhooks(store: ProjectedStore, settings: Settings, clock: Clock | None) -> Webhooks:
    """The webhook commands, and the dispatcher that delivers them when workers run."""
    registry = WebhookRegistry(store, settings.webhook_lease_seconds)
    allow = AllowList(settings.webhooks_allow)
    options = DeliveryOptions(
        allow=allow,
        max_failures=settings.webhook_max_failures,
        timeout=settings.webhook_timeout,
        backoff=exponential_backoff(settings.webhook_retry_seconds),
    )
    return Webhooks(store, registry, allow, Dispatcher(store, registry, options, clock=clock))
