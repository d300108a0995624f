"""Network cases (issue 12, point 3; processors/networks.py), through the offline run loop.

The evaluation's missed sex-trafficking rings split their red flags: one victim paying ad
sites, the controller paying motels in several cities, each under the threshold alone. Linked
by one phone, they make one case. Its look-alikes must not: a couple whose weak flags do not
add up, a group too big to be a ring, senders whose only flag is the context of paying one
beneficiary. Cases never show one institution another's accounts or events.
"""

from __future__ import annotations

import copy
import time

from processors import rules
from processors.engine import Engine
from processors.links import Signal
from processors.networks import NETWORK_CASE
from processors.replay import run
from processors.state import AccountState
from tests.support import payment

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_767_225_600_000
NOW = T0 + 400 * DAY
RULES = rules.load()
PHONE = "3f2a" + "ab" * 30


def ads(account: str, t: int, phone: str = PHONE, institution: str = "bank-a", n: int = 3):
    """Posting fees at a generic advertising merchant, small multiples of $3: AD_SITE (0.6)."""
    return [
        payment(
            f"{account}-ad{i}",
            t + i * DAY,
            account,
            channel="CARD_NOT_PRESENT",
            amount_minor=300 * (i + 1) * 4,
            institution_id=institution,
            merchant={"merchant_id": "gen-ad", "mcc": "7311", "country": "US"},
            holder_phone_hash=phone,
        )
        for i in range(n)
    ]


def motels(account: str, t: int, phone: str = PHONE, institution: str = "bank-a"):
    """Motels in three cities in three nights: HOTEL_MULTI_CITY (0.5 sex, 0.3 labour)."""
    return [
        payment(
            f"{account}-h{i}",
            t + i * DAY,
            account,
            institution_id=institution,
            merchant={"merchant_id": f"h-{city}", "mcc": "7011", "city": city, "country": "US"},
            holder_phone_hash=phone,
        )
        for i, city in enumerate(("Reno", "Fresno", "Boise"))
    ]


def rides(account: str, t: int, phone: str = PHONE, institution: str = "bank-a"):
    """Six taxi rides in a week with no history: RIDE_SHARE_BURST (0.3 sex, 0.2 labour)."""
    return [
        payment(
            f"{account}-r{i}",
            t + i * HOUR * 20,
            account,
            institution_id=institution,
            merchant={"merchant_id": "taxi", "mcc": "4121", "city": "Reno", "country": "US"},
            holder_phone_hash=phone,
        )
        for i in range(6)
    ]


def backtest(records: list[dict], rule_set: rules.RuleSet = RULES):
    records = sorted(records, key=lambda r: r["event_time"])
    res = run(records, Engine(rule_set), int(time.time() * 1000))
    assert res.rejected == {}
    return res


def cases(res) -> list[dict]:
    return [a for a in res.alerts.values() if a.get("network")]


def test_a_ring_split_across_two_accounts_makes_one_network_case():
    res = backtest(ads("victim", T0) + motels("boss", T0 + HOUR))
    assert [a for a in res.alerts.values() if not a.get("network")] == []  # none alone
    found = cases(res)
    assert len(found) == 1
    case = found[0]
    assert case["typology"] == "SEX_TRAFFICKING" and case["score"] == 1.1
    assert case["account_id"] == "victim"  # contributes most (0.6 against 0.5)
    assert {i["code"] for i in case["indicators"]} == {"AD_SITE_PAYMENTS", "HOTEL_MULTI_CITY"}
    members = {m["account_id"]: m for m in case["network"]["members"]}
    assert set(members) == {"victim", "boss"}
    assert members["boss"]["indicator_codes"] == ["HOTEL_MULTI_CITY"]
    assert case["network"]["other_members"] == 0 and case["network"]["link_kind"] == "phone"
    assert {"victim-ad0", "boss-h0"} <= set(case["evidence_event_ids"])
    assert PHONE not in str(case)


def test_a_couple_whose_weak_flags_do_not_add_up_makes_no_case():
    # Motels in three cities (0.5) and a burst of taxi rides (0.3): 0.8 together.
    res = backtest(motels("partner-1", T0) + rides("partner-2", T0))
    assert res.alerts == {}


def test_each_red_flag_counts_once_in_a_network():
    # Two members each paying motels in three cities: still 0.5, not 1.0.
    res = backtest(motels("a", T0) + motels("b", T0 + HOUR))
    assert res.alerts == {}


