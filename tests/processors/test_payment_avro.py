"""processors.payment_avro, the backtest's decoder for Avro blocks of the current payment
schema, against the schema file and against fastavro on records taking every branch."""

from __future__ import annotations

import io
import json
import operator
import random
from pathlib import Path

import fastavro
import pytest

import processors
from backtest.reading import read_avro
from processors.payment_avro import LAYOUT, decode_block
from processors.replay import Rejected
from processors.validation import _TOP_FIELDS, PaymentRecord, to_event
from schemas.codec import schema_json

SCHEMA = fastavro.parse_schema(schema_json("payment_event.avsc"))
NOW_MS = 1_900_000_000_000
FIELDS_OF = operator.attrgetter(*_TOP_FIELDS)


def layout_of(avro_type):
    """A schema file's type in LAYOUT's notation."""
    if isinstance(avro_type, list):
        return [layout_of(t) for t in avro_type]
    if isinstance(avro_type, dict):
        kind = avro_type["type"]
        if kind == "enum":
            return ("enum", tuple(avro_type["symbols"]))
        if kind == "record":
            return ("record", tuple((f["name"], layout_of(f["type"])) for f in avro_type["fields"]))
        if kind == "array":
            return ("array", layout_of(avro_type["items"]))
        return layout_of(kind)
    return avro_type


def test_layout_is_the_schema_file_field_for_field():
    fields = schema_json("payment_event.avsc")["fields"]
    assert tuple((f["name"], layout_of(f["type"])) for f in fields) == LAYOUT


def maybe(rng: random.Random, value):
    return value if rng.random() < 0.5 else None


def text(rng: random.Random) -> str:
    alphabet = "abcXYZ019 -_éøü漢字🙂"
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 70)))


def random_record(rng: random.Random, i: int) -> dict:
    """A record of the schema with every optional part present or absent at random."""
    account_types, directions = LAYOUT[6][1][1], LAYOUT[7][1][1]
    channels = LAYOUT[8][1][1]
    return {
        "event_id": f"ev-{i}-{text(rng)}",
        "event_time": rng.choice([0, 1, 2**31, 1_767_225_602_000, 2**62, -(2**40)]),
        "utc_offset_minutes": rng.randrange(-720, 841),
        "institution_id": text(rng),
        "account_id": text(rng),
        "customer_id": text(rng),
        "account_type": rng.choice(account_types),
        "direction": rng.choice(directions),
        "channel": rng.choice(channels),
        "amount_minor": rng.choice([1, 63, 64, 8191, 8192, 10**15, -5, 2**63 - 1]),
        "currency": rng.choice(["USD", "CAD", "EUR", "JPY", "XYZ", ""]),
        "merchant": maybe(rng, {
            "merchant_id": text(rng), "name": maybe(rng, text(rng)),
            "mcc": f"{rng.randrange(10000):04d}",
            "city": maybe(rng, text(rng)), "region": maybe(rng, text(rng)),
            "country": maybe(rng, "US"),
        }),
        "counterparty": maybe(rng, {
            "account_id": maybe(rng, text(rng)), "institution_id": maybe(rng, text(rng)),
            "country": maybe(rng, "MX"), "name_hash": maybe(rng, "a" * 64),
            "ultimate_party_hash": maybe(rng, "b" * 64),
        }),
        "location": maybe(rng, {
            "city": maybe(rng, text(rng)), "region": maybe(rng, text(rng)),
            "country": maybe(rng, "CA"), "terminal_id": maybe(rng, text(rng)),
        }),
        "purpose": maybe(rng, rng.choice(["SALA", "PAYR", text(rng)])),
        "payroll": rng.random() < 0.5,
        "holder_phone_hash": maybe(rng, "1" * 64),
        "holder_email_hash": maybe(rng, "2" * 64),
        "holder_address_hash": maybe(rng, "3" * 64),
        "device_hash": maybe(rng, "4" * 64),
        "wallet_address_hash": maybe(rng, "5" * 64),
        "passenger_name_hashes": [text(rng) for _ in range(rng.choice([0, 0, 1, 3, 130]))],
    }  # fmt: skip


def encode(records: list[dict]) -> bytes:
    out = io.BytesIO()
    for r in records:
        fastavro.schemaless_writer(out, SCHEMA, r)
    return out.getvalue()


def test_blocks_decode_exactly_as_fastavro_decodes_them():
    rng = random.Random(20261201)
    records = [random_record(rng, i) for i in range(2_000)]
    buf = encode(records)
    ours = decode_block(buf, len(records))
    theirs = [fastavro.schemaless_reader(io.BytesIO(encode([r])), SCHEMA) for r in records]
    assert all(type(r) is PaymentRecord for r in ours)
    get = operator.itemgetter(*_TOP_FIELDS)
    assert [FIELDS_OF(r) for r in ours] == [get(r) for r in theirs]
    # Both kinds of record validate to the same events (or the same rejection).
    for a, b in zip(ours[:300], theirs[:300], strict=True):
        assert outcome(a) == outcome(b)


