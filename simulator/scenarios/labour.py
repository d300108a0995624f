"""Labour trafficking: wages captured and sent on, crew bosses, front businesses."""

from __future__ import annotations

import random

from simulator.amounts import money
from simulator.clock import (
    ACH_HOURS,
    BUSINESS_HOURS,
    DAY_HOURS,
    DAY_MS,
    HOUR_MS,
    MIN_MS,
    at_hour,
    in_window,
    times,
)
from simulator.geography import PAYOUT_BANKS, utc_offset
from simulator.kinds import LABOUR, Kind, Opening
from simulator.parties import merchant
from simulator.world import Account, World


def labour_wage_capture(
    w: World, a: Account, rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """Wages of several workers land in one account; most of it leaves just under $3,000."""
    events: list[tuple[int, dict]] = []
    employer = rng.choice(w.employers)
    roster = [w.keyed(f"worker:{w.seed}:{a.idx}:{j}") for j in range(rng.randint(4, 9))]
    recipients = [
        w.party(f"lab-recipient:{a.idx}:{j}", PAYOUT_BANKS[c], c)
        for j, c in enumerate(rng.sample(("MX", "GT", "HN", "IN", "PH"), 3))
    ]
    aligned = hi - lo >= 6 * DAY_MS
    period = rng.choice((7, 14)) * DAY_MS
    payday = lo + (rng.randrange(max(1, min(hi - lo - 6 * DAY_MS, 3 * DAY_MS))) if aligned else 0)
    off = utc_offset(a.home, payday)
    cycle = 0
    while cycle == 0 or payday + 6 * DAY_MS <= hi:
        t_pay = at_hour(rng, payday, off, rng.choice(ACH_HOURS)) if aligned else payday
        for worker in rng.sample(roster, rng.randint(3, len(roster))):
            amount = money(rng, 560, 1300)
            cp = employer.record(ultimate=worker)
            events.append(
                w.rec(a, t_pay, off, "CREDIT", "ACH", amount, None, cp, None, "SALA", True)
            )
        n_out = rng.randint(3, 5)
        gap = 20 * HOUR_MS if aligned else max(2, (hi - t_pay) // (n_out + 1))
        t = t_pay
        for _ in range(n_out):
            t += rng.randrange(gap // 4, gap)
            if aligned:  # wires go out in banking hours, waiting at most overnight
                t = in_window(rng, t, t + 14 * HOUR_MS, off, DAY_HOURS)
            channel = "WIRE" if rng.random() < 0.7 else "REMITTANCE"
            amount = money(rng, 2705, 2995)
            events.append(w.transfer_out(a, t, off, rng.choice(recipients), amount, channel))
        payday += period
        cycle += 1
    return events


def labour_recruiter(
    w: World, a: Account, rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """A crew boss: fees to an unlicensed recruiter, bus tickets for the crew, van rental,
    then the crew's wages captured as in the classic scenario.

    Without the recruiter watchlist the wages and the crew's tickets already reach the
    threshold; with it, the fee adds to the score before the first payday.
    """
    events: list[tuple[int, dict]] = []
    off = utc_offset(a.home, lo)
    recruiter = rng.choice(w.recruiters)
    for t in times(rng, lo, min(2 * DAY_MS, hi - lo), rng.randint(1, 2), off, DAY_HOURS):
        events.append(w.transfer_out(a, t, off, recruiter, money(rng, 800, 2600), "WIRE"))
    crew = [w.keyed(f"crew:{w.seed}:{a.idx}:{i}") for i in range(rng.randint(3, 6))]
    t = in_window(rng, lo + DAY_MS // 2, lo + 2 * DAY_MS, off, DAY_HOURS)
    for k in range(rng.randint(2, 3)):  # one ticket per few workers, at the depot
        m = merchant(a.home, "bus", rng.randrange(2))
        group = crew[k::2] or crew[:1]
        events.append(
            w.rec(
                a,
                t + k * 5 * MIN_MS,
                off,
                "DEBIT",
                "CARD_PRESENT",
                money(rng, 40, 90) * len(group),
                m.record(),
                None,
                m.location(),
                passengers=group,
            )
        )
    if rng.random() < 0.6:  # a van every working day of the first week
        for t_v in times(
            rng, lo + DAY_MS, min(6 * DAY_MS, hi - lo - DAY_MS), rng.randint(6, 7), off, (5, 6)
        ):
            m = merchant(a.home, "car_rental", rng.randrange(2))
            events.append(w.card(a, t_v, off, m, money(rng, 55, 120)))
    return events + labour_wage_capture(w, a, rng, lo + DAY_MS, hi)


def labour_front_business(
    w: World, a: Account, rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """A salon or spa that banks cash every week, has nobody on its payroll and pays no tax;
    the workers get prepaid cards for pocket money and owe a recruiter.

    Slow by nature: the front-business and low-payroll indicators need four and five weeks of
    history, so this variant is only generated in runs of four weeks or more, and is caught
    near their end (LOW_PAYROLL with the prepaid burst of the last week).
    """
    events: list[tuple[int, dict]] = []
    off = utc_offset(a.home, lo)
    t = lo
    while t < hi - DAY_MS:
        for t_c in times(rng, t, min(7 * DAY_MS, hi - t), rng.randint(2, 4), off, BUSINESS_HOURS):
            events.append(w.cash(a, t_c, off, a.home, "CREDIT", money(rng, 900, 2400), "branch"))
        t += 7 * DAY_MS
    last_week = max(lo, hi - 7 * DAY_MS)
    for t_p in times(rng, last_week, hi - last_week, rng.randint(5, 7), off, DAY_HOURS):
        m = merchant(a.home, "prepaid", rng.randrange(2))
        events.append(w.card(a, t_p, off, m, rng.choice((100, 200, 300)) * 100))
    if rng.random() < 0.7:
        recruiter = rng.choice(w.recruiters)
        t_r = in_window(rng, hi - 10 * DAY_MS, hi - 8 * DAY_MS, off, DAY_HOURS)
        events.append(w.transfer_out(a, t_r, off, recruiter, money(rng, 1500, 4000), "WIRE"))
    return events


# The typology's scenarios, classic first: small runs with one scenario per typology get it.
SCENARIOS = (
    Kind("labour_wage_capture", LABOUR, Opening(banking="us_bank"), build=labour_wage_capture),
    Kind("labour_recruiter", LABOUR, Opening(banking="us_bank"), build=labour_recruiter),
    Kind(
        "labour_front_business",
        LABOUR,
        Opening(banking="us_business", business_types=("nail_salon", "spa"), payroll=False),
        build=labour_front_business,
        min_days=27,  # weekly cash over four weeks
    ),
)
