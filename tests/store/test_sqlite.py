"""What only the SQLite backend does: files, locks, URLs, the in-memory store."""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import textwrap
import threading
from pathlib import Path

import anyio
import pytest

from eventsvc.errors import EventDecodeError, StoreError, StoreLockedError
from eventsvc.events import CODEC
from eventsvc.projections.builtin import projected
from eventsvc.store import open_store
from eventsvc.testing import memory_store, session_started
from tests.backends import SqliteBackend

pytestmark = pytest.mark.anyio


async def test_the_memory_store_works_and_says_it_is_not_durable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="eventsvc.store"):
        async with memory_store() as store:
            await store.append("a", [session_started()])
            assert [e.position for e in await store.read_all()] == [1]
    assert "not durable" in caplog.text


async def test_the_memory_store_cannot_be_read_only() -> None:
    with pytest.raises(StoreError, match="cannot be opened read-only"):
        async with open_store("sqlite://:memory:", read_only=True):
            pass


async def test_payloads_are_stored_exactly_as_encoded(backend: SqliteBackend) -> None:
    event = session_started()
    async with backend.open() as store:
        await store.append("a", [event])
    [(data, metadata)] = backend.execute_raw("SELECT data, metadata FROM events")
    assert data.encode() == CODEC.encode(event)
    assert metadata == "{}"


async def test_a_second_writer_process_is_refused_by_name(backend: SqliteBackend) -> None:
    script = textwrap.dedent(
        f"""
        import anyio
        from eventsvc.store import open_store

        async def main():
            async with open_store({backend.url!r}):
                pass

        anyio.run(main)
        """
    )
    async with backend.open():
        result = await anyio.run_process([sys.executable, "-c", script], check=False)
    assert result.returncode != 0
    message = result.stderr.decode()
    assert "StoreLockedError" in message
    assert "already open for writing by pid" in message


async def test_the_lock_is_released_on_close(backend: SqliteBackend) -> None:
    async with backend.open():
        with pytest.raises(StoreLockedError):
            async with backend.open():
                pass
    async with backend.open() as store:
        assert await store.head() == 0


@pytest.mark.usefixtures("umask_022")
async def test_the_database_its_wal_and_lock_are_private_to_the_user(tmp_path: Path) -> None:
    path = tmp_path / "data" / "log.db"
    async with open_store(f"sqlite://{path}") as store:
        await store.append("a", [session_started()])
        # The -wal and -shm files exist while the store is open.
        modes = {
            name: os.stat(f"{path}{name}").st_mode & 0o777 for name in ("", "-wal", "-shm", ".lock")
        }
    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600, ".lock": 0o600}
    assert os.stat(path.parent).st_mode & 0o777 == 0o700


async def test_a_file_that_is_not_sqlite_is_named(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are not the events you are looking for\n" * 100)
    with pytest.raises(StoreError, match=r"notes\.txt"):
        async with open_store(f"sqlite://{path}"):
            pass


async def test_a_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    with pytest.raises(StoreError, match="is not an eventsvc store"):
        async with open_store(f"sqlite://{path}"):
            pass


async def test_a_store_written_by_a_newer_schema_is_refused(backend: SqliteBackend) -> None:
    async with backend.open():
        pass
    backend.execute_raw("UPDATE eventsvc_schema SET version = 99")
    with pytest.raises(StoreError, match="store schema version 99"):
        async with backend.open():
            pass


async def test_an_undecodable_row_names_its_position(backend: SqliteBackend) -> None:
    async with backend.open() as store:
        for _ in range(3):
            await store.append("a", [session_started()])
    backend.execute_raw("UPDATE events SET data = '{\"type\": 5}' WHERE position = 2")
    async with backend.open(read_only=True) as reader:
        assert len(await reader.read_all(limit=1)) == 1
        with pytest.raises(EventDecodeError, match="position 2"):
            await reader.read_all()


async def test_a_mangled_event_id_names_its_position(backend: SqliteBackend) -> None:
    async with backend.open() as store:
        for _ in range(3):
            await store.append("a", [session_started()])
    backend.execute_raw("UPDATE events SET event_id = 'not-a-uuid\"' WHERE position = 3")
    async with backend.open(read_only=True) as reader:
        with pytest.raises(EventDecodeError, match="position 3"):
            await reader.read_all()


async def test_read_only_needs_an_existing_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no event store at"):
        async with open_store(f"sqlite://{tmp_path}/missing.db", read_only=True):
            pass


async def test_synchronous_can_be_set_in_the_url(tmp_path: Path) -> None:
    async with open_store(f"sqlite://{tmp_path}/a.db?synchronous=normal") as store:
        await store.append("a", [session_started()])
    with pytest.raises(StoreError, match="synchronous must be one of"):
        async with open_store(f"sqlite://{tmp_path}/b.db?synchronous=sometimes"):
            pass
    with pytest.raises(StoreError, match="unknown sqlite store URL option 'cache'"):
        async with open_store(f"sqlite://{tmp_path}/c.db?cache=shared"):
            pass


async def test_relative_paths_are_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with open_store("sqlite://var/logs.db") as store:
        await store.append("a", [session_started()])
    assert (tmp_path / "var" / "logs.db").exists()


async def test_a_string_that_is_no_url_is_refused() -> None:
    with pytest.raises(StoreError, match=r"not a store URL: 'events\.db'"):
        async with open_store("events.db"):
            pass


async def test_a_closed_store_refuses_work(backend: SqliteBackend) -> None:
    async with backend.open() as store:
        pass
    with pytest.raises(StoreError, match="is closed"):
        await store.append("a", [session_started()])
    with pytest.raises(StoreError, match="is closed"):
        await store.read_all()


async def test_a_point_query_reads_the_latest_commit_and_stops_with_the_store(
    backend: SqliteBackend,
) -> None:
    async with backend.open() as opened:
        store = projected(opened)
        table = "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)"
        await store.create_beside([table])
        upsert = "INSERT INTO kv VALUES ('a', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v"
        for value in ("one", "two"):
            await store.write_beside(lambda tx, v=value: tx.execute(upsert, (v,)))  # type: ignore[misc]
            assert await store.point_query("SELECT v FROM kv WHERE k = ?", ("a",)) == [(value,)]
        with pytest.raises(StoreError, match="no such table"):
            await store.point_query("SELECT 1 FROM missing")
    with pytest.raises(StoreError, match="is closed"):
        await store.point_query("SELECT v FROM kv")


async def test_a_subscriber_joining_while_a_commit_runs_hears_of_that_commit(
    backend: SqliteBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its read of the log may come before the commit, so the commit must reach its ring
    even though nobody listened when the commit began."""
    async with backend.open() as store:
        began, release = threading.Event(), threading.Event()
        plan = store._stream_versions  # type: ignore[attr-defined]

        def held_open(raw: sqlite3.Connection, group: object) -> object:
            began.set()
            release.wait(10)
            return plan(raw, group)

        monkeypatch.setattr(store, "_stream_versions", held_open)
        seen: list[int] = []
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(store.append, "a", [session_started()])
                await anyio.to_thread.run_sync(began.wait, 10)
                async with store.subscribe() as subscription:
                    events = aiter(subscription)
                    async with anyio.create_task_group() as reader:

                        async def take() -> None:
                            seen.append((await anext(events)).position)

                        reader.start_soon(take)
                        await subscription.wait_live()  # caught up with a log still empty
                        release.set()
        assert seen == [1]
