"""Archives on PostgreSQL: several processes share one store, and one archives at a time."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from eventsvc.archive import ArchiveRequest, archive
from eventsvc.audit import audit
from eventsvc.errors import ArchiveConflictError
from eventsvc.projections.builtin import open_projected
from eventsvc.store import archives
from tests.backends import PostgresBackend
from tests.store.test_contract_archives import settled, traffic

pytestmark = pytest.mark.anyio


async def test_two_archives_at_once_archive_once(
    postgres_backend: PostgresBackend, tmp_path: Path
) -> None:
    """Two processes archive the same store at once: the one that comes second while the
    first is writing its file is refused, and every position is archived once."""
    clock = postgres_backend.clock
    async with (
        open_projected(postgres_backend.url, clock=clock) as first,
        open_projected(postgres_backend.url, clock=clock) as second,
    ):
        await traffic(first, 400)
        head = await settled(first)
        await second.wait_for_projections(head)
        inside, refused = anyio.Event(), anyio.Event()
        outcomes: dict[str, object] = {}

        async def hold_the_file() -> None:
            inside.set()
            with anyio.fail_after(20):
                await refused.wait()

        async def archive_first() -> None:
            outcomes["first"] = await archive(
                first, ArchiveRequest(before_position=head), tmp_path / "a", clock=clock,
                before_commit=hold_the_file,
            )  # fmt: skip

        async def archive_second() -> None:
            await inside.wait()
            try:
                await archive(second, ArchiveRequest(before_position=head), tmp_path / "b",
                              clock=clock)  # fmt: skip
            except ArchiveConflictError as exc:
                outcomes["second"] = exc
            finally:
                refused.set()

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(archive_first)
                tg.start_soon(archive_second)
        assert isinstance(outcomes["second"], ArchiveConflictError)
        assert "another process is archiving" in str(outcomes["second"])
        [marker] = await archives.markers(first)
        assert marker.first_position == 1
        assert not (tmp_path / "b").exists()
        # Once the first is done the other may archive again; nothing is left to archive.
        again = await archive(second, ArchiveRequest(before_position=head), tmp_path / "b",
                              clock=clock)  # fmt: skip
        assert again.events == 0
        await settled(first)
        report = await audit(first, archive_files=[tmp_path / "a" / marker.file])
        assert report.clean, report.findings


async def test_appends_from_another_process_go_on_across_an_archive(
    postgres_backend: PostgresBackend, tmp_path: Path
) -> None:
    """The archive's log.archived row is sealed as it is inserted; another process's sealer
    then reads the head again and goes on chaining from it."""
    clock = postgres_backend.clock
    async with (
        open_projected(postgres_backend.url, clock=clock) as archiver,
        open_projected(postgres_backend.url, clock=clock) as writer,
    ):
        await traffic(archiver, 300)
        head = await settled(archiver)
        await writer.wait_for_projections(head)
        async with anyio.create_task_group() as tg:
            tg.start_soon(traffic, writer, 200)
            await archive(archiver, ArchiveRequest(before_position=head), tmp_path, clock=clock)
        await settled(archiver)
        report = await audit(archiver)
        assert report.clean, report.findings
