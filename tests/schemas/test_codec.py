"""Avro codec: single-object and Confluent framing, schema evolution, and every decode failure."""

from __future__ import annotations

import io
import json
import struct
from typing import Any

import fastavro
import pytest
from fastavro.schema import fingerprint as fastavro_fingerprint
from fastavro.schema import to_parsing_canonical_form

from processors import rules
from processors.engine import Engine
from processors.state import AccountState
from processors.validation import to_event
from schemas.codec import (
    SOE_MAGIC,
    AvroCodec,
    DecodeError,
    crc64_avro,
    load_versions,
    schema_json,
)

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def full_record() -> dict[str, Any]:
    """A v2 payment event with every optional field filled."""
    return {
        "event_id": "evt-0001",
        "event_time": T0 + 12 * HOUR,
        "utc_offset_minutes": -300,
        "institution_id": "bank-1",
        "account_id": "acct-1",
        "customer_id": "cust-1",
        "account_type": "BUSINESS",
        "direction": "CREDIT",
        "channel": "REMITTANCE",
        "amount_minor": 123_456,
        "currency": "CAD",
        "merchant": {
            "merchant_id": "m-1",
            "name": "Motel Six Street",
            "mcc": "7011",
            "city": "Toronto",
            "region": "ON",
            "country": "CA",
        },
        "counterparty": {
            "account_id": "cp-acct",
            "institution_id": "BOFAUS3N",
            "country": "MX",
            "name_hash": "aa" * 32,
            "ultimate_party_hash": "bb" * 32,
        },
        "location": {"city": "Ottawa", "region": "ON", "country": "CA", "terminal_id": "T-9"},
        "purpose": "SALA",
        "payroll": True,
        "holder_phone_hash": "01" * 32,
        "holder_email_hash": "02" * 32,
        "holder_address_hash": "03" * 32,
        "device_hash": "04" * 32,
        "wallet_address_hash": "05" * 32,
        "passenger_name_hashes": ["06" * 32, "07" * 32],
    }


def v1_record() -> dict[str, Any]:
    """The same event as a v1 publisher would write it: no v2-only fields."""
    rec = full_record()
    for name in ("account_type", "wallet_address_hash", "passenger_name_hashes"):
        del rec[name]
    del rec["counterparty"]["ultimate_party_hash"]
    return rec


def body(schema: dict, record: dict) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), record)
    return buf.getvalue()


def spec_fingerprint(filename: str) -> bytes:
    """The writer fingerprint computed by fastavro, independently of our crc64 code."""
    canonical = to_parsing_canonical_form(schema_json(filename))
    return bytes.fromhex(fastavro_fingerprint(canonical, "CRC-64-AVRO"))


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    return AvroCodec("payment_event")


# --------------------------------------------------------------------------- single-object


@pytest.mark.parametrize("text", ['"int"', '"null"', '{"type":"fixed","name":"f","size":8}', ""])
def test_crc64_matches_fastavro(text):
    expected = fastavro_fingerprint(text, "CRC-64-AVRO")
    assert struct.pack("<Q", crc64_avro(text.encode())).hex() == expected


def test_fingerprints_match_fastavro_for_every_version():
    for name in ("payment_event", "alert"):
        for version in load_versions(name):
            assert version.fingerprint == spec_fingerprint(version.filename)
            assert len(version.fingerprint) == 8
    v1, v2 = load_versions("payment_event")
    assert v1.fingerprint != v2.fingerprint


def test_header_is_magic_then_fingerprint(codec):
    data = codec.encode(full_record())
    assert data[:2] == b"\xc3\x01" == SOE_MAGIC
    assert data[2:10] == spec_fingerprint("payment_event.avsc")
    # The rest is the plain Avro body of the current schema.
    assert data[10:] == body(schema_json("payment_event.avsc"), full_record())


def test_full_record_round_trip(codec):
    rec = full_record()
    assert codec.decode(codec.encode(rec)) == rec


