from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventsvc.errors import GraphValidationError, MissingInputError, NodeError, NodeInputError
from eventsvc.execution import GraphExecutionState, execution_id
from eventsvc.graph import Graph, parse_graph, topological_order
from eventsvc.testing import FakeContext, run_graph

# --- helpers ------------------------------------------------------------------------------


def edge(source: str, output: str, destination: str, field: str) -> dict[str, Any]:
    return {
        "source": {"node_id": source, "field": output},
        "destination": {"node_id": destination, "field": field},
    }


def build(nodes: dict[str, dict[str, Any]], edges: list[dict[str, Any]]) -> Graph:
    """A validated graph; each node spec gets its key as its id."""
    return parse_graph(
        {
            "id": "g",
            "nodes": {key: {"id": key, **spec} for key, spec in nodes.items()},
            "edges": edges,
        }
    )


def unvalidated(nodes: dict[str, dict[str, Any]], edges: list[dict[str, Any]]) -> Graph:
    """A graph whose nodes parse but whose structure and types are not validated."""
    return Graph(
        id="g", nodes={key: {"id": key, **spec} for key, spec in nodes.items()}, edges=edges
    )


def drain(state: GraphExecutionState) -> list[str]:
    """Run every ready node in ``next()`` order; a ``NodeError`` fails its node. The order run."""
    order = []
    context = FakeContext()
    while (node := state.next()) is not None:
        order.append(node.id)
        context.node_id = node.id
        try:
            output = node.invoke(context)
        except NodeError as exc:
            state.fail(node.id, str(exc))
        else:
            state.complete(node.id, output)
    return order


def snapshots(graph: Graph) -> tuple[list[GraphExecutionState], list[str]]:
    """The state before any completion and after each one, and the order the nodes ran in."""
    state = GraphExecutionState(graph)
    states = [copy.deepcopy(state)]
    order = []
    context = FakeContext()
    while (node := state.next()) is not None:
        order.append(node.id)
        state.complete(node.id, node.invoke(context))
        states.append(copy.deepcopy(state))
    return states, order


def out(state: GraphExecutionState, exec_id: str) -> Any:
    """The output of one executed copy (typed loosely, for reading its fields)."""
    return state.results[exec_id]


def source(graph: Graph, node_id: str) -> Any:
    """A node of the source graph (typed loosely, for reading its inputs)."""
    return graph.nodes[node_id]


def all_values(state: GraphExecutionState) -> dict[str, Any]:
    """The ``value`` output of every executed copy, by execution id."""
    return {exec_id: out(state, exec_id).value for exec_id in state.results}


def values(state: GraphExecutionState, source_id: str, field: str = "value") -> dict[str, Any]:
    """The ``field`` output of every executed copy of ``source_id``, by execution id."""
    return {
        exec_id: getattr(state.results[exec_id], field)
        for exec_id in state.source_prepared[source_id]
        if exec_id in state.results
    }


def iterators(graph: Graph) -> dict[str, tuple[str, ...]]:
    """The iterates above each node (a collect ends them), in topological order, by the spec."""
    order, _ = topological_order(graph.nodes, graph.edges)
    above: dict[str, tuple[str, ...]] = {}
    for node_id in order:
        kind = graph.nodes[node_id].node_type
        if kind == "collect":
            above[node_id] = ()
            continue
        inherited = {i for e in graph.incoming(node_id) for i in above[e.source.node_id]}
        own = [node_id] if kind == "iterate" else []
        above[node_id] = tuple([i for i in order if i in inherited] + own)
    return above


def assert_respects_edges(state: GraphExecutionState, order: list[str]) -> None:
    """Every copy ran after the copy of each upstream node with the same item indexes; a
    collect ran after every copy upstream of it."""
    graph = state.graph
    above = iterators(graph)
    position = {exec_id: i for i, exec_id in enumerate(order)}
    assert set(position) == set(state.results), "every copy that ran has a result"
    for exec_id in order:
        source_id, indexes = state.prepared_source[exec_id]
        assignment = dict(zip(above[source_id], indexes, strict=True))
        for e in graph.incoming(source_id):
            upstream = e.source.node_id
            if graph.nodes[source_id].node_type == "collect":
                feeders = state.source_prepared[upstream]
            else:
                feeders = [execution_id(upstream, tuple(assignment[i] for i in above[upstream]))]
            for feeder in feeders:
                assert position[feeder] < position[exec_id], (feeder, exec_id)


def outer_index_sequence(state: GraphExecutionState, order: list[str]) -> list[int]:
    """The first index of every copy that has one, in the order the copies ran."""
    return [state.prepared_source[i][1][0] for i in order if state.prepared_source[i][1]]


def one_iterator_graph(stop: int = 3) -> Graph:
    return build(
        {
            "r": {"type": "range", "start": 0, "stop": stop},
            "it": {"type": "iterate"},
            "add": {"type": "add", "b": 10},
            "c": {"type": "collect"},
        },
        [
            edge("r", "collection", "it", "collection"),
            edge("it", "item", "add", "a"),
            edge("add", "value", "c", "item"),
        ],
    )


def nested_graph(start: int = 1, stop: int = 4) -> Graph:
    """range(start, stop) -> i -> range(0, i.item) -> j -> add(a=j.item, b=i.item) -> collect."""
    return build(
        {
            "r": {"type": "range", "start": start, "stop": stop},
            "i": {"type": "iterate"},
            "r2": {"type": "range", "start": 0},
            "j": {"type": "iterate"},
            "add": {"type": "add"},
            "c": {"type": "collect"},
        },
        [
            edge("r", "collection", "i", "collection"),
            edge("i", "item", "r2", "stop"),
            edge("r2", "collection", "j", "collection"),
            edge("j", "item", "add", "a"),
            edge("i", "item", "add", "b"),
            edge("add", "value", "c", "item"),
        ],
    )


