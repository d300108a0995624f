"""Each detector in processors/indicators: patterns that must fire it and near misses that must not.

Events are built as decoded-Avro-shaped dicts and go through ``processors.validation.to_event``
so the validation layer is exercised on the way in; detectors are driven through the Engine
with the default rule set and a fresh AccountState, like the worker does.
"""

from __future__ import annotations

from typing import Any

import pytest

from processors import rules
from processors.engine import Engine
from processors.indicators.cash_in_wire_out import CashInWireOut
from processors.indicators.funnel_account import FunnelAccount
from processors.indicators.late_night_cash import LateNightCash
from processors.indicators.structuring import Structuring
from processors.model import IndicatorHit
from processors.state import AccountState
from processors.validation import to_event
from tests.support import card_record as rec
from tests.support import check_measured_hit as check_hit
from tests.support import mentions

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a midnight in UTC
NOW = T0 + 60 * DAY  # every event below is in the past relative to "now"


def hotel(event_id: str, t: int, city: str, mcc: str = "7011", **over: Any) -> dict[str, Any]:
    merchant = {"merchant_id": f"m-{city}", "mcc": mcc, "city": city, "country": "US"}
    return rec(event_id, t, merchant=merchant, amount_minor=15_000, **over)


def cash(event_id: str, t: int, **over: Any) -> dict[str, Any]:
    over.setdefault("channel", "ATM")
    over.setdefault("amount_minor", 20_000)
    return rec(event_id, t, **over)


def p2p_in(event_id: str, t: int, payer: str, amount_minor: int = 4_000, **over) -> dict:
    return rec(
        event_id,
        t,
        direction="CREDIT",
        channel="P2P",
        amount_minor=amount_minor,
        counterparty={"account_id": payer},
        **over,
    )


def wage(event_id: str, t: int, worker: str | None) -> dict[str, Any]:
    cp = {"account_id": "employer", "ultimate_party_hash": worker}
    return rec(
        event_id,
        t,
        direction="CREDIT",
        channel="ACH",
        amount_minor=80_000,
        payroll=True,
        counterparty=cp,
    )


def run(records: list[dict], code: str, engine: Engine | None = None) -> list[IndicatorHit]:
    """Feed records in order through a fresh state; return every hit of ``code``, in order."""
    engine = engine or Engine(rules.load())
    state = AccountState()
    out = []
    for r in records:
        result = engine.step(state, to_event(r, NOW), NOW)
        assert not result.duplicate
        out.extend(h for h in result.hits if h.code == code)
    return out


# --------------------------------------------------------------------------- HOTEL_MULTI_CITY


def test_hotel_three_cities_fires_on_the_third():
    events = [
        hotel("h1", T0 + 10 * HOUR, "Chicago"),
        hotel("h2", T0 + DAY + 10 * HOUR, "Detroit"),
        hotel("h3", T0 + 2 * DAY + 10 * HOUR, "Cleveland"),
    ]
    hits = run(events, "HOTEL_MULTI_CITY")
    assert len(hits) == 1
    check_hit(hits[0], 3, 3, ["h1", "h2", "h3"])
    assert hits[0].detected_event_time == events[2]["event_time"]
    assert hits[0].first_event_time == events[0]["event_time"]
    assert "3 distinct cities" in hits[0].explanation


def test_hotel_mcc_range_counts_as_lodging():
    # 3501-3799 are the chain-specific hotel MCCs.
    events = [
        hotel("h1", T0, "Chicago", mcc="3501"),
        hotel("h2", T0 + DAY, "Detroit", mcc="3799"),
        hotel("h3", T0 + 2 * DAY, "Cleveland", mcc="7011"),
    ]
    assert len(run(events, "HOTEL_MULTI_CITY")) == 1


def test_hotel_one_city_short_does_not_fire():
    # Four charges, but the same city twice (case and spaces differ): only two distinct cities.
    events = [
        hotel("h1", T0, "Chicago"),
        hotel("h2", T0 + DAY, "Detroit"),
        hotel("h3", T0 + 2 * DAY, " chicago "),
        hotel("h4", T0 + 3 * DAY, "DETROIT"),
    ]
    assert run(events, "HOTEL_MULTI_CITY") == []