def test_minimal_record_gets_defaults(codec):
    rec = {
        k: full_record()[k]
        for k in (
            "event_id",
            "event_time",
            "institution_id",
            "account_id",
            "customer_id",
            "direction",
            "channel",
            "amount_minor",
            "currency",
        )
    }
    out = codec.decode(codec.encode(rec))
    assert out["utc_offset_minutes"] == 0
    assert out["account_type"] == "PERSONAL"
    assert out["merchant"] is None and out["counterparty"] is None and out["location"] is None
    assert out["payroll"] is False
    assert out["passenger_name_hashes"] == []


def test_v1_event_decodes_with_v2_defaults(codec):
    v1_schema = schema_json("payment_event.v1.avsc")
    data = SOE_MAGIC + spec_fingerprint("payment_event.v1.avsc") + body(v1_schema, v1_record())
    out = codec.decode(data)
    assert out["account_type"] == "PERSONAL"
    assert out["passenger_name_hashes"] == []
    assert out["wallet_address_hash"] is None
    assert out["counterparty"]["ultimate_party_hash"] is None
    # Everything v1 carried comes through unchanged.
    for key, value in v1_record().items():
        if key == "counterparty":
            assert {k: out[key][k] for k in value} == value
        else:
            assert out[key] == value
    # And it validates into a PaymentEvent.
    ev = to_event(out, T0 + DAY)
    assert ev.account_type == "PERSONAL" and ev.passenger_name_hashes == []


def test_truncated_bytes_are_undecodable(codec):
    data = codec.encode(full_record())
    for cut in (len(data) - 1, len(data) // 2, 11):
        with pytest.raises(DecodeError) as info:
            codec.decode(data[:cut])
        assert info.value.reason == "undecodable"


def test_trailing_bytes_are_undecodable(codec):
    data = codec.encode(full_record())
    with pytest.raises(DecodeError) as info:
        codec.decode(data + b"\x00")
    assert info.value.reason == "undecodable"
    assert "trailing" in str(info.value)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: b"\xc3\x02" + d[2:],
        lambda d: b"\x00" + d[1:],
        lambda d: d[:9],  # shorter than a header
        lambda d: b"",
    ],
)
def test_bad_magic_or_short_header_is_undecodable(codec, mangle):
    with pytest.raises(DecodeError) as info:
        codec.decode(mangle(codec.encode(full_record())))
    assert info.value.reason == "undecodable"


def test_unknown_fingerprint_is_unknown_schema(codec):
    data = codec.encode(full_record())
    bogus = bytes(b ^ 0xFF for b in data[2:10])
    with pytest.raises(DecodeError) as info:
        codec.decode(data[:2] + bogus + data[10:])
    assert info.value.reason == "unknown_schema"
    assert bogus.hex() in str(info.value)


def test_unknown_contract_and_framing_are_refused():
    with pytest.raises(KeyError):
        AvroCodec("no_such_contract")
    with pytest.raises(ValueError):
        AvroCodec("payment_event", "protobuf")
    with pytest.raises(ValueError):
        AvroCodec("payment_event", "confluent")  # no registry


# --------------------------------------------------------------------------- Confluent framing


class DictRegistry:
    """A dict-backed stand-in for the schema registry (``register`` and ``schema_text``).

    Tests using it are pure unit tests of the Confluent framing: no registry server runs.
    Ids start at 41 so an id of 0 or 1 in a header cannot pass by accident.
    """

    def __init__(self) -> None:
        self.by_id: dict[int, str] = {}
        self.subjects: dict[str, int] = {}

    def register(self, subject: str, schema_text: str) -> int:
        for sid, text in self.by_id.items():
            if text == schema_text:
                self.subjects[subject] = sid
                return sid
        sid = 41 + len(self.by_id)
        self.by_id[sid] = schema_text
        self.subjects[subject] = sid
        return sid

    def schema_text(self, schema_id: int) -> str:
        return self.by_id[schema_id]


def test_confluent_header_and_round_trip():
    """Pure unit test of the Confluent framing, with an in-memory registry."""
    registry = DictRegistry()
    codec = AvroCodec("payment_event", "confluent", registry)
    sid = registry.subjects["payment_event-value"]
    # The registered schema is the current contract.
    assert json.loads(registry.by_id[sid]) == json.loads(
        to_parsing_canonical_form(schema_json("payment_event.avsc"))
    )
    data = codec.encode(full_record())
    assert data[0] == 0
    assert struct.unpack(">I", data[1:5])[0] == sid
    assert data[5:] == body(schema_json("payment_event.avsc"), full_record())
    assert codec.decode(data) == full_record()


