"""File publishing: every bad line is named with its number and reason, good lines still go.

The unit tests need no broker; the integration test publishes to a fresh topic on the local
stack and reads it back, so it checks what actually lands on Kafka.
"""

from __future__ import annotations

import io
import json
import time

import pytest

from config import settings
from publisher import cli as publish_cli
from publisher.files import Prepared, Rejection, prepare, read_csv, read_jsonl
from schemas.codec import AvroCodec
from simulator.clock import DAY_MS
from simulator.simulation import generate

NOW = 1_790_000_000_000
CODEC = AvroCodec("payment_event")


def _record(**over):
    rec = {
        "event_id": "e-1",
        "event_time": NOW - 60_000,
        "utc_offset_minutes": -300,
        "institution_id": "bank-us-01",
        "account_id": "acc-1",
        "customer_id": "cus-1",
        "account_type": "PERSONAL",
        "direction": "DEBIT",
        "channel": "CARD_PRESENT",
        "amount_minor": 1250,
        "currency": "USD",
        "merchant": {"merchant_id": "m-1", "name": "Budget Inn", "mcc": "7011", "city": "Boston"},
        "counterparty": None,
        "location": None,
    }
    rec.update(over)
    return rec


def _prepare(rows):
    return list(prepare(rows, CODEC, clock=lambda: NOW))


def _rejections(items):
    return [str(i) for i in items if isinstance(i, Rejection)]


def test_jsonl_good_and_bad_lines_with_numbers():
    lines = [
        json.dumps(_record()),
        "",  # blank lines are skipped but still counted
        "{not json",
        "[1, 2]",
        json.dumps(_record(event_id="e-2", currency="XYZ")),
        json.dumps(_record(event_id="e-3", event_time=NOW + 3_600_000)),
        json.dumps(_record(event_id="e-4", channel="TELEPORT")),
        json.dumps(_record(event_id="e-5", colour="red")),
        json.dumps(_record(event_id="e-6", merchant={"mcc": "7011"})),
        json.dumps(_record(event_id="e-7", device_hash=5)),
        json.dumps(_record(event_id="e-8", amount_minor=-5)),
        json.dumps(_record(event_id="e-9", merchant=None, channel="ATM")),
    ]
    items = _prepare(read_jsonl(lines))
    good = [i for i in items if isinstance(i, Prepared)]
    assert [i.line for i in good] == [1, 12]
    assert good[0].key == b"acc-1"
    assert CODEC.decode(good[0].value)["event_id"] == "e-1"
    bad = _rejections(items)
    assert bad[0].startswith("line 3: undecodable: not JSON")
    assert bad[1] == "line 4: undecodable: each line must hold one JSON object"
    assert bad[2].startswith("line 5: unknown_currency: currency 'XYZ'")
    assert bad[3].startswith("line 6: future_event_time:")
    assert bad[4].startswith("line 7: invalid_field: channel must be one of")
    assert bad[5] == "line 8: invalid_field: unknown field colour"
    assert bad[6] == "line 9: missing_field: merchant.merchant_id is missing or null"
    assert bad[7] == "line 10: invalid_field: device_hash must be a string, got int"
    assert bad[8].startswith("line 11: invalid_amount:")
    assert len(bad) == 9


def test_jsonl_omitted_defaults_are_filled():
    rec = _record()
    for name in ("utc_offset_minutes", "account_type", "merchant", "counterparty", "location"):
        rec.pop(name)
    (item,) = _prepare(read_jsonl([json.dumps(rec)]))
    assert isinstance(item, Prepared)
    decoded = CODEC.decode(item.value)
    assert decoded["utc_offset_minutes"] == 0 and decoded["merchant"] is None
    assert decoded["passenger_name_hashes"] == [] and decoded["payroll"] is False


CSV_HEADER = (
    "event_id,event_time,utc_offset_minutes,institution_id,account_id,customer_id,direction,"
    "channel,amount_minor,currency,merchant.merchant_id,merchant.mcc,merchant.city,"
    "counterparty.account_id,counterparty.country,counterparty.ultimate_party_hash,"
    "location.city,location.region,payroll,passenger_name_hashes"
)


def _csv_row(**cells):
    row = {
        "event_id": "c-1",
        "event_time": str(NOW - 60_000),
        "utc_offset_minutes": "",
        "institution_id": "bank-us-01",
        "account_id": "acc-7",
        "customer_id": "cus-7",
        "direction": "DEBIT",
        "channel": "CARD_PRESENT",
        "amount_minor": "8900",
        "currency": "USD",
        "merchant.merchant_id": "m-9",
        "merchant.mcc": "7011",
        "merchant.city": "Houston",
        "counterparty.account_id": "",
        "counterparty.country": "",
        "counterparty.ultimate_party_hash": "",
        "location.city": "Houston",
        "location.region": "US-TX",
        "payroll": "",
        "passenger_name_hashes": "",
    }
    row.update(cells)
    return ",".join(row[c] for c in CSV_HEADER.split(","))