def test_hotel_non_lodging_mcc_does_not_count():
    events = [
        hotel("h1", T0, "Chicago"),
        hotel("h2", T0 + DAY, "Detroit"),
        hotel("r3", T0 + 2 * DAY, "Cleveland", mcc="5812"),  # restaurant
        hotel("r4", T0 + 2 * DAY, "Toledo", mcc="3800"),  # just past the hotel range
    ]
    assert run(events, "HOTEL_MULTI_CITY") == []


def test_hotel_city_outside_window_does_not_count():
    # Default window is 168 h; the first charge is 8 days before the third.
    events = [
        hotel("h1", T0, "Chicago"),
        hotel("h2", T0 + 7 * DAY, "Detroit"),
        hotel("h3", T0 + 8 * DAY, "Cleveland"),
    ]
    assert run(events, "HOTEL_MULTI_CITY") == []


# --------------------------------------------------------------------------- LATE_NIGHT_CASH


def local(day: int, hour: int, minute: int, offset_min: int) -> int:
    """UTC epoch ms of a local wall-clock time on day ``day`` at UTC offset ``offset_min``."""
    return T0 + day * DAY + hour * HOUR + minute * 60_000 - offset_min * 60_000


def test_late_night_cash_uses_local_time_and_fires():
    # UTC+3: 22:00 local is 19:00 UTC and 05:59 local is 02:59 UTC. If the detector read UTC
    # hours, the 22:00 and 23:30 withdrawals (19:00 and 20:30 UTC) would not count.
    off = 180
    events = [
        cash("c1", local(0, 22, 0, off), utc_offset_minutes=off),
        cash("c2", local(1, 23, 30, off), utc_offset_minutes=off),
        cash(
            "c3",
            local(3, 5, 59, off),
            utc_offset_minutes=off,
            channel="CASH_DEPOSIT",
            direction="CREDIT",
        ),
    ]
    hits = run(events, "LATE_NIGHT_CASH")
    assert len(hits) == 1
    check_hit(hits[0], 3, 3, ["c1", "c2", "c3"])


def test_late_night_cash_2159_local_does_not_count():
    # UTC-5: 21:59 local is 02:59 UTC, which is "night" in UTC. It must not count.
    off = -300
    events = [
        cash("c1", local(0, 22, 0, off), utc_offset_minutes=off),
        cash("c2", local(1, 23, 0, off), utc_offset_minutes=off),
        cash("c3", local(2, 21, 59, off), utc_offset_minutes=off),
    ]
    assert run(events, "LATE_NIGHT_CASH") == []
    # The same third withdrawal one minute later (22:00 local) completes the pattern.
    events[2] = cash("c3", local(2, 22, 0, off), utc_offset_minutes=off)
    assert len(run(events, "LATE_NIGHT_CASH")) == 1


def test_late_night_cash_0600_local_is_morning():
    off = -300
    events = [
        cash("c1", local(0, 22, 0, off), utc_offset_minutes=off),
        cash("c2", local(1, 23, 0, off), utc_offset_minutes=off),
        cash("c3", local(2, 6, 0, off), utc_offset_minutes=off),
    ]
    assert run(events, "LATE_NIGHT_CASH") == []


def test_late_night_card_payment_is_not_cash():
    events = [
        cash("c1", local(0, 23, 0, 0)),
        cash("c2", local(1, 23, 0, 0)),
        rec("k3", local(2, 23, 0, 0), channel="CARD_PRESENT"),
    ]
    assert run(events, "LATE_NIGHT_CASH") == []


def test_late_night_detector_hours_direct():
    det = LateNightCash()
    at = {
        h: to_event(cash(f"e{h}", local(0, h, 0, 60), utc_offset_minutes=60), NOW)
        for h in range(24)
    }
    night = {h for h, ev in at.items() if det.accepts(ev)}
    assert night == {22, 23, 0, 1, 2, 3, 4, 5}


# --------------------------------------------------------------------------- MANY_SMALL_PAYERS


def small_payments(n: int, payers: int) -> list[dict]:
    return [p2p_in(f"p{i}", T0 + i * HOUR, f"payer-{i % payers}") for i in range(n)]


