"""Durable webhooks: subscribers the store keeps (DESIGN section 5a).

A webhook is a URL, a secret, a filter and a checkpoint in the store. The service delivers
every event its filter selects at least once, in log order, signed as Standard Webhooks says
(``signing``), to destinations the allow list lets through (``destinations``); failures retry
with backoff and jitter and, after too many, leave it ``failing`` until retried. The tables
and the lease that lets one process at a time deliver a webhook are in ``registry``; one
webhook's delivery loop in ``delivery``; the task per webhook in ``dispatcher``.
"""

from eventsvc.webhooks.commands import Webhooks
from eventsvc.webhooks.delivery import DeliveryOptions, exponential_backoff
from eventsvc.webhooks.destinations import AllowList, DestinationError
from eventsvc.webhooks.dispatcher import Dispatcher
from eventsvc.webhooks.model import Webhook, WebhookCounts, WebhookFilter, WebhookState
from eventsvc.webhooks.registry import WebhookRegistry
from eventsvc.webhooks.signing import new_secret

__all__ = [
    "AllowList",
    "DeliveryOptions",
    "DestinationError",
    "Dispatcher",
    "Webhook",
    "WebhookCounts",
    "WebhookFilter",
    "WebhookRegistry",
    "WebhookState",
    "Webhooks",
    "exponential_backoff",
    "new_secret",
]
