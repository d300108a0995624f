"""Bounded, self-expiring state of one account, and its compact serialised form.

The worker stores one of these per account in a changelog-backed table. Faust's windowed
tables do not expire under RocksDB after recovery (streaming notes), so expiry lives here:
every slot is trimmed to its detector's window on each update and capped in length.

The state also remembers recent event ids. At-least-once delivery replays events after a
crash, and the changelog may already hold their effect; skipping known ids makes a replay a
no-op, so counts are never inflated by redelivery.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Final

from processors.model import IndicatorHit

SEEN_IDS_CAP: Final = 1024
FORMAT: Final = 3  # 2: hits carry last_event_time; 3: false-positive suppressions, disposition ids


@dataclass(slots=True)
class AccountState:
    watermark: int = 0  # newest event time seen on the account
    seen: dict[str, int] = field(default_factory=dict)  # event id -> event time, oldest first
    slots: dict[str, list[list]] = field(default_factory=dict)  # detector code -> entries
    hits: dict[str, IndicatorHit] = field(default_factory=dict)  # active hits by code
    # typology -> [alert id, trigger event id, cooldown until (event time), alert record]
    alerts: dict[str, list] = field(default_factory=dict)
    # alert id -> [suppressed until (event time), indicator codes] (processors/feedback.py)
    suppressions: dict[str, list] = field(default_factory=dict)
    dispositions: dict[str, int] = field(default_factory=dict)  # applied id -> decided_at

    def remember(self, event_id: str, event_time: int) -> None:
        self.seen[event_id] = event_time
        if len(self.seen) > SEEN_IDS_CAP:
            del self.seen[next(iter(self.seen))]

    def dumps(self) -> bytes:
        return json.dumps(
            [
                FORMAT,
                self.watermark,
                self.seen,
                self.slots,
                {code: hit.to_state() for code, hit in self.hits.items()},
                self.alerts,
                self.suppressions,
                self.dispositions,
            ],
            separators=(",", ":"),
        ).encode()

    @classmethod
    def loads(cls, data: bytes | None) -> AccountState:
        if not data:
            return cls()
        fmt, watermark, seen, slots, hits, alerts, *feedback = json.loads(data)
        if fmt not in (2, FORMAT):  # 2 is 3 before any disposition: read it as such
            raise ValueError(f"account state format {fmt} not understood by this build")
        suppressions, dispositions = feedback[:2] if fmt >= 3 else ({}, {})
        return cls(
            watermark=watermark,
            seen=seen,
            slots=slots,
            hits={code: IndicatorHit.from_state(row) for code, row in hits.items()},
            alerts=alerts,
            suppressions=suppressions,
            dispositions=dispositions,
        )