def test_many_small_payers_fires_at_ten_payments_from_five_payers():
    events = small_payments(10, 5)
    hits = run(events, "MANY_SMALL_PAYERS")
    assert len(hits) == 1
    check_hit(hits[0], 5, 5, [e["event_id"] for e in events])
    assert hits[0].detected_event_time == events[-1]["event_time"]
    assert "10 incoming payments" in hits[0].explanation


def test_many_small_payers_nine_payments_do_not_fire():
    assert run(small_payments(9, 5), "MANY_SMALL_PAYERS") == []


def test_many_small_payers_four_payers_do_not_fire():
    assert run(small_payments(12, 4), "MANY_SMALL_PAYERS") == []


def test_many_small_payers_100_dollars_is_not_small():
    events = small_payments(9, 5) + [p2p_in("big", T0 + 20 * HOUR, "payer-new", 10_000)]
    assert run(events, "MANY_SMALL_PAYERS") == []
    events[-1] = p2p_in("big", T0 + 20 * HOUR, "payer-new", 9_999)
    assert len(run(events, "MANY_SMALL_PAYERS")) == 1


def test_many_small_payers_ignores_payroll_and_debits():
    events = small_payments(9, 5)
    payroll = p2p_in("pay", T0 + 20 * HOUR, "payer-x", payroll=True)
    debit = rec("out", T0 + 21 * HOUR, channel="P2P", counterparty={"account_id": "payer-y"})
    assert run(events + [payroll, debit], "MANY_SMALL_PAYERS") == []


# --------------------------------------------------------------------------- STRUCTURING


def deposit(event_id: str, t: int, amount_minor: int, currency: str = "USD", **over) -> dict:
    over.setdefault("channel", "CASH_DEPOSIT")
    return rec(
        event_id, t, direction="CREDIT", amount_minor=amount_minor, currency=currency, **over
    )


def test_structuring_three_cash_deposits_just_under_ctr_fire():
    events = [
        deposit("s1", T0, 950_000),
        deposit("s2", T0 + DAY, 990_000),
        deposit("s3", T0 + 2 * DAY, 999_999),
    ]
    hits = run(events, "STRUCTURING")
    assert len(hits) == 1
    check_hit(hits[0], 3, 3, ["s1", "s2", "s3"])
    assert "9,999.99" in hits[0].explanation  # the largest amount is quoted


def test_structuring_exactly_at_limit_and_at_89_percent_do_not_count():
    base = [deposit("s1", T0, 950_000), deposit("s2", T0 + DAY, 950_000)]
    at_limit = deposit("s3", T0 + 2 * DAY, 1_000_000)  # exactly USD 10,000: a CTR is filed
    at_89 = deposit("s3", T0 + 2 * DAY, 890_000)  # 89 % of the limit: below the band
    assert run(base + [at_limit], "STRUCTURING") == []
    assert run(base + [at_89], "STRUCTURING") == []
    det = Structuring()
    assert not det.accepts(to_event(at_limit, NOW))
    assert not det.accepts(to_event(at_89, NOW))
    assert det.accepts(to_event(deposit("s3", T0, 905_000), NOW))


def test_structuring_cad_cash_compared_with_cad_limit():
    # CAD 9,500 is about USD 6,840 at the reference rate: only the CAD limit explains a hit.
    events = [deposit(f"c{i}", T0 + i * DAY, 950_000, "CAD") for i in range(3)]
    hits = run(events, "STRUCTURING")
    assert len(hits) == 1
    check_hit(hits[0], 3, 3, ["c0", "c1", "c2"])


def test_structuring_cad_cash_at_or_over_cad_limit_does_not_count():
    # CAD 10,000 exactly is the LCTR limit; CAD 13,500 is about USD 9,720, inside the *USD*
    # band, yet over the CAD limit, so it is reportable and not structuring.
    det = Structuring()
    assert not det.accepts(to_event(deposit("c", T0, 1_000_000, "CAD"), NOW))
    assert not det.accepts(to_event(deposit("c", T0, 1_350_000, "CAD"), NOW))
    events = [deposit(f"c{i}", T0 + i * DAY, 1_350_000, "CAD") for i in range(3)]
    assert run(events, "STRUCTURING") == []


