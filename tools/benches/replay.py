"""``replay``: rebuilding the queue and stats projections from a log of realistic traffic, and
auditing it, beside reading the same rows through the raw driver."""

from __future__ import annotations

from pathlib import Path

from benches.common import Figure, floor_read_eps, timed
from eventsvc.audit import audit
from eventsvc.projections.builtin import open_projected
from eventsvc.store import StoreOptions, open_store
from eventsvc.store.sqlite import SqliteEventStore
from eventsvc.testing import append_traffic


async def bench_replay(directory: Path, total: int) -> list[Figure]:
    """Rebuild the queue and stats projections from a log of realistic traffic, and audit it."""
    path = directory / "replay.db"
    options = StoreOptions(synchronous="NORMAL")
    async with open_projected(f"sqlite://{path}", options=options) as store:
        total = await append_traffic(store, total)
        rebuild_s = min([await timed(lambda: store.rebuild("queue", "stats")) for _ in range(3)])
    floor_eps = max([await floor_read_eps(str(path), total, 5000) for _ in range(3)])
    async with open_store(f"sqlite://{path}", read_only=True) as store:
        assert isinstance(store, SqliteEventStore)
        report = await audit(store)
        assert report.clean, report.findings[:5]
        audit_s = min([await timed(lambda: audit(store)) for _ in range(3)])
    return [
        Figure("rebuild_eps", total / rebuild_s, "events/s", floor_eps, ">= 150,000 events/s"),
        Figure("audit_100k_s", audit_s * 100_000 / total, "s", total / floor_eps, "<= 2 s"),
        Figure("log_events", total, "events", None),
    ]
