"""One typology per piece of evidence (issue 12, point 2; processors/attribution.py).

The cases of the issue: labour workers sharing a bunkhouse address and forwarding their wages
to one controller are labour, not smuggling; the controller's forwarded wages are not a
smuggling collector's fees; one pattern on one account raises one alert.
"""

from __future__ import annotations

from processors import rules
from processors.attribution import attribute, names_a_crime, overlaps, unexplained
from processors.engine import Engine
from processors.links import Signal
from processors.model import IndicatorHit, Typology
from processors.state import AccountState

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_767_225_600_000
NOW = T0 + 400 * DAY
RULES = rules.load()
ENGINE = Engine(RULES)
ST, LT, SM = Typology.SEX_TRAFFICKING, Typology.LABOUR_TRAFFICKING, Typology.HUMAN_SMUGGLING


def hit(code: str, t: int = T0, ids: tuple[str, ...] = (), first: int = 0, last: int = 0):
    return IndicatorHit(code, "src", code, 7 * 24 * 3600, 1.0, 1.0, list(ids) or [f"{code}-e"],
                        t, first or t, last or t)  # fmt: skip


def scored(*hits: IndicatorHit) -> dict[Typology, set[str]]:
    out = attribute(list(hits), RULES, ENGINE.explains)
    return {t: {h.code for h, _ in pairs} for t, pairs in out.items()}


def score(*hits: IndicatorHit) -> dict[Typology, float]:
    out = attribute(list(hits), RULES, ENGINE.explains)
    return {t: round(sum(w for _, w in pairs), 6) for t, pairs in out.items()}


def test_a_shared_address_next_to_forwarded_wages_is_labour_evidence_only():
    got = scored(hit("SHARED_IDENTIFIER"), hit("WAGE_FORWARDING"))
    assert got == {LT: {"SHARED_IDENTIFIER", "WAGE_FORWARDING"}}
    # Alone, the shared address is ambiguous; it weighs most on labour (0.7 against 0.6).
    assert scored(hit("SHARED_IDENTIFIER")) == {LT: {"SHARED_IDENTIFIER"}}


def test_a_worker_who_also_pays_a_common_beneficiary_is_not_made_a_smuggler():
    """Specific evidence for both: the shared address goes with the stronger (labour 0.7
    against the context weight 0.3 of COMMON_BENEFICIARY), so smuggling stays at 0.3."""
    got = score(hit("SHARED_IDENTIFIER"), hit("WAGE_FORWARDING"), hit("COMMON_BENEFICIARY"))
    assert got == {LT: 1.4, SM: 0.3}


def test_ambiguous_evidence_stays_together_on_one_typology():
    # No specific evidence: STRUCTURING (ST .3, LT .3, SM .4) and SHARED (LT .7, SM .6) both
    # weigh 1.0 on labour and on smuggling. Relative to each hit's own largest weight they
    # lean to smuggling (0.75 + 1 against 1 + 0.86), so both go there.
    assert scored(hit("STRUCTURING"), hit("SHARED_IDENTIFIER")) == {
        SM: {"STRUCTURING", "SHARED_IDENTIFIER"}
    }
    # HOTEL_MULTI_CITY (ST .5, LT .3) and RIDE_SHARE_BURST (ST .3, LT .2): sex trafficking.
    assert scored(hit("HOTEL_MULTI_CITY"), hit("RIDE_SHARE_BURST")) == {
        ST: {"HOTEL_MULTI_CITY", "RIDE_SHARE_BURST"}
    }
    # With specific smuggling evidence both go to smuggling.
    got = scored(hit("STRUCTURING"), hit("SHARED_IDENTIFIER"), hit("CASH_IN_WIRE_OUT"))
    assert got == {SM: {"STRUCTURING", "SHARED_IDENTIFIER", "CASH_IN_WIRE_OUT"}}


def test_specific_evidence_of_two_typologies_keeps_its_own_and_ambiguous_goes_to_the_stronger():
    got = scored(hit("AD_SITE_PAYMENTS"), hit("CASH_IN_WIRE_OUT"), hit("STRUCTURING"))
    assert got == {ST: {"AD_SITE_PAYMENTS"}, SM: {"CASH_IN_WIRE_OUT", "STRUCTURING"}}


def test_wages_collected_explains_an_overlapping_collector_finding_only():
    wages = hit("WAGES_COLLECTED", ids=("c1", "c2"))
    same = hit("COLLECTOR_FAN_IN", ids=("c2", "c3"))
    assert scored(wages, same) == {LT: {"WAGES_COLLECTED"}}
    # A collector finding on other credits, weeks apart, is evidence of its own.
    other = hit("COLLECTOR_FAN_IN", t=T0 + 20 * DAY, ids=("x1",))
    assert scored(wages, other) == {LT: {"WAGES_COLLECTED"}, SM: {"COLLECTOR_FAN_IN"}}


