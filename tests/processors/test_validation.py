"""Decoded record -> PaymentEvent: every rejection reason, and currency handling."""

from __future__ import annotations

from typing import Any

import pytest

from processors.currency import DEFAULT_USD_PER_UNIT, ISO_4217, exponent
from processors.indicators.cash_in_wire_out import CashInWireOut
from processors.indicators.many_small_payers import ManySmallPayers
from processors.indicators.structuring import Structuring
from processors.validation import REASONS, InvalidEvent, to_event

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SKEW = 300_000  # the default max_future_skew_ms


def rec(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": "evt-1",
        "event_time": NOW - 3_600_000,
        "utc_offset_minutes": 0,
        "institution_id": "bank-1",
        "account_id": "acct-1",
        "customer_id": "cust-1",
        "direction": "DEBIT",
        "channel": "CASH_DEPOSIT",
        "amount_minor": 12_345,
        "currency": "USD",
    }
    base.update(over)
    return base


def rejected(record: dict, **kw: Any) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as info:
        to_event(record, NOW, **kw)
    assert info.value.reason in REASONS
    assert str(info.value).startswith(info.value.reason + ": ")
    return info.value


def test_a_good_record_becomes_an_event():
    ev = to_event(rec(), NOW)
    assert (ev.event_id, ev.account_id, ev.direction, ev.channel) == (
        "evt-1",
        "acct-1",
        "DEBIT",
        "CASH_DEPOSIT",
    )
    assert ev.amount_usd == pytest.approx(123.45)
    assert ev.account_type == "PERSONAL" and ev.passenger_name_hashes == []


def test_nested_fields_are_flattened():
    ev = to_event(
        rec(
            merchant={"merchant_id": "m1", "mcc": "7011", "city": "Reno", "country": "US"},
            location={"region": "NV", "terminal_id": "T1"},
            counterparty={
                "account_id": "cp",
                "country": "MX",
                "name_hash": "n",
                "ultimate_party_hash": "u",
            },
        ),
        NOW,
    )
    assert ev.mcc == 7011 and ev.merchant_id == "m1"
    assert (ev.city, ev.region, ev.country, ev.terminal_id) == ("Reno", "NV", "US", "T1")
    assert (ev.counterparty_account, ev.counterparty_country) == ("cp", "MX")
    assert (ev.counterparty_name_hash, ev.ultimate_party_hash) == ("n", "u")


# --------------------------------------------------------------------------- missing_field


@pytest.mark.parametrize("name", ["event_id", "institution_id", "account_id", "customer_id"])
@pytest.mark.parametrize("value", ["<absent>", None, "", 7])
def test_missing_or_empty_required_string(name, value):
    r = rec()
    if value == "<absent>":
        del r[name]
    else:
        r[name] = value
    err = rejected(r)
    assert err.reason == "missing_field"
    assert name in err.detail


@pytest.mark.parametrize("value", ["<absent>", None, "100", 1.5, True])
def test_missing_or_non_integer_amount(value):
    r = rec()
    if value == "<absent>":
        del r["amount_minor"]
    else:
        r["amount_minor"] = value
    err = rejected(r)
    assert err.reason == "missing_field" and "amount_minor" in err.detail


@pytest.mark.parametrize("value", ["<absent>", None, "1767225600000", 1.7e12])
def test_missing_or_non_integer_event_time(value):
    r = rec()
    if value == "<absent>":
        del r["event_time"]
    else:
        r["event_time"] = value
    err = rejected(r)
    assert err.reason == "missing_field" and "event_time" in err.detail


# --------------------------------------------------------------------------- invalid_amount


@pytest.mark.parametrize("amount", [0, -1, -50_000, 10**15 + 1])
def test_invalid_amount(amount):
    err = rejected(rec(amount_minor=amount))
    assert err.reason == "invalid_amount"
    assert str(amount) in err.detail


def test_largest_allowed_amount_passes():
    assert to_event(rec(amount_minor=10**15), NOW).amount_minor == 10**15


# --------------------------------------------------------------------------- unknown_currency


@pytest.mark.parametrize("currency", ["usd", "XXX", "US", "", None, "BTC"])
def test_unknown_currency(currency):
    err = rejected(rec(currency=currency))
    assert err.reason == "unknown_currency"


# --------------------------------------------------------------------------- event time


def test_future_event_time_beyond_skew_is_rejected():
    err = rejected(rec(event_time=NOW + SKEW + 1))
    assert err.reason == "future_event_time"
    err = rejected(rec(event_time=NOW + 3_600_000))
    assert err.reason == "future_event_time" and "3600s" in err.detail


def test_future_event_time_within_skew_passes():
    assert to_event(rec(event_time=NOW + SKEW), NOW).event_time == NOW + SKEW
    assert to_event(rec(event_time=NOW + SKEW - 1), NOW).event_time == NOW + SKEW - 1


