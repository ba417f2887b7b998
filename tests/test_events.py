from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventsvc.errors import EventDecodeError
from eventsvc.events import (
    CODEC,
    AnyEvent,
    BatchDatum,
    BatchEnqueued,
    Event,
    EventCodec,
    GraphInvalid,
    InvocationCompleted,
    InvocationFailed,
    NodeMeasurement,
    Problem,
    QueuePaused,
    SessionFailed,
    Upcaster,
    event_tag,
)

DATA = Path(__file__).parent / "data"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
ids = st.text(min_size=1, max_size=12)
measurements = st.builds(
    NodeMeasurement,
    started_at=st.none() | st.datetimes(timezones=st.just(UTC)),
    ended_at=st.none() | st.datetimes(timezones=st.just(UTC)),
    wall_seconds=st.none() | st.floats(0, 1e6),
    rss_before=st.none() | st.integers(0, 2**40),
    rss_after=st.none() | st.integers(0, 2**40),
    vram_peak=st.none() | st.integers(0, 2**40),
    vram_delta=st.none() | st.integers(-(2**40), 2**40),
    overlapped=st.booleans(),
)
session_fields = {"queue_id": ids, "batch_id": ids, "session_id": ids, "attempt": st.integers(1, 9)}
node_fields = {**session_fields, "node_id": ids, "source_node_id": ids, "node_type": ids}
events = st.one_of(
    st.builds(
        BatchEnqueued,
        queue_id=ids,
        batch_id=ids,
        graph=st.dictionaries(st.text(max_size=8), json_values, max_size=3),
        data=st.lists(
            st.lists(
                st.builds(
                    BatchDatum,
                    node_path=ids,
                    field_name=ids,
                    items=st.lists(json_values, max_size=4),
                ),
                max_size=2,
            ),
            max_size=2,
        ),
        runs=st.integers(1, 100),
        priority=st.integers(-5, 5),
        session_count=st.integers(0, 10**9),
        origin=st.none() | st.text(),
    ),
    st.builds(
        InvocationCompleted,
        outputs=st.dictionaries(ids, json_values, max_size=3),
        measurement=measurements,
        **node_fields,
    ),
    st.builds(
        InvocationFailed,
        error_type=ids,
        error_message=st.text(),
        error_traceback=st.text(),
        measurement=measurements,
        **node_fields,
    ),
    st.builds(SessionFailed, error_type=ids, error_message=st.text(), **session_fields),
    st.builds(
        GraphInvalid,
        problems=st.lists(
            st.builds(
                Problem, code=ids, message=st.text(), node_id=st.none() | ids, field=st.none() | ids
            ),
            max_size=3,
        ),
        **session_fields,
    ),
    st.builds(QueuePaused, queue_id=ids),
)


@given(events)
def test_decode_inverts_encode(event: Event) -> None:
    data = CODEC.encode(event)
    assert CODEC.decode(event_tag(event), type(event).schema_version, data) == event


def test_tags_are_stable() -> None:
    # A tag is never renamed: changing this list breaks every stored log.
    assert sorted(CODEC.versions) == [
        "batch.canceled",
        "batch.enqueued",
        "batch.reprioritized",
        "graph.invalid",
        "invocation.completed",
        "invocation.failed",
        "invocation.started",
        "log.archived",
        "queue.paused",
        "queue.pruned",
        "queue.resumed",
        "session.canceled",
        "session.completed",
        "session.failed",
        "session.resumed",
        "session.retried",
        "session.started",
    ]
    assert len(AnyEvent.__args__) == len(CODEC.versions)


def test_payloads_are_json_objects_carrying_their_tag() -> None:
    payload = json.loads(CODEC.encode(QueuePaused(queue_id="q")))
    assert payload == {"type": "queue.paused", "queue_id": "q"}


def test_session_and_invocation_events_carry_queue_and_batch() -> None:
    for member in AnyEvent.__args__:
        tag = member.__struct_config__.tag
        if tag.startswith(("session.", "invocation.", "graph.")):
            assert {"queue_id", "batch_id", "session_id"} <= set(member.__struct_fields__), tag


# --- upcasting, proven on a payload stored by an older version -------------------------------


class WidgetRenamed(Event, frozen=True, kw_only=True, tag="test.widget_renamed"):
    """Version 2 renamed ``title`` to ``name``; version 3 added ``renamed_by``."""

    schema_version: ClassVar[int] = 3
    widget_id: str
    name: str
    renamed_by: str


def rename_title(payload: dict[str, Any]) -> dict[str, Any]:
    payload["name"] = payload.pop("title")
    return payload


def add_renamed_by(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "renamed_by": "unknown"}


UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("test.widget_renamed", 1): rename_title,
    ("test.widget_renamed", 2): add_renamed_by,
}


def test_an_old_payload_is_upcast_through_every_version() -> None:
    codec = EventCodec(WidgetRenamed, UPCASTERS)
    stored = (DATA / "widget_renamed.v1.json").read_bytes()

    event = codec.decode("test.widget_renamed", 1, stored)

    assert event == WidgetRenamed(widget_id="w-17", name="Front door", renamed_by="unknown")


def test_a_missing_upcaster_is_named() -> None:
    codec = EventCodec(WidgetRenamed, {("test.widget_renamed", 1): rename_title})
    stored = (DATA / "widget_renamed.v1.json").read_bytes()
    with pytest.raises(EventDecodeError, match="schema version 2 and no upcaster to version 3"):
        codec.decode("test.widget_renamed", 1, stored)


def test_a_newer_schema_version_asks_for_an_upgrade() -> None:
    with pytest.raises(EventDecodeError, match="newer than this eventsvc knows"):
        CODEC.decode("queue.paused", 2, b'{"type":"queue.paused","queue_id":"q"}')


def test_an_unknown_tag_is_named() -> None:
    with pytest.raises(EventDecodeError, match=r"'queue\.exploded'"):
        CODEC.decode("queue.exploded", 1, b"{}")


def test_a_payload_of_the_wrong_shape_does_not_decode() -> None:
    with pytest.raises(msgspec.ValidationError):
        CODEC.decode("queue.paused", 1, b'{"type":"queue.paused"}')
