"""The executor end to end through the service on a file store: outputs, failures, cancels."""

from __future__ import annotations

import itertools
import threading
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import model_validator

from eventsvc import events as ev
from eventsvc.batches import Batch, BatchDatum
from eventsvc.config import Settings
from eventsvc.errors import StoreError
from eventsvc.events import RecordedEvent
from eventsvc.graph import parse_graph
from eventsvc.ids import session_stream
from eventsvc.invocations import BaseInvocation, InputField, invocation
from eventsvc.invocations.context import InvocationContext
from eventsvc.invocations.primitives import IntegerOutput
from eventsvc.service import Service
from eventsvc.store import ANY, EventFilter
from eventsvc.testing import session_started

pytestmark = pytest.mark.anyio

GATES: dict[str, threading.Event] = {}
ENTERED: dict[str, threading.Event] = {}


@invocation("test_gate", title="Gate", category="tests")
class GateInvocation(BaseInvocation):
    """Waits until its gate opens, or returns early once its session is canceled."""

    gate: str = InputField("g")
    value: int = InputField(0)

    def invoke(self, context: InvocationContext) -> IntegerOutput:
        ENTERED.setdefault(self.gate, threading.Event()).set()
        gate = GATES.setdefault(self.gate, threading.Event())
        while not gate.wait(0.01):
            if context.is_canceled():
                break
        return IntegerOutput(value=self.value)


@invocation("test_where", title="Where", category="tests", isolation="inline")
class WhereInvocation(BaseInvocation):
    """Which thread its body ran on, as an integer."""

    def invoke(self, context: InvocationContext) -> IntegerOutput:
        return IntegerOutput(value=threading.get_ident())


@invocation("test_boom", title="Boom", category="tests")
class BoomInvocation(BaseInvocation):
    def invoke(self, context: InvocationContext) -> IntegerOutput:
        raise ValueError("the node went boom")


@invocation("test_checked", title="Checked", category="tests")
class CheckedInvocation(BaseInvocation):
    """Refuses 13 as a whole-model rule, so only the sessions given 13 are invalid."""

    value: int = InputField(0)

    @model_validator(mode="after")
    def not_thirteen(self) -> CheckedInvocation:
        if self.value == 13:
            raise ValueError("13 is not allowed here")
        return self

    def invoke(self, context: InvocationContext) -> IntegerOutput:
        return IntegerOutput(value=self.value)


def edge(source: str, destination: str) -> dict[str, Any]:
    (s_node, s_field), (d_node, d_field) = source.split("."), destination.split(".")
    return {
        "source": {"node_id": s_node, "field": s_field},
        "destination": {"node_id": d_node, "field": d_field},
    }


def graph(nodes: dict[str, dict[str, Any]], edges: list[dict[str, Any]] = ()) -> Any:  # type: ignore[assignment]
    return parse_graph({"nodes": {k: {"id": k, **v} for k, v in nodes.items()}, "edges": edges})


def datum(node: str, field: str, items: list[Any]) -> BatchDatum:
    return BatchDatum(node_path=node, field_name=field, items=items)


def settings_for(directory: Path, **extra: Any) -> Settings:
    return Settings(
        store_url=f"sqlite://{directory}/events.db",
        artifacts_dir=str(directory / "artifacts"),
        **extra,
    )


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    async with Service.open(settings_for(tmp_path)) as opened:
        yield opened


async def settle(service: Service, batch_ids: list[str], queue_id: str = "default") -> None:
    """Run an executor until every session of the batches has ended."""
    executor = service.executor(queue_id=queue_id, workers=2)
    ended = frozenset({"session.completed", "session.failed", "session.canceled"})
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            async with service.store.subscribe(filter=EventFilter(tags=ended)) as sub:
                await tg.start(executor.run)
                while not await _settled(service, batch_ids):
                    await anext(aiter(sub))
            tg.cancel_scope.cancel()


async def _settled(service: Service, batch_ids: list[str]) -> bool:
    for batch_id in batch_ids:
        counts = (await service.queue.batch_status(batch_id)).counts
        if counts.uninitialized or counts.in_progress:
            return False
    return True


