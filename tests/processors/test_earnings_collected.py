"""EARNINGS_COLLECTED: the controller's own account collecting several people's takings on
most days (FINTRAC-2016-OA003 row 8's "moved on to ... third parties", seen from the third
party; processors/indicators/earnings_collected.py).

It fires on two or more senders each paying by P2P on three or more days of one week; its
near misses are the look-alikes the docstring names: one person paying most days, people
settling up weekly, small lunch or ride repayments, a business's regular customers.
"""

from __future__ import annotations

import time

from processors import rules
from processors.engine import Engine
from processors.model import Typology
from processors.replay import run
from processors.state import AccountState, alert_record
from processors.validation import to_event
from tests.support import check_measured_hit, hotel, payment

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NOW = T0 + 400 * DAY
RULES = rules.load()
CODE = "EARNINGS_COLLECTED"


def taking(sender: str, t: int, usd: float = 200, account: str = "boss", **fields) -> dict:
    """A P2P credit on ``account`` from ``sender``'s account."""
    fields.setdefault("channel", "P2P")
    return payment(
        f"{account}-{sender}-{t}",
        t,
        account,
        direction="CREDIT",
        amount_minor=int(usd * 100),
        counterparty={"account_id": sender, "institution_id": "bank-test", "country": "US"},
        **fields,
    )


def daily(senders: list[str], n_days: int, step: int = DAY, **kw) -> list[dict]:
    return [
        taking(s, T0 + d * step + (i + 10) * HOUR, **kw)
        for d in range(n_days)
        for i, s in enumerate(senders)
    ]


def hits_of(records: list[dict]):
    engine = Engine(RULES)
    state = AccountState()
    out = []
    for rec in sorted(records, key=lambda r: r["event_time"]):
        res = engine.step(state, to_event(rec, NOW), NOW)
        out += [h for h in res.hits if h.code == CODE]
    assert AccountState.loads(state.dumps()).slots == state.slots
    return out, state


def test_two_people_handing_over_money_on_three_days_of_a_week_fire():
    recs = daily(["v1", "v2"], 3)
    found, state = hits_of(recs)
    assert len(found) == 1
    check_measured_hit(found[0], 2, 2, [r["event_id"] for r in recs])
    assert found[0].source == "FINTRAC-2016-OA003"
    # Alone it does not alert: collecting from people is not a crime.
    assert state.alerts == {}
    assert RULES.weights[CODE] == {Typology.SEX_TRAFFICKING: 0.5}


def test_with_motels_in_three_cities_the_controller_alerts_for_sex_trafficking():
    recs = daily(["v1", "v2"], 3)
    recs += [hotel(f"h{i}", T0 + (i + 3) * DAY, c, "boss") for i, c in enumerate("ABC")]
    _, state = hits_of(recs)
    assert list(state.alerts) == [Typology.SEX_TRAFFICKING.value]
    alert = alert_record(state.alerts[Typology.SEX_TRAFFICKING.value])
    assert {i["code"] for i in alert["indicators"]} == {CODE, "HOTEL_MULTI_CITY"}


def test_one_person_paying_most_days_is_a_couple_not_a_pattern():
    assert hits_of(daily(["partner"], 7))[0] == []


def test_two_people_paying_on_two_days_each_do_not_fire():
    assert hits_of(daily(["v1", "v2"], 2))[0] == []


def test_three_payments_on_one_day_are_one_day():
    recs = [taking(s, T0 + k * HOUR, account="boss") for s in ("v1", "v2") for k in range(3)]
    assert hits_of(recs)[0] == []


def test_weekly_settling_up_does_not_fire():
    # A savings club or a shared bill: the same people, once a week, for a month.
    assert hits_of(daily(["m1", "m2", "m3"], 4, step=7 * DAY))[0] == []


def test_small_repayments_for_lunch_do_not_count():
    assert hits_of(daily(["colleague-1", "colleague-2"], 5, usd=12))[0] == []


def test_days_further_apart_than_the_window_do_not_add_up():
    assert hits_of(daily(["v1", "v2"], 3, step=4 * DAY))[0] == []


def test_a_business_paid_by_regular_customers_does_not_fire():
    assert hits_of(daily(["c1", "c2"], 5, account_type="BUSINESS"))[0] == []


def test_wires_are_not_counted_by_default():
    assert hits_of(daily(["v1", "v2"], 3, channel="WIRE"))[0] == []


def test_the_controller_is_the_subject_of_the_network_case_of_his_victims():
    """A victim pays the ad sites (0.6) and passes her takings on; the controller's account
    collects them and another victim's (0.5): one case, on the controller."""
    recs = daily(["v1", "v2"], 3)
    for d in range(3):
        for v in ("v1", "v2"):
            recs.append(
                payment(
                    f"{v}-out{d}",
                    T0 + d * DAY + 9 * HOUR,
                    v,
                    channel="P2P",
                    amount_minor=20_000,
                    counterparty={"account_id": "boss", "institution_id": "bank-test"},
                )
            )
    recs += [
        payment(
            f"v1-ad{i}",
            T0 + i * DAY + 20 * HOUR,
            "v1",
            channel="CARD_NOT_PRESENT",
            amount_minor=1_200 * (i + 1),
            merchant={"merchant_id": "gen-ad", "mcc": "7311", "country": "US"},
        )
        for i in range(3)
    ]
    recs.sort(key=lambda r: r["event_time"])
    res = run(recs, Engine(RULES), int(time.time() * 1000))
    assert res.rejected == {}
    assert [a for a in res.alerts.values() if not a.get("network")] == []
    cases = [a for a in res.alerts.values() if a.get("network")]
    assert [(c["account_id"], c["typology"]) for c in cases] == [("boss", "SEX_TRAFFICKING")]
    members = {m["account_id"]: m for m in cases[0]["network"]["members"]}
    assert members["boss"]["role"] == "controller"
    assert {i["code"] for i in cases[0]["indicators"]} == {CODE, "AD_SITE_PAYMENTS"}


def test_a_trainer_paid_by_two_clients_one_of_whom_travels_is_not_a_ring():
    """Near miss of the case above: the clients' only flag is hotels in three cities (0.5,
    a salesperson's); with the trainer's collections (0.5) the payee network adds up to 1.0,
    but who collects from whom is not a crime (networks.LINK_ONLY_CODES): no case."""
    recs = daily(["c1", "c2"], 3, step=2 * DAY, account="trainer", usd=60)
    for d in range(3):
        for c in ("c1", "c2"):
            recs.append(
                payment(
                    f"{c}-out{d}",
                    T0 + d * 2 * DAY + 9 * HOUR,
                    c,
                    channel="P2P",
                    amount_minor=6_000,
                    counterparty={"account_id": "trainer", "institution_id": "bank-test"},
                )
            )
    recs += [hotel(f"c1-h{i}", T0 + i * DAY + 20 * HOUR, c, "c1") for i, c in enumerate("ABC")]
    recs.sort(key=lambda r: r["event_time"])
    res = run(recs, Engine(RULES), int(time.time() * 1000))
    assert res.rejected == {}
    assert {code for (_, code) in res.hits} == {CODE, "HOTEL_MULTI_CITY"}  # both fired
    assert res.alerts == {}