def diamond_graph() -> Graph:
    """x=3, y=4; s = x + y; p = x * s; d = p - s; q = d / y."""
    return build(
        {
            "x": {"type": "integer", "value": 3},
            "y": {"type": "integer", "value": 4},
            "s": {"type": "add"},
            "p": {"type": "multiply"},
            "d": {"type": "subtract"},
            "q": {"type": "divide"},
        },
        [
            edge("x", "value", "s", "a"),
            edge("y", "value", "s", "b"),
            edge("x", "value", "p", "a"),
            edge("s", "value", "p", "b"),
            edge("p", "value", "d", "a"),
            edge("s", "value", "d", "b"),
            edge("d", "value", "q", "a"),
            edge("y", "value", "q", "b"),
        ],
    )


# --- plain graphs -------------------------------------------------------------------------


def test_execution_ids_name_the_source_and_its_item_indexes() -> None:
    assert execution_id("add", ()) == "add"
    assert execution_id("add", (2,)) == "add[2]"
    assert execution_id("add", (2, 0)) == "add[2,0]"


def test_a_chain_of_math_nodes_computes_each_value_in_edge_order() -> None:
    graph = build(
        {
            "x": {"type": "integer", "value": 5},
            "double": {"type": "multiply", "b": 2},
            "less": {"type": "subtract", "b": 3},
            "half": {"type": "divide", "b": 2},
        },
        [
            edge("x", "value", "double", "a"),
            edge("double", "value", "less", "a"),
            edge("less", "value", "half", "a"),
        ],
    )
    state = GraphExecutionState(graph)
    assert state.ready == {"x"}
    assert not state.is_complete()

    order = drain(state)

    assert order == ["x", "double", "less", "half"]
    assert all_values(state) == {"x": 5, "double": 10, "less": 7, "half": 3}
    assert state.is_complete()
    assert not state.has_error()
    assert state.ready == frozenset()
    assert state.next() is None


def test_a_diamond_runs_every_node_once_after_its_inputs() -> None:
    state = GraphExecutionState(diamond_graph())
    order = drain(state)

    assert sorted(order) == sorted(["x", "y", "s", "p", "d", "q"])
    assert_respects_edges(state, order)
    assert all_values(state) == {"x": 3, "y": 4, "s": 7, "p": 21, "d": 14, "q": 3}
    assert [exec_id for exec_id, _ in state.completions] == order
    assert state.prepared_source == {n: (n, ()) for n in order}
    assert state.is_complete()


def test_a_node_fed_twice_by_one_source_gets_the_value_on_both_inputs() -> None:
    graph = build(
        {"x": {"type": "integer", "value": 6}, "sq": {"type": "multiply"}},
        [edge("x", "value", "sq", "a"), edge("x", "value", "sq", "b")],
    )
    state = run_graph(graph)
    assert out(state, "sq").value == 36
    assert state.is_complete()


def test_next_hands_out_a_node_with_its_edge_inputs_assigned() -> None:
    graph = build(
        {"x": {"type": "integer", "value": 8}, "add": {"type": "add", "b": 1}},
        [edge("x", "value", "add", "a")],
    )
    state = GraphExecutionState(graph)
    x = state.next()
    assert x is not None
    assert state.next() is None  # add waits for x
    state.complete(x.id, x.invoke(FakeContext()))
    add: Any = state.next()
    assert add is not None
    assert (add.id, add.a, add.b) == ("add", 8, 1)
    assert source(graph, "add").a == 0


def test_edge_values_are_converted_as_the_type_rules_allow() -> None:
    graph = build(
        {
            "x": {"type": "integer", "value": 5},
            "text": {"type": "string_join", "right": "!"},
            "wrapped": {"type": "integer_collection"},
        },
        [edge("x", "value", "text", "left"), edge("x", "value", "wrapped", "collection")],
    )
    state = run_graph(graph)
    assert out(state, "text").value == "5!"
    assert out(state, "wrapped").collection == [5]


def test_independent_nodes_run_in_node_order() -> None:
    graph = build(
        {
            "b": {"type": "integer", "value": 2},
            "a": {"type": "integer", "value": 1},
            "c": {"type": "integer", "value": 3},
        },
        [],
    )
    state = GraphExecutionState(graph)
    assert drain(state) == ["b", "a", "c"]


def test_an_empty_graph_is_complete_at_once() -> None:
    state = GraphExecutionState(build({}, []))
    assert state.is_complete()
    assert state.next() is None


def test_completing_a_node_that_is_neither_ready_nor_running_is_refused() -> None:
    graph = build(
        {"x": {"type": "integer", "value": 1}, "add": {"type": "add"}},
        [edge("x", "value", "add", "a")],
    )
    state = GraphExecutionState(graph)
    x = state.next()
    assert x is not None
    output = x.invoke(FakeContext())
    with pytest.raises(KeyError):
        state.complete("add", output)  # not created yet
    with pytest.raises(KeyError):
        state.complete("nope", output)
    state.complete("x", output)
    with pytest.raises(KeyError):
        state.complete("x", output)  # twice
    assert [i for i, _ in state.completions] == ["x"]


