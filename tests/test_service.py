"""Commands and queue queries end to end through the service on a file store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from eventsvc.batches import Batch, BatchDatum
from eventsvc.config import Settings
from eventsvc.errors import (
    BatchValidationError,
    IllegalTransitionError,
    LimitExceededError,
    NotFoundError,
)
from eventsvc.graph import parse_graph
from eventsvc.ids import session_stream
from eventsvc.projections.runner import checkpoint
from eventsvc.service import Service
from eventsvc.sessions import Command, Complete, Fail, Retry, Start, decide
from eventsvc.testing import FakeClock

pytestmark = pytest.mark.anyio

GRAPH = parse_graph(
    {"nodes": {"a": {"type": "add", "id": "a"}, "m": {"type": "multiply", "id": "m"}}}
)


def batch(batch_id: str, *groups: list[Any], runs: int = 1) -> Batch:
    fields = iter([("a", "a"), ("a", "b"), ("m", "a"), ("m", "b")])
    data = [
        [BatchDatum(node_path=n, field_name=f, items=items)]
        for items, (n, f) in zip(groups, fields, strict=False)
    ]
    return Batch(batch_id=batch_id, graph=GRAPH, data=data, runs=runs)


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    settings = Settings(
        store_url=f"sqlite://{tmp_path}/events.db",
        max_batch_sessions=1000,
        max_queue_uninitialized=2000,
    )
    async with Service.open(settings, clock=FakeClock()) as opened:
        yield opened


async def act(service: Service, session_id: str, command: Command) -> None:
    """What a worker does: decide on the session's own stream and append at its version."""
    state, version = await service.session_state("q", session_id)
    await service.store.append(session_stream(session_id), decide(command, state), version)


async def all_sessions(service: Service, **filters: Any) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    after = None
    while True:
        page = await service.queue.list_sessions("q", after=after, limit=7, **filters)
        seen += [(s.session_id, s.state) for s in page.items]
        if page.next_cursor is None:
            return seen
        after = page.next_cursor


async def test_enqueue_appends_one_event_and_every_session_is_listed_at_once(
    service: Service,
) -> None:
    result = await service.enqueue_batch("q", batch("b1", [1, 2, 3], [10, 20], runs=2))
    assert (result.session_count, result.requested, result.enqueued, result.priority) == (
        12,
        12,
        12,
        0,
    )
    assert result.position == await service.store.head() == 1
    listed = await all_sessions(service)
    assert listed == [(f"b1.{i}", "uninitialized") for i in range(12)]
    session = await service.queue.get_session("b1.5")
    assert [(v.field_name, v.value) for v in session.field_values] == [("a", 3), ("b", 20)]
    status = await service.queue.queue_status("q")
    assert (status.counts.uninitialized, status.batches) == (12, 1)


async def test_cancel_batches_cancels_every_session_not_started(service: Service) -> None:
    await service.enqueue_batch("q", batch("b1", [1, 2, 3, 4]))
    await act(service, "b1.0", Start("w1"))
    await service.cancel_batches("q", ["b1"])
    assert await all_sessions(service) == [("b1.0", "in_progress")] + [
        (f"b1.{i}", "canceled") for i in (1, 2, 3)
    ]
    counts = (await service.queue.batch_status("b1")).counts
    assert (counts.in_progress, counts.canceled, counts.total) == (1, 3, 4)
    assert await service.queue.next_session("q") is None


async def test_the_next_session_follows_priority_then_batch_then_index(service: Service) -> None:
    await service.enqueue_batch("q", batch("first", [1, 2]))
    await service.enqueue_batch("q", batch("second", [1, 2]))
    assert (await service.queue.next_session("q")).session_id == "first.0"  # type: ignore[union-attr]
    urgent = await service.enqueue_batch("q", batch("urgent", [1]), prepend=True)
    assert urgent.priority == 1
    assert (await service.queue.next_session("q")).session_id == "urgent.0"  # type: ignore[union-attr]
    await service.reprioritize_batch("q", "second", 5)
    assert (await service.queue.next_session("q")).session_id == "second.0"  # type: ignore[union-attr]
    await act(service, "second.0", Start("w1"))
    assert (await service.queue.next_session("q")).session_id == "second.1"  # type: ignore[union-attr]


async def test_a_retried_session_is_picked_in_its_place(service: Service) -> None:
    await service.enqueue_batch("q", batch("b1", [1, 2, 3]))
    await act(service, "b1.0", Start("w1"))
    await act(service, "b1.0", Fail("ValueError", "boom"))
    await act(service, "b1.1", Start("w1"))
    await service.retry_sessions(["b1.0"])
    retried = await service.queue.get_session("b1.0")
    assert (retried.state, retried.attempt) == ("uninitialized", 2)
    assert (await service.queue.next_session("q")).session_id == "b1.0"  # type: ignore[union-attr]
    assert await all_sessions(service, state="uninitialized") == [
        ("b1.0", "uninitialized"),
        ("b1.2", "uninitialized"),
    ]


async def test_pause_stops_and_resume_restarts_the_queue(service: Service) -> None:
    await service.enqueue_batch("q", batch("b1", [1]))
    await service.pause_queue("q")
    assert (await service.queue.queue_status("q")).paused
    assert await service.queue.next_session("q") is None
    await service.resume_queue("q")
    assert (await service.queue.next_session("q")) is not None