def outcome(rec):
    try:
        return to_event(rec, NOW_MS)
    except ValueError as exc:
        return str(exc)


def test_array_blocks_with_a_byte_size_are_read():
    """Writers may split an array into blocks and give a block's size (negative count)."""
    rec = random_record(random.Random(3), 0) | {"passenger_name_hashes": []}
    head = encode([rec])[:-1]  # all but the empty array's terminating 0
    items = [b"\x06abc", b"\x02d", b"\x00"]  # "abc", "d", ""

    block = fastavro_long(-3) + fastavro_long(sum(map(len, items))) + b"".join(items)
    buf = head + block + fastavro_long(1) + b"\x02e" + fastavro_long(0)
    (got,) = decode_block(buf, 1)
    assert got.passenger_name_hashes == ["abc", "d", "", "e"]


def fastavro_long(n: int) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, "long", n)
    return out.getvalue()


@pytest.mark.parametrize(
    "damage, error",
    [
        (lambda b: b[:-1], (IndexError, ValueError)),  # truncated
        (lambda b: b + b"\x00", ValueError),  # bytes left over
        (lambda b: b[:1] + b"\xff" * 11 + b[12:], ValueError),  # a varint past 64 bits
    ],
    ids=["truncated", "trailing-bytes", "overlong-varint"],
)
def test_damaged_blocks_raise(damage, error):
    buf = encode([random_record(random.Random(5), 0)])
    with pytest.raises(error):
        decode_block(damage(buf), 1)


def avro_string(value: str) -> bytes:
    data = value.encode()
    return fastavro_long(len(data)) + data


def test_an_unknown_enum_index_or_union_branch_raises():
    rec = random_record(random.Random(8), 0)
    buf = encode([rec])
    prefix = (
        avro_string(rec["event_id"]) + fastavro_long(rec["event_time"])
        + fastavro_long(rec["utc_offset_minutes"]) + avro_string(rec["institution_id"])
        + avro_string(rec["account_id"]) + avro_string(rec["customer_id"])
    )  # fmt: skip
    assert buf.startswith(prefix)
    at = len(prefix)  # account_type's index, one byte
    with pytest.raises(IndexError):
        decode_block(buf[:at] + fastavro_long(7) + buf[at + 1 :], 1)
    union = at + 3 + len(fastavro_long(rec["amount_minor"]) + avro_string(rec["currency"]))
    assert buf[union : union + 1] in (b"\x00", b"\x02")  # merchant: null or the record
    with pytest.raises(ValueError, match="union branch 2"):
        decode_block(buf[:union] + fastavro_long(2) + buf[union + 1 :], 1)


def write_container(path: Path, records: list[dict], schema=SCHEMA) -> Path:
    with open(path, "wb") as f:
        fastavro.writer(f, schema, records, codec="null", sync_interval=2_000)
    return path


@pytest.mark.skipif(not processors.NATIVE, reason=f"no compiled build: {processors.RUNS_AS}")
def test_read_avro_takes_the_fast_path_for_the_current_schema(tmp_path):
    rng = random.Random(11)
    records = [random_record(rng, i) for i in range(500)]
    got = list(read_avro(write_container(tmp_path / "ev.avro", records)))
    assert all(type(r) is PaymentRecord for r in got)  # fastavro would have made dicts
    get = operator.itemgetter(*_TOP_FIELDS)
    assert [FIELDS_OF(r) for r in got] == [get(r) for r in records]


def test_read_avro_leaves_other_writer_schemas_to_fastavro(tmp_path):
    """A file from an older publisher (v1 schema) is resolved by fastavro, as before."""
    v1 = fastavro.parse_schema(schema_json("payment_event.v1.avsc"))
    v1_names = {f["name"] for f in schema_json("payment_event.v1.avsc")["fields"]}
    rng = random.Random(12)
    records = [{k: v for k, v in random_record(rng, i).items() if k in v1_names} for i in range(50)]
    got = list(read_avro(write_container(tmp_path / "v1.avro", records, v1)))
    assert len(got) == 50 and all(isinstance(r, dict) for r in got)
    assert [r["event_id"] for r in got] == [r["event_id"] for r in records]


def test_a_corrupt_block_is_reported_once_after_the_good_ones(tmp_path):
    rng = random.Random(13)
    records = [random_record(rng, i) for i in range(400)]
    path = write_container(tmp_path / "ev.avro", records)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 40] = b"\xff" * 40
    path.write_bytes(bytes(data))
    got = list(read_avro(path))
    rejected = [r for r in got if isinstance(r, Rejected)]
    assert len(rejected) == 1 and got[-1] is rejected[0]
    assert rejected[0].reason == "undecodable" and "Avro container" in rejected[0].detail
    good = got[:-1]
    assert 0 < len(good) < len(records)
    get = operator.itemgetter(*_TOP_FIELDS)
    as_fields = [FIELDS_OF(r) if type(r) is PaymentRecord else get(r) for r in good]
    assert as_fields == [get(r) for r in records[: len(good)]]
    assert json.dumps(rejected[0].detail)  # a plain, printable reason