def test_structuring_msb_wires_under_3000():
    events = [
        rec(
            f"w{i}",
            T0 + i * DAY,
            channel="WIRE",
            amount_minor=290_000,
            counterparty={"country": "FR"},
        )
        for i in range(3)
    ]
    hits = run(events, "STRUCTURING")
    assert len(hits) == 1
    check_hit(hits[0], 3, 3, ["w0", "w1", "w2"])
    # The same amounts by card have no reporting limit to stay under.
    cards = [rec(f"k{i}", T0 + i * DAY, amount_minor=290_000) for i in range(3)]
    assert run(cards, "STRUCTURING") == []


def test_structuring_deposits_outside_window_do_not_count():
    events = [
        deposit("s1", T0, 950_000),
        deposit("s2", T0 + 7 * DAY + HOUR, 950_000),
        deposit("s3", T0 + 8 * DAY, 950_000),
    ]
    assert run(events, "STRUCTURING") == []


# --------------------------------------------------------------------------- CASH_IN_WIRE_OUT


def wire_out(event_id: str, t: int, country: str, channel: str = "WIRE") -> dict:
    return rec(
        event_id,
        t,
        channel=channel,
        amount_minor=55_000,
        counterparty={"account_id": "bene", "country": country},
    )


def cash_in(event_id: str, t: int, amount_minor: int = 60_000) -> dict:
    return deposit(event_id, t, amount_minor)


def test_cash_in_wire_out_two_pairs_fire():
    events = [
        cash_in("c1", T0),
        wire_out("w1", T0 + HOUR, "MX"),
        cash_in("c2", T0 + 2 * HOUR),
        wire_out("w2", T0 + 73 * HOUR, "GT", channel="REMITTANCE"),  # 71 h after c2
    ]
    hits = run(events, "CASH_IN_WIRE_OUT")
    assert len(hits) == 1
    check_hit(hits[0], 2, 2, ["c1", "w1", "c2", "w2"])
    assert hits[0].detected_event_time == events[-1]["event_time"]


def test_cash_in_wire_out_non_corridor_country_does_not_count():
    events = [
        cash_in("c1", T0),
        wire_out("w1", T0 + HOUR, "MX"),
        cash_in("c2", T0 + 2 * HOUR),
        wire_out("w2", T0 + 3 * HOUR, "FR"),
    ]
    assert run(events, "CASH_IN_WIRE_OUT") == []
    assert not CashInWireOut().accepts(to_event(events[-1], NOW))


def test_cash_in_wire_out_cash_too_long_before_wire():
    events = [
        cash_in("c1", T0),
        wire_out("w1", T0 + HOUR, "MX"),
        cash_in("c2", T0 + 2 * HOUR),
        wire_out("w2", T0 + 75 * HOUR, "GT"),  # 73 h after c2, 75 h after c1: pair_hours is 72
    ]
    assert run(events, "CASH_IN_WIRE_OUT") == []


def test_cash_in_wire_out_small_cash_does_not_pair():
    events = [
        cash_in("c1", T0, 30_000),
        wire_out("w1", T0 + HOUR, "MX"),
        cash_in("c2", T0 + 2 * HOUR, 15_000),
        wire_out("w2", T0 + 3 * HOUR, "GT"),
    ]
    # Cash within 72 h of w1 is USD 300 and of w2 USD 450: both under the USD 500 minimum.
    assert run(events, "CASH_IN_WIRE_OUT") == []
    # Control: c1 at exactly USD 500 pairs with w1 and c2 at USD 500 with w2. A deposit
    # pays for one wire only, so c1 alone cannot make both pairs.
    events[0] = cash_in("c1", T0, 50_000)
    assert run(events, "CASH_IN_WIRE_OUT") == []
    events[2] = cash_in("c2", T0 + 2 * HOUR, 50_000)
    hits = run(events, "CASH_IN_WIRE_OUT")
    assert len(hits) == 1 and hits[0].measured == 2


# --------------------------------------------------------------------------- WAGE_CAPTURE


