"""Running totals of the stats projection: per node type, for every run and per batch.

A summary of every run of a node type, or of one batch, must answer in the time of a few rows
however many runs it counts, so the fold keeps totals as it goes instead of reading the runs
back: ``stats_types`` holds one row per scope and node type (the scope is ``''`` for every
run, else the batch id), ``stats_durations`` a histogram of durations per scope and type (the
p95 comes from it, ``stats.histogram_percentile``), ``stats_sessions`` the sessions started
per scope, and ``stats_completions`` the sessions that ended, per minute of the log's clock.

A page's runs are tallied in Python and written as one upsert per row touched. A session
whose graph turns out invalid has its runs subtracted again (the sums and the histogram; the
extremes, such as the highest VRAM, keep what was seen).

Archiving (the ``snapshot`` / ``forget`` / ``restore`` hooks of the stats projection) keeps
the totals of every run, archived or not: the snapshot is the ``''`` scope's rows as they
stand, with the position they count through. A rebuild restores it and folds the live log
from the archive's horizon; events at or below that position add their runs and sessions to
the per-batch totals only, as the snapshot already counts them in the ``''`` scope.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from eventsvc.stats import (
    CompletionBucket,
    Completions,
    NodeTypeSummary,
    StatsSummary,
    duration_bucket,
    histogram_percentile,
    ram_change_of,
)
from eventsvc.store.protocols import Reads, Transaction

EVERY_RUN = ""
_K = TypeVar("_K")
SCHEMA = """
CREATE TABLE IF NOT EXISTS stats_types (
    scope TEXT NOT NULL,
    node_type TEXT NOT NULL,
    calls INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    timed INTEGER NOT NULL,
    total_micros BIGINT NOT NULL,
    ram_runs INTEGER NOT NULL,
    ram_change BIGINT NOT NULL,
    cache_hits INTEGER NOT NULL,
    cache_misses INTEGER NOT NULL,
    min_seconds DOUBLE PRECISION,
    max_seconds DOUBLE PRECISION,
    max_vram BIGINT,
    span_start BIGINT,
    span_end BIGINT,
    rss_first_at BIGINT,
    rss_first BIGINT,
    rss_last_at BIGINT,
    rss_last BIGINT,
    PRIMARY KEY (scope, node_type)
);
CREATE TABLE IF NOT EXISTS stats_durations (
    scope TEXT NOT NULL,
    node_type TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    calls INTEGER NOT NULL,
    PRIMARY KEY (scope, node_type, bucket)
);
CREATE TABLE IF NOT EXISTS stats_sessions (
    scope TEXT PRIMARY KEY,
    sessions INTEGER NOT NULL,
    first_position BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS stats_completions (
    minute BIGINT PRIMARY KEY,
    completed INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    canceled INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS stats_restored (through BIGINT NOT NULL)
"""
TABLES = ("stats_types", "stats_durations", "stats_sessions", "stats_completions", "stats_restored")

_SUMS = (
    "calls",
    "failures",
    "timed",
    "total_micros",
    "ram_runs",
    "ram_change",
    "cache_hits",
    "cache_misses",
)
_LOWEST = ("min_seconds", "span_start")
_HIGHEST = ("max_seconds", "max_vram", "span_end")
# (when, value): the value of the earliest run that had one, and of the latest.
_FIRST = ("rss_first_at", "rss_first")
_LAST = ("rss_last_at", "rss_last")
COLUMNS = (*_SUMS, *_LOWEST, *_HIGHEST, *_FIRST, *_LAST)


def _extreme(column: str, keep_new: str) -> str:
    """SQL keeping the stored value unless the new one is set and ``keep_new`` holds."""
    return (
        f"{column} = CASE WHEN excluded.{column} IS NOT NULL AND (stats_types.{column} IS NULL "
        f"OR {keep_new}) THEN excluded.{column} ELSE stats_types.{column} END"
    )


def _upsert_types() -> str:
    sets = [f"{c} = stats_types.{c} + excluded.{c}" for c in _SUMS]
    sets += [_extreme(c, f"excluded.{c} < stats_types.{c}") for c in _LOWEST]
    sets += [_extreme(c, f"excluded.{c} > stats_types.{c}") for c in _HIGHEST]
    for (when, value), beats in ((_FIRST, "<"), (_LAST, ">")):
        newer = f"excluded.{when} {beats} stats_types.{when}"
        sets.append(_extreme(when, newer))
        # The value follows its time (both new or both kept; SET reads the row as it was).
        sets.append(
            f"{value} = CASE WHEN excluded.{when} IS NOT NULL AND (stats_types.{when} IS NULL "
            f"OR {newer}) THEN excluded.{value} ELSE stats_types.{value} END"
        )
    marks = ", ".join("?" * (2 + len(COLUMNS)))
    return (
        f"INSERT INTO stats_types (scope, node_type, {', '.join(COLUMNS)}) VALUES ({marks}) "
        f"ON CONFLICT (scope, node_type) DO UPDATE SET {', '.join(sets)}"
    )


_UPSERT_TYPES = _upsert_types()
_UPSERT_DURATIONS = (
    "INSERT INTO stats_durations (scope, node_type, bucket, calls) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (scope, node_type, bucket) DO UPDATE SET calls = stats_durations.calls + "
    "excluded.calls"
)
_DELETE_EMPTY_BUCKET = (
    "DELETE FROM stats_durations WHERE scope = ? AND node_type = ? AND bucket = ? AND calls = 0"
)
_UPSERT_SESSIONS = (
    "INSERT INTO stats_sessions (scope, sessions, first_position) VALUES (?, ?, ?) "
    "ON CONFLICT (scope) DO UPDATE SET sessions = stats_sessions.sessions + excluded.sessions"
)
_UPSERT_COMPLETIONS = (
    "INSERT INTO stats_completions (minute, completed, failed, canceled) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (minute) DO UPDATE SET completed = stats_completions.completed + "
    "excluded.completed, failed = stats_completions.failed + excluded.failed, "
    "canceled = stats_completions.canceled + excluded.canceled"
)
_MINUTE = 60_000_000  # recorded_at is in microseconds
ENDINGS = {"session.completed": 0, "session.failed": 1, "session.canceled": 2}


RUN_COLUMNS = (
    "position, batch_id, node_type, failed, started_at, ended_at, wall_seconds, rss_before, "
    "rss_after, vram_peak, cache_hit, cache_miss"
)
"""The measured part of a ``stats_runs`` row: what ``Tally.run`` counts, in this order."""
RunRow = tuple[Any, ...]


class Tally:
    """What one page adds to (or takes from) the totals, written in one go.

    Runs are tallied per batch and node type as they come (one merge per run); the totals of
    every run are the batch tallies merged by node type when the page is written, from those
    runs the ``''`` scope does not count yet (``fresh``)."""

    def __init__(self, counted_through: int) -> None:
        # Events up to here are already in the ``''`` scope (a restored snapshot counts them).
        self._counted_through = counted_through
        self._counted: dict[tuple[str, str], list[Any]] = {}  # runs the '' scope counts
        self._fresh: dict[tuple[str, str], list[Any]] = {}  # runs it does not count yet
        self._durations: Counter[tuple[str, str, int]] = Counter()
        self._sessions: dict[str, list[int]] = {}
        self._ends: dict[int, list[int]] = {}

    def run(self, run: RunRow, sign: int, at: int) -> None:
        """Count ``run`` (``sign`` 1) or take it back (-1), for an event at position ``at``."""
        _, batch_id, node_type, failed, start, end, seconds, before, after, vram, hit, miss = run
        change = ram_change_of(before, after)
        added: list[Any] = [
            sign,
            sign * failed,
            sign * (seconds is not None),
            sign * round((seconds or 0.0) * 1_000_000),  # integers: sums in any order agree
            sign * (change is not None),
            sign * (change or 0),
            sign * hit,
            sign * miss,
        ]
        if sign > 0:
            added += [seconds, start, seconds, vram, end]
            added += [None, None] if before is None else [start, before]
            added += [None, None] if after is None else [start, after]
        else:
            added += _NOTHING_SEEN
        fresh = at > self._counted_through
        tallies = self._fresh if fresh else self._counted
        held = tallies.get((batch_id, node_type))
        if held is None:
            tallies[(batch_id, node_type)] = added
        else:
            _merge(held, added)
        if seconds is not None:
            bucket = duration_bucket(seconds)
            self._durations[(batch_id, node_type, bucket)] += sign
            if fresh:
                self._durations[(EVERY_RUN, node_type, bucket)] += sign

    def session(self, batch_id: str, position: int, sign: int) -> None:
        scopes = (batch_id, EVERY_RUN) if position > self._counted_through else (batch_id,)
        for scope in scopes:
            counted = self._sessions.setdefault(scope, [0, position])
            counted[0] += sign

    def end(self, tag: str, recorded_at: int, position: int) -> None:
        if position > self._counted_through:
            self._ends.setdefault(recorded_at // _MINUTE, [0, 0, 0])[ENDINGS[tag]] += 1

    def write(self, tx: Transaction) -> None:
        if rows := self._type_rows():
            tx.executemany(_UPSERT_TYPES, rows)
        if durations := [(*key, n) for key, n in self._durations.items() if n]:
            tx.executemany(_UPSERT_DURATIONS, durations)
            # A bucket emptied again is gone, as if its runs had never been folded.
            if emptied := [key for *key, n in durations if n < 0]:
                tx.executemany(_DELETE_EMPTY_BUCKET, emptied)
        if self._sessions:
            tx.executemany(_UPSERT_SESSIONS, [(s, n, at) for s, (n, at) in self._sessions.items()])
        if self._ends:
            tx.executemany(_UPSERT_COMPLETIONS, [(m, *n) for m, n in self._ends.items()])

    def _type_rows(self) -> list[tuple[Any, ...]]:
        """The ``stats_types`` rows to upsert: per batch, and for every run."""
        per_batch = {key: list(held) for key, held in self._counted.items()}
        every: dict[str, list[Any]] = {}
        for (batch_id, node_type), held in self._fresh.items():
            _merge_into(per_batch, (batch_id, node_type), held)
            _merge_into(every, node_type, held)
        rows = [(batch_id, node_type, *row) for (batch_id, node_type), row in per_batch.items()]
        return rows + [(EVERY_RUN, node_type, *row) for node_type, row in every.items()]


_NOTHING_SEEN = [None] * 9


def _merge(held: list[Any], added: list[Any]) -> None:
    """Merge the tally ``added`` into ``held``, as ``_UPSERT_TYPES`` merges a row in SQL."""
    for i in range(8):
        held[i] += added[i]
    held[8] = _lower(held[8], added[8])  # min_seconds
    held[9] = _lower(held[9], added[9])  # span_start
    held[10] = _higher(held[10], added[10])  # max_seconds
    held[11] = _higher(held[11], added[11])  # max_vram
    held[12] = _higher(held[12], added[12])  # span_end
    # rss_first_at, rss_first: the earliest run's reading; rss_last_*: the latest's.
    if added[13] is not None and (held[13] is None or added[13] < held[13]):
        held[13], held[14] = added[13], added[14]
    if added[15] is not None and (held[15] is None or added[15] > held[15]):
        held[15], held[16] = added[15], added[16]


def _merge_into(tallies: dict[_K, list[Any]], key: _K, added: list[Any]) -> None:
    held = tallies.get(key)
    if held is None:
        tallies[key] = list(added)
    else:
        _merge(held, added)


def _lower(held: Any, added: Any) -> Any:
    return held if added is None or (held is not None and held <= added) else added


def _higher(held: Any, added: Any) -> Any:
    return held if added is None or (held is not None and held >= added) else added


def counted_through(tx: Transaction) -> int:
    """The position a restored snapshot counts every run through (0: none restored)."""
    [(through,)] = tx.fetchall("SELECT coalesce(max(through), 0) FROM stats_restored")
    return int(through)


# --- reading -----------------------------------------------------------------------------


async def summary(store: Reads, scope: str) -> StatsSummary:
    """The summary of a scope (every run, or one batch) from its totals."""
    rows = await store.query(
        f"SELECT node_type, {', '.join(COLUMNS)} FROM stats_types WHERE scope = ? "
        "ORDER BY node_type",
        (scope,),
    )
    buckets = await store.query(
        "SELECT node_type, bucket, calls FROM stats_durations WHERE scope = ?", (scope,)
    )
    sessions = await store.query("SELECT sessions FROM stats_sessions WHERE scope = ?", (scope,))
    histograms: dict[str, list[tuple[int, int]]] = {}
    for node_type, bucket, calls in buckets:
        histograms.setdefault(node_type, []).append((int(bucket), int(calls)))
    totals = [dict(zip(COLUMNS, row[1:], strict=True)) | {"node_type": row[0]} for row in rows]
    counted = [t for t in totals if t["calls"]]  # an invalid graph's runs leave a type empty
    return StatsSummary(
        node_types=[_type_summary(t, histograms.get(t["node_type"], [])) for t in counted],
        sessions=int(sessions[0][0]) if sessions else 0,
        execution_seconds=sum(int(t["total_micros"]) for t in totals) / 1_000_000,
        wall_seconds=_span(totals),
        **_ram(totals),
    )


def _type_summary(t: dict[str, Any], histogram: list[tuple[int, int]]) -> NodeTypeSummary:
    timed, total = int(t["timed"]), int(t["total_micros"]) / 1_000_000
    lowest, highest = t["min_seconds"] or 0.0, t["max_seconds"] or 0.0
    return NodeTypeSummary(
        node_type=t["node_type"],
        calls=int(t["calls"]),
        total_seconds=total,
        mean_seconds=total / timed if timed else 0.0,
        p95_seconds=histogram_percentile(histogram, 0.95, lowest, highest),
        max_vram=None if t["max_vram"] is None else int(t["max_vram"]),
        cache_hits=int(t["cache_hits"]),
        cache_misses=int(t["cache_misses"]),
        failures=int(t["failures"]),
        ram_change=int(t["ram_change"]) if t["ram_runs"] else None,
    )


def _span(totals: Sequence[dict[str, Any]]) -> float | None:
    starts = [t["span_start"] for t in totals if t["span_start"] is not None]
    ends = [t["span_end"] for t in totals if t["span_end"] is not None]
    return (max(ends) - min(starts)) / 1_000_000 if starts and ends else None


def _ram(totals: Sequence[dict[str, Any]]) -> dict[str, int | None]:
    firsts = [(t["rss_first_at"], t["rss_first"]) for t in totals if t["rss_first"] is not None]
    lasts = [(t["rss_last_at"], t["rss_last"]) for t in totals if t["rss_last"] is not None]
    before = min(firsts, key=_when)[1] if firsts else None
    after = max(lasts, key=_when)[1] if lasts else None
    return {"ram_in_use": after, "ram_change": ram_change_of(before, after)}


def _when(pair: tuple[int | None, int]) -> int:
    return -1 if pair[0] is None else pair[0]


async def cache_counts(store: Reads) -> tuple[int, int]:
    """Invocation cache hits and misses over every node run."""
    [(hits, misses)] = await store.query(
        "SELECT coalesce(sum(cache_hits), 0), coalesce(sum(cache_misses), 0) FROM stats_types "
        "WHERE scope = ?",
        (EVERY_RUN,),
    )
    return int(hits), int(misses)


async def completions(store: Reads, limit: int) -> Completions:
    """The last ``limit`` minutes in which sessions ended, oldest first."""
    rows = await store.query(
        "SELECT minute, completed, failed, canceled FROM stats_completions "
        "ORDER BY minute DESC LIMIT ?",
        (limit,),
    )
    return Completions(
        bucket_seconds=_MINUTE // 1_000_000,
        buckets=[
            CompletionBucket(
                at=datetime.fromtimestamp(minute * 60, UTC),
                completed=int(done),
                failed=int(failed),
                canceled=int(canceled),
            )
            for minute, done, failed, canceled in reversed(rows)
        ],
    )


# --- archiving ---------------------------------------------------------------------------


def snapshot(tx: Transaction) -> dict[str, Any]:
    """The ``''`` scope's totals as they stand, and the position they count through."""
    [(through,)] = tx.fetchall(
        "SELECT coalesce(max(position), 0) FROM projection_checkpoints WHERE name = 'stats'"
    )
    every = (EVERY_RUN,)
    return {
        "through": int(through),
        "types": _listed(
            tx.fetchall(
                f"SELECT node_type, {', '.join(COLUMNS)} FROM stats_types WHERE scope = ?", every
            )
        ),
        "durations": _listed(
            tx.fetchall(
                "SELECT node_type, bucket, calls FROM stats_durations WHERE scope = ?", every
            )
        ),
        "sessions": _listed(
            tx.fetchall(
                "SELECT sessions, first_position FROM stats_sessions WHERE scope = ?", every
            )
        ),
        "completions": _listed(
            tx.fetchall("SELECT minute, completed, failed, canceled FROM stats_completions")
        ),
    }


def _listed(rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    return [list(row) for row in rows]


def restore(tx: Transaction, state: dict[str, Any]) -> None:
    """Fresh tables from a snapshot: its totals, and the position they count through."""
    every = EVERY_RUN
    marks = ", ".join("?" * (2 + len(COLUMNS)))
    insert = f"INSERT INTO stats_types (scope, node_type, {', '.join(COLUMNS)}) VALUES ({marks})"
    tx.executemany(insert, [(every, *row) for row in state["types"]])
    tx.executemany(
        "INSERT INTO stats_durations (scope, node_type, bucket, calls) VALUES (?, ?, ?, ?)",
        [(every, *row) for row in state["durations"]],
    )
    tx.executemany(
        "INSERT INTO stats_sessions (scope, sessions, first_position) VALUES (?, ?, ?)",
        [(every, *row) for row in state["sessions"]],
    )
    tx.executemany(
        "INSERT INTO stats_completions (minute, completed, failed, canceled) VALUES (?, ?, ?, ?)",
        [tuple(row) for row in state["completions"]],
    )
    tx.execute("INSERT INTO stats_restored (through) VALUES (?)", (int(state["through"]),))


def forget_batches(tx: Transaction, horizon: int) -> None:
    """Drop the per-batch totals of the batches whose sessions all started below ``horizon``
    (archived: a batch is archived whole)."""
    archived = tx.fetchall(
        "SELECT scope FROM stats_sessions WHERE scope <> ? AND first_position < ?",
        (EVERY_RUN, horizon),
    )
    for table in ("stats_types", "stats_durations", "stats_sessions"):
        tx.executemany(f"DELETE FROM {table} WHERE scope = ?", [(scope,) for (scope,) in archived])
