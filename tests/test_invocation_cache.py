"""The invocation cache through the service and its workers: hits skip invoke(), misses fill it.

Each test counts the calls of its own test nodes; sessions run one at a time (one worker), so
which node of which batch hits is known in advance.
"""

from __future__ import annotations

import math
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from eventsvc.batches import Batch
from eventsvc.config import Settings
from eventsvc.events import InvocationCompleted
from eventsvc.ids import session_stream
from eventsvc.invocations import REGISTRY, BaseInvocation, InputField, invocation
from eventsvc.invocations.base import BaseInvocationOutput, OutputField
from eventsvc.invocations.context import ArtifactRef, InvocationContext
from eventsvc.invocations.decorators import invocation_output
from eventsvc.invocations.primitives import FloatOutput, IntegerOutput, StringOutput
from eventsvc.invocations.registry import InvocationRegistry
from eventsvc.service import Service
from eventsvc.stats import render_table, to_json
from eventsvc.store import EventFilter
from tests.backends import PostgresBackend, fresh_schema
from tests.postgres import settle as settle_postgres
from tests.test_executor import datum, edge, graph, settings_for

pytestmark = pytest.mark.anyio

_lock = threading.Lock()
CALLS: list[tuple[str, Any, dict[str, Any]]] = []  # (node type, input, what invoke returned)


def called(node_type: str, value: Any, output: BaseInvocationOutput) -> Any:
    with _lock:
        CALLS.append((node_type, value, output.model_dump(mode="json")))
    return output


@invocation("test_cache_counted", category="tests")
class CountedInvocation(BaseInvocation):
    value: int = InputField(0)

    def invoke(self, context: InvocationContext) -> IntegerOutput:
        return called("test_cache_counted", self.value, IntegerOutput(value=self.value * 3 + 1))


@invocation_output("test_cache_blob_output")
class BlobOutput(BaseInvocationOutput):
    blob: ArtifactRef = OutputField()
    note: str = OutputField()


@invocation("test_cache_blob", category="tests")
class BlobInvocation(BaseInvocation):
    """Stores an artifact made from its seed; ``pad`` makes its outputs as large as asked."""

    seed: int = InputField(0)
    pad: int = InputField(0)

    def invoke(self, context: InvocationContext) -> BlobOutput:
        sha = context.artifacts.put(b"blob %d" % self.seed, "application/octet-stream")
        output = BlobOutput(
            blob=ArtifactRef(artifact=sha, kind="tensor", shape=[1], dtype="float32"),
            note="x" * self.pad,
        )
        return called("test_cache_blob", self.seed, output)


@invocation("test_cache_versioned", version="1.0.0", category="tests")
class VersionedV1(BaseInvocation):
    value: int = InputField(0)

    def invoke(self, context: InvocationContext) -> IntegerOutput:
        return called("test_cache_versioned@1", self.value, IntegerOutput(value=self.value))


@invocation("test_cache_versioned", version="2.0.0", category="tests")
class VersionedV2(BaseInvocation):
    value: int = InputField(0)

    def invoke(self, context: InvocationContext) -> IntegerOutput:
        return called("test_cache_versioned@2", self.value, IntegerOutput(value=-self.value))


@invocation("test_cache_special_float", category="tests")
class SpecialFloatInvocation(BaseInvocation):
    """A float spelled as text: 'nan', 'inf', '-inf' or a number."""

    text: str = InputField("0")

    def invoke(self, context: InvocationContext) -> FloatOutput:
        return called("test_cache_special_float", self.text, FloatOutput(value=float(self.text)))


@invocation("test_cache_repr", category="tests")
class ReprInvocation(BaseInvocation):
    value: float = InputField(0.0)

    def invoke(self, context: InvocationContext) -> StringOutput:
        return called("test_cache_repr", self.value, StringOutput(value=repr(self.value)))


def registry_with(*classes: type[BaseInvocation]) -> InvocationRegistry:
    """Every registered node type, with ``classes`` in place of those of their types."""
    registry = REGISTRY.restricted()
    for cls in classes:
        registry.register_invocation(cls)
    return registry


@pytest.fixture(autouse=True)
def calls() -> Iterator[list[tuple[str, Any, dict[str, Any]]]]:
    CALLS.clear()
    yield CALLS
    CALLS.clear()


