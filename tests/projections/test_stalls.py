"""A projection that cannot fold an event never wedges the store, on every backend.

The log holds the event; the projection stays at the position before it, readable; a command
waiting for it is told why at once, naming the position; the stall is listed for ``/health``.
On SQLite an append whose own events cannot be folded is refused instead, alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import asyncpg
import pytest

from eventsvc.errors import ProjectionStalledError, StoreError
from eventsvc.events import QueuePaused, RecordedEvent
from eventsvc.projections import ProjectionTransaction
from eventsvc.projections.builtin import ProjectedStore, projected
from eventsvc.store import EventStore, StoreOptions
from eventsvc.store.postgres import PostgresEventStore
from tests.backends import Backend

pytestmark = pytest.mark.anyio

# Short leases, so a PostgreSQL runner retries a stalled page within a test's patience.
QUICK = StoreOptions(sealer_lease=0.6, poll_interval=0.02, seal_timeout=10)


class Poison:
    """Records each paused queue; cannot fold a pause of queue 'poison' while broken."""

    name = "poison"
    schema = "CREATE TABLE IF NOT EXISTS poison_seen (position INTEGER PRIMARY KEY, queue TEXT)"
    tables = ("poison_seen",)
    reads_own_tables = False
    tags = frozenset({"queue.paused"})

    def __init__(self) -> None:
        self.broken = True

    def apply(self, tx: ProjectionTransaction, events: Sequence[RecordedEvent]) -> None:
        for record in events:
            assert isinstance(record.data, QueuePaused)
            if self.broken and record.data.queue_id == "poison":
                raise ValueError("this event cannot be folded")
            tx.execute(
                "INSERT INTO poison_seen (position, queue) VALUES (?, ?)",
                (record.position, record.data.queue_id),
            )


def paused(queue: str) -> QueuePaused:
    return QueuePaused(queue_id=queue)


async def stalled(store: ProjectedStore, position: int) -> ProjectionStalledError:
    """What waiting for ``position`` raises (at once on SQLite, once the runner has seen the
    event on PostgreSQL)."""
    with anyio.fail_after(10), pytest.raises(ProjectionStalledError) as caught:
        await store.wait_for_projections(position)
    return caught.value


async def seen(store: ProjectedStore) -> list[str]:
    return [queue for (queue,) in await store.query("SELECT queue FROM poison_seen ORDER BY 1")]


async def test_a_stalled_projection_names_its_event_and_keeps_answering(backend: Backend) -> None:
    async with backend.open(options=QUICK) as opened:
        store = projected(opened)
        await store.append("queue-a", [paused("a")])
        await store.append("queue-poison", [paused("poison")])
        await store.append("queue-b", [paused("b")])
        await store.register(Poison())

        error = await stalled(store, 3)
        assert (error.projection, error.position) == ("poison", 2)
        assert "'queue.paused'" in error.reason
        assert "cannot be folded" in error.reason
        assert "stalled at position 2" in str(error)
        await store.wait_for_projections(1)  # positions before the event are folded
        assert await seen(store) == ["a"]
        assert [(s.name, s.position) for s in await store.stalls()] == [("poison", 2)]
        assert await store.head() == 3  # the log holds every event


@pytest.mark.backends("sqlite", reason="SQLite folds inside the append's own transaction")
async def test_an_append_that_cannot_be_folded_is_refused_alone(store: EventStore) -> None:
    store = projected(store)
    await store.register(Poison())
    results: dict[str, object] = {}

    async def append(queue: str) -> None:
        try:
            results[queue] = (await store.append(f"queue-{queue}", [paused(queue)])).last_position
        except StoreError as exc:
            results[queue] = exc

    # Started together, so they share one group commit with whichever leads it.
    async with anyio.create_task_group() as tg:
        for queue in ("a", "poison", "b", "c"):
            tg.start_soon(append, queue)
    refused = results.pop("poison")
    assert isinstance(refused, StoreError)
    assert "nothing stored" in str(refused)
    assert "cannot be folded" in str(refused)
    assert sorted(results.values()) == [1, 2, 3]  # type: ignore[type-var]
    assert await seen(store) == ["a", "b", "c"]
    assert await store.stalls() == []
    await store.wait_for_projections(3)


@pytest.mark.backends("postgres", reason="only a PostgreSQL runner folds after the append")
async def test_a_runner_gets_past_its_stall_once_the_fold_is_fixed(backend: Backend) -> None:
    poison = Poison()
    cleared = anyio.Event()
    async with backend.open(options=QUICK) as opened, backend.open(options=QUICK) as other:
        store, beside = projected(opened), projected(other)
        assert isinstance(opened, PostgresEventStore)
        listener = await asyncpg.connect(backend.url)
        await listener.add_listener(
            opened.channel("checkpoints"),
            lambda *args: cleared.set() if args[-1] == "poison!" else None,
        )
        try:
            for process in (store, beside):  # two processes: either may run the projection
                await process.register(poison)
            await store.append("queue-poison", [paused("poison")])
            await store.append("queue-a", [paused("a")])
            for process in (store, beside):
                assert (await stalled(process, 2)).position == 1
            poison.broken = False  # eventsvc is fixed: the runner's next try gets past it
            with anyio.fail_after(10):
                await cleared.wait()
                for process in (store, beside):
                    await process.wait_for_projections(2)
        finally:
            await listener.close()
        assert await seen(store) == ["a", "poison"]
        assert await store.stalls() == await beside.stalls() == []
