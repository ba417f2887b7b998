"""``GET /metrics``: the Prometheus text of one service (L2, DESIGN section 5).

Two kinds of figures. Gauges about the log — sessions by queue and state, workers alive, the
head, each projection's lag, cache entries and bytes, the sealing lag on PostgreSQL — are read
from the projections at scrape time (``GAUGES``), so they are right just after a restart and
the same on every process sharing a PostgreSQL store. Counters and histograms of what this
process did are kept where it happens (``eventsvc.instruments``) and rendered beside them.

Each gauge source is one small async function of the service; a new figure (a durable
subscriber's delivery lag, say) is one more function in ``GAUGES``. Every source reads a few
rows whatever the size of the queue: the sums over batches, never a row per session.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol, runtime_checkable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from eventsvc import instruments, replay
from eventsvc.projections.queue import STATES
from eventsvc.service import Service

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FINISHED = ("completed", "failed", "canceled")

Source = Callable[[Service], Awaitable[Iterable[Metric]]]

_SESSIONS = (
    "SELECT queue_id, "
    + ", ".join(f"coalesce(sum(CASE WHEN pruned = 0 THEN n_{s} ELSE 0 END), 0)" for s in STATES)
    + ", "
    + ", ".join(f"coalesce(sum(n_{s}), 0)" for s in FINISHED)
    + " FROM queue_batches GROUP BY queue_id ORDER BY queue_id"
)


@runtime_checkable
class Sealed(Protocol):
    """A store whose appends wait to be sealed (PostgreSQL)."""

    async def unsealed_rows(self) -> int: ...


async def sessions(service: Service) -> Iterable[Metric]:
    by_state = GaugeMetricFamily(
        "eventsvc_sessions",
        "Sessions by queue and state (listed ones: pruned batches leave the listings)",
        labels=["queue", "state"],
    )
    finished = GaugeMetricFamily(
        "eventsvc_sessions_finished",
        "Sessions whose current attempt ended, by queue and status, pruned ones included "
        "(a retry moves a session back to waiting)",
        labels=["queue", "status"],
    )
    for queue_id, *counts in await service.store.query(_SESSIONS):
        for state, count in zip(STATES, counts[: len(STATES)], strict=True):
            by_state.add_metric([queue_id, state], int(count))
        for status, count in zip(FINISHED, counts[len(STATES) :], strict=True):
            finished.add_metric([queue_id, status], int(count))
    return [by_state, finished]


async def log(service: Service) -> Iterable[Metric]:
    head = await service.store.head()
    folded = await service.checkpoints()
    lag = GaugeMetricFamily(
        "eventsvc_projection_lag_events",
        "Events each projection has yet to fold",
        labels=["projection"],
    )
    for name in replay.PROJECTION_NAMES:
        lag.add_metric([name], head - folded.get(name, 0))
    return [
        GaugeMetricFamily("eventsvc_log_head_position", "The last event's position", value=head),
        lag,
        GaugeMetricFamily(
            "eventsvc_subscribers",
            "Live event subscriptions this process feeds",
            value=service.store.subscribers,
        ),
    ]


async def sealing(service: Service) -> Iterable[Metric]:
    if not isinstance(service.store, Sealed):
        return []
    return [
        GaugeMetricFamily(
            "eventsvc_sealing_lag_rows",
            "Committed rows that wait for a position (PostgreSQL)",
            value=await service.store.unsealed_rows(),
        )
    ]


async def workers(service: Service) -> Iterable[Metric]:
    alive = await service.leases.live_workers(service.settings.lease_seconds)
    return [
        GaugeMetricFamily(
            "eventsvc_workers_alive", "Workers with a current lease, in every process", value=alive
        ),
        GaugeMetricFamily(
            "eventsvc_abandoned_threads",
            "Node bodies this process abandoned in their threads that still run",
            value=service.abandoned_threads,
        ),
    ]


async def cache(service: Service) -> Iterable[Metric]:
    await service.cache.flush()  # this process's entries held in memory since the last beat
    rows = await service.store.query(
        "SELECT entries, bytes FROM invocation_cache_state WHERE id = 1"
    )
    entries, size = rows[0] if rows else (0, 0)
    return [
        GaugeMetricFamily(
            "eventsvc_cache_entries", "Entries in the invocation cache", value=entries
        ),
        GaugeMetricFamily("eventsvc_cache_bytes", "Bytes of cached outputs", value=size),
    ]


async def webhooks(service: Service) -> Iterable[Metric]:
    counts = await service.webhooks.registry.counts()
    by_state = GaugeMetricFamily(
        "eventsvc_webhooks", "Webhooks the store keeps, by state", labels=["state"]
    )
    by_state.add_metric(["active"], counts.active)
    by_state.add_metric(["failing"], counts.failing)
    delivered = GaugeMetricFamily(
        "eventsvc_webhook_deliveries", "Events delivered to webhooks, in every process",
        value=counts.delivered,
    )  # fmt: skip
    return [by_state, delivered]


# Read at every scrape, in this order.
GAUGES: tuple[Source, ...] = (sessions, log, sealing, workers, cache, webhooks)


class _Snapshot(Collector):
    """Figures already read, handed to prometheus-client's renderer."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


async def scrape(service: Service, sources: Sequence[Source] = GAUGES) -> bytes:
    """The gauges read now, then this process's counters and histograms."""
    families: list[Metric] = []
    for source in sources:
        families.extend(await source(service))
    gauges = CollectorRegistry(auto_describe=False)
    gauges.register(_Snapshot(families))
    return generate_latest(gauges) + generate_latest(instruments.REGISTRY)
