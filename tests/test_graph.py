from __future__ import annotations

from typing import Any

import pytest

from eventsvc.errors import GraphValidationError, Problem
from eventsvc.graph import Edge, EdgeConnection, Graph, compatible, parse_graph
from eventsvc.invocations import REGISTRY
from eventsvc.invocations.math import AddInvocation


def edge(source: str, destination: str) -> dict[str, Any]:
    (s_node, s_field), (d_node, d_field) = source.split("."), destination.split(".")
    return {
        "source": {"node_id": s_node, "field": s_field},
        "destination": {"node_id": d_node, "field": d_field},
    }


def node(node_type: str, node_id: str, **inputs: Any) -> dict[str, Any]:
    return {"type": node_type, "id": node_id, **inputs}


def problems_of(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> list[Problem]:
    with pytest.raises(GraphValidationError) as caught:
        parse_graph({"nodes": {n["id"]: n for n in nodes}, "edges": edges})
    return caught.value.problems


def located(problems: list[Problem]) -> set[tuple[str, str | None, str | None]]:
    return {(p.code, p.node_id, p.field) for p in problems}


def test_a_valid_graph_parses() -> None:
    graph = parse_graph(
        {
            "id": "g",
            "nodes": {"a": node("integer", "a", value=2), "b": node("add", "b", b=3)},
            "edges": [edge("a.value", "b.a")],
        }
    )
    assert graph.id == "g"
    assert isinstance(graph.nodes["b"], AddInvocation)
    assert graph.edges == [Edge.model_validate(edge("a.value", "b.a"))]


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of(
        [node("add", "a"), node("multipy", "m"), node("add", "z", a="x")],
        [edge("ghost.value", "a.a"), edge("a.nope", "a.b")],
    )  # fmt: skip
    assert located(problems) == {
        ("unknown_node_type", "m", "type"),
        ("invalid_value", "z", "a"),
        ("missing_node", "ghost", "value"),
        ("unknown_output", "a", "nope"),
    }
    assert "did you mean 'multiply'" in str(problems)


def test_a_node_key_must_equal_its_id() -> None:
    with pytest.raises(GraphValidationError) as caught:
        parse_graph({"nodes": {"a": node("add", "b")}, "edges": []})
    assert located(caught.value.problems) == {("node_id_mismatch", "a", "id")}


def test_edges_must_name_existing_fields() -> None:
    problems = problems_of(
        [node("integer", "i"), node("add", "a")],
        [edge("i.missing", "a.a"), edge("i.value", "a.missing")],
    )
    assert located(problems) == {
        ("unknown_output", "i", "missing"),
        ("unknown_input", "a", "missing"),
    }


def test_a_cycle_names_its_nodes() -> None:
    problems = problems_of(
        [node("add", "a"), node("add", "b"), node("add", "c"), node("add", "after")],
        [edge("a.value", "b.a"), edge("b.value", "c.a"), edge("c.value", "a.a"),
         edge("c.value", "after.a")],
    )  # fmt: skip
    [cycle] = problems
    assert cycle.code == "cycle"
    assert all(name in cycle.message for name in ("'a'", "'b'", "'c'"))
    assert "'after'" not in cycle.message


def test_incompatible_types_are_refused() -> None:
    problems = problems_of(
        [node("string", "s"), node("add", "a")],
        [edge("s.value", "a.a")],
    )
    assert located(problems) == {("type_mismatch", "a", "a")}
    assert "s.value gives str, input accepts int" in problems[0].message


def test_a_second_edge_into_one_input_is_refused_except_for_collect() -> None:
    problems = problems_of(
        [node("integer", "i"), node("integer", "j"), node("add", "a")],
        [edge("i.value", "a.a"), edge("j.value", "a.a")],
    )
    assert located(problems) == {("duplicate_input", "a", "a")}
    parse_graph({
        "nodes": {"i": node("integer", "i"), "j": node("integer", "j"), "c": node("collect", "c")},
        "edges": [edge("i.value", "c.item"), edge("j.value", "c.item")],
    })  # fmt: skip


def test_an_edge_into_a_direct_input_is_refused() -> None:
    problems = problems_of(
        [node("integer", "i"), node("range", "r"), node("iterate", "it")],
        [edge("r.collection", "it.collection"), edge("i.value", "it.index")],
    )
    assert located(problems) == {("direct_input", "it", "index")}


def test_iterate_needs_exactly_one_list() -> None:
    problems = problems_of([node("iterate", "it")], [])
    assert located(problems) == {("iterate_input", "it", "collection")}
    problems = problems_of(
        [node("integer", "i"), node("iterate", "it")], [edge("i.value", "it.collection")]
    )
    assert located(problems) == {("iterate_input", "it", "collection")}
    assert "needs a list, got int" in problems[0].message


def test_consumers_of_iterate_must_accept_the_element_type() -> None:
    problems = problems_of(
        [node("string_collection", "s"), node("iterate", "it"), node("add", "a")],
        [edge("s.collection", "it.collection"), edge("it.item", "a.a")],
    )
    assert located(problems) == {("type_mismatch", "a", "a")}


def test_collect_items_must_share_one_type() -> None:
    problems = problems_of(
        [node("integer", "i"), node("string", "s"), node("collect", "c")],
        [edge("i.value", "c.item"), edge("s.value", "c.item")],
    )
    assert located(problems) == {("collect_input", "c", "item")}


def test_consumers_of_collect_must_accept_a_list_of_the_items() -> None:
    problems = problems_of(
        [node("string", "s"), node("collect", "c"), node("integer_collection", "ints")],
        [edge("s.value", "c.item"), edge("c.collection", "ints.collection")],
    )
    assert located(problems) == {("type_mismatch", "ints", "collection")}
    parse_graph({
        "nodes": {"i": node("integer", "i"), "c": node("collect", "c"),
                  "ints": node("integer_collection", "ints")},
        "edges": [edge("i.value", "c.item"), edge("c.collection", "ints.collection")],
    })  # fmt: skip


def test_iterate_of_a_collect_types_its_items() -> None:
    problems = problems_of(
        [node("string", "s"), node("collect", "c"), node("iterate", "it"), node("add", "a")],
        [edge("s.value", "c.item"), edge("c.collection", "it.collection"), edge("it.item", "a.a")],
    )
    assert located(problems) == {("type_mismatch", "a", "a")}


def test_a_denied_node_type_is_unknown_to_a_restricted_registry() -> None:
    registry = REGISTRY.restricted(deny=["multiply"])
    with pytest.raises(GraphValidationError) as caught:
        parse_graph({"nodes": {"m": node("multiply", "m")}}, registry)
    assert located(caught.value.problems) == {("unknown_node_type", "m", "type")}


@pytest.mark.parametrize(
    ("source", "target", "ok"),
    [
        (int, int, True), (int, float, True), (int, str, True), (float, str, True),
        (float, int, False), (str, int, False), (Any, int, True), (int, Any, True),
        (int, list[int], True), (list[int], int, False), (list[int], int | list[int], True),
        (list[int], list[float], True), (list[str], list[int], False), (bool, int, True),
        (int | None, float, True),
    ],
)  # fmt: skip
def test_type_compatibility(source: Any, target: Any, ok: bool) -> None:
    assert compatible(source, target) is ok


def test_editing_helpers_keep_the_graph_valid() -> None:
    graph = Graph(id="g")
    graph.add_node(AddInvocation(id="a"))
    graph.add_node(AddInvocation(id="b"))
    with pytest.raises(GraphValidationError, match="already exists"):
        graph.add_node(AddInvocation(id="a"))
    link = Edge(source=EdgeConnection(node_id="a", field="value"),
                destination=EdgeConnection(node_id="b", field="a"))  # fmt: skip
    graph.add_edge(link)
    backwards = Edge(source=EdgeConnection(node_id="b", field="value"),
                     destination=EdgeConnection(node_id="a", field="a"))  # fmt: skip
    with pytest.raises(GraphValidationError, match="cycle"):
        graph.add_edge(backwards)
    assert graph.edges == [link]
    graph.delete_node("a")
    assert graph.edges == []
    assert list(graph.nodes) == ["b"]


def test_a_graph_round_trips_through_json() -> None:
    graph = parse_graph({
        "id": "g",
        "nodes": {"a": node("integer", "a", value=4), "b": node("add", "b")},
        "edges": [edge("a.value", "b.a")],
    })  # fmt: skip
    again = Graph.model_validate_json(graph.model_dump_json())
    assert again == graph
