"""Bounded, self-expiring state of one account, and its compact serialised form.

The worker stores one of these per account in a changelog-backed table and rewrites it on
every batch that touches the account, so its size is the worker's cost per event. Faust's
windowed tables do not expire under RocksDB after recovery (streaming notes), so expiry lives
here: every slot is trimmed to its detector's window on each update and capped in length.

Recognising a replay in constant space. At-least-once delivery replays events after a crash,
and the changelog may already hold their effect. One account's payments all arrive on one
partition in order, so the input offset already orders them: the state keeps, per input
(payments, account signals, dispositions), the partition and offset of the last record it
applied, and a record at or below that offset is a replay. That covers every redelivery by
Kafka. A publisher re-sending an event under a new offset is caught by a small ring of the
newest trigger ids (64-bit digests), bounded in time (:data:`RECENT_WINDOW_MS` behind the
account's watermark) and in length (:data:`RECENT_CAP`); signals, which the cross-account
hop re-sends on purpose after its own replays, and dispositions have rings of their own. The
offline backtest has no offsets and relies on the rings alone.

Encoding. MessagePack (msgspec, in C) rather than JSON text: about half the bytes and a
tenth of the time, then LZ4 (cramjam, in Rust): a mature account's state is mostly event ids
(hex), digests and times; 20,000 states written on days 75-90 of the mature population
(docs/benchmarks.md) compress to 0.49 of their 8.6 KB mean in 20 us each. Zstandard at
level 1 gives 0.37 but takes 56 us, which halved the offline speed with one write per event
(light traffic); zlib 0.41 in 122 us. The worker writes that much less to RocksDB, its
changelog and the broker. Today's
format is 6: format 5's row, compressed behind one byte. The record of an account's open
alert is kept only so that a replayed trigger re-emits it, yet it was a third of a mature
account's state and was walked on every encode and decode (bench/state_age.py): it is kept
as one zlib-compressed MessagePack blob, beside the few fields read on every step (id,
trigger, cooldown, network). Senders counted by the fan-in detectors are kept as 64-bit
digests of their keys, not as the keys (hashes of 60-odd characters), since they are only
ever compared.

Older formats still load, so a worker upgraded in place keeps its accounts' history:
format 5 (the same row, uncompressed) as it is; format 4 (MessagePack with alert records
and sender keys in the clear) is converted on load; formats 2 and 3 (JSON, with up to 1,024
remembered event ids) too, their newest ids seeding the rings and their offsets starting
unknown.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from typing import Final

import cramjam
import msgspec

from processors.model import IndicatorHit

#: 2/3: JSON with seen ids; 4: MessagePack, offsets and bounded id rings; 5: alert records
#: compressed, senders as digests; 6: format 5's row LZ4-compressed behind :data:`COMPRESSED`
FORMAT: Final = 6
#: first byte of a format 6 state (a MessagePack row starts with 0x98, legacy JSON with "[")
COMPRESSED: Final = b"\x06"
#: inputs with an offset of their own: index into ``AccountState.offsets`` and ``rings``
PAYMENTS: Final = 0
SIGNALS: Final = 1
DISPOSITIONS: Final = 2
N_INPUTS: Final = 3
#: newest trigger ids remembered per input, for a record re-sent under a new offset
RECENT_CAP: Final = 16
#: how far behind the input's newest time a remembered id is kept (payments and signals:
#: event time against the watermark; dispositions: decision time against the newest)
RECENT_WINDOW_MS: Final = (24 * 3_600_000, 31 * 24 * 3_600_000, 31 * 24 * 3_600_000)
#: ids of a legacy state carried into the rings when it is first read (its offsets unknown)
LEGACY_CARRY: Final = 64

#: slots whose entries hold a sender's key at index 2, as a digest since format 5
#: (processors/indicators/collector_fan_in.py, many_small_payers.py)
SENDER_SLOTS: Final = frozenset(
    {"MANY_SMALL_PAYERS", "COLLECTOR_FAN_IN", "WAGES_COLLECTED", "EARNINGS_COLLECTED"}
)

_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder()


def id_digest(trigger_id: str) -> int:
    """A stable signed 64-bit digest of an id (the rings store these, not the ids)."""
    return int.from_bytes(
        hashlib.blake2b(trigger_id.encode(), digest_size=8).digest(), "little", signed=True
    )


def alert_entry(record: dict, trigger_id: str, until: int) -> list:
    """An open alert as the state keeps it: [alert id, trigger id, cooldown until (event
    time), network id or "", the record compressed] (read back by :func:`alert_record`)."""
    network = record.get("network") or {}
    blob = zlib.compress(_encoder.encode(record))
    return [record["alert_id"], trigger_id, until, network.get("network_id", ""), blob]


def alert_record(entry: list) -> dict:
    """The alert record of an entry made by :func:`alert_entry`."""
    record: dict = _decoder.decode(zlib.decompress(entry[4]))
    return record


def _upgrade_v4(slots: dict[str, list], alerts: dict[str, list]) -> None:
    """Format 4 in place: alert records compressed, senders digested."""
    for typology, (_id, trigger, until, record) in list(alerts.items()):
        alerts[typology] = alert_entry(record, trigger, until)
    for code in SENDER_SLOTS:
        for e in slots.get(code, ()):
            if isinstance(e[2], str):
                e[2] = id_digest(e[2])


@dataclass(slots=True)
class AccountState:
    watermark: int = 0  # newest event time seen on the account
    # per input: [partition, offset] of the last record applied; [-1, -1] unknown
    offsets: list[list[int]] = field(default_factory=lambda: [[-1, -1], [-1, -1], [-1, -1]])
    # per input: flat [digest, time, digest, time, ...] of recent trigger ids, oldest first
    rings: list[list[int]] = field(default_factory=lambda: [[], [], []])
    slots: dict[str, list] = field(default_factory=dict)  # detector code -> entries
    hits: dict[str, IndicatorHit] = field(default_factory=dict)  # active hits by code
    # typology -> [alert id, trigger event id, cooldown until (event time), network id or "",
    # alert record compressed] (alert_entry, alert_record)
    alerts: dict[str, list] = field(default_factory=dict)
    # alert id -> [suppressed until (event time), indicator codes] (processors/feedback.py)
    suppressions: dict[str, list] = field(default_factory=dict)
    # Not stored: detector slot -> its MessagePack bytes as last encoded, reused by dumps()
    # while the slot is unchanged. Valid only because every change to a detector's slot goes
    # through :meth:`slot_to_change` (the engine's step), which drops the entry first.
    encoded: dict[str, msgspec.Raw] = field(default_factory=dict, compare=False, repr=False)
    # Not stored: hit code -> (the hit object, its row as last encoded). A hit is replaced,
    # never changed, once it is in ``hits``, so the object's identity says the row holds.
    encoded_hits: dict[str, tuple[IndicatorHit, msgspec.Raw]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def slot_to_change(self, code: str) -> list:
        """Detector ``code``'s slot, about to be changed in place (created if missing)."""
        self.encoded.pop(code, None)
        slot = self.slots.get(code)
        if slot is None:
            slot = self.slots[code] = []
        return slot

    def _encoded_slots(self) -> dict[str, object]:
        """The slots for encoding, each detector slot as its cached bytes.

        Why: encoding the whole state was most of a step's cost on a busy account (a
        mature one's slots hold hundreds of entries; an event changes one or two of them),
        and it grew with the account's history (bench/state_age.py). ``msgspec.Raw``
        splices the bytes in as they are, so the row is byte for byte what encoding the
        lists gives: the stored format does not change. Slots named with a leading ``~``
        (processors/links.py, networks.py) are changed in place by their own modules, are
        small, and are encoded every time.
        """
        cache = self.encoded
        out: dict[str, object] = {}
        slots: dict = self.slots  # the "~" slots are not all lists (processors/links.py)
        for code, slot in slots.items():
            if code[:1] == "~":
                out[code] = slot
                continue
            raw = cache.get(code)
            if raw is None:
                raw = cache[code] = msgspec.Raw(_encoder.encode(slot))
            out[code] = raw
        return out

    def is_replay(self, source: int, partition: int, offset: int) -> bool:
        """Whether a record at this input position was applied already (offset order)."""
        if offset < 0:
            return False
        last = self.offsets[source]
        return last[0] == partition and offset <= last[1]

    def has_recent(self, source: int, digest: int) -> bool:
        return digest in self.rings[source][::2]

    def remember(self, source: int, digest: int, at: int, partition: int, offset: int) -> None:
        """Record a newly applied trigger: its position (when known) and its id digest."""
        if offset >= 0:
            self.offsets[source] = [partition, offset]
        ring = self.rings[source]
        ring.append(digest)
        ring.append(at)
        newest = self.watermark if source != DISPOSITIONS else max(ring[1::2])
        horizon = max(newest, at) - RECENT_WINDOW_MS[source]
        drop = 0
        while drop < len(ring) - 2 and (
            ring[drop + 1] < horizon or len(ring) - drop > 2 * RECENT_CAP
        ):
            drop += 2
        if drop:
            del ring[:drop]

    def _encoded_hits(self) -> list[msgspec.Raw]:
        """The active hits' rows, each encoded once per hit object: an active hit lists its
        evidence ids (hundreds on a busy account) and was re-encoded with every write."""
        cache = self.encoded_hits
        if len(cache) > len(self.hits):
            for code in [c for c in cache if c not in self.hits]:
                del cache[code]
        out: list[msgspec.Raw] = []
        for code, hit in self.hits.items():
            entry = cache.get(code)
            if entry is None or entry[0] is not hit:
                entry = cache[code] = (hit, msgspec.Raw(_encoder.encode(hit.to_state())))
            out.append(entry[1])
        return out

    def dumps(self) -> bytes:
        row = _encoder.encode(
            (
                FORMAT,
                self.watermark,
                self.offsets,
                self.rings,
                self._encoded_slots(),
                self._encoded_hits(),
                self.alerts,
                self.suppressions,
            )
        )
        return COMPRESSED + bytes(cramjam.lz4.compress_block(row))

    @classmethod
    def loads(cls, data: bytes | None) -> AccountState:
        if not data:
            return cls()
        if data[:1] == COMPRESSED:
            row = _decoder.decode(bytes(cramjam.lz4.decompress_block(data[1:])))
            if not (isinstance(row, list) and row and row[0] == FORMAT):
                raise ValueError("account state: compressed, but not a format 6 row")
        elif data[:1] == b"[":
            return cls._loads_legacy(data)
        else:
            row = _decoder.decode(data)
        fmt = row[0] if isinstance(row, list) and row else None
        if fmt not in (4, 5, FORMAT):
            raise ValueError(f"account state format {fmt} not understood by this build")
        _fmt, watermark, offsets, rings, slots, hits, alerts, suppressions = row
        if fmt == 4:
            _upgrade_v4(slots, alerts)
        return cls(
            watermark=watermark,
            offsets=offsets,
            rings=rings,
            slots=slots,
            hits={r[0]: IndicatorHit.from_state(r) for r in hits},
            alerts=alerts,
            suppressions=suppressions,
        )

    @classmethod
    def _loads_legacy(cls, data: bytes) -> AccountState:
        """Formats 2 and 3 (JSON, before 2026-12): the seen ids seed the payments ring (they
        also held signal ids, so the signals ring too) and the offsets start unknown, so the
        records a crash may still redeliver are recognised by id."""
        fmt, watermark, seen, slots, hits, alerts, *feedback = json.loads(data)
        if fmt not in (2, 3):
            raise ValueError(f"account state format {fmt} not understood by this build")
        suppressions, dispositions = feedback[:2] if fmt >= 3 else ({}, {})
        carried: list[int] = []
        for trigger_id, at in list(seen.items())[-LEGACY_CARRY:]:
            carried.append(id_digest(trigger_id))
            carried.append(int(at))
        decided: list[int] = []
        for disposition_id, at in list(dispositions.items())[-RECENT_CAP:]:
            decided.append(id_digest(disposition_id))
            decided.append(int(at))
        _upgrade_v4(slots, alerts)  # their alerts and slots are format 4's
        return cls(
            watermark=watermark,
            rings=[carried, list(carried), decided],
            slots=slots,
            hits={code: IndicatorHit.from_state(row) for code, row in hits.items()},
            alerts=alerts,
            suppressions=suppressions,
        )


