"""Archives on SQLite: the file really shrinks, and a store made before archives existed is
switched to incremental auto-vacuum by its first archive."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import pytest

from eventsvc.archive import ArchiveRequest, archive
from eventsvc.audit import audit
from eventsvc.events import QueuePaused
from eventsvc.ids import queue_stream
from eventsvc.projections.builtin import open_projected
from eventsvc.testing import FakeClock
from tests.store.test_contract_archives import traffic

pytestmark = pytest.mark.anyio


def free_pages(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        [(free,)] = conn.execute("PRAGMA freelist_count").fetchall()
    return int(free)


def pages(path: Path) -> tuple[int, int]:
    """(page_count * page_size, auto_vacuum) of the database file."""
    with sqlite3.connect(path) as conn:
        [(count,)] = conn.execute("PRAGMA page_count").fetchall()
        [(size,)] = conn.execute("PRAGMA page_size").fetchall()
        [(mode,)] = conn.execute("PRAGMA auto_vacuum").fetchall()
    return count * size, mode


async def test_the_file_shrinks_after_an_archive(tmp_path: Path) -> None:
    path, clock = tmp_path / "events.db", FakeClock()
    async with open_projected(f"sqlite://{path}", clock=clock) as store:
        await traffic(store, 3000)
        head = await store.head()
        before = await store.size_bytes()
        report = await archive(store, ArchiveRequest(before_position=head), tmp_path / "a",
                               clock=clock)  # fmt: skip
        after = await store.size_bytes()
    assert report.bytes_before == before
    assert report.bytes_after == after
    size, mode = pages(path)
    assert mode == 2  # INCREMENTAL, from the store's creation
    assert after < before / 4
    assert size == after  # the WAL was checkpointed and truncated
    assert path.stat().st_size == size


async def test_a_store_made_without_incremental_vacuum_is_switched_at_its_first_archive(
    tmp_path: Path,
) -> None:
    path, clock = tmp_path / "events.db", FakeClock()
    async with open_projected(f"sqlite://{path}", clock=clock) as store:
        await traffic(store, 2000)
    with sqlite3.connect(path) as conn:  # as a store of an earlier eventsvc was made
        conn.execute("PRAGMA auto_vacuum = NONE")
        conn.execute("VACUUM")
    assert pages(path)[1] == 0
    async with open_projected(f"sqlite://{path}", clock=clock) as store:
        before = path.stat().st_size
        head = await store.head()
        await archive(store, ArchiveRequest(before_position=head), tmp_path / "a", clock=clock)
        assert (await audit(store)).clean
    size, mode = pages(path)
    assert mode == 2
    assert path.stat().st_size == size < before / 4


async def test_an_append_while_the_rows_are_removed_lands_after_the_archive(
    tmp_path: Path,
) -> None:
    """The rows go while the file is written, in a transaction that holds the writer: an
    append meanwhile waits for the commit and follows ``log.archived``."""
    path, clock = tmp_path / "events.db", FakeClock()
    async with open_projected(f"sqlite://{path}", clock=clock) as store:
        await traffic(store, 1000)
        head = await store.head()
        appended: list[int] = []

        async def append_meanwhile() -> None:
            result = await store.append(queue_stream("default"), [QueuePaused(queue_id="default")])
            appended.append(result.last_position)

        async with anyio.create_task_group() as tasks:

            async def once_the_file_is_written() -> None:
                tasks.start_soon(append_meanwhile)
                await anyio.wait_all_tasks_blocked()  # the append waits for the writer
                assert appended == []

            report = await archive(store, ArchiveRequest(before_position=head), tmp_path / "a",
                                   clock=clock, before_commit=once_the_file_is_written)  # fmt: skip
        assert appended == [report.event_position + 1]
        assert (await audit(store)).clean


async def test_a_small_archive_keeps_what_it_freed_for_the_appends_to_come(
    tmp_path: Path,
) -> None:
    path, clock = tmp_path / "events.db", FakeClock()
    async with open_projected(f"sqlite://{path}", clock=clock) as store:
        await traffic(store, 3000)
        size_before = pages(path)[0]
        report = await archive(store, ArchiveRequest(before_position=300), tmp_path / "a",
                               clock=clock)  # fmt: skip
        assert 0 < report.events < 400
        free = free_pages(path)
        assert free > 0  # within the reserve: kept, not handed back
        assert pages(path)[0] == size_before
        await traffic(store, 300)
        assert free_pages(path) < free  # the appends took pages from it
