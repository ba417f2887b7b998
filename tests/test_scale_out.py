"""Scale-out: three ``eventsvc serve`` processes on one PostgreSQL schema share the log, the queue
and the work; any of them answers commands, queries and the event stream; one SIGKILLed
mid-batch has its sessions resumed by the others after the lease, and the log audits clean.
Batches enqueued by several clients at once drain, on one process as on three.

Each process is a real subprocess (``python -m eventsvc serve``), started one after another
unless a test says otherwise; the crash test serves through ``tests.run_service`` so that the
slow node type it uses is registered there too.
"""

from __future__ import annotations

import collections
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.abc
import httpx
import pytest

from eventsvc.client import EventsvcClient
from eventsvc.events import RecordedEvent
from eventsvc.store import open_store
from tests.backends import PostgresBackend, fresh_schema
from tests.postgres import everything

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).parent.parent
ENDED = frozenset({"session.completed", "session.failed", "session.canceled"})


@pytest.fixture
def schema() -> Iterator[PostgresBackend]:
    """A fresh schema of the test database for the whole group of processes."""
    with fresh_schema() as fresh:
        yield fresh


# --- the processes ----------------------------------------------------------------------------


@dataclass
class Served:
    """One ``eventsvc serve`` subprocess and where it answers."""

    process: anyio.abc.Process
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def owns(self, worker_id: str | None) -> bool:
        """Whether ``worker_id`` is one of this process's workers (ids carry the pid)."""
        return worker_id is not None and f"-{self.pid}-" in worker_id

    def output(self) -> str:
        return f"--- {self.log.name} (pid {self.pid}) ---\n{self.log.read_text(errors='replace')}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_healthy(served: Served) -> None:
    """Poll the health route until it answers (the caller bounds it); a process that exits
    fails at once."""
    async with httpx.AsyncClient(base_url=served.url, timeout=5) as http:
        while served.process.returncode is None:
            try:
                if (await http.get("/api/v1/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await anyio.sleep(0.05)
    raise AssertionError(f"the service exited before it was ready\n{served.output()}")


async def start(
    store_url: str,
    directory: Path,
    n: int,
    *,
    lease: float,
    module: str = "eventsvc",
    workers: int = 2,
) -> Served:
    """Process ``n``: ``python -m MODULE serve`` on a free port with ``workers`` workers."""
    env = {
        **os.environ,
        "EVENTSVC_LEASE_SECONDS": str(lease),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    env.pop("EVENTSVC_TOKEN", None)
    port = free_port()
    log = directory / f"service-{n}.log"
    command = [sys.executable, "-m", module, "serve", "--store", store_url]
    command += ["--port", str(port), "--workers", str(workers)]
    with log.open("wb") as out:
        process = await anyio.open_process(command, cwd=directory, env=env, stdout=out, stderr=out)
    return Served(process, f"http://127.0.0.1:{port}", log)


@asynccontextmanager
async def serving(
    store_url: str,
    directory: Path,
    count: int,
    *,
    lease: float = 5.0,
    module: str = "eventsvc",
    at_once: bool = False,
    workers: int = 2,
    first: int = 0,
) -> AsyncIterator[list[Served]]:
    """``count`` processes serving ``store_url`` (numbered from ``first``, for their logs), all
    ready: started one after another (each ready before the next), or all ``at_once``. Every
    one still running is SIGKILLed after."""
    group: list[Served] = []
    try:
        with anyio.fail_after(30):
            for n in range(first, first + count):
                served = await start(
                    store_url, directory, n, lease=lease, module=module, workers=workers
                )
                group.append(served)
                if not at_once:
                    await wait_healthy(group[-1])
            async with anyio.create_task_group() as tg:
                for served in group:
                    tg.start_soon(wait_healthy, served)
        yield group
    finally:
        with anyio.CancelScope(shield=True):
            for served in group:
                if served.process.returncode is None:
                    served.process.kill()
                await served.process.wait()
                await served.process.aclose()


def logs(group: list[Served]) -> str:
    return "\n".join(served.output() for served in group)


# --- following the log ------------------------------------------------------------------------


@dataclass
class Follower:
    """The SSE stream of one process from position 0: every (position, tag, data) it sent."""

    served: Served
    frames: list[tuple[int, str, Any]] = field(default_factory=list)
    _changed: anyio.Event = field(default_factory=anyio.Event)

    async def run(self) -> None:
        async with EventsvcClient(self.served.url) as client:
            async for frame in client.subscribe(after=0):
                if frame.id is not None:
                    self.frames.append((frame.id, frame.event, frame.data))
                    self._changed.set()
                    self._changed = anyio.Event()

    async def until(self, done: Callable[[tuple[int, str, Any]], bool]) -> None:
        """Until ``done`` holds for a frame, each frame given to it once, in order."""
        checked = 0
        while True:
            while checked < len(self.frames):
                checked += 1
                if done(self.frames[checked - 1]):
                    return
            await self._changed.wait()

    async def until_ended(self, batch_id: str, sessions: int) -> None:
        await self.until_all_ended({batch_id}, sessions)

    async def until_position(self, position: int) -> None:
        await self.until(lambda frame: frame[0] >= position)

    async def until_all_ended(self, batch_ids: set[str], sessions: int) -> None:
        """Until ``sessions`` sessions of the batches ``batch_ids`` have ended."""
        ended: set[str] = set()

        def done(frame: tuple[int, str, Any]) -> bool:
            _, tag, data = frame
            if tag in ENDED and data.batch_id in batch_ids:
                ended.add(data.session_id)
            return len(ended) == sessions

        await self.until(done)


async def read_log(store_url: str) -> list[RecordedEvent]:
    async with open_store(store_url, read_only=True) as store:
        return await everything(store)


def per_session(log: list[RecordedEvent], tag: str) -> collections.Counter[str]:
    return collections.Counter(r.data.session_id for r in log if r.tag == tag)  # type: ignore[attr-defined]


async def heartbeats(schema: PostgresBackend) -> dict[str, float]:
    """Every worker's last heartbeat, in seconds since the epoch by the database's clock."""
    return dict(await schema.fetch("SELECT worker_id, heartbeat_at FROM worker_leases"))


async def audit(store_url: str) -> None:
    result = await anyio.run_process(
        [sys.executable, "-m", "eventsvc", "audit", "--store", store_url],
        cwd=ROOT,
        check=False,
    )
    output = (result.stdout + result.stderr).decode(errors="replace")
    assert result.returncode == 0, output
    assert "clean" in output, output


def batch(batch_id: str, nodes: dict[str, Any], edges: list[Any], items: int) -> dict[str, Any]:
    graph = {"nodes": {node_id: {"id": node_id, **node} for node_id, node in nodes.items()}}
    graph["edges"] = edges
    data = [[{"node_path": "a", "field_name": "a", "items": list(range(items))}]]
    return {"batch_id": batch_id, "graph": graph, "data": data}


def edge(source: str, destination: str) -> dict[str, dict[str, str]]:
    (s_node, s_field), (d_node, d_field) = source.split("."), destination.split(".")
    return {"source": {"node_id": s_node, "field": s_field},
            "destination": {"node_id": d_node, "field": d_field}}  # fmt: skip


# --- the tests --------------------------------------------------------------------------------


async def test_processes_started_at_once_on_a_fresh_schema_all_serve(
    schema: PostgresBackend, tmp_path: Path
) -> None:
    """They race to create the store's tables; every one comes up, and none prints the
    store's password (it names the store by its redacted URL)."""
    store_url = schema.url
    async with serving(store_url, tmp_path, 3, at_once=True) as group:
        async with EventsvcClient(group[2].url) as client:
            assert (await client.status("default")).counts.uninitialized == 0
        password = urlsplit(store_url).password
        for served in group:
            assert not password or password not in served.log.read_text(), served.output()


# 2,000 sessions: some 30 s on two idle cores; more on busy ones, and twice that when no worker
# lands on the first candidate (see the lone worker's test).
@pytest.mark.timeout(180)
async def test_three_processes_share_one_log_and_run_each_session_once(
    schema: PostgresBackend, tmp_path: Path
) -> None:
    store_url = schema.url
    sessions = 2000
    async with serving(store_url, tmp_path, 3) as group:
        followers = [Follower(served) for served in group]
        try:
            async with anyio.create_task_group() as tg:
                for follower in followers:
                    tg.start_soon(follower.run)
                with anyio.fail_after(150):
                    async with EventsvcClient(group[0].url) as first:
                        work = batch("wide", {"a": {"type": "add", "b": 1}}, [], sessions)
                        enqueued = await first.enqueue_batch("default", work)
                    assert enqueued.session_count == sessions
                    # Queries on the other processes see the command at once.
                    for served in group[1:]:
                        async with EventsvcClient(served.url) as other:
                            status = await other.batch_status("default", "wide")
                        assert status.counts.total == sessions

                    await followers[0].until_ended("wide", sessions)
                    async with httpx.AsyncClient(base_url=group[1].url) as http:
                        head = (await http.get("/api/v1/health")).json()["head"]
                    for follower in followers:
                        await follower.until_position(head)
                tg.cancel_scope.cancel()
            async with EventsvcClient(group[2].url) as last:
                counts = (await last.status("default")).counts.model_dump()
        except BaseException:
            print(logs(group))
            raise

    assert counts == {**dict.fromkeys(counts, 0), "completed": sessions}
    # Every process streamed the same log: the same dense positions, the same events.
    first_seen = followers[0].frames
    assert [position for position, _, _ in first_seen] == list(range(1, head + 1))
    for follower in followers[1:]:
        assert follower.frames == first_seen

    log = await read_log(store_url)
    assert [r.position for r in log] == list(range(1, head + 1))
    once = {f"wide.{i}": 1 for i in range(sessions)}
    assert per_session(log, "session.started") == once
    assert per_session(log, "session.resumed") == {}
    assert per_session(log, "session.completed") == once
    values = {
        r.data.session_id: r.data.outputs["value"]  # type: ignore[attr-defined]
        for r in log
        if r.tag == "invocation.completed"
    }
    assert values == {f"wide.{i}": i + 1 for i in range(sessions)}
    # The work was shared: every process ran sessions.
    owners = collections.Counter(
        next(n for n, served in enumerate(group) if served.owns(r.data.worker_id))  # type: ignore[attr-defined]
        for r in log
        if r.tag == "session.started"
    )
    assert sorted(owners) == [0, 1, 2], owners


async def test_a_killed_process_has_its_sessions_resumed_by_the_others(
    schema: PostgresBackend, tmp_path: Path
) -> None:
    store_url = schema.url
    # A lease of 5 s: on a loaded 2-core runner a survivor's beat can lag 2.5 s, and a
    # survivor judged dead would (rightly) have its sessions resumed too.
    sessions, lease = 200, 5.0
    nodes = {
        name: {"type": "test_slow_add", "b": b} for name, b in (("a", 1), ("b", 10), ("c", 100))
    }
    edges = [edge("a.value", "b.a"), edge("b.value", "c.a")]
    chain = batch("crash", nodes, edges, sessions)
    async with serving(store_url, tmp_path, 3, lease=lease, module="tests.run_service") as group:
        victim, survivors = group[0], group[1:]
        followers = [Follower(served) for served in survivors]
        try:
            async with anyio.create_task_group() as tg:
                for follower in followers:
                    tg.start_soon(follower.run)
                with anyio.fail_after(90):
                    async with EventsvcClient(survivors[0].url) as client:
                        await client.enqueue_batch("default", chain)

                    ended = 0

                    def victim_mid_session(frame: tuple[int, str, dict[str, Any]]) -> bool:
                        # Some sessions done, and the victim just finished the first of a
                        # session's three nodes: it holds a session with a durable completion.
                        nonlocal ended
                        _, tag, data = frame
                        ended += tag in ENDED
                        return (
                            ended >= sessions // 4
                            and tag == "invocation.completed"
                            and data.node_id == "a"
                            and victim.owns(data.worker_id)
                        )

                    await followers[0].until(victim_mid_session)
                    os.kill(victim.pid, signal.SIGKILL)
                    killed_at = time.time()
                    await victim.process.wait()

                    await followers[0].until_ended("crash", sessions)
                    async with httpx.AsyncClient(base_url=survivors[1].url) as http:
                        head = (await http.get("/api/v1/health")).json()["head"]
                    for follower in followers:
                        await follower.until_position(head)
                tg.cancel_scope.cancel()
            async with EventsvcClient(survivors[1].url) as client:
                counts = (await client.batch_status("default", "crash")).counts.model_dump()
            with anyio.fail_after(30):
                await audit(store_url)
        except BaseException:
            print(logs(group))
            raise
    assert victim.process.returncode == -signal.SIGKILL
    assert counts == {**dict.fromkeys(counts, 0), "completed": sessions}
    assert followers[0].frames == followers[1].frames
    assert [position for position, _, _ in followers[0].frames] == list(range(1, head + 1))

    log = await read_log(store_url)
    once = {f"crash.{i}": 1 for i in range(sessions)}
    assert per_session(log, "session.started") == once
    assert per_session(log, "session.completed") == once

    # The victim's interrupted sessions, and only those, were resumed, once, by a survivor,
    # once the lease of the victim's last heartbeat (before the kill) had run out.
    resumed = [r for r in log if r.tag == "session.resumed"]
    assert resumed, "the victim held no session when it was killed"
    beats = await heartbeats(schema)
    last_beat = max(at for worker_id, at in beats.items() if victim.owns(worker_id))
    assert last_beat <= killed_at + 0.05
    for record in resumed:
        data: Any = record.data
        assert victim.owns(data.previous_worker_id), data
        assert any(s.owns(data.worker_id) for s in survivors), data
        assert record.recorded_at / 1e6 >= last_beat + lease - 0.05, (record, last_beat)
    assert set(per_session(log, "session.resumed").values()) == {1}
    # Some resumed session kept a completion from before the kill (the resume skipped it).
    resumed_at = {record.data.session_id: record.position for record in resumed}  # type: ignore[attr-defined]
    kept = [
        r
        for r in log
        if r.tag == "invocation.completed" and r.position < resumed_at.get(r.data.session_id, 0)  # type: ignore[attr-defined]
    ]
    assert kept, "no resumed session had a durable completion to keep"

    # No node whose completion was durable ran again, and every value is right.
    completions = collections.Counter(
        (r.data.session_id, r.data.attempt, r.data.node_id)  # type: ignore[attr-defined]
        for r in log
        if r.tag == "invocation.completed"
    )
    assert max(completions.values()) == 1
    values = {
        (r.data.session_id, r.data.node_id): r.data.outputs["value"]  # type: ignore[attr-defined]
        for r in log
        if r.tag == "invocation.completed"
    }
    assert values == {
        (f"crash.{i}", node): i + step
        for i in range(sessions)
        for node, step in (("a", 1), ("b", 11), ("c", 111))
    }


# --- concurrent enqueues ----------------------------------------------------------------------

PAIR = 2  # sessions per batch
SLACK = 4  # how much slower than the rate measured beforehand a drain may be


def pairs(prefix: str, count: int) -> list[dict[str, Any]]:
    return [batch(f"{prefix}{i}", {"a": {"type": "add", "b": 1}}, [], PAIR) for i in range(count)]


async def enqueue_concurrently(
    group: list[Served], batches: list[dict[str, Any]], enqueuers: int = 4
) -> None:
    """Enqueue ``batches`` from ``enqueuers`` clients at once, each on a process in turn."""

    async def enqueue(k: int) -> None:
        async with EventsvcClient(group[k % len(group)].url) as client:
            for work in batches[k::enqueuers]:
                await client.enqueue_batch("default", work)

    async with anyio.create_task_group() as tg:
        for k in range(enqueuers):
            tg.start_soon(enqueue, k)


async def drain(
    follower: Follower, group: list[Served], batches: list[dict[str, Any]], bound: float
) -> float:
    """Enqueue ``batches`` concurrently and wait until every session ended, failing past
    ``bound`` seconds; how many seconds it took."""
    batch_ids, sessions = {b["batch_id"] for b in batches}, PAIR * len(batches)
    began = anyio.current_time()
    try:
        with anyio.fail_after(bound):
            await enqueue_concurrently(group, batches)
            await follower.until_all_ended(batch_ids, sessions)
    except TimeoutError:
        ended = {
            data.session_id
            for _, tag, data in follower.frames
            if tag in ENDED and data.batch_id in batch_ids
        }
        raise AssertionError(
            f"{len(ended)} of {sessions} sessions ended within {bound:.1f} s "
            f"on {len(group)} process(es)"
        ) from None
    return anyio.current_time() - began


@pytest.mark.timeout(400)
async def test_concurrent_enqueues_drain_on_one_process_and_on_three(
    schema: PostgresBackend, tmp_path: Path
) -> None:
    """Four clients enqueue two-session batches at once while one worker per process runs
    them: every session completes, on one process and then on three. Each drain is bounded by
    a rate measured earlier in this test: the one process's by its rate on batches enqueued
    one at a time, the three processes' by the one process's concurrent drain."""
    store_url, count, warm = schema.url, 200, 10
    async with serving(store_url, tmp_path, 1, workers=1) as group:
        follower = Follower(group[0])
        processes = list(group)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(follower.run)
                began = anyio.current_time()
                with anyio.fail_after(60):
                    async with EventsvcClient(group[0].url) as client:
                        for work in pairs("warm", warm):
                            await client.enqueue_batch("default", work)
                            await follower.until_ended(work["batch_id"], PAIR)
                rate = PAIR * warm / (anyio.current_time() - began)

                one = await drain(follower, group, pairs("one", count), SLACK * PAIR * count / rate)
                async with serving(store_url, tmp_path, 2, workers=1, first=1) as more:
                    processes += more
                    await drain(follower, processes, pairs("three", count), SLACK * one)
                tg.cancel_scope.cancel()
        except BaseException:
            print(logs(processes))
            raise

    log = await read_log(store_url)
    once = {
        f"{prefix}{i}.{j}": 1
        for prefix in ("one", "three")
        for i in range(count)
        for j in range(PAIR)
    }
    started = per_session(log, "session.started")
    completed = per_session(log, "session.completed")
    assert {s: n for s, n in started.items() if s in once} == once
    assert {s: n for s, n in completed.items() if s in once} == once