def test_a_group_above_the_size_bound_is_not_a_network():
    doc = copy.deepcopy(rules.default_document())
    doc["networks"]["max_customers"] = 2
    tight = rules.parse(doc)
    third = payment("x-1", T0, "bystander", holder_phone_hash=PHONE, institution_id="bank-a")
    assert cases(backtest(ads("victim", T0) + motels("boss", T0 + HOUR), tight))
    assert cases(backtest(ads("victim", T0) + motels("boss", T0 + HOUR) + [third], tight)) == []


def test_networks_can_be_turned_off():
    doc = copy.deepcopy(rules.default_document())
    doc["networks"]["enabled"] = False
    assert cases(backtest(ads("victim", T0) + motels("boss", T0 + HOUR), rules.parse(doc))) == []


def test_a_case_across_institutions_shows_each_only_its_own_members():
    res = backtest(
        ads("victim", T0, institution="bank-a") + motels("boss", T0, institution="bank-b")
    )
    found = {c["institution_id"]: c for c in cases(res)}
    assert set(found) == {"bank-a", "bank-b"}
    a, b = found["bank-a"], found["bank-b"]
    assert a["network"]["network_id"] == b["network"]["network_id"]
    assert a["alert_id"] != b["alert_id"]
    assert (a["account_id"], b["account_id"]) == ("victim", "boss")
    for case, other in ((a, "boss"), (b, "victim")):
        assert other not in str(case)  # no account, customer or event id of the other bank
        assert [m["account_id"] for m in case["network"]["members"]] == [case["account_id"]]
        assert case["network"]["other_members"] == 1
        assert case["network"]["other_institutions"] == 1
        assert case["score"] == 1.1
    remote = next(i for i in a["indicators"] if i["code"] == "HOTEL_MULTI_CITY")
    assert remote["event_ids"] == [] and "other institutions" in remote["explanation"]


def test_members_alerted_alone_are_not_put_in_a_second_case():
    # Both alert alone (ads and motels each) before their shared phone shows: two alerts,
    # no network case on top.
    alone = []
    for acct in ("v1", "v2"):
        alone += ads(acct, T0, phone=None) + motels(acct, T0, phone=None)
    linked = [
        payment(f"{a}-late", T0 + 4 * DAY, a, institution_id="bank-a", holder_phone_hash=PHONE)
        for a in ("v1", "v2")
    ]
    res = backtest(alone + linked)
    assert sorted(a["account_id"] for a in res.alerts.values()) == ["v1", "v2"]
    assert cases(res) == []
    # Linked to an account alerted alone, a member paying motels in three cities is the
    # network's subject (the ring's controller, say); the alerted member is listed with it.
    res = backtest(
        ads("v1", T0, phone=None) + motels("v1", T0, phone=None) + motels("v2", T0) + [linked[0]]
    )
    assert [c["account_id"] for c in cases(res)] == ["v2"]
    listed = {m["account_id"]: m["alerts_alone"] for m in cases(res)[0]["network"]["members"]}
    assert listed == {"v2": False, "v1": True}


def test_the_subject_of_a_network_case_is_not_alerted_again_for_the_same_pattern():
    """The case is raised on its subject's own state: the cooldown covers the subject's
    own alert for the typology a little later (one alert per account and pattern)."""
    later = ads("victim", T0 + 2 * DAY + HOUR, n=2)
    for i, rec in enumerate(later):
        rec["event_id"] = f"victim-late{i}"
        rec["amount_minor"] = 300 * 20
    res = backtest(ads("victim", T0) + motels("boss", T0 + HOUR) + motels("victim", T0 + 3 * DAY))
    on_victim = [a for a in res.alerts.values() if a["account_id"] == "victim"]
    assert len(on_victim) == 1 and on_victim[0].get("network")


def test_senders_whose_only_flag_is_paying_one_beneficiary_are_context_not_subjects():
    """Five relatives remit to one beneficiary abroad; each also makes one weak smuggling
    flag of its own elsewhere? No: only the beneficiary finding (0.3 each, counted once)."""
    recs = [
        payment(
            f"s{i}",
            T0 + i * HOUR,
            f"sender-{i}",
            channel="REMITTANCE",
            amount_minor=150_000,
            counterparty={"account_id": "abroad", "institution_id": "bank-far"},
        )
        for i in range(5)
    ]
    res = backtest(recs)
    assert res.alerts == {}
    assert {acct for acct, code in res.hits if code == "COMMON_BENEFICIARY"} == {
        f"sender-{i}" for i in range(5)
    }