async def stream(service: Service, session_id: str) -> list[RecordedEvent]:
    return await service.store.read_stream(session_stream(session_id))


async def outputs(service: Service, session_id: str) -> dict[str, Any]:
    return {
        e.data.node_id: e.data.outputs
        for e in await stream(service, session_id)  # type: ignore[attr-defined]
        if e.tag == "invocation.completed"
    }


async def test_every_session_computes_with_exactly_its_values(service: Service) -> None:
    g = graph({"a": {"type": "add"}, "m": {"type": "multiply", "b": 10}}, [edge("a.value", "m.a")])
    data = [
        [datum("a", "a", [1, 2, 3]), datum("m", "b", [10, 20, 30])],
        [datum("a", "b", [100, 200])],
    ]
    batch = Batch(batch_id="b1", graph=g, data=data, runs=2)
    await service.enqueue_batch("default", batch)
    await settle(service, ["b1"])

    for index in range(batch.session_count):
        values = {(v.node_path, v.field_name): v.value for v in batch.session_values(index)}
        result = await outputs(service, f"b1.{index}")
        total = values["a", "a"] + values["a", "b"]
        assert result["a"]["value"] == total
        assert result["m"]["value"] == total * values["m", "b"]
    assert (await service.queue.batch_status("b1")).counts.completed == 12


async def test_iterate_collect_nested_and_empty(service: Service) -> None:
    nested = graph(
        {
            "r": {"type": "range", "stop": 3},
            "i": {"type": "iterate"},
            "inner": {"type": "range"},
            "j": {"type": "iterate"},
            "add": {"type": "add"},
            "c": {"type": "collect"},
        },
        [
            edge("r.collection", "i.collection"),
            edge("i.item", "inner.stop"),
            edge("inner.collection", "j.collection"),
            edge("j.item", "add.a"),
            edge("i.item", "add.b"),
            edge("add.value", "c.item"),
        ],
    )
    await service.enqueue_batch("default", Batch(batch_id="n", graph=nested))
    empty = graph(
        {
            "r": {"type": "range", "stop": 0},
            "i": {"type": "iterate"},
            "add": {"type": "add"},
            "c": {"type": "collect"},
        },
        [
            edge("r.collection", "i.collection"),
            edge("i.item", "add.a"),
            edge("add.value", "c.item"),
        ],
    )
    await service.enqueue_batch("default", Batch(batch_id="e", graph=empty))
    await settle(service, ["n", "e"])

    result = await outputs(service, "n.0")
    assert result["c"]["collection"] == [1, 2, 3]  # i=0: no j; i=1: j=0; i=2: j=0, 1
    assert "add[1,0]" in result
    assert (await outputs(service, "e.0"))["c"]["collection"] == []
    assert [e.tag for e in await stream(service, "e.0")][-1] == "session.completed"


async def test_a_failing_node_fails_its_session_with_the_error(service: Service) -> None:
    g = graph(
        {"d": {"type": "divide", "a": 7}, "after": {"type": "add"}}, [edge("d.value", "after.a")]
    )
    await service.enqueue_batch(
        "default", Batch(batch_id="div", graph=g, data=[[datum("d", "b", [0, 7])]])
    )
    await service.enqueue_batch(
        "default", Batch(batch_id="boom", graph=graph({"x": {"type": "test_boom"}}))
    )
    await settle(service, ["div", "boom"])

    failed = await stream(service, "div.0")
    assert [e.tag for e in failed][-3:] == [
        "invocation.started",
        "invocation.failed",
        "session.failed",
    ]
    node_failure = failed[-2].data
    assert node_failure.error_type == "NodeError"  # type: ignore[attr-defined]
    assert "cannot divide 7 by zero" in node_failure.error_message  # type: ignore[attr-defined]
    assert "Traceback" in node_failure.error_traceback  # type: ignore[attr-defined]
    assert node_failure.measurement.wall_seconds is not None  # type: ignore[attr-defined]
    assert (await outputs(service, "div.1"))["after"]["value"] == 1
    boom = (await stream(service, "boom.0"))[-1].data
    assert (boom.error_type, boom.error_message) == ("ValueError", "the node went boom")  # type: ignore[attr-defined]


