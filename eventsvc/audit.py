"""Audit: read the whole log and say what does not hold, each finding with its position (L2).

Read-only, so it works beside a running service. Checks so far:

1. positions strictly increasing and dense, and the hash chain intact (the first broken
   position is named); with an anchor ``POS:HASH`` the chain must still pass through that
   hash at that position, which catches a truncated or recomputed tail. A clean audit gives
   the anchor of its last position, for the user to keep;
2. every stream's versions contiguous from 0;
4. every event decodes with the current catalogue after upcasting.

The session state machine (3) and projections against a fresh rebuild (5) are still to come.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from eventsvc.chain import GENESIS, verify_chain
from eventsvc.errors import EventDecodeError
from eventsvc.events import CODEC
from eventsvc.store import EventStore


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    position: int
    stream: str | None
    reason: str


@dataclass(slots=True)
class AuditReport:
    findings: list[Finding] = field(default_factory=list)
    events: int = 0
    anchor: str = f"0:{GENESIS.hex()}"

    @property
    def clean(self) -> bool:
        return not self.findings


def parse_anchor(text: str) -> tuple[int, str]:
    position, _, digest = text.partition(":")
    if not position.isdigit() or len(digest) != 64:
        raise ValueError(f"an anchor is POSITION:SHA256-HEX, got {text!r}")
    return int(position), digest.lower()


async def audit(store: EventStore, anchor: tuple[int, str] | None = None) -> AuditReport:
    report = AuditReport()
    previous, after, chain_broken = GENESIS, 0, False
    versions: dict[str, int] = {}
    anchor_seen = False
    while rows := await store.read_rows(after=after, limit=1000):
        if not chain_broken:
            broken = verify_chain(rows, previous, after)
            if broken is not None:
                chain_broken = True
                stream = next((r.stream for r in rows if r.position == broken.position), None)
                report.findings.append(Finding("chain", broken.position, stream, broken.reason))
        for row in rows:
            expected = versions.get(row.stream, -1) + 1
            if row.version != expected:
                report.findings.append(
                    Finding(
                        "versions",
                        row.position,
                        row.stream,
                        f"expected version {expected}, found {row.version}",
                    )
                )
            versions[row.stream] = row.version
            try:
                CODEC.decode(row.tag, row.schema_version, row.data)
            except (EventDecodeError, msgspec.MsgspecError) as exc:
                report.findings.append(Finding("decode", row.position, row.stream, str(exc)))
            if anchor is not None and row.position == anchor[0]:
                anchor_seen = True
                if row.hash.hex() != anchor[1]:
                    report.findings.append(
                        Finding(
                            "anchor",
                            row.position,
                            row.stream,
                            "the chain no longer passes through the anchor's hash",
                        )
                    )
        report.events += len(rows)
        previous, after = rows[-1].hash, rows[-1].position
    if anchor is not None and not anchor_seen:
        report.findings.append(
            Finding(
                "anchor", anchor[0], None, f"the log ends at position {after}, before the anchor"
            )
        )
    report.anchor = f"{after}:{previous.hex()}"
    return report
