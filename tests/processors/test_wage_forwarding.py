"""Row 15, cross-account side: several workers forward their wages to one account.

Per account, processors/links.py remembers the last payroll credit; a transfer out soon after
it, carrying most of the wage, becomes a link keyed by the beneficiary. Three customers doing
so within a week signal each of them; the offline backtest raises LABOUR_TRAFFICKING when a
second labour indicator (a shared address here) is on the same accounts.
"""

from __future__ import annotations

import copy

import pytest

from processors import replay, rules
from processors.engine import Engine
from processors.links import WAGE_KIND, WAGES, IdentifierGroup, Linker, LinkIndex
from processors.validation import to_event
from tests.support import payment

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NOW = T0 + 400 * DAY
RULES = rules.load()
LINKER = Linker.from_detectors(RULES.detectors)


def payroll(eid: str, t: int, account: str, usd: float = 900, **fields) -> dict:
    return payment(eid, t, account, direction="CREDIT", channel="ACH", payroll=True,
                   amount_minor=int(usd * 100),
                   counterparty={"account_id": "employer-1", "institution_id": "bank-emp"},
                   **fields)  # fmt: skip


def send_on(eid: str, t: int, account: str, usd: float, to: str = "boss", **fields) -> dict:
    return payment(eid, t, account, channel="P2P", amount_minor=int(usd * 100),
                   counterparty={"account_id": to, "institution_id": "bank-x"},
                   **fields)  # fmt: skip


def links_of(records: list[dict]):
    slots: dict = {}
    out = []
    for rec in records:
        out += LINKER.due(slots, to_event(rec, NOW), False)
    return [lk for lk in out if lk.kind == WAGE_KIND]


def test_most_of_a_wage_sent_on_within_a_day_is_a_link_keyed_by_the_beneficiary():
    got = links_of([payroll("p1", T0, "w1"), send_on("s1", T0 + 5 * HOUR, "w1", 800)])
    assert len(got) == 1 and got[0].code == WAGES and got[0].event_id == "s1"
    assert "boss" not in got[0].ident  # a digest, never the account number itself


@pytest.mark.parametrize(
    "records",
    [
        [send_on("s1", T0, "w1", 800)],  # no payday on record
        [payroll("p1", T0, "w1"), send_on("s1", T0 + 30 * HOUR, "w1", 800)],  # too late
        [payroll("p1", T0, "w1"), send_on("s1", T0 + HOUR, "w1", 500)],  # 56% of the wage
        [payroll("p1", T0, "w1"), payment("c1", T0 + HOUR, "w1", amount_minor=80_000)],  # card
        [send_on("s0", T0 - HOUR, "w1", 800), payroll("p1", T0, "w1")],  # before payday
    ],
)
def test_near_misses_make_no_wage_link(records):
    assert links_of(records) == []


def test_three_workers_forwarding_to_one_account_signal_each_two_do_not():
    index, group = LinkIndex(LINKER), IdentifierGroup()
    signals = []
    for i in range(3):
        acct = f"w{i}"
        [lk] = links_of([payroll(f"p{i}", T0 + i * HOUR, acct),
                         send_on(f"s{i}", T0 + i * HOUR + 2 * HOUR, acct, 850)])  # fmt: skip
        signals.append(index.add(group, lk))
    assert signals[0] == [] and signals[1] == []
    assert sorted(s.account_id for s in signals[2]) == ["w0", "w1", "w2"]
    s = signals[2][0]
    assert s.code == WAGES and s.measured == 3 and s.threshold == 3
    assert "80% of a wage" in s.explanation and "24 hours of payday" in s.explanation


def test_wage_forwarding_alone_does_not_alert_but_with_a_shared_address_it_does():
    address = "ad" * 32
    records: list[dict] = []
    for i in range(3):  # three workers, one controller, one address on file
        acct, t = f"w{i}", T0 + i * HOUR
        records += [
            payroll(f"p{i}", t, acct, holder_address_hash=address),
            send_on(f"s{i}", t + 3 * HOUR, acct, 880, holder_address_hash=address),
        ]
    for i in range(3):  # three relatives remitting payday wages to one parent: no address
        acct, t = f"r{i}", T0 + i * HOUR
        records += [payroll(f"rp{i}", t, acct), send_on(f"rs{i}", t + 3 * HOUR, acct, 880,
                                                          to="mum")]  # fmt: skip
    records.sort(key=lambda r: r["event_time"])
    res = replay.run(records, Engine(RULES), NOW)
    raised = {(a["account_id"], a["typology"]) for a in res.alerts.values()}
    assert raised == {(f"w{i}", "LABOUR_TRAFFICKING") for i in range(3)}
    assert all((f"r{i}", WAGES) in res.hits for i in range(3))  # fired, but not enough alone
    alert = next(iter(res.alerts.values()))
    assert {i["code"] for i in alert["indicators"]} == {WAGES, "SHARED_IDENTIFIER"}


def test_disabled_wage_forwarding_yields_no_wage_links():
    doc = copy.deepcopy(rules.default_document())
    doc["indicators"][WAGES]["enabled"] = False
    linker = Linker.from_detectors(rules.parse(doc).detectors)
    slots: dict = {}
    for rec in (payroll("p1", T0, "w1"), send_on("s1", T0 + HOUR, "w1", 850)):
        assert [lk for lk in linker.due(slots, to_event(rec, NOW), False)
                if lk.kind == WAGE_KIND] == []  # fmt: skip


def test_rent_paid_right_after_payday_is_not_a_forwarded_wage():
    rent = send_on("r1", T0 + 5 * HOUR, "w1", 800, purpose="RENT")
    assert links_of([payroll("p1", T0, "w1"), rent]) == []
    same_without_purpose = send_on("s1", T0 + 5 * HOUR, "w1", 800)
    assert len(links_of([payroll("p1", T0, "w1"), same_without_purpose])) == 1
