"""The receiving side of money findings (issue 12, point 1): the collector and the controller.

COLLECTOR_FAN_IN (the smuggling collector, FIN-2014-A008 / FIN-2023-Alert001) and
WAGES_COLLECTED (the labour controller collecting forwarded wages, FIN-2014-A008) seen on the
receiving account's own credits, and the cross-account groups signalling the receiving
account when it is one of ours (processors/links.py, owner links).
"""

from __future__ import annotations

import copy

import pytest

from processors import rules
from processors.engine import Engine
from processors.links import (
    BENEFICIARY,
    BENEFICIARY_KIND,
    COLLECTOR,
    CONTROLLER,
    OWNER,
    WAGE_KIND,
    WAGES,
    IdentifierGroup,
    Linker,
    LinkIndex,
)
from processors.model import Typology
from processors.state import AccountState, alert_record
from processors.validation import to_event
from tests.support import check_measured_hit, payment

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NOW = T0 + 400 * DAY
RULES = rules.load()


def credit(eid: str, t: int, sender: str, usd: float = 1_800, account: str = "coll", **fields):
    """A transfer received by ``account`` from ``sender``'s account at another bank."""
    fields.setdefault("channel", "WIRE")
    return payment(
        eid,
        t,
        account,
        direction="CREDIT",
        amount_minor=int(usd * 100),
        counterparty={"account_id": sender, "institution_id": "bank-far", "country": "US"},
        **fields,
    )


def hits_of(records: list[dict], code: str, engine: Engine | None = None):
    engine = engine or Engine(RULES)
    state = AccountState()
    out = []
    for rec in records:
        res = engine.step(state, to_event(rec, NOW), NOW)
        out += [h for h in res.hits if h.code == code]
    assert AccountState.loads(state.dumps()).slots == state.slots
    return out, state


# ------------------------------------------------------------------------ COLLECTOR_FAN_IN


def test_five_senders_under_the_msb_limit_within_a_week_make_the_collector():
    recs = [credit(f"c{i}", T0 + i * 20 * HOUR, f"sender-{i}", 1_800) for i in range(5)]
    found, state = hits_of(recs, COLLECTOR)
    assert len(found) == 1
    check_measured_hit(found[0], 5, 5, [f"c{i}" for i in range(5)])
    assert found[0].source == "FIN-2023-Alert001"
    # Alone it alerts: the receiving account is the subject the advisories describe.
    assert list(state.alerts) == [Typology.HUMAN_SMUGGLING.value]
    alert = alert_record(state.alerts[Typology.HUMAN_SMUGGLING.value])
    assert [i["code"] for i in alert["indicators"]] == [COLLECTOR] and alert["score"] == 1.0


@pytest.mark.parametrize(
    "recs",
    [
        # four senders only
        [credit(f"c{i}", T0 + i * HOUR, f"sender-{i}") for i in range(4)],
        # one sender five times
        [credit(f"c{i}", T0 + i * HOUR, "sender-0") for i in range(5)],
        # the fifth at the US$3,000 limit
        [credit(f"c{i}", T0 + i * HOUR, f"sender-{i}", 3_000 if i == 4 else 900) for i in range(5)],
        # the fifth eight days after the first
        [credit(f"c{i}", T0 + i * 2 * DAY, f"sender-{i}") for i in range(5)],
        # by ACH or P2P (rent, bills, friends), by default not counted
        [credit(f"c{i}", T0 + i * HOUR, f"s-{i}", channel=("ACH", "P2P")[i % 2]) for i in range(5)],
        # a business account taking wires from its customers
        [credit(f"c{i}", T0 + i * HOUR, f"sender-{i}", account_type="BUSINESS") for i in range(5)],
        # payroll credits
        [credit(f"c{i}", T0 + i * HOUR, f"employer-{i}", payroll=True) for i in range(5)],
    ],
    ids=["four", "one-sender", "at-limit", "eight-days", "ach-p2p", "business", "payroll"],
)
def test_collector_near_misses(recs):
    found, state = hits_of(recs, COLLECTOR)
    assert found == [] and state.alerts == {}


