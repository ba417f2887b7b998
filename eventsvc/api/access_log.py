"""The access log without the token: uvicorn logs each request's path and query string, and
the event stream takes its token as ``?token=`` (a browser's EventSource sends no headers).

``RedactToken`` is a logging filter for ``uvicorn.access`` that replaces the value of every
``token`` query parameter (however its name is percent-encoded) with ``***`` before any
handler sees the record. Headers, ``Authorization`` among them, are never logged.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "***"


# A query parameter: its name and its value, up to the next parameter or a space (the server
# splits the query on "&" alone, so nothing else may end the value here).
_PARAMETER = re.compile(r"(?<=[?&])([^=&\s]+)=([^&\s]*)")


def redact(text: str) -> str:
    """``text`` (a request target, or a log line holding one) with every ``token`` value
    replaced."""
    return _PARAMETER.sub(_redact_parameter, text) if "=" in text else text


def _redact_parameter(match: re.Match[str]) -> str:
    # The server decodes parameter names (parse_qsl) before it compares them, so must this.
    return f"{match[1]}={REDACTED}" if unquote_plus(match[1]) == "token" else match[0]


class RedactToken(logging.Filter):
    """Redact ``token`` query values in a record's message and string arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install() -> None:
    """Add the filter to the access logger once (after uvicorn has configured logging)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactToken) for f in logger.filters):
        logger.addFilter(RedactToken())