async def test_a_node_type_denied_after_enqueue_makes_its_sessions_invalid(tmp_path: Path) -> None:
    async with Service.open(settings_for(tmp_path)) as service:
        await service.enqueue_batch(
            "default",
            Batch(
                batch_id="denied",
                graph=graph({"m": {"type": "multiply"}}),
                data=[[datum("m", "a", [1, 2])]],
            ),
        )
        await service.enqueue_batch(
            "default", Batch(batch_id="fine", graph=graph({"a": {"type": "add", "a": 1}}))
        )
    async with Service.open(settings_for(tmp_path, nodes_deny=("multiply",))) as service:
        await settle(service, ["denied", "fine"])
        for index in (0, 1):
            tags = [e.tag for e in await stream(service, f"denied.{index}")]
            assert tags == ["session.started", "graph.invalid", "session.failed"]
        assert (await outputs(service, "fine.0"))["a"]["value"] == 1


async def test_a_model_rule_invalidates_only_the_sessions_it_rejects(service: Service) -> None:
    batch = Batch(
        batch_id="v",
        graph=graph({"c": {"type": "test_checked"}}),
        data=[[datum("c", "value", [12, 13, 14])]],
    )
    await service.enqueue_batch("default", batch)
    await settle(service, ["v"])
    states = [(await service.queue.get_session(f"v.{i}")).state for i in range(3)]
    assert states == ["completed", "failed", "completed"]
    invalid = (await stream(service, "v.1"))[1].data
    assert "13 is not allowed here" in invalid.problems[0].message  # type: ignore[attr-defined]


async def test_canceling_a_running_session_stops_it_as_canceled(service: Service) -> None:
    GATES.pop("cancel-me", None)
    ENTERED.pop("cancel-me", None)
    g = graph(
        {"g": {"type": "test_gate", "gate": "cancel-me"}, "after": {"type": "add"}},
        [edge("g.value", "after.a")],
    )
    await service.enqueue_batch("default", Batch(batch_id="c", graph=g))
    async with anyio.create_task_group() as tg:
        tg.start_soon(settle, service, ["c"])
        await anyio.to_thread.run_sync(ENTERED.setdefault("cancel-me", threading.Event()).wait, 10)
        await service.cancel_batches("default", ["c"])
    tags = [e.tag for e in await stream(service, "c.0")]
    assert tags[-1] == "session.canceled"
    assert "invocation.failed" not in tags
    assert "after" not in await outputs(service, "c.0")


async def test_a_session_claimed_after_its_batch_was_canceled_is_canceled_at_once(
    service: Service,
) -> None:
    await service.enqueue_batch(
        "default", Batch(batch_id="late", graph=graph({"a": {"type": "add"}}))
    )
    await service.cancel_batches("default", ["late"])
    # The worker read the queue before the cancel: it claims, then re-reads the batch.
    await service.executor()._take("w1", "late.0")
    tags = [e.tag for e in await stream(service, "late.0")]
    assert tags == ["session.started", "session.canceled"]


async def test_a_session_guessed_fresh_that_another_worker_started_is_left_to_it(
    service: Service,
) -> None:
    await service.enqueue_batch(
        "default", Batch(batch_id="taken", graph=graph({"a": {"type": "add"}}))
    )
    await service.store.append(session_stream("taken.0"), [session_started("taken.0", "other")])
    # The projection showed it never started: the claim goes without a read, conflicts, and
    # the session is left to the worker that has it.
    await service.executor()._take("w1", "taken.0", fresh=True)
    assert [(e.tag, e.data.worker_id) for e in await stream(service, "taken.0")] == [  # type: ignore[attr-defined]
        ("session.started", "other")
    ]


async def enqueue_two_sessions(service: Service, batch_id: str) -> int:
    """A batch of two one-node sessions; the head after its enqueue."""
    batch = Batch(batch_id=batch_id, graph=graph({"a": {"type": "add"}}), runs=2)
    await service.enqueue_batch("default", batch)
    return await service.store.head()