def test_a_failed_node_stops_its_descendants_but_not_the_other_branches() -> None:
    graph = build(
        {
            "zero": {"type": "integer", "value": 0},
            "bad": {"type": "divide", "a": 1},
            "after": {"type": "add", "b": 1},
            "other": {"type": "integer", "value": 7},
            "fine": {"type": "add", "b": 1},
        },
        [
            edge("zero", "value", "bad", "b"),
            edge("bad", "value", "after", "a"),
            edge("other", "value", "fine", "a"),
        ],
    )
    state = GraphExecutionState(graph)
    order = drain(state)

    assert sorted(order) == ["bad", "fine", "other", "zero"]
    assert "after" not in state.prepared_source
    assert out(state, "fine").value == 8
    assert set(state.errors) == {"bad"}
    assert "divide" in state.errors["bad"]
    assert state.has_error()
    assert not state.is_complete()


# --- one iterator -------------------------------------------------------------------------


def test_one_iterator_copies_each_node_below_it_once_per_item() -> None:
    state = GraphExecutionState(one_iterator_graph())
    order = drain(state)

    assert order == ["r", "it[0]", "add[0]", "it[1]", "add[1]", "it[2]", "add[2]", "c"]
    assert state.source_prepared == {
        "r": ["r"],
        "it": ["it[0]", "it[1]", "it[2]"],
        "add": ["add[0]", "add[1]", "add[2]"],
        "c": ["c"],
    }
    assert state.prepared_source["add[1]"] == ("add", (1,))
    assert values(state, "add") == {"add[0]": 10, "add[1]": 11, "add[2]": 12}
    assert out(state, "c").collection == [10, 11, 12]
    assert state.is_complete()


def test_each_iterate_copy_outputs_its_item_index_and_the_total() -> None:
    graph = build(
        {
            "ints": {"type": "integer_collection", "collection": [7, 8, 9]},
            "it": {"type": "iterate"},
        },
        [edge("ints", "collection", "it", "collection")],
    )
    state = run_graph(graph)
    got = {
        i: (out(state, i).item, out(state, i).index, out(state, i).total)
        for i in state.source_prepared["it"]
    }
    assert got == {"it[0]": (7, 0, 3), "it[1]": (8, 1, 3), "it[2]": (9, 2, 3)}


def test_every_iterate_copy_is_ready_as_soon_as_its_list_is_known() -> None:
    state = GraphExecutionState(one_iterator_graph())
    r = state.next()
    assert r is not None
    assert state.ready == frozenset()  # r is running
    state.complete(r.id, r.invoke(FakeContext()))
    assert state.ready == {"it[0]", "it[1]", "it[2]"}
    first: Any = state.next()
    assert first is not None
    assert (first.id, first.index) == ("it[0]", 0)
    assert not state.is_complete()


def test_a_node_below_an_iterator_and_a_plain_node_pairs_each_item_with_the_one_value() -> None:
    graph = build(
        {
            "r": {"type": "range", "start": 1, "stop": 4},
            "it": {"type": "iterate"},
            "k": {"type": "integer", "value": 100},
            "add": {"type": "add"},
            "c": {"type": "collect"},
        },
        [
            edge("r", "collection", "it", "collection"),
            edge("it", "item", "add", "a"),
            edge("k", "value", "add", "b"),
            edge("add", "value", "c", "item"),
        ],
    )
    state = run_graph(graph)
    assert values(state, "add") == {"add[0]": 101, "add[1]": 102, "add[2]": 103}
    assert out(state, "c").collection == [101, 102, 103]
    assert state.is_complete()


def test_a_diamond_below_an_iterator_joins_the_copies_of_the_same_item() -> None:
    graph = build(
        {
            "r": {"type": "range", "start": 0, "stop": 3},
            "it": {"type": "iterate"},
            "double": {"type": "multiply", "b": 2},
            "square": {"type": "multiply"},
            "sum": {"type": "add"},
            "c": {"type": "collect"},
        },
        [
            edge("r", "collection", "it", "collection"),
            edge("it", "item", "double", "a"),
            edge("it", "item", "square", "a"),
            edge("it", "item", "square", "b"),
            edge("double", "value", "sum", "a"),
            edge("square", "value", "sum", "b"),
            edge("sum", "value", "c", "item"),
        ],
    )
    state = GraphExecutionState(graph)
    order = drain(state)
    assert values(state, "sum") == {"sum[0]": 0, "sum[1]": 3, "sum[2]": 8}
    assert out(state, "c").collection == [0, 3, 8]
    assert_respects_edges(state, order)
    assert outer_index_sequence(state, order) == sorted(outer_index_sequence(state, order))


# --- nested and cartesian iterators -------------------------------------------------------


def test_nested_iterators_name_copies_by_both_indexes_and_run_depth_first() -> None:
    state = GraphExecutionState(nested_graph(start=1, stop=4))
    order = drain(state)

    # i.item = 1, 2, 3; the inner range has that many items; add = j.item + i.item
    assert values(state, "add") == {
        "add[0,0]": 1,
        "add[1,0]": 2,
        "add[1,1]": 3,
        "add[2,0]": 3,
        "add[2,1]": 4,
        "add[2,2]": 5,
    }
    assert state.source_prepared["j"] == [
        "j[0,0]",
        "j[1,0]",
        "j[1,1]",
        "j[2,0]",
        "j[2,1]",
        "j[2,2]",
    ]
    assert state.source_prepared["r2"] == ["r2[0]", "r2[1]", "r2[2]"]
    per_branch = [
        sum(1 for i in state.source_prepared["add"] if i.startswith(f"add[{b},")) for b in range(3)
    ]
    assert per_branch == [1, 2, 3]
    assert out(state, "c").collection == [1, 2, 3, 3, 4, 5]

    # every node of outer branch 0 runs before any node of branch 1, and so on
    assert outer_index_sequence(state, order) == sorted(outer_index_sequence(state, order))
    assert order == [
        "r",
        "i[0]", "r2[0]", "j[0,0]", "add[0,0]",
        "i[1]", "r2[1]", "j[1,0]", "add[1,0]", "j[1,1]", "add[1,1]",
        "i[2]", "r2[2]", "j[2,0]", "add[2,0]", "j[2,1]", "add[2,1]", "j[2,2]", "add[2,2]",
        "c",
    ]  # fmt: skip
    assert_respects_edges(state, order)
    assert state.is_complete()


