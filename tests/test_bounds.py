"""Bounds: every value the log accepts is one every backend's projections can store."""

from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventsvc import bounds
from eventsvc import events as ev
from eventsvc.errors import InvalidValueError


def deep(levels: int) -> list[object]:
    value: list[object] = []
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "field", "says"),
    [
        ({"priority": 2**63}, "priority", "64-bit range"),
        ({"priority": -(2**63) - 1}, "priority", "64-bit range"),
        ({"a": [1, "x\x00y"]}, "a[1]", "NUL character at index 1"),
        ({"a": "\ud800"}, "a", "lone surrogate"),
        ({"a": [*list(range(40)), 2**64]}, "a[40]", "64-bit range"),
        ({"a": ["ok"] * 40 + ["\x00"]}, "a[40]", "NUL"),
        ({"k\x00": 1}, "k\x00", "key text holds a NUL"),
        ({"a": deep(bounds.MAX_DEPTH + 1)}, None, f"more than {bounds.MAX_DEPTH} levels"),
    ],
)
def test_each_value_out_of_bounds_is_named_by_its_path(
    value: object, field: str | None, says: str
) -> None:
    [problem] = bounds.problems(value)
    assert problem.code == "out_of_bounds"
    assert says in problem.message
    if field is not None:
        assert problem.field == field


def test_a_client_may_send_no_non_finite_float_and_only_i_json_integers() -> None:
    value = {"outputs": [float("nan"), float("inf")], "n": 2**53, "m": -(2**53 - 1)}
    assert bounds.problems(value) == []  # what eventsvc computes: NaN is stored as null
    found = {p.field: p.message for p in bounds.input_problems(value)}
    assert set(found) == {"outputs[0]", "outputs[1]", "n"}
    assert "not a finite number" in found["outputs[0]"]
    assert "the range every JSON client holds exactly" in found["n"]
    assert [p.field for p in bounds.input_problems({"a": [1.5] * 39 + [float("inf")]})] == ["a[39]"]
    assert [p.field for p in bounds.input_problems({"a": [*range(40), 2**60]})] == ["a[40]"]


def test_values_at_the_edges_are_inside() -> None:
    edges = {
        "ints": [bounds.MIN_INT, bounds.MAX_INT, 0, True, None],
        "floats": [1e308, -1e308, 5e-324],
        "text": "\U0001f600 \u2028 \x01 é",
        "nested": deep(bounds.MAX_DEPTH - 1),
        "long": list(range(1000)),
    }
    assert bounds.problems(edges) == []


def test_an_integer_too_long_to_print_is_named_by_its_size() -> None:
    [problem] = bounds.problems(10**5000)
    assert "bits" in problem.message


def test_an_event_is_checked_through_its_fields() -> None:
    event = ev.BatchReprioritized(queue_id="q", batch_id="b", priority=2**63)
    with pytest.raises(InvalidValueError, match=r"reprioritized.*priority: integer"):
        bounds.check(event, "event 'batch.reprioritized'")


def test_text_eventsvc_writes_itself_is_made_storable() -> None:
    text = bounds.storable_text("a\x00b\ud800c" + "x" * 100, limit=10)
    assert bounds.problems(text) == []
    assert text.startswith("a\ufffdb\ufffdcxxxxx...")
    assert "more characters cut" in text


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(codec=None, categories=None)),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=20) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=60,
)


def storable(value: object, client: bool) -> bool:
    """The bounds, written the slow and obvious way."""
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        limit = (2**53 - 1, 2**53 - 1) if client else (2**63, 2**63 - 1)
        return -limit[0] <= value <= limit[1]
    if isinstance(value, float):
        return math.isfinite(value) or not client
    if isinstance(value, str):
        return "\x00" not in value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, list):
        return all(storable(item, client) for item in value)
    assert isinstance(value, dict)
    return all(storable(k, client) and storable(v, client) for k, v in value.items())


@given(values)
def test_problems_are_found_exactly_where_the_slow_check_finds_them(value: object) -> None:
    assert (bounds.problems(value) == []) == storable(value, client=False)
    assert (bounds.input_problems(value) == []) == storable(value, client=True)


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


@given(values | st.sampled_from([nested(bounds.MAX_DEPTH), nested(bounds.MAX_DEPTH + 1)]))
def test_the_check_on_encoded_json_refuses_exactly_what_the_walk_refuses(value: object) -> None:
    encode = msgspec.json.encode
    if bounds.problems(value):
        with pytest.raises(InvalidValueError, match="the value"):
            bounds.encoded_within(value, encode, "the value")
    else:
        assert bounds.encoded_within(value, encode, "the value") == encode(value)
