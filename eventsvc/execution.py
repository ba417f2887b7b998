"""Stepping through a graph: the pure, deterministic ``GraphExecutionState`` (DESIGN section 2).

The source graph is expanded lazily into executable copies as results arrive. A node below
iterators runs once per combination of their items (cartesian; nested iterators multiply), and
its copy is named by its source id and the item indexes: ``add``, ``add[2]``, ``add[2,0]``. An
``iterate`` is copied once per item as soon as its list is known; an empty list creates no
copies, so the nodes below it are skipped and the session still completes. A ``collect`` runs
once, when everything upstream of it has run, gathering its items across all iterations in
edge order, then index order (so zero iterations give an empty list).

A copy is created the moment every input it needs has been produced, so "created" and "ready"
coincide; ``next()`` picks the ready copy with the smallest indexes (then in topological order),
which finishes one iteration branch before the next starts. Because ids are deterministic, the
state rebuilt from its graph and the ordered list of completions equals the original and
continues identically; that list is also its JSON form.
"""

from __future__ import annotations

import copy
import functools
import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from eventsvc.errors import MissingInputError, NodeInputError
from eventsvc.graph import Edge, Graph, strip_type, topological_order
from eventsvc.invocations.base import BaseInvocation, BaseInvocationOutput, input_specs
from eventsvc.invocations.collections import COLLECT, ITERATE
from eventsvc.invocations.registry import REGISTRY, InvocationRegistry

Indexes = tuple[int, ...]


def execution_id(source_id: str, indexes: Indexes) -> str:
    return f"{source_id}[{','.join(map(str, indexes))}]" if indexes else source_id


@dataclass(slots=True)
class _Source:
    """What the expansion knows about one source node."""

    node: BaseInvocation
    topo: int
    incoming: list[Edge]
    successors: list[str]
    kind: str = ""  # its node type, asked at every step
    upstream: frozenset[str] = frozenset()  # the sources its incoming edges come from
    iterators: tuple[str, ...] = ()
    executed: dict[Indexes, str] = field(default_factory=dict)
    pending: int = 0
    created: bool = False  # for collect: its single copy exists


