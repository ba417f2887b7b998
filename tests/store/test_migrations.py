"""Schema versions and migrations: a store records its version, an older one is migrated on
open, a newer one (or, read-only, an older one) is refused naming both versions."""

from __future__ import annotations

import io
import shutil
import sqlite3
from pathlib import Path

import pytest

from eventsvc.cli import main
from eventsvc.errors import StoreError
from eventsvc.events import QueuePaused
from eventsvc.store import migrations, open_store
from eventsvc.store.migrations import Step
from tests.backends import Backend
from tests.store.test_formats import FORMATS

pytestmark = pytest.mark.anyio


def test_steps_follow_the_base_version_one_by_one() -> None:
    migrations.check_order(migrations.STEPS)
    with pytest.raises(ValueError, match="step 4 out of order: expected 3"):
        migrations.check_order([Step(2, "a"), Step(4, "b")])


def test_a_store_newer_than_the_code_is_refused_naming_both() -> None:
    newer = migrations.current() + 1
    with pytest.raises(StoreError, match=f"version {newer}, newer than this eventsvc's version"):
        migrations.pending(newer, "the store")
    assert migrations.pending(migrations.current(), "the store") == []
    assert [s.version for s in migrations.pending(1, "the store")] == [
        s.version for s in migrations.STEPS
    ]


async def test_a_fresh_store_walks_every_step_and_records_it(backend: Backend) -> None:
    async with backend.open() as store:
        await store.append("queue-q", [QueuePaused(queue_id="q")])
    assert await migrations.stored_version(backend.url) == migrations.current()
    history = backend.execute_raw("SELECT version, applied_at FROM eventsvc_migrations")
    assert sorted(v for v, _ in history) == [s.version for s in migrations.STEPS]
    assert {at for _, at in history} == {backend.clock.now_us()}


async def test_a_newer_store_is_refused_on_open(backend: Backend) -> None:
    async with backend.open():
        pass
    newer = migrations.current() + 7
    backend.execute_raw(f"UPDATE eventsvc_schema SET version = {newer}")
    with pytest.raises(
        StoreError, match=f"version {newer}, newer .* version {migrations.current()}"
    ):
        async with backend.open():
            pass


async def test_an_older_store_opened_read_only_is_refused_with_what_to_do(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    shutil.copyfile(FORMATS / "store-v1.db", path)
    with pytest.raises(StoreError, match=r"version 1; this eventsvc reads version .*migrate"):
        async with open_store(f"sqlite://{path}", read_only=True):
            pass


def run(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue() + err.getvalue()


def test_migrate_check_says_what_would_run_and_migrate_runs_it(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    shutil.copyfile(FORMATS / "store-v1.db", path)
    code, out = run("migrate", "--check", "--db", str(path))
    assert code == 1
    assert "at schema version 1" in out
    assert "would run" in out
    assert "2: a history of the migration steps" in out
    assert _version(path) == 1
    code, out = run("migrate", "--db", str(path))
    assert (code, _version(path)) == (0, migrations.current())
    code, out = run("migrate", "--check", "--db", str(path))
    assert code == 0
    assert "nothing to run" in out


def _version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT version FROM eventsvc_schema").fetchone()[0])