def test_senders_paying_through_one_msb_account_count_by_their_own_names():
    """Remittances paid out from an MSB's settlement account name the sender as the
    ultimate debtor (or the payer name): five people, not one account."""
    recs = [
        credit(f"c{i}", T0 + i * HOUR, "msb-settlement", 1_200, channel="REMITTANCE")
        for i in range(5)
    ]
    for i, rec in enumerate(recs):
        rec["counterparty"]["ultimate_party_hash"] = f"{i:064x}"
    found, _ = hits_of(recs, COLLECTOR)
    assert len(found) == 1 and found[0].measured == 5
    same = [credit(f"c{i}", T0 + i * HOUR, "msb-settlement", 1_200) for i in range(5)]
    assert hits_of(same, COLLECTOR)[0] == []  # unnamed: one account, one sender


# ------------------------------------------------------------------------- WAGES_COLLECTED


def forwarded(eid: str, t: int, worker: str, usd: float = 640, **fields) -> dict:
    return credit(eid, t, worker, usd, account="boss", channel="P2P", **fields)


def paydays(first: int, gap: int, workers: list[list[str]], usd: float = 640) -> list[dict]:
    out = []
    for n, crew in enumerate(workers):
        for i, worker in enumerate(crew):
            out.append(forwarded(f"f{n}-{i}", first + n * gap + i * 2 * HOUR, worker, usd))
    return out


def test_the_same_workers_forwarding_on_two_paydays_make_the_controller():
    crew = ["w1", "w2", "w3"]
    found, state = hits_of(paydays(T0, 7 * DAY, [crew, crew]), CONTROLLER)
    assert len(found) == 1
    check_measured_hit(found[0], 2, 2, [f"f{n}-{i}" for n in range(2) for i in range(3)])
    assert "3 or more different senders" in found[0].explanation
    assert state.alerts == {}  # 0.75: a landlord or a savings club looks the same alone


@pytest.mark.parametrize(
    "recs",
    [
        paydays(T0, 7 * DAY, [["w1", "w2", "w3"]]),  # one payday (a landlord's rent day)
        paydays(T0, 2 * DAY, [["w1", "w2", "w3"]] * 2),  # two days apart: not two paydays
        paydays(T0, 7 * DAY, [["w1", "w2", "w3"], ["x1", "x2", "x3"]]),  # nobody recurs
        paydays(T0, 7 * DAY, [["w1", "w2"], ["w1", "w2"]]),  # two senders a payday
        paydays(T0, 7 * DAY, [["w1", "w2", "w3"]] * 2, usd=200),  # small amounts
        paydays(T0, 22 * DAY, [["w1", "w2", "w3"]] * 2),  # further apart than the window
    ],
    ids=["one-payday", "two-days", "no-recurring", "two-senders", "small", "window"],
)
def test_controller_near_misses(recs):
    assert hits_of(recs, CONTROLLER)[0] == []


def test_forwarded_wages_are_not_also_a_smuggling_collector():
    """Five workers wire most of their wage to one account twice, each under US$3,000: the
    credits also make COLLECTOR_FAN_IN, which the wages explain (processors/attribution.py)."""
    crew = [f"w{i}" for i in range(5)]
    recs = paydays(T0, 7 * DAY, [crew, crew])
    for rec in recs:
        rec["channel"] = "WIRE"
    engine = Engine(RULES)
    state = AccountState()
    raised = []
    for rec in recs:
        raised += engine.step(state, to_event(rec, NOW), NOW).alerts
    assert {COLLECTOR, CONTROLLER} <= set(state.hits)
    # The first payday alone looked like a collector (five senders under the limit); once
    # the second shows they are wages, the account is not alerted for smuggling again.
    smuggling = [a for a in raised if a["typology"] == Typology.HUMAN_SMUGGLING.value]
    assert len(smuggling) == 1 and smuggling[0]["last_event_time"] < T0 + 7 * DAY


