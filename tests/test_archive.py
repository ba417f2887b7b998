"""Archiving as a user of the service meets it: archived batches and sessions are answered
as archived, the artifacts only archived events named leave the store (removed by the
clean-up or moved beside the archive), and serve archives on a schedule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from eventsvc import archive as archiving
from eventsvc.archive import ArchiveReport, ArchiveRequest, Schedule, archive, parse_duration
from eventsvc.artifact_retention import sweep
from eventsvc.batches import Batch
from eventsvc.config import ConfigError, Settings
from eventsvc.errors import ArchivedError, InvalidValueError, NotFoundError
from eventsvc.ids import batch_stream, session_stream
from eventsvc.service import Service
from eventsvc.store import archives
from eventsvc.testing import FakeClock, batch_enqueued, invocation_completed, new_event
from tests.backends import Backend
from tests.store.test_contract_archives import settled
from tests.test_artifact_retention import age, put, with_projections
from tests.test_executor import settle

pytestmark = pytest.mark.anyio
HOUR = 3600.0
GRAPH = {"nodes": {"a": {"type": "add", "id": "a", "b": 1}}, "edges": []}


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    settings = Settings(
        store_url=f"sqlite://{tmp_path}/events.db", artifacts_dir=str(tmp_path / "artifacts")
    )
    async with Service.open(settings, clock=FakeClock()) as opened:
        yield opened


async def run_batch(service: Service, batch_id: str) -> None:
    batch = Batch.model_validate(
        {"batch_id": batch_id, "graph": GRAPH,
         "data": [[{"node_path": "a", "field_name": "a", "items": [1, 2]}]]}
    )  # fmt: skip
    await service.enqueue_batch("default", batch)
    await settle(service, [batch_id])


async def test_archived_batches_and_sessions_say_where_they_went(service: Service) -> None:
    await run_batch(service, "old")
    report = await service.archive(ArchiveRequest(before_position=await service.store.head() + 1))
    assert report.events > 0
    file = Path(report.file or "").name
    asks = [
        lambda: service.batch_in("default", "old"),
        lambda: service.session_in("default", "old.1"),
        lambda: service.session_detail("default", "old.0"),
        lambda: service.cancel_session("old.0", queue_id="default"),
        lambda: service.retry_sessions(["old.1"]),
    ]
    for ask in asks:
        with pytest.raises(ArchivedError) as caught:
            await ask()
        assert caught.value.archives == [file]
        assert f"is archived in {file}" in str(caught.value)
    with pytest.raises(NotFoundError, match="no batch 'never'"):
        await service.batch_in("default", "never")


async def test_artifacts_only_archived_events_name_are_no_longer_live(
    backend: Backend, tmp_path: Path
) -> None:
    async with backend.open() as opened:
        store = await with_projections(opened)
        artifacts: Any = store.artifact_store(tmp_path / "artifacts")
        archived_only, named_again = [await put(artifacts, b) for b in (b"gone", b"kept")]
        for sha in (archived_only, named_again):
            event = invocation_completed("n", {"image": {"artifact": sha, "kind": "image"}})
            await store.append(session_stream("b1.0"), [new_event(event)])
            age(backend, artifacts, sha, 2 * HOUR)
        horizon = await store.head() + 1
        later = invocation_completed("n", {"image": {"artifact": named_again, "kind": "image"}})
        await store.append(session_stream("b2.0"), [new_event(later)])
        await settled(store)
        await archive(store, ArchiveRequest(before_position=horizon), tmp_path / "archives",
                      clock=backend.clock)  # fmt: skip
        await settled(store)
        # The grace period still holds; past it, what only archived events named goes.
        assert (await sweep(store, artifacts, grace=3 * HOUR)).removed == []
        assert (await sweep(store, artifacts, grace=HOUR)).removed == [archived_only]
        assert await held(artifacts, named_again)


async def test_artifacts_may_move_beside_the_archive_instead(
    backend: Backend, tmp_path: Path
) -> None:
    async with backend.open() as opened:
        store = await with_projections(opened)
        artifacts: Any = store.artifact_store(tmp_path / "artifacts")
        old, young = [await put(artifacts, b) for b in (b"old image", b"young image")]
        for sha in (old, young):
            event = invocation_completed("n", {"image": {"artifact": sha, "kind": "image"}})
            await store.append(session_stream("b1.0"), [new_event(event)])
        age(backend, artifacts, old, 2 * HOUR)
        await store.append(batch_stream("next"), [batch_enqueued("next")])
        horizon = await settled(store)
        report = await archive(
            store, ArchiveRequest(before_position=horizon), tmp_path / "archives",
            clock=backend.clock, artifacts=artifacts, move_artifacts="move", grace=HOUR,
        )  # fmt: skip
        beside = Path(str(report.file).removesuffix(".ndjson.gz") + ".artifacts")
        assert report.artifacts_moved == 1
        assert (beside / old).read_bytes() == b"old image"
        assert (beside / f"{old}.type").read_text() == "application/octet-stream"
        assert not await held(artifacts, old)
        # A young artifact is copied, but stays in the store for its grace period.
        assert await held(artifacts, young)


async def held(artifacts: Any, sha: str) -> bool:
    return bool(await anyio.to_thread.run_sync(artifacts.__contains__, sha))


async def test_serve_archives_on_a_schedule(service: Service) -> None:
    await run_batch(service, "old")
    assert isinstance(service.clock, FakeClock)
    service.clock.advance(HOUR)
    ran = anyio.Event()
    reports: list[ArchiveReport] = []

    async def once(request: ArchiveRequest) -> ArchiveReport:
        reports.append(await service.archive(request))
        ran.set()
        return reports[-1]

    schedule = Schedule(once, older_than=60, every=0)
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            await tg.start(schedule.run)
            await ran.wait()
            tg.cancel_scope.cancel()
    assert reports[0].events > 0
    assert await archives.markers(service.store)


def test_the_schedule_comes_from_the_settings(tmp_path: Path) -> None:
    settings = Settings(archive_older_than="7d", archive_every="12h")
    assert (settings.archive_older_than, settings.archive_every) == ("7d", "12h")
    with pytest.raises(ConfigError, match=r"EVENTSVC_ARCHIVE_EVERY: .*'1 fortnight' is not a"):
        Settings.from_env({"EVENTSVC_ARCHIVE_EVERY": "1 fortnight"})


@pytest.mark.parametrize(
    ("text", "seconds"), [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("1.5s", 1.5),
                          ("2w", 14 * 86400)],
)  # fmt: skip
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "d", "-1d", "0h", "3 years", "1e3s"])
def test_a_duration_that_is_none_is_named(text: str) -> None:
    with pytest.raises(InvalidValueError, match=f"older_than: {text!r} is not a duration"):
        parse_duration(text)


def test_a_store_without_a_file_needs_an_archive_directory() -> None:
    with pytest.raises(InvalidValueError, match="EVENTSVC_ARCHIVE_DIR"):
        archiving.directory_for(None, "postgresql://localhost/db")
    assert archiving.directory_for(None, "sqlite:///x/events.db") == Path("/x/events.db.archive")