def test_overlap_is_common_evidence_or_overlapping_periods():
    a = hit("A", ids=("e1",), first=T0, last=T0 + DAY)
    assert overlaps(a, hit("B", ids=("e1",), first=T0 + 9 * DAY, last=T0 + 9 * DAY))
    assert overlaps(a, hit("B", ids=("e9",), first=T0 + HOUR, last=T0 + 2 * DAY))
    assert not overlaps(a, hit("B", ids=("e9",), first=T0 + 2 * DAY, last=T0 + 3 * DAY))
    assert unexplained([a], {"A": frozenset({"B"})}) == [a]


def test_codes_the_rule_set_does_not_weigh_are_ignored():
    assert scored(hit("NOT_A_CODE")) == {}


# ------------------------------------------------------------------- through the engine


def signal(code: str, sid: str, t: int, account: str = "w1") -> Signal:
    return Signal(sid, code, "bank-test", account, f"cust-{account}", t, 3.0, 3.0,
                  7 * 24 * 3600, code, [f"{sid}-e"], t)  # fmt: skip


def test_the_bunkhouse_worker_raises_one_labour_alert_and_no_smuggling_alert():
    """The evaluation's case: a shared address (SHARED_IDENTIFIER, 0.7 labour / 0.6
    smuggling) and wages forwarded to one controller; before issue 12 the worker's transfers
    also counted as many-senders-to-one-beneficiary (0.6 smuggling) and it crossed both."""
    state = AccountState()
    raised = []
    for sid, code in (("s1", "SHARED_IDENTIFIER"), ("s2", "WAGE_FORWARDING"),
                      ("s3", "COMMON_BENEFICIARY")):  # fmt: skip
        raised += ENGINE.apply_signal(state, signal(code, sid, T0 + HOUR), NOW).alerts
    assert [a["typology"] for a in raised] == [LT.value]
    codes = {i["code"] for i in raised[0]["indicators"]}
    assert codes == {"SHARED_IDENTIFIER", "WAGE_FORWARDING"}


def test_a_new_hit_rescores_only_the_typologies_it_is_attributed_to():
    state = AccountState()
    ENGINE.apply_signal(state, signal("SHARED_IDENTIFIER", "s1", T0), NOW)
    # Labour evidence makes the address labour: no smuggling score is touched or raised.
    res = ENGINE.apply_signal(state, signal("UNLICENSED_RECRUITER", "s2", T0 + HOUR), NOW)
    assert [a["typology"] for a in res.alerts] == [LT.value]
    assert res.alerts[0]["score"] == 1.3


# ---------------------------------------------- rule 4: a shared identifier needs company


def test_a_shared_address_and_a_travellers_hotels_are_a_household_not_an_alert():
    """Three adults at one address, one travelling for work: SHARED_IDENTIFIER (0.7 labour)
    and HOTEL_MULTI_CITY (0.3 labour) reach 1.0 but name no crime (rule 4)."""
    assert score(hit("SHARED_IDENTIFIER"), hit("HOTEL_MULTI_CITY")) == {LT: 1.0}
    state = AccountState()
    raised = []
    for sid, code in (("s1", "SHARED_IDENTIFIER"), ("s2", "HOTEL_MULTI_CITY")):
        raised += ENGINE.apply_signal(state, signal(code, sid, T0 + HOUR), NOW).alerts
    assert raised == [] and state.alerts == {}


def test_a_shared_address_with_a_specific_labour_flag_alerts():
    state = AccountState()
    raised = []
    for sid, code in (("s1", "SHARED_IDENTIFIER"), ("s2", "HOTEL_MULTI_CITY"),
                      ("s3", "UNLICENSED_RECRUITER")):  # fmt: skip
        raised += ENGINE.apply_signal(state, signal(code, sid, T0 + HOUR), NOW).alerts
    assert [a["typology"] for a in raised] == [LT.value]
    assert {i["code"] for i in raised[0]["indicators"]} == {
        "SHARED_IDENTIFIER", "HOTEL_MULTI_CITY", "UNLICENSED_RECRUITER"
    }  # fmt: skip


def test_ambiguous_footprints_without_a_shared_identifier_still_alert():
    """The travelling controller (hotels in several cities, tickets, rides: FINTRAC 2016)
    needs no specific flag; only the shared identifier does."""
    travel = [(hit(c), w) for c, w in (("HOTEL_MULTI_CITY", 0.5), ("FREQUENT_TRAVEL", 0.3),
                                       ("RIDE_SHARE_BURST", 0.3))]  # fmt: skip
    assert names_a_crime(travel, RULES)
    assert not names_a_crime(
        [(hit("SHARED_IDENTIFIER"), 0.7), (hit("FREQUENT_TRAVEL"), 0.3)], RULES
    )
    # Structuring is not an everyday footprint: senders sharing a phone who each keep their
    # wires under US$3,000 name smuggling (FIN-2014-A008, row 17 with row 20).
    assert names_a_crime([(hit("SHARED_IDENTIFIER"), 0.6), (hit("STRUCTURING"), 0.4)], RULES)
    assert names_a_crime([(hit("SHARED_IDENTIFIER"), 0.6), (hit("CASH_IN_WIRE_OUT"), 0.65)], RULES)
