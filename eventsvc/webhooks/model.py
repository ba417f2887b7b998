"""What a webhook is: its filter, and the read model the API, the CLI and metrics show.

The filter selects the events a webhook receives: tags (exact, or globs such as
``session.*``), a queue and a batch, all of which must hold. The checkpoint still moves past
the events it skips. A webhook is ``active`` (delivering) or ``failing`` (it failed
``webhook_max_failures`` times in a row and waits for a retry, which resumes it from its
checkpoint). Its secret is never part of the read model.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from eventsvc.errors import Problem
from eventsvc.events import CODEC, RecordedEvent

WebhookState = Literal["active", "failing"]


class WebhookFilter(BaseModel):
    tags: list[str] | None = Field(
        None, description="Event tags, exact or globs such as 'session.*' (default: every tag)"
    )
    queue_id: str | None = Field(None, description="Only events of this queue")
    batch_id: str | None = Field(None, description="Only events of this batch")

    def problems(self) -> list[Problem]:
        """Each tag pattern that matches no event tag (a typo would deliver nothing)."""
        known = list(CODEC.versions)
        return [
            Problem(
                code="unknown_tag",
                message=f"{tag!r} matches no event tag; known: {', '.join(sorted(known))}",
                field="filter.tags",
            )
            for tag in self.tags or ()
            if not fnmatch.filter(known, tag)
        ]

    def matches(self, record: RecordedEvent) -> bool:
        data = record.data
        if self.queue_id is not None and getattr(data, "queue_id", None) != self.queue_id:
            return False
        if self.batch_id is not None and getattr(data, "batch_id", None) != self.batch_id:
            return False
        return self.tags is None or any(fnmatch.fnmatchcase(record.tag, t) for t in self.tags)


class Webhook(BaseModel):
    """A webhook as users see it (never its secret)."""

    webhook_id: str
    url: str
    filter: WebhookFilter
    batch_size: int = Field(description="Events in one request at most; 1: one POST per event")
    state: WebhookState
    checkpoint: int = Field(description="Every event up to this position is delivered or skipped")
    failures: int = Field(description="Failed attempts in a row")
    last_error: str | None = None
    delivered: int = Field(description="Events delivered so far")
    created_at: float = Field(description="Seconds since the epoch, by the database's clock")


@dataclass(frozen=True, slots=True)
class WebhookCounts:
    """Webhooks by state and their deliveries, for a metrics gauge."""

    active: int
    failing: int
    delivered: int
