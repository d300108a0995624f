"""Indicator 8, receiving side: one account collecting several people's takings most days.

FINTRAC-2016-OA003 (row 8 of the reference) describes the victim's account taking many small
payments from buyers through online payment services, the money then "moved on to ... third
parties"; FIN-2014-A008 and FATF (2018) name the third party: the controller, who collects
the victims' earnings, typically every day or every few days (a quota). When the controller
is a customer of a reporting institution, his own statement shows the other end of it:
person-to-person transfers from two or more people, each of them handing money over on
several different days of the same week. MANY_SMALL_PAYERS sees the victim's side, and only
when the buyers pay her account; this code sees the controller's, whoever the buyers paid.

Per account: credits (not payroll) by ``channels`` of at least ``min_amount_usd`` each, from
a known sender. It fires when, within ``window_hours``, at least ``min_senders`` distinct
senders have each paid on at least ``min_days`` different local calendar days.

Numbers. The source says victims pass on their earnings; it gives no counts. Suggested:
two senders (the reference's "third parties" collect from one or several victims, and one
person paying another most days is a couple or a family, not a pattern), each on three or
more days in 7 days (``window_hours`` 168, the reference's window for row 8): a weekly
settling-up, a savings club (weekly), rent (monthly) or a relative's remittance (monthly)
pays once in a week. P2P only (``channels``): the reference's "online payment services".
US$50 a credit (``min_amount_usd``) leaves out colleagues paying one of them back for lunch
or a shared ride, which can be daily. Personal accounts only (``account_types``): a business
is paid by the same customers on many days.

Measured on the harder simulated population (50,000 accounts, 30 days, seed 7) with these
numbers: 17 of its 20 ring sex-trafficking controllers and 6 of 11 online-ring
controllers fire, and no background account, no hard negative (roommates, savings clubs,
landlords, families pooling remittances, co-workers) and no smuggling or labour account; 34
background accounts there are paid most days by *one* person, which is why one sender is
not enough. On the classic population: the same (no background, no hard negative).

Weight. 0.5 towards SEX_TRAFFICKING, below the threshold as for the other single
footprints of the typology (hotels in several cities, late-night cash): collecting from
people is not a crime, so a second sex-trafficking indicator, on the account or on the
people paying it (processors/networks.py, whose payee groups link exactly these senders to
this account), is needed to alert. It is the controller side of a money finding, so a
network case names this account as its subject (``networks.HUB_ROLES``). In a network it
says who collects, not what is collected: the case needs another indicator specific to sex
trafficking among the members (``networks.LINK_ONLY_CODES``), since a personal trainer paid
by two regular clients, one of whom travels for work (hotels in three cities), otherwise
made a case.
"""

from __future__ import annotations

from processors.indicators.base import days
from processors.indicators.collector_fan_in import (
    CreditsFromSenders,
    sender_digest,
)
from processors.indicators.common import DAY_MS, MAX_EVIDENCE_IDS
from processors.model import IndicatorHit, PaymentEvent, Typology


class EarningsCollected(CreditsFromSenders):
    code = "EARNINGS_COLLECTED"
    name = "Several people hand one account money on most days"
    source = "FINTRAC-2016-OA003"
    typologies = (Typology.SEX_TRAFFICKING,)
    defaults = {
        "window_hours": 168,
        "min_senders": 2,
        "min_days": 3,
        "min_amount_usd": 50,
        "channels": ["P2P"],
        "account_types": ["PERSONAL"],
    }

    def amount_counts(self, amount_usd: float) -> bool:
        return amount_usd >= self.params["min_amount_usd"]

    def entry(self, ev: PaymentEvent) -> list:
        local_day = (ev.event_time + ev.utc_offset_minutes * 60_000) // DAY_MS
        return [ev.event_time, ev.event_id, sender_digest(ev), local_day]

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        p = self.params
        need_senders = int(p["min_senders"])
        need_days = int(p["min_days"])
        if len(slot) < need_senders * need_days:
            return None
        days_of: dict[int, set[int]] = {}  # sender digest -> local days
        for e in slot:
            days_of.setdefault(e[2], set()).add(e[3])
        regular = {s for s, d in days_of.items() if len(d) >= need_days}
        if len(regular) < need_senders:
            return None
        ids = [e[1] for e in slot if e[2] in regular][-MAX_EVIDENCE_IDS:]
        return self.hit(
            ev,
            len(regular),
            need_senders,
            ids,
            f"{len(regular)} different senders each paid this account by "
            f"{'/'.join(sorted(self.channels)).lower()} (US${p['min_amount_usd']:,g} or more) "
            f"on {need_days} or more different days within {days(p['window_hours'])}; "
            f"threshold {need_senders:g} senders.",
        )
