"""The access log never shows the token: redaction, and the log of a real ``eventsvc serve``."""

from __future__ import annotations

import signal
from pathlib import Path

import anyio
import httpx
import pytest

from eventsvc.api.access_log import redact
from tests.cli_process import serving

SECRET = "s3cret-T0ken"


def test_every_token_parameter_is_redacted_and_nothing_else() -> None:
    assert (
        redact("/api/v1/events?token=abc&follow=false") == "/api/v1/events?token=***&follow=false"
    )
    assert redact("/e?after=3&token=abc") == "/e?after=3&token=***"
    # The server decodes parameter names, so an encoded name is a token too.
    assert redact("/e?%74oken=abc&token=def") == "/e?%74oken=***&token=***"
    assert redact('"GET /e?token=a"b HTTP/1.1" 200') == '"GET /e?token=*** HTTP/1.1" 200'
    for untouched in ("/e", "/e?tokens=1", "/e?a=token", "/e?after=1&follow=true"):
        assert redact(untouched) == untouched


@pytest.mark.anyio
async def test_the_access_log_of_serve_shows_requests_but_never_the_token(tmp_path: Path) -> None:
    env = {"EVENTSVC_TOKEN": SECRET}
    async with serving("--db", str(tmp_path / "e.db"), env=env) as (command, url):
        with anyio.fail_after(30):
            async with httpx.AsyncClient(base_url=url) as client:
                for query in (f"token={SECRET}&follow=false", f"follow=false&%74oken={SECRET}"):
                    answer = await client.get(f"/api/v1/events?{query}")
                    assert answer.status_code == 200
                bearer = {"Authorization": f"Bearer {SECRET}"}
                assert (await client.get("/api/v1/health", headers=bearer)).status_code == 200
                assert (await client.get("/api/v1/health")).status_code == 401
            # uvicorn writes its access log to standard output.
            await command.wait_for(r'"GET /api/v1/health HTTP/1.1" 401', stdout=True)
            command.process.send_signal(signal.SIGTERM)
            assert await command.finish() == 0
    log = command.stdout
    assert '"GET /api/v1/events?token=***&follow=false HTTP/1.1" 200' in log
    assert '"GET /api/v1/events?follow=false&%74oken=*** HTTP/1.1" 200' in log
    assert SECRET not in log
    assert SECRET not in command.stderr