def test_an_empty_inner_collection_skips_only_its_own_branch() -> None:
    state = GraphExecutionState(nested_graph(start=0, stop=3))  # i.item = 0 gives range(0, 0)
    order = drain(state)

    assert out(state, "r2[0]").collection == []
    assert not any(i.startswith(("j[0,", "add[0,")) for i in state.prepared_source)
    assert values(state, "add") == {"add[1,0]": 1, "add[2,0]": 2, "add[2,1]": 3}
    assert out(state, "c").collection == [1, 2, 3]
    assert outer_index_sequence(state, order) == sorted(outer_index_sequence(state, order))
    assert state.is_complete()


def test_two_independent_iterators_feeding_one_node_run_it_for_every_combination() -> None:
    graph = build(
        {
            "r1": {"type": "range", "start": 0, "stop": 2},
            "r2": {"type": "range", "start": 10, "stop": 13},
            "i": {"type": "iterate"},
            "j": {"type": "iterate"},
            "add": {"type": "add"},
            "c": {"type": "collect"},
        },
        [
            edge("r1", "collection", "i", "collection"),
            edge("r2", "collection", "j", "collection"),
            edge("i", "item", "add", "a"),
            edge("j", "item", "add", "b"),
            edge("add", "value", "c", "item"),
        ],
    )
    state = GraphExecutionState(graph)
    order = drain(state)

    expected = {f"add[{a},{b}]": a + 10 + b for a in range(2) for b in range(3)}
    assert values(state, "add") == expected
    assert sorted(state.source_prepared["add"]) == sorted(expected)
    assert len(order) == len(set(order)) == 2 + 2 + 3 + 6 + 1
    assert_respects_edges(state, order)
    # gathered in index order: (0,0), (0,1), (0,2), (1,0), ...
    assert out(state, "c").collection == [10, 11, 12, 11, 12, 13]
    assert state.is_complete()


def test_two_iterators_over_the_same_list_are_crossed_not_zipped() -> None:
    graph = build(
        {
            "r": {"type": "range", "start": 0, "stop": 2},
            "i": {"type": "iterate"},
            "j": {"type": "iterate"},
            "mul": {"type": "multiply"},
        },
        [
            edge("r", "collection", "i", "collection"),
            edge("r", "collection", "j", "collection"),
            edge("i", "item", "mul", "a"),
            edge("j", "index", "mul", "b"),
        ],
    )
    state = run_graph(graph)
    assert values(state, "mul") == {"mul[0,0]": 0, "mul[0,1]": 0, "mul[1,0]": 0, "mul[1,1]": 1}


def test_an_iterator_over_an_item_of_another_iterator() -> None:
    # collect the inner ranges into a list of lists, iterate it, then iterate each inner list
    graph = build(
        {
            "r": {"type": "range", "start": 0, "stop": 3},
            "i": {"type": "iterate"},
            "r2": {"type": "range", "start": 0},
            "lists": {"type": "collect"},
            "o": {"type": "iterate"},
            "p": {"type": "iterate"},
            "add": {"type": "add", "b": 100},
            "c": {"type": "collect"},
        },
        [
            edge("r", "collection", "i", "collection"),
            edge("i", "item", "r2", "stop"),
            edge("r2", "collection", "lists", "item"),
            edge("lists", "collection", "o", "collection"),
            edge("o", "item", "p", "collection"),
            edge("p", "item", "add", "a"),
            edge("add", "value", "c", "item"),
        ],
    )
    state = run_graph(graph)
    assert out(state, "lists").collection == [[], [0], [0, 1]]
    assert state.source_prepared["p"] == ["p[1,0]", "p[2,0]", "p[2,1]"]
    assert values(state, "add") == {"add[1,0]": 100, "add[2,0]": 100, "add[2,1]": 101}
    assert out(state, "c").collection == [100, 100, 101]
    assert state.is_complete()


# --- empty collections, collect -----------------------------------------------------------


def test_an_empty_collection_skips_the_nodes_below_it() -> None:
    graph = build(
        {
            "r": {"type": "range", "start": 0, "stop": 0},
            "it": {"type": "iterate"},
            "add": {"type": "add", "b": 1},
            "more": {"type": "add", "b": 1},
        },
        [
            edge("r", "collection", "it", "collection"),
            edge("it", "item", "add", "a"),
            edge("add", "value", "more", "a"),
        ],
    )
    state = GraphExecutionState(graph)
    order = drain(state)

    assert order == ["r"]
    assert state.source_prepared == {"r": ["r"], "it": [], "add": [], "more": []}
    assert state.is_complete()


def test_a_collect_below_an_empty_iteration_gathers_an_empty_list() -> None:
    state = GraphExecutionState(one_iterator_graph(stop=0))
    order = drain(state)

    assert order == ["r", "c"]
    assert out(state, "c").collection == []
    assert state.is_complete()