def test_csv_dotted_columns_become_nested_records():
    lines = [
        CSV_HEADER,
        _csv_row(),
        _csv_row(
            event_id="c-2",
            direction="CREDIT",
            channel="ACH",
            **{"merchant.merchant_id": "", "merchant.mcc": "", "merchant.city": ""},
            **{"counterparty.account_id": "emp-1", "counterparty.country": "US"},
            **{"counterparty.ultimate_party_hash": "ab" * 32, "location.city": ""},
            **{"location.region": "", "payroll": "true", "passenger_name_hashes": "x;y"},
        ),
    ]
    rows = list(read_csv(lines))
    assert [n for n, _ in rows] == [2, 3]
    first, second = rows[0][1], rows[1][1]
    assert first["merchant"] == {
        "merchant_id": "m-9",
        "name": None,
        "mcc": "7011",
        "city": "Houston",
        "region": None,
        "country": None,
    }
    assert first["counterparty"] is None
    assert first["location"]["region"] == "US-TX"
    assert first["event_time"] == NOW - 60_000 and first["amount_minor"] == 8900
    assert "utc_offset_minutes" not in first and "payroll" not in first  # default applies
    assert second["merchant"] is None and second["location"] is None
    assert second["counterparty"]["ultimate_party_hash"] == "ab" * 32
    assert second["payroll"] is True and second["passenger_name_hashes"] == ["x", "y"]
    items = _prepare(rows)
    assert all(isinstance(i, Prepared) for i in items), _rejections(items)
    decoded = CODEC.decode(items[1].value)
    assert decoded["utc_offset_minutes"] == 0 and decoded["counterparty"]["country"] == "US"


def test_csv_rejections_name_line_and_cell():
    lines = [
        CSV_HEADER,
        _csv_row(amount_minor="12.50"),
        _csv_row(event_id="c-3", payroll="maybe"),
        "too,few,cells",
        _csv_row(event_id='"c-4\nwith a line break"'),  # one record over two physical lines
        _csv_row(event_id="c-5", currency="usd"),
    ]
    items = _prepare(read_csv(io.StringIO("\n".join(lines) + "\n", newline="")))
    assert _rejections(items) == [
        "line 2: invalid_field: amount_minor must be an integer, got '12.50'",
        "line 3: invalid_field: payroll must be true or false, got 'maybe'",
        "line 4: undecodable: expected 20 cells, got 3",
        "line 7: unknown_currency: currency 'usd' is not an ISO 4217 code",
    ]
    assert [i.line for i in items if isinstance(i, Prepared)] == [5]


def test_csv_unknown_column_rejects_the_header():
    lines = ["event_id,amount,merchant.colour", "a,1,red"]
    assert _rejections(_prepare(read_csv(lines))) == [
        "line 1: invalid_field: unknown column 'amount'"
    ]
    assert _rejections(_prepare(read_csv(["merchant", "x"]))) == [
        "line 1: invalid_field: unknown column 'merchant'"
    ]


def test_main_unreadable_file(tmp_path, capsys):
    assert publish_cli.main([str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.integration
def test_publish_file_to_real_broker(stack, tmp_path, capsys, monkeypatch):
    from confluent_kafka import TopicPartition

    from streams.topics import ensure_topics
    from tests.support import consumer as support_consumer
    from tests.support import isolated_env

    # A fresh app: its own payments topic, which its publisher principal may write.
    env = isolated_env(tmp_path, CB_PARTITIONS="1")
    for name, value in env.items():
        if name.startswith("CB_"):
            monkeypatch.setenv(name, value)
    cfg = settings.load()
    topic = cfg.topic_payments
    ensure_topics(cfg)
    events, _ = generate(9, 40, 1, int(time.time() * 1000) - 2 * DAY_MS, cfg.hash_key)
    good = [next(events) for _ in range(6)]
    lines = [json.dumps(r) for r in good[:3]]
    lines += ["{broken", json.dumps({**good[0], "currency": "ZZZ"})]
    lines += [json.dumps(r) for r in good[3:]]
    lines.append(json.dumps({**good[1], "event_time": int(time.time() * 1000) + DAY_MS}))
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")

    assert publish_cli.main([str(path)]) == 1
    out, err = capsys.readouterr()
    assert "publish: 6 published, 3 rejected, 0 delivery failures" in out
    assert "line 4: undecodable" in err and "line 5: unknown_currency" in err
    assert "line 9: future_event_time" in err

    consumer = support_consumer(cfg, f"{topic}-reader")
    consumer.assign([TopicPartition(topic, 0, 0)])
    got, deadline = [], time.monotonic() + 30
    while len(got) < len(good) and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            got.append(msg)
    extra = consumer.poll(1.0)
    consumer.close()
    codec = AvroCodec("payment_event")
    assert [codec.decode(m.value()) for m in got] == good
    assert [m.key() for m in got] == [r["account_id"].encode() for r in good]
    assert extra is None or extra.error() is not None
