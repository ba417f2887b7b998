"""The invocation cache's key: equal for the same type, version and inputs, and nothing else."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest

from eventsvc.invocations import REGISTRY, BaseInvocation, InputField, invocation
from eventsvc.invocations.cache_key import cache_key
from eventsvc.invocations.context import InvocationContext
from eventsvc.invocations.primitives import FloatInvocation, IntegerOutput


@invocation("test_key_versioned", version="1.0.0", category="tests")
class KeyedV1(BaseInvocation):
    value: int = InputField(0)

    def invoke(self, context: InvocationContext) -> IntegerOutput:
        return IntegerOutput(value=self.value)


@invocation("test_key_versioned", version="1.1.0", category="tests")
class KeyedV2(BaseInvocation):
    """The same node type, bumped: its outputs may differ for the same inputs."""

    value: int = InputField(0)

    def invoke(self, context: InvocationContext) -> IntegerOutput:
        return IntegerOutput(value=self.value + 1)


def node(data: dict[str, Any]) -> BaseInvocation:
    parsed = REGISTRY.parse_node(str(data.get("id", "n")), {"id": "n", **data})
    assert isinstance(parsed, BaseInvocation), parsed
    return parsed


def key(data: dict[str, Any]) -> str | None:
    return cache_key(node(data))


def test_the_key_is_sha256_over_type_version_and_canonical_inputs() -> None:
    canonical = json.dumps(
        {"type": "add", "version": "1.0.0", "inputs": {"a": 1, "b": 2}},
        sort_keys=True,
        separators=(",", ":"),
    )
    assert key({"type": "add", "a": 1, "b": 2}) == hashlib.sha256(canonical.encode()).hexdigest()


def test_the_id_intermediate_flag_and_field_order_do_not_change_the_key() -> None:
    first = key({"id": "x", "type": "add", "a": 1, "b": 2, "use_cache": True})
    second = key({"use_cache": True, "b": 2, "is_intermediate": True, "a": 1, "type": "add"})
    third = key({"type": "add", "id": "add[3,1]", "a": 1, "b": 2})
    assert first is not None
    assert first == second == third


def test_a_changed_input_or_another_type_changes_the_key() -> None:
    base = key({"type": "add", "a": 1, "b": 2})
    assert key({"type": "add", "a": 1, "b": 3}) != base
    assert key({"type": "add", "a": 2, "b": 1}) != base  # not a bag of values
    assert key({"type": "multiply", "a": 1, "b": 2}) != base
    assert key({"type": "add", "a": 1, "b": 2}) == base


def test_a_bumped_version_changes_the_key() -> None:
    assert KeyedV1.meta.type == KeyedV2.meta.type
    old, new = cache_key(KeyedV1(value=5)), cache_key(KeyedV2(value=5))
    assert old is not None
    assert new is not None
    assert old != new
    assert cache_key(KeyedV1(value=5, id="elsewhere")) == old


def test_a_node_asked_not_to_use_the_cache_has_no_key() -> None:
    assert key({"type": "add", "a": 1, "b": 2, "use_cache": False}) is None
    assert key({"type": "add", "a": 1, "b": 2, "use_cache": True}) is not None


@pytest.mark.parametrize(
    "data",
    [
        {"type": "iterate", "collection": [1, 2, 3]},
        {"type": "collect", "item": 1, "collection": [1, 2]},
    ],
    ids=["iterate", "collect"],
)
def test_iterate_and_collect_are_never_cached(data: dict[str, Any]) -> None:
    assert not type(node(data)).meta.deterministic
    assert key(data) is None


def test_seeded_random_nodes_are_cached_by_their_seed() -> None:
    for node_type in ("random_int", "noise"):
        assert key({"type": node_type, "seed": 7}) is not None
        assert key({"type": node_type, "seed": 7}) == key({"type": node_type, "seed": 7})
        assert key({"type": node_type, "seed": 7}) != key({"type": node_type, "seed": 8})


def test_edge_fed_values_are_part_of_the_key() -> None:
    """Nodes are keyed as they are about to run, with the values their edges brought."""
    waiting = node({"type": "add", "b": 2})  # 'a' comes by an edge
    fed = node({"type": "add", "b": 2})
    fed.a = 40
    assert cache_key(fed) != cache_key(waiting)
    assert cache_key(fed) == key({"type": "add", "a": 40, "b": 2})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_a_value_without_a_canonical_json_form_has_no_key(value: float) -> None:
    # pydantic's JSON mode turns NaN and infinities into null, so all three would share one
    # key (and the one of a null input) and a hit would hand one's outputs to the other.
    assert cache_key(FloatInvocation(value=value)) is None


def test_keys_of_real_numbers_stay_distinct() -> None:
    keys = {cache_key(FloatInvocation(value=v)) for v in (0.0, 1.0, 1.5, -1.5, 1e300)}
    assert None not in keys
    assert len(keys) == 5


@invocation("test_key_rich", version="1.0.0", category="tests")
class RichInputs(BaseInvocation):
    """Inputs JSON has no type for: pydantic's JSON form of them is what the key hashes."""

    when: datetime = InputField(datetime(2026, 1, 2, tzinfo=UTC))
    tags: frozenset[str] = InputField(frozenset({"b", "a"}))
    pair: tuple[int, str] = InputField((1, "x"))
    nested: dict[str, list[float]] = InputField({"k": [1.5, 2.0]})

    def invoke(self, context: InvocationContext) -> IntegerOutput:
        return IntegerOutput(value=0)


@pytest.mark.parametrize(
    "data",
    [
        {"type": "add", "a": 1, "b": 2},
        {"type": "test_key_rich"},
        {"type": "test_key_rich", "pair": [2, "y"], "nested": {"z": [0.1]}},
    ],
)
def test_the_key_hashes_the_inputs_as_pydantic_writes_them_in_json(data: dict[str, Any]) -> None:
    parsed = node(data)
    meta = type(parsed).meta
    inputs = parsed.model_dump(mode="json", exclude={"id", "type", "is_intermediate", "use_cache"})
    canonical = json.dumps(
        {"type": meta.type, "version": meta.version, "inputs": inputs},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert cache_key(parsed) == hashlib.sha256(canonical.encode()).hexdigest()