def test_wage_capture_three_workers_fire():
    events = [wage("a", T0, "w1"), wage("b", T0 + HOUR, "w2"), wage("c", T0 + 2 * HOUR, "w3")]
    hits = run(events, "WAGE_CAPTURE")
    assert len(hits) == 1
    check_hit(hits[0], 3, 3, ["a", "b", "c"])
    assert "3 different workers" in hits[0].explanation


def test_wage_capture_two_workers_do_not_fire():
    events = [
        wage("a", T0, "w1"),
        wage("b", T0 + HOUR, "w2"),
        wage("c", T0 + DAY, "w1"),
        wage("d", T0 + 2 * DAY, "w2"),
    ]
    assert run(events, "WAGE_CAPTURE") == []


def test_wage_capture_holders_own_pay_counts_as_one_worker():
    # No ultimate party: the wage is the holder's own. Holder + 1 other worker = 2.
    events = [wage("a", T0, None), wage("b", T0 + HOUR, None), wage("c", T0 + DAY, "w1")]
    assert run(events, "WAGE_CAPTURE") == []
    events.append(wage("d", T0 + DAY + HOUR, "w2"))
    hits = run(events, "WAGE_CAPTURE")
    assert len(hits) == 1 and hits[0].measured == 3


def test_wage_capture_outside_window_does_not_count():
    events = [
        wage("a", T0, "w1"),
        wage("b", T0 + 7 * DAY + HOUR, "w2"),
        wage("c", T0 + 8 * DAY, "w3"),
    ]
    assert run(events, "WAGE_CAPTURE") == []


# --------------------------------------------------------------------------- FUNNEL_ACCOUNT


def atm(event_id: str, t: int, region: str, direction: str, country: str = "CA") -> dict:
    location = {"city": "x", "region": region, "country": country}
    return rec(
        event_id, t, channel="ATM", direction=direction, amount_minor=30_000, location=location
    )


def test_funnel_two_deposit_regions_then_withdrawal_elsewhere_fires():
    events = [
        atm("d1", T0, "ON", "CREDIT"),
        atm("d2", T0 + DAY, "QC", "CREDIT"),
        atm("x", T0 + DAY + 5 * HOUR, "BC", "DEBIT"),
    ]
    hits = run(events, "FUNNEL_ACCOUNT")
    assert len(hits) == 1
    check_hit(hits[0], 2, 2, ["d1", "d2", "x"])
    assert "2 regions" in hits[0].explanation


def test_funnel_withdrawal_in_a_deposit_region_does_not_fire():
    events = [
        atm("d1", T0, "ON", "CREDIT"),
        atm("d2", T0 + DAY, "QC", "CREDIT"),
        atm("x", T0 + DAY + 5 * HOUR, "QC", "DEBIT"),
    ]
    assert run(events, "FUNNEL_ACCOUNT") == []


def test_funnel_same_region_code_in_another_country_is_another_region():
    events = [
        atm("d1", T0, "ON", "CREDIT"),
        atm("d2", T0 + DAY, "QC", "CREDIT"),
        atm("x", T0 + DAY + 5 * HOUR, "QC", "DEBIT", country="FR"),
    ]
    assert len(run(events, "FUNNEL_ACCOUNT")) == 1


def test_funnel_one_deposit_region_does_not_fire():
    events = [
        atm("d1", T0, "ON", "CREDIT"),
        atm("d2", T0 + DAY, "ON", "CREDIT"),
        atm("x", T0 + DAY + 5 * HOUR, "BC", "DEBIT"),
    ]
    assert run(events, "FUNNEL_ACCOUNT") == []


def test_funnel_withdrawal_too_late_after_last_deposit():
    events = [
        atm("d1", T0, "ON", "CREDIT"),
        atm("d2", T0 + DAY, "QC", "CREDIT"),
        atm("x", T0 + DAY + 73 * HOUR, "BC", "DEBIT"),
    ]
    assert run(events, "FUNNEL_ACCOUNT") == []


def test_funnel_deposit_outside_window_does_not_count():
    events = [
        atm("d1", T0, "ON", "CREDIT"),
        atm("d2", T0 + 7 * DAY, "QC", "CREDIT"),
        atm("x", T0 + 7 * DAY + 2 * HOUR, "BC", "DEBIT"),  # d1 is 170 h old: out of the window
    ]
    assert run(events, "FUNNEL_ACCOUNT") == []


