"""What both stores do with rows of the log: prepare events to append, decode pages of stored
rows, and give a ``StoredRow`` its columns back. The column order is the same in both:
``COLUMNS``.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import msgspec

from eventsvc import bounds
from eventsvc.chain import GENESIS, StoredRow, verify_chain
from eventsvc.errors import (
    DuplicateEventError,
    EventDecodeError,
    EventTooLargeError,
    ImportRejectedError,
    locate,
)
from eventsvc.events import CODEC, Event, NewEvent, RecordedEvent, event_tag
from eventsvc.store.protocols import AppendResult

COLUMNS = (
    "position, stream, version, event_id, tag, schema_version, recorded_at, data, metadata, hash"
)


@dataclass(slots=True)
class Head:
    """The last event of a log: where the next one goes and what it chains to."""

    position: int = 0
    hash: bytes = GENESIS
    recorded_at: int = 0


Item: TypeAlias = tuple[str, str, int, str, str, Event]
"""One event to append: (event_id, tag, schema_version, data, metadata, event)."""


def prepare(stream: str, events: Sequence[Event | NewEvent], max_event_bytes: int) -> list[Item]:
    """Bound-check, encode and size-check in the caller's task, so a bad event fails only its
    caller, before anything is stored: the log holds only values every projection can fold."""
    items = []
    fresh_ids = iter(new_event_ids(sum(not isinstance(e, NewEvent) for e in events)))
    for item in events:
        if isinstance(item, NewEvent):
            event, event_id, metadata = item.event, str(item.event_id), item.metadata
        else:
            event, event_id, metadata = item, next(fresh_ids), None
        tag = event_tag(event)
        data = bounds.encoded_within(event, CODEC.encode, f"event {tag!r} for stream {stream!r}")
        meta = b"{}" if metadata is None else CODEC.encode_metadata(metadata)
        if len(data) + len(meta) > max_event_bytes:
            raise EventTooLargeError(stream, tag, len(data) + len(meta), max_event_bytes)
        items.append(
            (event_id, tag, type(event).schema_version, data.decode(), meta.decode(), event)
        )
    if len({item[0] for item in items}) < len(items):
        raise DuplicateEventError(f"append to stream {stream!r} holds one event id twice")
    return items


STORED = "event_id, stream, version, position, tag, data, metadata"
"""The columns an append repeated with stored event ids is judged by (``repeat_of``)."""


def check_repeat(stream: str, items: Sequence[Item], stored: Mapping[str, Sequence[Any]]) -> None:
    """An append whose event ids are stored (``stored``: rows of ``STORED`` by event id) is a
    repeat only if every event is stored as it is now, in the same stream: else it raises."""
    for event_id, tag, _, data, meta, _ in items:
        row = stored.get(event_id)
        if row is None or row[1] != stream or tuple(row[4:]) != (tag, data, meta):
            where = "not stored" if row is None else f"stored in stream {row[1]!r}"
            raise DuplicateEventError(
                f"append to stream {stream!r} repeats event ids of an earlier append with "
                f"other content: event {event_id} is {where}"
            )


def repeat_of(
    stream: str, items: Sequence[Item], stored: Mapping[str, Sequence[Any]]
) -> AppendResult:
    """The result the original append had (``check_repeat`` holds, its rows positioned)."""
    first, last = stored[items[0][0]], stored[items[-1][0]]
    return AppendResult(stream, first[3], last[3], last[2])


def new_event_ids(count: int) -> list[str]:
    """``count`` time-ordered (version 7) UUIDs in canonical form: the milliseconds now, then
    random bits from one read of the OS's RNG. Ids made together sort together, so the unique
    index on them grows at its end, and an archive's delete of the oldest rows rewrites the
    pages of their ids only, not nearly every page of it (as random version 4 ids would)."""
    stamp = (time.time_ns() // 1_000_000).to_bytes(6, "big")
    raw = bytearray(os.urandom(16 * count))
    ids = []
    for offset in range(0, 16 * count, 16):
        raw[offset : offset + 6] = stamp
        raw[offset + 6] = (raw[offset + 6] & 0x0F) | 0x70  # version 7
        raw[offset + 8] = (raw[offset + 8] & 0x3F) | 0x80  # RFC 4122 variant
        h = raw[offset : offset + 16].hex()
        ids.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return ids


def record(row: Sequence[Any], event: Event) -> RecordedEvent:
    """The envelope of a stored row (``COLUMNS`` first) whose event is already at hand."""
    position, stream, version, event_id, tag, schema_version, recorded_at, _, meta, hash_ = row[:10]
    return RecordedEvent(
        position,
        stream,
        version,
        # msgspec parses a UUID string about four times faster than uuid.UUID().
        msgspec.convert(event_id, uuid.UUID),
        tag,
        schema_version,
        event,
        recorded_at,
        hash_,
        meta,
    )


_IDS = msgspec.json.Decoder(list[uuid.UUID])


def decode_rows(rows: Sequence[Sequence[Any]]) -> list[RecordedEvent]:
    """Decode a page: the hot loop of every read.

    The ids and, when every payload is at its current version, the payloads are each decoded
    in one msgspec call over the page joined as a JSON array (stored payloads are JSON
    objects, so the join is valid JSON); a page that fails is decoded row by row, which names
    the first bad position.
    """
    if not rows:
        return []
    current = CODEC.versions
    try:
        ids = _IDS.decode('["' + '","'.join([row[3] for row in rows]) + '"]')
        if all(current.get(row[4]) == row[5] for row in rows):
            events = CODEC.decode_page("[" + ",".join([row[7] for row in rows]) + "]")
        else:
            events = [CODEC.decode(row[4], row[5], row[7]) for row in rows]
        return [
            RecordedEvent(p, s, v, event_id, t, sv, event, r, h, m)
            for (p, s, v, _, t, sv, r, _, m, h), event_id, event in zip(
                rows, ids, events, strict=True
            )
        ]
    except (EventDecodeError, msgspec.MsgspecError):
        return [_decode(row) for row in rows]


def _decode(row: Sequence[Any]) -> RecordedEvent:
    position, stream, _, _, tag, schema_version, _, data = row[:8]
    try:
        return record(row, CODEC.decode(tag, schema_version, data))
    except (EventDecodeError, msgspec.MsgspecError) as exc:
        raise EventDecodeError(
            f"event at position {position} ({tag!r} in stream {stream!r}) cannot be decoded: {exc}"
        ) from exc


def known_span(rows: Sequence[StoredRow], head: int) -> tuple[int, int] | None:
    """The positions of an import that a log ending at ``head`` already holds, if any."""
    known = [row.position for row in rows if row.position <= head]
    return (known[0], known[-1]) if known else None


def importable(
    rows: Sequence[StoredRow],
    head: tuple[int, bytes],
    held: Sequence[Sequence[Any]],
    verify: bool,
    archived_through: int = 0,
) -> list[StoredRow]:
    """The rows of an import that a log ending at ``head`` (position, hash) does not hold.

    Rows at positions it holds must be, field for field, the rows ``held`` (read over
    ``known_span``); the others must continue it densely and, with ``verify``, its hash
    chain. The first row that does not is named; so is one at a position this log archived
    (up to ``archived_through``), which it can no longer compare."""
    position, digest = head
    stored = {int(row[0]): tuple(row) for row in held}
    for row in rows:
        if row.position <= archived_through:
            raise ImportRejectedError(
                row.position,
                f"this log archived the positions up to {archived_through}; its live log "
                f"starts at {archived_through + 1}",
            )
        if row.position <= position and stored.get(row.position) != columns_of(row):
            raise ImportRejectedError(row.position, "this log holds another event at that position")
    fresh = [row for row in rows if row.position > position]
    if verify and (broken := verify_chain(fresh, digest, position)):
        raise ImportRejectedError(broken.position, broken.reason)
    if fresh and fresh[0].position != position + 1:
        raise ImportRejectedError(fresh[0].position, f"the log ends at position {position}")
    for row in fresh:
        _check_importable(row)
    return fresh


def _check_importable(row: StoredRow) -> None:
    """A row decodes and holds only values every projection can fold (``bounds``)."""
    try:
        event = CODEC.decode(row.tag, row.schema_version, row.data)
    except (EventDecodeError, msgspec.MsgspecError) as exc:
        raise ImportRejectedError(row.position, f"its payload cannot be decoded: {exc}") from None
    found = bounds.problems(event)
    if found:
        raise ImportRejectedError(row.position, "; ".join(locate(p) for p in found))


def stored_rows(rows: Sequence[Sequence[Any]]) -> list[StoredRow]:
    """A page read as ``COLUMNS``, payloads as the bytes that were hashed (the hot loop of
    audit's reads: one comprehension, no call per row)."""
    return [
        StoredRow(p, s, v, i, t, sv, r, d.encode(), m.encode(), h)
        for p, s, v, i, t, sv, r, d, m, h in rows
    ]


def columns_of(row: StoredRow) -> tuple[Any, ...]:
    """A ``StoredRow`` as the events table holds it (``COLUMNS``; payloads as text)."""
    return (
        row.position,
        row.stream,
        row.version,
        row.event_id,
        row.tag,
        row.schema_version,
        row.recorded_at,
        row.data.decode(),
        row.metadata.decode(),
        row.hash,
    )
