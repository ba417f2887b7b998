"""Bad input never produces a 500: schemathesis sends generated requests to a live server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings

from eventsvc.api import create_app
from eventsvc.config import Settings
from eventsvc.service import Service

SCHEMA = schemathesis.openapi.from_dict(
    json.loads((Path(__file__).parents[2] / "schemas" / "openapi.json").read_text())
)


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server on a loopback port, in a thread with its own event loop."""
    directory = tmp_path_factory.mktemp("fuzz")
    config = Settings(
        store_url=f"sqlite://{directory}/events.db", artifacts_dir=str(directory / "artifacts")
    )
    ready, state = threading.Event(), {}

    async def serve() -> None:
        async with Service.open(config, run_workers=True) as service:
            server = uvicorn.Server(
                uvicorn.Config(
                    create_app(service),
                    host="127.0.0.1",
                    port=0,
                    lifespan="off",
                    log_level="warning",
                )
            )
            state["server"] = server
            async with anyio.create_task_group() as tg:
                tg.start_soon(server.serve)
                while not server.started:  # noqa: ASYNC110 (uvicorn offers no event for it)
                    await anyio.sleep(0.01)
                state["port"] = server.servers[0].sockets[0].getsockname()[1]
                ready.set()

    thread = threading.Thread(target=anyio.run, args=(serve,), daemon=True)
    thread.start()
    assert ready.wait(20), "the server did not start"
    yield f"http://127.0.0.1:{state['port']}"
    state["server"].should_exit = True
    thread.join(20)


@SCHEMA.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_request_gets_a_server_error(case: Any, live_url: str) -> None:
    if case.path == "/api/v1/events":
        case.query = {**(case.query or {}), "follow": "false"}
    response = case.call(base_url=live_url, timeout=10)
    assert response.status_code < 500, (case.method, case.path, response.text[:300])