class GraphExecutionState:
    """The expansion and progress of one session's graph."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.results: dict[str, BaseInvocationOutput] = {}
        self.errors: dict[str, str] = {}
        self.completions: list[tuple[str, BaseInvocationOutput]] = []
        self.prepared_source: dict[str, tuple[str, Indexes]] = {}
        self.source_prepared: dict[str, list[str]] = {n: [] for n in graph.nodes}
        self._ready: list[tuple[Indexes, int, str]] = []
        self._ready_ids: set[str] = set()
        self._in_flight: set[str] = set()
        self._complete: set[str] = set()
        self._sources = self._analyse(graph)
        for source_id, source in self._sources.items():
            if not source.incoming and source.kind != COLLECT:
                self._create(source_id, ())
        self._propagate_completeness(list(self._sources))

    @staticmethod
    def _analyse(graph: Graph) -> dict[str, _Source]:
        order, cyclic = topological_order(graph.nodes, graph.edges)
        if cyclic:
            raise ValueError(f"graph {graph.id!r} has a cycle; validate it first")
        sources = {
            node_id: _Source(graph.nodes[node_id], topo, [], [], graph.nodes[node_id].node_type)
            for topo, node_id in enumerate(order)
        }
        for edge in graph.edges:
            sources[edge.destination.node_id].incoming.append(edge)
            successors = sources[edge.source.node_id].successors
            if edge.destination.node_id not in successors:
                successors.append(edge.destination.node_id)
        for node_id in order:
            source = sources[node_id]
            source.upstream = frozenset(e.source.node_id for e in source.incoming)
            if source.kind == COLLECT:
                continue
            inherited = {i for e in source.incoming for i in sources[e.source.node_id].iterators}
            own = (node_id,) if source.kind == ITERATE else ()
            source.iterators = (*sorted(inherited, key=lambda i: sources[i].topo), *own)
        return sources

    # --- stepping -----------------------------------------------------------------------

    def next(self) -> BaseInvocation | None:
        """The next ready node with its inputs assigned, or None when nothing is ready."""
        while self._ready:
            _, _, exec_id = heapq.heappop(self._ready)
            if exec_id in self._ready_ids:
                self._ready_ids.discard(exec_id)
                self._in_flight.add(exec_id)
                return self._instantiate(exec_id)
        return None

    def complete(self, exec_id: str, output: BaseInvocationOutput) -> None:
        """Record a node's output and create the copies it makes ready."""
        if exec_id not in self._in_flight and exec_id not in self._ready_ids:
            raise KeyError(f"node {exec_id!r} is neither ready nor running")
        self._in_flight.discard(exec_id)
        self._ready_ids.discard(exec_id)
        source_id, indexes = self.prepared_source[exec_id]
        source = self._sources[source_id]
        self.results[exec_id] = output
        self.completions.append((exec_id, output))
        source.executed[indexes] = exec_id
        source.pending -= 1
        for successor in source.successors:
            self._expand(successor, source_id, indexes, output)
        self._propagate_completeness([source_id])

    def fail(self, exec_id: str, error: str) -> None:
        self._in_flight.discard(exec_id)
        self._ready_ids.discard(exec_id)
        self.errors[exec_id] = error

    def is_complete(self) -> bool:
        return not self.errors and len(self._complete) == len(self._sources)

    def has_error(self) -> bool:
        return bool(self.errors)

    @property
    def ready(self) -> frozenset[str]:
        return frozenset(self._ready_ids)

    # --- expansion ----------------------------------------------------------------------

    def _create(self, source_id: str, indexes: Indexes) -> None:
        exec_id = execution_id(source_id, indexes)
        if exec_id in self.prepared_source:
            return
        source = self._sources[source_id]
        self.prepared_source[exec_id] = (source_id, indexes)
        self.source_prepared[source_id].append(exec_id)
        source.pending += 1
        heapq.heappush(self._ready, (indexes, source.topo, exec_id))
        self._ready_ids.add(exec_id)

    def _expand(
        self, target_id: str, source_id: str, indexes: Indexes, output: BaseInvocationOutput
    ) -> None:
        target = self._sources[target_id]
        if target.kind == COLLECT:
            return  # created once everything upstream is complete
        if target.kind == ITERATE:
            items = getattr(output, target.incoming[0].source.field)
            for index in range(len(items)):
                self._create(target_id, (*indexes, index))
            return
        fixed = dict(zip(self._sources[source_id].iterators, indexes, strict=True))
        for assignment in self._assignments(target.iterators, fixed):
            candidate = tuple(assignment[i] for i in target.iterators)
            if all(self._input_copy(e, assignment) is not None for e in target.incoming):
                self._create(target_id, candidate)

    def _assignments(
        self, iterators: tuple[str, ...], fixed: dict[str, int]
    ) -> Iterator[dict[str, int]]:
        """Every consistent choice of item index for the iterators not fixed yet."""
        free = [i for i in iterators if i not in fixed]
        if not free:
            yield fixed
            return
        first, rest = free[0], tuple(i for i in iterators if i != free[0])
        iterator = self._sources[first]
        for indexes in list(iterator.executed):
            if all(fixed.get(i, v) == v for i, v in zip(iterator.iterators, indexes, strict=True)):
                yield from self._assignments(rest, {**fixed, first: indexes[-1]})

    def _input_copy(self, edge: Edge, assignment: dict[str, int]) -> str | None:
        """The executed copy of ``edge``'s source that feeds the copy at ``assignment``."""
        source = self._sources[edge.source.node_id]
        return source.executed.get(tuple(assignment[i] for i in source.iterators))

    def _propagate_completeness(self, start: list[str]) -> None:
        """Mark source nodes that will never get another copy; create collects that are due."""
        work = list(start)
        while work:
            node_id = work.pop()
            source = self._sources[node_id]
            if node_id in self._complete:
                continue
            if not source.upstream <= self._complete:
                continue
            if source.kind == COLLECT and not source.created:
                source.created = True
                self._create(node_id, ())
            if source.pending == 0:
                self._complete.add(node_id)
                work.extend(source.successors)

    # --- instantiation ------------------------------------------------------------------

    def _instantiate(self, exec_id: str) -> BaseInvocation:
        source_id, indexes = self.prepared_source[exec_id]
        source = self._sources[source_id]
        if source.kind in (ITERATE, COLLECT) and not source.incoming:
            raise MissingInputError(exec_id, "collection" if source.kind == ITERATE else "item")
        if source.kind == ITERATE:
            # The list stays shared with the output that produced it: an iterate only reads it,
            # and copying a long list into each of its copies would make expansion quadratic.
            [edge] = source.incoming
            items = getattr(self.results[self._sources[edge.source.node_id].executed[indexes[:-1]]],
                            edge.source.field)  # fmt: skip
            update = {"id": exec_id, "collection": items, "index": indexes[-1]}
            return source.node.model_copy(update=update)
        node = source.node.model_copy(update=_fresh_values(source.node) | {"id": exec_id})
        if source.kind == COLLECT:
            _assign(node, "collection", self._collected(source))
            return node
        assignment = dict(zip(source.iterators, indexes, strict=True))
        fed = set()
        for edge in source.incoming:
            copy_id = self._input_copy(edge, assignment)
            assert copy_id is not None
            value = getattr(self.results[copy_id], edge.source.field)
            _assign(node, edge.destination.field, copy.deepcopy(value))
            fed.add(edge.destination.field)
        for name in _required(type(node)):
            if name not in fed and getattr(node, name) is None:
                raise MissingInputError(exec_id, name)
        return node

    def _collected(self, source: _Source) -> list[Any]:
        items = []
        for edge in source.incoming:
            upstream = self._sources[edge.source.node_id]
            for indexes in sorted(upstream.executed):
                output = self.results[upstream.executed[indexes]]
                items.append(copy.deepcopy(getattr(output, edge.source.field)))
        return items

    # --- persistence --------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "graph": self.graph.model_dump(mode="json"),
            "completions": [[i, o.model_dump(mode="json")] for i, o in self.completions],
            "errors": dict(self.errors),
        }

    @classmethod
    def from_json(
        cls, data: dict[str, Any], registry: InvocationRegistry = REGISTRY
    ) -> GraphExecutionState:
        from eventsvc.graph import parse_graph

        graph = parse_graph(data["graph"], registry)
        outputs = []
        for exec_id, raw in data["completions"]:
            output_cls = registry.get_output(raw["type"])
            if output_cls is None:
                raise KeyError(f"unknown output type {raw['type']!r} of node {exec_id!r}")
            outputs.append((exec_id, output_cls.model_validate(raw)))
        state = cls.rebuild(graph, outputs)
        for exec_id, error in data.get("errors", {}).items():
            state.fail(exec_id, error)
        return state

    @classmethod
    def rebuild(
        cls, graph: Graph, completions: list[tuple[str, BaseInvocationOutput]]
    ) -> GraphExecutionState:
        """The state after ``completions``, in their order (a session resumed from its log)."""
        state = cls(graph)
        for exec_id, output in completions:
            state.complete(exec_id, output)
        return state

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GraphExecutionState):
            return NotImplemented
        return (
            self.graph == other.graph
            and self.results == other.results
            and self.errors == other.errors
            and self.prepared_source == other.prepared_source
            and self._ready_ids == other._ready_ids
        )

    __hash__ = None  # type: ignore[assignment]