async def test_a_worker_passes_over_the_sessions_this_process_claimed_and_the_queue_still_shows(
    service: Service,
) -> None:
    head = await enqueue_two_sessions(service, "shown")
    executor = service.executor()
    executor._remember("shown.0", 1, head)  # as if claimed here, the projection not told yet
    await executor._work_once("w1", 0)
    assert await stream(service, "shown.0") == []
    assert [e.tag for e in await stream(service, "shown.1")][-1] == "session.completed"


async def test_a_worker_shown_only_sessions_this_process_claimed_waits_for_the_projection(
    service: Service,
) -> None:
    head = await enqueue_two_sessions(service, "mine")
    executor = service.executor()
    for session_id in ("mine.0", "mine.1"):
        executor._remember(session_id, 1, head)
    # It asks the projection to fold those claims (folded already here) and picks again,
    # taking neither.
    with anyio.fail_after(10):
        assert await executor._work_once("w1", 0) == 0
    assert await stream(service, "mine.0") == await stream(service, "mine.1") == []


async def test_a_worker_that_lost_its_session_is_fenced_off(service: Service) -> None:
    GATES.pop("fence", None)
    ENTERED.pop("fence", None)
    g = graph(
        {"g": {"type": "test_gate", "gate": "fence"}, "after": {"type": "add"}},
        [edge("g.value", "after.a")],
    )
    await service.enqueue_batch("default", Batch(batch_id="f", graph=g))
    executor = service.executor()
    async with anyio.create_task_group() as tg:
        tg.start_soon(executor._take, "w1", "f.0")
        await anyio.to_thread.run_sync(ENTERED.setdefault("fence", threading.Event()).wait, 10)
        # Another writer moves the session on while the node runs (as a resuming worker would).
        session_events = await stream(service, "f.0")
        from eventsvc.events import SessionResumed

        takeover = SessionResumed(
            queue_id="default",
            batch_id="f",
            session_id="f.0",
            worker_id="w2",
            previous_worker_id="w1",
        )
        await service.store.append(session_stream("f.0"), [takeover], session_events[-1].version)
        GATES["fence"].set()
    tags = [e.tag for e in await stream(service, "f.0")]
    assert tags == ["session.started", "invocation.started", "session.resumed"]


async def test_stats_count_every_node_and_drop_invalid_sessions(service: Service) -> None:
    g = graph(
        {"a": {"type": "add"}, "m": {"type": "multiply"}, "c": {"type": "test_checked"}},
        [edge("a.value", "m.a")],
    )
    batch = Batch(batch_id="s", graph=g, data=[[datum("c", "value", [1, 13, 2])]])
    await service.enqueue_batch("default", batch)
    await settle(service, ["s"])

    summary = await service.stats.batch("s")
    assert {(t.node_type, t.calls) for t in summary.node_types} == {
        ("add", 2),
        ("multiply", 2),
        ("test_checked", 2),
    }
    assert summary.sessions == 2
    assert (await service.stats.session("s.1")).node_types == []
    one = await service.stats.session("s.0")
    assert one.wall_seconds is not None
    assert one.execution_seconds <= one.wall_seconds
    assert all(t.max_vram is None for t in one.node_types)  # no CUDA here: no reading
    assert "add" in {t.node_type for t in (await service.stats.node_types()).node_types}


@invocation("test_steps", title="Steps", category="tests")
class StepsInvocation(BaseInvocation):
    def invoke(self, context: InvocationContext) -> IntegerOutput:
        for step in (1, 2):
            context.progress(step / 2, f"step {step} of 2")
        return IntegerOutput(value=2)


@invocation("test_stubborn", title="Stubborn", category="tests")
class StubbornInvocation(BaseInvocation):
    """Blocks on its gate and never polls for cancellation."""

    gate: str = InputField("g")

    def invoke(self, context: InvocationContext) -> IntegerOutput:
        ENTERED.setdefault(self.gate, threading.Event()).set()
        GATES.setdefault(self.gate, threading.Event()).wait(30)
        return IntegerOutput(value=1)


