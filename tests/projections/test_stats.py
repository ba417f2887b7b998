"""The stats projection's artifact references, on every backend: what the log names, and the
first position naming each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eventsvc.audit import audit
from eventsvc.events import InvocationFailed
from eventsvc.invocations.context import artifacts_in
from eventsvc.projections.builtin import ProjectedStore, projected
from eventsvc.projections.stats import StatsProjection
from eventsvc.store import EventStore, open_store
from eventsvc.testing import FakeClock, invocation_completed, session_started
from tests.test_cache import open_cache

pytestmark = pytest.mark.anyio


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


A, B, C = ("a" * 64, "b" * 64, "c" * 64)


def ref(sha: str, kind: str = "tensor") -> dict[str, Any]:
    return {"artifact": sha, "kind": kind, "shape": [1], "dtype": "float32"}


async def refs(store: ProjectedStore) -> list[tuple[Any, ...]]:
    await store.wait_for_projections(await store.head())
    rows = await store.query("SELECT sha256, position FROM artifact_refs ORDER BY sha256")
    return [tuple(row) for row in rows]


def test_artifacts_in_finds_references_at_any_depth_and_nothing_else() -> None:
    outputs = {
        "type": "pair",
        "first": ref(A),
        "more": [ref(B, "image"), {"nested": [ref(A)]}],
        "not_a_ref": {"artifact": C},  # no kind: a plain value that happens to use the word
        "text": A,
    }
    assert artifacts_in(outputs) == {A, B}
    assert artifacts_in([]) == artifacts_in({}) == artifacts_in(3) == set()


async def test_each_artifact_is_kept_with_the_first_position_naming_it(store: EventStore) -> None:
    target = projected(store)
    await target.register(StatsProjection())
    await store.append("session-b1.0", [session_started("b1.0")])
    await store.append(
        "session-b1.0",
        [
            invocation_completed("n1", {"type": "tensor_output", "tensor": ref(A)}),  # position 2
            invocation_completed("n2", {"type": "integer_output", "value": 3}),
            invocation_completed("n3", {"type": "pair", "x": ref(B), "y": ref(A)}),  # position 4
        ],
    )
    failed = InvocationFailed(
        queue_id="default",
        batch_id="b1",
        session_id="b1.0",
        node_id="n4",
        source_node_id="n4",
        node_type="noise",
        error_type="E",
        error_message="e",
    )
    await store.append("session-b1.0", [failed])
    assert await refs(target) == [(A, 2), (B, 4)]
    # A rebuild from the log gives the same table.
    await target.rebuild("stats")
    assert await refs(target) == [(A, 2), (B, 4)]


async def test_registering_catches_up_with_a_log_written_before(store: EventStore) -> None:
    await store.append(
        "session-b1.0", [invocation_completed("n1", {"type": "t", "tensor": ref(C)})]
    )
    target = projected(store)
    await target.register(StatsProjection())
    assert await refs(target) == [(C, 1)]


async def test_the_cache_registers_it_on_a_store_that_does_not_fold_it(
    store: EventStore, tmp_path: Path, clock: FakeClock
) -> None:
    await store.append(
        "session-b1.0", [invocation_completed("n1", {"type": "t", "tensor": ref(A)})]
    )
    assert "stats" not in projected(store).projections
    await open_cache(store, tmp_path, clock)
    assert "stats" in projected(store).projections
    assert await refs(projected(store)) == [(A, 1)]


async def test_audit_names_a_row_that_a_rebuild_would_not_give(tmp_path: Path) -> None:
    async with open_store(f"sqlite://{tmp_path / 'log.db'}") as opened:
        store = projected(opened)
        await store.register(StatsProjection())
        await store.append(
            "session-b1.0",
            [session_started("b1.0"), invocation_completed("n1", {"type": "t", "tensor": ref(A)})],
        )
        assert (await audit(store)).clean
        await store.write_beside(
            lambda tx: tx.execute("INSERT INTO artifact_refs VALUES (?, ?)", (B, 1))
        )
        findings = (await audit(store)).findings
    assert [(f.check, f.reason) for f in findings] == [
        ("projection", f"stats: artifact_refs row sha256={B!r} is not in a rebuild")
    ]