def count(node_type: str) -> int:
    return sum(1 for t, _, _ in CALLS if t == node_type)


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    async with Service.open(settings_for(tmp_path)) as opened:
        yield opened


async def settle(service: Service, batch_ids: list[str]) -> None:
    """Run one worker until every session of the batches has ended."""
    executor = service.executor(workers=1)
    ended = frozenset({"session.completed", "session.failed", "session.canceled"})
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            async with service.store.subscribe(filter=EventFilter(tags=ended)) as sub:
                await tg.start(executor.run)
                while not await _settled(service, batch_ids):
                    await anext(aiter(sub))
            tg.cancel_scope.cancel()
    for batch_id in batch_ids:
        counts = (await service.queue.batch_status(batch_id)).counts
        assert counts.failed == counts.canceled == 0, (batch_id, counts)


async def _settled(service: Service, batch_ids: list[str]) -> bool:
    for batch_id in batch_ids:
        counts = (await service.queue.batch_status(batch_id)).counts
        if counts.uninitialized or counts.in_progress:
            return False
    return True


async def run(service: Service, batch_id: str, g: Any, data: Any = ()) -> list[InvocationCompleted]:
    """Enqueue and run one batch; its node completions, session by session."""
    batch = Batch(batch_id=batch_id, graph=g, data=list(data))
    await service.enqueue_batch("default", batch)
    await settle(service, [batch_id])
    completions = []
    for index in range(batch.session_count):
        for record in await service.store.read_stream(session_stream(f"{batch_id}.{index}")):
            if isinstance(record.data, InvocationCompleted):
                completions.append(record.data)
    return completions


def by_node(completions: list[InvocationCompleted]) -> dict[str, InvocationCompleted]:
    nodes = {(c.session_id.rpartition(".")[2], c.node_id): c for c in completions}
    assert len(nodes) == len(completions)
    return {f"{session}/{node}": c for (session, node), c in nodes.items()}


# Every kind of node: iterate/collect (never cached), a node that asks not to be, a seeded
# random one, one making an artifact, and nodes fed by edges.
EVERYTHING = graph(
    {
        "r": {"type": "range"},
        "i": {"type": "iterate"},
        "c": {"type": "test_cache_counted"},
        "col": {"type": "collect"},
        "s": {"type": "random_int", "high": 1000},
        "a": {"type": "add", "b": 1},
        "u": {"type": "test_cache_counted", "value": 100, "use_cache": False},
        "blob": {"type": "test_cache_blob"},
    },
    [
        edge("r.collection", "i.collection"),
        edge("i.item", "c.value"),
        edge("c.value", "col.item"),
        edge("s.value", "a.a"),
        edge("s.value", "blob.seed"),
    ],
)
# Two sessions: ranges of 2 and 3 (so c runs for 0, 1 | 0, 1, 2), seeds 5 and 6.
EVERYTHING_DATA = [[datum("r", "stop", [2, 3]), datum("s", "seed", [5, 6])]]
NEVER_CACHED = {"i", "col", "u"}


async def test_a_second_batch_hits_for_every_node_it_can(service: Service) -> None:
    first = await run(service, "b1", EVERYTHING, EVERYTHING_DATA)
    calls_before = len(CALLS)
    assert count("test_cache_counted") == 3 + 2  # 0, 1, 2 once; u in each session
    second = await run(service, "b2", EVERYTHING, EVERYTHING_DATA)

    assert len(second) == len(first) == 10 + 12
    for completed in second:
        source = completed.source_node_id
        if source in NEVER_CACHED:
            assert (completed.cached, completed.cache_key) == (False, None), completed
        else:
            assert completed.cached, completed
            assert completed.cache_key is not None
    # Only u ran again (once a session): no cacheable node was invoked.
    assert [(t, v) for t, v, _ in CALLS[calls_before:]] == [("test_cache_counted", 100)] * 2
    # Within b1 the second session already hit the values the first had seen.
    hits_in_first = sorted(c.node_id for c in first if c.cached)
    assert hits_in_first == ["c[0]", "c[1]"]


