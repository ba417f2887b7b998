"""Batches: one graph, values to substitute, and the sessions they make (DESIGN section 2).

Within a group, datums are zipped (their item lists have equal lengths); groups are multiplied
(cartesian, the first group varying slowest, as ``itertools.product``); the whole is repeated
``runs`` times, runs being the outer loop. Session ``i`` of a batch, its id and its field
values, are computed from ``i`` alone in O(groups), so a batch of a million sessions needs no
per-session row. Every item is type-checked against its target input when the batch is
validated, so a bad value is refused at enqueue and never reaches a worker.
"""

from __future__ import annotations

import functools
import math
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from eventsvc import bounds
from eventsvc.errors import Problem
from eventsvc.events import BatchDatum as EventDatum
from eventsvc.events import BatchEnqueued
from eventsvc.graph import Graph, validate_graph
from eventsvc.ids import BATCH_ID_PATTERN, session_id
from eventsvc.invocations.base import BaseInvocation, Input
from eventsvc.invocations.registry import REGISTRY, InvocationRegistry


class BatchDatum(BaseModel):
    """Values for one input: item ``k`` goes to the ``k``-th session of its group."""

    model_config = ConfigDict(extra="forbid")

    node_path: str = Field(description="The id of the node whose input is set")
    field_name: str = Field(description="The input to set")
    items: list[Any] = Field(description="One value per session of the group")


@dataclass(frozen=True, slots=True)
class FieldValue:
    """One substituted value of a session (a dataclass: listings build thousands)."""

    node_path: str
    field_name: str
    value: Any


def _new_batch_id() -> str:
    # A batch built by hand gets a fresh id; one parsed from a request carries its own.
    return str(uuid.uuid4())


class Batch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_id: str = Field(default_factory=_new_batch_id, pattern=BATCH_ID_PATTERN)
    graph: Graph
    data: list[list[BatchDatum]] = Field(default_factory=list)
    runs: int = Field(1, ge=1)
    origin: str | None = None
    destination: str | None = None

    @property
    def sessions_per_run(self) -> int:
        return math.prod(len(group[0].items) for group in self.data if group)

    @property
    def session_count(self) -> int:
        """runs x the product of the group lengths, computed arithmetically."""
        return self.runs * self.sessions_per_run

    def session_id(self, index: int) -> str:
        return session_id(self.batch_id, index)

    def session_values(self, index: int) -> list[FieldValue]:
        """The values substituted into session ``index``, group by group, in O(groups)."""
        return session_values(self.data, self.session_count, index)

    def session_graph(self, index: int) -> dict[str, Any]:
        """The JSON form of session ``index``'s graph: the batch graph with its values set."""
        return substitute(self.graph.model_dump(mode="json"), self.session_values(index))


def enqueued(batch: Batch, queue_id: str, priority: int = 0) -> BatchEnqueued:
    """The event that enqueues ``batch`` (``data_of`` reads its data back)."""
    return BatchEnqueued(
        queue_id=queue_id,
        batch_id=batch.batch_id,
        graph=batch.graph.model_dump(mode="json"),
        data=[
            [
                EventDatum(node_path=d.node_path, field_name=d.field_name, items=d.items)
                for d in group
            ]
            for group in batch.data
        ],
        runs=batch.runs,
        priority=priority,
        session_count=batch.session_count,
        origin=batch.origin,
        destination=batch.destination,
    )


def data_of(event: BatchEnqueued) -> list[list[BatchDatum]]:
    """A stored batch's data, as the models session values are computed from."""
    return [
        [BatchDatum(node_path=d.node_path, field_name=d.field_name, items=d.items) for d in group]
        for group in event.data
    ]


def substitute(graph: dict[str, Any], values: list[FieldValue]) -> dict[str, Any]:
    """A copy of a graph's JSON form with ``values`` set on its nodes (the input is kept)."""
    nodes = dict(graph["nodes"])
    for value in values:
        node = nodes.get(value.node_path)
        if isinstance(node, dict):
            nodes[value.node_path] = {**node, value.field_name: value.value}
    return {**graph, "nodes": nodes}


def session_values(data: list[list[BatchDatum]], count: int, index: int) -> list[FieldValue]:
    """Field values of session ``index`` of a batch with ``count`` sessions over ``data``."""
    if not 0 <= index < count:
        raise IndexError(f"session index {index} out of range: the batch has {count} sessions")
    groups = [group for group in data if group]
    remainder = index % math.prod(len(group[0].items) for group in groups)
    chosen = [0] * len(groups)
    for position in range(len(groups) - 1, -1, -1):  # the last group varies fastest
        size = len(groups[position][0].items)
        remainder, chosen[position] = divmod(remainder, size)
    return [
        FieldValue(d.node_path, d.field_name, d.items[chosen[g]])
        for g, group in enumerate(groups)
        for d in group
    ]


