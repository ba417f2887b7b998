"""The audit job: one at a time, its report kept until the next one starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventsvc.audit_jobs import AuditJobs, AuditRunningError
from eventsvc.store import open_store

pytestmark = pytest.mark.anyio


async def test_a_second_start_is_refused_while_one_runs_and_allowed_after(tmp_path: Path) -> None:
    async with open_store(f"sqlite://{tmp_path}/log.db") as store:
        jobs = AuditJobs(store)
        job = jobs.start()
        with pytest.raises(AuditRunningError, match="already running"):
            jobs.start()
        await jobs.run(job)
        assert (job.state, job.findings, job.anchor is not None) == ("done", [], True)
        assert job.finished_at is not None
        assert jobs.start() is jobs.latest
