"""``graph``: validating a 1,000-node graph and stepping the execution state of an expanded
one, each beside a plain topological sort of the same edges."""

from __future__ import annotations

import time
from collections.abc import Callable

from benches.common import Figure, edge
from eventsvc.execution import GraphExecutionState
from eventsvc.graph import parse_graph
from eventsvc.testing import FakeContext


def kahn(edges: list[tuple[int, int]], count: int) -> list[int]:
    """The floor: a plain topological sort of the same edges."""
    indegree = [0] * count
    successors: list[list[int]] = [[] for _ in range(count)]
    for source, destination in edges:
        successors[source].append(destination)
        indegree[destination] += 1
    ready = [n for n in range(count) if indegree[n] == 0]
    order = []
    while ready:
        node = ready.pop()
        order.append(node)
        for successor in successors[node]:
            indegree[successor] -= 1
            if indegree[successor] == 0:
                ready.append(successor)
    return order


def best_of(runs: int, work: Callable[[], object]) -> float:
    """The fastest of ``runs`` timings, in seconds (the least disturbed by other load)."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return min(timings)


def wide_graph(count: int) -> tuple[dict[str, object], list[tuple[int, int]]]:
    """``count`` add nodes, each fed by the two before it (a DAG with two edges a node)."""
    nodes = {f"n{i}": {"type": "add", "id": f"n{i}", "a": 1, "b": 1} for i in range(count)}
    pairs = [(i - 1, i) for i in range(1, count)] + [(i - 2, i) for i in range(2, count)]
    edges = [
        {
            "source": {"node_id": f"n{s}", "field": "value"},
            "destination": {"node_id": f"n{d}", "field": "a" if d - s == 1 else "b"},
        }
        for s, d in pairs
    ]
    return {"nodes": nodes, "edges": edges}, pairs


def bench_graph() -> list[Figure]:
    figures = []
    document, pairs = wide_graph(1000)
    value = best_of(5, lambda: parse_graph(document)) * 1000
    floor = best_of(5, lambda: kahn(pairs, 1000)) * 1000
    figures.append(Figure("validate_1000_ms", value, "ms", floor, "<= 50 ms"))

    items = 5000
    graph = parse_graph({
        "nodes": {
            "r": {"type": "range", "id": "r", "start": 0, "stop": items},
            "it": {"type": "iterate", "id": "it"},
            "add": {"type": "add", "id": "add", "b": 1},
        },
        "edges": [edge("r.collection", "it.collection"), edge("it.item", "add.a")],
    })  # fmt: skip
    context = FakeContext()
    state = GraphExecutionState(graph)
    stepping, steps = 0.0, 0
    while True:
        started = time.perf_counter()
        node = state.next()
        stepping += time.perf_counter() - started
        if node is None:
            break
        output = node.invoke(context)
        started = time.perf_counter()
        state.complete(node.id, output)
        stepping += time.perf_counter() - started
        steps += 1
    expanded = [(0, 1 + i) for i in range(items)] + [(1 + i, 1 + items + i) for i in range(items)]
    floor = best_of(5, lambda: kahn(expanded, steps)) / steps * 1e6
    figures.append(Figure("step_us", stepping / steps * 1e6, "us", floor, "<= 50 us"))
    figures.append(Figure("expanded_nodes", steps, "nodes", None))
    return figures