def test_a_replayed_link_re_sends_the_case_and_the_subject_raises_it_once():
    recs = ads("victim", T0) + motels("boss", T0 + HOUR)
    doubled = sorted(recs + [dict(r) for r in recs], key=lambda r: r["event_time"])
    once, twice = backtest(recs), backtest(doubled)
    assert twice.duplicates == len(recs)
    assert set(once.alerts) == set(twice.alerts) and len(cases(twice)) == 1


def test_a_case_signal_raises_the_alert_once_and_respects_the_rule_set_in_force():
    res = backtest(ads("victim", T0) + motels("boss", T0 + HOUR))
    case = cases(res)[0]
    sig = Signal(
        "sig-1",
        NETWORK_CASE,
        "bank-a",
        "victim",
        "cust-victim",
        T0 + 5 * DAY,
        1.1,
        1.0,
        1209600,
        "case",
        [],
        T0,
        -1,
        case,
    )
    assert Signal.loads(sig.dumps()) == sig
    engine, state = Engine(RULES), AccountState()
    first = engine.apply_signal(state, sig, NOW)
    assert [a["alert_id"] for a in first.alerts] == [case["alert_id"]]
    again = engine.apply_signal(state, sig, NOW)
    assert again.duplicate and [a["alert_id"] for a in again.alerts] == [case["alert_id"]]
    stale = dict(case, rule_set_version="1999.1")
    old = Signal(
        "sig-2",
        NETWORK_CASE,
        "bank-a",
        "victim",
        "cust-victim",
        T0,
        1.1,
        1.0,
        1209600,
        "case",
        [],
        T0,
        -1,
        stale,
    )
    assert not engine.apply_signal(AccountState(), old, NOW).alerts


def bunkhouse(n: int = 3, address: str = "ad" * 32) -> list[dict]:
    """Workers sharing one address, paid by payroll, forwarding most of it to "boss" by wire
    under US$3,000 within hours; the boss's account is at a reporting institution and
    receives the transfers."""
    out = []
    for i in range(n):
        w = f"worker-{i}"
        out.append(
            payment(
                f"{w}-pay",
                T0 + i * 60_000,
                w,
                direction="CREDIT",
                channel="ACH",
                payroll=True,
                amount_minor=90_000,
                holder_address_hash=address,
                counterparty={"account_id": "farm", "institution_id": "bank-f"},
            )
        )
        out.append(
            payment(
                f"{w}-fwd",
                T0 + 2 * HOUR + i * 60_000,
                w,
                channel="WIRE",
                amount_minor=80_000,
                holder_address_hash=address,
                counterparty={"account_id": "boss", "institution_id": "bank-test"},
            )
        )
        out.append(
            payment(
                f"boss-in-{i}",
                T0 + 2 * HOUR + i * 60_000 + 1,
                "boss",
                direction="CREDIT",
                channel="WIRE",
                amount_minor=80_000,
                counterparty={"account_id": w, "institution_id": "bank-test"},
            )
        )
    return out


def test_the_bunkhouse_makes_labour_alerts_and_a_case_on_the_controller_and_no_smuggling():
    res = backtest(bunkhouse())
    by_account: dict[str, list[str]] = {}
    for a in res.alerts.values():
        by_account.setdefault(a["account_id"], []).append(a["typology"])
    assert by_account == {
        "worker-0": ["LABOUR_TRAFFICKING"],
        "worker-1": ["LABOUR_TRAFFICKING"],
        "worker-2": ["LABOUR_TRAFFICKING"],
        "boss": ["LABOUR_TRAFFICKING"],
    }
    (case,) = cases(res)
    assert case["account_id"] == "boss"
    members = {m["account_id"]: m for m in case["network"]["members"]}
    assert members["boss"]["role"] == "controller"
    assert ("boss", "WAGES_COLLECTED") in res.hits
    assert not any(code == "COMMON_BENEFICIARY" for _, code in res.hits)


def night_cash(account: str, t: int, phone: str = PHONE) -> list[dict]:
    """Three ATM withdrawals at 23:30 in a week: LATE_NIGHT_CASH (0.5, sex trafficking)."""
    return [
        payment(
            f"{account}-n{i}",
            t + i * 2 * DAY + 23 * HOUR + 1_800_000,
            account,
            channel="ATM",
            institution_id="bank-a",
            location={"city": "Reno", "region": "NV", "country": "US", "terminal_id": "atm-1"},
            holder_phone_hash=phone,
        )
        for i in range(3)
    ]


