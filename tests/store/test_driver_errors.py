"""Driver errors never leave ``store/``: with the database failing under it, every public path
of every backend raises ``StoreError`` (which the API answers 503), never sqlite3's or
asyncpg's own errors (which it would answer 500)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import httpx
import pytest

from eventsvc.api import create_app
from eventsvc.config import Settings
from eventsvc.errors import StoreError
from eventsvc.projections.builtin import ProjectedStore, builtin_projections, projected
from eventsvc.service import Service
from eventsvc.store import EventStore
from eventsvc.store.postgres import PostgresEventStore
from eventsvc.store.sqlite import SqliteEventStore
from eventsvc.testing import batch_enqueued, session_started
from tests.backends import Backend

pytestmark = pytest.mark.anyio


@contextmanager
def failing(store: EventStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The database fails under ``store`` for the block: every driver call raises."""
    if isinstance(store, SqliteEventStore):

        async def broken(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
            raise sqlite3.OperationalError("disk I/O error (injected)")

        with monkeypatch.context() as patch:
            patch.setattr(aiosqlite.Connection, "_execute", broken)
            closed = sqlite3.connect(":memory:")
            closed.close()
            patch.setattr(store, "_inline", closed)  # the point-query connection
            yield
        return
    assert isinstance(store, PostgresEventStore)
    db = store._db
    pool, writer = db._pool, store._writer
    # The server is gone: what is open fails, and so would any new connection.
    with monkeypatch.context() as patch:
        patch.setattr(db, "dsn", "postgresql://eventsvc@127.0.0.1:9/gone")
        patch.setattr(db, "_pool", _ClosedPool())
        patch.setattr(db, "_kept", [])  # the connections kept for single statements
        patch.setattr(store, "_writer", None)
        yield
    assert pool is not None  # closed with the store, as usual
    del writer


class _ClosedPool:
    """A pool whose every connection failed."""

    def __getattr__(self, name: str) -> Any:
        import asyncpg

        raise asyncpg.InterfaceError(f"connection is closed (injected, {name})")


def public_paths(store: ProjectedStore) -> dict[str, Callable[[], Awaitable[Any]]]:
    async def subscribe() -> None:
        async with store.subscribe(after=0) as subscription:
            async for _ in subscription:
                pass

    async def snapshot() -> None:
        async with store.snapshot() as view:
            await view.read_rows()

    return {
        "append": lambda: store.append("s", [session_started()]),
        "read_stream": lambda: store.read_stream("s"),
        "read_all": lambda: store.read_all(),
        "read_rows": lambda: store.read_rows(),
        "head": lambda: store.head(),
        "subscribe": subscribe,
        "query": lambda: store.query("SELECT 1"),
        "point_query": lambda: store.point_query("SELECT 1"),
        "exists": lambda: store.exists("events"),
        "create_beside": lambda: store.create_beside(["CREATE TABLE IF NOT EXISTS t (a TEXT)"]),
        "write_beside": lambda: store.write_beside(lambda tx: tx.execute("SELECT 1")),
        "register": lambda: store.register(builtin_projections()[0]),
        "rebuild": lambda: store.rebuild("queue"),
        "wait_for_projections": lambda: store.wait_for_projections(2),
        "snapshot": snapshot,
        "import_rows": lambda: store.import_rows([]),
    }


async def test_every_public_path_raises_store_error_when_the_database_fails(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with backend.open() as opened:
        store = projected(opened)
        for projection in builtin_projections():
            await store.register(projection)
        await store.append("batch-b1", [batch_enqueued("b1")])
        await store.append("s", [session_started()])
        raised = {}
        with failing(store, monkeypatch):
            for name, call in public_paths(store).items():
                try:
                    await call()
                except StoreError:
                    raised[name] = "StoreError"
                except Exception as exc:  # the failure this test exists to catch
                    raised[name] = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
                else:
                    raised[name] = "no error"
    # No driver error leaves the store; what needs no database (the SQLite writer knows its
    # head, an import of nothing stores nothing) may succeed, and everything else fails.
    leaked = {name: kind for name, kind in raised.items() if kind not in ("StoreError", "no error")}
    assert leaked == {}
    answered = {name for name, kind in raised.items() if kind == "no error"}
    assert answered <= {"head", "wait_for_projections", "import_rows"}


@pytest.fixture
async def served(
    backend: Backend, tmp_path: Path
) -> AsyncIterator[tuple[Service, httpx.AsyncClient]]:
    settings = Settings(store_url=backend.url, artifacts_dir=str(tmp_path / "artifacts"))
    async with Service.open(settings) as service:
        transport = httpx.ASGITransport(app=create_app(service))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield service, http


async def test_the_api_answers_503_never_500_when_the_database_fails(
    served: tuple[Service, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, http = served
    batch = {"batch": {"batch_id": "b", "graph": {"nodes": {"a": {"type": "add", "id": "a"}}}}}
    assert (await http.post("/api/v1/queue/q/enqueue_batch", json=batch)).status_code == 200
    requests = [
        ("POST", "/api/v1/queue/q/enqueue_batch", {"batch": {**batch["batch"], "batch_id": "c"}}),
        ("GET", "/api/v1/queue/q/status", None),
        ("GET", "/api/v1/queue/q/b/b/status", None),
        ("GET", "/api/v1/queue/q/sessions", None),
        ("GET", "/api/v1/queue/q/s/b.0", None),
        ("PUT", "/api/v1/queue/q/processor/pause", None),
        ("GET", "/api/v1/stats/node_types", None),
        ("GET", "/api/v1/cache", None),
        ("GET", "/api/v1/health", None),
        ("POST", "/api/v1/projections/queue/rebuild", None),
    ]
    with failing(service.store, monkeypatch):
        answers = {
            path: (await http.request(method, path, json=body)).status_code
            for method, path, body in requests
        }
    assert answers == {path: 503 for _, path, _ in requests}