async def wait_for_tag(service: Service, after: int, tag: str, session_id: str) -> int:
    """The position of the first ``tag`` event of a session after ``after``."""
    with anyio.fail_after(20):
        async with service.store.subscribe(
            after=after, filter=EventFilter(tags=frozenset({tag}))
        ) as sub:
            async for event in sub:
                if event.data.session_id == session_id:  # type: ignore[attr-defined]
                    return event.position
    raise AssertionError("unreachable")


async def test_progress_reaches_listeners_and_never_the_log(service: Service) -> None:
    await service.enqueue_batch(
        "default", Batch(batch_id="p", graph=graph({"s": {"type": "test_steps"}}))
    )
    async with service.progress.listen() as reports:
        await settle(service, ["p"])
        received = [reports.receive_nowait() for _ in range(2)]
    assert [(r.session_id, r.node_id, r.fraction, r.message) for r in received] == [
        ("p.0", "s", 0.5, "step 1 of 2"),
        ("p.0", "s", 1.0, "step 2 of 2"),
    ]
    assert "invocation.progress" not in {e.tag for e in await service.store.read_all(limit=100)}


async def test_a_canceled_sessions_thread_is_abandoned_and_keeps_its_slot(tmp_path: Path) -> None:
    GATES.pop("stubborn", None)
    ENTERED.pop("stubborn", None)
    async with Service.open(settings_for(tmp_path)) as service:
        g = graph({"g": {"type": "test_stubborn", "gate": "stubborn"}})
        await service.enqueue_batch("default", Batch(batch_id="t", graph=g, runs=2))
        executor = service.executor(threads=1)
        async with anyio.create_task_group() as tg:
            await tg.start(executor.run)
            await anyio.to_thread.run_sync(
                ENTERED.setdefault("stubborn", threading.Event()).wait, 10
            )
            [first] = executor._running  # a worker picks among the first few by its own hash
            second = "t.1" if first == "t.0" else "t.0"
            await service.cancel_session(first)
            await wait_for_tag(service, 0, "invocation.started", second)
            assert executor.abandoned == {"g": first}
            assert executor.limiter.borrowed_tokens == 1  # the second waits for that slot
            assert [e.tag for e in await stream(service, first)][-1] == "session.canceled"
            GATES["stubborn"].set()
            await wait_for_tag(service, 0, "session.completed", second)
            tg.cancel_scope.cancel()


async def test_pause_stops_starting_sessions_and_resume_restarts(service: Service) -> None:
    await service.pause_queue("default")
    executor = service.executor()
    async with anyio.create_task_group() as tg:
        await tg.start(executor.run)
        await service.enqueue_batch(
            "default", Batch(batch_id="z", graph=graph({"a": {"type": "add"}}))
        )
        resumed_at = await service.resume_queue("default")
        started_at = await wait_for_tag(service, 0, "session.started", "z.0")
        assert started_at > resumed_at  # nothing started while the queue was paused
        await wait_for_tag(service, started_at, "session.completed", "z.0")
        tg.cancel_scope.cancel()


@invocation("test_async_add", title="Async Add", category="tests")
class AsyncAddInvocation(BaseInvocation):
    a: int = InputField(0)
    b: int = InputField(0)

    async def invoke(self, context: InvocationContext) -> IntegerOutput:  # type: ignore[override]
        await anyio.lowlevel.checkpoint()
        return IntegerOutput(value=self.a + self.b)


async def test_async_node_bodies_are_awaited(service: Service) -> None:
    g = graph(
        {"x": {"type": "test_async_add", "a": 2}, "y": {"type": "add"}}, [edge("x.value", "y.a")]
    )
    await service.enqueue_batch(
        "default", Batch(batch_id="as", graph=g, data=[[datum("x", "b", [3, 4])]])
    )
    await settle(service, ["as"])
    assert (await outputs(service, "as.0"))["y"]["value"] == 5
    assert (await outputs(service, "as.1"))["x"]["value"] == 6


