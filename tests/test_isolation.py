"""Node bodies in worker processes: outputs, failures, artifacts and progress cross the pipe;
a runaway regex cannot freeze the API, and a cancel kills and replaces its process."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import psutil
import pytest

from eventsvc import events as ev
from eventsvc.api import create_app
from eventsvc.batches import Batch
from eventsvc.config import Settings
from eventsvc.graph import parse_graph
from eventsvc.ids import session_stream
from eventsvc.service import Service
from eventsvc.store import EventFilter
from tests import isolated_nodes  # noqa: F401  (registers the test node types)

pytestmark = pytest.mark.anyio


def settings_for(directory: Path, **extra: Any) -> Settings:
    return Settings(
        store_url=f"sqlite://{directory}/events.db",
        artifacts_dir=str(directory / "artifacts"),
        **extra,
    )


def one_node(batch_id: str, node: dict[str, Any]) -> Batch:
    return Batch(batch_id=batch_id, graph=parse_graph({"nodes": {"n": {"id": "n", **node}}}))


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    settings = settings_for(tmp_path, node_processes=1)
    async with Service.open(settings) as opened, anyio.create_task_group() as tg:
        await tg.start(opened.executor().run)
        yield opened
        tg.cancel_scope.cancel()


async def ended(service: Service, session_id: str) -> ev.Event:
    """The session's terminal event, once it is in the log."""
    tags = frozenset({"session.completed", "session.failed", "session.canceled"})
    return (await first(service, tags, session_id)).data


async def first(service: Service, tags: frozenset[str], session_id: str) -> ev.RecordedEvent:
    with anyio.fail_after(60):
        async with service.store.subscribe(after=0, filter=EventFilter(tags=tags)) as sub:
            async for record in sub:
                if getattr(record.data, "session_id", None) == session_id:
                    return record
    raise AssertionError("unreachable")


async def test_a_node_in_a_process_returns_its_output_and_its_readings(service: Service) -> None:
    await service.enqueue_batch("default", one_node("e", {"type": "test_echo", "text": "hi"}))
    async with service.progress.listen() as reports:
        assert isinstance(await ended(service, "e.0"), ev.SessionCompleted)
        progress = reports.receive_nowait()
    assert (progress.fraction, progress.message) == (0.5, "stored")
    [done] = [r.data for r in await service.store.read_stream(session_stream("e.0"))
              if isinstance(r.data, ev.InvocationCompleted)]  # fmt: skip
    assert done.outputs["value"] == "hi@n"
    assert done.measurement.wall_seconds is not None
    assert done.measurement.rss_before is not None
    assert service.pool.pids()  # the process stays for the next node


async def test_a_failing_node_in_a_process_fails_its_session_with_its_own_error(
    service: Service,
) -> None:
    await service.enqueue_batch("default", one_node("f", {"type": "test_echo", "text": "fail"}))
    failed = await ended(service, "f.0")
    assert isinstance(failed, ev.SessionFailed)
    assert (failed.error_type, failed.error_message) == ("NodeError", "echo was told to fail")
    [node] = [r.data for r in await service.store.read_stream(session_stream("f.0"))
              if isinstance(r.data, ev.InvocationFailed)]  # fmt: skip
    assert "echo was told to fail" in node.error_traceback
    assert "invoke" in node.error_traceback  # the traceback from the node's own process


async def test_torch_nodes_run_in_a_process_and_their_artifacts_reach_the_parent(
    service: Service,
) -> None:
    pytest.importorskip("torch")
    node = {"type": "noise", "width": 8, "height": 8}
    batch = one_node("t", node)
    await service.enqueue_batch("default", batch)
    assert isinstance(await ended(service, "t.0"), ev.SessionCompleted)
    detail = await service.session_detail("default", "t.0")
    assert detail.results["n"]["tensor"]["artifact"] in service.artifacts


async def test_health_answers_while_a_catastrophic_regex_runs_and_a_cancel_ends_it(
    tmp_path: Path,
) -> None:
    node = {"type": "string_replace", "string": "a" * 34 + "!", "search": "(a+)+$",
            "use_regex": True}  # fmt: skip
    settings = settings_for(tmp_path, node_isolation="process", node_processes=1)
    async with Service.open(settings, run_workers=True) as service:
        transport = httpx.ASGITransport(app=create_app(service))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            await service.enqueue_batch("default", one_node("r", node))
            await first(service, frozenset({"invocation.started"}), "r.0")
            timings = []
            # Answered while the regex holds its process's interpreter (a second of its CPU).
            while not timings or _cpu_seconds(service) < 1.0:
                started = time.perf_counter()
                assert (await http.get("/api/v1/health")).status_code == 200
                timings.append(time.perf_counter() - started)
            for _ in range(5):
                started = time.perf_counter()
                assert (await http.get("/api/v1/health")).status_code == 200
                timings.append(time.perf_counter() - started)
        # A frozen interpreter would take seconds; a loaded machine adds tens of ms at most.
        assert statistics.median(timings) < 0.1, timings
        assert max(timings) < 1.0, timings
        [regex_process] = service.pool.pids()
        await service.cancel_session("r.0")
        assert isinstance(await ended(service, "r.0"), ev.SessionCanceled)
        # Killed, and replaced: the next node runs in the new process.
        await anyio.to_thread.run_sync(wait_gone, regex_process)
        await service.enqueue_batch("default", one_node("after", {"type": "test_echo"}))
        assert isinstance(await ended(service, "after.0"), ev.SessionCompleted)
        assert service.pool.replaced == 1
        assert regex_process not in service.pool.pids()


def wait_gone(pid: int) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):  # killed and reaped already
        psutil.Process(pid).wait(30)


def _cpu_seconds(service: Service) -> float:
    total = 0.0
    for pid in service.pool.pids():
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total