def _fresh_values(node: BaseInvocation) -> dict[str, Any]:
    """Copies of the mutable input values, so a copy never shares them with the source graph."""
    return {
        name: copy.deepcopy(value)
        for name, value in node.__dict__.items()
        if isinstance(value, (list, dict, set, BaseModel))
    }


@functools.cache
def _required(cls: type[BaseInvocation]) -> tuple[str, ...]:
    """The inputs of a node class that must have a value by the time it runs."""
    return tuple(name for name, spec in input_specs(cls).items() if spec.orig_required)


@functools.cache
def _conversion(cls: type[BaseInvocation], name: str) -> type | None:
    """What a value arriving on an edge into ``name`` may be converted to (str or list)."""
    annotation = strip_type(input_specs(cls)[name].annotation)
    if annotation is str:
        return str
    return list if getattr(annotation, "__origin__", None) is list else None


def _assign(node: BaseInvocation, name: str, value: Any) -> None:
    """Assign a value arriving on an edge, converting what the type rules allow."""
    conversion = _conversion(type(node), name)
    if conversion is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    elif conversion is list and not isinstance(value, list):
        value = [value]
    try:
        setattr(node, name, value)
    except ValidationError as exc:
        reason = "; ".join(e["msg"] for e in exc.errors(include_url=False))
        raise NodeInputError(node.id, name, value, reason) from None
