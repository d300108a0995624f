"""The rest of the per-account catalog (issue #3): for each detector, patterns that must fire it
and near misses that must not.

Events are decoded-Avro-shaped dicts that go through ``processors.validation.to_event``, then
through the Engine with the default rule set (or a copy with a watchlist filled in) and a fresh
AccountState, as the worker runs them.
"""

from __future__ import annotations

import ast
import copy
from typing import Any

import pytest

from processors import rules
from processors.engine import Engine
from processors.indicators import CATALOG
from processors.indicators.base import MAX_SLOT_ENTRIES
from processors.model import IndicatorHit, Typology
from processors.state import AccountState
from processors.validation import to_event
from tests.support import ROOT, check_measured_hit, mentions
from tests.support import card_record as rec

HOUR = 3_600_000
DAY = 24 * HOUR
WEEK = 7 * DAY
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a Thursday
MON = T0 + 4 * DAY  # 2026-01-05, a Monday: weekly buckets start on Mondays, 00:00 UTC
NOW = T0 + 400 * DAY  # every event below is in the past relative to "now"

NEW_CODES = (
    "AD_SITE_PAYMENTS",
    "FREQUENT_TRAVEL",
    "RIDE_SHARE_BURST",
    "SUSTAINING_SPEND",
    "AFTER_HOURS_ADULT_SERVICES",
    "CRYPTO_SMALL_MULTIPLES",
    "PREPAID_BURST",
    "INTEL_IDENTIFIER_MATCH",
    "CASH_FRONT_BUSINESS",
    "LOW_PAYROLL",
    "UNLICENSED_RECRUITER",
)


def card(event_id: str, t: int, mcc: str, amount_minor: int = 5_000, **over: Any) -> dict:
    merchant = over.pop("merchant", None) or {
        "merchant_id": f"m-{mcc}",
        "mcc": mcc,
        "city": over.pop("city", "Chicago"),
        "country": "US",
    }
    return rec(event_id, t, merchant=merchant, amount_minor=amount_minor, **over)


def engine_with(code: str, **params: Any) -> Engine:
    doc = copy.deepcopy(rules.default_document())
    doc["indicators"][code]["params"].update(params)
    return Engine(rules.parse(doc))


def run(records: list[dict], code: str, engine: Engine | None = None) -> list[IndicatorHit]:
    """Feed records in order through a fresh state; return every hit of ``code``, in order."""
    engine = engine or Engine(rules.load())
    state = AccountState()
    out = []
    for r in records:
        result = engine.step(state, to_event(r, NOW), NOW)
        assert not result.duplicate
        out.extend(h for h in result.hits if h.code == code)
    # The state of every detector stays serialisable (the worker keeps it in a changelog).
    assert AccountState.loads(state.dumps()).slots == state.slots
    return out


def check_hit(hit: IndicatorHit, measured: float, threshold: float, ids: list[str]) -> None:
    check_measured_hit(hit, measured, threshold, ids)
    assert mentions(hit.explanation, threshold), hit.explanation


# --------------------------------------------------------------------------- AD_SITE_PAYMENTS

SITE = "adsite-0001"


def ad(event_id: str, t: int, amount_minor: int = 1_050, merchant_id: str = SITE, **over) -> dict:
    merchant = {"merchant_id": merchant_id, "mcc": over.pop("mcc", "5818"), "country": "US"}
    over.setdefault("channel", "CARD_NOT_PRESENT")
    return rec(event_id, t, merchant=merchant, amount_minor=amount_minor, **over)


def ad_engine() -> Engine:
    return engine_with("AD_SITE_PAYMENTS", merchant_ids=[SITE])


def test_ad_site_five_payments_to_a_listed_site_fire():
    events = [ad(f"a{i}", T0 + i * DAY) for i in range(5)]
    hits = run(events, "AD_SITE_PAYMENTS", ad_engine())
    assert len(hits) == 1
    check_hit(hits[0], 5, 5, [f"a{i}" for i in range(5)])
    assert "watchlisted classified-ad sites" in hits[0].explanation
    assert hits[0].source == "FINTRAC-2016-OA003"


def test_ad_site_four_payments_do_not_fire():
    events = [ad(f"a{i}", T0 + i * DAY) for i in range(4)]
    assert run(events, "AD_SITE_PAYMENTS", ad_engine()) == []


