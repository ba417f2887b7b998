"""The projections every store folds: the queue and the node statistics (DESIGN section 3).

The service registers them on open; replay, audit and time travel build fresh copies from the
log through the same list, so all of them fold with exactly the same code. ``ProjectedStore``
is what a store with them is to the composition root: every role a backend plays at once,
where each other client asks only for the role it needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol, runtime_checkable

from eventsvc.clock import Clock
from eventsvc.projections import Projection, ProjectionHost
from eventsvc.projections.queue import QueueProjection
from eventsvc.projections.stats import StatsProjection
from eventsvc.store import StoreOptions, open_store
from eventsvc.store.protocols import (
    Archiver,
    ArtifactHost,
    EventStore,
    Importer,
    Snapshots,
    Tables,
)


def builtin_projections() -> list[Projection]:
    return [QueueProjection(), StatsProjection()]


PROJECTION_NAMES = tuple(projection.name for projection in builtin_projections())


@runtime_checkable
class ProjectedStore(
    EventStore, Tables, ProjectionHost, Snapshots, Importer, ArtifactHost, Archiver, Protocol
):
    """A backend in every role: the log, the tables beside it, the projections it hosts, its
    snapshots, imports, artifacts and archives."""


def projected(store: EventStore) -> ProjectedStore:
    """``store`` as a ``ProjectedStore`` (every backend's store is one)."""
    if not isinstance(store, ProjectedStore):
        raise TypeError(f"{type(store).__name__} keeps no projections")
    return store


@asynccontextmanager
async def open_projected(
    url: str, *, options: StoreOptions | None = None, clock: Clock | None = None
) -> AsyncIterator[ProjectedStore]:
    """The store at ``url``, open for writing, folding the built-in projections (caught up)."""
    async with open_store(url, options=options, clock=clock) as opened:
        store = projected(opened)
        for projection in builtin_projections():
            await store.register(projection)
        yield store
