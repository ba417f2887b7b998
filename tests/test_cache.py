"""The invocation cache beside the log, on every backend: entries, bounds, recency, artifacts."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest

from eventsvc.cache import RECENCY_BATCH, InvocationCache
from eventsvc.projections import ProjectionTransaction
from eventsvc.projections.builtin import ProjectedStore, projected
from eventsvc.store import EventStore
from eventsvc.testing import FakeClock, invocation_completed
from tests.backends import Backend

pytestmark = pytest.mark.anyio

_T = TypeVar("_T")
ROOMY = 1_000_000


class WatchedStore:
    """The store, counting the write transactions beside the log that go through it, and
    calling ``before(sql)`` ahead of each of their statements (on the transaction's thread)."""

    def __init__(self, store: ProjectedStore, before: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.before = before
        self.writes: list[str] = []

    async def write_beside(
        self, work: Callable[[ProjectionTransaction], _T], action: str = "write"
    ) -> _T:
        self.writes.append(action)
        if self.before is None:
            return await self.store.write_beside(work, action)
        before = self.before
        return await self.store.write_beside(lambda tx: work(Hooked(tx, before)), action)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


class Hooked:
    def __init__(self, tx: ProjectionTransaction, before: Callable[[str], None]) -> None:
        self.tx = tx
        self.before = before

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.before(sql)
        self.tx.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.before(sql)
        self.tx.executemany(sql, rows)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.before(sql)
        return self.tx.fetchall(sql, params)


async def open_cache(
    store: EventStore | WatchedStore,
    tmp_path: Path,
    clock: FakeClock,
    *,
    max_entries: int = ROOMY,
    max_bytes: int = ROOMY,
) -> InvocationCache:
    target = store if isinstance(store, WatchedStore) else projected(store)
    artifacts = target.artifact_store(tmp_path / "artifacts")
    cache = InvocationCache(
        target,  # type: ignore[arg-type]
        artifacts,
        max_entries=max_entries,
        max_bytes=max_bytes,
        clock=clock,
    )
    await cache.create()
    return cache


def integer(value: int, pad: int = 0) -> dict[str, Any]:
    outputs: dict[str, Any] = {"type": "integer_output", "value": value}
    if pad:
        outputs["pad"] = "x" * pad
    return outputs


def tensor(sha: str) -> dict[str, Any]:
    ref = {"artifact": sha, "kind": "tensor", "shape": [1], "dtype": "float32"}
    return {"type": "tensor_output", "tensor": ref}


def size(outputs: dict[str, Any]) -> int:
    """The bytes an entry counts for: its outputs as compact JSON."""
    return len(json.dumps(outputs, separators=(",", ":")))


async def held(cache: InvocationCache, *keys: str) -> set[str]:
    """Which of ``keys`` the cache holds (looking them up moves their recency, as a hit does)."""
    return {key for key in keys if (await cache.lookup(key))[1] is not None}


async def last_used(store: EventStore) -> dict[str, int]:
    rows = await projected(store).query("SELECT key, last_used FROM invocation_cache")
    return {key: int(used) for key, used in rows}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_outputs_come_back_as_they_were_put(
    store: EventStore, tmp_path: Path, clock: FakeClock
) -> None:
    cache = await open_cache(store, tmp_path, clock)
    outputs = {"type": "string_output", "value": 'héllo "quoted"', "nested": [1, 2.5, None]}
    assert await cache.lookup("k1") == (True, None)
    await cache.put("k1", "string", outputs)
    assert await cache.lookup("k1") == (True, outputs)
    assert await cache.lookup("k2") == (True, None)
    status = await cache.status()
    assert (status.enabled, status.entries, status.bytes) == (True, 1, size(outputs))
    assert (status.max_entries, status.max_bytes) == (ROOMY, ROOMY)
    await cache.put("k1", "string", integer(1))  # a key already held is kept, counted once
    assert await cache.lookup("k1") == (True, outputs)
    assert (await cache.status()).entries == 1
    assert (await cache.status()).bytes == size(outputs)


async def test_a_disabled_cache_answers_no_lookup(
    store: EventStore, tmp_path: Path, clock: FakeClock
) -> None:
    cache = await open_cache(store, tmp_path, clock)
    await cache.put("k1", "integer", integer(1))
    await cache.set_enabled(False)
    assert await cache.lookup("k1") == (False, None)
    assert await cache.lookup("nope") == (False, None)
    status = await cache.status()
    assert (status.enabled, status.entries) == (False, 1)
    await cache.set_enabled(True)
    assert await cache.lookup("k1") == (True, integer(1))


async def test_beyond_the_entry_bound_the_least_recently_used_go(
    store: EventStore, tmp_path: Path, clock: FakeClock
) -> None:
    cache = await open_cache(store, tmp_path, clock, max_entries=3)
    for n in range(3):
        await cache.put(f"k{n}", "integer", integer(n))
        clock.advance(1)
    assert await cache.lookup("k0") == (True, integer(0))  # k0 is now the most recent
    clock.advance(1)
    await cache.put("k3", "integer", integer(3))
    assert (await cache.status()).entries == 3
    assert await held(cache, "k0", "k1", "k2", "k3") == {"k0", "k2", "k3"}
    assert await cache.evict() == 0  # within its bounds: nothing more goes


async def test_beyond_the_byte_bound_the_least_recently_used_go(
    store: EventStore, tmp_path: Path, clock: FakeClock
) -> None:
    small, large = integer(1, pad=200), integer(2, pad=200 + size(integer(1, pad=200)))
    assert size(large) >= 2 * size(small)
    bound = 2 * size(small) + size(large)
    cache = await open_cache(store, tmp_path, clock, max_bytes=bound)
    await cache.put("a", "integer", small)
    clock.advance(1)
    await cache.put("b", "integer", small)
    clock.advance(1)
    assert (await cache.lookup("a"))[1] == small
    clock.advance(1)
    await cache.put("c", "integer", large)  # 2 small + 1 large fit: nothing goes
    assert (await cache.status()).bytes == bound
    clock.advance(1)
    await cache.put("d", "integer", small)  # over by one small: b, the oldest, goes
    status = await cache.status()
    assert (status.entries, status.bytes) == (3, bound)
    clock.advance(1)
    await cache.put("e", "integer", large)  # a, then c go (two entries for one)
    status = await cache.status()
    assert (status.entries, status.bytes) == (2, size(small) + size(large))
    assert status.bytes <= bound
    assert await held(cache, "a", "b", "c", "d", "e") == {"d", "e"}


async def test_an_entry_larger_than_the_bound_is_not_kept(
    store: EventStore, tmp_path: Path, clock: FakeClock
) -> None:
    cache = await open_cache(store, tmp_path, clock, max_bytes=100)
    await cache.put("small", "integer", integer(1))
    clock.advance(1)
    await cache.put("huge", "integer", integer(2, pad=500))
    status = await cache.status()
    assert status.bytes <= 100
    assert await held(cache, "small", "huge") == {"small"}  # huge could never stay: not put


async def test_hits_are_written_back_in_batches_not_one_write_each(
    store: EventStore, tmp_path: Path, clock: FakeClock
) -> None:
    counting = WatchedStore(projected(store))
    cache = await open_cache(counting, tmp_path, clock)
    keys = [f"k{n:03}" for n in range(RECENCY_BATCH)]
    for key in keys:
        await cache.put(key, "integer", integer(1))
    put_at = clock.now
    clock.advance(10)
    counting.writes.clear()
    for key in keys[:-1]:
        assert (await cache.lookup(key))[1] == integer(1)
    assert counting.writes == []  # RECENCY_BATCH - 1 hits: nothing written yet
    assert set((await last_used(store)).values()) == {put_at}
    assert (await cache.lookup(keys[-1]))[1] == integer(1)
    assert len(counting.writes) == 1  # the batch's hits, in one transaction
    assert await last_used(store) == dict.fromkeys(keys, clock.now)


async def test_flush_writes_the_recency_of_recent_hits_once(
    store: EventStore, tmp_path: Path, clock: FakeClock
) -> None:
    counting = WatchedStore(projected(store))
    cache = await open_cache(counting, tmp_path, clock)
    await cache.put("a", "integer", integer(1))
    await cache.put("b", "integer", integer(2))
    await cache.flush()  # new entries are written back in batches too
    put_at = clock.now
    clock.advance(5)
    counting.writes.clear()
    for _ in range(10):
        await cache.lookup("a")
    assert counting.writes == []
    assert await last_used(store) == {"a": put_at, "b": put_at}
    await cache.flush()
    assert len(counting.writes) == 1
    assert await last_used(store) == {"a": clock.now, "b": put_at}
    await cache.flush()  # nothing new to write
    assert len(counting.writes) == 1


async def test_repeated_hits_on_one_entry_are_written_back_after_a_batch(
    store: EventStore, tmp_path: Path, clock: FakeClock
) -> None:
    """Recency goes back "every RECENCY_BATCH hits": a process that keeps hitting one hot
    entry must not leave it looking unused to every other process until it closes."""
    counting = WatchedStore(projected(store))
    cache = await open_cache(counting, tmp_path, clock)
    await cache.put("hot", "integer", integer(1))
    put_at = clock.now
    clock.advance(5)
    counting.writes.clear()
    for _ in range(RECENCY_BATCH):
        assert (await cache.lookup("hot"))[1] == integer(1)
    assert len(counting.writes) == 1
    assert await last_used(store) == {"hot": clock.now} != {"hot": put_at}


async def test_another_process_sees_recency_once_it_is_flushed(
    store: EventStore, tmp_path: Path, clock: FakeClock
) -> None:
    writer = await open_cache(store, tmp_path, clock, max_entries=3)
    reader = await open_cache(store, tmp_path, clock, max_entries=3)
    for n in range(3):
        await writer.put(f"k{n}", "integer", integer(n))
        clock.advance(1)
    await writer.flush()  # the reader sees the writer's entries once written
    assert (await reader.lookup("k0"))[1] == integer(0)
    assert (await last_used(store))["k0"] < clock.now  # held in the reader's memory only
    await reader.flush()
    assert (await last_used(store))["k0"] == clock.now
    clock.advance(1)
    await writer.put("k3", "integer", integer(3))
    await writer.flush()  # writes k3, then evicts the least recently used: k1
    assert await held(writer, "k0", "k1", "k2", "k3") == {"k0", "k2", "k3"}


async def test_clear_removes_every_entry(
    store: EventStore, tmp_path: Path, clock: FakeClock
) -> None:
    cache = await open_cache(store, tmp_path, clock)
    for n in range(3):
        await cache.put(f"k{n}", "integer", integer(n))
    await cache.lookup("k1")  # recency pending in memory: cleared with the entries
    assert await cache.clear() == 3
    status = await cache.status()
    assert (status.entries, status.bytes, status.enabled) == (0, 0, True)
    assert await held(cache, "k0", "k1", "k2") == set()
    assert await cache.clear() == 0
    await cache.put("k1", "integer", integer(7))  # the key can be used again
    assert await cache.lookup("k1") == (True, integer(7))
    assert (await cache.status()).entries == 1


async def test_entries_and_the_switch_outlive_the_process_and_are_shared(
    backend: Backend, tmp_path: Path, clock: FakeClock
) -> None:
    async with backend.open() as first:
        cache = await open_cache(first, tmp_path, clock)
        await cache.put("k1", "integer", integer(1))
        await cache.flush()
        if backend.name == "postgres":  # two processes at once on one database
            async with backend.open() as second:
                other = await open_cache(second, tmp_path, clock)
                assert await other.lookup("k1") == (True, integer(1))
                await other.put("k2", "integer", integer(2))
                await other.flush()
                assert await cache.lookup("k2") == (True, integer(2))
                await other.set_enabled(False)
                assert await cache.lookup("k1") == (False, None)
                await other.set_enabled(True)
                await other.clear()
                assert await cache.lookup("k1") == (True, None)
                await cache.put("k1", "integer", integer(1))
                await cache.flush()
        await cache.set_enabled(False)
    async with backend.open() as reopened:  # SQLite: one writer, so close and reopen
        again = await open_cache(reopened, tmp_path, clock)  # creating again resets nothing
        status = await again.status()
        assert (status.enabled, status.entries, status.bytes) == (False, 1, size(integer(1)))
        await again.set_enabled(True)
        assert await again.lookup("k1") == (True, integer(1))


async def put_artifact(store: EventStore, tmp_path: Path, data: bytes) -> str:
    # PostgreSQL artifacts are reached from worker threads only, as node bodies do.
    artifacts = projected(store).artifact_store(tmp_path / "artifacts")
    return await anyio.to_thread.run_sync(artifacts.put, data, "application/octet-stream")


async def has_artifact(store: EventStore, tmp_path: Path, sha: str) -> bool:
    artifacts = projected(store).artifact_store(tmp_path / "artifacts")
    return await anyio.to_thread.run_sync(artifacts.__contains__, sha)


async def name_in_an_event(store: EventStore, sha: str) -> None:
    await store.append("session-b1.0", [invocation_completed("n", tensor(sha))])


async def test_an_evicted_artifact_goes_only_when_nothing_names_it(
    store: EventStore, tmp_path: Path, clock: FakeClock
) -> None:
    shared = await put_artifact(store, tmp_path, b"shared")
    logged = await put_artifact(store, tmp_path, b"logged")
    cache = await open_cache(store, tmp_path, clock, max_entries=2)
    for key, outputs in (("e1", tensor(shared)), ("e2", tensor(shared)), ("e3", tensor(logged))):
        await cache.put(key, "noise", outputs)
        await cache.flush()
        clock.advance(1)
    # e1 went; e2 still names the shared artifact.
    assert await cache.lookup("e1") == (True, None)
    assert await has_artifact(store, tmp_path, shared)
    await name_in_an_event(store, logged)
    await cache.put("e4", "integer", integer(4))  # e2 goes: nothing names shared any more
    await cache.flush()
    clock.advance(1)
    assert await cache.lookup("e2") == (True, None)
    assert not await has_artifact(store, tmp_path, shared)
    await cache.put("e5", "integer", integer(5))  # e3 goes: an event still names logged
    await cache.flush()
    assert await cache.lookup("e3") == (True, None)
    assert await has_artifact(store, tmp_path, logged)
    assert await held(cache, "e4", "e5") == {"e4", "e5"}


async def test_entries_written_before_the_artifact_index_keep_their_artifacts(
    store: EventStore, tmp_path: Path, clock: FakeClock
) -> None:
    shared = await put_artifact(store, tmp_path, b"shared")
    cache = await open_cache(store, tmp_path, clock, max_entries=2)
    for key in ("e1", "e2"):
        await cache.put(key, "noise", tensor(shared))
        await cache.flush()
        clock.advance(1)
    # e2 as an older eventsvc wrote it (beside a newer one): no index of what it names.
    await projected(store).write_beside(
        lambda tx: tx.execute("DELETE FROM invocation_cache_artifacts WHERE key = 'e2'")
    )
    cache = await open_cache(store, tmp_path, clock, max_entries=2)
    await cache.put("e3", "integer", integer(3))  # e1 goes; e2 still names the artifact
    await cache.flush()
    assert await cache.lookup("e1") == (True, None)
    assert await has_artifact(store, tmp_path, shared)


@pytest.mark.backends(
    "sqlite", reason="edits a checkpoint that a PostgreSQL runner would fold past"
)
async def test_an_event_the_stats_projection_has_not_folded_yet_still_keeps_its_artifact(
    store: EventStore, tmp_path: Path, clock: FakeClock
) -> None:
    logged = await put_artifact(store, tmp_path, b"logged")
    cache = await open_cache(store, tmp_path, clock, max_entries=1)
    await cache.put("e1", "noise", tensor(logged))
    await cache.flush()
    await name_in_an_event(store, logged)
    # As if the event were sealed and the stats runner had not reached it yet.
    head = await store.head()
    await projected(store).write_beside(
        lambda tx: (
            tx.execute("DELETE FROM artifact_refs"),
            tx.execute("UPDATE projection_checkpoints SET position = ? WHERE name = 'stats'",
                       (head - 1,)),
        )
    )  # fmt: skip
    await cache.put("e2", "integer", integer(2))  # e1 goes; only the unfolded event names it
    await cache.flush()
    assert await cache.lookup("e1") == (True, None)
    assert await has_artifact(store, tmp_path, logged)


async def test_clear_deletes_the_artifacts_only_entries_named(
    store: EventStore, tmp_path: Path, clock: FakeClock
) -> None:
    orphan = await put_artifact(store, tmp_path, b"orphan")
    logged = await put_artifact(store, tmp_path, b"logged")
    await name_in_an_event(store, logged)
    cache = await open_cache(store, tmp_path, clock)
    await cache.put("a", "noise", tensor(orphan))
    await cache.put("b", "noise", tensor(logged))
    assert await cache.clear() == 2
    assert not await has_artifact(store, tmp_path, orphan)
    assert await has_artifact(store, tmp_path, logged)


# --- processes writing at once (PostgreSQL: SQLite has one writer) ---------------------------

TWO_WRITERS = pytest.mark.backends("postgres", reason="SQLite lets one process write at a time")


async def rows_and_totals(store: EventStore, cache: InvocationCache) -> tuple[int, int, int, int]:
    [(rows, size_sum)] = await projected(store).query(
        "SELECT count(*), coalesce(sum(size), 0) FROM invocation_cache"
    )
    status = await cache.status()
    return int(rows), int(size_sum), status.entries, status.bytes


@TWO_WRITERS
async def test_processes_evicting_at_once_keep_the_totals_true(
    backend: Backend, tmp_path: Path, clock: FakeClock
) -> None:
    both_chose = threading.Barrier(2)

    def before(sql: str) -> None:
        if sql.startswith("DELETE FROM invocation_cache"):
            # Each has read the totals and picked the oldest entry; where one process waits
            # for the other's eviction instead (a lock), the barrier breaks and it goes on.
            with contextlib.suppress(threading.BrokenBarrierError):
                both_chose.wait(timeout=2)

    async with backend.open() as first, backend.open() as second:
        one = await open_cache(WatchedStore(projected(first), before), tmp_path, clock)
        other = await open_cache(WatchedStore(projected(second), before), tmp_path, clock)
        for n in range(3):
            await one.put(f"k{n}", "integer", integer(n))
            clock.advance(1)
        one.max_entries = other.max_entries = 2
        async with anyio.create_task_group() as tg:
            tg.start_soon(one.evict)
            tg.start_soon(other.evict)
        rows, size_sum, entries, total = await rows_and_totals(first, one)
        assert (rows, size_sum) == (2, 2 * size(integer(1)))
        assert (entries, total) == (rows, size_sum)


@TWO_WRITERS
async def test_an_entry_put_while_another_process_clears_keeps_the_totals_true(
    backend: Backend, tmp_path: Path, clock: FakeClock
) -> None:
    counted, put_done = threading.Event(), threading.Event()

    def before(sql: str) -> None:
        if sql.startswith("DELETE FROM invocation_cache") and not counted.is_set():
            counted.set()  # about to delete what it counted
            put_done.wait(timeout=2)  # the put goes in now, unless it waits for this clear

    async with backend.open() as first, backend.open() as second:
        clearing = await open_cache(WatchedStore(projected(first), before), tmp_path, clock)
        putting = await open_cache(second, tmp_path, clock)
        await clearing.put("old", "integer", integer(1))
        async with anyio.create_task_group() as tg:
            tg.start_soon(clearing.clear)
            assert await anyio.to_thread.run_sync(counted.wait, 10)
            await putting.put("new", "integer", integer(2))
            put_done.set()
        rows, size_sum, entries, total = await rows_and_totals(first, clearing)
        assert (entries, total) == (rows, size_sum)
