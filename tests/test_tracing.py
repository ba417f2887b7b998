"""Traces with the SDK's in-memory exporter: spans for the enqueue, each attempt and each node,
the trace carried in the events' metadata, and a resumed session continuing its trace."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from eventsvc import events as ev
from eventsvc import tracing
from eventsvc.attempt import session_state
from eventsvc.events import EventMetadata, NewEvent
from eventsvc.ids import session_stream
from eventsvc.service import Service
from eventsvc.sessions import Start, decide
from tests.test_isolation import ended, one_node
from tests.test_metrics import settings, store_url  # noqa: F401  (the fixture, both backends)

pytestmark = pytest.mark.anyio

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with tracing.use_provider(provider):
        yield exporter


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


async def test_the_enqueue_the_attempt_and_each_node_are_spans_of_one_trace(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    url = f"sqlite://{tmp_path}/events.db"
    async with Service.open(settings(url, tmp_path), run_workers=True) as service:
        await service.enqueue_batch("default", one_node("t", {"type": "add", "a": 1}))
        await ended(service, "t.0")
        records = await service.store.read_stream(session_stream("t.0"))
    [enqueue] = named(spans, "enqueue")
    [session] = named(spans, "session")
    [node] = named(spans, "node add")
    assert session.parent is not None
    assert session.parent.span_id == enqueue.context.span_id
    assert node.parent is not None
    assert node.parent.span_id == session.context.span_id
    assert {enqueue.context.trace_id, session.context.trace_id} == {node.context.trace_id}
    assert session.attributes is not None
    assert session.attributes["status"] == "completed"
    trace_id = f"{session.context.trace_id:032x}"
    carried = [r.metadata.traceparent for r in records if r.tag != "session.started"]
    assert carried
    assert all(p is not None and trace_id in p for p in carried)


async def test_a_failing_node_marks_its_span_failed(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    url = f"sqlite://{tmp_path}/events.db"
    async with Service.open(settings(url, tmp_path), run_workers=True) as service:
        node = {"type": "string_replace", "search": "(", "use_regex": True}
        await service.enqueue_batch("default", one_node("f", node))
        await ended(service, "f.0")
    [span] = named(spans, "node string_replace")
    assert not span.status.is_ok
    assert span.events
    assert span.events[0].name == "exception"


async def test_a_resumed_session_continues_the_trace_in_its_events(
    store_url: str,  # noqa: F811
    tmp_path: Path,
    spans: InMemorySpanExporter,
) -> None:
    async with Service.open(settings(store_url, tmp_path)) as service:
        await service.enqueue_batch("default", one_node("r", {"type": "add", "a": 2}))
        # A worker elsewhere claimed it and started its node under a trace, then vanished.
        state, version = await session_state(service.store, "default", "r.0")
        [started] = decide(Start("gone-worker-0"), state)
        result = await service.store.append(session_stream("r.0"), [started], version)
        node = ev.InvocationStarted(
            queue_id="default", batch_id="r", session_id="r.0", attempt=1, node_id="n",
            source_node_id="n", node_type="add", worker_id="gone-worker-0",
        )  # fmt: skip
        metadata = EventMetadata(traceparent=PARENT)
        await service.store.append(
            session_stream("r.0"),
            [NewEvent(event=node, event_id=uuid.uuid4(), metadata=metadata)],
            result.version,
        )
        async with anyio.create_task_group() as tg:
            await tg.start(service.executor().run)
            assert isinstance(await ended(service, "r.0"), ev.SessionCompleted)
            tg.cancel_scope.cancel()
        records = await service.store.read_stream(session_stream("r.0"))
    [session] = named(spans, "session")
    assert f"{session.context.trace_id:032x}" == TRACE_ID
    assert session.parent is not None
    assert f"{session.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert session.attributes is not None
    assert session.attributes["resumed"] is True
    assert TRACE_ID in (records[-1].metadata.traceparent or "")


def test_otel_variables_install_the_sdk_only_when_they_ask_for_an_exporter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    installed: list[object] = []
    monkeypatch.setattr(tracing.trace, "set_tracer_provider", installed.append)
    assert not tracing.configure_from_env({})
    assert not tracing.configure_from_env({"OTEL_TRACES_EXPORTER": "none"})
    assert not tracing.configure_from_env(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}
    )
    assert installed == []
    assert tracing.configure_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    [provider] = installed
    assert isinstance(provider, TracerProvider)
    provider.shutdown()
