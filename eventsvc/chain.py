"""The hash chain that makes the log tamper-evident (DESIGN section 3).

Each event's hash is sha256 over the previous event's hash followed by its position, stream,
version, event id, tag, schema version, recorded_at (integer UTC microseconds), data and
metadata. The fields are length-prefixed so no two events share an encoding: the nine lengths
come first (4 bytes each, big-endian, in field order), then the fields themselves; integers are
written in decimal ASCII, the id in its canonical 36-character form, and payloads as the exact
UTF-8 bytes the store holds. The first event chains to ``GENESIS``.

Pure computation (L0): the store hashes on append, audit re-hashes on read.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from hashlib import sha256

import msgspec

GENESIS = bytes(32)


_LENGTHS = struct.Struct(">9I").pack


def chain_hash(
    previous: bytes,
    position: int,
    stream: str,
    version: int,
    event_id: str,
    tag: str,
    schema_version: int,
    recorded_at: int,
    data: bytes,
    metadata: bytes,
) -> bytes:
    """The hash of one event, chained to ``previous`` (once per appended event, and once per
    audited one: hence plain locals, no tuple of fields and no ``map``)."""
    p, s, v = b"%d" % position, stream.encode(), b"%d" % version
    e, t, sv, r = event_id.encode(), tag.encode(), b"%d" % schema_version, b"%d" % recorded_at
    lengths = _LENGTHS(
        len(p), len(s), len(v), len(e), len(t), len(sv), len(r), len(data), len(metadata)
    )
    return sha256(b"".join((previous, lengths, p, s, v, e, t, sv, r, data, metadata))).digest()


class StoredRow(msgspec.Struct, frozen=True, gc=False):
    """An event exactly as stored: the fields the chain covers, payloads undecoded.

    A frozen struct rather than a dataclass: every read of the log (replay, audit, rebuild)
    builds one per row, and a struct without garbage-collector tracking builds several times
    faster. Its fields hold only strings, integers and bytes, so nothing can form a cycle."""

    position: int
    stream: str
    version: int
    event_id: str
    tag: str
    schema_version: int
    recorded_at: int
    data: bytes
    metadata: bytes
    hash: bytes

    def expected_hash(self, previous: bytes) -> bytes:
        return chain_hash(
            previous,
            self.position,
            self.stream,
            self.version,
            self.event_id,
            self.tag,
            self.schema_version,
            self.recorded_at,
            self.data,
            self.metadata,
        )


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """Where a chain stops holding, and why, in one line."""

    position: int
    reason: str


def verify_chain(
    rows: Iterable[StoredRow], previous: bytes = GENESIS, after: int = 0
) -> ChainBreak | None:
    """Check that positions follow ``after`` densely and every hash chains; the first break.

    ``previous`` is the hash of the event at ``after`` (GENESIS when starting from the log's
    beginning), so a long log can be verified page by page.
    """
    expected_position = after + 1
    for row in rows:
        if row.position != expected_position:
            return ChainBreak(
                row.position, f"expected position {expected_position}, found {row.position}"
            )
        # chain_hash called directly, not through ``expected_hash``: one call less per row.
        digest = chain_hash(
            previous,
            row.position,
            row.stream,
            row.version,
            row.event_id,
            row.tag,
            row.schema_version,
            row.recorded_at,
            row.data,
            row.metadata,
        )
        if digest != row.hash:
            return ChainBreak(row.position, "hash does not chain to the previous event")
        previous = row.hash
        expected_position += 1
    return None