def test_a_collect_of_an_iterate_gathers_the_items_in_index_order() -> None:
    graph = build(
        {
            "words": {"type": "string_collection", "collection": ["b", "a", "c"]},
            "it": {"type": "iterate"},
            "items": {"type": "collect"},
            "indexes": {"type": "collect"},
        },
        [
            edge("words", "collection", "it", "collection"),
            edge("it", "item", "items", "item"),
            edge("it", "index", "indexes", "item"),
        ],
    )
    state = run_graph(graph)
    assert out(state, "items").collection == ["b", "a", "c"]
    assert out(state, "indexes").collection == [0, 1, 2]
    assert state.is_complete()


def test_a_collect_runs_only_after_every_iteration_upstream() -> None:
    state = GraphExecutionState(one_iterator_graph(stop=4))
    order = drain(state)
    assert order[-1] == "c"
    assert state.source_prepared["c"] == ["c"]
    assert order.index("c") > max(order.index(f"add[{i}]") for i in range(4))


def test_an_iterate_of_a_collect_starts_a_new_iteration() -> None:
    graph = build(
        {
            "r": {"type": "range", "start": 0, "stop": 3},
            "it": {"type": "iterate"},
            "add": {"type": "add", "b": 10},
            "c": {"type": "collect"},
            "it2": {"type": "iterate"},
            "mul": {"type": "multiply", "b": 2},
            "c2": {"type": "collect"},
        },
        [
            edge("r", "collection", "it", "collection"),
            edge("it", "item", "add", "a"),
            edge("add", "value", "c", "item"),
            edge("c", "collection", "it2", "collection"),
            edge("it2", "item", "mul", "a"),
            edge("mul", "value", "c2", "item"),
        ],
    )
    state = GraphExecutionState(graph)
    order = drain(state)

    assert state.source_prepared["it2"] == ["it2[0]", "it2[1]", "it2[2]"]
    assert values(state, "mul") == {"mul[0]": 20, "mul[1]": 22, "mul[2]": 24}
    assert out(state, "c2").collection == [20, 22, 24]
    assert order.index("c") < order.index("it2[0]")
    assert state.is_complete()


def test_a_collect_gathers_nested_iterations_flat_in_index_order() -> None:
    state = run_graph(nested_graph(start=1, stop=3))
    assert out(state, "c").collection == [1, 2, 3]
    assert state.prepared_source["c"] == ("c", ())


def test_a_collect_with_several_item_edges_gathers_in_edge_order_then_index_order() -> None:
    nodes = {
        "r": {"type": "range", "start": 0, "stop": 3},
        "it": {"type": "iterate"},
        "add": {"type": "add", "b": 10},
        "k": {"type": "integer", "value": -1},
        "c": {"type": "collect"},
    }
    base = [edge("r", "collection", "it", "collection"), edge("it", "item", "add", "a")]
    k_first = build(
        nodes, [*base, edge("k", "value", "c", "item"), edge("add", "value", "c", "item")]
    )
    add_first = build(
        nodes, [*base, edge("add", "value", "c", "item"), edge("k", "value", "c", "item")]
    )
    assert out(run_graph(k_first), "c").collection == [-1, 10, 11, 12]
    assert out(run_graph(add_first), "c").collection == [10, 11, 12, -1]


# --- missing and rejected inputs ----------------------------------------------------------


def test_a_required_connection_input_without_an_edge_is_a_missing_input() -> None:
    state = GraphExecutionState(build({"bl": {"type": "blend"}}, []))
    with pytest.raises(MissingInputError) as caught:
        state.next()
    assert (caught.value.node_id, caught.value.field) == ("bl", "a")


def test_a_missing_input_is_reported_with_the_copy_id_below_an_iterator() -> None:
    graph = build(
        {
            "r": {"type": "range", "start": 0, "stop": 2},
            "it": {"type": "iterate"},
            "bl": {"type": "blend"},
        },
        [edge("r", "collection", "it", "collection"), edge("it", "item", "bl", "alpha")],
    )
    state = GraphExecutionState(graph)
    with pytest.raises(MissingInputError) as caught:
        drain(state)
    assert (caught.value.node_id, caught.value.field) == ("bl[0]", "a")


def test_validation_refuses_an_iterate_or_collect_without_an_edge() -> None:
    with pytest.raises(GraphValidationError) as caught:
        build({"it": {"type": "iterate"}, "c": {"type": "collect"}}, [])
    codes = {(p.code, p.node_id) for p in caught.value.problems}
    assert codes == {("iterate_input", "it"), ("collect_input", "c")}


def test_an_unvalidated_iterate_without_an_edge_is_a_missing_input() -> None:
    state = GraphExecutionState(unvalidated({"it": {"type": "iterate"}}, []))
    with pytest.raises(MissingInputError) as caught:
        state.next()
    assert (caught.value.node_id, caught.value.field) == ("it", "collection")


def test_an_unvalidated_collect_without_an_edge_is_a_missing_input() -> None:
    state = GraphExecutionState(unvalidated({"c": {"type": "collect"}}, []))
    with pytest.raises(MissingInputError) as caught:
        state.next()
    assert (caught.value.node_id, caught.value.field) == ("c", "item")


def test_a_value_that_fails_an_input_constraint_is_a_node_input_error() -> None:
    graph = build(
        {"x": {"type": "integer", "value": 5}, "bl": {"type": "blend"}},
        [edge("x", "value", "bl", "alpha")],  # int to float passes validation; 5 > 1 does not
    )
    state = GraphExecutionState(graph)
    with pytest.raises(NodeInputError) as caught:
        drain(state)
    error = caught.value
    assert (error.node_id, error.field, error.value) == ("bl", "alpha", 5)
    assert "less than or equal to 1" in error.reason
    assert source(graph, "bl").alpha == 0.5


