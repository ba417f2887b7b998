"""The queue projection: a rebuild from the log equals the incrementally kept tables, and the
next sessions are found whatever the projection commits between a query's statements."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventsvc.batches import Batch, BatchDatum
from eventsvc.config import Settings
from eventsvc.errors import IllegalTransitionError
from eventsvc.graph import parse_graph
from eventsvc.ids import session_stream
from eventsvc.projections.builtin import ProjectedStore
from eventsvc.projections.queue_view import QueueView
from eventsvc.service import Service
from eventsvc.sessions import Cancel, Complete, Fail, Retry, Start, decide
from eventsvc.testing import FakeClock

GRAPH = parse_graph({"nodes": {"a": {"type": "add", "id": "a"}}})
TABLES = {
    "queue_state": "queue_id",
    "queue_batches": "batch_id",
    "queue_sessions": "session_id",
}

commands = st.lists(
    st.one_of(
        st.tuples(st.just("enqueue"), st.integers(1, 6), st.integers(1, 2), st.booleans()),
        st.tuples(st.just("start"), st.integers(0, 50)),
        st.tuples(st.sampled_from(["complete", "fail", "cancel", "retry"]), st.integers(0, 50)),
        st.tuples(st.just("cancel_batch"), st.integers(0, 5)),
        st.tuples(st.just("reprioritize"), st.integers(0, 5), st.integers(-3, 3)),
        st.tuples(st.sampled_from(["pause", "resume", "prune"])),
    ),
    max_size=40,
)


async def snapshot(service: Service) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: await service.store.query(f"SELECT * FROM {table} ORDER BY {key}")
        for table, key in TABLES.items()
    }


async def run(steps: list[tuple[Any, ...]]) -> None:
    async with Service.open(Settings(store_url="sqlite://:memory:"), clock=FakeClock()) as service:
        batches: list[str] = []
        for step in steps:
            await apply(service, batches, step)
        live = await snapshot(service)
        pruned = {row[0] for row in live["queue_batches"] if row[10]}
        for batch_id in batches:
            status = await service.queue.batch_status(batch_id)
            assert status.counts.total == status.session_count
            if batch_id in pruned:
                continue  # pruned batches leave the listings
            listed = await service.queue.list_sessions("q", batch_id=batch_id, limit=1000)
            for state in ("uninitialized", "in_progress", "completed", "failed", "canceled"):
                matching = [s for s in listed.items if s.state == state]
                assert len(matching) == getattr(status.counts, state), (batch_id, state)
        await service.store.rebuild("queue")
        assert await snapshot(service) == live


async def apply(service: Service, batches: list[str], step: tuple[Any, ...]) -> None:
    kind = step[0]
    sessions = [s for b in batches for s in await _ids(service, b)]
    if kind == "enqueue":
        _, items, runs, prepend = step
        batch_id = f"b{len(batches)}"
        data = [[BatchDatum(node_path="a", field_name="a", items=list(range(items)))]]
        batch = Batch(batch_id=batch_id, graph=GRAPH, data=data, runs=runs)
        await service.enqueue_batch("q", batch, prepend=prepend)
        batches.append(batch_id)
    elif kind == "start":
        view = await service.queue.next_session("q")
        if view is not None:
            await _act(service, view.session_id, Start("w"))
    elif kind in ("complete", "fail", "cancel", "retry") and sessions:
        command = {
            "complete": Complete(),
            "fail": Fail("E", "m"),
            "cancel": Cancel("user"),
            "retry": Retry(),
        }[kind]
        with contextlib.suppress(IllegalTransitionError):
            await _act(service, sessions[step[1] % len(sessions)], command)
    elif kind == "cancel_batch" and batches:
        await service.cancel_batches("q", [batches[step[1] % len(batches)]])
    elif kind == "reprioritize" and batches:
        await service.reprioritize_batch("q", batches[step[1] % len(batches)], step[2])
    elif kind in ("pause", "resume", "prune"):
        await getattr(service, f"{kind}_queue")("q")


async def _ids(service: Service, batch_id: str) -> list[str]:
    status = await service.queue.batch_status(batch_id)
    return [f"{batch_id}.{i}" for i in range(status.session_count)]


async def _act(service: Service, session_id: str, command: Any) -> None:
    state, version = await service.session_state("q", session_id)
    await service.store.append(session_stream(session_id), decide(command, state), version)


@settings(max_examples=60)
@given(commands)
def test_a_rebuild_equals_the_incremental_projection(steps: list[tuple[Any, ...]]) -> None:
    anyio.run(run, steps)


@pytest.mark.anyio
async def test_the_cursor_moves_past_every_index_materialized_from_it() -> None:
    async with Service.open(Settings(store_url="sqlite://:memory:"), clock=FakeClock()) as service:
        data = [[BatchDatum(node_path="a", field_name="a", items=list(range(7)))]]
        await service.enqueue_batch("q", Batch(batch_id="b", graph=GRAPH, data=data))

        async def cursor_after(session_id: str, command: Any) -> int:
            await _act(service, session_id, command)
            [(cursor,)] = await service.store.query("SELECT cursor FROM queue_batches")
            return int(cursor)

        # Out of order, as workers pick among the first few: the cursor waits for index 0.
        assert [await cursor_after(f"b.{i}", Start("w")) for i in (2, 1, 4)] == [0, 0, 0]
        assert await cursor_after("b.0", Start("w")) == 3
        assert await cursor_after("b.5", Cancel("user")) == 3
        assert await cursor_after("b.3", Start("w")) == 6
        live = await snapshot(service)
        await service.store.rebuild("queue")
        assert await snapshot(service) == live


# --- the next sessions ----------------------------------------------------------------------

anyio_test = pytest.mark.anyio


class FoldsBetween:
    """The service's store, where ``between`` runs (an append, folded at once on SQLite) just
    after the view has read the runnable batches and before its next statement: what the
    PostgreSQL runner, committing in its own transaction, can do to a view's reads."""

    def __init__(self, store: ProjectedStore, between: Callable[[], Awaitable[None]]) -> None:
        self._store = store
        self._between: Callable[[], Awaitable[None]] | None = between

    async def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows = await self._store.query(sql, params)
        if "FROM queue_batches" in sql and "cursor < session_count" in sql and self._between:
            between, self._between = self._between, None
            await between()
        return rows

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def enqueue_pairs(service: Service, *batch_ids: str) -> None:
    data = [[BatchDatum(node_path="a", field_name="a", items=[0, 1])]]
    for batch_id in batch_ids:
        await service.enqueue_batch("q", Batch(batch_id=batch_id, graph=GRAPH, data=data))


