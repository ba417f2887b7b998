"""Node bodies in worker processes: a small pool, one node at a time per process (L1).

A node that computes in pure Python holds the interpreter it runs in; in a thread that is the
service's own, and the API freezes with it. In a worker process it holds only that process,
which can be killed. The pool starts its processes (``spawn``: safe beside the parent's
threads) when first needed and keeps them; a cancel or a timeout kills the process running
the node and starts a replacement.

A node crosses the boundary as its JSON and its output comes back as JSON, as the log holds
them (large values are already artifact references). The child measures the node itself
(``StatsContext``: its time, its RSS, its VRAM) and returns the readings with the outputs.
What the node asks of its context there is served by the parent over the same pipe: artifact
calls are answered from the parent's artifact store, progress is forwarded to subscribers.
The parent waits for a reply in a worker thread (the pipe is blocking), so the event loop
never blocks; a killed process closes the pipe, which ends that thread.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import pickle
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import anyio

from eventsvc import instruments
from eventsvc.invocations.base import BaseInvocation
from eventsvc.invocations.context import ArtifactStore
from eventsvc.invocations.registry import REGISTRY
from eventsvc.sampling import Sampler, StatsContext

log = logging.getLogger("eventsvc.isolation")

Report = Callable[[float, str], None]


class RemoteTraceback(Exception):
    """The traceback of a node's exception as the worker process printed it."""

    def __str__(self) -> str:
        return str(self.args[0])


class RemoteNodeError(Exception):
    """A node's exception that could not cross back from its process as itself."""


class ProcessDied(Exception):
    """The worker process ended before the node did (it crashed, or was killed)."""


@dataclass(frozen=True, slots=True)
class Ids:
    queue_id: str
    batch_id: str
    session_id: str
    node_id: str

    def as_tuple(self) -> tuple[str, str, str, str]:
        return self.queue_id, self.batch_id, self.session_id, self.node_id


class MeasuredElsewhere(Sampler):
    """The readings a worker process took around a node."""

    def __init__(self, readings: dict[str, Any]) -> None:
        self.readings = readings
        self.started_at: datetime = readings["started_at"]
        self.start_time = self.started_at.timestamp()
        self.ended_at = readings["ended_at"]
        self.wall_seconds = readings["wall_seconds"]
        self.rss_before = readings["rss_before"]
        self.rss_after = readings["rss_after"]
        self.vram_peak = readings["vram_peak"]
        self.vram_delta = readings["vram_delta"]
        self.overlapped = readings["overlapped"]

    def as_measurement(self) -> dict[str, Any]:
        return dict(self.readings)


# --- the child ----------------------------------------------------------------------------


