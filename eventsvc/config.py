"""Configuration: settings with safe defaults, overridable from ``EVENTSVC_*`` variables (L1).

Lists are comma-separated (``EVENTSVC_NODES_DENY=noise,blend``). A name in the node allow or
deny list that no registered node type carries is an error naming it and the closest known
types, since a typo there would silently allow or deny the wrong thing.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from eventsvc.errors import EventsvcError
from eventsvc.invocations.base import Isolation
from eventsvc.invocations.registry import REGISTRY, InvocationRegistry

ENV_PREFIX = "EVENTSVC_"


class ConfigError(EventsvcError):
    """Raised when a setting is malformed; names the variable and what was expected."""


_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(s|m|h|d|w)\s*")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DURATION_FORM = "a positive number and a unit, s, m, h, d or w (such as 30d or 12h)"


def duration_seconds(text: str) -> float | None:
    """The seconds in a duration such as ``30d``, ``12h``, ``90m``, ``45s`` or ``2w``; None
    when ``text`` is not one."""
    match = _DURATION.fullmatch(text)
    if match is None or float(match[1]) <= 0:
        return None
    return float(match[1]) * _UNITS[match[2]]


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    store_url: str = Field("sqlite://var/eventsvc.db", description="Where the log lives")
    artifacts_dir: str = Field("var/artifacts", description="Where large node values live")
    max_event_bytes: int = Field(32 * 1024 * 1024, ge=1024, description="Largest event")
    subscriber_buffer: int = Field(
        1024, ge=1, description="Commits a live subscriber may lag before it is disconnected"
    )
    max_batch_sessions: int = Field(1_000_000, ge=1, description="Most sessions in one batch")
    max_queue_uninitialized: int = Field(
        10_000_000, ge=1, description="Most sessions waiting to start in one queue"
    )
    queue_id: str = Field("default", description="The queue this process's workers run")
    workers: int = Field(1, ge=1, description="Workers running sessions in this process")
    lease_seconds: float = Field(5.0, gt=0, description="A worker silent this long is dead")
    max_resumes: int = Field(2, ge=0, description="Resumes of one attempt before it fails")
    cache_max_entries: int = Field(100_000, ge=1, description="Invocation cache entries kept")
    cache_max_bytes: int = Field(
        1024 * 1024 * 1024, ge=1024, description="Bytes of cached outputs kept"
    )
    node_isolation: Isolation = Field(
        Isolation.THREAD, description="Where node bodies run unless their type says: thread|process"
    )
    node_processes: int = Field(2, ge=1, description="Worker processes for isolated nodes")
    node_timeout_seconds: float | None = Field(
        None, gt=0, description="Longest a node may run unless its type says (none: no limit)"
    )
    session_timeout_seconds: float | None = Field(
        None, gt=0, description="Longest one attempt of a session may run (none: no limit)"
    )
    tracing: bool = Field(True, description="OpenTelemetry spans (no-ops without an SDK)")
    nodes_allow: tuple[str, ...] | None = Field(None, description="Only these node types")
    nodes_deny: tuple[str, ...] = Field((), description="Never these node types")
    webhooks_allow: tuple[str, ...] = Field(
        ("*",),
        description="Hosts (patterns such as *.example.com) and networks (CIDR) webhooks may "
        "post to; a private or loopback address must lie in a listed network",
    )
    webhook_max_failures: int = Field(10, ge=1, description="Failures in a row: failing")
    webhook_retry_seconds: float = Field(
        1.0, ge=0, description="The first retry's delay; it doubles (with jitter) on each"
    )
    webhook_timeout: float = Field(10.0, gt=0, description="Seconds a receiver has to answer")
    webhook_lease_seconds: float = Field(
        10.0, gt=0, description="A process silent this long loses the webhooks it delivers"
    )

    archive_dir: str | None = Field(
        None, description="Where archive files go (default: beside a SQLite store's file)"
    )
    archive_artifacts: Literal["remove", "move"] = Field(
        "remove",
        description="Artifacts only archived events name: left to 'eventsvc artifacts clean' "
        "(remove), or moved beside the archive file by the archive (move)",
    )
    archive_older_than: str | None = Field(
        None, description="serve: archive what was recorded longer ago than this (7d)"
    )
    archive_every: str | None = Field(
        None, description="serve: how often to archive (1d; with archive_older_than)"
    )

    @field_validator("archive_older_than", "archive_every")
    @classmethod
    def _a_duration(cls, value: str | None) -> str | None:
        if value is not None and duration_seconds(value) is None:
            raise ValueError(f"{value!r} is not a duration: expected {DURATION_FORM}")
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in cls.model_fields:
            raw = environ.get(ENV_PREFIX + name.upper())
            if raw is None:
                continue
            is_list = name.startswith("nodes_") or name == "webhooks_allow"
            values[name] = tuple(p.strip() for p in raw.split(",") if p.strip()) if is_list else raw
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            variable = ENV_PREFIX + str(error["loc"][0]).upper()
            raise ConfigError(f"{variable}: {error['msg']}") from None

    def registry(self, registry: InvocationRegistry = REGISTRY) -> InvocationRegistry:
        """The node types this configuration lets run."""
        known = set(registry.types())
        for variable, names in (("NODES_ALLOW", self.nodes_allow or ()),
                                ("NODES_DENY", self.nodes_deny)):  # fmt: skip
            for name in names:
                if name not in known:
                    near = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
                    hint = f"; did you mean {', '.join(map(repr, near))}?" if near else ""
                    raise ConfigError(f"{ENV_PREFIX}{variable}: unknown node type {name!r}{hint}")
        return registry.restricted(allow=self.nodes_allow, deny=self.nodes_deny)
