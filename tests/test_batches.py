from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventsvc.batches import Batch, BatchDatum, session_values, validate_batch
from eventsvc.errors import Problem
from eventsvc.graph import parse_graph

GRAPH = parse_graph({
    "nodes": {
        "a": {"type": "add", "id": "a"},
        "m": {"type": "multiply", "id": "m"},
        "s": {"type": "string", "id": "s"},
        "n": {"type": "noise", "id": "n"},
        "it": {"type": "iterate", "id": "it"},
        "r": {"type": "range", "id": "r"},
    },
    "edges": [
        {"source": {"node_id": "a", "field": "value"},
         "destination": {"node_id": "m", "field": "a"}},
        {"source": {"node_id": "r", "field": "collection"},
         "destination": {"node_id": "it", "field": "collection"}},
    ],
})  # fmt: skip

FIELDS = [("a", "a"), ("a", "b"), ("m", "b"), ("s", "value"), ("n", "seed"), ("r", "stop")]


def datum(node: str, field: str, items: list[Any]) -> BatchDatum:
    return BatchDatum(node_path=node, field_name=field, items=items)


def brute_force(batch: Batch) -> list[list[tuple[str, str, Any]]]:
    """Every session's values by literal expansion: runs outside, groups as itertools.product."""
    per_group = [
        [
            [(d.node_path, d.field_name, d.items[k]) for d in group]
            for k in range(len(group[0].items))
        ]
        for group in batch.data
    ]
    sessions = [list(itertools.chain(*combo)) for combo in itertools.product(*per_group)]
    return sessions * batch.runs


@st.composite
def batches(draw: st.DrawFn) -> Batch:
    targets = draw(st.permutations(FIELDS))
    group_count = draw(st.integers(0, 3))
    data, used = [], 0
    for _ in range(group_count):
        size = draw(st.integers(1, 2))
        if used + size > len(targets):
            break
        length = draw(st.integers(1, 4))
        items = st.lists(st.integers(0, 99), min_size=length, max_size=length)
        group = [datum(*targets[used + k], draw(items)) for k in range(size)]
        data.append(group)
        used += size
    return Batch(batch_id="b", graph=GRAPH, data=data, runs=draw(st.integers(1, 3)))


@given(batches())
def test_session_i_equals_the_brute_force_expansion(batch: Batch) -> None:
    expected = brute_force(batch)
    assert batch.session_count == len(expected)
    for index, values in enumerate(expected):
        got = [(v.node_path, v.field_name, v.value) for v in batch.session_values(index)]
        assert got == values
        assert batch.session_id(index) == f"b.{index}"


def test_groups_are_zipped_within_and_multiplied_across() -> None:
    batch = Batch(
        batch_id="b",
        graph=GRAPH,
        data=[[datum("a", "a", [1, 2]), datum("a", "b", [10, 20])], [datum("m", "b", [7, 8, 9])]],
        runs=2,
    )
    assert batch.session_count == 12
    values = [tuple(v.value for v in batch.session_values(i)) for i in (0, 1, 3, 5, 6)]
    assert values == [(1, 10, 7), (1, 10, 8), (2, 20, 7), (2, 20, 9), (1, 10, 7)]
    with pytest.raises(IndexError, match="the batch has 12 sessions"):
        batch.session_values(12)


def test_a_million_sessions_cost_no_expansion() -> None:
    thousand = list(range(1000))
    batch = Batch(batch_id="big", graph=GRAPH,
                  data=[[datum("a", "a", thousand)], [datum("a", "b", thousand)]])  # fmt: skip
    assert batch.session_count == 1_000_000
    assert [v.value for v in batch.session_values(999_999)] == [999, 999]
    assert [v.value for v in batch.session_values(1_001)] == [1, 1]


def test_no_data_means_one_session_a_run() -> None:
    batch = Batch(batch_id="b", graph=GRAPH, runs=3)
    assert batch.session_count == 3
    assert batch.session_values(2) == []
    assert session_values([], 1, 0) == []


def test_the_session_graph_carries_its_values() -> None:
    batch = Batch(batch_id="b", graph=GRAPH, data=[[datum("a", "a", [4, 5])]])
    assert batch.session_graph(1)["nodes"]["a"]["a"] == 5
    assert GRAPH.nodes["a"].a == 0  # type: ignore[attr-defined]


def problems(data: list[list[BatchDatum]]) -> set[tuple[str, str | None, str | None]]:
    found: list[Problem] = validate_batch(Batch(batch_id="b", graph=GRAPH, data=data))
    return {(p.code, p.node_id, p.field) for p in found}


def test_a_valid_batch_has_no_problems() -> None:
    assert problems([[datum("a", "a", [1, 2]), datum("s", "value", ["x", "y"])]]) == set()


def test_every_data_problem_is_reported_at_once() -> None:
    found = problems([
        [datum("a", "a", [1, 2, 3]), datum("a", "b", [1])],
        [datum("m", "a", [1])],
        [datum("it", "collection", [[1]])],
        [datum("ghost", "x", [1])],
        [datum("a", "nope", [1])],
        [datum("s", "value", ["x", 2])],
        [datum("a", "a", [5])],
        [datum("n", "width", [0, 64])],
    ])  # fmt: skip
    assert found == {
        ("unequal_lengths", "a", "b"),
        ("input_has_edge", "m", "a"),
        ("connection_input", "it", "collection"),
        ("input_has_edge", "it", "collection"),
        ("missing_node", "ghost", "x"),
        ("unknown_input", "a", "nope"),
        ("mixed_types", "s", "value"),
        ("invalid_item", "s", "value"),
        ("duplicate_datum", "a", "a"),
        ("invalid_item", "n", "width"),
    }


def test_ints_and_floats_may_mix_and_messages_name_the_group_and_index() -> None:
    assert problems([[datum("n", "seed", [1, 2])], [datum("a", "a", [1, 2.0])]]) == set()
    [problem] = validate_batch(
        Batch(batch_id="b", graph=GRAPH, data=[[datum("n", "seed", [1])], [datum("a", "a", ["x"])]])
    )
    assert problem.message.startswith("group 1, datum 0: item 0:")


def test_the_graph_is_validated_too() -> None:
    graph = parse_graph({"nodes": {"a": {"type": "add", "id": "a"}}})
    graph.nodes["a"].id = "b"
    found = validate_batch(Batch(batch_id="b", graph=graph))
    assert [(p.code, p.node_id) for p in found] == [("node_id_mismatch", "a")]