def test_skew_is_configurable():
    t = NOW + 10_000
    assert to_event(rec(event_time=t), NOW, max_future_skew_ms=10_000).event_time == t
    err = rejected(rec(event_time=t), max_future_skew_ms=9_999)
    assert err.reason == "future_event_time"


@pytest.mark.parametrize("t", [0, 946_684_799_999, -1])
def test_event_time_before_2000_is_invalid(t):
    err = rejected(rec(event_time=t))
    assert err.reason == "invalid_event_time"


def test_event_time_at_2000_passes():
    assert to_event(rec(event_time=946_684_800_000), NOW).event_time == 946_684_800_000


# --------------------------------------------------------------------------- invalid_field


@pytest.mark.parametrize("mcc", ["701", "70111", "70a1", 7011, None, ""])
def test_bad_mcc(mcc):
    err = rejected(rec(merchant={"merchant_id": "m", "mcc": mcc}))
    assert err.reason == "invalid_field" and "mcc" in err.detail


@pytest.mark.parametrize("country", ["us", "USA", "U1", "1", 1])
def test_bad_location_country(country):
    err = rejected(rec(location={"country": country}))
    assert err.reason == "invalid_field" and "country" in err.detail


def test_bad_merchant_country():
    err = rejected(rec(merchant={"merchant_id": "m", "mcc": "5411", "country": "Mexico"}))
    assert err.reason == "invalid_field" and "country" in err.detail


def test_bad_counterparty_country():
    err = rejected(rec(counterparty={"account_id": "x", "country": "mx"}))
    assert err.reason == "invalid_field" and "counterparty.country" in err.detail


@pytest.mark.parametrize("offset", [-721, 841, "60", 1.5, None])
def test_bad_utc_offset(offset):
    err = rejected(rec(utc_offset_minutes=offset))
    assert err.reason == "invalid_field" and "utc_offset_minutes" in err.detail


@pytest.mark.parametrize("offset", [-720, 0, 330, 840])
def test_utc_offset_edges_pass(offset):
    assert to_event(rec(utc_offset_minutes=offset), NOW).utc_offset_minutes == offset


def test_absent_utc_offset_defaults_to_zero():
    r = rec()
    del r["utc_offset_minutes"]
    assert to_event(r, NOW).utc_offset_minutes == 0


@pytest.mark.parametrize("direction", ["IN", "debit", None, ""])
def test_bad_direction(direction):
    err = rejected(rec(direction=direction))
    assert err.reason == "invalid_field" and "direction" in err.detail


# --------------------------------------------------------------------------- currency


def test_exponents():
    assert exponent("USD") == 2 and exponent("JPY") == 0 and exponent("KWD") == 3
    assert {"JPY", "KWD", "USD", "CAD"} <= ISO_4217


def test_jpy_has_no_minor_unit():
    # 10,000 yen (amount_minor is yen) at the reference rate.
    ev = to_event(rec(currency="JPY", amount_minor=10_000), NOW)
    assert ev.amount_usd == pytest.approx(10_000 * DEFAULT_USD_PER_UNIT["JPY"])
    # Read as if it had cents it would be 100 times smaller.
    assert ev.amount_usd > 50


def test_kwd_has_three_decimals():
    # 1,500 fils = 1.5 dinar; with a rate of 3.25 USD per dinar that is USD 4.875.
    ev = to_event(rec(currency="KWD", amount_minor=1_500), NOW, usd_per_unit={"KWD": 3.25})
    assert ev.amount_usd == pytest.approx(4.875)


def test_unknown_rate_gives_negative_usd_and_cannot_trip_usd_thresholds():
    assert "KWD" in ISO_4217 and "KWD" not in DEFAULT_USD_PER_UNIT
    # 3,000 dinar (about USD 9,800 at a real rate) in cash: valid, but no USD value is known.
    cash = to_event(rec(currency="KWD", amount_minor=3_000_000), NOW)
    assert cash.amount_usd < 0
    assert not Structuring().accepts(cash)
    wire = to_event(rec(currency="KWD", amount_minor=900_000, channel="WIRE"), NOW)
    assert not Structuring().accepts(wire)
    small = to_event(
        rec(
            currency="KWD",
            amount_minor=10_000,
            direction="CREDIT",
            channel="P2P",
            counterparty={"account_id": "payer"},
        ),
        NOW,
    )
    assert not ManySmallPayers().accepts(small)
    # A cash deposit with no USD value adds nothing to cash-in totals.
    dep = to_event(rec(currency="KWD", amount_minor=3_000_000, direction="CREDIT"), NOW)
    assert CashInWireOut().entry(dep)[3] == 0.0
    # The same amount with a rate supplied is an ordinary positive USD amount.
    priced = to_event(rec(currency="KWD", amount_minor=3_000_000), NOW, usd_per_unit={"KWD": 3.25})
    assert priced.amount_usd == pytest.approx(9_750.0)
    assert Structuring().accepts(priced)


def test_invalid_event_reason_must_be_known():
    with pytest.raises(AssertionError):
        InvalidEvent("made_up_reason", "x")
