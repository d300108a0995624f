"""The two shapes a record reaches to_event in (a dict from the Avro decoder or orjson, a
PaymentRecord from the backtest's typed JSON-lines reader) must be validated identically:
the same event, or the same rejection reason and detail, for every record."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from backtest.reading import read_jsonl
from processors.replay import Rejected
from processors.validation import InvalidEvent, PaymentRecord, to_event
from tests.processors.test_validation import NOW, rec

DECODE = msgspec.json.Decoder(PaymentRecord).decode


class _Absent:
    """A field left out of the record (not null)."""

    def __str__(self) -> str:
        return "<absent>"


ABSENT = _Absent()


def outcome(record: Any) -> Any:
    try:
        return to_event(record, NOW)
    except InvalidEvent as exc:
        return (exc.reason, exc.detail)


def variant(**over: Any) -> dict[str, Any]:
    record = rec(
        merchant={"merchant_id": "m1", "mcc": "7011", "city": "Reno", "country": "US"},
        location={"region": "NV", "terminal_id": "T1"},
        counterparty={"account_id": "cp", "country": "MX"},
        holder_phone_hash="ab" * 32,
        passenger_name_hashes=["p1"],
        payroll=True,
    )
    for key, value in over.items():
        if value is ABSENT:
            record.pop(key, None)
        else:
            record[key] = value
    return record


CASES = [
    {},
    *({name: ABSENT} for name in rec()),  # every field of the base record left out in turn
    *({name: None} for name in rec()),
    {"event_id": ""},
    {"event_id": 7},
    {"amount_minor": True},
    {"amount_minor": 1.5},
    {"amount_minor": -1},
    {"amount_minor": 10**15 + 1},
    {"currency": "XXX1"},
    {"event_time": NOW + 10**9},
    {"event_time": 5},
    {"event_time": "1767225600000"},
    {"utc_offset_minutes": 900},
    {"utc_offset_minutes": "60"},
    {"direction": "debit"},
    {"channel": None},
    {"account_type": None},
    {"merchant": {}},
    {"merchant": None},
    {"merchant": {"merchant_id": "m"}},
    {"merchant": {"merchant_id": "m", "mcc": 7011}},
    {"merchant": {"merchant_id": "m", "mcc": "5411", "country": "Mexico"}},
    {"location": {}},
    {"location": {"country": "us"}},
    {"location": {"country": "ÄÖ"}},
    {"counterparty": {}},
    {"counterparty": {"account_id": "x", "country": "mx"}},
    {"payroll": ABSENT},
    {"payroll": None},
    {"passenger_name_hashes": None},
    {"unknown_extra_field": {"nested": [1, 2]}},
]


@pytest.mark.parametrize("over", CASES, ids=lambda o: json.dumps(o, default=str)[:60])
def test_a_typed_record_is_validated_as_its_dict_is(over):
    record = variant(**over)
    typed = DECODE(json.dumps(record).encode())
    assert typed.__class__ is PaymentRecord
    assert outcome(typed) == outcome(record)


def test_the_cases_cover_both_outcomes():
    results = [outcome(variant(**over)) for over in CASES]
    assert any(isinstance(r, tuple) for r in results)  # rejections
    assert any(not isinstance(r, tuple) for r in results)  # events


def test_reader_yields_typed_records_and_rejects_what_is_not_an_object(tmp_path):
    good = variant()
    path = tmp_path / "events.jsonl"
    path.write_text(
        "\n".join([json.dumps(good), "", "not json", "[1, 2]", '{"event_id": "e"', "   "]) + "\n"
    )
    out = list(read_jsonl(path))
    assert out[0].__class__ is PaymentRecord and outcome(out[0]) == outcome(good)
    rejected = [(r.reason, r.detail.split(":")[0]) for r in out[1:]]
    assert all(isinstance(r, Rejected) for r in out[1:])
    assert rejected == [
        ("undecodable", "line 3"),
        ("undecodable", "line 4"),
        ("undecodable", "line 5"),
    ]  # blank lines (2 and 6) are skipped, as they always were
