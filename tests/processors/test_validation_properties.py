"""Property tests of validation (hypothesis): anything `to_event` accepts satisfies the event
contract, and anything it refuses is refused with a reason from the fixed set.

Records are drawn from near the contract (valid ones with one or more fields replaced by an
arbitrary value of any JSON-like type), since the interesting cases are near misses, and also
from anywhere (arbitrary dicts). The same holds through the Avro path (what the worker reads)
and through the publisher's file checks (what `chainbreaker publish` sends).
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.currency import ISO_4217
from processors.model import PaymentEvent
from processors.validation import MAX_PASSENGERS, MAX_TEXT, REASONS, InvalidEvent, to_event
from publisher.files import Prepared, Rejection, prepare, read_csv, read_jsonl
from schemas.codec import AvroCodec

NOW = 1_790_000_000_000
SKEW = 300_000
EARLIEST = 946_684_800_000
CODEC = AvroCodec("payment_event")

VALID = {
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
    "merchant": {
        "merchant_id": "m-1",
        "name": "Inn",
        "mcc": "7011",
        "city": "Boston",
        "region": "MA",
        "country": "US",
    },  # fmt: skip
    "counterparty": None,
    "location": {"city": "Boston", "region": "MA", "country": "US", "terminal_id": "t-1"},
    "purpose": None,
    "payroll": False,
    "holder_phone_hash": "a" * 64,
}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.text(min_size=250, max_size=300)  # around MAX_TEXT
    | st.sampled_from(["", "USD", "EUR", "US", "7011", "DEBIT", "CREDIT", "ZZZ", "0000", "٧٠١١"])
)
anything = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8),
                                                                         inner, max_size=3),
    max_leaves=8,
)  # fmt: skip
nested_keys = {
    "merchant": ["merchant_id", "name", "mcc", "city", "region", "country"],
    "location": ["city", "region", "country", "terminal_id"],
    "counterparty": ["account_id", "institution_id", "country", "name_hash",
                     "ultimate_party_hash"],
}  # fmt: skip


@st.composite
def near_miss(draw) -> dict:
    """A valid record with 1-4 fields (top-level or nested) replaced, or removed."""
    rec = json.loads(json.dumps(VALID))
    for _ in range(draw(st.integers(1, 4))):
        field = draw(st.sampled_from(sorted({*VALID, *nested_keys, "passenger_name_hashes"})))
        if field in nested_keys and isinstance(rec.get(field), dict) and draw(st.booleans()):
            sub = draw(st.sampled_from(nested_keys[field]))
            rec[field][sub] = draw(anything)
        elif draw(st.integers(0, 5)) == 0:
            rec.pop(field, None)
        else:
            rec[field] = draw(anything)
    return rec


def satisfies_contract(e: PaymentEvent) -> None:
    """What every consumer of an accepted event may rely on (docs/architecture.md)."""
    for name in ("event_id", "institution_id", "account_id", "customer_id"):
        value = getattr(e, name)
        assert isinstance(value, str) and 0 < len(value) <= MAX_TEXT, name
    assert isinstance(e.amount_minor, int) and not isinstance(e.amount_minor, bool)
    assert 0 < e.amount_minor <= 10**15
    assert e.currency in ISO_4217
    assert isinstance(e.event_time, int) and EARLIEST <= e.event_time <= NOW + SKEW
    assert isinstance(e.utc_offset_minutes, int) and -720 <= e.utc_offset_minutes <= 840
    assert e.direction in ("DEBIT", "CREDIT")
    assert isinstance(e.account_type, str) and isinstance(e.channel, str)
    assert e.mcc is None or (isinstance(e.mcc, int) and 0 <= e.mcc <= 9999)
    for name in ("country", "counterparty_country"):
        value = getattr(e, name)
        assert value is None or (len(value) == 2 and value.isascii() and value.isupper()), name
    for name in ("merchant_id", "city", "region", "terminal_id", "counterparty_account",
                 "counterparty_institution", "counterparty_name_hash", "ultimate_party_hash",
                 "purpose", "holder_phone_hash", "holder_email_hash", "holder_address_hash",
                 "device_hash", "wallet_address_hash"):  # fmt: skip
        value = getattr(e, name)
        assert value is None or (isinstance(value, str) and len(value) <= MAX_TEXT), name
    assert isinstance(e.passenger_name_hashes, list)
    assert len(e.passenger_name_hashes) <= MAX_PASSENGERS
    assert all(isinstance(p, str) and len(p) <= MAX_TEXT for p in e.passenger_name_hashes)
    assert isinstance(e.payroll, bool)
    assert isinstance(e.amount_usd, float)


def check(rec) -> str:
    """'ok' or the refusal's reason; anything else escaping is a failure of the property."""
    try:
        event = to_event(rec, NOW, SKEW)
    except InvalidEvent as exc:
        assert exc.reason in REASONS, exc.reason
        assert exc.detail
        return exc.reason
    satisfies_contract(event)
    return "ok"


def test_the_valid_record_is_accepted() -> None:
    assert check(VALID) == "ok"


@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_miss())
def test_near_misses_are_accepted_only_within_the_contract(rec: dict) -> None:
    check(rec)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.text(max_size=12), anything, max_size=12) | anything)
def test_arbitrary_values_are_refused_with_a_reason(rec) -> None:
    if not isinstance(rec, dict):
        rec = {"value": rec}
    assert check(rec) in REASONS


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_miss())
def test_what_the_publisher_sends_decodes_and_validates(rec: dict) -> None:
    """A line `chainbreaker publish` accepts is encoded; the worker reads the same event back
    (the Avro path), and a refused line has a reason from the fixed set."""
    [item] = list(prepare(read_jsonl([json.dumps(rec)]), CODEC, SKEW, clock=lambda: NOW))
    if isinstance(item, Rejection):
        assert item.reason in REASONS, item
        return
    assert isinstance(item, Prepared)
    decoded = CODEC.decode(item.value)
    assert check(decoded) == "ok"
    assert item.key == decoded["account_id"].encode()


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=4))
def test_csv_rows_of_anything_are_refused_or_valid(cells: list[str]) -> None:
    header = ",".join(["event_id", "event_time", "institution_id", "account_id", "customer_id",
                       "direction", "amount_minor", "currency"])  # fmt: skip
    row = ",".join(json.dumps(c) for c in cells)
    for item in prepare(read_csv([header + "\n", row + "\n"]), CODEC, SKEW, clock=lambda: NOW):
        if isinstance(item, Rejection):
            assert item.reason in REASONS, item
        else:
            assert check(CODEC.decode(item.value)) == "ok"
