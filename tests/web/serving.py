"""A real ``eventsvc serve`` on a free loopback port and Debian's Chromium driven by
Playwright, for the browser tests, ``tools/screenshots`` and the dashboard benchmark.

The browser is the system's (``/usr/bin/chromium``); nothing is downloaded. Without it the
browser tests are skipped, except under ``CI``, where they fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = os.environ.get("EVENTSVC_CHROMIUM", "/usr/bin/chromium")
STARTED = "Uvicorn running on"


def chromium_or_skip() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    why = f"no Chromium at {CHROMIUM} (tools/test installs Debian's chromium package)"
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run under CI: {why}", pytrace=False)
    pytest.skip(why)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Served:
    """``eventsvc serve`` on ``store`` (a SQLite file), restartable on the same port."""

    def __init__(self, store: Path, *, workers: int = 2, port: int | None = None) -> None:
        self.store = store
        self.workers = workers
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr: list[str] = []

    def start(self) -> Served:
        command = [sys.executable, "-m", "eventsvc", "serve", "--port", str(self.port),
                   "--store", f"sqlite://{self.store}", "--workers", str(self.workers)]  # fmt: skip
        env = {**os.environ, "EVENTSVC_HOME": str(self.store.parent)}
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        started = threading.Event()
        self.reader = threading.Thread(target=self._read, args=(self.process, started))
        self.reader.start()
        if not started.wait(60) or self.process.poll() is not None:
            raise AssertionError("eventsvc serve did not start:\n" + "".join(self.stderr))
        return self

    def _read(self, process: subprocess.Popen[bytes], started: threading.Event) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            text = line.decode(errors="replace")
            self.stderr.append(text)
            if STARTED in text:
                started.set()
        started.set()  # it exited: start() reports what it wrote

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        if self.process is not None and self.process.stderr is not None:
            self.reader.join(30)
            self.process.stderr.close()
        self.process = None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(method, f"{self.url}/api/v1{path}", json=body, timeout=60)
        assert response.status_code < 300, response.text
        return response.json()


def add_batch(batch_id: str, count: int) -> dict[str, Any]:
    graph = {"nodes": {"a": {"type": "add", "id": "a", "b": 1}}, "edges": []}
    data = [[{"node_path": "a", "field_name": "a", "items": list(range(count))}]]
    return {"batch": {"batch_id": batch_id, "graph": graph, "data": data}}


def image_batch(batch_id: str, seeds: list[int], size: int = 16) -> dict[str, Any]:
    edge = {
        "source": {"node_id": "noise", "field": "tensor"},
        "destination": {"node_id": "image", "field": "tensor"},
    }
    noise = {"type": "noise", "id": "noise", "width": size, "height": size, "channels": 3}
    graph = {
        "nodes": {"noise": noise, "image": {"type": "to_image", "id": "image"}},
        "edges": [edge],
    }
    data = [[{"node_path": "noise", "field_name": "seed", "items": seeds}]]
    return {"batch": {"batch_id": batch_id, "graph": graph, "data": data}}