async def test_a_hit_hands_on_exactly_what_invoke_returned(service: Service) -> None:
    first = by_node(await run(service, "b1", EVERYTHING, EVERYTHING_DATA))
    second = by_node(await run(service, "b2", EVERYTHING, EVERYTHING_DATA))
    assert second.keys() == first.keys()
    for name, completed in second.items():
        assert completed.outputs == first[name].outputs, name
        assert completed.node_type == first[name].node_type
    returned = {(t, v): output for t, v, output in CALLS}
    blob = second["0/blob"]
    assert blob.cached
    assert blob.outputs == returned["test_cache_blob", first["0/s"].outputs["value"]]
    seven = {"type": "integer_output", "value": 7}
    assert second["1/c[2]"].outputs == returned["test_cache_counted", 2] == seven
    # The artifact a hit refers to is there, and what the node stored.
    sha = blob.outputs["blob"]["artifact"]
    assert service.artifacts.get(sha) == b"blob %d" % first["0/s"].outputs["value"]
    # What the hit passed on downstream is what the miss passed on.
    assert second["1/col"].outputs == first["1/col"].outputs
    assert second["1/col"].outputs["collection"] == [1, 4, 7]


async def test_a_changed_input_misses_and_so_does_everything_downstream(
    service: Service,
) -> None:
    chain = graph(
        {
            "a": {"type": "add", "a": 1},
            "m": {"type": "multiply", "b": 3},
            "c": {"type": "test_cache_counted"},
        },
        [edge("a.value", "m.a"), edge("m.value", "c.value")],
    )
    hits = {}
    for batch_id, data in [
        ("b1", [[datum("a", "b", [2]), datum("m", "b", [3])]]),
        ("b2", [[datum("a", "b", [2]), datum("m", "b", [3])]]),  # the same: every node hits
        ("b3", [[datum("a", "b", [5]), datum("m", "b", [3])]]),  # a's input changed
        ("b4", [[datum("a", "b", [5]), datum("m", "b", [4])]]),  # only m's input changed
    ]:
        completions = await run(service, batch_id, chain, data)
        hits[batch_id] = {c.node_id: c.cached for c in completions}
    assert hits == {
        "b1": {"a": False, "m": False, "c": False},
        "b2": {"a": True, "m": True, "c": True},
        "b3": {"a": False, "m": False, "c": False},
        "b4": {"a": True, "m": False, "c": False},
    }
    assert [v for _, v, _ in CALLS] == [9, 18, 24]


async def test_a_bumped_node_version_misses(service: Service) -> None:
    single = graph({"v": {"type": "test_cache_versioned", "value": 4}})
    service.registry = registry_with(VersionedV1)
    assert [c.cached for c in await run(service, "b1", single)] == [False]
    assert [c.cached for c in await run(service, "b2", single)] == [True]
    service.registry = registry_with(VersionedV2)
    [bumped] = await run(service, "b3", single)
    assert not bumped.cached
    assert bumped.outputs["value"] == -4  # what the new version returns, not the cached value
    assert [c.cached for c in await run(service, "b4", single)] == [True]
    assert [t for t, _, _ in CALLS] == ["test_cache_versioned@1", "test_cache_versioned@2"]


async def test_a_node_asked_not_to_use_the_cache_never_hits(service: Service) -> None:
    uncached = graph(
        {
            "c": {"type": "test_cache_counted", "value": 2, "use_cache": False},
            "a": {"type": "add", "a": 1, "b": 1, "use_cache": False},
        }
    )
    for batch_id in ("b1", "b2", "b3"):
        for completed in await run(service, batch_id, uncached):
            assert (completed.cached, completed.cache_key) == (False, None)
    assert count("test_cache_counted") == 3
    assert (await service.cache.status()).entries == 0
    assert await service.stats.cache_counts() == (0, 0)


async def test_a_restart_keeps_the_entries(tmp_path: Path) -> None:
    async with Service.open(settings_for(tmp_path)) as service:
        first = await run(service, "b1", EVERYTHING, EVERYTHING_DATA)
        entries = (await service.cache.status()).entries
    assert entries == 2 + 3 + 2 + 2 + 2  # r, c, s, a and blob, once per distinct input
    CALLS.clear()
    async with Service.open(settings_for(tmp_path)) as service:
        assert (await service.cache.status()).entries == entries
        second = await run(service, "b2", EVERYTHING, EVERYTHING_DATA)
    assert [t for t, _, _ in CALLS] == ["test_cache_counted"] * 2  # u only
    assert sum(c.cached for c in second) == len(first) - sum(
        c.source_node_id in NEVER_CACHED for c in first
    )