def test_validation_refuses_a_string_item_into_an_integer_input() -> None:
    with pytest.raises(GraphValidationError) as caught:
        build(
            {
                "words": {"type": "string_collection", "collection": ["7", "x"]},
                "it": {"type": "iterate"},
                "add": {"type": "add"},
            },
            [edge("words", "collection", "it", "collection"), edge("it", "item", "add", "a")],
        )
    assert [(p.code, p.node_id, p.field) for p in caught.value.problems] == [
        ("type_mismatch", "add", "a")
    ]


def test_an_item_that_an_integer_input_rejects_is_a_node_input_error_on_its_copy() -> None:
    graph = unvalidated(
        {
            "words": {"type": "string_collection", "collection": ["7", "x"]},
            "it": {"type": "iterate"},
            "add": {"type": "add", "b": 1},
        },
        [edge("words", "collection", "it", "collection"), edge("it", "item", "add", "a")],
    )
    state = GraphExecutionState(graph)
    with pytest.raises(NodeInputError) as caught:
        drain(state)
    assert (caught.value.node_id, caught.value.field, caught.value.value) == ("add[1]", "a", "x")
    assert out(state, "add[0]").value == 8  # "7" is coerced


# --- rebuild and JSON ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [diamond_graph, one_iterator_graph, nested_graph, lambda: nested_graph(0, 4)],
    ids=["diamond", "one-iterator", "nested", "nested-with-empty-branch"],
)
def test_a_state_rebuilt_from_any_prefix_of_completions_equals_the_original(make: Any) -> None:
    graph = make()
    states, order = snapshots(graph)
    final = states[-1]
    assert final.is_complete()
    for k in range(len(final.completions) + 1):
        rebuilt = GraphExecutionState.rebuild(graph, final.completions[:k])
        assert rebuilt == states[k]
        assert rebuilt.completions == states[k].completions
        assert rebuilt.ready == states[k].ready
        assert rebuilt.is_complete() == states[k].is_complete()

        rest = drain(rebuilt)
        assert rest == order[k:]
        assert rebuilt == final
        assert rebuilt.completions == final.completions


def test_states_at_different_points_are_not_equal() -> None:
    states, _ = snapshots(one_iterator_graph())
    assert states[0] != states[1]
    assert states[1] != states[-1]
    assert states[0] != "state"
    with pytest.raises(TypeError):
        hash(states[0])


def roundtrip(state: GraphExecutionState) -> GraphExecutionState:
    return GraphExecutionState.from_json(json.loads(json.dumps(state.to_json())))


def test_the_json_form_is_the_graph_and_the_ordered_completions() -> None:
    state = run_graph(diamond_graph())
    data = state.to_json()
    assert data["graph"]["id"] == "g"
    assert [exec_id for exec_id, _ in data["completions"]] == [i for i, _ in state.completions]
    assert data["completions"][2][1] == {"type": "integer_output", "value": 7}
    assert data["errors"] == {}


def test_a_json_round_trip_equals_the_original_at_every_point() -> None:
    graph = diamond_graph()
    states, order = snapshots(graph)
    for k, state in enumerate(states):
        copy_ = roundtrip(state)
        assert copy_ == state
        assert copy_.to_json() == json.loads(json.dumps(state.to_json()))
        assert drain(copy_) == order[k:]
        assert copy_ == states[-1]


def failed_state() -> GraphExecutionState:
    graph = build(
        {"x": {"type": "integer", "value": 1}, "bad": {"type": "divide", "b": 0}},
        [edge("x", "value", "bad", "a")],
    )
    state = GraphExecutionState(graph)
    drain(state)
    assert set(state.errors) == {"bad"}
    assert state.ready == frozenset()
    return state


def test_a_json_round_trip_keeps_the_errors() -> None:
    state = failed_state()
    copy_ = roundtrip(state)
    assert copy_.errors == state.errors
    assert copy_.results == state.results
    assert copy_.has_error()
    assert not copy_.is_complete()


def test_a_json_round_trip_of_a_failed_state_equals_the_original() -> None:
    state = failed_state()
    copy_ = roundtrip(state)
    assert copy_.ready == state.ready
    assert copy_.next() is None
    assert copy_ == state


def test_a_json_round_trip_of_an_iterating_graph_equals_the_original() -> None:
    state = run_graph(one_iterator_graph())
    assert roundtrip(state) == state


# --- the source graph is never mutated ----------------------------------------------------


def test_running_never_mutates_the_source_graph() -> None:
    graph = build(
        {
            "ints": {"type": "integer_collection", "collection": [1, 2, 3]},
            "copy": {"type": "integer_collection"},
            "it": {"type": "iterate"},
            "fmt": {"type": "string_format", "template": "{n}", "values": {"n": [1]}},
            "c": {"type": "collect"},
        },
        [
            edge("ints", "collection", "copy", "collection"),
            edge("copy", "collection", "it", "collection"),
            edge("it", "item", "c", "item"),
        ],
    )
    before = graph.model_dump()
    state = GraphExecutionState(graph)
    context = FakeContext()
    while (node := state.next()) is not None:
        # every node but an iterate (which only reads its list) scribbles on its list inputs
        inputs: Any = node
        if node.node_type != "iterate":
            if isinstance(getattr(inputs, "collection", None), list):
                inputs.collection.append(99)
            if isinstance(getattr(inputs, "values", None), dict):
                inputs.values["n"].append(99)
        state.complete(node.id, node.invoke(context))

    assert graph.model_dump() == before
    assert source(graph, "ints").collection == [1, 2, 3]
    assert source(graph, "copy").collection == []
    assert source(graph, "fmt").values == {"n": [1]}
    assert source(graph, "c").collection == []
    # each node scribbled on its own copy: ints' result kept its one 99, copy added another
    assert out(state, "ints").collection == [1, 2, 3, 99]
    assert out(state, "copy").collection == [1, 2, 3, 99, 99]
    assert out(state, "c").collection == [1, 2, 3, 99, 99, 99]
    assert out(state, "fmt").value == "[1, 99]"
    assert state.is_complete()