def test_confluent_decodes_older_writer_schema_from_registry():
    """Pure unit test of the Confluent framing: a v1 writer schema fetched by id."""
    registry = DictRegistry()
    codec = AvroCodec("payment_event", "confluent", registry)
    v1_text = json.dumps(schema_json("payment_event.v1.avsc"))
    v1_id = registry.register("payment_event-value", v1_text)
    data = b"\x00" + struct.pack(">I", v1_id) + body(json.loads(v1_text), v1_record())
    out = codec.decode(data)
    assert out["account_type"] == "PERSONAL" and out["passenger_name_hashes"] == []
    assert out["event_id"] == v1_record()["event_id"]


def test_confluent_unknown_id_is_unknown_schema():
    """Pure unit test of the Confluent framing: the registry does not know the id."""
    registry = DictRegistry()
    codec = AvroCodec("payment_event", "confluent", registry)
    data = codec.encode(full_record())
    unknown = max(registry.by_id) + 100
    with pytest.raises(DecodeError) as info:
        codec.decode(b"\x00" + struct.pack(">I", unknown) + data[5:])
    assert info.value.reason == "unknown_schema"
    assert str(unknown) in str(info.value)


def test_confluent_bad_magic_and_garbage():
    """Pure unit test of the Confluent framing: malformed frames."""
    codec = AvroCodec("payment_event", "confluent", DictRegistry())
    data = codec.encode(full_record())
    for bad in (b"\x01" + data[1:], data[:4], data[:-2], data + b"\x00"):
        with pytest.raises(DecodeError) as info:
            codec.decode(bad)
        assert info.value.reason == "undecodable"


# --------------------------------------------------------------------------- alert schema


def _engine_alert() -> dict[str, Any]:
    def ev(event_id: str, t: int, **over: Any) -> dict[str, Any]:
        rec = {
            "event_id": event_id,
            "event_time": t,
            "institution_id": "bank-1",
            "account_id": "acct-1",
            "customer_id": "cust-1",
            "direction": "DEBIT",
            "channel": "CARD_PRESENT",
            "amount_minor": 15_000,
            "currency": "USD",
        }
        rec.update(over)
        return rec

    records = []
    for i, city in enumerate(["Reno", "Fresno", "Eugene"]):
        merchant = {"merchant_id": f"m{i}", "mcc": "7011", "city": city}
        records.append(ev(f"h{i}", T0 + i * DAY + 12 * HOUR, merchant=merchant))
        records.append(ev(f"n{i}", T0 + i * DAY + 23 * HOUR, channel="ATM"))
    engine, state, now = Engine(rules.load()), AccountState(), T0 + 30 * DAY
    alerts = [a for r in records for a in engine.step(state, to_event(r, now), now).alerts]
    assert len(alerts) == 1
    return alerts[0]


def test_alert_from_engine_round_trips():
    alert = _engine_alert()
    codec = AvroCodec("alert")
    data = codec.encode(alert)
    assert data[:2] == SOE_MAGIC and data[2:10] == spec_fingerprint("alert.avsc")
    assert codec.decode(data) == alert


class UnreachableRegistry(DictRegistry):
    """Registers fine, then cannot be reached, as during a registry outage."""

    def schema_text(self, schema_id: int) -> str:
        raise ConnectionError("registry down")


def test_registry_outage_is_retriable_not_a_dead_letter():
    from schemas.codec import RegistryUnavailable

    writer = AvroCodec("payment_event", "confluent", DictRegistry())
    data = writer.encode(full_record())
    reader = AvroCodec("payment_event", "confluent", UnreachableRegistry())
    # The reader knows its own schema id only; the writer's id (41) must be fetched.
    reader._by_id.clear()
    with pytest.raises(RegistryUnavailable):
        reader.decode(data)
