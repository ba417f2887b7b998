"""Preparing events for either store, and decoding pages of stored rows."""

from __future__ import annotations

import time
import uuid

import pytest

from eventsvc.errors import DuplicateEventError, EventDecodeError, EventTooLargeError
from eventsvc.events import CODEC
from eventsvc.store.rows import columns_of, decode_rows, new_event_ids, prepare, stored_rows
from eventsvc.testing import new_event, session_started


def test_fresh_event_ids_are_canonical_version_7_uuids_in_the_order_they_were_made() -> None:
    before = time.time_ns() // 1_000_000
    ids = new_event_ids(200)
    later = new_event_ids(1)
    assert len(set(ids)) == 200
    for value in ids:
        parsed = uuid.UUID(value)
        assert (parsed.version, parsed.variant, str(parsed)) == (7, uuid.RFC_4122, value)
        assert parsed.int >> 80 >= before
    assert max(ids) < later[0] or later[0][:13] == ids[0][:13]


def test_prepare_encodes_and_refuses_oversized_events_and_repeated_ids() -> None:
    [(event_id, tag, version, data, metadata, event)] = prepare("s", [session_started()], 4096)
    assert (tag, version, metadata) == ("session.started", 1, "{}")
    assert CODEC.decode(tag, version, data) == event
    uuid.UUID(event_id)
    with pytest.raises(EventTooLargeError, match=r"session\.started"):
        prepare("s", [session_started()], 10)
    twice = new_event(session_started())
    with pytest.raises(DuplicateEventError, match="one event id twice"):
        prepare("s", [twice, twice], 4096)


def row(position: int, data: str, tag: str = "session.started") -> tuple[object, ...]:
    return (position, "s", position - 1, str(uuid.uuid4()), tag, 1, 7, data, "{}", b"h" * 32)


def test_a_page_decodes_at_once_and_a_bad_row_is_named_by_its_position() -> None:
    good = CODEC.encode(session_started()).decode()
    page = decode_rows([row(1, good), row(2, good)])
    assert [r.position for r in page] == [1, 2]
    with pytest.raises(EventDecodeError, match="position 2"):
        decode_rows([row(1, good), row(2, "{}")])


def test_a_stored_row_gives_back_its_columns() -> None:
    columns = row(3, CODEC.encode(session_started()).decode())
    assert [columns_of(row) for row in stored_rows([columns])] == [columns]
