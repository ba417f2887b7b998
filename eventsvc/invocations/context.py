"""What a running node can reach: its ids, a logger, artifacts, cancellation and progress.

``InvocationContext`` is implemented by the executor; ``ArtifactStore`` by ``artifacts.py``
(L1) and by the fakes in ``testing.py``. Both are protocols here so that the pure domain can
name them without importing an adapter. Node bodies run in worker threads, so the artifact
calls are synchronous.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field


class ArtifactRef(BaseModel):
    """A large value (tensor, image) kept in the artifact store and passed by reference."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    artifact: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the content")
    kind: Literal["tensor", "image"]
    shape: list[int] | None = Field(default=None, description="Tensor shape")
    dtype: str | None = Field(default=None, description="Tensor element type")
    size: tuple[int, int] | None = Field(default=None, description="Image width and height")


def artifacts_in(value: Any) -> set[str]:
    """The artifact ids a JSON value (a node's outputs, as events carry them) refers to: every
    ``{"artifact": sha, "kind": ...}`` inside it."""
    found: set[str] = set()
    _collect_artifacts(value, found)
    return found


def _collect_artifacts(value: Any, found: set[str]) -> None:
    # Folded for every completion a rebuild reads: no set per level, no call per scalar.
    children: Iterable[Any]
    if isinstance(value, dict):
        sha = value.get("artifact")
        if isinstance(sha, str) and "kind" in value:
            found.add(sha)
        children = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return
    for child in children:
        if isinstance(child, dict | list):
            _collect_artifacts(child, found)


class ArtifactStore(Protocol):
    """Content-addressed bytes: complete on disk before any event refers to them."""

    def put(self, data: bytes, media_type: str) -> str:
        """Store ``data``; return its sha256 (storing the same bytes twice is a no-op)."""
        ...

    def get(self, sha256: str) -> bytes:
        """The bytes stored under ``sha256``; ``KeyError`` naming it when absent."""
        ...

    def media_type(self, sha256: str) -> str:
        """The media type given when the artifact was stored."""
        ...

    def delete(self, sha256: str) -> None:
        """Remove an artifact nothing refers to any more (a no-op when absent)."""
        ...

    def __contains__(self, sha256: str) -> bool: ...


class InvocationContext(Protocol):
    """Handed to ``invoke``: where the node runs and what it may use."""

    @property
    def queue_id(self) -> str: ...

    @property
    def batch_id(self) -> str: ...

    @property
    def session_id(self) -> str: ...

    @property
    def node_id(self) -> str:
        """The execution id of the running node (``add[2,0]``)."""
        ...

    @property
    def logger(self) -> logging.Logger: ...

    @property
    def artifacts(self) -> ArtifactStore: ...

    def is_canceled(self) -> bool:
        """Whether the session was canceled; long nodes poll it and return early."""
        ...

    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress to live subscribers (never written to the log)."""
        ...