async def test_a_paused_queue_offers_neither_new_nor_retried_sessions(service: Service) -> None:
    await service.enqueue_batch("q", batch("b1", [1, 2]))
    for command in (Start("w1"), Fail("ValueError", "boom"), Retry()):
        await act(service, "b1.0", command)
    await service.pause_queue("q")
    assert await service.queue.next_sessions("q", 4) == []
    await service.resume_queue("q")
    offered = await service.queue.next_sessions("q", 4)
    assert [(s.session_id, s.attempt) for s in offered] == [("b1.0", 2), ("b1.1", 1)]


async def test_prune_removes_finished_batches_from_listings(service: Service) -> None:
    await service.enqueue_batch("q", batch("done", [1]))
    await service.enqueue_batch("q", batch("open", [1]))
    await act(service, "done.0", Start("w1"))
    await act(service, "done.0", Complete())
    position = await service.prune_queue("q")
    assert position == await service.store.head()
    assert await all_sessions(service) == [("open.0", "uninitialized")]
    assert (await service.queue.queue_status("q")).batches == 1


async def test_listing_filters_by_state_and_batch(service: Service) -> None:
    await service.enqueue_batch("q", batch("b1", list(range(10))))
    await service.enqueue_batch("q", batch("b2", list(range(5))))
    for session_id in ("b1.3", "b2.1"):
        await service.cancel_session(session_id)
    await act(service, "b1.0", Start("w1"))
    assert await all_sessions(service, state="canceled") == [
        ("b1.3", "canceled"),
        ("b2.1", "canceled"),
    ]
    assert await all_sessions(service, state="in_progress") == [("b1.0", "in_progress")]
    only_b2 = await all_sessions(service, batch_id="b2")
    assert [sid for sid, _ in only_b2] == [f"b2.{i}" for i in range(5)]
    everything = await all_sessions(service)
    assert len(everything) == 15 == len(set(everything))


async def test_limits_refuse_the_whole_batch_and_append_nothing(service: Service) -> None:
    with pytest.raises(LimitExceededError) as caught:
        await service.enqueue_batch("q", batch("big", list(range(40)), list(range(30))))
    assert (caught.value.limit, caught.value.requested, caught.value.allowed) == (
        "max_batch_sessions",
        1200,
        1000,
    )
    await service.enqueue_batch("q", batch("b1", list(range(1000))))
    await service.enqueue_batch("q", batch("b2", list(range(900))))
    with pytest.raises(
        LimitExceededError, match="max_queue_uninitialized: requested 2100, allowed"
    ):
        await service.enqueue_batch("q", batch("b3", list(range(200))))
    assert await service.store.head() == 2


async def test_an_invalid_batch_names_every_problem(service: Service) -> None:
    bad = Batch(
        batch_id="bad",
        graph=GRAPH,
        data=[
            [BatchDatum(node_path="a", field_name="a", items=[1, "x"])],
            [BatchDatum(node_path="ghost", field_name="a", items=[1])],
        ],
    )
    with pytest.raises(BatchValidationError) as caught:
        await service.enqueue_batch("q", bad)
    assert {(p.code, p.node_id) for p in caught.value.problems} >= {
        ("invalid_item", "a"),
        ("missing_node", "ghost"),
    }
    assert await service.store.head() == 0


async def test_illegal_commands_name_the_session_and_its_state(service: Service) -> None:
    await service.enqueue_batch("q", batch("b1", [1, 2]))
    with pytest.raises(IllegalTransitionError, match=r"'b1\.0' is uninitialized: Retry"):
        await service.retry_sessions(["b1.0"])
    await service.cancel_batches("q", ["b1"])
    with pytest.raises(IllegalTransitionError, match=r"'b1\.1' is canceled: Cancel"):
        await service.cancel_session("b1.1")
    with pytest.raises(IllegalTransitionError, match="already enqueued"):
        await service.enqueue_batch("q", batch("b1", [1]))


async def test_unknown_batches_and_sessions_are_not_found(service: Service) -> None:
    await service.enqueue_batch("q", batch("b1", [1, 2]))
    for session_id in ("nope.0", "b1.2", "garbage"):
        with pytest.raises(NotFoundError):
            await service.queue.get_session(session_id)
    with pytest.raises(NotFoundError):
        await service.cancel_batches("other-queue", ["b1"])
    with pytest.raises(NotFoundError, match=r"cursor 'gone\.3'"):
        await service.queue.list_sessions("q", after="gone.3")


async def test_a_million_virtual_sessions_cost_one_row(service: Service) -> None:
    service.settings = Settings(
        store_url="unused", max_batch_sessions=10**6, max_queue_uninitialized=10**6
    )
    await service.enqueue_batch("q", batch("big", list(range(1000)), list(range(1000))))
    page = await service.queue.list_sessions("q", after="big.499999", limit=3)
    assert [s.session_id for s in page.items] == ["big.500000", "big.500001", "big.500002"]
    assert [v.value for v in page.items[0].field_values] == [500, 0]
    rows = await service.store.query("SELECT count(*) FROM queue_sessions")
    assert rows == [(0,)]


async def test_wait_for_returns_at_once_for_a_position_the_log_holds(service: Service) -> None:
    result = await service.enqueue_batch("q", batch("b1", [1]))
    await service.wait_for(result.position)
    assert await checkpoint(service.store, "queue") == result.position
    with pytest.raises(NotFoundError, match="beyond the log's head"):
        await service.wait_for(result.position + 1)