def test_ad_site_card_present_or_unlisted_or_credit_do_not_count():
    events = [ad(f"a{i}", T0 + i * HOUR) for i in range(4)]
    events += [
        ad("cp", T0 + 5 * HOUR, channel="CARD_PRESENT"),
        ad("other", T0 + 6 * HOUR, merchant_id="adsite-9999"),
        ad("refund", T0 + 7 * HOUR, direction="CREDIT"),
    ]
    assert run(events, "AD_SITE_PAYMENTS", ad_engine()) == []
    # With the default (empty) watchlist the same five listed payments are nothing.
    assert run([ad(f"a{i}", T0 + i * DAY) for i in range(5)], "AD_SITE_PAYMENTS") == []


def test_ad_site_outside_window_does_not_count():
    events = [ad("old", T0)] + [ad(f"a{i}", T0 + 8 * DAY + i * HOUR) for i in range(4)]
    assert run(events, "AD_SITE_PAYMENTS", ad_engine()) == []


def test_ad_site_three_small_multiples_of_three_fire():
    # $12, $24, $36: the posting fees FINTRAC describes; $10.50 is not a multiple.
    events = [
        ad("m1", T0, 1_200),
        ad("x", T0 + HOUR, 1_050),
        ad("m2", T0 + DAY, 2_400),
        ad("m3", T0 + 2 * DAY, 3_600),
    ]
    hits = run(events, "AD_SITE_PAYMENTS", ad_engine())
    assert len(hits) == 1
    check_hit(hits[0], 3, 3, ["m1", "m2", "m3"])
    assert "multiples of 3" in hits[0].explanation


def test_ad_site_multiples_at_an_advertising_mcc_fire_without_a_watchlist():
    # Default rules: empty watchlist, but 7311 (advertising services) is a generic ad code.
    events = [
        ad(f"m{i}", T0 + i * DAY, 300 * (i + 1), merchant_id="gen-ad", mcc="7311") for i in range(3)
    ]
    hits = run(events, "AD_SITE_PAYMENTS")
    assert len(hits) == 1
    check_hit(hits[0], 3, 3, ["m0", "m1", "m2"])


def test_ad_site_multiples_near_misses():
    gen = {"merchant_id": "gen-ad", "mcc": "7311"}
    events = [
        ad("m1", T0, 1_200, **gen),
        ad("m2", T0 + DAY, 2_400, **gen),
        ad("big", T0 + 2 * DAY, 10_200, **gen),  # a multiple of 3, but $102 is not small
        ad("odd", T0 + 3 * DAY, 2_401, **gen),  # one cent off
        ad("mcc", T0 + 4 * DAY, 3_600, merchant_id="shop", mcc="5818"),  # not an ad code
    ]
    assert run(events, "AD_SITE_PAYMENTS") == []


def test_ad_site_multiples_are_in_the_payment_currency():
    # CAD 12, 24, 36: multiples of 3 Canadian dollars count as well.
    events = [ad(f"c{i}", T0 + i * DAY, 1_200 * (i + 1), currency="CAD") for i in range(3)]
    hits = run(events, "AD_SITE_PAYMENTS", ad_engine())
    assert [h.measured for h in hits] == [3]


# --------------------------------------------------------------------------- FREQUENT_TRAVEL


def ticket(event_id: str, t: int, passengers: list[str], mcc: str = "4511", **over) -> dict:
    over.setdefault("channel", "CARD_NOT_PRESENT")
    return card(event_id, t, mcc, 25_000, passenger_name_hashes=passengers, **over)


def test_travel_two_passengers_on_two_tickets_fire():
    events = [ticket("t1", T0, ["pA"]), ticket("t2", T0 + 2 * DAY, ["pB"])]
    hits = run(events, "FREQUENT_TRAVEL")
    assert len(hits) == 1
    check_hit(hits[0], 2, 2, ["t1", "t2"])
    assert "2 distinct passengers" in hits[0].explanation


def test_travel_same_passenger_or_one_booking_does_not_fire():
    assert run([ticket("t1", T0, ["pA"]), ticket("t2", T0 + DAY, ["pA"])], "FREQUENT_TRAVEL") == []
    # One booking for two people is one ticket: not "frequent".
    assert run([ticket("t1", T0, ["pA", "pB"])], "FREQUENT_TRAVEL") == []


def test_travel_three_cities_in_person_fire():
    events = [
        ticket("b1", T0, [], "4131", channel="CARD_PRESENT", city="Toronto"),
        ticket("b2", T0 + DAY, [], "4112", channel="CARD_PRESENT", city="Montreal"),
        ticket("b3", T0 + 2 * DAY, [], "3000", channel="CARD_PRESENT", city="Ottawa"),
    ]
    hits = run(events, "FREQUENT_TRAVEL")
    assert len(hits) == 1
    check_hit(hits[0], 3, 3, ["b1", "b2", "b3"])
    assert "3 distinct cities" in hits[0].explanation