def test_a_node_fed_a_list_gets_its_own_copy_of_the_upstream_result() -> None:
    graph = build(
        {
            "ints": {"type": "integer_collection", "collection": [1, 2, 3]},
            "copy": {"type": "integer_collection"},
        },
        [edge("ints", "collection", "copy", "collection")],
    )
    state = GraphExecutionState(graph)
    ints = state.next()
    assert ints is not None
    state.complete(ints.id, ints.invoke(FakeContext()))

    fed: Any = state.next()
    assert fed is not None
    assert fed.collection == [1, 2, 3]
    fed.collection.append(4)
    assert out(state, "ints").collection == [1, 2, 3]
    assert source(graph, "ints").collection == [1, 2, 3]
    assert source(graph, "copy").collection == []


def test_a_collect_gathers_copies_of_its_items() -> None:
    lists = build(
        {
            "r": {"type": "range", "start": 1, "stop": 3},
            "it": {"type": "iterate"},
            "r2": {"type": "range"},
            "c": {"type": "collect"},
        },
        [
            edge("r", "collection", "it", "collection"),
            edge("it", "item", "r2", "stop"),
            edge("r2", "collection", "c", "item"),
        ],
    )
    state = GraphExecutionState(lists)
    context = FakeContext()
    while (node := state.next()) is not None:
        inputs: Any = node
        if node.id == "c":
            assert inputs.collection == [[0], [0, 1]]
            inputs.collection[0].append(42)
        state.complete(node.id, node.invoke(context))
    assert out(state, "r2[0]").collection == [0]
    assert out(state, "c").collection == [[0, 42], [0, 1]]
    assert state.is_complete()


# --- properties ---------------------------------------------------------------------------


@dataclass
class MathDag:
    nodes: dict[str, dict[str, Any]]  # in the (shuffled) order the graph lists them
    edges: list[dict[str, Any]]
    expected: dict[str, int]


@st.composite
def math_dags(draw: st.DrawFn) -> MathDag:
    """Integer sources and add/subtract nodes fed by literals or by edges from earlier nodes."""
    count = draw(st.integers(1, 12))
    specs: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    expected: dict[str, int] = {}
    for index in range(count):
        node_id = f"n{index}"
        kind = "integer" if index == 0 else draw(st.sampled_from(["integer", "add", "subtract"]))
        if kind == "integer":
            value = draw(st.integers(-100, 100))
            specs.append({"type": "integer", "value": value})
            expected[node_id] = value
            continue
        spec: dict[str, Any] = {"type": kind}
        operands = []
        for field in ("a", "b"):
            feeder = draw(st.none() | st.integers(0, index - 1))
            if feeder is None:
                literal = draw(st.none() | st.integers(-100, 100))
                if literal is not None:
                    spec[field] = literal
                operands.append(literal or 0)
            else:
                edges.append(edge(f"n{feeder}", "value", node_id, field))
                operands.append(expected[f"n{feeder}"])
        specs.append(spec)
        a, b = operands
        expected[node_id] = a + b if kind == "add" else a - b
    listing = draw(st.permutations(range(count)))
    return MathDag({f"n{i}": specs[i] for i in listing}, edges, expected)


@settings(max_examples=50, deadline=None)
@given(dag=math_dags(), data=st.data())
def test_random_math_dags_run_each_node_once_in_edge_order(
    dag: MathDag, data: st.DataObject
) -> None:
    graph = build(dag.nodes, dag.edges)
    states, order = snapshots(graph)
    final = states[-1]

    assert sorted(order) == sorted(dag.nodes)
    assert len(order) == len(set(order))
    position = {node_id: i for i, node_id in enumerate(order)}
    for e in dag.edges:
        assert position[e["source"]["node_id"]] < position[e["destination"]["node_id"]]
    assert all_values(final) == dag.expected
    assert final.is_complete()

    k = data.draw(st.integers(0, len(order)), label="prefix")
    rebuilt = GraphExecutionState.rebuild(graph, final.completions[:k])
    assert rebuilt == states[k]
    assert drain(rebuilt) == order[k:]
    assert rebuilt == final
    assert rebuilt.completions == final.completions

    assert roundtrip(states[k]) == states[k]


@settings(max_examples=30, deadline=None)
@given(lengths=st.lists(st.integers(0, 3), max_size=4), data=st.data())
def test_random_nested_iterations_expand_every_pair_depth_first(
    lengths: list[int], data: st.DataObject
) -> None:
    graph = build(
        {
            "sizes": {"type": "integer_collection", "collection": lengths},
            "i": {"type": "iterate"},
            "r": {"type": "range", "start": 0},
            "j": {"type": "iterate"},
            "add": {"type": "add"},
            "c": {"type": "collect"},
        },
        [
            edge("sizes", "collection", "i", "collection"),
            edge("i", "item", "r", "stop"),
            edge("r", "collection", "j", "collection"),
            edge("j", "item", "add", "a"),
            edge("i", "index", "add", "b"),
            edge("add", "value", "c", "item"),
        ],
    )
    states, order = snapshots(graph)
    final = states[-1]

    expected = {f"add[{x},{y}]": x + y for x, n in enumerate(lengths) for y in range(n)}
    assert values(final, "add") == expected
    assert out(final, "c").collection == list(expected.values())
    assert len(order) == len(set(order)) == 2 + 2 * len(lengths) + 2 * len(expected)
    assert outer_index_sequence(final, order) == sorted(outer_index_sequence(final, order))
    assert_respects_edges(final, order)
    assert final.is_complete()

    k = data.draw(st.integers(0, len(order)), label="prefix")
    rebuilt = GraphExecutionState.rebuild(graph, final.completions[:k])
    assert rebuilt == states[k]
    assert drain(rebuilt) == order[k:]
    assert rebuilt == final


