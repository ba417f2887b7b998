"""Backends for the store contract suite (and every test taking ``backend``): each opens,
reopens and tampers with its own store; ``tests/conftest.py`` installs the fixtures.

The PostgreSQL backend needs ``EVENTSVC_TEST_POSTGRES_DSN`` (``tools/postgres.sh`` sets it);
each test gets a fresh schema of its own, dropped afterwards. Without a reachable server its
tests are skipped, except when ``CI`` is set: there they fail, never silently skip.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import asyncpg
import pytest

from eventsvc.store import EventStore, StoreOptions, open_store
from eventsvc.testing import FakeClock

_T = TypeVar("_T")


class Backend(Protocol):
    name: str
    url: str
    clock: FakeClock

    def open(
        self, *, read_only: bool = False, options: StoreOptions | None = None
    ) -> AbstractAsyncContextManager[EventStore]: ...

    def edit_payload(self, position: int, data: str) -> None: ...

    def delete(self, position: int) -> None: ...

    def swap_payloads(self, first: int, second: int) -> None: ...


class SqliteBackend:
    name = "sqlite"

    def __init__(self, directory: Path) -> None:
        self.path = directory / "log.db"
        self.url = f"sqlite://{self.path}"
        self.clock = FakeClock()

    def open(
        self, *, read_only: bool = False, options: StoreOptions | None = None
    ) -> AbstractAsyncContextManager[EventStore]:
        return open_store(self.url, read_only=read_only, options=options, clock=self.clock)

    def execute_raw(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run SQL behind the store's back (to tamper with the log)."""
        with sqlite3.connect(self.path) as conn:
            return conn.execute(sql, params).fetchall()

    def edit_payload(self, position: int, data: str) -> None:
        self.execute_raw("UPDATE events SET data = ? WHERE position = ?", (data, position))

    def delete(self, position: int) -> None:
        self.execute_raw("DELETE FROM events WHERE position = ?", (position,))

    def swap_payloads(self, first: int, second: int) -> None:
        """Exchange two rows' payloads and hashes, each still a valid hash of its own row."""
        columns = ("tag", "data", "metadata", "hash")
        rows = {
            row[0]: row[1:]
            for row in self.execute_raw(
                f"SELECT position, {', '.join(columns)} FROM events WHERE position IN (?, ?)",
                (first, second),
            )
        }
        assignments = ", ".join(f"{column} = ?" for column in columns)
        for position, other in ((first, second), (second, first)):
            self.execute_raw(
                f"UPDATE events SET {assignments} WHERE position = ?", (*rows[other], position)
            )


def blocking(work: Callable[[], Awaitable[_T]]) -> _T:
    """Run async driver code to its end from sync code, inside a running event loop or not."""

    async def run() -> _T:
        return await work()

    with ThreadPoolExecutor(1) as executor:
        return executor.submit(asyncio.run, run()).result()


class PostgresBackend:
    """One fresh schema of the test database; the store lives in it via ``search_path``."""

    name = "postgres"

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        self.schema = schema
        self.url = f"{dsn}{'&' if '?' in dsn else '?'}search_path={schema}"
        self.clock = FakeClock()

    def open(
        self, *, read_only: bool = False, options: StoreOptions | None = None
    ) -> AbstractAsyncContextManager[EventStore]:
        return open_store(self.url, read_only=read_only, options=options, clock=self.clock)

    async def fetch(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Run SQL (``$1`` placeholders) in the store's schema, behind the store's back."""
        conn = await asyncpg.connect(self.url)
        try:
            return [tuple(row) for row in await conn.fetch(sql, *params)]
        finally:
            await conn.close()

    def execute_raw(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return blocking(lambda: self.fetch(sql, *params))

    def edit_payload(self, position: int, data: str) -> None:
        self.execute_raw("UPDATE events SET data = $1 WHERE position = $2", (data, position))

    def delete(self, position: int) -> None:
        self.execute_raw("DELETE FROM events WHERE position = $1", (position,))

    def swap_payloads(self, first: int, second: int) -> None:
        """Exchange two rows' payloads and hashes, each still a valid hash of its own row."""
        self.execute_raw(
            "UPDATE events e SET tag = o.tag, data = o.data, metadata = o.metadata, "
            "hash = o.hash FROM events o WHERE (e.position, o.position) IN (($1, $2), ($2, $1))",
            (first, second),
        )


_reachable: dict[str, str | None] = {}


def postgres_dsn() -> str:
    """The test server's DSN; skips the test (fails it under CI) when there is none."""
    dsn = os.environ.get("EVENTSVC_TEST_POSTGRES_DSN", "")
    if dsn not in _reachable:
        _reachable[dsn] = _why_unreachable(dsn)
    why = _reachable[dsn]
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL tests cannot run under CI: {why}", pytrace=False)
        pytest.skip(f"PostgreSQL tests skipped: {why}")
    return dsn


def _why_unreachable(dsn: str) -> str | None:
    if not dsn:
        return "EVENTSVC_TEST_POSTGRES_DSN is not set (source tools/postgres.sh)"

    async def probe() -> None:
        conn = await asyncpg.connect(dsn, timeout=5)
        await conn.close()

    try:
        blocking(probe)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        return f"the server in EVENTSVC_TEST_POSTGRES_DSN cannot be reached: {exc}"
    return None


@contextmanager
def fresh_schema() -> Iterator[PostgresBackend]:
    """A schema of its own in the test database, dropped afterwards."""
    dsn = postgres_dsn()
    backend = PostgresBackend(dsn, f"test_{uuid.uuid4().hex[:16]}")

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    blocking(lambda: run(f"CREATE SCHEMA {backend.schema}"))
    try:
        yield backend
    finally:
        blocking(lambda: run(f"DROP SCHEMA {backend.schema} CASCADE"))


@pytest.fixture
def postgres_backend() -> Iterator[PostgresBackend]:
    with fresh_schema() as backend:
        yield backend


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "backends(*names, reason): run a store test on these backends only"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test taking ``backend`` runs on every backend (ids ``sqlite``, ``postgres``),
    except in a backend's own test module, or where ``@pytest.mark.backends`` says why not."""
    if "backend" not in metafunc.fixturenames:
        return
    module = metafunc.module.__name__.rpartition(".")[2]
    names = [name for name in ("sqlite", "postgres") if module.startswith(f"test_{name}")]
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is not None:
        names = list(marker.args)
    metafunc.parametrize("backend", names or ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield SqliteBackend(tmp_path)
    else:
        yield request.getfixturevalue("postgres_backend")


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[EventStore]:
    async with backend.open() as opened:
        yield opened
