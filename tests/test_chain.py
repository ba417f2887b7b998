from __future__ import annotations

from msgspec.structs import replace

from eventsvc.chain import GENESIS, StoredRow, chain_hash, verify_chain


def row(position: int, previous: bytes, stream: str = "s", tag: str = "queue.paused") -> StoredRow:
    fields = (position, stream, position - 1, f"id-{position}", tag, 1, 1000 + position,
              b'{"type":"queue.paused","queue_id":"q"}', b"{}")  # fmt: skip
    return StoredRow(*fields, chain_hash(previous, *fields))


def chain(count: int) -> list[StoredRow]:
    rows, previous = [], GENESIS
    for position in range(1, count + 1):
        rows.append(row(position, previous))
        previous = rows[-1].hash
    return rows


def test_a_clean_chain_verifies_whole_and_page_by_page() -> None:
    rows = chain(6)
    assert verify_chain(rows) is None
    assert verify_chain(rows[3:], previous=rows[2].hash, after=3) is None


def test_length_prefixes_keep_field_boundaries_apart() -> None:
    a = chain_hash(GENESIS, 1, "ab", 0, "id", "c", 1, 0, b"", b"")
    b = chain_hash(GENESIS, 1, "a", 0, "id", "bc", 1, 0, b"", b"")
    assert a != b


def test_an_edited_payload_breaks_the_chain_at_its_position() -> None:
    rows = chain(5)
    rows[2] = replace(rows[2], data=b'{"type":"queue.paused","queue_id":"evil"}')
    broken = verify_chain(rows)
    assert broken is not None
    assert (broken.position, broken.reason) == (3, "hash does not chain to the previous event")


def test_a_missing_row_is_a_gap() -> None:
    rows = chain(5)
    del rows[1]
    broken = verify_chain(rows)
    assert broken is not None
    assert (broken.position, broken.reason) == (3, "expected position 2, found 3")


def test_a_recomputed_row_still_breaks_its_successor() -> None:
    rows = chain(5)
    forged = row(3, rows[1].hash, stream="other")
    rows[2] = forged
    broken = verify_chain(rows)
    assert broken is not None
    assert broken.position == 4