def test_travel_online_tickets_carry_no_city_and_two_cities_are_not_enough():
    online = [ticket(f"o{i}", T0 + i * DAY, [], city=c) for i, c in enumerate(("A", "B", "C"))]
    assert run(online, "FREQUENT_TRAVEL") == []
    two = [
        ticket("b1", T0, [], "4131", channel="CARD_PRESENT", city="Toronto"),
        ticket("b2", T0 + DAY, [], "4131", channel="CARD_PRESENT", city="Montreal"),
        ticket("b3", T0 + 2 * DAY, [], "4131", channel="CARD_PRESENT", city=" toronto "),
    ]
    assert run(two, "FREQUENT_TRAVEL") == []


def test_travel_wrong_mcc_or_outside_window_does_not_fire():
    # 4111 commuter transport and 3300 (past the airline range) are not tickets here.
    events = [ticket("t1", T0, ["pA"]), ticket("c", T0 + DAY, ["pB"], "4111")]
    events.append(ticket("r", T0 + DAY, ["pC"], "3300"))
    assert run(events, "FREQUENT_TRAVEL") == []
    late = [ticket("t1", T0, ["pA"]), ticket("t2", T0 + 7 * DAY + HOUR, ["pB"])]
    assert run(late, "FREQUENT_TRAVEL") == []


# --------------------------------------------------------------------------- RIDE_SHARE_BURST


def ride(event_id: str, t: int, mcc: str = "4121") -> dict:
    return card(event_id, t, mcc, 2_300)


def test_ride_burst_without_history_fires_at_min_count():
    events = [
        ride(f"r{i}", T0 + i * DAY + 20 * HOUR, m)
        for i, m in enumerate(["4121"] * 4 + ["7512", "3351"])
    ]
    hits = run(events, "RIDE_SHARE_BURST")
    assert len(hits) == 1
    check_hit(hits[0], 6, 6, [f"r{i}" for i in range(6)])
    assert "baseline of 0.00 a week" in hits[0].explanation


def test_ride_burst_one_short_or_wrong_mcc_does_not_fire():
    five = [ride(f"r{i}", T0 + i * DAY) for i in range(5)]
    assert run(five, "RIDE_SHARE_BURST") == []
    assert run(five + [ride("bus", T0 + 5 * DAY, "4111")], "RIDE_SHARE_BURST") == []
    assert run(five + [ride("x", T0 + 5 * DAY, "3442")], "RIDE_SHARE_BURST") == []


def test_ride_burst_is_measured_against_the_accounts_own_baseline():
    # Four rides a week for eight weeks: baseline 4, threshold max(6, 3 x 4) = 12.
    history = [ride(f"h{w}-{i}", MON + w * WEEK + i * DAY) for w in range(8) for i in range(4)]
    burst = [ride(f"b{i}", MON + 8 * WEEK + i * 12 * HOUR) for i in range(12)]
    hits = run(history + burst[:11], "RIDE_SHARE_BURST")
    assert hits == []  # 11 rides: below the baseline factor
    hits = run(history + burst, "RIDE_SHARE_BURST")
    assert len(hits) == 1
    check_hit(hits[0], 12, 12, [f"b{i}" for i in range(12)])
    assert "baseline of 4.00 a week" in hits[0].explanation


def test_baseline_buckets_keep_counts_but_drop_their_evidence_ids():
    """Ids of buckets older than the evidence window are never named again: they are dropped
    when a new bucket opens, so a long baseline costs numbers, not ids, in the stored state;
    the baseline count and the burst found on top of it are unchanged."""
    history = [ride(f"h{w}-{i}", MON + w * WEEK + i * DAY) for w in range(8) for i in range(4)]
    burst = [ride(f"b{i}", MON + 8 * WEEK + i * 12 * HOUR) for i in range(12)]
    engine, state = engine_with("RIDE_SHARE_BURST"), AccountState()
    hits = [h for r in history + burst for h in engine.step(state, to_event(r, NOW), NOW).hits]
    slot = state.slots["RIDE_SHARE_BURST"]
    window_start = slot[-1][0] - 6 * DAY
    assert all(b[1] == [] for b in slot if b[0] < window_start)
    assert sum(b[2] for b in slot if b[0] < window_start) == 32  # the baseline's rides
    assert any(b[1] for b in slot if b[0] >= window_start)
    check_hit(hits[-1], 12, 12, [f"b{i}" for i in range(12)])


