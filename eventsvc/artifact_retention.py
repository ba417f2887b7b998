"""Artifact retention: remove the artifacts that nothing names any more (L1).

An artifact goes once no event of the live log names it (the stats projection's
``artifact_refs``, plus the events past its checkpoint, read directly), no entry of the
invocation cache names it, and it was last stored more than ``grace`` seconds ago.

The grace period closes the window between a node storing an artifact and its
``invocation.completed`` naming it: artifacts are stored before the event that names them is
appended, and storing bytes already held makes them young again, so an append in flight
(shorter than the grace period) never loses its artifact. The age and the removal are
decided in one step with respect to a put (``remove_if_older``: a lock on the one writing
process's directory, one ``DELETE`` on PostgreSQL), so a put racing a clean-up either keeps
the artifact or stores it anew.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import anyio.to_thread

from eventsvc.projections.runner import checkpoint
from eventsvc.projections.stats import ARTIFACT_NAMED, StatsProjection
from eventsvc.store.protocols import EventStore, Tables

log = logging.getLogger("eventsvc.artifacts")

DEFAULT_GRACE = 3600.0
"""Seconds an artifact is kept after its latest put, named or not."""

_IN_CACHE = "SELECT 1 FROM invocation_cache_artifacts WHERE sha256 = ? LIMIT 1"
_TAIL_NAMING = (
    "SELECT 1 FROM events WHERE position BETWEEN ? AND ? AND tag = 'invocation.completed' "
    "AND data LIKE ? LIMIT 1"
)


class LiveLog(EventStore, Tables, Protocol):
    """The log and the tables beside it, where the names of artifacts are looked up."""


class RetainedArtifacts(Protocol):
    """What retention needs of an artifact store (both backends' stores provide it)."""

    def stored_before(self, grace: float) -> Iterable[str]: ...

    def remove_if_older(self, sha256: str, grace: float) -> bool: ...


@dataclass(frozen=True, slots=True)
class Swept:
    """What a clean-up did: artifacts looked at (old enough) and those removed."""

    examined: int
    removed: list[str]


async def sweep(
    store: LiveLog, artifacts: RetainedArtifacts, grace: float = DEFAULT_GRACE
) -> Swept:
    """Remove every artifact older than ``grace`` that no live event or cache entry names."""
    if grace < 0:
        raise ValueError(f"the artifact grace period must be 0 or more seconds, got {grace!r}")
    candidates = await anyio.to_thread.run_sync(lambda: list(artifacts.stored_before(grace)))
    removed = []
    for sha in candidates:
        if await _named(store, sha):
            continue
        if await anyio.to_thread.run_sync(artifacts.remove_if_older, sha, grace):
            removed.append(sha)
            log.info("removed artifact %s: nothing names it", sha)
    return Swept(len(candidates), removed)


async def _named(store: LiveLog, sha: str) -> bool:
    """Whether an event or a cache entry names ``sha``: the events past the stats
    projection's checkpoint first, then its table, so an event folded in between is found."""
    folded = await checkpoint(store, StatsProjection.name)
    head = await store.head()
    if folded < head and await store.query(_TAIL_NAMING, (folded + 1, head, f"%{sha}%")):
        return True
    if await store.exists("artifact_refs") and await store.point_query(ARTIFACT_NAMED, (sha,)):
        return True
    return await store.exists("invocation_cache_artifacts") and bool(
        await store.point_query(_IN_CACHE, (sha,))
    )
