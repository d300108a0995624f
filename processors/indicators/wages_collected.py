"""Indicator 15, controller side: the account that collects several workers' forwarded wages.

FIN-2014-A008 and FATF (2018) describe wage capture: the exploiter controls the workers'
pay. WAGE_CAPTURE sees the employer paying several wages into one account; WAGE_FORWARDING
sees each worker's account sending most of a wage on right after payday (cross-account,
processors/links.py). The account receiving those forwarded wages is the controller the
advisory is about, and when it is a customer of a reporting institution its own statement
shows them: on one day, transfers from several different people, each a large share of a
wage, and the same people again on the next payday.

Per account: credits (not payroll) by ``channels`` of at least ``min_amount_usd`` each are
grouped into paydays, a payday being the credits within ``cluster_hours`` of the first one.
A wage comes once a pay period, so a sender who pays again less than ``cycle_gap_hours``
after a payday (daily takings handed to a pimp, a friend settling up) is left out: on the
harder simulated population of 2026-12 the sex-trafficking controllers receiving their
victims' daily earnings were otherwise read as labour controllers (wrong typology).
It fires when at least ``min_cycles`` paydays at least ``cycle_gap_hours`` apart each bring
credits from ``min_senders`` or more distinct senders, at least ``min_recurring`` of whom
pay on more than one of those paydays, within ``window_hours``. The receiver does not see
the senders' paydays, so it needs the pattern to repeat; the cross-account group sees each
worker's payday and the share of the wage sent on, so it signals this account with this code
after one pay cycle (processors/links.py), and the two views never add up.

Numbers. From the source: "several workers' wages" and wages that "leave again right after
arrival". Suggested: 3 senders (as WAGE_CAPTURE and WAGE_FORWARDING), credits within 24
hours of each other, two paydays at least 5 days apart (weekly or fortnightly pay), 2 of the
same senders on both, within 21 days (two fortnightly paydays and slack). US$250 is about 80%
(the reference's share of a wage sent on, row 15) of a full-time week at the US federal
minimum wage (40 h x $7.25 = $290), so each credit is a large share of a low wage. Personal
accounts only: a business is paid by several customers on most days.

Look-alikes it must leave to a second indicator: a landlord collects rent from several
tenants after payday, but monthly (one payday in the window); a rotating savings club
collects weekly from its members. So the weight (0.75, that of WAGE_CAPTURE, the same red flag
seen at payroll) stays below the typology threshold: a second labour indicator (a shared
address, recruitment fees, low payroll) or the network of the workers it collects from
(processors/networks.py) is needed to alert.
"""

from __future__ import annotations

from processors.indicators.base import HOUR_MS, days
from processors.indicators.collector_fan_in import (
    CreditsFromSenders,
    sender_digest,
)
from processors.indicators.common import MAX_EVIDENCE_IDS
from processors.model import IndicatorHit, PaymentEvent, Typology


class WagesCollected(CreditsFromSenders):
    code = "WAGES_COLLECTED"
    name = "Several workers' forwarded wages collected by one account"
    source = "FIN-2014-A008"
    typologies = (Typology.LABOUR_TRAFFICKING,)
    explains = frozenset({"COLLECTOR_FAN_IN"})  # forwarded wages, not smuggling fees
    defaults = {
        "window_hours": 504,
        "cluster_hours": 24,
        "cycle_gap_hours": 120,
        "min_senders": 3,
        "min_cycles": 2,
        "min_recurring": 2,
        "min_amount_usd": 250,
        "channels": ["WIRE", "ACH", "P2P", "REMITTANCE"],
        "account_types": ["PERSONAL"],
    }

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.cluster_ms = int(self.params["cluster_hours"] * HOUR_MS)
        self.gap_ms = int(self.params["cycle_gap_hours"] * HOUR_MS)

    def amount_counts(self, amount_usd: float) -> bool:
        return amount_usd >= self.params["min_amount_usd"]

    def entry(self, ev: PaymentEvent) -> list:
        return [ev.event_time, ev.event_id, sender_digest(ev)]

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        p = self.params
        need = int(p["min_senders"])
        if len(slot) < need * p["min_cycles"]:
            return None
        # A wage comes once a pay period: a sender paying again between paydays (daily
        # takings handed over, a friend settling up) is not forwarding wages.
        last: dict[int, int] = {}  # sender digest -> last credit
        irregular: set[int] = set()
        for e in slot:
            prev = last.get(e[2])
            if prev is not None and self.cluster_ms <= e[0] - prev < self.gap_ms:
                irregular.add(e[2])
            if prev is None or e[0] - prev >= self.cluster_ms:
                last[e[2]] = e[0]
        # Paydays: credits within cluster_ms of the first one (the slot is in time order).
        paydays: list[tuple[int, set[int], list[str]]] = []
        start = -1
        for e in slot:
            if e[2] in irregular:
                continue
            if start < 0 or e[0] >= start + self.cluster_ms:
                start = e[0]
                paydays.append((start, set(), []))
            paydays[-1][1].add(e[2])
            paydays[-1][2].append(e[1])
        full = [d for d in paydays if len(d[1]) >= need]
        cycles: list[tuple[int, set[int], list[str]]] = []
        for d in full:
            if not cycles or d[0] - cycles[-1][0] >= self.gap_ms:
                cycles.append(d)
        if len(cycles) < p["min_cycles"]:
            return None
        seen: set[int] = set()
        recurring: set[int] = set()
        for d in cycles:
            recurring |= d[1] & seen
            seen |= d[1]
        if len(recurring) < p["min_recurring"]:
            return None
        ids = [i for d in cycles for i in d[2]][-MAX_EVIDENCE_IDS:]
        return self.hit(
            ev,
            len(cycles),
            p["min_cycles"],
            ids,
            f"On {len(cycles)} paydays at least {p['cycle_gap_hours'] / 24:g} days apart, "
            f"credits of US${p['min_amount_usd']:,g} or more from {need} or more different "
            f"senders within {p['cluster_hours']:g} hours ({len(recurring)} of them on more "
            f"than one payday), within {days(p['window_hours'])}; threshold "
            f"{p['min_cycles']:g} paydays.",
        )