def test_ride_burst_rides_outside_the_window_do_not_count():
    events = [ride(f"r{i}", T0 + i * DAY) for i in range(3)]
    events += [ride(f"s{i}", T0 + 10 * DAY + i * DAY) for i in range(3)]
    assert run(events, "RIDE_SHARE_BURST") == []


# --------------------------------------------------------------------------- SUSTAINING_SPEND


def spend(event_id: str, t: int, mcc: str, dollars: int) -> dict:
    return card(event_id, t, mcc, dollars * 100)


def baseline_weeks(grocery: int, fast_food: int, weeks: range = range(10)) -> list[dict]:
    """Weeks 0-9 from MON: one grocery shop on Monday and one fast-food meal on Tuesday."""
    out = []
    for w in weeks:
        out.append(spend(f"g{w}", MON + w * WEEK + 10 * HOUR, "5411", grocery))
        out.append(spend(f"f{w}", MON + w * WEEK + DAY + 12 * HOUR, "5814", fast_food))
    return out


def shifted_weeks(mcc: str = "5814", meals: tuple[int, int] = (5, 4)) -> list[dict]:
    """Weeks 12 and 13: a $100 grocery shop, then $60 of fast food on the following days."""
    out = []
    for w, n in zip((12, 13), meals, strict=True):
        start = MON + w * WEEK
        out.append(spend(f"g{w}", start + 9 * HOUR, "5411", 100))
        out += [spend(f"s{w}-{i}", start + (i + 1) * DAY + 13 * HOUR, mcc, 60) for i in range(n)]
    return out


def test_sustaining_spend_shift_above_baseline_fires():
    # Baseline share 20/320 = 6.25%; recent: $540 of $740 = 73.0%, over max(40%, 12.5%).
    events = baseline_weeks(300, 20) + shifted_weeks()
    hits = run(events, "SUSTAINING_SPEND")
    assert len(hits) == 1
    hit = hits[0]
    ids = [f"s12-{i}" for i in range(5)] + [f"s13-{i}" for i in range(4)]
    check_hit(hit, 73.0, 40.0, ids)
    assert hit.detected_event_time == events[-1]["event_time"]
    assert "73.0%" in hit.explanation and "6.2%" in hit.explanation and "$540.00" in hit.explanation
    assert hit.first_event_time == next(r["event_time"] for r in events if r["event_id"] == "s12-0")


def test_sustaining_spend_one_meal_short_of_the_minimum_spend_does_not_fire():
    # $480 of such spend in the recent weeks: under the $500 minimum.
    assert run(baseline_weeks(300, 20) + shifted_weeks(meals=(5, 3)), "SUSTAINING_SPEND") == []


def test_sustaining_spend_below_the_baseline_factor_does_not_fire():
    # A baseline share of 50% needs 100% now: 73% is this account's normal.
    assert run(baseline_weeks(100, 100) + shifted_weeks(), "SUSTAINING_SPEND") == []


def test_sustaining_spend_needs_a_baseline():
    assert run(shifted_weeks(), "SUSTAINING_SPEND") == []
    # Seven weeks of history before the recent window are not the eight required.
    assert run(baseline_weeks(300, 20, range(3, 10)) + shifted_weeks(), "SUSTAINING_SPEND") == []


def test_sustaining_spend_wrong_mcc_does_not_fire():
    # Restaurants (5812) are not fast food (5814).
    assert run(baseline_weeks(300, 20) + shifted_weeks("5812"), "SUSTAINING_SPEND") == []


def test_sustaining_spend_state_is_weekly_and_bounded():
    engine = Engine(rules.load())
    state = AccountState()
    for d in range(200):  # 200 days of two purchases a day
        for j, mcc in enumerate(("5411", "5814")):
            r = spend(f"e{d}-{j}", T0 + d * DAY + (10 + j) * HOUR, mcc, 20)
            engine.step(state, to_event(r, NOW), NOW)
    slot = state.slots["SUSTAINING_SPEND"]
    assert len(slot) == 17  # 4 recent + 13 baseline weeks
    assert all(b[0] % WEEK == (MON % WEEK) for b in slot)
    assert all(len(b[1]) <= 10 for b in slot)


# ------------------------------------------------------------------ AFTER_HOURS_ADULT_SERVICES

EST = -300


def local(day: int, hour: int, minute: int = 0, offset: int = EST) -> int:
    return T0 + day * DAY + hour * HOUR + minute * 60_000 - offset * 60_000


def venue(event_id: str, t: int, mcc: str = "7297", offset: int = EST, **over) -> dict:
    return card(event_id, t, mcc, 8_000, utc_offset_minutes=offset, **over)


