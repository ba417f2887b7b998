"""Signing webhook requests as the Standard Webhooks specification says.

A secret is ``whsec_`` followed by the base64 of 24 to 64 random bytes. Each request carries
``webhook-id`` (the event's id, so a receiver can drop a repeat), ``webhook-timestamp``
(integer seconds) and ``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256, keyed by the
secret's bytes, of ``{id}.{timestamp}.{body}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

PREFIX = "whsec_"
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64


def new_secret() -> str:
    """A fresh secret in ``whsec_<base64>`` form."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` is no Standard Webhooks secret (None when it is one); never quotes it."""
    if not secret.startswith(PREFIX):
        return f"a secret starts with {PREFIX!r} followed by base64"
    try:
        key = base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return f"the part after {PREFIX!r} is not base64"
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        return f"a secret holds {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes, this one {len(key)}"
    return None


def key_of(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one request."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(key: bytes, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, message_id, timestamp, body),
    }