# ------------------------------------------------- the cross-account groups signal the owner


def linker() -> Linker:
    return Linker.from_detectors(RULES.detectors)


def owner_digest_links(rec: dict) -> list:
    return linker().due({}, to_event(rec, NOW), False)


def test_a_credit_reports_its_account_as_owner_of_its_own_beneficiary_digest():
    got = owner_digest_links(credit("c1", T0, "sender-1", 1_500))
    kinds = sorted((lk.kind, lk.role) for lk in got)
    assert kinds == [(BENEFICIARY_KIND, OWNER), (WAGE_KIND, OWNER)]
    sent = payment(
        "d1",
        T0,
        "sender-1",
        channel="WIRE",
        amount_minor=150_000,
        counterparty={"account_id": "coll", "institution_id": "bank-test"},
    )
    out = linker().due({}, to_event(sent, NOW), False)
    benef = next(lk for lk in out if lk.kind == BENEFICIARY_KIND)
    assert {lk.ident for lk in got} == {benef.ident}  # the sender's beneficiary is our account
    # Throttled like holder identifiers: the next credit within the refresh period is quiet.
    slots: dict = {}
    lk = linker()
    assert lk.due(slots, to_event(credit("c2", T0, "s2"), NOW), False)
    assert lk.due(slots, to_event(credit("c3", T0 + HOUR, "s3"), NOW), False) == []
    assert lk.due(slots, to_event(credit("c4", T0 + 2 * DAY, "s4"), NOW), False)


def test_owner_links_skip_payroll_large_amounts_and_cards():
    assert owner_digest_links(credit("c1", T0, "employer", payroll=True)) == []
    big = owner_digest_links(credit("c2", T0, "s", 3_500))
    assert [lk.kind for lk in big] == [WAGE_KIND]  # too large for the smuggling group
    card = payment("c3", T0, "coll", direction="CREDIT")
    assert owner_digest_links(card) == []


def feed_group(links) -> tuple[IdentifierGroup, list]:
    index = LinkIndex(linker())
    group = IdentifierGroup()
    out = []
    for lk in links:
        out.append(index.add(group, lk))
    return group, out


def sender_links(n: int, beneficiary: str = "coll", usd: float = 1_500) -> list:
    out = []
    for i in range(n):
        rec = payment(
            f"s{i}",
            T0 + i * HOUR,
            f"sender-{i}",
            channel="REMITTANCE",
            amount_minor=int(usd * 100),
            counterparty={"account_id": beneficiary, "institution_id": "bank-test"},
        )
        out += [lk for lk in linker().due({}, to_event(rec, NOW), False) if lk.code == BENEFICIARY]
    return out


def test_the_beneficiary_group_signals_its_owner_with_the_collector_code():
    owner = [lk for lk in owner_digest_links(credit("c0", T0, "x")) if lk.code == BENEFICIARY]
    group, signals = feed_group(owner + sender_links(5))
    last = signals[-1]
    by_account = {s.account_id: s for s in last}
    assert by_account["coll"].code == COLLECTOR  # the owner: the collector's own code
    assert {s.code for a, s in by_account.items() if a != "coll"} == {BENEFICIARY}
    assert by_account["coll"].measured == 5  # the owner is not one of the senders
    assert "to this account" in by_account["coll"].explanation
    assert by_account["coll"].event_ids == ["c0"]  # its own event only
    # Four senders and the owner: no finding.
    _, four = feed_group(owner + sender_links(4))
    assert not any(four)
    # The owner's signal alerts alone (COLLECTOR_FAN_IN weighs 1.0); each sender's is context.
    engine = Engine(RULES)
    res = engine.apply_signal(AccountState(), by_account["coll"], NOW)
    assert [a["typology"] for a in res.alerts] == [Typology.HUMAN_SMUGGLING.value]
    res = engine.apply_signal(AccountState(), by_account["sender-0"], NOW)
    assert res.alerts == [] and res.hits[0].weight == 0.3


