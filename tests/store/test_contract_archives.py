"""Archives of the log, part of the store contract: every backend passes exactly these tests.

An archive moves finished work below a horizon into a file; the live log says where it went
(markers, ``log.archived``), audit stays clean and verifies the files, reads and
subscriptions below the horizon get an explicit answer, and the projections rebuild from
their snapshots.
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from eventsvc import replay
from eventsvc.archive import ArchiveRequest, archive, restore
from eventsvc.audit import audit
from eventsvc.errors import (
    ArchiveConflictError,
    ArchivedError,
    ImportRejectedError,
    InvalidValueError,
)
from eventsvc.events import (
    BatchCanceled,
    InvocationCompleted,
    InvocationStarted,
    LogArchived,
    NodeMeasurement,
    QueuePaused,
    QueueResumed,
    SessionCompleted,
    SessionStarted,
)
from eventsvc.ids import batch_stream, queue_stream, session_stream
from eventsvc.projections.builtin import ProjectedStore, builtin_projections, open_projected
from eventsvc.projections.queue_view import QueueView
from eventsvc.projections.stats import StatsView
from eventsvc.store import archives
from eventsvc.testing import FakeClock, batch_enqueued
from tests.backends import Backend, fresh_schema

pytestmark = pytest.mark.anyio
ARCHIVES = "archives"


@asynccontextmanager
async def opened(backend: Backend) -> AsyncIterator[ProjectedStore]:
    async with open_projected(backend.url, clock=backend.clock) as store:
        yield store


async def settled(store: ProjectedStore) -> int:
    """The head, once every projection has folded it (at once on SQLite)."""
    head = await store.head()
    await store.wait_for_projections(head)
    return head


_batches = itertools.count()


async def finished(store: ProjectedStore, sessions: int = 10) -> str:
    """A batch whose sessions each ran one node and completed."""
    batch_id = f"done-{next(_batches)}"
    await store.append(batch_stream(batch_id), [batch_enqueued(batch_id, sessions=sessions)])
    for index in range(sessions):
        ids = {"queue_id": "default", "batch_id": batch_id, "session_id": f"{batch_id}.{index}"}
        node = {"node_id": "n", "source_node_id": "n", "node_type": "add", **ids}
        measured = NodeMeasurement(wall_seconds=0.01 * (index + 1), rss_before=1 << 20)
        await store.append(
            session_stream(ids["session_id"]),
            [
                SessionStarted(**ids, worker_id="w1"),
                InvocationStarted(**node, worker_id="w1"),
                InvocationCompleted(**node, worker_id="w1", outputs={"value": index},
                                    measurement=measured),
                SessionCompleted(**ids),
            ],
        )  # fmt: skip
    return batch_id


async def traffic(store: ProjectedStore, events: int = 500) -> int:
    """Finished batches (about ``events`` events), then one batch left waiting: its
    position."""
    for _ in range(max(1, events // 41)):
        await finished(store)
    waiting = f"waiting-{next(_batches)}"
    enqueued = await store.append(batch_stream(waiting), [batch_enqueued(waiting, sessions=3)])
    await settled(store)
    return enqueued.first_position


async def archived(
    store: ProjectedStore, directory: Path, clock: FakeClock, **request: Any
) -> archives.Marker:
    report = await archive(store, ArchiveRequest(**request), directory, clock=clock)
    assert report.events > 0, report
    await settled(store)
    return (await archives.markers(store))[-1]


async def projection_rows(store: ProjectedStore) -> dict[str, list[tuple[Any, ...]]]:
    rows = {}
    for projection in builtin_projections():
        for table in projection.tables:
            rows[table] = sorted(await store.query(f"SELECT * FROM {table}"), key=repr)
    return rows


async def test_an_archive_moves_finished_work_out_and_the_log_says_where(
    backend: Backend, tmp_path: Path
) -> None:
    async with opened(backend) as store:
        waiting = await traffic(store)
        head = await store.head()
        marker = await archived(store, tmp_path / ARCHIVES, backend.clock, before_position=head + 1)

        # Everything before the waiting batch went, to one file; the rest stays.
        assert (marker.first_position, marker.last_position) == (1, waiting - 1)
        assert (tmp_path / ARCHIVES / marker.file).exists()
        [first, *_] = await store.read_rows(after=waiting - 1, limit=1)
        assert first.position == waiting
        assert first.expected_hash(marker.last_hash) == first.hash
        [event] = await store.read_all(after=head, limit=1)
        assert event.position == marker.event_position == head + 1
        assert isinstance(event.data, LogArchived)
        assert (event.data.file, event.data.sha256) == (marker.file, marker.sha256)
        assert event.data.last_hash == marker.last_hash.hex()

        # Reading or following from an archived position is an explicit answer.
        for read in (store.read_all, store.read_rows):
            with pytest.raises(ArchivedError) as caught:
                await read(0, 10)
            assert caught.value.first_live == waiting
            assert caught.value.archives == [marker.file]
            assert f"the live log starts at position {waiting}" in str(caught.value)
        async with store.subscribe(after=3) as subscription:
            with pytest.raises(ArchivedError, match=marker.file):
                await anext(aiter(subscription))
        assert [e.position for e in await store.read_all(after=waiting - 1, limit=1)] == [waiting]

        # The queue forgot the archived batches; the waiting one is still there to run.
        queue = QueueView(store)
        [left] = await queue.batch_statuses()
        assert left.batch_id.startswith("waiting-")
        report = await audit(store)
        assert report.clean, report.findings
        assert report.events == head + 1 - waiting + 1


async def test_unfinished_work_is_never_archived(backend: Backend, tmp_path: Path) -> None:
    async with opened(backend) as store:
        await store.append(batch_stream("early"), [batch_enqueued("early", sessions=2)])
        waiting = await traffic(store, 200)
        report = await archive(
            store, ArchiveRequest(before_position=waiting), tmp_path / ARCHIVES, clock=backend.clock
        )
        # The batch enqueued first still has sessions to run: nothing below it can go.
        assert (report.events, report.horizon) == (0, 1)
        assert "batch 'early' is unfinished (2 sessions to run)" in report.held_back
        assert await archives.markers(store) == []
        assert not (tmp_path / ARCHIVES).exists()


async def test_an_archive_cut_by_age_takes_what_was_recorded_before(
    backend: Backend, tmp_path: Path
) -> None:
    async with opened(backend) as store:
        for _ in range(4):
            await finished(store)
        old = await settled(store)
        backend.clock.advance(10 * 86400)
        await traffic(store, 200)
        ask = ArchiveRequest(older_than=5 * 86400, dry_run=True)
        dry = await archive(store, ask, tmp_path / ARCHIVES, clock=backend.clock)
        assert (dry.dry_run, dry.first_position, dry.last_position) == (True, 1, old), dry
        assert await archives.markers(store) == []
        marker = await archived(store, tmp_path / ARCHIVES, backend.clock, older_than=5 * 86400)
        assert (marker.first_position, marker.last_position) == (1, old)


async def test_audit_is_clean_across_archives_and_verifies_their_files(
    backend: Backend, tmp_path: Path
) -> None:
    async with opened(backend) as store:
        queue = queue_stream("default")
        await store.append(queue, [QueuePaused(queue_id="default")])
        await traffic(store, 300)
        first = await archived(
            store, tmp_path / ARCHIVES, backend.clock, before_position=await store.head()
        )
        await store.append(queue, [QueueResumed(queue_id="default")])
        [waiting] = [b for b in await QueueView(store).batch_statuses() if "waiting" in b.batch_id]
        await store.append(
            batch_stream(waiting.batch_id),
            [BatchCanceled(queue_id="default", batch_id=waiting.batch_id)],
        )
        await traffic(store, 300)
        second = await archived(
            store, tmp_path / ARCHIVES, backend.clock, before_position=await store.head()
        )
        assert second.first_position == first.last_position + 1
        # The queue's stream goes on counting across the archives.
        paused = await store.append(queue, [QueuePaused(queue_id="default")])
        assert paused.version == 2
        await settled(store)
        status = await QueueView(store).queue_status("default")
        assert status.paused

        files = [tmp_path / ARCHIVES / first.file, tmp_path / ARCHIVES / second.file]
        report = await audit(store, archive_files=files)
        assert report.clean, report.findings
        assert report.archived_events == second.last_position
        anchor = (7, rows_of(files[0])[6]["hash"])
        assert (await audit(store, anchor, files)).clean
        unverified = await audit(store, anchor)
        assert [(f.check, f.position) for f in unverified.findings] == [("anchor", 7)]
        assert first.file in unverified.findings[0].reason

        tamper(files[1], second.first_position + 3)
        report = await audit(store, archive_files=files)
        assert {(f.check, f.position) for f in report.findings} == {
            ("archive", second.first_position),  # the file is not the one the marker names
            ("archive", second.first_position + 3),  # and this row no longer chains
        }
        assert all(str(files[1]) in f.reason for f in report.findings)


def rows_of(path: Path) -> list[dict[str, Any]]:
    lines = gzip.decompress(path.read_bytes()).splitlines()
    return [json.loads(line) for line in lines if line.startswith(b'{"position"')]


def tamper(path: Path, position: int) -> None:
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith(b'{"position":%d,' % position):
            lines[i] = line.replace(b"default", b"tampered", 1)
    path.write_bytes(gzip.compress(b"".join(lines)))


async def test_a_rebuild_after_an_archive_equals_the_live_projections(
    backend: Backend, tmp_path: Path
) -> None:
    async with opened(backend) as store:
        await traffic(store, 400)
        await archived(
            store, tmp_path / ARCHIVES, backend.clock, before_position=await store.head()
        )
        await traffic(store, 200)
        live = await projection_rows(store)
        totals = await StatsView(store).node_types()
        await store.rebuild("queue", "stats")
        await settled(store)
        assert await projection_rows(store) == live
        assert await StatsView(store).node_types() == totals
        report = await audit(store)
        assert report.clean, report.findings


async def test_time_travel_replays_from_the_snapshots_on(backend: Backend, tmp_path: Path) -> None:
    async with opened(backend) as store:
        await traffic(store, 300)
        marker = await archived(store, tmp_path / ARCHIVES, backend.clock,
                                before_position=await store.head())  # fmt: skip
        await traffic(store, 100)
        head = await settled(store)
        with pytest.raises(ArchivedError, match=marker.file):
            async with replay.as_of(store, marker.last_position):
                pass
        async with replay.as_of(store, head) as past:
            then = await replay.summary(past)
        now = await replay.summary(store)
        assert (then.queues, then.batches, then.stats) == (now.queues, now.batches, now.stats)


async def test_stats_keep_counting_archived_work(backend: Backend, tmp_path: Path) -> None:
    async with opened(backend) as store:
        await traffic(store, 400)
        before = await StatsView(store).node_types()
        await archived(
            store, tmp_path / ARCHIVES, backend.clock, before_position=await store.head()
        )
        after = await StatsView(store).node_types()
        assert after == before
        assert sum(t.calls for t in after.node_types) > 0
        assert await store.query("SELECT count(*) FROM stats_runs") == [(0,)]


async def test_an_export_carries_the_archive_into_an_empty_store(
    backend: Backend, tmp_path: Path
) -> None:
    async with opened(backend) as store:
        await traffic(store, 300)
        marker = await archived(
            store, tmp_path / ARCHIVES, backend.clock, before_position=await store.head()
        )
        lines = b"".join([page async for page in replay.export_rows(store)]).splitlines(True)
        live = await projection_rows(store)
    assert lines[0].startswith(b'{"kind":"archive"')

    with fresh_target(backend, tmp_path) as url:
        async with open_projected(url) as target:
            read, imported = await replay.import_rows(target, replay.parse_export(lines))
            await settled(target)
            assert read == imported > 0
            assert await archives.markers(target) == [marker]
            assert await projection_rows(target) == live
            report = await audit(target, archive_files=[tmp_path / ARCHIVES / marker.file])
            assert report.clean, report.findings
            # Importing it again changes nothing.
            assert await replay.import_rows(target, replay.parse_export(lines)) == (read, 0)
            plain = replay.parse_export(_plain(tmp_path / ARCHIVES / marker.file))
            with pytest.raises(ImportRejectedError, match="archived the positions up to"):
                await replay.import_rows(target, plain)


def _plain(path: Path) -> list[bytes]:
    """An archive file's rows without its header, as a plain export of them would be."""
    lines = gzip.decompress(path.read_bytes()).splitlines(True)
    return [line for line in lines if line.startswith(b'{"position"')]


