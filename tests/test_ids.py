from __future__ import annotations

import pytest

from eventsvc.ids import batch_stream, parse_session_id, session_id, session_stream


def test_a_session_id_names_its_batch_and_index() -> None:
    assert session_id("b.v2", 17) == "b.v2.17"
    assert parse_session_id("b.v2.17") == ("b.v2", 17)
    assert session_stream("b.0") == "session-b.0"
    assert batch_stream("b") == "batch-b"


@pytest.mark.parametrize("bad", ["b", "b.", ".3", "b.x", "b.-1", "b.01"])
def test_a_malformed_session_id_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a session id"):
        parse_session_id(bad)


def test_a_negative_index_is_refused() -> None:
    with pytest.raises(ValueError, match="never negative"):
        session_id("b", -1)
