"""Backends for the store contract suite: each opens, reopens and tampers with its own store."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from eventsvc.store import EventStore, StoreOptions, open_store
from eventsvc.testing import FakeClock


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


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> SqliteBackend:
    return SqliteBackend(tmp_path)


@pytest.fixture
async def store(backend: SqliteBackend) -> AsyncIterator[EventStore]:
    async with backend.open() as opened:
        yield opened
