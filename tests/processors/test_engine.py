"""The detection step: scoring, alerts, cooldown, idempotence and the bounded account state.

Two indicators of the sex-trafficking typology are used as building blocks: hotel charges in
three cities (HOTEL_MULTI_CITY, weight 0.5) and three late-night cash withdrawals
(LATE_NIGHT_CASH, weight 0.5). Either alone stays under the typology threshold of 1.0; the two
together reach it. Weights and thresholds are read from the rule set, not assumed.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest

from processors import rules
from processors.engine import Engine, StepResult, alert_id
from processors.indicators.base import MAX_SLOT_ENTRIES
from processors.model import Typology
from processors.state import AccountState
from processors.validation import to_event

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NOW = T0 + 90 * DAY


def rec(event_id: str, t: int, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
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
    base.update(over)
    return base


def hotel(event_id: str, t: int, city: str) -> dict[str, Any]:
    return rec(event_id, t, merchant={"merchant_id": f"m-{city}", "mcc": "7011", "city": city})


def night_cash(event_id: str, t: int) -> dict[str, Any]:
    return rec(event_id, t, channel="ATM", amount_minor=20_000)


def hotels(prefix: str, start: int, cities: str = "ABC") -> list[dict]:
    """One hotel charge a day at noon UTC, in each of ``cities`` in turn."""
    return [hotel(f"{prefix}{i}", start + i * DAY + 12 * HOUR, c) for i, c in enumerate(cities)]


def nights(prefix: str, start: int, n: int = 3) -> list[dict]:
    """One ATM withdrawal a night at 23:00 UTC (offset 0)."""
    return [night_cash(f"{prefix}{i}", start + i * DAY + 23 * HOUR) for i in range(n)]


def sex_pattern(start: int = T0) -> list[dict]:
    """Late-night cash on days 0-2 at 23:00 then hotels on days 0-2 at noon, in time order."""
    return sorted(nights("n", start) + hotels("h", start), key=lambda r: r["event_time"])


def feed(engine: Engine, state: AccountState, records: list[dict]) -> list[StepResult]:
    return [engine.step(state, to_event(r, NOW), NOW) for r in records]


def alerts_of(results: list[StepResult]) -> list[dict]:
    return [a for r in results for a in r.alerts]


def doc_with(**changes: Any) -> dict:
    doc = copy.deepcopy(rules.default_document())
    doc.update(changes)
    return doc


@pytest.fixture
def ruleset() -> rules.RuleSet:
    return rules.load()


@pytest.fixture
def engine(ruleset: rules.RuleSet) -> Engine:
    return Engine(ruleset)


def test_building_blocks_are_below_threshold_alone_and_reach_it_together(ruleset):
    sex = Typology.SEX_TRAFFICKING
    hotel_w = ruleset.weights["HOTEL_MULTI_CITY"][sex]
    night_w = ruleset.weights["LATE_NIGHT_CASH"][sex]
    threshold = ruleset.typologies[sex].threshold
    # The premises the other tests rely on.
    assert hotel_w < threshold and night_w < threshold
    assert hotel_w + night_w >= threshold
    lab = Typology.LABOUR_TRAFFICKING
    assert ruleset.weights["HOTEL_MULTI_CITY"].get(lab, 0) < ruleset.typologies[lab].threshold
    assert lab not in ruleset.weights["LATE_NIGHT_CASH"]


def test_single_indicator_below_threshold_raises_no_alert(engine):
    state = AccountState()
    results = feed(engine, state, hotels("h", T0))
    assert [h.code for r in results for h in r.hits] == ["HOTEL_MULTI_CITY"]
    assert alerts_of(results) == []
    assert state.alerts == {}
    assert "HOTEL_MULTI_CITY" in state.hits


def test_two_indicators_of_one_typology_raise_exactly_one_alert(engine, ruleset):
    state = AccountState()
    events = sex_pattern()
    results = feed(engine, state, events)
    alerts = alerts_of(results)
    assert len(alerts) == 1
    # Raised by the event that completed the second indicator, and by nothing earlier.
    assert results[-1].alerts == alerts
    a = alerts[0]
    sex = Typology.SEX_TRAFFICKING
    spec = ruleset.typologies[sex]
    assert a["typology"] == "SEX_TRAFFICKING"
    assert a["sar_key_term"] == spec.sar_key_term and a["sar_field"] == spec.sar_field
    assert a["sar_key_term"] == "HUMAN TRAFFICKING FIN-2020-A008" and a["sar_field"] == "38(h)"
    expected_score = (
        ruleset.weights["HOTEL_MULTI_CITY"][sex] + ruleset.weights["LATE_NIGHT_CASH"][sex]
    )
    assert a["score"] == pytest.approx(expected_score)
    assert a["severity"] == ruleset.severity(a["score"]).value
    assert a["rule_set_version"] == ruleset.version
    assert {i["code"] for i in a["indicators"]} == {"HOTEL_MULTI_CITY", "LATE_NIGHT_CASH"}
    for ind in a["indicators"]:
        assert ind["weight"] == ruleset.weights[ind["code"]][sex]
    union = {eid for ind in a["indicators"] for eid in ind["event_ids"]}
    assert set(a["evidence_event_ids"]) == union == {e["event_id"] for e in events}
    assert len(a["evidence_event_ids"]) == len(union)  # no duplicates
    assert a["first_event_time"] == min(e["event_time"] for e in events)
    assert a["last_event_time"] == max(e["event_time"] for e in events)
    assert a["detected_at"] == NOW
    assert (a["institution_id"], a["account_id"], a["customer_id"]) == (
        "bank-1",
        "acct-1",
        "cust-1",
    )


def test_severity_comes_from_the_bands():
    # Bands moved so a score of 1.0 lands in HIGH (HIGH <= 1.0 < CRITICAL).
    doc = doc_with(severity_bands={"MEDIUM": 0.5, "HIGH": 1.0, "CRITICAL": 1.5})
    engine = Engine(rules.parse(doc))
    a = alerts_of(feed(engine, AccountState(), sex_pattern()))[0]
    assert a["score"] == pytest.approx(1.0)
    assert a["severity"] == "HIGH"
    # Default bands start MEDIUM at 1.4, so the same score is LOW there.
    a = alerts_of(feed(Engine(rules.load()), AccountState(), sex_pattern()))[0]
    assert a["severity"] == "LOW"


def test_ruleset_severity_band_edges(ruleset):
    floors = {level.value: floor for floor, level in ruleset.severity_bands}
    assert ruleset.severity(floors["MEDIUM"] - 0.01).value == "LOW"
    assert ruleset.severity(floors["MEDIUM"]).value == "MEDIUM"
    assert ruleset.severity(floors["HIGH"]).value == "HIGH"
    assert ruleset.severity(floors["CRITICAL"] + 5).value == "CRITICAL"


def test_cooldown_suppresses_then_allows_a_second_alert():
    doc = doc_with(cooldown_hours=48)
    engine = Engine(rules.parse(doc))
    state = AccountState()
    first = alerts_of(feed(engine, state, sex_pattern()))
    assert len(first) == 1
    trigger_time = max(r["event_time"] for r in sex_pattern())

    # Pattern continues inside the cooldown: a 4th city refreshes the hotel hit, score still
    # over threshold, but the open case covers it.
    within = feed(engine, state, [hotel("h-d", trigger_time + 47 * HOUR, "D")])
    assert [h.code for h in within[0].hits] == ["HOTEL_MULTI_CITY"]
    assert alerts_of(within) == []

    # After the cooldown the same pattern (both hits still inside their 7-day windows) alerts
    # again, with a new id because the trigger event differs.
    after = feed(engine, state, [hotel("h-e", trigger_time + 49 * HOUR, "E")])
    second = alerts_of(after)
    assert len(second) == 1
    assert second[0]["typology"] == "SEX_TRAFFICKING"
    assert second[0]["alert_id"] != first[0]["alert_id"]
    assert state.alerts["SEX_TRAFFICKING"][1] == "h-e"


def test_default_cooldown_covers_a_week(engine, ruleset):
    state = AccountState()
    assert len(alerts_of(feed(engine, state, sex_pattern()))) == 1
    trigger_time = max(r["event_time"] for r in sex_pattern())
    assert ruleset.cooldown_ms > 4 * DAY
    more = feed(engine, state, [hotel("h-d", trigger_time + 3 * DAY, "D")])
    assert more[0].hits and alerts_of(more) == []


def test_alert_id_is_deterministic_and_versioned(ruleset):
    a1 = alerts_of(feed(Engine(ruleset), AccountState(), sex_pattern()))[0]
    a2 = alerts_of(feed(Engine(rules.load()), AccountState(), sex_pattern()))[0]
    assert a1["alert_id"] == a2["alert_id"]
    # The alert schema documents the id as a hash of institution, account, typology, rule-set
    # version and triggering event; recompute it from those parts.
    trigger = sex_pattern()[-1]["event_id"]
    key = f"bank-1|acct-1|SEX_TRAFFICKING|{ruleset.version}|{trigger}"
    assert a1["alert_id"] == hashlib.sha256(key.encode()).hexdigest()[:32]

    other = Engine(rules.parse(doc_with(version=ruleset.version + "-tuned")))
    a3 = alerts_of(feed(other, AccountState(), sex_pattern()))[0]
    assert a3["rule_set_version"] == ruleset.version + "-tuned"
    assert a3["alert_id"] != a1["alert_id"]


def test_alert_id_differs_per_account_and_typology():
    ev = to_event(rec("e1", T0), NOW)
    ev2 = to_event(rec("e1", T0, account_id="acct-2"), NOW)
    ids = {
        alert_id(ev, Typology.SEX_TRAFFICKING, "v"),
        alert_id(ev, Typology.LABOUR_TRAFFICKING, "v"),
        alert_id(ev2, Typology.SEX_TRAFFICKING, "v"),
    }
    assert len(ids) == 3


def test_duplicate_event_is_a_no_op_and_re_emits_its_alert(engine):
    # As the worker delivers them: each payment with its offset on the account's partition.
    state = AccountState()
    events = sex_pattern()
    results = [engine.step(state, to_event(r, NOW), NOW, 0, i) for i, r in enumerate(events)]
    original = alerts_of(results)[0]
    before = state.dumps()

    again = engine.step(state, to_event(events[-1], NOW), NOW + 5 * HOUR, 0, len(events) - 1)
    assert again.duplicate is True
    assert not again.hits
    assert again.alerts == [original]
    assert again.alerts[0]["alert_id"] == original["alert_id"]
    assert state.dumps() == before

    # A redelivered event that triggered nothing re-emits nothing, and changes nothing.
    plain = engine.step(state, to_event(events[0], NOW), NOW, 0, 0)
    assert plain.duplicate is True and not plain.alerts and not plain.hits
    assert state.dumps() == before


def test_redelivery_does_not_inflate_counts(engine):
    # The same two night withdrawals delivered three times each are still two, not six.
    state = AccountState()
    twice = nights("n", T0, 2)
    results = feed(engine, state, twice * 3)
    assert [r.duplicate for r in results] == [False, False, True, True, True, True]
    assert all(not r.hits for r in results)
    assert len(state.slots["LATE_NIGHT_CASH"]) == 2


def test_hits_expire_with_their_own_window(engine, ruleset):
    # Control: night cash 3 days after the hotel hit combines into an alert.
    near = hotels("h", T0) + nights("n", T0 + 3 * DAY)
    assert len(alerts_of(feed(engine, AccountState(), near))) == 1

    # Ten days later it does not: the hotel hit's 7-day window has passed, even though the
    # score window (14 days by default) would still cover it.
    assert ruleset.score_window_ms > 10 * DAY
    state = AccountState()
    far = hotels("h", T0) + nights("n", T0 + 10 * DAY)
    results = feed(engine, state, far)
    assert {h.code for r in results for h in r.hits} == {"HOTEL_MULTI_CITY", "LATE_NIGHT_CASH"}
    assert alerts_of(results) == []
    assert "HOTEL_MULTI_CITY" not in state.hits  # dropped at scoring time


def test_state_round_trip_continues_like_straight_through():
    doc = doc_with(cooldown_hours=48)
    events = sex_pattern() + [
        hotel("h-d", T0 + 3 * DAY, "D"),
        night_cash("n-x", T0 + 4 * DAY + 23 * HOUR),
        hotel("h-e", T0 + 5 * DAY, "E"),
    ]
    straight_state = AccountState()
    straight = alerts_of(feed(Engine(rules.parse(doc)), straight_state, events))
    assert len(straight) == 2  # sanity: the scenario raises an alert in each half

    for cut in (3, len(events) - 2):
        first_engine = Engine(rules.parse(doc))
        state = AccountState()
        part1 = alerts_of(feed(first_engine, state, events[:cut]))
        blob = state.dumps()
        assert isinstance(blob, bytes)
        restored = AccountState.loads(blob)
        part2 = alerts_of(feed(Engine(rules.parse(doc)), restored, events[cut:]))
        assert part1 + part2 == straight
        assert restored.dumps() == straight_state.dumps()


def test_loads_of_empty_is_a_fresh_state():
    assert AccountState.loads(None) == AccountState()
    assert AccountState.loads(b"") == AccountState()


def test_duplicate_detected_after_round_trip(engine):
    state = AccountState()
    alert = alerts_of(feed(engine, state, sex_pattern()))[0]
    restored = AccountState.loads(state.dumps())
    again = engine.step(restored, to_event(sex_pattern()[-1], NOW), NOW)
    assert again.duplicate and again.alerts == [alert]


def test_slot_length_is_capped(engine):
    # 600 night-time ATM withdrawals, one every 30 s from 22:00 UTC on one night.
    state = AccountState()
    start = T0 + 22 * HOUR
    for i in range(600):
        engine.step(state, to_event(night_cash(f"c{i}", start + i * 30_000), NOW), NOW)
    slot = state.slots["LATE_NIGHT_CASH"]
    assert len(slot) == MAX_SLOT_ENTRIES
    assert slot[-1][1] == "c599" and slot[0][1] == f"c{600 - MAX_SLOT_ENTRIES}"
    assert len(state.hits["LATE_NIGHT_CASH"].event_ids) <= MAX_SLOT_ENTRIES


def test_last_event_time_is_newest_evidence_even_out_of_order(engine):
    # Night cash on days 0-2; hotels on days 3-5 arrive newest first, so the hotel hit is
    # completed by the day-3 charge while its evidence includes the day-5 charge.
    hs = hotels("h", T0 + 3 * DAY)
    order = nights("n", T0) + [hs[2], hs[1], hs[0]]
    alert = alerts_of(feed(engine, AccountState(), order))[0]
    times = {r["event_id"]: r["event_time"] for r in order}
    assert alert["last_event_time"] == max(times[i] for i in alert["evidence_event_ids"])