async def test_inline_node_bodies_run_on_the_event_loop_and_are_measured(
    service: Service,
) -> None:
    g = graph({"w": {"type": "test_where"}, "y": {"type": "add", "b": 1}}, [])
    await service.enqueue_batch("default", Batch(batch_id="in", graph=g))
    await settle(service, ["in"])
    assert (await outputs(service, "in.0"))["w"]["value"] == threading.get_ident()
    completed = [
        e.data
        for e in await service.store.read_stream(session_stream("in.0"))
        if isinstance(e.data, ev.InvocationCompleted)
    ]
    assert {c.node_id for c in completed} == {"w", "y"}
    assert all(c.measurement.wall_seconds is not None for c in completed)


async def test_canceling_a_batch_mid_way_keeps_what_finished(service: Service) -> None:
    GATES.pop("mid", None)
    ENTERED.pop("mid", None)
    g = graph({"g": {"type": "test_gate", "gate": "mid"}})
    await service.enqueue_batch(
        "default", Batch(batch_id="done", graph=graph({"a": {"type": "add"}}), runs=2)
    )
    await service.enqueue_batch("default", Batch(batch_id="mid", graph=g, runs=5))
    async with anyio.create_task_group() as tg:
        tg.start_soon(settle, service, ["done", "mid"])
        await anyio.to_thread.run_sync(ENTERED.setdefault("mid", threading.Event()).wait, 10)
        canceled_at = await service.cancel_batches("default", ["mid"])
    counts = (await service.queue.batch_status("mid")).counts
    assert (counts.canceled, counts.completed, counts.total) == (5, 0, 5)
    assert (await service.queue.batch_status("done")).counts.completed == 2
    starts = [
        e
        for e in await service.store.read_all(limit=1000)
        if e.tag == "session.started" and e.stream.startswith("session-mid.")
    ]
    # Only the sessions running when the cancel came (one per worker) ever started.
    assert 1 <= len(starts) <= 2
    assert all(start.position < canceled_at for start in starts)


async def test_the_service_can_run_its_own_workers(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, workers=2)
    ended = frozenset({"session.completed"})
    async with (
        Service.open(settings, run_workers=True) as service,
        service.store.subscribe(filter=EventFilter(tags=ended)) as sub,
    ):
        await service.enqueue_batch(
            "default",
            Batch(
                batch_id="own",
                graph=graph({"a": {"type": "add", "b": 1}}),
                data=[[datum("a", "a", [1, 2, 3])]],
            ),
        )
        with anyio.fail_after(20):
            done = [await anext(aiter(sub)) for _ in range(3)]
    assert sorted(e.data.session_id for e in done) == ["own.0", "own.1", "own.2"]  # type: ignore[attr-defined]


async def test_a_lone_worker_takes_the_sessions_in_order_whatever_its_hash(
    tmp_path: Path,
) -> None:
    """Workers spread over the first few candidates only when several compete; a worker whose
    hash would not land on the first one must not leave it behind (the batch's cursor would
    stay there and every pick would walk the sessions started since)."""
    settings = Settings(
        store_url=f"sqlite://{tmp_path}/events.db", artifacts_dir=str(tmp_path / "artifacts")
    )
    # A worker id whose hash (with or without a pick count) lands elsewhere than the first.
    lone = next(
        name
        for name in (f"w-{n}" for n in itertools.count())
        if zlib.crc32(name.encode()) % 4 and zlib.crc32(f"{name}:1".encode()) % 4
    )
    sessions = 12
    async with Service.open(settings) as service:
        items = list(range(sessions))
        work = Batch(
            batch_id="order",
            graph=graph({"a": {"type": "add", "b": 1}}),
            data=[[BatchDatum(node_path="a", field_name="a", items=items)]],
        )
        await service.enqueue_batch("default", work)
        executor = service.executor(workers=1)
        executor.worker_ids, executor.recovery_id = [lone], lone
        started: list[str] = []
        with anyio.fail_after(30):
            async with (
                anyio.create_task_group() as tg,
                service.store.subscribe(
                    filter=EventFilter(tags=frozenset({"session.started"}))
                ) as events,
            ):
                await tg.start(executor.run)
                async for record in events:
                    started.append(record.data.session_id)  # type: ignore[attr-defined]
                    if len(started) == sessions:
                        break
                tg.cancel_scope.cancel()
    assert started == [f"order.{index}" for index in range(sessions)]


