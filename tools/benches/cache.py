"""``cache``: a hit in the invocation cache among 100,000 entries, beside one indexed lookup of
the same key through the same driver."""

from __future__ import annotations

from pathlib import Path

from benches.common import Figure, timed
from eventsvc.artifacts import FileArtifactStore
from eventsvc.projections.builtin import projected
from eventsvc.store import open_store


async def bench_cache(directory: Path, entries: int = 100_000, probes: int = 2000) -> list[Figure]:
    """A cache hit among ``entries``: the lookup and the decode of its outputs into the node's
    output model (what a worker does before appending the hit), beside one indexed lookup of
    the same key through the same driver."""
    from eventsvc.cache import InvocationCache
    from eventsvc.invocations.math import IntegerOutput

    async with open_store(f"sqlite://{directory / 'cache.db'}") as opened:
        store = projected(opened)
        cache = InvocationCache(
            store, FileArtifactStore(directory / "artifacts"), max_entries=entries, max_bytes=2**40
        )
        await cache.create()
        keys = [f"{n:064x}" for n in range(entries)]
        outputs = '{"value":12345,"type":"integer_output"}'
        rows = [(k, "add", outputs, "[]", len(outputs), n, "t") for n, k in enumerate(keys)]
        insert = "INSERT INTO invocation_cache VALUES (?, ?, ?, ?, ?, ?, ?)"
        await store.write_beside(lambda tx: tx.executemany(insert, rows))
        chosen = [keys[(n * 7919) % entries] for n in range(probes)]

        async def hits() -> None:
            for key in chosen:
                _, found = await cache.lookup(key)
                assert found is not None
                IntegerOutput.model_validate(found)

        async def indexed() -> None:
            for key in chosen:
                await store.point_query("SELECT 1 FROM invocation_cache WHERE key = ?", (key,))

        hit_runs, floor_runs = [], []
        for _ in range(3):  # alternated, so both see the same state of the file
            hit_runs.append(await timed(hits))
            floor_runs.append(await timed(indexed))
        hit_s, floor_s = min(hit_runs), min(floor_runs)
    return [
        Figure("cache_lookup_us", hit_s / probes * 1e6, "us", floor_s / probes * 1e6, "<= 100 us"),
        Figure("cache_entries", entries, "entries", None),
    ]
