"""The one table from eventsvc errors to HTTP answers, and the JSON shape of every error."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from eventsvc.errors import (
    BatchValidationError,
    ConcurrencyError,
    EventsvcError,
    GraphValidationError,
    IllegalTransitionError,
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


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = []


# (error class, status, code): the first match wins, so subclasses come first.
ERROR_TABLE: list[tuple[type[Exception], int, str]] = [
    (BatchValidationError, 422, "invalid_batch"),
    (GraphValidationError, 422, "invalid_graph"),
    (LimitExceededError, 422, "limit_exceeded"),
    (NotFoundError, 404, "not_found"),
    (IllegalTransitionError, 409, "conflict"),
    (ConcurrencyError, 409, "conflict"),
    (StoreError, 503, "store_unavailable"),
]


def error_response(
    status: int, code: str, message: str, details: list[ErrorDetail]
) -> JSONResponse:
    body = ErrorBody(code=code, message=message, details=details)
    return JSONResponse(status_code=status, content=body.model_dump(mode="json"))


def install(app: FastAPI) -> None:
    """Register the handlers: eventsvc errors by the table, request errors as 422."""

    async def on_eventsvc_error(request: Request, exc: Exception) -> JSONResponse:
        for kind, status, code in ERROR_TABLE:
            if isinstance(exc, kind):
                return error_response(status, code, str(exc), _details(exc))
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal error", [])

    async def on_request_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        details = [_request_detail(e) for e in exc.errors()]
        return error_response(422, "invalid_request", "the request is invalid", details)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal error", [])

    app.add_exception_handler(EventsvcError, on_eventsvc_error)
    app.add_exception_handler(RequestValidationError, on_request_error)
    app.add_exception_handler(Exception, on_unexpected)


def _details(exc: Exception) -> list[ErrorDetail]:
    if isinstance(exc, GraphValidationError):
        return [
            ErrorDetail(code=p.code, message=p.message, node_id=p.node_id, field=p.field)
            for p in exc.problems
        ]
    return []


def _request_detail(error: dict[str, Any]) -> ErrorDetail:
    location = [str(part) for part in error.get("loc", ()) if part != "body"]
    return ErrorDetail(
        code=str(error.get("type", "invalid")),
        message=str(error.get("msg", "")),
        field=".".join(location) or None,
    )
