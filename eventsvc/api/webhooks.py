"""``/api/v1/webhooks``: add, list, show, remove and retry webhooks (``eventsvc.webhooks``).

A webhook is added with its secret, which no answer ever carries again. A bad URL, a
destination the allow list refuses, a malformed secret or a filter tag that matches no event
is a 422 naming each problem; an unknown webhook id a 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field, StrictInt

from eventsvc.api.errors import CHANGES, WITH_BODY, documented
from eventsvc.bounds import MAX_SAFE_INT
from eventsvc.service import Service
from eventsvc.webhooks import Webhook, WebhookFilter
from eventsvc.webhooks.commands import MAX_BATCH_SIZE

WebhookId = Annotated[str, Path(max_length=100, description="The id the webhook was given")]


class AddWebhook(BaseModel):
    url: str = Field(max_length=2048, description="Where events are POSTed (http or https)")
    secret: str = Field(
        max_length=200, description="'whsec_' and the base64 of 24 to 64 random bytes"
    )
    filter: WebhookFilter = Field(default_factory=WebhookFilter)
    batch_size: StrictInt = Field(1, ge=1, le=MAX_BATCH_SIZE, description="Events per POST")
    after: StrictInt | None = Field(
        None, ge=0, le=MAX_SAFE_INT, description="Deliver events after this position "
        "(default: the head of the log, so only events from now on)"
    )  # fmt: skip


class WebhookList(BaseModel):
    webhooks: list[Webhook]


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(_service)]


def webhook_routes() -> APIRouter:
    router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

    @router.post("", status_code=201, responses=documented(*WITH_BODY))
    async def add_webhook(body: AddWebhook, service: ServiceDep) -> Webhook:
        return await service.webhooks.add(
            body.url, body.secret, body.filter, batch_size=body.batch_size, after=body.after
        )

    @router.get("", responses=documented())
    async def list_webhooks(service: ServiceDep) -> WebhookList:
        return WebhookList(webhooks=await service.webhooks.all())

    @router.get("/{webhook_id}", responses=documented(404))
    async def get_webhook(webhook_id: WebhookId, service: ServiceDep) -> Webhook:
        return await service.webhooks.get(webhook_id)

    @router.delete("/{webhook_id}", status_code=204, responses=documented(404, *CHANGES))
    async def remove_webhook(webhook_id: WebhookId, service: ServiceDep) -> Response:
        await service.webhooks.remove(webhook_id)
        return Response(status_code=204)

    @router.post("/{webhook_id}/retry", responses=documented(404, *CHANGES))
    async def retry_webhook(webhook_id: WebhookId, service: ServiceDep) -> Webhook:
        """Make a failing webhook active again; it resumes from its checkpoint."""
        return await service.webhooks.retry(webhook_id)

    return router
