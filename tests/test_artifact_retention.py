"""Artifact retention on both backends: what nothing names goes once older than the grace
period; what an event or the cache names, or a recent put stored, stays; puts racing a
clean-up never lose an artifact."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from eventsvc.artifact_retention import sweep
from eventsvc.artifacts import FileArtifactStore
from eventsvc.cli import main
from eventsvc.projections.builtin import ProjectedStore, builtin_projections, projected
from eventsvc.store import EventStore
from eventsvc.testing import invocation_completed, new_event
from tests.backends import Backend

pytestmark = pytest.mark.anyio
HOUR = 3600.0


async def with_projections(store: EventStore) -> ProjectedStore:
    host = projected(store)
    for projection in builtin_projections():
        await host.register(projection)
    return host


def age(backend: Backend, artifacts: Any, sha: str, seconds: float) -> None:
    """Make an artifact look stored ``seconds`` ago (times are set, never waited for)."""
    if backend.name == "sqlite":
        past = time.time() - seconds
        os.utime(artifacts.path(sha), (past, past))
    else:
        backend.execute_raw(
            "UPDATE artifacts SET stored_at = stored_at - $1 WHERE sha256 = $2", (seconds, sha)
        )


async def put(artifacts: Any, data: bytes) -> str:
    return str(await anyio.to_thread.run_sync(artifacts.put, data, "application/octet-stream"))


async def test_only_old_unnamed_artifacts_go(backend: Backend, tmp_path: Path) -> None:
    async with backend.open() as opened:
        store = await with_projections(opened)
        artifacts: Any = store.artifact_store(tmp_path / "artifacts")
        named, orphan, young = [await put(artifacts, b) for b in (b"named", b"orphan", b"young")]
        event = invocation_completed("n", {"image": {"artifact": named, "kind": "image"}})
        await store.append("session-b1.0", [new_event(event)])
        for sha in (named, orphan):
            age(backend, artifacts, sha, 2 * HOUR)
        swept = await sweep(store, artifacts, grace=HOUR)
        assert swept.removed == [orphan]
        assert swept.examined == 2
        present = await anyio.to_thread.run_sync(lambda: [s in artifacts for s in (named, young)])
        assert present == [True, True]
        assert not await anyio.to_thread.run_sync(artifacts.__contains__, orphan)


async def test_a_put_again_makes_an_artifact_young(backend: Backend, tmp_path: Path) -> None:
    async with backend.open() as opened:
        store = await with_projections(opened)
        artifacts: Any = store.artifact_store(tmp_path / "artifacts")
        sha = await put(artifacts, b"again")
        age(backend, artifacts, sha, 2 * HOUR)
        await put(artifacts, b"again")
        assert (await sweep(store, artifacts, grace=HOUR)).removed == []


async def test_puts_racing_clean_ups_never_lose_an_artifact(
    backend: Backend, tmp_path: Path
) -> None:
    """Each round ages an orphan, then a put of the same bytes and a clean-up run at once:
    whichever comes first, the artifact is there afterwards (the put stored it, and a put is
    always younger than the grace period)."""
    async with backend.open() as opened:
        store = await with_projections(opened)
        artifacts: Any = store.artifact_store(tmp_path / "artifacts")
        for round_ in range(20):
            data = b"race %d" % round_
            sha = await put(artifacts, data)
            age(backend, artifacts, sha, 2 * HOUR)
            async with anyio.create_task_group() as tg:
                tg.start_soon(put, artifacts, data)
                tg.start_soon(sweep, store, artifacts, HOUR)
            assert await anyio.to_thread.run_sync(artifacts.get, sha) == data


async def test_a_negative_grace_is_refused(backend: Backend, tmp_path: Path) -> None:
    async with backend.open() as opened:
        store = await with_projections(opened)
        with pytest.raises(ValueError, match="grace period must be 0 or more seconds, got -1"):
            await sweep(store, store.artifact_store(tmp_path), grace=-1)


def test_artifacts_clean_removes_an_old_orphan_from_the_command_line(tmp_path: Path) -> None:
    database = tmp_path / "store.db"
    artifacts = FileArtifactStore(tmp_path / "artifacts")
    sha = artifacts.put(b"orphan", "text/plain")
    past = time.time() - 2 * HOUR
    os.utime(artifacts.path(sha), (past, past))
    out = io.StringIO()
    code = main(["artifacts", "clean", "--db", str(database), "--json"], out=out)
    assert code == 0
    assert out.getvalue().strip() == f'{{"examined": 1, "removed": ["{sha}"]}}'
    assert sha not in artifacts