class fresh_target:
    """An empty store of the backend's kind, beside the one under test."""

    def __init__(self, backend: Backend, tmp_path: Path) -> None:
        self._backend, self._tmp = backend, tmp_path
        self._schema: Any = None

    def __enter__(self) -> str:
        if self._backend.name == "sqlite":
            return f"sqlite://{self._tmp}/target.db"
        self._schema = fresh_schema()
        return str(self._schema.__enter__().url)

    def __exit__(self, *exc: object) -> None:
        if self._schema is not None:
            self._schema.__exit__(*exc)


async def test_a_crash_between_the_file_and_the_commit_loses_nothing(
    backend: Backend, tmp_path: Path
) -> None:
    class Crash(Exception):
        pass

    async def crash() -> None:
        raise Crash

    async with opened(backend) as store:
        waiting = await traffic(store, 300)
        head = await store.head()
        before = await store.read_rows(limit=10_000)
        with pytest.raises(Crash):
            await archive(store, ArchiveRequest(before_position=head), tmp_path / ARCHIVES,
                          clock=backend.clock, before_commit=crash)  # fmt: skip
        # A stray file, and the log as it was.
        [stray] = list((tmp_path / ARCHIVES).iterdir())
        assert await store.read_rows(limit=10_000) == before
        assert await archives.markers(store) == []
        assert (await audit(store)).clean
        marker = await archived(store, tmp_path / ARCHIVES, backend.clock, before_position=head)
        assert marker.file == stray.name
        assert marker.last_position == waiting - 1
        assert (await audit(store, archive_files=[stray])).clean