class _ChildArtifacts:
    """The parent's artifact store, reached over the pipe."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _call(self, method: str, *args: Any) -> Any:
        self._conn.send(("artifact", method, args))
        ok, value = self._conn.recv()
        if not ok:
            raise value
        return value

    def put(self, data: bytes, media_type: str) -> str:
        return str(self._call("put", data, media_type))

    def get(self, sha256: str) -> bytes:
        return bytes(self._call("get", sha256))

    def media_type(self, sha256: str) -> str:
        return str(self._call("media_type", sha256))

    def delete(self, sha256: str) -> None:
        self._call("delete", sha256)

    def __contains__(self, sha256: str) -> bool:
        return bool(self._call("__contains__", sha256))


@dataclass
class _ChildContext:
    """The ``InvocationContext`` of a node in a worker process. A cancel kills the process,
    so ``is_canceled`` is never true here."""

    queue_id: str
    batch_id: str
    session_id: str
    node_id: str
    logger: logging.Logger
    artifacts: ArtifactStore
    conn: Connection

    def is_canceled(self) -> bool:
        return False

    def progress(self, fraction: float, message: str = "") -> None:
        self.conn.send(("progress", fraction, message))


def _child_main(conn: Connection) -> None:
    """A worker process: run the nodes it is sent, one at a time, until the pipe closes."""
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        conn.send(_run_in_child(conn, *request))


def _run_in_child(
    conn: Connection, module: str, node_type: str, node_json: str, ids: Ids
) -> tuple[Any, ...]:
    importlib.import_module(module)  # registers the node type, as in the parent
    cls = REGISTRY.get(node_type)
    assert cls is not None, node_type
    node = cls.model_validate_json(node_json)
    logger = logging.getLogger(f"eventsvc.node.{node_type}")
    context = _ChildContext(*ids.as_tuple(), logger, _ChildArtifacts(conn), conn)
    stats = StatsContext()
    try:
        with stats:
            output = node.invoke(context)
    except Exception as exc:  # the node's failure travels back as data
        return ("failed", _picklable(exc), traceback.format_exc(), stats.as_measurement())
    return ("done", output.model_dump_json(), stats.as_measurement())


def _picklable(exc: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # an exception type that does not pickle: its name and message do
        return RemoteNodeError(f"{type(exc).__name__}: {exc}")
    return exc


# --- the parent ---------------------------------------------------------------------------


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, context: multiprocessing.context.SpawnContext) -> None:
        self.conn, child = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_child_main, args=(child,), name="eventsvc-node", daemon=True
        )
        self.process.start()
        child.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()

    def stop(self) -> None:
        self.conn.close()  # the child reads EOF and returns
        self.process.join(5)
        if self.process.is_alive():
            self.kill()


def _exchange(worker: _Worker, request: tuple[Any, ...], artifacts: ArtifactStore,
              report: Report) -> tuple[Any, ...]:  # fmt: skip
    """Send one node, serve its context's calls, and return the child's answer."""
    try:
        worker.conn.send(request)
        while True:
            message = worker.conn.recv()
            match message:
                case ("artifact", method, args):
                    worker.conn.send(_serve_artifact(artifacts, method, args))
                case ("progress", fraction, text):
                    report(fraction, text)
                case _:
                    return tuple(message)
    except (EOFError, OSError) as exc:
        raise ProcessDied(f"the node's worker process ended ({exc!r})") from None


def _serve_artifact(artifacts: ArtifactStore, method: str, args: tuple[Any, ...]) -> Any:
    try:
        return True, getattr(artifacts, method)(*args)
    except Exception as exc:  # the node sees the store's own error, raised in its process
        return False, _picklable(exc)


class ProcessPool:
    """``size`` worker processes, each running one node at a time."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._context = multiprocessing.get_context("spawn")
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()  # idle or busy
        self._slots = anyio.Semaphore(size)
        # The threads waiting on the pipes: one per process at most.
        self._limiter = anyio.CapacityLimiter(size)
        self.replaced = 0

    async def run(
        self,
        node: BaseInvocation,
        ids: Ids,
        artifacts: ArtifactStore,
        report: Report,
    ) -> tuple[str | None, Exception | None, Sampler]:
        """The node's output JSON or its own exception, and its readings. Canceled (by the
        caller's scope: a cancel or a timeout), the process is killed and replaced; a process
        that dies under the node raises ``ProcessDied``."""
        request = (type(node).__module__, node.node_type, node.model_dump_json(), ids)
        async with self._slots:
            worker = self._idle.pop() if self._idle else await self._start()
            try:
                answer = await anyio.to_thread.run_sync(
                    _exchange, worker, request, artifacts, report,
                    abandon_on_cancel=True, limiter=self._limiter,
                )  # fmt: skip
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self._replace(worker)
                raise
            self._idle.append(worker)
        return _unpack(answer)

    def pids(self) -> list[int]:
        """The worker processes' ids, idle or busy."""
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    async def _start(self) -> _Worker:
        worker = await anyio.to_thread.run_sync(_Worker, self._context)
        self._workers.add(worker)
        return worker

    async def _replace(self, worker: _Worker) -> None:
        """Kill the process (its node may still run) and start another in its place."""
        self._workers.discard(worker)
        await anyio.to_thread.run_sync(worker.kill)
        self.replaced += 1
        instruments.PROCESSES_REPLACED.inc()
        with contextlib.suppress(OSError):
            self._idle.append(await self._start())

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        self._workers.difference_update(idle)
        with anyio.CancelScope(shield=True):
            for worker in idle:
                await anyio.to_thread.run_sync(worker.stop)


def _unpack(answer: tuple[Any, ...]) -> tuple[str | None, Exception | None, Sampler]:
    match answer:
        case ("done", outputs, readings):
            return outputs, None, MeasuredElsewhere(readings)
        case ("failed", error, remote_traceback, readings):
            error.__cause__ = RemoteTraceback(remote_traceback)
            return None, error, MeasuredElsewhere(readings)
    raise ProcessDied(f"unexpected answer from a node's process: {answer[0]!r}")
