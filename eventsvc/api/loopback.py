"""What a server on a loopback address without a token answers: only this machine's own pages.

With no token, the one thing that keeps other web sites out is the browser's same-origin rule,
so ``LoopbackGuard`` refuses what a hostile page can still make a browser send: any request
whose ``Host`` is not a loopback name (DNS rebinding), and a state-changing request that is
cross-site by its ``Sec-Fetch-Site`` or ``Origin``, or whose body is not JSON (a form post).
A client that is no browser (curl, ``EventsvcClient``) sends neither header and is served.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from eventsvc.api import errors

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CROSS_SITE = frozenset({"cross-site", "same-site"})


class LoopbackGuard:
    """Answer 421 to a request for a host that is not a loopback name, 403 to a cross-site
    state-changing request, and 415 to a state-changing request with a body that is not JSON.
    ``allowed_origins`` (the CORS origins; ``"*"`` for any) may make state-changing calls."""

    def __init__(self, app: ASGIApp, allowed_origins: Sequence[str] = ()) -> None:
        self.app = app
        self.allowed_origins = frozenset(o.lower().rstrip("/") for o in allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self.refusal(scope)
            if refusal is not None:
                status, code, message = refusal
                await errors.error_response(status, code, message, [])(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        """Why this request is refused (status, code, message), or None to serve it."""
        headers = _headers(scope)
        hosts = headers.get("host", [])
        if len(hosts) != 1 or not is_loopback_host(hosts[0]):
            found = ", ".join(map(repr, hosts)) if hosts else "none"
            return (
                421,
                "host_not_allowed",
                "without a token this server answers only for localhost, 127.0.0.1 or [::1] "
                f"(with any port); the request's Host header was {_shorten(found)}",
            )
        if scope["method"] in SAFE_METHODS:
            return None
        own = f"{scope.get('scheme', 'http')}://{hosts[0].lower()}"
        origin = _one(headers, "origin")
        if origin is None or not self._allowed(origin, own):
            site = _one(headers, "sec-fetch-site")
            if site is not None and site.lower() in CROSS_SITE:
                return (
                    403,
                    "cross_site_request",
                    f"a {scope['method']} from another site is refused without a token "
                    f"(expected Sec-Fetch-Site 'same-origin' or 'none', found {site!r})",
                )
            if origin is not None:
                return (
                    403,
                    "cross_site_request",
                    f"a {scope['method']} from origin {_shorten(repr(origin))} is refused "
                    f"without a token (expected {own!r} or a --cors-origin)",
                )
        return _body_refusal(headers)

    def _allowed(self, origin: str, own: str) -> bool:
        origin = origin.lower()
        return origin == own or origin in self.allowed_origins or "*" in self.allowed_origins


def is_loopback_host(host: str) -> bool:
    """Whether a Host header names this machine's loopback interface, with or without a port."""
    host = host.lower()
    for name in LOOPBACK_NAMES:
        if host == name:
            return True
        if host.startswith(f"{name}:"):
            port = host[len(name) + 1 :]
            return port.isascii() and port.isdigit()
    return False


def _body_refusal(headers: dict[str, list[str]]) -> tuple[int, str, str] | None:
    """A form or text body is what a cross-site page can post without asking first; the API
    takes JSON only, so anything else with a body is refused before it reaches a route."""
    content_type = _one(headers, "content-type")
    length = _one(headers, "content-length")
    has_body = "transfer-encoding" in headers or (length is not None and length.strip() != "0")
    if content_type is None and not has_body:
        return None
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type == "application/json":
        return None
    found = repr(content_type) if content_type is not None else "none"
    return (
        415,
        "unsupported_media_type",
        f"a request body must be 'application/json' here; found content type {_shorten(found)}",
    )


def _headers(scope: Scope) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in scope.get("headers", []):
        headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return headers


def _one(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    return None if not values else values[-1]


def _shorten(text: str, limit: int = 200) -> str:
    # The value comes from the request: keep an error body small whatever was sent.
    return text if len(text) <= limit else f"{text[:limit]}..."