@anyio_test
async def test_a_batch_whose_cursor_moved_during_the_query_gives_way_to_the_next() -> None:
    """The best batch is read with its cursor at its last session, which is claimed (and
    folded) before its sessions' rows are read: that batch has nothing left, the next has."""
    async with Service.open(Settings(store_url="sqlite://:memory:"), clock=FakeClock()) as service:
        await enqueue_pairs(service, "first", "second")
        await _act(service, "first.0", Start("w"))

        async def claim_the_last() -> None:
            await _act(service, "first.1", Start("w"))

        view = QueueView(cast(ProjectedStore, FoldsBetween(service.store, claim_the_last)))
        found = await view.next_sessions("q", 1)
        assert [s.session_id for s in found] == ["second.0"]


@anyio_test
async def test_the_next_sessions_run_on_into_later_batches() -> None:
    async with Service.open(Settings(store_url="sqlite://:memory:"), clock=FakeClock()) as service:
        await enqueue_pairs(service, "b0", "b1", "b2")
        await _act(service, "b0.0", Start("w"))
        found = await service.queue.next_sessions("q", 4)
        assert [s.session_id for s in found] == ["b0.1", "b1.0", "b1.1", "b2.0"]
        await _act(service, "b1.1", Start("w"))
        found = await service.queue.next_sessions("q", 3)
        assert [s.session_id for s in found] == ["b0.1", "b1.0", "b2.0"]
