"""``eventsvc serve`` as a real process: SIGINT and SIGTERM stop it cleanly, open streams too."""

from __future__ import annotations

import signal
from pathlib import Path

import anyio
import httpx
import pytest

from tests.cli_process import running, serving

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_a_signal_stops_serve_with_status_0_and_no_traceback(
    tmp_path: Path, signum: signal.Signals
) -> None:
    async with serving("--db", str(tmp_path / "e.db")) as (command, url):
        with anyio.fail_after(30):
            async with (
                httpx.AsyncClient(base_url=url, timeout=30) as client,
                client.stream("GET", "/api/v1/events") as stream,
            ):
                # The stream's response has started: it lasts until the client or the server
                # ends it, and the server must end it rather than wait for it.
                assert stream.status_code == 200
                command.process.send_signal(signum)
                async for _ in stream.aiter_bytes():
                    pass
            code = await command.finish()
    assert code == 0, command.stderr
    assert "Traceback" not in command.stderr
    assert "graceful shutdown exceeded" not in command.stderr
    assert "Finished server process" in command.stderr


async def test_a_signal_before_the_server_listens_ends_serve_too(tmp_path: Path) -> None:
    async with running("serve", "--port", "0", "--db", str(tmp_path / "e.db")) as command:
        with anyio.fail_after(30):
            await command.wait_for("eventsvc serving")
            command.process.send_signal(signal.SIGINT)
            code = await command.finish()
    assert code == 0, command.stderr
    assert "Traceback" not in command.stderr