def test_after_hours_three_night_payments_fire():
    events = [
        venue("v1", local(0, 22, 0)),
        venue("v2", local(1, 23, 30), "7230"),
        venue("v3", local(3, 5, 59), "5813"),
    ]
    hits = run(events, "AFTER_HOURS_ADULT_SERVICES")
    assert len(hits) == 1
    check_hit(hits[0], 3, 3, ["v1", "v2", "v3"])
    assert "22:00 and 06:00" in hits[0].explanation and "5813, 7230, 7297" in hits[0].explanation


def test_after_hours_just_outside_the_night_does_not_count():
    events = [
        venue("v1", local(0, 22)),
        venue("v2", local(1, 23)),
        venue("early", local(2, 21, 59)),
        venue("morning", local(3, 6, 0)),
        # 03:00 UTC is night in UTC, but 19:00 in Los Angeles: the event's own offset decides.
        venue("la", T0 + 4 * DAY + 3 * HOUR, offset=-480),
    ]
    assert run(events, "AFTER_HOURS_ADULT_SERVICES") == []


def test_after_hours_wrong_mcc_channel_or_window_does_not_count():
    events = [
        venue("v1", local(0, 23)),
        venue("v2", local(1, 23)),
        venue("rest", local(2, 23), "5812"),  # restaurant
        venue("atm", local(2, 23, 30), channel="ATM"),  # cash is LATE_NIGHT_CASH's business
    ]
    assert run(events, "AFTER_HOURS_ADULT_SERVICES") == []
    late = [venue("v1", local(0, 23)), venue("v2", local(1, 23)), venue("v3", local(8, 23))]
    assert run(late, "AFTER_HOURS_ADULT_SERVICES") == []


# --------------------------------------------------------------------- CRYPTO_SMALL_MULTIPLES

WALLET = "f" * 64


def crypto(event_id: str, t: int, amount_minor: int, **over: Any) -> dict:
    over.setdefault("channel", "CRYPTO")
    return rec(event_id, t, amount_minor=amount_minor, **over)


def test_crypto_three_small_multiples_fire():
    events = [
        crypto("c1", T0, 2_400),
        crypto("c2", T0 + DAY, 1_200),
        crypto(
            "c3",
            T0 + 2 * DAY,
            900,
            channel="CARD_NOT_PRESENT",
            merchant={"merchant_id": "exch", "mcc": "6051"},
        ),
    ]
    hits = run(events, "CRYPTO_SMALL_MULTIPLES")
    assert len(hits) == 1
    check_hit(hits[0], 3, 3, ["c1", "c2", "c3"])


def test_crypto_near_misses_do_not_fire():
    events = [
        crypto("c1", T0, 2_400),
        crypto("c2", T0 + DAY, 1_200),
        crypto("odd", T0 + 2 * DAY, 2_500),  # $25: not a multiple of 3
        crypto("big", T0 + 3 * DAY, 10_500),  # $105: a multiple, but not small
        crypto("sold", T0 + 4 * DAY, 3_000, direction="CREDIT"),  # a sale, not a purchase
        crypto("card", T0 + 5 * DAY, 3_000, channel="CARD_PRESENT"),  # not crypto at all
    ]
    assert run(events, "CRYPTO_SMALL_MULTIPLES") == []
    late = [crypto("c1", T0, 2_400), crypto("c2", T0 + DAY, 1_200), crypto("c3", T0 + 9 * DAY, 300)]
    assert run(late, "CRYPTO_SMALL_MULTIPLES") == []


def test_crypto_listed_wallet_fires_on_one_match_either_way():
    engine = engine_with("CRYPTO_SMALL_MULTIPLES", dark_web_wallets=[WALLET])
    hits = run(
        [crypto("w1", T0, 150_000, direction="CREDIT", wallet_address_hash=WALLET)],
        "CRYPTO_SMALL_MULTIPLES",
        engine,
    )
    assert len(hits) == 1
    check_hit(hits[0], 1, 1, ["w1"])
    assert "dark-web" in hits[0].explanation
    miss = [crypto("w2", T0, 150_000, wallet_address_hash="e" * 64)]
    assert run(miss, "CRYPTO_SMALL_MULTIPLES", engine) == []


# ------------------------------------------------------------------------------ PREPAID_BURST


def load(event_id: str, t: int, **over: Any) -> dict:
    over.setdefault("channel", "PREPAID_LOAD")
    return rec(event_id, t, amount_minor=20_000, **over)