def test_funnel_needs_a_region():
    ev = to_event(rec("x", T0, channel="ATM", location={"city": "Ottawa"}), NOW)
    assert not FunnelAccount().accepts(ev)


# --------------------------------------------------------------------------- shared behaviour


@pytest.mark.parametrize(
    "code,events",
    [
        (
            "HOTEL_MULTI_CITY",
            [hotel("h1", T0, "A"), hotel("h2", T0 + DAY, "B"), hotel("h3", T0 + 2 * DAY, "C")],
        ),
        (
            "WAGE_CAPTURE",
            [wage("a", T0, "w1"), wage("b", T0 + HOUR, "w2"), wage("c", T0 + 2 * HOUR, "w3")],
        ),
    ],
)
def test_out_of_order_event_is_sorted_into_the_slot(code, events):
    # The last event arrives first: the slot is kept in time order and the hit's first/last
    # times reflect event time, not arrival order.
    order = [events[2], events[0], events[1]]
    hits = run(order, code)
    assert len(hits) == 1
    assert hits[0].first_event_time == events[0]["event_time"]
    assert hits[0].detected_event_time == events[1]["event_time"]


def test_observe_directly_with_custom_params():
    det = LateNightCash(min_count=2, window_hours=24)
    slot: list[list] = []
    e1 = to_event(cash("n1", local(0, 23, 0, 0)), NOW)
    e2 = to_event(cash("n2", local(1, 23, 30, 0)), NOW)  # 24.5 h later: n1 leaves the window
    e3 = to_event(cash("n3", local(2, 1, 0, 0)), NOW)
    assert det.observe(slot, e1, e1.event_time) is None
    assert det.observe(slot, e2, e2.event_time) is None
    assert [e[1] for e in slot] == ["n2"]
    hit = det.observe(slot, e3, e3.event_time)
    assert hit is not None
    assert hit.event_ids == ["n2", "n3"] and hit.measured == 2 and hit.threshold == 2
    assert hit.window_seconds == 24 * 3600
    assert "within 1 day;" in hit.explanation


@pytest.mark.parametrize(
    "code,events,measured,threshold",
    [
        ("HOTEL_MULTI_CITY", [hotel(f"h{i}", T0 + i * DAY, c) for i, c in enumerate("ABCD")], 4, 3),
        ("LATE_NIGHT_CASH", [cash(f"c{i}", local(i, 23, 0, 0)) for i in range(4)], 4, 3),
        ("MANY_SMALL_PAYERS", small_payments(12, 6), 6, 5),
        ("STRUCTURING", [deposit(f"s{i}", T0 + i * DAY, 950_000) for i in range(4)], 4, 3),
        (
            "CASH_IN_WIRE_OUT",
            [
                cash_in("c1", T0),
                wire_out("w1", T0 + HOUR, "MX"),
                cash_in("c2", T0 + DAY),
                wire_out("w2", T0 + DAY + HOUR, "HN"),
                cash_in("c3", T0 + 2 * DAY),
                wire_out("w3", T0 + 2 * DAY + HOUR, "IN"),
            ],
            3,
            2,
        ),
        ("WAGE_CAPTURE", [wage(f"p{i}", T0 + i * HOUR, f"w{i}") for i in range(5)], 5, 3),
        (
            "FUNNEL_ACCOUNT",
            [
                atm("d1", T0, "ON", "CREDIT"),
                atm("d2", T0 + HOUR, "QC", "CREDIT"),
                atm("d3", T0 + 2 * HOUR, "NS", "CREDIT"),
                atm("x", T0 + 3 * HOUR, "BC", "DEBIT"),
            ],
            3,
            2,
        ),
    ],
)
def test_explanation_quotes_the_measured_value(code, events, measured, threshold):
    # measured differs from threshold here, so finding the number proves it is the measurement.
    hits = run(events, code)
    assert hits, f"{code} did not fire"
    last = hits[-1]
    assert last.detected_event_time == events[-1]["event_time"]
    assert last.measured == measured and last.threshold == threshold
    assert mentions(last.explanation, measured), last.explanation
    assert mentions(last.explanation, threshold), last.explanation
