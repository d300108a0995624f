"""Mutated payment messages for the fuzz tests: seeded, labelled by how they were made.

Every mutation starts from a real record (simulated traffic) or its Avro bytes, so most of
them are near misses: the decoder and validation must tell each one apart, not only noise.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from schemas.codec import SOE_MAGIC, AvroCodec

EVENTS = AvroCodec("payment_event")
DAY_MS = 86_400_000


def _v1_codec() -> AvroCodec:
    """A writer of the previous schema version (schemas/payment_event.v1.avsc)."""
    import io

    import fastavro

    from schemas.codec import load_versions

    v1 = load_versions("payment_event")[0]

    class V1Writer:
        def encode(self, record: dict) -> bytes:
            buf = io.BytesIO()
            buf.write(SOE_MAGIC + v1.fingerprint)
            fastavro.schemaless_writer(buf, v1.parsed, record)
            return buf.getvalue()

    return V1Writer()  # type: ignore[return-value]


@dataclass(frozen=True)
class Message:
    kind: str
    key: bytes | None
    value: bytes | None


def _absurd(rng: random.Random, rec: dict, now_ms: int) -> dict:
    """Schema-valid (it encodes) but absurd: one field pushed somewhere no payment goes."""
    out = dict(rec)
    choice = rng.randrange(12)
    if choice == 0:
        out["amount_minor"] = rng.choice([0, -1, -(2**63), 2**63 - 1, 10**16])
    elif choice == 1:
        out["event_time"] = rng.choice([0, -1, 2**63 - 1, now_ms + 365 * DAY_MS, 946_684_799_999])
    elif choice == 2:
        out["utc_offset_minutes"] = rng.choice([-(2**31), 2**31 - 1, 841, -721])
    elif choice == 3:
        out["currency"] = rng.choice(["", "XXXX", "usd", "€", "\x00\x00\x00", "ZZZ"])
    elif choice == 4:
        out["event_id"] = ""
    elif choice == 5:
        out["account_id"] = "\u202e\u0000" + "\U0001f600" * rng.randrange(1, 4)
    elif choice == 6:
        mcc = rng.choice(["", "12", "abcd", "99999", "7011\x00"])
        out["merchant"] = {"merchant_id": "m", "name": "n", "mcc": mcc, "city": None,
                           "region": None, "country": "US"}  # fmt: skip
    elif choice == 7:
        out["location"] = {"city": "x", "region": None, "country": rng.choice(["", "usa", "1",
                           "ÜS"]), "terminal_id": None}  # fmt: skip
    elif choice == 8:
        out["passenger_name_hashes"] = ["h"] * rng.randrange(200, 2000)
    elif choice == 9:
        out["counterparty"] = {"account_id": "", "institution_id": "", "country": "ZZZ",
                               "name_hash": None, "ultimate_party_hash": None}  # fmt: skip
    elif choice == 10:
        out["institution_id"] = ""
    else:
        out["customer_id"] = "\t"
    return out


def _huge(rng: random.Random, rec: dict) -> dict:
    """A long string (2 KB .. 600 KB) in a field that is stored or forwarded."""
    size = 600 * 1024 if rng.random() < 1 / 40 else rng.choice([2 * 1024, 16 * 1024, 64 * 1024])
    field = rng.choice(["merchant_id", "purpose", "event_id", "holder_phone_hash", "city"])
    out = dict(rec)
    text = "x" * size
    if field == "merchant_id":
        merchant = dict(rec.get("merchant") or {"name": "n", "mcc": "5411", "city": None,
                        "region": None, "country": "US"})  # fmt: skip
        merchant["merchant_id"] = text
        out["merchant"] = merchant
    elif field == "city":
        out["location"] = {"city": text, "region": None, "country": "US", "terminal_id": None}
    else:
        out[field] = text
    return out


KINDS = (
    "valid",
    "valid_v1",
    "random_bytes",
    "random_after_magic",
    "truncated",
    "trailing_bytes",
    "bit_flipped",
    "absurd_values",
    "huge_string",
    "wrong_key",
    "unknown_fingerprint",
    "empty_or_tombstone",
)


def mutations(records: list[dict], count: int, seed: int, now_ms: int) -> Iterator[Message]:
    """``count`` messages, round-robin over KINDS, each from a random record (with a fresh
    event id, so that no valid one is a duplicate of another)."""
    rng = random.Random(seed)
    v1 = _v1_codec()
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        rec = rng.choice(records)
        rec = {**rec, "event_id": f"{rec['event_id']}-f{n}"}
        key: bytes | None = rec["account_id"].encode()
        value: bytes | None
        if kind == "valid":
            value = EVENTS.encode(rec)
        elif kind == "valid_v1":
            value = v1.encode(rec)
        elif kind == "random_bytes":
            value = rng.randbytes(rng.randrange(0, 300))
        elif kind == "random_after_magic":
            value = EVENTS.encode(rec)[:10] + rng.randbytes(rng.randrange(0, 300))
        elif kind == "truncated":
            data = EVENTS.encode(rec)
            value = data[: rng.randrange(0, len(data))]
        elif kind == "trailing_bytes":
            value = EVENTS.encode(rec) + rng.randbytes(rng.randrange(1, 20))
        elif kind == "bit_flipped":
            buf = bytearray(EVENTS.encode(rec))
            for _ in range(rng.randrange(1, 9)):
                i = rng.randrange(len(buf))
                buf[i] ^= 1 << rng.randrange(8)
            value = bytes(buf)
        elif kind == "absurd_values":
            absurd = _absurd(rng, rec, now_ms)
            key = absurd["account_id"].encode()
            value = EVENTS.encode(absurd)
        elif kind == "huge_string":
            huge = _huge(rng, rec)
            value = EVENTS.encode(huge)
        elif kind == "wrong_key":
            key = rng.choice([None, b"", b"other-account", rng.randbytes(8)])
            value = EVENTS.encode(rec)
        elif kind == "unknown_fingerprint":
            body = EVENTS.encode(rec)[10:]
            value = SOE_MAGIC + struct.pack("<Q", rng.getrandbits(64)) + body
        else:
            value = rng.choice([None, b"", SOE_MAGIC])
        yield Message(kind, key, value)
