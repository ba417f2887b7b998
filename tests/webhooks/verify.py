"""The Standard Webhooks verification steps, written from the specification and not from
eventsvc's signing code, so the tests check one against the other."""

from __future__ import annotations

import base64
import hashlib
import hmac

TOLERANCE_SECONDS = 5 * 60


class VerificationError(Exception):
    pass


def verify(secret: str, headers: dict[str, str], body: bytes, now: int) -> None:
    """Raise unless the request is signed by ``secret`` and recent enough."""
    message_id = headers["webhook-id"]
    timestamp = int(headers["webhook-timestamp"])
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise VerificationError("timestamp outside the tolerance")
    key = base64.b64decode(secret.split("_", 1)[1])
    content = message_id.encode() + b"." + str(timestamp).encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest())
    for candidate in headers["webhook-signature"].split(" "):
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected):
            return
    raise VerificationError("no signature matches")
