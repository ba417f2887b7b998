"""Invocation statistics: fold node measurements into summaries and render them (pure, L0).

The measurements come from ``invocation.completed`` / ``invocation.failed`` events (measured by
``sampling.py``); a summary covers any set of node runs: one session, one batch, or every run of
a node type. Unknown readings stay unknown: a VRAM column with no reading shows ``-``.

A session's summary is exact, from its runs. Batches and node types are summarized from running
totals instead (``projections.stats_totals``), so they answer in the time of a few rows however
many runs they count: their p95 comes from a histogram of durations whose buckets are an
eighth of an octave wide (``duration_bucket``), so it is within 4.5% of the nearest-rank one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class NodeRun:
    """One node execution as the stats projection keeps it."""

    session_id: str
    batch_id: str
    node_id: str
    node_type: str
    seconds: float | None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    rss_before: int | None = None
    rss_after: int | None = None
    vram_peak: int | None = None
    failed: bool = False
    # The invocation cache answered (a hit: the node did not run), or was asked and had nothing.
    cache_hit: bool = False
    cache_miss: bool = False


@dataclass(frozen=True, slots=True)
class NodeTypeSummary:
    node_type: str
    calls: int
    total_seconds: float
    mean_seconds: float
    p95_seconds: float
    max_vram: int | None
    cache_hits: int = 0
    cache_misses: int = 0
    failures: int = 0
    # The sum over runs of RSS after minus before, for the runs with both readings.
    ram_change: int | None = None


@dataclass(frozen=True, slots=True)
class StatsSummary:
    node_types: list[NodeTypeSummary] = field(default_factory=list)
    sessions: int = 0
    execution_seconds: float = 0.0
    wall_seconds: float | None = None
    ram_in_use: int | None = None
    ram_change: int | None = None


@dataclass(frozen=True, slots=True)
class CompletionBucket:
    """The sessions that ended in one minute of the log's clock."""

    at: datetime
    completed: int
    failed: int
    canceled: int


@dataclass(frozen=True, slots=True)
class Completions:
    """Sessions ended per minute, oldest first (minutes in which none ended are left out)."""

    bucket_seconds: int
    buckets: list[CompletionBucket] = field(default_factory=list)


def summarize(runs: Iterable[NodeRun]) -> StatsSummary:
    """Calls, total / mean / p95 seconds and max VRAM per node type, and the totals."""
    ordered = sorted(runs, key=lambda r: (r.started_at is None, r.started_at or 0, r.node_id))
    by_type: dict[str, list[NodeRun]] = {}
    for run in ordered:
        by_type.setdefault(run.node_type, []).append(run)
    starts = [r.started_at for r in ordered if r.started_at is not None]
    ends = [r.ended_at for r in ordered if r.ended_at is not None]
    before = next((r.rss_before for r in ordered if r.rss_before is not None), None)
    after = next((r.rss_after for r in reversed(ordered) if r.rss_after is not None), None)
    return StatsSummary(
        node_types=[_summary(t, rs) for t, rs in sorted(by_type.items())],
        sessions=len({r.session_id for r in ordered}),
        execution_seconds=sum(r.seconds or 0.0 for r in ordered),
        wall_seconds=(max(ends) - min(starts)).total_seconds() if starts and ends else None,
        ram_in_use=after,
        ram_change=None if before is None or after is None else after - before,
    )


def _summary(node_type: str, runs: list[NodeRun]) -> NodeTypeSummary:
    seconds = sorted(r.seconds for r in runs if r.seconds is not None)
    total = sum(seconds)
    readings = [r.vram_peak for r in runs if r.vram_peak is not None]
    changes = [ram_change_of(r.rss_before, r.rss_after) for r in runs]
    known = [change for change in changes if change is not None]
    return NodeTypeSummary(
        node_type=node_type,
        calls=len(runs),
        total_seconds=total,
        mean_seconds=total / len(seconds) if seconds else 0.0,
        p95_seconds=percentile(seconds, 0.95),
        max_vram=max(readings) if readings else None,
        cache_hits=sum(r.cache_hit for r in runs),
        cache_misses=sum(r.cache_miss for r in runs),
        failures=sum(r.failed for r in runs),
        ram_change=sum(known) if known else None,
    )


def ram_change_of(before: int | None, after: int | None) -> int | None:
    return None if before is None or after is None else after - before


# Buckets per octave of the duration histogram: the p95 it gives is within half a bucket.
BUCKETS_PER_OCTAVE = 8
_SHORTEST = 1e-9  # a zero (or negative) duration counts as this


def duration_bucket(seconds: float) -> int:
    """The histogram bucket of a duration: ``[2**(b/8), 2**((b+1)/8))`` seconds."""
    return math.floor(math.log2(max(seconds, _SHORTEST)) * BUCKETS_PER_OCTAVE)


def histogram_percentile(
    counts: Iterable[tuple[int, int]], fraction: float, lowest: float, highest: float
) -> float:
    """The nearest-rank percentile of a duration histogram (``(bucket, count)`` pairs): the
    geometric middle of the bucket holding that rank, kept within the observed range."""
    ordered = sorted((bucket, count) for bucket, count in counts if count > 0)
    total = sum(count for _, count in ordered)
    if not total:
        return 0.0
    rank, seen = max(1, math.ceil(fraction * total)), 0
    for bucket, count in ordered:
        seen += count
        if seen >= rank:
            middle = 2 ** ((bucket + 0.5) / BUCKETS_PER_OCTAVE)
            return min(max(middle, lowest), highest)
    return highest


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 for an empty one)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def render_table(summary: StatsSummary) -> str:
    """The stats table: one line per node type, then the totals."""
    lines = [
        f"{'Node':<24} {'Calls':>7} {'Hits':>6} {'Misses':>6} {'Seconds':>10} {'p95':>9} "
        f"{'VRAM':>9}"
    ]
    for row in summary.node_types:
        lines.append(
            f"{row.node_type:<24} {row.calls:>7} {row.cache_hits:>6} {row.cache_misses:>6} "
            f"{row.total_seconds:>9.3f}s {row.p95_seconds:>8.3f}s {_gigabytes(row.max_vram):>9}"
        )
    wall = "-" if summary.wall_seconds is None else f"{summary.wall_seconds:.3f}s"
    lines += [
        f"TOTAL EXECUTION TIME: {summary.execution_seconds:.3f}s",
        f"TOTAL WALL TIME: {wall}",
        f"RAM IN USE: {_gigabytes(summary.ram_in_use)} ({_signed_gigabytes(summary.ram_change)})",
    ]
    return "\n".join(lines)


def to_json(summary: StatsSummary) -> dict[str, Any]:
    return {
        "node_types": [
            {
                "node_type": r.node_type,
                "calls": r.calls,
                "total_seconds": r.total_seconds,
                "mean_seconds": r.mean_seconds,
                "p95_seconds": r.p95_seconds,
                "max_vram": r.max_vram,
                "cache_hits": r.cache_hits,
                "cache_misses": r.cache_misses,
                "failures": r.failures,
                "ram_change": r.ram_change,
            }
            for r in summary.node_types
        ],
        "sessions": summary.sessions,
        "execution_seconds": summary.execution_seconds,
        "wall_seconds": summary.wall_seconds,
        "ram_in_use": summary.ram_in_use,
        "ram_change": summary.ram_change,
    }


def _gigabytes(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**30:.2f}G"


def _signed_gigabytes(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**30:+.3f}G"