async def test_closing_the_service_writes_the_recency_of_its_last_hits(tmp_path: Path) -> None:
    single = graph({"c": {"type": "test_cache_counted", "value": 5}})
    async with Service.open(settings_for(tmp_path)) as service:
        await run(service, "b1", single)
        await service.cache.flush()  # the new entry is written back with the next batch
        [(put_at,)] = await service.store.query("SELECT last_used FROM invocation_cache")
        assert [c.cached for c in await run(service, "b2", single)] == [True]
        # Fewer hits than a batch: the recency is still in memory only.
        assert await service.store.query("SELECT last_used FROM invocation_cache") == [(put_at,)]
    async with Service.open(settings_for(tmp_path)) as service:
        [(used,)] = await service.store.query("SELECT last_used FROM invocation_cache")
    assert used > put_at


async def test_the_stats_count_hits_and_misses_per_node_type_and_session(
    service: Service,
) -> None:
    await run(service, "b1", EVERYTHING, EVERYTHING_DATA)
    await run(service, "b2", EVERYTHING, EVERYTHING_DATA)
    summary = await service.stats.node_types()
    counts = {t.node_type: (t.calls, t.cache_hits, t.cache_misses) for t in summary.node_types}
    assert counts == {
        "range": (4, 2, 2),
        "iterate": (10, 0, 0),
        "test_cache_counted": (14, 7, 3),  # u: 4 calls, neither hit nor miss
        "collect": (4, 0, 0),
        "random_int": (4, 2, 2),
        "add": (4, 2, 2),
        "test_cache_blob": (4, 2, 2),
    }
    assert await service.stats.cache_counts() == (15, 11)
    lines = {line.split()[0]: line.split()[1:4] for line in render_table(summary).splitlines()}
    assert lines["Node"] == ["Calls", "Hits", "Misses"]
    assert lines["test_cache_counted"] == ["14", "7", "3"]
    assert lines["iterate"] == ["10", "0", "0"]
    rows = {r["node_type"]: r for r in to_json(summary)["node_types"]}
    assert (rows["range"]["cache_hits"], rows["range"]["cache_misses"]) == (2, 2)
    for session_id in ("b2.0", "b2.1"):
        per_session = (await service.stats.session(session_id)).node_types
        assert sum(t.cache_misses for t in per_session) == 0
    larger = (await service.stats.session("b2.1")).node_types
    assert {t.node_type: t.cache_hits for t in larger}["test_cache_counted"] == 3
    first = [(await service.stats.session(f"b1.{n}")).node_types for n in range(2)]
    counted = [{t.node_type: t for t in s}["test_cache_counted"] for s in first]
    # Whichever session of b1 ran first missed every value; the other hit 0 and 1.
    assert sorted((t.cache_hits, t.cache_misses) for t in counted) in (
        [(0, 2), (2, 1)],
        [(0, 3), (2, 0)],
    )
    batch = {t.node_type: t for t in (await service.stats.batch("b2")).node_types}
    assert (batch["add"].cache_hits, batch["add"].cache_misses) == (2, 0)


async def test_a_disabled_cache_is_neither_asked_nor_filled(service: Service) -> None:
    single = graph({"c": {"type": "test_cache_counted", "value": 8}})
    await service.cache.set_enabled(False)
    for batch_id in ("b1", "b2"):
        [completed] = await run(service, batch_id, single)
        assert (completed.cached, completed.cache_key) == (False, None)
    status = await service.cache.status()
    assert (status.enabled, status.entries) == (False, 0)
    assert await service.stats.cache_counts() == (0, 0)
    assert count("test_cache_counted") == 2
    await service.cache.set_enabled(True)
    assert [c.cached for c in await run(service, "b3", single)] == [False]
    assert [c.cached for c in await run(service, "b4", single)] == [True]
    assert count("test_cache_counted") == 3
    assert await service.stats.cache_counts() == (1, 1)


async def test_a_cleared_cache_misses_again(service: Service) -> None:
    single = graph({"c": {"type": "test_cache_counted", "value": 8}})
    await run(service, "b1", single)
    assert await service.cache.clear() == 1
    assert [c.cached for c in await run(service, "b2", single)] == [False]
    assert count("test_cache_counted") == 2


