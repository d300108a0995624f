"""Analysts' dispositions in the detection step: false-positive suppression and precision.

The building blocks are those of tests/processors/test_engine.py: hotels in three cities
(HOTEL_MULTI_CITY) and three late-night cash withdrawals (LATE_NIGHT_CASH) reach the
sex-trafficking threshold together. A third, unrelated indicator is three small online
payments to an advertising merchant (AD_SITE_PAYMENTS).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from config.settings import load as load_settings
from institutions.dispositions import build_disposition
from processors import feedback, rules
from processors.engine import Engine
from processors.state import DISPOSITIONS, RECENT_CAP, AccountState
from processors.validation import InvalidEvent
from schemas.codec import AvroCodec
from streams.pipeline import DeadLetter, Disposed, PaymentPipeline
from tests.processors.test_engine import DAY, HOUR, NOW, T0, alerts_of, feed, hotels, nights, rec

SEX = "SEX_TRAFFICKING"
PATTERN_CODES = ["HOTEL_MULTI_CITY", "LATE_NIGHT_CASH"]


def sex_pattern(start: int, prefix: str = "") -> list[dict[str, Any]]:
    """test_engine.py's pattern; fresh event ids per start, or they are redeliveries."""
    prefix = prefix or f"p{start}-"
    events = nights(f"{prefix}n", start) + hotels(f"{prefix}h", start)
    return sorted(events, key=lambda r: r["event_time"])


def ad_payments(prefix: str, start: int) -> list[dict[str, Any]]:
    """Three $24 card-not-present payments to an advertising merchant, an hour apart."""
    ad = {"merchant_id": "m-ads", "mcc": "7311"}
    return [
        rec(
            f"{prefix}{i}",
            start + i * HOUR,
            channel="CARD_NOT_PRESENT",
            amount_minor=2_400,
            merchant=ad,
        )  # fmt: skip
        for i in range(3)
    ]


def disposition_record(alert: dict, outcome: str = "FALSE_POSITIVE", **over: Any) -> dict:
    """What `chainbreaker cases dispose` sends, an hour after the alert's last event."""
    record = build_disposition(
        alert, outcome, "analyst-7", decided_at_ms=alert["last_event_time"] + HOUR
    )
    return {**record, "disposition_id": f"d-{alert['alert_id']}-{outcome}", **over}


def dispose(state: AccountState, alert: dict, outcome: str = "FALSE_POSITIVE", hours: int = 720,
            **over: Any) -> bool:  # fmt: skip
    d = feedback.to_disposition(disposition_record(alert, outcome, **over))
    return feedback.apply_disposition(state, d, hours)


@pytest.fixture
def engine() -> Engine:
    return Engine(rules.load())


def first_alert(engine: Engine, state: AccountState) -> dict:
    alerts = alerts_of(feed(engine, state, sex_pattern(T0)))
    assert len(alerts) == 1 and {i["code"] for i in alerts[0]["indicators"]} == set(PATTERN_CODES)
    return alerts[0]


# --- suppression ------------------------------------------------------------------------------


def test_false_positive_suppresses_the_same_pattern_after_the_cooldown(engine):
    suppressed, control = AccountState(), AccountState()
    alert = first_alert(engine, suppressed)
    first_alert(engine, control)
    assert dispose(suppressed, alert) is True

    # Ten days later (past the 7-day cooldown, inside the 30-day suppression).
    again = sex_pattern(T0 + 10 * DAY)
    muted = feed(engine, suppressed, again)
    assert alerts_of(muted) == []
    # Still detected (hit metrics and evidence keep counting), only not scored.
    assert {h.code for r in muted for h in r.hits} == set(PATTERN_CODES)
    assert len(alerts_of(feed(engine, control, again))) == 1


def test_suppression_expires_and_is_dropped_from_state(engine):
    state = AccountState()
    alert = first_alert(engine, state)
    decided = alert["last_event_time"] + HOUR
    dispose(state, alert, hours=5 * 24, decided_at=decided)
    assert state.suppressions[alert["alert_id"]] == [decided + 5 * DAY, sorted(PATTERN_CODES)]

    later = feed(engine, state, sex_pattern(decided + 6 * DAY))
    assert len(alerts_of(later)) == 1  # the suppression ended one day before
    assert state.suppressions == {}  # bounded: the ended suppression is gone


