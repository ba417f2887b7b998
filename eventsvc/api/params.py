"""The API's path and query parameters: ids in the forms the log stores them (L3).

Each is checked before a route runs, so a malformed id is a 422 that names the parameter, never
a value a backend cannot take as a query parameter (PostgreSQL refuses NUL in text).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from eventsvc.ids import BATCH_ID_PATTERN, QUEUE_ID_PATTERN, SESSION_ID_PATTERN

QueueId = Annotated[
    str, Path(pattern=QUEUE_ID_PATTERN, description="A queue: 1-128 printable characters")
]
BatchId = Annotated[str, Path(pattern=BATCH_ID_PATTERN, description="A batch id")]
SessionId = Annotated[
    str, Path(pattern=SESSION_ID_PATTERN, description="A session id: '<batch_id>.<index>'")
]
BatchFilter = Annotated[
    str | None, Query(pattern=BATCH_ID_PATTERN, description="Only this batch's")
]
SessionCursor = Annotated[
    str | None,
    Query(pattern=SESSION_ID_PATTERN, description="The last session id of the previous page"),
]
QueueFilter = Annotated[
    str | None, Query(pattern=QUEUE_ID_PATTERN, description="Only this queue's")
]
SessionFilter = Annotated[
    str | None, Query(pattern=SESSION_ID_PATTERN, description="Only this session's")
]
