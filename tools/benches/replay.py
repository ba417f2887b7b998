"""``replay``: rebuilding the queue and stats projections from a log of realistic traffic, and
auditing it, beside reading the same rows through the raw driver.

``rebuild_eps`` is beside the raw read; ``rebuild_vs_sql_floor`` beside the SQL any rebuild
must do (the raw read plus writing the projections' final rows, with no fold): what the fold's
own Python costs. ``audit_100k_s`` is beside the time of the raw read, ``audit_vs_sql_floor``
beside the SQL any audit must do (the raw read, the fresh copy's final rows written, both
copies of every table read back to compare, no fold and no hashing): what its Python costs.

Two figures say what the floors themselves allow, beside the raw read: ``rebuild_least_eps``
is the rebuild's SQL floor plus decoding the payloads it folds (a rebuild whose fold's own
Python cost nothing would reach that ratio, and no more); ``audit_least_100k_s`` the audit's
SQL floor plus the computing no audit can skip (every hash of the chain recomputed, every
payload decoded)."""

from __future__ import annotations

from pathlib import Path

from benches.common import (
    Figure,
    floor_audit_sql_s,
    floor_chain_s,
    floor_decode_s,
    floor_read_eps,
    floor_rebuild_sql_eps,
    timed,
)
from eventsvc.audit import audit
from eventsvc.projections.builtin import builtin_projections, open_projected
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
    tables = [table for projection in builtin_projections() for table in projection.tables]
    sql_eps = max([await floor_rebuild_sql_eps(str(path), total, 5000, tables) for _ in range(3)])
    audit_sql_s = min([await floor_audit_sql_s(str(path), total, 5000, tables) for _ in range(3)])
    chain_s = min([floor_chain_s(str(path), total, 5000) for _ in range(3)])
    decode_s = min([floor_decode_s(str(path), 5000) for _ in range(3)])
    folded = set().union(*(projection.tags for projection in builtin_projections()))
    decode_folded_s = min([floor_decode_s(str(path), 5000, folded) for _ in range(3)])
    async with open_store(f"sqlite://{path}", read_only=True) as store:
        assert isinstance(store, SqliteEventStore)
        report = await audit(store)
        assert report.clean, report.findings[:5]
        audit_s = min([await timed(lambda: audit(store)) for _ in range(3)])
    return [
        Figure("rebuild_eps", total / rebuild_s, "events/s", floor_eps, ">= 0.5"),
        Figure("rebuild_vs_sql_floor", total / rebuild_s, "events/s", sql_eps),
        Figure("audit_100k_s", audit_s * 100_000 / total, "s", total / floor_eps, "<= 4x"),
        Figure("audit_vs_sql_floor", audit_s * 100_000 / total, "s", audit_sql_s * 100_000 / total),
        Figure(
            "rebuild_least_eps", total / (total / sql_eps + decode_folded_s), "events/s", floor_eps
        ),
        Figure(
            "audit_least_100k_s",
            (audit_sql_s + chain_s + decode_s) * 100_000 / total,
            "s",
            total / floor_eps,
        ),
        Figure("log_events", total, "events", None),
    ]
