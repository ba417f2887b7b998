"""Time limits of nodes and sessions: a node past its limit fails its session with code
``timeout``; a thread is abandoned (its late result never appended), an async body canceled,
a worker process killed and replaced."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest

from eventsvc import events as ev
from eventsvc.api import create_app
from eventsvc.ids import session_stream
from eventsvc.service import Service
from tests import isolated_nodes
from tests.test_isolation import ended, one_node, settings_for

pytestmark = pytest.mark.anyio

REGEX = {"type": "string_replace", "string": "a" * 34 + "!", "search": "(a+)+$", "use_regex": True}


async def failure_of(service: Service, session_id: str) -> ev.InvocationFailed:
    session = await ended(service, session_id)
    assert isinstance(session, ev.SessionFailed), session
    assert session.error_type == "timeout"
    [failed] = [r.data for r in await service.store.read_stream(session_stream(session_id))
                if isinstance(r.data, ev.InvocationFailed)]  # fmt: skip
    assert failed.error_type == "timeout"
    assert session.error_message == failed.error_message
    return failed


async def test_a_stuck_thread_is_abandoned_its_result_discarded_and_counted(
    tmp_path: Path,
) -> None:
    isolated_nodes.RELEASE.clear()
    async with Service.open(settings_for(tmp_path)) as service:
        executor = service.executor(threads=1)
        async with anyio.create_task_group() as tg:
            await tg.start(executor.run)
            await service.enqueue_batch("default", one_node("h", {"type": "test_hang"}))
            failed = await failure_of(service, "h.0")
            assert failed.error_message == "node 'n' (test_hang) ran past its time limit of 0.2 s"
            transport = httpx.ASGITransport(app=create_app(service))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                health = (await http.get("/api/v1/health")).json()
                metrics = (await http.get("/metrics")).text
            assert health["abandoned_threads"] == 1
            assert "eventsvc_abandoned_threads 1.0" in metrics
            # The next node needs the one thread slot: it runs once the stuck thread returns.
            await service.enqueue_batch("default", one_node("next", {"type": "add"}))
            isolated_nodes.RELEASE.set()
            assert isinstance(await ended(service, "next.0"), ev.SessionCompleted)
            assert service.abandoned_threads == 0
            tags = [r.tag for r in await service.store.read_stream(session_stream("h.0"))]
            assert "invocation.completed" not in tags  # the late result was never appended
            tg.cancel_scope.cancel()


async def test_an_async_node_past_its_limit_is_canceled(tmp_path: Path) -> None:
    async with Service.open(settings_for(tmp_path), run_workers=True) as service:
        await service.enqueue_batch("default", one_node("a", {"type": "test_async_hang"}))
        failed = await failure_of(service, "a.0")
        assert "ran past its time limit of 0.2 s" in failed.error_message
        assert service.abandoned_threads == 0


async def test_a_node_in_a_process_is_killed_at_its_limit_and_the_process_replaced(
    tmp_path: Path,
) -> None:
    async with Service.open(settings_for(tmp_path, node_processes=1), run_workers=True) as service:
        await service.enqueue_batch("default", one_node("s", {"type": "test_spin"}))
        failed = await failure_of(service, "s.0")
        assert failed.error_message == "node 'n' (test_spin) ran past its time limit of 0.5 s"
        assert service.pool.replaced == 1
        await service.enqueue_batch("default", one_node("e", {"type": "test_echo", "text": "x"}))
        assert isinstance(await ended(service, "e.0"), ev.SessionCompleted)


async def test_the_setting_gives_the_default_node_limit(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, node_isolation="process", node_timeout_seconds=0.5)
    async with Service.open(settings, run_workers=True) as service:
        await service.enqueue_batch("default", one_node("d", REGEX))
        failed = await failure_of(service, "d.0")
        assert failed.error_message == (
            "node 'n' (string_replace) ran past its time limit of 0.5 s"
        )


async def test_a_session_past_its_maximum_runtime_fails_the_same_way(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, node_isolation="process", session_timeout_seconds=0.5)
    async with Service.open(settings, run_workers=True) as service:
        await service.enqueue_batch("default", one_node("m", REGEX))
        failed = await failure_of(service, "m.0")
        assert failed.error_message == (
            "node 'n' (string_replace) ran past the session's time limit of 0.5 s"
        )
