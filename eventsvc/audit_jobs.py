"""The audit as a background job of a service process: one at a time, its findings kept until
the next one starts (L2).

``start`` claims the one slot synchronously (a second start while one runs is refused), and
``run`` then reads the whole log in one snapshot (``eventsvc.audit``). The caller owns the task
that awaits ``run``: over HTTP it is the starting request's background task, which outlives
the response and ends with the server.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import anyio

from eventsvc.audit import Finding, audit
from eventsvc.errors import EventsvcError
from eventsvc.store.protocols import Snapshots

JobState = Literal["idle", "running", "done", "failed"]


class AuditRunningError(EventsvcError):
    """An audit is running in this process already."""

    def __init__(self, started_at: float) -> None:
        super().__init__("an audit is already running in this service process")
        self.started_at = started_at


@dataclass(slots=True)
class AuditJob:
    """What the latest audit of this process did, or is doing."""

    state: JobState = "idle"
    started_at: float | None = None  # UTC seconds
    finished_at: float | None = None
    events: int = 0
    anchor: str | None = None
    error: str | None = None
    findings: list[Finding] = field(default_factory=list)
    ended: anyio.Event = field(default_factory=anyio.Event)


class AuditJobs:
    """The one audit slot of a service process."""

    def __init__(self, store: Snapshots) -> None:
        self._store = store
        self.latest = AuditJob()

    def start(self) -> AuditJob:
        """Claim the slot for a new audit (AuditRunningError while one runs)."""
        if self.latest.state == "running":
            assert self.latest.started_at is not None
            raise AuditRunningError(self.latest.started_at)
        self.latest = AuditJob(state="running", started_at=time.time())
        return self.latest

    async def run(self, job: AuditJob) -> None:
        """Audit the log into ``job`` (claimed by ``start``)."""
        try:
            report = await audit(self._store)
        except EventsvcError as exc:
            job.state, job.error = "failed", str(exc)
        except BaseException:
            job.state, job.error = "failed", "the audit was interrupted"
            raise
        else:
            job.state, job.findings = "done", report.findings
            job.events, job.anchor = report.events, report.anchor
        finally:
            job.finished_at = time.time()
            job.ended.set()