def test_pattern_straddling_the_end_of_the_suppression_alerts_once_it_has_ended(engine):
    state = AccountState()
    alert = first_alert(engine, state)
    decided = alert["last_event_time"] + HOUR
    dispose(state, alert, hours=24 * 10, decided_at=decided)
    # The pattern completes at start + 2 days + 23 h; the suppression ends inside it.
    start = decided + 8 * DAY
    results = feed(engine, state, sex_pattern(start))
    alerts = alerts_of(results)
    assert len(alerts) == 1
    assert alerts[0]["last_event_time"] >= decided + 10 * DAY


def test_unrelated_indicator_still_alerts_and_the_cooldown_is_lifted(engine):
    doc = copy.deepcopy(rules.default_document())
    doc["indicators"]["AD_SITE_PAYMENTS"]["weights"][SEX] = 1.0  # strong enough alone
    engine = Engine(rules.parse(doc))
    suppressed, control = AccountState(), AccountState()
    alert = first_alert(engine, suppressed)
    first_alert(engine, control)
    dispose(suppressed, alert)

    # Two days after the alert: inside the cooldown of both accounts.
    new = ad_payments("ad", alert["last_event_time"] + 2 * DAY)
    fresh = alerts_of(feed(engine, suppressed, new))
    assert len(fresh) == 1
    # Only the new evidence scored: the muted indicators' hits are still active but add 0.
    assert {i["code"] for i in fresh[0]["indicators"]} == {"AD_SITE_PAYMENTS"}
    assert fresh[0]["score"] == pytest.approx(1.0)
    assert {"HOTEL_MULTI_CITY", "LATE_NIGHT_CASH"} <= set(suppressed.hits)
    # The account whose case is still open: its cooldown covers the same new evidence.
    assert alerts_of(feed(engine, control, new)) == []


def test_unrelated_indicator_alone_below_threshold_does_not_alert(engine):
    """Muted indicators add nothing: new evidence must reach the threshold by itself."""
    state = AccountState()
    alert = first_alert(engine, state)
    dispose(state, alert)
    assert alerts_of(feed(engine, state, ad_payments("ad", alert["last_event_time"] + DAY))) == []


def test_late_events_from_before_the_decision_stay_suppressed(engine):
    state = AccountState()
    alert = first_alert(engine, state)
    dispose(state, alert, decided_at=alert["last_event_time"] + 20 * DAY)
    # Payments timed after the cooldown but before the decision (a late batch): muted.
    assert alerts_of(feed(engine, state, sex_pattern(T0 + 10 * DAY))) == []


def test_zero_hours_disables_suppression(engine):
    state = AccountState()
    alert = first_alert(engine, state)
    dispose(state, alert, hours=0)
    assert state.suppressions == {}
    assert len(alerts_of(feed(engine, state, sex_pattern(T0 + 10 * DAY)))) == 1


def test_a_later_useful_disposition_of_the_same_alert_lifts_the_suppression(engine):
    state = AccountState()
    alert = first_alert(engine, state)
    dispose(state, alert, "FALSE_POSITIVE")
    assert state.suppressions
    dispose(state, alert, "VALUABLE")
    assert state.suppressions == {}
    assert len(alerts_of(feed(engine, state, sex_pattern(T0 + 10 * DAY)))) == 1


def test_useful_disposition_keeps_the_cooldown(engine):
    state = AccountState()
    alert = first_alert(engine, state)
    until = state.alerts[SEX][2]
    dispose(state, alert, "CONFIRMED_SAR_FILED")
    assert state.suppressions == {} and state.alerts[SEX][2] == until


def test_replayed_disposition_changes_nothing(engine):
    state = AccountState()
    alert = first_alert(engine, state)
    assert dispose(state, alert) is True
    once = state.dumps()
    assert dispose(state, alert) is False
    assert state.dumps() == once
    # Also after a round trip through the stored form (a redelivery after a restart).
    restored = AccountState.loads(once)
    assert dispose(restored, alert) is False
    assert restored.dumps() == once


def test_suppressions_and_disposition_ids_are_bounded(engine):
    state = AccountState()
    alert = first_alert(engine, state)
    n = feedback.MAX_SUPPRESSIONS + 10
    for i in range(n):
        dispose(state, alert, disposition_id=f"d{i}", alert_id=f"a{i}", decided_at=NOW + i)
    assert len(state.suppressions) == feedback.MAX_SUPPRESSIONS
    # The ones ending last are kept; the ring of applied ids keeps the newest few.
    assert f"a{n - 1}" in state.suppressions and "a0" not in state.suppressions
    assert len(state.rings[DISPOSITIONS]) == 2 * RECENT_CAP
    assert dispose(state, alert, disposition_id=f"d{n - 1}", alert_id=f"a{n - 1}") is False


# --- stored form ------------------------------------------------------------------------------