class StateCache:
    """Decoded account states kept between batches, so a busy account is not decoded again
    for every payment: decoding is most of what the stored form costs (MessagePack builds
    every list of every slot), encoding a small part.

    An entry is used only while the stored bytes handed in are exactly the bytes it wrote,
    so it needs no invalidation: a changelog restore, a rebalance or another writer changes
    the bytes and the state is decoded afresh. Bounded to ``capacity`` accounts; the least
    recently written go first. A caller whose step failed half-way must :meth:`forget` the
    account, since the cached object may hold half of the change.

    A caller that changes a cached state and encodes it later (the worker encodes each
    account once per batch, at its end) marks it :meth:`touched` as soon as it changed it:
    the entry then matches no stored bytes until :meth:`store` encodes it, so a batch that
    never reaches its write (an error, a rebalance) cannot leave the table's older bytes
    paired with the newer object.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        # key -> (the bytes last written, or None while changed and not yet encoded; state)
        self._entries: dict[bytes, tuple[bytes | None, AccountState]] = {}
        self._stale = False
        self.hits = 0
        self.misses = 0

    def invalidate(self) -> None:
        """Drop every entry before the next use. Safe from another thread (the worker's
        consumer thread reports rebalances): it only sets a flag, and the thread that uses
        the cache clears it, so the dictionary is never changed under a running step."""
        self._stale = True

    def _fresh(self) -> dict[bytes, tuple[bytes | None, AccountState]]:
        if self._stale:
            self._stale = False
            self._entries.clear()
        return self._entries

    def load(self, key: bytes, stored: bytes | None) -> AccountState:
        if stored:
            entry = self._fresh().get(key)
            if entry is not None and entry[0] == stored:
                self.hits += 1
                return entry[1]
        self.misses += 1
        return AccountState.loads(stored)

    def peek(self, key: bytes) -> bytes | None:
        """The bytes last written for ``key``, if cached. A caller that knows the table has
        not changed under it (the worker between rebalances) may take them for the stored
        value and skip the table read."""
        entry = self._fresh().get(key)
        return None if entry is None else entry[0]

    def touched(self, key: bytes, state: AccountState) -> None:
        """``state`` (of ``key``) has changed and is not encoded yet: until :meth:`store`,
        no stored bytes match it, and :meth:`peek` sends the caller to the table."""
        entries = self._fresh()
        entry = entries.get(key)
        if entry is not None and entry[1] is state:
            entries[key] = (None, state)  # keeps its place in the eviction order
        else:  # not cached, or another object: what the table holds must be decoded
            entries.pop(key, None)

    def store(self, key: bytes, state: AccountState) -> bytes:
        blob = state.dumps()
        if self.capacity > 0:
            entries = self._fresh()
            entries.pop(key, None)
            entries[key] = (blob, state)
            if len(entries) > self.capacity:
                del entries[next(iter(entries))]
        return blob

    def forget(self, key: bytes) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._fresh())
