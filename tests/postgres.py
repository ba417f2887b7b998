"""Helpers for tests that run on PostgreSQL outside ``tests/store``: a fresh schema of the test
database per test, stores opened with short leases, the projections compared with a fresh fold,
and waiting for a service's sessions to end (synchronized on events and checkpoints).

A fresh schema comes from ``tests.backends.fresh_schema()``, the store suite's own
``postgres`` backend: it skips without ``EVENTSVC_TEST_POSTGRES_DSN`` and fails when ``CI``
is set. A test module takes it as a fixture with::

    @pytest.fixture
    def schema() -> Iterator[PostgresBackend]:
        with fresh_schema() as fresh:
            yield fresh
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager

import anyio

from eventsvc.events import RecordedEvent
from eventsvc.projections import Projection
from eventsvc.projections.builtin import PROJECTION_NAMES, ProjectedStore, builtin_projections
from eventsvc.projections.runner import checkpoints
from eventsvc.projections.scratch import ScratchProjections
from eventsvc.service import Service
from eventsvc.store import EventFilter, EventStore, StoreOptions
from eventsvc.store.postgres import PostgresEventStore
from tests.backends import PostgresBackend

# Short leases and polls, so failover and fallbacks happen within a test's patience; a lease
# long enough that a busy test machine never loses one by accident where none may change hands.
FAST = StoreOptions(sealer_lease=1.0, poll_interval=0.02, seal_timeout=10)
STEADY = StoreOptions(sealer_lease=5.0, poll_interval=0.02, seal_timeout=10)
ENDED = frozenset({"session.completed", "session.failed", "session.canceled"})


@asynccontextmanager
async def projected_store(
    backend: PostgresBackend,
    options: StoreOptions = FAST,
    projections: Sequence[Projection] | None = None,
) -> AsyncIterator[PostgresEventStore]:
    """A writing store (one "process") on ``backend``'s schema, registering ``projections``
    (the built-in ones by default)."""
    async with PostgresEventStore.connect(
        backend.url, options=options, clock=backend.clock
    ) as store:
        for projection in builtin_projections() if projections is None else projections:
            await store.register(projection)
        yield store


async def everything(store: EventStore) -> list[RecordedEvent]:
    records: list[RecordedEvent] = []
    while page := await store.read_all(after=records[-1].position if records else 0, limit=5000):
        records.extend(page)
    return records


async def fold_differences(store: ProjectedStore) -> dict[str, tuple[int, int]]:
    """Every built-in projection table whose rows differ from a fresh fold of the log, with
    how many rows each side holds; {} when they are equal. The tables are read in one
    snapshot, where every checkpoint must be at the head (wait for the projections first)."""
    scratch = ScratchProjections()
    try:
        async with store.snapshot() as snapshot:
            [(head,)] = await snapshot.query("SELECT coalesce(max(position), 0) FROM events")
            folded = await checkpoints(snapshot)
            at = {name: folded.get(name) for name in PROJECTION_NAMES}
            assert at == dict.fromkeys(PROJECTION_NAMES, head), (at, head)
            records = [r for r in await everything(store) if r.position <= head]
            await anyio.to_thread.run_sync(scratch.fold, records)
            differences = {}
            for projection in scratch.projections:
                for table in projection.tables:
                    info = scratch.query(f"PRAGMA table_info({table})")
                    select = f"SELECT {', '.join(row[1] for row in info)} FROM {table}"
                    live = sorted(await snapshot.query(select), key=repr)
                    fresh = sorted(scratch.query(select), key=repr)
                    if live != fresh:
                        differences[table] = (len(live), len(fresh))
            return differences
    finally:
        scratch.close()


async def lease_holders(backend: PostgresBackend) -> dict[str, tuple[int, str]]:
    """Each lease (``sealer``, ``projection:<name>``) as (epoch, holder)."""
    rows = await backend.fetch("SELECT name, epoch, holder FROM leases")
    return {name: (epoch, holder) for name, epoch, holder in rows}


async def settle(
    service: Service, batch_ids: Sequence[str], queue_id: str = "default", workers: int = 0
) -> None:
    """Wait until every session of the batches has ended, with ``workers`` more workers of an
    executor of its own beside the service's. Like ``tests.test_executor.settle``, but each
    ending is waited for in the projections before the counts are read: on PostgreSQL a
    subscriber may see an event before the projections' runner has folded it. At the end
    every projection has folded the log that far (the queue may show an ending the others
    have not folded yet: each runner folds at its own pace)."""
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            after = await service.store.head()
            ended = EventFilter(tags=ENDED)
            async with service.store.subscribe(after=after, filter=ended) as subscription:
                if workers:
                    executor = service.executor(queue_id=queue_id, workers=workers)
                    await tg.start(executor.run)
                events = aiter(subscription)
                await service.wait_for(after)
                while not await settled(service, batch_ids):
                    await service.wait_for((await anext(events)).position)
            tg.cancel_scope.cancel()
    await service.wait_for(await service.store.head())


async def settled(service: Service, batch_ids: Sequence[str]) -> bool:
    for batch_id in batch_ids:
        counts = (await service.queue.batch_status(batch_id)).counts
        if counts.uninitialized or counts.in_progress:
            return False
    return True


class Watch(logging.Handler):
    """Counts the messages a logger emits that contain ``text``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if self.text in message:
            self.messages.append(message)


@contextmanager
def watching(logger: str, text: str) -> Iterator[Watch]:
    watch = Watch(text)
    target = logging.getLogger(logger)
    level = target.level
    target.setLevel(logging.INFO)  # the runners say at INFO when they start
    target.addHandler(watch)
    try:
        yield watch
    finally:
        target.removeHandler(watch)
        target.setLevel(level)