def test_round_trip_keeps_suppressions_and_applied_ids(engine):
    state = AccountState()
    alert = first_alert(engine, state)
    dispose(state, alert)
    restored = AccountState.loads(state.dumps())
    assert restored.suppressions == state.suppressions
    assert restored.rings == state.rings
    assert dispose(restored, alert) is False


# --- validation -------------------------------------------------------------------------------

ALERT = {
    "alert_id": "a1", "institution_id": "bank-1", "account_id": "acct-1", "typology": SEX,
    "indicators": [{"code": c} for c in PATTERN_CODES], "last_event_time": T0,
    "rule_set_version": "v1",
}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"disposition_id": ""}, "missing_field"),
        ({"outcome": "MAYBE"}, "invalid_field"),
        ({"typology": "FRAUD"}, "invalid_field"),
        ({"indicator_codes": []}, "missing_field"),
        ({"indicator_codes": ["HOTEL_MULTI_CITY", "+1 555 0100"]}, "invalid_field"),
        ({"decided_at": -5}, "invalid_field"),
    ],
)
def test_invalid_dispositions_are_rejected_with_a_bounded_reason(change, reason):
    with pytest.raises(InvalidEvent) as err:
        feedback.to_disposition({**disposition_record(ALERT), **change})
    assert err.value.reason == reason


def test_valid_disposition_is_parsed():
    d = feedback.to_disposition(disposition_record(ALERT))
    assert d.indicator_codes == tuple(PATTERN_CODES)
    assert d.outcome == "FALSE_POSITIVE" and d.typology == SEX and d.decided_at == T0 + HOUR


# --- precision --------------------------------------------------------------------------------


def test_precision_tally_per_typology_and_indicator():
    tally = feedback.PrecisionTally()
    assert math.isnan(tally.typology(SEX).ratio)
    outcomes = ["CONFIRMED_SAR_FILED", "VALUABLE", "FALSE_POSITIVE", "FALSE_POSITIVE"]
    for i, outcome in enumerate(outcomes):
        codes = PATTERN_CODES if i % 2 == 0 else ["HOTEL_MULTI_CITY"]
        rec_ = disposition_record(ALERT, outcome, disposition_id=f"d{i}", indicator_codes=codes)
        tally.record(feedback.to_disposition(rec_))
    assert tally.typology(SEX) == feedback.Precision(useful=2, total=4)
    assert tally.typology(SEX).ratio == 0.5
    assert tally.indicator("HOTEL_MULTI_CITY").ratio == 0.5
    # LATE_NIGHT_CASH was on dispositions 0 (confirmed) and 2 (false positive).
    assert tally.indicator("LATE_NIGHT_CASH") == feedback.Precision(useful=1, total=2)
    assert tally.typology("LABOUR_TRAFFICKING").total == 0


# --- the pipeline's disposition path (no broker) ---------------------------------------------


@pytest.fixture
def pipeline() -> PaymentPipeline:
    return PaymentPipeline(load_settings({"CB_FP_SUPPRESS_HOURS": "48"}), rules.load())


def test_pipeline_decodes_applies_and_ignores_a_replay(pipeline, engine):
    state = AccountState()
    alert = first_alert(engine, state)
    value = AvroCodec("disposition").encode(disposition_record(alert))
    parsed = pipeline.parse_disposition(b"acct-1", value)
    assert isinstance(parsed, feedback.Disposition)

    done = pipeline.dispose(parsed, state.dumps())
    assert isinstance(done, Disposed) and not done.duplicate
    stored = AccountState.loads(done.state)
    assert stored.suppressions[alert["alert_id"]][0] == parsed.decided_at + 48 * HOUR
    again = pipeline.dispose(parsed, done.state)
    assert isinstance(again, Disposed) and again.duplicate and again.state is None


def test_pipeline_dead_letters_bad_dispositions(pipeline):
    codec = AvroCodec("disposition")
    bad = {
        b"not avro": "undecodable",
        codec.encode(disposition_record(ALERT, indicator_codes=["NOPE"])): "invalid_field",
    }
    for value, reason in bad.items():
        out = pipeline.parse_disposition(b"acct-1", value)
        assert isinstance(out, DeadLetter) and out.reason == reason, out
    wrong_key = pipeline.parse_disposition(b"acct-2", codec.encode(disposition_record(ALERT)))
    assert isinstance(wrong_key, DeadLetter) and "key" in wrong_key.detail
    assert pipeline.parse_disposition(b"acct-1", None).reason == "undecodable"
    corrupt = pipeline.dispose(feedback.to_disposition(disposition_record(ALERT)), b"{]")
    assert isinstance(corrupt, DeadLetter) and corrupt.reason == "processing_error"
