"""Human smuggling: fees collected in cash near the border and wired to the corridor."""

from __future__ import annotations

import random

from simulator.amounts import money
from simulator.clock import DAY_MS, HOUR_MS, MIN_MS, episode, episode_starts, in_window, times
from simulator.geography import (
    PAYOUT_BANKS,
    SMUGGLING_CORRIDORS,
    US_CITIES,
    distinct_regions,
    utc_offset,
)
from simulator.kinds import SMUGGLING, Kind, Opening
from simulator.parties import merchant
from simulator.world import Account, World


def smuggling_cash_wire(
    w: World, a: Account, rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """Cash fees in, wired to the corridor within hours, kept under the $3,000 MSB limit.

    A third of the cells also collect in a second state and withdraw in a third (funnel).
    """
    events: list[tuple[int, dict]] = []
    aligned = hi - lo >= 7 * DAY_MS
    span = int(rng.uniform(3, 5) * DAY_MS) if aligned else max(HOUR_MS, (hi - lo) * 2 // 3)
    recipients = [
        w.party(f"smg-recipient:{a.idx}:{j}", PAYOUT_BANKS[c], c)
        for j, c in enumerate(rng.choices(SMUGGLING_CORRIDORS, k=rng.randint(2, 4)))
    ]
    out_channel = "WIRE" if a.inst.bank else "REMITTANCE"
    others = [c for c in US_CITIES if c.region != a.home.region]
    slack = 2 * DAY_MS if aligned else 0
    for t0 in episode_starts(rng, lo, hi, span + slack, 8 * DAY_MS):
        funnel = rng.random() < 0.35
        second = distinct_regions(rng, others, 1)[0]
        rounds = rng.randint(3, 5)
        step = span // rounds
        last = t0
        for i in range(rounds):
            city = second if funnel and i % 2 else a.home
            base = t0 + i * step
            off = utc_offset(city, base)
            if aligned:
                base = in_window(rng, base, base + DAY_MS, off, (9, 10, 11, 12))
            t = max(base, last + MIN_MS)
            for n in range(rng.randint(1, 3)):
                t += rng.randrange(15 * MIN_MS, 80 * MIN_MS) if aligned else n * (step // 10)
                kind = "branch" if a.inst.bank and rng.random() < 0.6 else ""
                events.append(w.cash(a, t, off, city, "CREDIT", money(rng, 900, 4500), kind))
            last = t + (rng.randrange(HOUR_MS, 6 * HOUR_MS) if aligned else step // 3)
            home_off = utc_offset(a.home, last)
            amount = money(rng, 2705, 2995)
            events.append(
                w.transfer_out(a, last, home_off, rng.choice(recipients), amount, out_channel)
            )
        if funnel and a.inst.bank:
            third = distinct_regions(rng, [c for c in others if c.region != second.region], 1)[0]
            t = last + (rng.randrange(2 * HOUR_MS, 20 * HOUR_MS) if aligned else MIN_MS)
            amount = rng.choice((300, 400, 500)) * 100
            events.append(w.cash(a, t, utc_offset(third, t), third, "DEBIT", amount, "atm"))
    return events


def smuggling_structuring(
    w: World, a: Account, rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """Cash just under the $10,000 report at branches, wired to the corridor within hours."""
    events: list[tuple[int, dict]] = []
    span = min(5 * DAY_MS, hi - lo)
    t0 = episode(rng, lo, hi, span)
    off = utc_offset(a.home, t0)
    country = rng.choice(SMUGGLING_CORRIDORS)
    recipient = w.party(f"smg-recipient:{a.idx}:s", PAYOUT_BANKS[country], country)
    for t in times(rng, t0, span, rng.randint(3, 4), off, (9, 10, 11, 12, 13)):
        cash = money(rng, 9050, 9950)
        events.append(w.cash(a, t, off, a.home, "CREDIT", cash, "branch"))
        t_out = t + rng.randrange(HOUR_MS, 4 * HOUR_MS)
        events.append(w.transfer_out(a, t_out, off, recipient, cash - money(rng, 100, 600), "WIRE"))
    return events


def smuggling_transport(
    w: World, a: Account, rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """A coordinator near the border: bus tickets for groups of migrants, cash fees in, wired
    to the corridor."""
    events: list[tuple[int, dict]] = []
    span = min(5 * DAY_MS, hi - lo)
    t0 = episode(rng, lo, hi, span)
    off = utc_offset(a.home, t0)
    migrants = [w.keyed(f"migrant:{w.seed}:{a.idx}:{i}") for i in range(rng.randint(3, 8))]
    for k, t in enumerate(times(rng, t0, span, rng.randint(2, 3), off, (6, 7, 8, 9))):
        m = merchant(a.home, "bus", k % 2)
        group = migrants[k::2] or migrants[:2]
        events.append(
            w.rec(
                a,
                t,
                off,
                "DEBIT",
                "CARD_PRESENT",
                money(rng, 45, 110) * len(group),
                m.record(),
                None,
                m.location(),
                passengers=group,
            )
        )
    country = rng.choice(SMUGGLING_CORRIDORS)
    recipient = w.party(f"smg-recipient:{a.idx}:t", PAYOUT_BANKS[country], country)
    out_channel = "WIRE" if a.inst.bank else "REMITTANCE"
    for t in times(rng, t0, span, rng.randint(2, 4), off, (10, 11, 12, 13, 14)):
        events.append(w.cash(a, t, off, a.home, "CREDIT", money(rng, 1200, 2900), ""))
        t_out = t + rng.randrange(HOUR_MS, 5 * HOUR_MS)
        events.append(w.transfer_out(a, t_out, off, recipient, money(rng, 1100, 2800), out_channel))
    return events


# Walk-in customers near the border: six in ten at the MSB, the rest at the bank.
_BORDER_WALK_IN = Opening(banking="msb_or_us_bank", border_home=True)

# The typology's scenarios, classic first: small runs with one scenario per typology get it.
SCENARIOS = (
    Kind("smuggling_cash_wire", SMUGGLING, _BORDER_WALK_IN, build=smuggling_cash_wire),
    Kind(
        "smuggling_structuring",
        SMUGGLING,
        Opening(banking="us_bank", border_home=True),
        build=smuggling_structuring,
    ),
    Kind("smuggling_transport", SMUGGLING, _BORDER_WALK_IN, build=smuggling_transport),
)
