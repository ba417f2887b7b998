"""What a running node can reach: its ids, a logger, artifacts, cancellation and progress.

``InvocationContext`` is implemented by the executor; ``ArtifactStore`` by ``artifacts.py``
(L1) and by the fakes in ``testing.py``. Both are protocols here so that the pure domain can
name them without importing an adapter. Node bodies run in worker threads, so the artifact
calls are synchronous.
"""

from __future__ import annotations

import logging
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
    if isinstance(value, dict):
        found = set().union(*(artifacts_in(v) for v in value.values())) if value else set()
        sha = value.get("artifact")
        if isinstance(sha, str) and "kind" in value:
            found.add(sha)
        return found
    if isinstance(value, list):
        return set().union(*(artifacts_in(v) for v in value)) if value else set()
    return set()


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