@st.composite
def iterating_graphs(draw: st.DrawFn) -> Graph:
    """Random valid graphs of integer, range, iterate, add and collect nodes over small lists."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, Any]] = []
    ints: list[tuple[str, str]] = []  # outputs giving an int
    smalls: list[tuple[str, str]] = []  # int outputs of at most 3 (a range may stop at them)
    lists: list[tuple[str, str]] = []  # outputs giving a list of ints
    for index in range(draw(st.integers(1, 10))):
        node_id = f"n{index}"
        kinds = (
            ["integer", "range"] + ["iterate"] * 3 * bool(lists) + ["add", "collect"] * bool(ints)
        )
        kind = draw(st.sampled_from(kinds))
        spec: dict[str, Any] = {"type": kind}
        if kind == "integer":
            spec["value"] = draw(st.integers(-5, 5))
            ints.append((node_id, "value"))
        elif kind == "range":
            if smalls and draw(st.booleans()):
                edges.append(edge(*draw(st.sampled_from(smalls)), node_id, "stop"))
            else:
                spec["stop"] = draw(st.integers(0, 3))
            lists.append((node_id, "collection"))
        elif kind == "iterate":
            edges.append(edge(*draw(st.sampled_from(lists)), node_id, "collection"))
            ints += [(node_id, "item"), (node_id, "index")]
            smalls += [(node_id, "index"), (node_id, "total")]
        elif kind == "add":
            for field in ("a", "b"):
                if draw(st.booleans()):
                    edges.append(edge(*draw(st.sampled_from(ints)), node_id, field))
            ints.append((node_id, "value"))
        else:
            items = draw(st.lists(st.sampled_from(ints), min_size=1, max_size=2, unique=True))
            edges += [edge(*item, node_id, "item") for item in items]
            lists.append((node_id, "collection"))
        nodes[node_id] = spec
    return build(nodes, edges)


def expand(graph: Graph) -> dict[str, dict[str, Any]]:
    """The outputs of every copy, by execution id, computed eagerly from the docstring's rules:
    a node runs once per consistent combination of the copies feeding it (a join on shared
    iterators, a cross product otherwise), an iterate once per item, a collect once over all."""
    above = iterators(graph)
    order, _ = topological_order(graph.nodes, graph.edges)
    copies: dict[str, list[tuple[dict[str, int], dict[str, Any]]]] = {}
    for node_id in order:
        node = graph.nodes[node_id]
        incoming = graph.incoming(node_id)
        if node.node_type == "collect":
            items = []
            for e in incoming:
                up = e.source.node_id
                ranked = sorted(copies[up], key=lambda c: [c[0][i] for i in above[up]])
                items += [outputs[e.source.field] for _, outputs in ranked]
            copies[node_id] = [({}, {"collection": items})]
        elif node.node_type == "iterate":
            (e,) = incoming
            copies[node_id] = [
                ({**key, node_id: index}, {"item": item, "index": index, "total": len(items)})
                for key, outputs in copies[e.source.node_id]
                for items in [outputs[e.source.field]]
                for index, item in enumerate(items)
            ]
        else:
            rows: list[tuple[dict[str, int], dict[str, Any]]] = [({}, {})]
            for e in incoming:
                rows = [
                    ({**key, **up_key}, {**fed, e.destination.field: up_out[e.source.field]})
                    for key, fed in rows
                    for up_key, up_out in copies[e.source.node_id]
                    if all(key.get(i, v) == v for i, v in up_key.items())
                ]
            inputs = node.model_dump()
            copies[node_id] = []
            for key, fed in rows:
                x = {**inputs, **fed}
                if node.node_type == "integer":
                    outputs = {"value": x["value"]}
                elif node.node_type == "add":
                    outputs = {"value": x["a"] + x["b"]}
                else:
                    outputs = {"collection": list(range(x["start"], x["stop"], x["step"]))}
                copies[node_id].append((key, outputs))
    return {
        execution_id(node_id, tuple(key[i] for i in above[node_id])): outputs
        for node_id, rows in copies.items()
        for key, outputs in rows
    }


@settings(max_examples=60, deadline=None)
@given(graph=iterating_graphs(), data=st.data())
def test_random_iterating_graphs_expand_as_the_rules_say(graph: Graph, data: st.DataObject) -> None:
    expected = expand(graph)
    states, order = snapshots(graph)
    final = states[-1]

    got = {
        exec_id: output.model_dump(exclude={"type"}) for exec_id, output in final.results.items()
    }
    assert got == expected
    assert sorted(order) == sorted(expected)
    assert len(order) == len(set(order))
    assert_respects_edges(final, order)
    assert final.is_complete()

    k = data.draw(st.integers(0, len(order)), label="prefix")
    rebuilt = GraphExecutionState.rebuild(graph, final.completions[:k])
    assert rebuilt == states[k]
    assert drain(rebuilt) == order[k:]
    assert rebuilt == final
