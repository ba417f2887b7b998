"""A real ``eventsvc`` command in a subprocess, its output read as it runs, for tests that
signal it or talk to the server it starts."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import httpx

# The console script's entry point, with SIGINT raising KeyboardInterrupt as in a terminal
# whatever the disposition this test runner was started with (a background job ignores it).
ENTRY = (
    "import signal, sys\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "from eventsvc.cli import main\n"
    "sys.exit(main())\n"
)


class Command:
    """The process and everything it has written so far."""

    def __init__(self, process: anyio.abc.Process) -> None:
        self.process = process
        self.out = bytearray()
        self.err = bytearray()
        self._changed = anyio.Event()

    async def pump(self, stream: anyio.abc.ByteReceiveStream | None, into: bytearray) -> None:
        assert stream is not None
        async for chunk in stream:
            into.extend(chunk)
            self._changed.set()
            self._changed = anyio.Event()

    async def wait_for(self, pattern: str, *, stdout: bool = False) -> re.Match[str]:
        """The first match of ``pattern`` in stderr (or stdout), once it has been written."""
        while True:
            written = (self.out if stdout else self.err).decode(errors="replace")
            match = re.search(pattern, written)
            if match is not None:
                return match
            if self.process.returncode is not None:
                raise AssertionError(f"exited {self.process.returncode} first:\n{written}")
            await self._changed.wait()

    async def finish(self) -> int:
        """Wait for the exit status, with all output read."""
        return await self.process.wait()

    @property
    def stderr(self) -> str:
        return self.err.decode(errors="replace")

    @property
    def stdout(self) -> str:
        return self.out.decode(errors="replace")


@asynccontextmanager
async def running(*argv: str, env: dict[str, str] | None = None) -> AsyncIterator[Command]:
    environment = {k: v for k, v in os.environ.items() if k != "EVENTSVC_TOKEN"}
    environment.update(env or {})
    process = await anyio.open_process([sys.executable, "-c", ENTRY, *argv], env=environment)
    async with process, anyio.create_task_group() as tg:
        command = Command(process)
        tg.start_soon(command.pump, process.stdout, command.out)
        tg.start_soon(command.pump, process.stderr, command.err)
        try:
            yield command
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()


@asynccontextmanager
async def serving(
    *argv: str, env: dict[str, str] | None = None
) -> AsyncIterator[tuple[Command, str]]:
    """``eventsvc serve`` on a free loopback port, once its health route answers."""
    async with running("serve", "--port", "0", *argv, env=env) as command:
        with anyio.fail_after(60):
            url = (await command.wait_for(r"Uvicorn running on (http://\S+)"))[1]
            token = (env or {}).get("EVENTSVC_TOKEN")
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with httpx.AsyncClient(base_url=url, headers=headers) as client:
                health = await client.get("/api/v1/health")
                assert health.status_code == 200, health.text
        yield command, url