def test_prepaid_four_loads_without_history_fire():
    events = [load(f"p{i}", T0 + i * DAY) for i in range(3)]
    events.append(card("p3", T0 + 3 * DAY, "6540", 20_000))
    hits = run(events, "PREPAID_BURST")
    assert len(hits) == 1
    check_hit(hits[0], 4, 4, ["p0", "p1", "p2", "p3"])
    assert "prepaid card loads" in hits[0].explanation


def test_prepaid_near_misses_do_not_fire():
    three = [load(f"p{i}", T0 + i * DAY) for i in range(3)]
    assert run(three, "PREPAID_BURST") == []
    assert run(three + [load("in", T0 + 3 * DAY, direction="CREDIT")], "PREPAID_BURST") == []
    assert run(three + [load("p2p", T0 + 3 * DAY, channel="P2P")], "PREPAID_BURST") == []
    old_and_new = [load("p0", T0)] + [load(f"q{i}", T0 + 8 * DAY + i * HOUR) for i in range(3)]
    assert run(old_and_new, "PREPAID_BURST") == []


def test_prepaid_burst_against_baseline():
    # Two loads a week for eight weeks: threshold max(4, 3 x 2) = 6.
    history = [load(f"h{w}-{i}", MON + w * WEEK + i * DAY) for w in range(8) for i in range(2)]
    burst = [load(f"b{i}", MON + 8 * WEEK + 2 * DAY + i * HOUR) for i in range(6)]
    assert run(history + burst[:5], "PREPAID_BURST") == []
    hits = run(history + burst, "PREPAID_BURST")
    assert len(hits) == 1
    check_hit(hits[0], 6, 6, [f"b{i}" for i in range(6)])


# --------------------------------------------------------------------- INTEL_IDENTIFIER_MATCH

PHONE, DEVICE = "a" * 64, "d" * 64


def test_intel_match_fires_on_one_event_and_alerts_alone():
    engine = engine_with("INTEL_IDENTIFIER_MATCH", identifiers=[PHONE, DEVICE])
    state = AccountState()
    ev = to_event(rec("i1", T0, holder_phone_hash=PHONE, holder_email_hash="b" * 64), NOW)
    result = engine.step(state, ev, NOW)
    hits = [h for h in result.hits if h.code == "INTEL_IDENTIFIER_MATCH"]
    assert len(hits) == 1
    check_hit(hits[0], 1, 1, ["i1"])
    assert "(phone)" in hits[0].explanation
    # The strongest signal: enough for an alert on its own, at HIGH severity.
    assert [a["typology"] for a in result.alerts] == ["SEX_TRAFFICKING"]
    assert result.alerts[0]["severity"] == "HIGH"
    # Phone and device together are two identifiers.
    ev2 = to_event(rec("i2", T0 + HOUR, holder_phone_hash=PHONE, device_hash=DEVICE), NOW)
    hit2 = next(h for h in engine.step(state, ev2, NOW).hits if h.code == "INTEL_IDENTIFIER_MATCH")
    check_hit(hit2, 2, 1, ["i1", "i2"])
    assert "(device, phone)" in hit2.explanation


def test_intel_miss_and_empty_list_do_not_fire():
    engine = engine_with("INTEL_IDENTIFIER_MATCH", identifiers=[PHONE])
    other = rec("i1", T0, holder_phone_hash="c" * 64, holder_address_hash="b" * 64)
    assert run([other], "INTEL_IDENTIFIER_MATCH", engine) == []
    assert run([rec("i2", T0, holder_phone_hash=PHONE)], "INTEL_IDENTIFIER_MATCH") == []


# ------------------------------------------------------------------------ CASH_FRONT_BUSINESS


def biz(event_id: str, t: int, **over: Any) -> dict:
    over.setdefault("account_type", "BUSINESS")
    return rec(event_id, t, **over)


def cash_dep(event_id: str, t: int, dollars: int = 1_500, **over: Any) -> dict:
    return biz(
        event_id, t, direction="CREDIT", channel="CASH_DEPOSIT", amount_minor=dollars * 100, **over
    )


def payroll(event_id: str, t: int, dollars: int, **over: Any) -> dict:
    over.setdefault("purpose", "PAYR")
    return biz(event_id, t, channel="ACH", amount_minor=dollars * 100, **over)


def weekly_cash(weeks: range = range(4), dollars: int = 1_500) -> list[dict]:
    return [cash_dep(f"d{w}", MON + w * WEEK + DAY + 11 * HOUR, dollars) for w in weeks]