def test_an_owner_joining_a_group_already_found_is_signalled():
    group, signals = feed_group(sender_links(5))
    assert all(s.code == BENEFICIARY for s in signals[-1])
    owner = [lk for lk in owner_digest_links(credit("c0", T0 + 6 * HOUR, "x"))]
    index = LinkIndex(linker())
    late = index.add(group, next(lk for lk in owner if lk.code == BENEFICIARY))
    assert [(s.account_id, s.code) for s in late] == [("coll", COLLECTOR)]


def test_a_forwarded_wage_is_a_wage_link_and_not_also_a_beneficiary_link():
    slots: dict = {}
    lk = linker()
    pay = payment(
        "p1", T0, "w1", direction="CREDIT", channel="ACH", payroll=True, amount_minor=90_000
    )
    assert lk.due(slots, to_event(pay, NOW), False) == []
    wire = payment(
        "s1",
        T0 + 3 * HOUR,
        "w1",
        channel="WIRE",
        amount_minor=80_000,
        counterparty={"account_id": "boss", "institution_id": "bank-x"},
    )
    out = lk.due(slots, to_event(wire, NOW), False)
    assert [x.code for x in out] == [WAGES]
    # The same wire with no payday before it is a payment to a beneficiary.
    out = linker().due({}, to_event(wire, NOW), False)
    assert [x.code for x in out] == [BENEFICIARY]


def test_the_wage_group_signals_its_owner_with_the_controller_code():
    owner = [lk for lk in owner_digest_links(forwarded("c0", T0, "w0")) if lk.code == WAGES]
    links = []
    for i in range(3):
        slots: dict = {}
        lk = linker()
        pay = payment(
            f"p{i}",
            T0,
            f"w{i}",
            direction="CREDIT",
            channel="ACH",
            payroll=True,
            amount_minor=90_000,
        )
        lk.due(slots, to_event(pay, NOW), False)
        send = payment(
            f"s{i}",
            T0 + HOUR,
            f"w{i}",
            channel="P2P",
            amount_minor=80_000,
            counterparty={"account_id": "boss", "institution_id": "bank-test"},
        )
        links += lk.due(slots, to_event(send, NOW), False)
    _, signals = feed_group(owner + links)
    by_account = {s.account_id: s.code for s in signals[-1]}
    assert by_account == {"boss": CONTROLLER, "w0": WAGES, "w1": WAGES, "w2": WAGES}


def test_disabling_the_owner_code_leaves_the_senders_signalled():
    doc = copy.deepcopy(rules.default_document())
    doc["indicators"][COLLECTOR]["enabled"] = False
    lk = Linker.from_detectors(rules.parse(doc).detectors)
    owner = [x for x in lk.due({}, to_event(credit("c0", T0, "x"), NOW), False)]
    index = LinkIndex(lk)
    group = IdentifierGroup()
    out = []
    for x in [o for o in owner if o.code == BENEFICIARY] + sender_links(5):
        out = index.add(group, x)
    assert sorted(s.account_id for s in out) == [f"sender-{i}" for i in range(5)]


def test_daily_handovers_are_not_forwarded_wages():
    """Victims handing over takings every day to one account (a pimp's) pay it on every day,
    not once a pay period: they are not counted as workers forwarding wages."""
    recs = []
    for day in range(12):
        for i, victim in enumerate(("v1", "v2", "v3")):
            recs.append(forwarded(f"d{day}-{i}", T0 + day * DAY + i * HOUR, victim, 300))
    assert hits_of(recs, CONTROLLER)[0] == []
    # The same three paying only on two paydays a week apart are.
    weekly = [r for r in recs if r["event_id"].startswith(("d0-", "d7-"))]
    assert len(hits_of(weekly, CONTROLLER)[0]) == 1
