"""Counters and histograms, updated where things happen (L1; scraped by ``eventsvc.metrics``).

What a process does itself — the events it appended, how long its appends and nodes took, its
cache lookups, the subscribers it dropped — is counted here, in one registry per process
(``REGISTRY``), as Prometheus counts a process: from zero at its start, summed over processes
by the scraper. What the log knows (queue sizes, finished sessions, lag) is no counter of one
process: ``eventsvc.metrics`` reads it from the projections at scrape time instead.

Names follow Prometheus' rules: the ``eventsvc_`` prefix, base units, ``_total`` on counters,
labels only from small closed sets (queue, tag, node type, status), never an id.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from eventsvc.events import Event, NewEvent, event_tag

REGISTRY = CollectorRegistry(auto_describe=True)

# Seconds from a millisecond to an hour: appends are fast, sessions and nodes may be slow.
_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SLOW = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
# Bytes from a mebibyte to 128 GiB, doubling.
_VRAM = tuple(float(2**n) for n in range(20, 38))

EVENTS_APPENDED = Counter(
    "eventsvc_events_appended_total",
    "Events this process appended to the log, by tag",
    ["tag"],
    registry=REGISTRY,
)
APPEND_DURATION = Histogram(
    "eventsvc_append_duration_seconds",
    "Time from an append's call to its events being durable (and sealed, on PostgreSQL)",
    buckets=_FAST,
    registry=REGISTRY,
)
QUEUE_WAIT = Histogram(
    "eventsvc_session_queue_wait_seconds",
    "Time from a batch's enqueue to the start of each of its sessions",
    ["queue"],
    buckets=_SLOW,
    registry=REGISTRY,
)
SESSION_DURATION = Histogram(
    "eventsvc_session_duration_seconds",
    "Time one attempt of a session ran in this process, by how it ended",
    ["queue", "status"],
    buckets=_SLOW,
    registry=REGISTRY,
)
NODE_DURATION = Histogram(
    "eventsvc_node_duration_seconds",
    "Time a node body ran, by node type and how it ended (completed, failed, timeout)",
    ["node_type", "status"],
    buckets=_SLOW,
    registry=REGISTRY,
)
NODE_VRAM_PEAK = Histogram(
    "eventsvc_node_vram_peak_bytes",
    "Peak accelerator memory allocated while a node ran, by node type (where readable)",
    ["node_type"],
    buckets=_VRAM,
    registry=REGISTRY,
)
CACHE_REQUESTS = Counter(
    "eventsvc_cache_requests_total",
    "Invocation cache lookups, by result (hit or miss)",
    ["result"],
    registry=REGISTRY,
)
SUBSCRIBERS_DROPPED = Counter(
    "eventsvc_subscribers_dropped_total",
    "Live subscribers this process disconnected because they fell too far behind",
    registry=REGISTRY,
)
NODE_TIMEOUTS = Counter(
    "eventsvc_node_timeouts_total",
    "Nodes stopped at their time limit, by node type",
    ["node_type"],
    registry=REGISTRY,
)
PROCESSES_REPLACED = Counter(
    "eventsvc_node_processes_replaced_total",
    "Node worker processes killed (timeout or cancel) and replaced",
    registry=REGISTRY,
)


@functools.cache
def labeled(metric: Any, *values: str) -> Any:
    """``metric.labels(*values)``, looked up once: labels come from small closed sets, and the
    lookup costs more than what it counts on a path taken for every node."""
    return metric.labels(*values)


def appended(events: Sequence[Event | NewEvent], seconds: float) -> None:
    """Count one append: its events by tag, and how long it took."""
    for event in events:
        bare = event.event if isinstance(event, NewEvent) else event
        labeled(EVENTS_APPENDED, event_tag(bare)).inc()
    APPEND_DURATION.observe(seconds)