def test_cash_front_steady_cash_and_no_payroll_fire():
    hits = run(weekly_cash(), "CASH_FRONT_BUSINESS")
    assert len(hits) == 1
    check_hit(hits[0], 6000, 5000, ["d0", "d1", "d2", "d3"])
    assert "in 4 of the last 5 weeks" in hits[0].explanation
    assert "$0.00 in payroll" in hits[0].explanation


def test_cash_front_token_payroll_up_to_the_ratio_still_fires():
    events = weekly_cash() + [payroll("p", MON + 2 * WEEK, 300)]  # exactly 5% of $6,000
    events.sort(key=lambda r: r["event_time"])
    assert [h.measured for h in run(events, "CASH_FRONT_BUSINESS")] == [6000]


def test_cash_front_near_misses_do_not_fire():
    # Payroll over 5% of the cash, by flag or purpose code.
    for p in (
        payroll("p", MON + 2 * WEEK, 301),
        payroll("p", MON + 2 * WEEK, 400, purpose="SALA"),
        payroll("p", MON + 2 * WEEK, 400, purpose=None, payroll=True),
    ):
        events = sorted(weekly_cash() + [p], key=lambda r: r["event_time"])
        assert run(events, "CASH_FRONT_BUSINESS") == [], p
    # Three weeks of deposits, even large ones; or four weeks totalling $4,800.
    assert run(weekly_cash(range(3), 3_000), "CASH_FRONT_BUSINESS") == []
    assert run(weekly_cash(range(4), 1_200), "CASH_FRONT_BUSINESS") == []
    # A week that left the 5-week window no longer counts.
    assert run(weekly_cash(range(0, 9, 2)), "CASH_FRONT_BUSINESS") == []
    # A personal account is not a business.
    personal = [dict(r, account_type="PERSONAL") for r in weekly_cash()]
    assert run(personal, "CASH_FRONT_BUSINESS") == []


# -------------------------------------------------------------------------------- LOW_PAYROLL


def revenue(event_id: str, t: int, dollars: int = 5_000) -> dict:
    return biz(
        event_id,
        t,
        direction="CREDIT",
        channel="ACH",
        amount_minor=dollars * 100,
        counterparty={"account_id": "acquirer"},
    )


def takings(weeks: range = range(5)) -> list[dict]:
    return [revenue(f"r{w}", MON + w * WEEK + 5 * HOUR) for w in weeks]


def with_(events: list[dict], *extra: dict) -> list[dict]:
    return sorted(events + list(extra), key=lambda r: r["event_time"])


def test_low_payroll_fires_under_two_percent_and_no_tax():
    events = with_(takings(), payroll("p", MON + 2 * WEEK + DAY, 400))  # 1.6% of $25,000
    hits = run(events, "LOW_PAYROLL")
    assert len(hits) == 1
    check_hit(hits[0], 1.6, 2, ["r0", "r1", "p", "r2", "r3", "r4"])
    assert "$25000.00" in hits[0].explanation and "1.6% of revenue" in hits[0].explanation


def test_low_payroll_near_misses_do_not_fire():
    assert run(with_(takings(), payroll("p", MON + 2 * WEEK, 500)), "LOW_PAYROLL") == []  # 2.0%
    tax = biz("tax", MON + WEEK, merchant={"merchant_id": "irs", "mcc": "9311"})
    assert run(with_(takings(), tax), "LOW_PAYROLL") == []
    # A quarterly tax payment 14 weeks back still counts as paying tax.
    old_tax = biz("tax", MON - 10 * WEEK, channel="ACH", purpose="TAXS")
    assert run(with_(takings(), old_tax), "LOW_PAYROLL") == []
    # Four weeks of history are not enough to judge, however large the takings.
    assert run([revenue(f"r{w}", MON + w * WEEK, 9_000) for w in range(4)], "LOW_PAYROLL") == []
    # Below the revenue floor.
    assert run([revenue(f"r{w}", MON + w * WEEK, 3_999) for w in range(5)], "LOW_PAYROLL") == []
    personal = [dict(r, account_type="PERSONAL") for r in takings()]
    assert run(personal, "LOW_PAYROLL") == []


# ----------------------------------------------------------------------- UNLICENSED_RECRUITER

AGENCY = "acct-agency-7"


def fee(event_id: str, t: int, payee: str = AGENCY, **over: Any) -> dict:
    over.setdefault("channel", "WIRE")
    return rec(event_id, t, amount_minor=150_000, counterparty={"account_id": payee}, **over)