def test_a_household_of_two_with_weak_flags_makes_no_case():
    """A night worker's cash (0.5) and a travelling partner's motels (0.5) add up to 1.0,
    but two customers sharing a phone are a household: a pair needs a strong specific flag
    (networks.pair_min_weight, 0.6)."""
    res = backtest(night_cash("partner-1", T0) + motels("partner-2", T0))
    assert {code for _, code in res.hits} == {"LATE_NIGHT_CASH", "HOTEL_MULTI_CITY"}
    assert res.alerts == {}
    # With a third customer on the phone it is no longer a household's size; the night cash
    # is specific to sex trafficking, so the three make a case (on the night worker, who
    # contributes most). The shared phone (SHARED_IDENTIFIER) with the motels alone, before
    # the night cash, named no crime and made none.
    third = night_cash("partner-1", T0) + motels("partner-2", T0)
    third.append(payment("x-1", T0, "lodger", holder_phone_hash=PHONE, institution_id="bank-a"))
    found = cases(backtest(third))
    assert [(c["account_id"], c["typology"]) for c in found] == [("partner-1", "SEX_TRAFFICKING")]
    # And a pair with ad-site payments (0.6, specific) is a case (the split ring above).
    doc = copy.deepcopy(rules.default_document())
    doc["networks"]["pair_min_weight"] = 0.5
    assert len(cases(backtest(night_cash("p1", T0) + motels("p2", T0), rules.parse(doc)))) == 1


# ------------------------------------------------------------------------- payee groups


def handover(account: str, t: int, to: str = "boss", institution: str = "bank-a") -> dict:
    """A victim passing earnings to the controller's account by P2P."""
    return payment(
        f"{account}-p{t}",
        t,
        account,
        channel="P2P",
        amount_minor=30_000,
        institution_id=institution,
        counterparty={"account_id": to, "institution_id": "bank-a"},
    )


def test_only_a_recurring_payer_joins_its_payees_group():
    from processors.links import PAYEE_KIND, Linker
    from processors.validation import to_event

    linker = Linker.from_rules(RULES)
    slots: dict = {}

    def kinds(rec):
        return [lk.kind for lk in linker.due(slots, to_event(rec, NOW), False)]

    assert kinds(handover("v1", T0)) == []  # once: a friend, a shop
    assert kinds(handover("v1", T0 + DAY)) == [PAYEE_KIND]  # again within the window
    assert kinds(handover("v1", T0 + 2 * DAY)) == []  # reported this refresh period
    assert kinds(handover("v1", T0 + 6 * DAY)) == [PAYEE_KIND]
    late = {}
    assert [lk.kind for lk in linker.due(late, to_event(handover("v2", T0), NOW), False)] == []
    assert (
        linker.due(late, to_event(handover("v2", T0 + 20 * DAY), NOW), False) == []
    )  # the first payment left the window
    again = linker.due(slots, to_event(handover("v1", T0 + DAY), NOW), True)
    assert [lk.kind for lk in again] == [PAYEE_KIND]  # a redelivery re-sends
    # Networks off: no payee links at all.
    doc = copy.deepcopy(rules.default_document())
    doc["networks"]["enabled"] = False
    off = Linker.from_rules(rules.parse(doc))
    quiet: dict = {}
    for day in range(3):
        assert off.due(quiet, to_event(handover("v3", T0 + day * DAY), NOW), False) == []


def test_victims_passing_earnings_to_one_controller_make_a_network():
    """Linked only through the controller they pay (no shared identifier): one victim pays
    the ads, another the motels; the controller's own account is clean."""
    recs = ads("v1", T0, phone=None) + motels("v2", T0, phone=None)
    for day in range(4):
        recs += [handover("v1", T0 + day * DAY + HOUR), handover("v2", T0 + day * DAY + 2 * HOUR)]
        recs.append(payment(f"boss-c{day}", T0 + day * DAY, "boss", institution_id="bank-a"))
    found = cases(backtest(recs))
    assert [(c["account_id"], c["typology"], c["network"]["link_kind"]) for c in found] == [
        ("v1", "SEX_TRAFFICKING", "payee")
    ]
    assert {m["account_id"] for m in found[0]["network"]["members"]} == {"v1", "v2"}


def test_one_off_payers_of_one_friend_are_not_a_network():
    recs = ads("a", T0, phone=None) + motels("b", T0, phone=None)
    recs += [handover("a", T0 + HOUR, to="friend"), handover("b", T0 + 2 * HOUR, to="friend")]
    assert backtest(recs).alerts == {}