async def test_the_artifact_of_an_entry_evicted_at_once_stays_for_its_event(
    tmp_path: Path,
) -> None:
    """An entry larger than the byte bound is evicted as soon as it is put; its artifact is
    still named by the node's completion, which must not be left pointing at nothing."""
    settings = settings_for(tmp_path, cache_max_bytes=1024)
    async with Service.open(settings) as service:
        big = graph({"blob": {"type": "test_cache_blob", "seed": 1, "pad": 2000}})
        [completed] = await run(service, "b1", big)
        assert (await service.cache.status()).entries == 0
        sha = completed.outputs["blob"]["artifact"]
        assert sha in service.artifacts
        assert service.artifacts.get(sha) == b"blob 1"


@pytest.mark.parametrize("special", ["nan", "inf", "-inf"])
async def test_values_without_a_json_form_are_never_answered_from_the_cache(
    service: Service, special: str
) -> None:
    """NaN and the infinities have no canonical JSON form, so no key: a node fed one runs."""
    fed = graph(
        {"f": {"type": "test_cache_special_float"}, "r": {"type": "test_cache_repr"}},
        [edge("f.value", "r.value")],
    )
    others = [s for s in ("nan", "inf", "-inf") if s != special]
    await run(service, "b1", fed, [[datum("f", "text", others)]])
    completions = await run(service, "b2", fed, [[datum("f", "text", [special])]])
    assert [c.cached for c in completions] == [False, False]
    assert [c.cache_key for c in completions if c.node_id == "r"] == [None]
    [(_, value, output)] = [call for call in CALLS if call[0] == "test_cache_repr"][-1:]
    assert math.isnan(value) if special == "nan" else value == float(special)
    assert output["value"] == repr(float(special))


# --- PostgreSQL: every process shares one cache ----------------------------------------------


@pytest.fixture
def schema() -> Iterator[PostgresBackend]:
    with fresh_schema() as fresh:
        yield fresh


async def run_postgres(service: Service, batch_id: str, g: Any) -> list[InvocationCompleted]:
    await service.enqueue_batch("default", Batch(batch_id=batch_id, graph=g))
    await settle_postgres(service, [batch_id], workers=1)
    return [
        r.data
        for r in await service.store.read_stream(session_stream(f"{batch_id}.0"))
        if isinstance(r.data, InvocationCompleted)
    ]


async def test_processes_on_one_postgres_store_share_the_cache(
    schema: PostgresBackend, tmp_path: Path
) -> None:
    chain = graph(
        {"a": {"type": "add", "a": 1, "b": 2}, "c": {"type": "test_cache_counted"}},
        [edge("a.value", "c.value")],
    )
    settings = Settings(store_url=schema.url, artifacts_dir=str(tmp_path / "artifacts"))
    async with Service.open(settings) as first, Service.open(settings) as second:
        assert [c.cached for c in await run_postgres(first, "b1", chain)] == [False, False]
        await first.cache.flush()  # what one process caches, the others see once written
        assert [c.cached for c in await run_postgres(second, "b2", chain)] == [True, True]
        assert count("test_cache_counted") == 1
        await first.cache.set_enabled(False)
        assert not (await second.cache.status()).enabled
        assert [c.cached for c in await run_postgres(second, "b3", chain)] == [False, False]
        assert count("test_cache_counted") == 2
        assert (await second.cache.status()).entries == 2


async def test_an_entry_evicted_at_once_on_postgres_neither_stops_the_worker_nor_its_artifact(
    schema: PostgresBackend, tmp_path: Path
) -> None:
    settings = Settings(
        store_url=schema.url, artifacts_dir=str(tmp_path / "artifacts"), cache_max_bytes=1024
    )
    async with Service.open(settings) as service:
        big = graph({"blob": {"type": "test_cache_blob", "seed": 1, "pad": 2000}})
        [completed] = await run_postgres(service, "b1", big)
        counts = (await service.queue.batch_status("b1")).counts
        assert (counts.completed, counts.in_progress) == (1, 0)
        sha = completed.outputs["blob"]["artifact"]
        assert await anyio.to_thread.run_sync(service.artifacts.get, sha) == b"blob 1"
