"""Graphs of nodes wired by edges, and their validation (DESIGN section 2).

``parse_graph`` turns JSON into a ``Graph`` and reports **every** problem at once, each as
``{code, node_id, field, message}``, in a ``GraphValidationError``. Type compatibility along an
edge: equal types, ``Any``, int to float, int or float to str, ``X`` to ``list[X]`` (wrapped
at run time), ``list[X]`` to an input that accepts ``X | list[X]``, a subclass to its base.
``iterate`` and ``collect`` get their types from their edges: an iterate's item has the element
type of the list feeding it, a collect's collection is a list of the type its items share.
"""

from __future__ import annotations

import functools
import heapq
import types
import typing
import uuid
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from eventsvc.errors import GraphValidationError, Problem
from eventsvc.invocations.base import BaseInvocation, Input, input_specs, output_specs
from eventsvc.invocations.collections import COLLECT, ITERATE
from eventsvc.invocations.registry import REGISTRY, InvocationRegistry


class EdgeConnection(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    node_id: str
    field: str


class Edge(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: EdgeConnection
    destination: EdgeConnection


def _new_graph_id() -> str:
    # A graph built in Python gets a fresh id; graphs parsed from JSON carry their own.
    return str(uuid.uuid4())


class Graph(BaseModel):
    """Nodes by id and the edges between their fields."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=_new_graph_id)
    nodes: dict[str, SerializeAsAny[BaseInvocation]] = Field(default_factory=dict)
    edges: list[Edge] = Field(default_factory=list)

    @field_validator("nodes", mode="before")
    @classmethod
    def _parse_nodes(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        nodes, problems = _parse_nodes(value, REGISTRY)
        if problems:
            raise GraphValidationError(problems)
        return nodes

    # --- editing ----------------------------------------------------------------------

    def add_node(self, node: BaseInvocation) -> None:
        if node.id in self.nodes:
            raise GraphValidationError(
                [
                    Problem(
                        code="duplicate_node",
                        node_id=node.id,
                        message=f"node {node.id!r} already exists",
                    )
                ]
            )
        self.nodes[node.id] = node

    def delete_node(self, node_id: str) -> None:
        """Remove a node and every edge that touches it."""
        self.nodes.pop(node_id, None)
        self.edges = [
            e for e in self.edges if node_id not in (e.source.node_id, e.destination.node_id)
        ]

    def add_edge(self, edge: Edge, registry: InvocationRegistry = REGISTRY) -> None:
        """Add an edge; refused (and not added) when it makes the graph invalid."""
        self.edges.append(edge)
        problems = validate_graph(self, registry)
        if problems:
            self.edges.pop()
            raise GraphValidationError(problems)

    def delete_edge(self, edge: Edge) -> None:
        self.edges = [e for e in self.edges if e != edge]

    # --- queries ----------------------------------------------------------------------

    def incoming(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.destination.node_id == node_id]

    def outgoing(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.source.node_id == node_id]


def parse_graph(data: Mapping[str, Any] | Graph, registry: InvocationRegistry = REGISTRY) -> Graph:
    """A valid graph from its JSON form, or a ``GraphValidationError`` with every problem."""
    if isinstance(data, Graph):
        graph = data
        problems: list[Problem] = []
    else:
        nodes, problems = _parse_nodes(data.get("nodes") or {}, registry)
        edges, edge_problems = _parse_edges(data.get("edges") or [])
        problems += edge_problems
        graph = Graph.model_construct(
            id=str(data.get("id") or _new_graph_id()), nodes=nodes, edges=edges
        )
    problems += validate_graph(graph, registry)
    if problems:
        raise GraphValidationError(problems)
    return graph


_EDGES: TypeAdapter[list[Edge]] = TypeAdapter(list[Edge])


def _parse_edges(data: Any) -> tuple[list[Edge], list[Problem]]:
    try:
        return _EDGES.validate_python(data), []
    except ValidationError:
        pass  # find which edges are wrong, one by one
    edges: list[Edge] = []
    problems: list[Problem] = []
    for index, raw in enumerate(data if isinstance(data, list) else [data]):
        try:
            edges.append(Edge.model_validate(raw))
        except ValidationError as exc:
            problems.append(
                Problem(code="invalid_edge", field=f"edges[{index}]", message=_first_error(exc))
            )
    return edges, problems


def _parse_nodes(
    data: Mapping[str, Any], registry: InvocationRegistry
) -> tuple[dict[str, BaseInvocation], list[Problem]]:
    nodes: dict[str, BaseInvocation] = {}
    problems: list[Problem] = []
    for node_id, raw in data.items():
        if not isinstance(raw, (Mapping, BaseInvocation)):
            problems.append(
                Problem(
                    code="invalid_node", node_id=node_id, message="a node must be a JSON object"
                )
            )
            continue
        parsed = registry.parse_node(node_id, raw)
        if isinstance(parsed, list):
            problems += parsed
        else:
            nodes[node_id] = parsed
    return nodes, problems


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


# --- validation ---------------------------------------------------------------------------


def validate_graph(graph: Graph, registry: InvocationRegistry = REGISTRY) -> list[Problem]:
    """Every problem of the graph's structure and types (nodes are already parsed)."""
    problems = list(_node_problems(graph, registry))
    edges = [e for e in graph.edges if not _add(problems, _endpoint_problems(graph, e))]
    problems += _input_problems(graph, edges)
    order, cyclic = topological_order(graph.nodes, edges)
    if cyclic:
        problems.append(_cycle_problem(cyclic, edges))
    problems += _type_problems(graph, edges, order)
    return problems


def _add(problems: list[Problem], more: list[Problem]) -> bool:
    problems += more
    return bool(more)


def _node_problems(graph: Graph, registry: InvocationRegistry) -> Iterator[Problem]:
    for key, node in graph.nodes.items():
        if key != node.id:
            yield Problem(
                code="node_id_mismatch",
                node_id=key,
                field="id",
                message=f"node key {key!r} differs from its id {node.id!r}",
            )
        if registry.get(node.node_type) is None:
            yield registry._unknown(key, node.node_type)


def _endpoint_problems(graph: Graph, edge: Edge) -> list[Problem]:
    problems = []
    source, destination = edge.source, edge.destination
    source_node = graph.nodes.get(source.node_id)
    destination_node = graph.nodes.get(destination.node_id)
    ends = ((source, source_node, "source"), (destination, destination_node, "destination"))
    for end, node, role in ends:
        if node is None:
            message = f"edge {role} node {end.node_id!r} does not exist"
            problems.append(
                Problem(code="missing_node", node_id=end.node_id, field=end.field, message=message)
            )
    if source_node is not None and source.field not in output_specs(type(source_node).meta.output):
        problems.append(
            Problem(
                code="unknown_output",
                node_id=source.node_id,
                field=source.field,
                message=f"{source_node.node_type!r} has no output {source.field!r}",
            )
        )
    if destination_node is not None and destination.field not in input_specs(
        type(destination_node)
    ):
        problems.append(
            Problem(
                code="unknown_input",
                node_id=destination.node_id,
                field=destination.field,
                message=f"{destination_node.node_type!r} has no input {destination.field!r}",
            )
        )
    return problems


def _input_problems(graph: Graph, edges: list[Edge]) -> Iterator[Problem]:
    seen: set[tuple[str, str]] = set()
    for edge in edges:
        node_id, field = edge.destination.node_id, edge.destination.field
        node = graph.nodes[node_id]
        if input_specs(type(node))[field].kind is Input.DIRECT:
            yield Problem(
                code="direct_input",
                node_id=node_id,
                field=field,
                message=f"input {field!r} takes a literal value only, not an edge",
            )
        key = (node_id, field)
        if key in seen and not (node.node_type == COLLECT and field == "item"):
            yield Problem(
                code="duplicate_input",
                node_id=node_id,
                field=field,
                message=f"input {field!r} already has an incoming edge",
            )
        seen.add(key)


def topological_order(
    nodes: Mapping[str, object], edges: list[Edge]
) -> tuple[list[str], list[str]]:
    """Kahn's order (ties broken by node order) and the nodes left on or behind a cycle."""
    rank = {node: i for i, node in enumerate(nodes)}
    indegree = dict.fromkeys(nodes, 0)
    successors: dict[str, list[str]] = {n: [] for n in nodes}
    for edge in edges:
        successors[edge.source.node_id].append(edge.destination.node_id)
        indegree[edge.destination.node_id] += 1
    ready = [rank[n] for n, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    names = list(nodes)
    order = []
    while ready:
        node = names[heapq.heappop(ready)]
        order.append(node)
        for successor in successors[node]:
            indegree[successor] -= 1
            if indegree[successor] == 0:
                heapq.heappush(ready, rank[successor])
    return order, [n for n, d in indegree.items() if d > 0]


def _cycle_problem(remaining: list[str], edges: list[Edge]) -> Problem:
    """Name the nodes of one cycle among the nodes Kahn's algorithm could not order.

    Every such node has a predecessor among them, so walking predecessors must close a loop.
    """
    left = set(remaining)
    predecessors: dict[str, str] = {}
    for e in edges:
        if e.source.node_id in left and e.destination.node_id in left:
            predecessors.setdefault(e.destination.node_id, e.source.node_id)
    path: list[str] = []
    node = remaining[0]
    while node not in path:
        path.append(node)
        node = predecessors[node]
    cycle = list(reversed(path[path.index(node) :]))
    return Problem(
        code="cycle",
        node_id=cycle[0],
        message="cycle through nodes " + " -> ".join(map(repr, [*cycle, cycle[0]])),
    )


# --- types --------------------------------------------------------------------------------


def _type_problems(graph: Graph, edges: list[Edge], order: list[str]) -> list[Problem]:
    """Check every edge's types, deriving iterate and collect types in topological order."""
    problems: list[Problem] = []
    incoming: dict[str, list[Edge]] = {}
    for edge in edges:
        incoming.setdefault(edge.destination.node_id, []).append(edge)
    derived: dict[tuple[str, str], Any] = {}

    def output_type(connection: EdgeConnection) -> Any:
        key = (connection.node_id, connection.field)
        if key in derived:
            return derived[key]
        output = type(graph.nodes[connection.node_id]).meta.output
        return output_specs(output)[connection.field]

    for node_id in order:
        node = graph.nodes[node_id]
        edges_in = incoming.get(node_id, [])
        if node.node_type == ITERATE:
            problems += _iterate_problems(node_id, edges_in, output_type, derived)
        elif node.node_type == COLLECT:
            problems += _collect_problems(node_id, edges_in, output_type, derived)
        else:
            fields = input_specs(type(node))
            for edge in edges_in:
                source_type = output_type(edge.source)
                target_type = fields[edge.destination.field].annotation
                if not compatible(source_type, target_type):
                    problems.append(_mismatch(edge, source_type, target_type))
    return problems


def _iterate_problems(
    node_id: str, edges_in: list[Edge], output_type: Any, derived: dict[tuple[str, str], Any]
) -> list[Problem]:
    feeding = [e for e in edges_in if e.destination.field == "collection"]
    if len(feeding) != 1:
        return [
            Problem(
                code="iterate_input",
                node_id=node_id,
                field="collection",
                message=f"iterate needs exactly one edge into 'collection', found {len(feeding)}",
            )
        ]
    source_type = output_type(feeding[0].source)
    element = element_type(source_type)
    if element is None:
        return [
            Problem(
                code="iterate_input",
                node_id=node_id,
                field="collection",
                message=f"iterate needs a list, got {type_name(source_type)}",
            )
        ]
    derived[(node_id, "item")] = element
    return []


def _collect_problems(
    node_id: str, edges_in: list[Edge], output_type: Any, derived: dict[tuple[str, str], Any]
) -> list[Problem]:
    item_types = [output_type(e.source) for e in edges_in if e.destination.field == "item"]
    if not item_types:
        return [
            Problem(
                code="collect_input",
                node_id=node_id,
                field="item",
                message="collect needs at least one edge into 'item'",
            )
        ]
    root = next((t for t in item_types if t is not Any), Any)
    if any(t is not Any and t != root for t in item_types):
        names = sorted({type_name(t) for t in item_types})
        return [
            Problem(
                code="collect_input",
                node_id=node_id,
                field="item",
                message=f"collect items must share one type, got {', '.join(names)}",
            )
        ]
    derived[(node_id, "collection")] = list[root]  # type: ignore[valid-type]
    return []


def _mismatch(edge: Edge, source_type: Any, target_type: Any) -> Problem:
    return Problem(
        code="type_mismatch",
        node_id=edge.destination.node_id,
        field=edge.destination.field,
        message=f"{edge.source.node_id}.{edge.source.field} gives {type_name(source_type)}, "
        f"input accepts {type_name(target_type)}",
    )


def strip_type(annotation: Any) -> Any:
    """Without ``Annotated`` metadata and without ``None`` in optional unions."""
    if typing.get_origin(annotation) is Annotated:
        return strip_type(typing.get_args(annotation)[0])
    if _is_union(annotation):
        members = [m for m in typing.get_args(annotation) if m is not type(None)]
        if len(members) == 1:
            return strip_type(members[0])
    return annotation


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (Union, types.UnionType)


def element_type(annotation: Any) -> Any | None:
    """``X`` of ``list[X]`` (``Any`` for a bare list or ``Any``), else None."""
    annotation = strip_type(annotation)
    if annotation is Any or annotation is list:
        return Any
    if typing.get_origin(annotation) is list:
        return typing.get_args(annotation)[0]
    return None


@functools.lru_cache(maxsize=4096)
def compatible(source: Any, target: Any) -> bool:
    """Whether a value of type ``source`` may feed an input of type ``target``."""
    source, target = strip_type(source), strip_type(target)
    if source is Any or target is Any or source == target:
        return True
    if _is_union(target):
        return any(compatible(source, member) for member in typing.get_args(target))
    if _is_union(source):
        return all(compatible(member, target) for member in typing.get_args(source))
    if source is int and target is float:
        return True
    if source in (int, float) and target is str:
        return True
    target_element = element_type(target)
    if target_element is not None:
        source_element = element_type(source)
        if source_element is not None:
            return compatible(source_element, target_element)
        return compatible(source, target_element)
    return isinstance(source, type) and isinstance(target, type) and issubclass(source, target)


def type_name(annotation: Any) -> str:
    annotation = strip_type(annotation)
    if annotation is Any:
        return "Any"
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "")