# --- values the log cannot hold --------------------------------------------------------------


async def test_an_output_the_log_cannot_hold_fails_its_node_by_name(service: Service) -> None:
    # Each factor is a value a client may send; their product needs 100 bits.
    g = graph({"m": {"type": "multiply", "a": 2**50, "b": 2**50}})
    await service.enqueue_batch("default", Batch(batch_id="big", graph=g))
    await settle(service, ["big"])
    events = await stream(service, "big.0")
    [failed] = [e.data for e in events if isinstance(e.data, ev.InvocationFailed)]
    assert (failed.node_id, failed.error_type) == ("m", "InvalidValueError")
    assert "outputs.value: integer" in failed.error_message
    assert "64-bit range" in failed.error_message
    assert (await service.queue.batch_status("big")).counts.failed == 1


@invocation("test_hostile_error", title="Hostile error", category="tests")
class HostileErrorInvocation(BaseInvocation):
    def invoke(self, context: InvocationContext) -> IntegerOutput:
        raise ValueError("nul \x00 and surrogate \ud800 " + "x" * 100_000)


async def test_an_error_message_is_stored_as_the_log_can_hold_it(service: Service) -> None:
    g = graph({"h": {"type": "test_hostile_error"}})
    await service.enqueue_batch("default", Batch(batch_id="h", graph=g))
    await settle(service, ["h"])
    events = await stream(service, "h.0")
    [failed] = [e.data for e in events if isinstance(e.data, ev.InvocationFailed)]
    assert failed.error_message.startswith("nul \ufffd and surrogate \ufffd xxx")
    assert "more characters cut" in failed.error_message
    session = await service.queue.get_session("h.0")
    assert session.state == "failed"
    assert session.error_message is not None
    assert "\x00" not in session.error_message


async def test_batches_enqueued_at_once_all_run_on_one_worker(tmp_path: Path) -> None:
    """Four enqueuers at once while the service's one worker runs: every session completes
    (a worker told there is nothing to start sleeps until the next enqueue)."""
    enqueuers, batches = 4, 100
    work = graph({"a": {"type": "add", "b": 1}})
    data = [[datum("a", "a", [0, 1])]]
    completed = frozenset({"session.completed"})

    async def enqueue(service: Service, k: int) -> None:
        for n in range(k, batches, enqueuers):
            await service.enqueue_batch("default", Batch(batch_id=f"b{n}", graph=work, data=data))

    async with (
        Service.open(settings_for(tmp_path, workers=1), run_workers=True) as service,
        service.store.subscribe(filter=EventFilter(tags=completed)) as sub,
    ):
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for k in range(enqueuers):
                    tg.start_soon(enqueue, service, k)
            done = {(await anext(aiter(sub))).data.session_id for _ in range(2 * batches)}  # type: ignore[attr-defined]
        counts = (await service.queue.queue_status("default")).counts
    assert done == {f"b{n}.{i}" for n in range(batches) for i in (0, 1)}
    assert (counts.completed, counts.total) == (2 * batches, 2 * batches)


async def test_a_session_whose_run_met_a_store_error_is_resumed_by_its_own_process(
    tmp_path: Path,
) -> None:
    async with Service.open(settings_for(tmp_path, lease_seconds=0.4)) as service:
        append = service.store.append
        failed: list[str] = []

        async def flaky(stream: str, events: Any, expected: Any = ANY) -> Any:
            completes = any(isinstance(e, ev.InvocationCompleted) for e in events)
            if completes and not failed:
                failed.append(stream)
                raise StoreError("the connection to the store was lost")
            return await append(stream, events, expected)

        service.store.append = flaky  # type: ignore[method-assign]
        g = graph({"a": {"type": "add", "a": 1, "b": 2}})
        await service.enqueue_batch("default", Batch(batch_id="f", graph=g))
        await settle(service, ["f"])
        tags = [e.tag for e in await stream(service, "f.0")]
    assert failed == ["session-f.0"]
    assert tags[:2] == ["session.started", "invocation.started"]
    assert "session.resumed" in tags
    assert tags[-1] == "session.completed"
