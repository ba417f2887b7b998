"""Serving the app with uvicorn until SIGINT or SIGTERM, then stopping cleanly.

uvicorn's own handlers re-raise the signal once the server has stopped (a KeyboardInterrupt
traceback for SIGINT, death by SIGTERM), so ``serve`` listens for both itself: the first asks
uvicorn to exit, a second forces it. Responses that only end when the client leaves
(the event stream) hear ``http.disconnect`` once stopping begins, so an open dashboard does
not hold the shutdown. The access log redacts the token (``access_log.py``).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Generator
from contextlib import AbstractAsyncContextManager, contextmanager

import anyio
import anyio.abc
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventsvc.api import access_log

# A backstop: a request still running this long after a signal is cancelled.
GRACE_SECONDS = 10


async def serve(
    open_app: Callable[[], AbstractAsyncContextManager[ASGIApp]], host: str, port: int
) -> None:
    """Serve the app that ``open_app`` yields on ``host:port`` until SIGINT or SIGTERM; a
    signal while the app is still opening ends the opening instead."""
    stopper = _Stopper()
    failure: BaseException | None = None
    async with anyio.create_task_group() as tg:
        await tg.start(stopper.watch)
        try:
            with stopper.opening:
                async with open_app() as app:
                    await _serve(app, host, port, stopper)
        except BaseException as exc:  # re-raised below, not wrapped in a group
            failure = exc
        tg.cancel_scope.cancel()
    if failure is not None:
        raise failure


async def _serve(app: ASGIApp, host: str, port: int, stopper: _Stopper) -> None:
    drain = Drain(app)
    config = uvicorn.Config(
        drain,
        host=host,
        port=port,
        lifespan="off",
        log_level="info",
        timeout_graceful_shutdown=GRACE_SECONDS,
    )
    access_log.install()  # after Config, which (re)configures uvicorn's loggers
    server = _Server(config)
    stopper.serving(server, drain)
    await server.serve()


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # serve() handles SIGINT and SIGTERM; uvicorn's handlers would re-raise them at exit.
        yield


class _Stopper:
    """Turns signals into a stop: of the opening while there is no server yet, else of the
    server (forced on a second signal)."""

    def __init__(self) -> None:
        self.opening = anyio.CancelScope()
        self.server: uvicorn.Server | None = None
        self.drain: Drain | None = None

    def serving(self, server: uvicorn.Server, drain: Drain) -> None:
        self.server, self.drain = server, drain

    async def watch(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        if threading.current_thread() is not threading.main_thread():
            # Only the main thread receives signals (a test may serve from another).
            task_status.started()
            return
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            async for _ in signals:
                self.stop()

    def stop(self) -> None:
        if self.server is None or self.drain is None:
            self.opening.cancel()
        elif self.server.should_exit:
            self.server.force_exit = True
        else:
            self.server.should_exit = True
            self.drain.close()


class Drain:
    """ASGI middleware: once ``close()`` is called, a request whose response has started and
    that waits to hear from the client is told the client has gone (``http.disconnect``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._closing = anyio.Event()

    def close(self) -> None:
        self._closing.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = anyio.Event()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        async def receiving() -> Message:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._hang_up, started, tg.cancel_scope)
                message = await receive()
                tg.cancel_scope.cancel()
                return message
            return {"type": "http.disconnect"}

        await self.app(scope, receiving, sending)

    async def _hang_up(self, started: anyio.Event, receiving: anyio.CancelScope) -> None:
        # Only once the response has started: a request body still arriving is read to the end.
        await self._closing.wait()
        await started.wait()
        receiving.cancel()
