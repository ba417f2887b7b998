"""The one table from eventsvc errors to HTTP answers, and the JSON shape of every error."""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from eventsvc.bounds import storable_text
from eventsvc.errors import (
    ArchiveConflictError,
    ArchivedError,
    BatchValidationError,
    ConcurrencyError,
    EventsvcError,
    GraphValidationError,
    IllegalTransitionError,
    InvalidValueError,
    LimitExceededError,
    NotFoundError,
    StoreError,
)

log = logging.getLogger("eventsvc.api")

MAX_BODY_BYTES = 16 * 1024 * 1024


class ErrorDetail(BaseModel):
    code: str
    message: str
    node_id: str | None = None
    field: str | None = None


class ArchivedDetail(BaseModel):
    """What a 410 adds: where the live log begins, and the archive files that hold what was
    asked for (names in the store's archive directory)."""

    first_live_position: int
    files: list[str]


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = []
    archived: ArchivedDetail | None = Field(default=None, description="Only on a 410")


_MEANINGS = {
    400: "The body could not be parsed as JSON",
    401: "The server needs 'Authorization: Bearer <token>'",
    403: "Without a token: a state-changing request from another site",
    404: "No such queue, batch, session, artifact or projection",
    409: "The command conflicts with the state it found (already enqueued, canceled, ...)",
    410: "Archived: it left the live log for an archive file; the message names the files "
    "and the first position the live log holds",
    413: "The request body is over the limit",
    415: "Without a token: a request body that is not application/json",
    421: "Without a token: a Host that is not a loopback name",
    422: "The request is invalid; details name each node, field or parameter",
    503: "The store cannot answer: it is unreachable, or a projection it needs is stalled",
}
ALWAYS = (401, 421, 422, 503)
"""What any route may answer: the token (or, without one, the loopback Host check), its
parameters, the store."""


def documented(*statuses: int, beside_another_type: bool = False) -> dict[int | str, Any]:
    """OpenAPI ``responses`` for error answers, each with the real error body. On a route whose
    success is not JSON (``beside_another_type``) the JSON is named outright: FastAPI would
    give the errors the route's own media type. What may not be found may also have been
    archived: a 404 comes with a 410."""
    if 404 in statuses:
        statuses = (*statuses, 410)
    if beside_another_type:
        body = {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
        return {
            status: {"description": _MEANINGS[status], "content": {"application/json": body}}
            for status in sorted({*statuses, *ALWAYS})
        }
    return {
        status: {"model": ErrorBody, "description": _MEANINGS[status]}
        for status in sorted({*statuses, *ALWAYS})
    }


CHANGES = (403, 415)
"""What a state-changing route may answer besides, without a token (``loopback``)."""

WITH_BODY = (400, 413, *CHANGES)
"""What a state-changing route that reads a body may answer besides."""

# (error class, status, code): the first match wins, so subclasses come first.
ERROR_TABLE: list[tuple[type[Exception], int, str]] = [
    (BatchValidationError, 422, "invalid_batch"),
    (GraphValidationError, 422, "invalid_graph"),
    (InvalidValueError, 422, "invalid_value"),
    (LimitExceededError, 422, "limit_exceeded"),
    (NotFoundError, 404, "not_found"),
    (ArchivedError, 410, "archived"),
    (ArchiveConflictError, 409, "conflict"),
    (IllegalTransitionError, 409, "conflict"),
    (ConcurrencyError, 409, "conflict"),
    (StoreError, 503, "store_unavailable"),
]


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[ErrorDetail],
    archived: ArchivedDetail | None = None,
) -> JSONResponse:
    # An error may quote the request back, and a request may hold text that has no UTF-8
    # form (a lone surrogate): the answer must still encode.
    body = ErrorBody(
        code=code,
        message=storable_text(message),
        details=[
            detail.model_copy(
                update={
                    "message": storable_text(detail.message),
                    "field": None if detail.field is None else storable_text(detail.field),
                    "node_id": None if detail.node_id is None else storable_text(detail.node_id),
                }
            )
            for detail in details
        ],
        archived=archived,
    )
    # Only a 410 carries ``archived``: every other error keeps the three keys it always had.
    content = body.model_dump(mode="json", exclude={"archived"} if archived is None else None)
    return JSONResponse(status_code=status, content=content)


def install(app: FastAPI) -> None:
    """Register the handlers: eventsvc errors by the table, request errors as 422 (a body
    that is not JSON at all as 400, as the OpenAPI document says)."""

    async def on_eventsvc_error(request: Request, exc: Exception) -> JSONResponse:
        for kind, status, code in ERROR_TABLE:
            if isinstance(exc, kind):
                return error_response(status, code, str(exc), _details(exc), _archived(exc))
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal error", [])

    async def on_request_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        if unparsed := [e for e in exc.errors() if e.get("type") == "json_invalid"]:
            return error_response(400, "bad_request", _not_json(unparsed[0]), [])
        details = [_request_detail(e) for e in exc.errors()]
        return error_response(422, "invalid_request", "the request is invalid", details)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal error", [])

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = _HTTP_MESSAGES.get(str(exc.detail), str(exc.detail))
        response = error_response(exc.status_code, code, message, [])
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            response.headers["allow"] = ", ".join(allowed_methods(request))
        return response

    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(EventsvcError, on_eventsvc_error)
    app.add_exception_handler(RequestValidationError, on_request_error)
    app.add_exception_handler(Exception, on_unexpected)


_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
_HTTP_MESSAGES = {
    # FastAPI's words for a body its JSON parser gave up on (nested too deep for it, say).
    "There was an error parsing the body": "the request body could not be parsed as JSON",
    "Not Found": "no such route",
}


def _not_json(error: dict[str, Any]) -> str:
    """Where and why the JSON parser stopped (FastAPI puts the character's offset last in
    ``loc``)."""
    where = error.get("loc", ())[-1:]
    at = f" at character {where[0]}" if where and isinstance(where[0], int) else ""
    why = str(error.get("ctx", {}).get("error", "")).lower()
    return f"the request body is not JSON{at}" + (f": {why}" if why else "")


def allowed_methods(request: Request) -> list[str]:
    """Every method the API documents for this path (the router names only its first match)."""
    path = request.url.path
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if _template_pattern(template).fullmatch(path):
            methods |= {method.upper() for method in operations}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


@functools.cache
def _template_pattern(template: str) -> re.Pattern[str]:
    """An OpenAPI path template (``/a/{id}/b``) as a pattern of the paths it stands for."""
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def _details(exc: Exception) -> list[ErrorDetail]:
    if isinstance(exc, GraphValidationError | InvalidValueError):
        return [
            ErrorDetail(code=p.code, message=p.message, node_id=p.node_id, field=p.field)
            for p in exc.problems
        ]
    return []


def _archived(exc: Exception) -> ArchivedDetail | None:
    if isinstance(exc, ArchivedError):
        return ArchivedDetail(first_live_position=exc.first_live, files=exc.archives)
    return None


def _request_detail(error: dict[str, Any]) -> ErrorDetail:
    location = [str(part) for part in error.get("loc", ()) if part != "body"]
    return ErrorDetail(
        code=str(error.get("type", "invalid")),
        message=str(error.get("msg", "")),
        field=".".join(location) or None,
    )