async def test_a_second_archive_meanwhile_is_refused(backend: Backend, tmp_path: Path) -> None:
    async with opened(backend) as store:
        await traffic(store, 200)
        async with store.archiving():
            with pytest.raises(ArchiveConflictError, match="archiv"):
                await archive(store, ArchiveRequest(before_position=2), tmp_path / ARCHIVES,
                              clock=backend.clock)  # fmt: skip


async def test_a_consumer_behind_holds_the_horizon(backend: Backend, tmp_path: Path) -> None:
    async with opened(backend) as store:
        waiting = await traffic(store, 300)

        def behind(tx: Any) -> None:
            tx.execute("INSERT INTO webhook_checkpoints (webhook_id, position) VALUES ('wh_x', 40)")

        await store.write_beside(behind)
        report = await archive(store, ArchiveRequest(before_position=waiting), tmp_path / ARCHIVES,
                               clock=backend.clock)  # fmt: skip
        # Lowered to the webhook's checkpoint, then to the batch that spans it.
        assert report.horizon <= 41
        assert "webhook wh_x has delivered to 40" in report.held_back or report.horizon < 41


async def test_restore_brings_the_archived_sessions_back(backend: Backend, tmp_path: Path) -> None:
    async with opened(backend) as store:
        await traffic(store, 300)
        archived_batches = [b.batch_id for b in await QueueView(store).batch_statuses()]
        marker = await archived(
            store, tmp_path / ARCHIVES, backend.clock, before_position=await store.head()
        )
        restored = await restore(tmp_path / ARCHIVES / marker.file, tmp_path / "restored.db", store)
    assert (restored.first_position, restored.last_position) == (1, marker.last_position)
    async with open_projected(f"sqlite://{tmp_path}/restored.db") as inspected:
        batches = [b.batch_id for b in await QueueView(inspected).batch_statuses()]
        assert batches == [b for b in archived_batches if not b.startswith("waiting")]
        assert (await audit(inspected)).clean


async def test_bad_archive_requests_name_what_is_wrong(backend: Backend, tmp_path: Path) -> None:
    async with opened(backend) as store:
        await traffic(store, 200)
        head = await store.head()
        asks: list[tuple[Callable[[], Any], str]] = [
            (
                lambda: ArchiveRequest(before_position=head + 5),
                re.escape(f"beyond the log's head ({head})"),
            ),
            (lambda: ArchiveRequest(), "exactly one of"),
        ]
        for ask, message in asks:
            with pytest.raises(InvalidValueError, match=message):
                await archive(store, ask(), tmp_path / ARCHIVES, clock=backend.clock)
        await archived(store, tmp_path / ARCHIVES, backend.clock, before_position=head)
        with pytest.raises(InvalidValueError, match="below the live log's start"):
            await archive(
                store, ArchiveRequest(before_position=2), tmp_path / ARCHIVES, clock=backend.clock
            )
