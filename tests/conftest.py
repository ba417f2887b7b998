from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
from hypothesis import settings

# The store backends' fixtures and the hook that runs a test taking ``backend`` on each.
from tests.backends import (  # noqa: F401
    backend,
    postgres_backend,
    pytest_configure,
    pytest_generate_tests,
    store,
)

# Shared CI machines stall now and then: a property test is judged on its answers, not speed.
settings.register_profile("eventsvc", deadline=None, print_blob=True)
settings.load_profile("eventsvc")


@pytest.fixture
def anyio_backend() -> str:
    # uvicorn, aiosqlite and asyncpg need asyncio; anyio would otherwise run every test twice.
    return "asyncio"


@pytest.fixture(autouse=True)
def no_leaked_sqlite_connections() -> Iterator[None]:
    """An unclosed aiosqlite connection keeps a thread alive that stops the interpreter exiting."""
    before = set(threading.enumerate())
    yield
    started = [t for t in threading.enumerate() if t not in before]
    leaked = [t for t in started if "_connection_worker_thread" in t.name]
    for thread in leaked:
        thread.join(timeout=2)
    alive = [t.name for t in leaked if t.is_alive()]
    assert not alive, f"SQLite connections left open by this test: {alive}"


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The common umask, under which a file created without an explicit mode is 0644: a test
    of file modes must not pass only because the machine's umask is strict."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)