def test_recruiter_payment_fires_on_counterparty_or_merchant_match():
    engine = engine_with("UNLICENSED_RECRUITER", recruiters=[AGENCY, "visa-shop"])
    hits = run([fee("f1", T0)], "UNLICENSED_RECRUITER", engine)
    assert len(hits) == 1
    check_hit(hits[0], 1, 1, ["f1"])
    assert "$1,500.00" in hits[0].explanation
    shop = card(
        "f2",
        T0,
        "7399",
        40_000,
        channel="CARD_NOT_PRESENT",
        merchant={"merchant_id": "visa-shop", "mcc": "7399"},
    )
    hits = run([shop], "UNLICENSED_RECRUITER", engine)
    assert [h.event_ids for h in hits] == [["f2"]]


def test_recruiter_misses_do_not_fire():
    engine = engine_with("UNLICENSED_RECRUITER", recruiters=[AGENCY])
    assert run([fee("f1", T0, "acct-licensed")], "UNLICENSED_RECRUITER", engine) == []
    assert run([fee("f2", T0, direction="CREDIT")], "UNLICENSED_RECRUITER", engine) == []
    assert run([fee("f3", T0)], "UNLICENSED_RECRUITER") == []  # default: empty watchlist


# ---------------------------------------------------------------------------- the rule set


def module_docstring(cls: type) -> str:
    """From the source file: a compiled module (mypyc) keeps no docstring at run time."""
    name = cls.__module__.rsplit(".", 1)[1]
    path = ROOT / "processors" / "indicators" / f"{name}.py"
    return ast.get_docstring(ast.parse(path.read_text())) or ""


def test_default_rules_hold_every_catalog_code_with_supported_weights_only():
    doc = rules.default_document()
    rs = rules.load()
    assert set(NEW_CODES) <= set(CATALOG)
    assert set(doc["indicators"]) == set(CATALOG) == {d.code for d in rs.detectors}
    for code, cls in CATALOG.items():
        weights = doc["indicators"][code]["weights"]
        assert weights, code
        assert set(weights) <= {t.value for t in cls.typologies}, code
        assert cls.source and cls.name, code
        if code in NEW_CODES:
            # Documented defaults and the shipped rule set agree; the module says its source
            # and which of its numbers are sourced and which suggested.
            assert doc["indicators"][code]["params"] == cls.defaults, code
            text = " ".join(module_docstring(cls).split())
            assert cls.source in text and "Numbers." in text and "Suggested" in text, code
    threshold = {t: spec.threshold for t, spec in rs.typologies.items()}
    intel = rs.weights["INTEL_IDENTIFIER_MATCH"][Typology.SEX_TRAFFICKING]
    assert intel >= threshold[Typology.SEX_TRAFFICKING]
    for code in NEW_CODES:  # everything else needs company to alert
        if code != "INTEL_IDENTIFIER_MATCH":
            assert all(w < threshold[t] for t, w in rs.weights[code].items()), code


@pytest.mark.parametrize(
    ("code", "key", "value"),
    [
        ("AD_SITE_PAYMENTS", "merchant_ids", ["ok", 7]),
        ("SUSTAINING_SPEND", "mccs", ["5814", "58x4"]),
        ("AFTER_HOURS_ADULT_SERVICES", "mccs", ["729"]),
        ("INTEL_IDENTIFIER_MATCH", "identifiers", "abc"),
        ("RIDE_SHARE_BURST", "factor", 0),
    ],
)
def test_bad_params_name_their_key_path(code, key, value):
    doc = copy.deepcopy(rules.default_document())
    doc["indicators"][code]["params"][key] = value
    with pytest.raises(rules.RuleError) as info:
        rules.parse(doc)
    assert f"indicators.{code}.params.{key}" in str(info.value)


def test_aggregate_slots_stay_bounded_over_a_long_history():
    engine = engine_with("INTEL_IDENTIFIER_MATCH", identifiers=[PHONE])
    state = AccountState()
    for d in range(300):
        for j, r in enumerate((ride, load)):
            engine.step(state, to_event(r(f"e{d}-{j}", T0 + d * DAY + j * HOUR), NOW), NOW)
        r = revenue(f"v{d}", T0 + d * DAY + 2 * HOUR, 100)
        engine.step(state, to_event(dict(r, holder_phone_hash=PHONE), NOW), NOW)
    slots = state.slots
    assert len(slots["RIDE_SHARE_BURST"]) == 7 + 56
    assert len(slots["PREPAID_BURST"]) == 7 + 56
    assert len(slots["LOW_PAYROLL"]) == 15
    assert len(slots["INTEL_IDENTIFIER_MATCH"]) <= MAX_SLOT_ENTRIES
    assert all(len(s) <= MAX_SLOT_ENTRIES for s in slots.values())