# --- validation ---------------------------------------------------------------------------


def validate_batch(batch: Batch, registry: InvocationRegistry = REGISTRY) -> list[Problem]:
    """Every problem of the batch at once: its graph, then its data, then any value the log
    could not hold (``bounds``)."""
    problems = validate_graph(batch.graph, registry) + _out_of_bounds(batch)
    fed_by_edges = {(e.destination.node_id, e.destination.field) for e in batch.graph.edges}
    seen: set[tuple[str, str]] = set()
    for g, group in enumerate(batch.data):
        if not group:
            problems.append(Problem(code="empty_group", message=f"group {g} holds no datum"))
            continue
        length = len(group[0].items)
        for d, datum in enumerate(group):
            where = f"group {g}, datum {d}"
            target = (datum.node_path, datum.field_name)
            problems += _datum_problems(batch.graph, datum, where, length, fed_by_edges)
            if target in seen:
                problems.append(
                    _problem(
                        "duplicate_datum",
                        datum,
                        f"{where}: this input is already set by another datum",
                    )
                )
            seen.add(target)
    return problems


def _out_of_bounds(batch: Batch) -> list[Problem]:
    """Values the API takes from no client (``bounds.input_problems``), named by node and
    field (or by the batch's own field)."""
    found = bounds.input_problems(batch.origin, "origin") + bounds.input_problems(
        batch.destination, "destination"
    )
    for node_id, node in batch.graph.nodes.items():
        for name in type(node).model_fields:
            found += [
                msgspec.structs.replace(p, node_id=node_id)
                for p in bounds.input_problems(getattr(node, name), name)
            ]
    for group in batch.data:
        for datum in group:
            found += [
                msgspec.structs.replace(p, node_id=datum.node_path, field=datum.field_name,
                                  message=f"{p.field}: {p.message}")
                for p in bounds.input_problems(datum.items, "items")
            ]  # fmt: skip
    return found


def _problem(code: str, datum: BatchDatum, message: str) -> Problem:
    return Problem(code=code, node_id=datum.node_path, field=datum.field_name, message=message)


def _datum_problems(
    graph: Graph, datum: BatchDatum, where: str, length: int, fed_by_edges: set[tuple[str, str]]
) -> list[Problem]:
    problems = []
    if not datum.items:
        problems.append(_problem("empty_datum", datum, f"{where}: no items"))
    elif len(datum.items) != length:
        problems.append(
            _problem(
                "unequal_lengths",
                datum,
                f"{where}: {len(datum.items)} items, but the group's first datum has {length}",
            )
        )
    mixed = _mixed_types(datum.items)
    if mixed:
        problems.append(_problem("mixed_types", datum, f"{where}: items mix {mixed}"))
    node = graph.nodes.get(datum.node_path)
    if node is None:
        return [*problems, _problem("missing_node", datum, f"{where}: no node {datum.node_path!r}")]
    field = type(node).input_fields().get(datum.field_name)
    if field is None:
        return [
            *problems,
            _problem(
                "unknown_input",
                datum,
                f"{where}: {node.node_type!r} has no input {datum.field_name!r}",
            ),
        ]
    kind = (
        field.json_schema_extra.get("input") if isinstance(field.json_schema_extra, dict) else None
    )
    if kind == Input.CONNECTION.value:
        problems.append(
            _problem(
                "connection_input", datum, f"{where}: input {datum.field_name!r} takes an edge only"
            )
        )
    if (datum.node_path, datum.field_name) in fed_by_edges:
        problems.append(
            _problem(
                "input_has_edge",
                datum,
                f"{where}: input {datum.field_name!r} is already fed by an edge",
            )
        )
    return problems + _item_problems(type(node), datum, where)


def _mixed_types(items: list[Any]) -> str:
    """The item types, when more than one (int and float may mix), else ''."""
    kinds = {"number" if type(i) in (int, float) else type(i).__name__ for i in items}
    if len(kinds) <= 1:
        return ""
    return " and ".join(sorted({type(i).__name__ for i in items}))


@functools.cache
def _items_adapter(cls: type[BaseInvocation], field_name: str) -> TypeAdapter[list[Any]]:
    field = cls.model_fields[field_name]
    return TypeAdapter(list[Annotated[field.annotation, field]])  # type: ignore[name-defined]


def _item_problems(cls: type[BaseInvocation], datum: BatchDatum, where: str) -> list[Problem]:
    """Type-check every item against its target input, in one validator call."""
    try:
        _items_adapter(cls, datum.field_name).validate_python(datum.items)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        shown = [f"item {e['loc'][0]}: {e['msg']} (got {e['input']!r})" for e in errors[:3]]
        more = f" and {len(errors) - 3} more" if len(errors) > 3 else ""
        return [_problem("invalid_item", datum, f"{where}: " + "; ".join(shown) + more)]
    return []
