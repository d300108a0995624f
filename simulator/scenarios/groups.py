"""Multi-account scenarios: several accounts, one scenario id and typology.

They exist for the cross-account indicators (SHARED_IDENTIFIER, COMMON_BENEFICIARY,
WAGE_FORWARDING): alone, each account shows little.
"""

from __future__ import annotations

import random

from simulator.amounts import money
from simulator.clock import (
    ACH_HOURS,
    DAY_HOURS,
    DAY_MS,
    HOUR_MS,
    MIN_MS,
    at_hour,
    episode,
    in_window,
)
from simulator.geography import PAYOUT_BANKS, SMUGGLING_CORRIDORS, utc_offset
from simulator.kinds import LABOUR, SMUGGLING, GroupKind, Opening
from simulator.parties import Party, merchant
from simulator.population import share_identity
from simulator.world import Account, World


def labour_shared_identifier(
    w: World, accts: list[Account], rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """Victims' accounts opened by their trafficker: one phone, one address, one device.

    Each gets its own wage by payroll, which leaves the same day: a recruitment-fee instalment
    to an unlicensed recruiter (watchlist), then either prepaid cards the boss keeps or, in
    half of the groups, most of the wage sent on to the boss's account (WAGE_FORWARDING).
    Alone, an account shows little; SHARED_IDENTIFIER joins them.
    """
    share_identity(w, accts, f"lab:{w.seed}:{accts[0].idx}", device=True)
    events: list[tuple[int, dict]] = []
    employer = rng.choice(w.employers)
    recruiter = rng.choice(w.recruiters)
    boss = w.party(f"lab-boss:{accts[0].idx}", "p2p-net-01", "US") if rng.random() < 0.5 else None
    off = utc_offset(accts[0].home, lo)
    payday = lo + rng.randrange(max(1, min(3 * DAY_MS, hi - lo - 7 * DAY_MS)))
    while payday < hi:
        t_pay = at_hour(rng, payday, off, rng.choice(ACH_HOURS))
        for a in accts:
            wage = money(rng, 420, 900)
            cp = employer.record(ultimate=a.name_hash)
            events.append(w.rec(a, t_pay, off, "CREDIT", "ACH", wage, None, cp, None, "SALA", True))
            t = t_pay + rng.randrange(2 * HOUR_MS, 8 * HOUR_MS)
            fee = money(rng, 150, 350)
            events.append(w.transfer_out(a, t, off, recruiter, fee, "ACH"))
            if boss is not None:
                kept = wage * rng.uniform(0.85, 0.95)
                t_f = t + rng.randrange(10 * MIN_MS, 2 * HOUR_MS)
                events.append(w.transfer_out(a, t_f, off, boss, int(kept), "P2P"))
                continue
            for k in range(rng.randint(4, 5)):
                t_p = in_window(rng, t + k * DAY_MS, t + (k + 1) * DAY_MS, off, DAY_HOURS)
                m = merchant(a.home, "prepaid", rng.randrange(2))
                events.append(w.card(a, t_p, off, m, rng.choice((25, 50, 75, 100)) * 100))
        payday += 14 * DAY_MS
    return events


def remit(
    w: World, a: Account, t: int, party: Party, amount: int, rng: random.Random
) -> list[tuple[int, dict]]:
    """A walk-in remittance: cash at the agent counter, sent minutes later."""
    off = utc_offset(a.home, t)
    fee = money(rng, 8, 30)
    cash = w.cash(a, t, off, a.home, "CREDIT", amount + fee, "agent")
    out = w.transfer_out(a, t + rng.randint(4, 30) * MIN_MS, off, party, amount, "REMITTANCE")
    return [cash, out]


def smuggling_shared_identifier(
    w: World, accts: list[Account], rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """Escorted customers: one smuggler brings several people to the same agent on the same
    days; their accounts carry his phone and address, and each sends fees to the corridor in
    two or three instalments under $3,000."""
    share_identity(w, accts, f"smg:{w.seed}:{accts[0].idx}", device=False)
    collectors = [
        w.party(f"smg-collector:{accts[0].idx}:{j}", PAYOUT_BANKS[c], c)
        for j, c in enumerate(rng.sample(SMUGGLING_CORRIDORS, 2))
    ]
    events: list[tuple[int, dict]] = []
    t0 = episode(rng, lo, hi, 4 * DAY_MS)
    off = utc_offset(accts[0].home, t0)
    for a in accts:
        visit = in_window(rng, t0, t0 + DAY_MS, off, (10, 11, 12, 13, 14))
        for _ in range(rng.randint(2, 3)):
            events += remit(w, a, visit, rng.choice(collectors), money(rng, 1500, 2980), rng)
            visit = in_window(rng, visit + 20 * HOUR_MS, visit + 44 * HOUR_MS, off, (10, 11, 12))
    return events


def smuggling_common_beneficiary(
    w: World, accts: list[Account], rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """Relatives of migrants in several cities pay the smuggler's fee to one account abroad,
    on the same or consecutive days, each under the $3,000 MSB limit, in one to three
    instalments. The senders do not know each other; COMMON_BENEFICIARY joins them."""
    country = rng.choice(SMUGGLING_CORRIDORS)
    beneficiary = w.party(f"smg-beneficiary:{accts[0].idx}", PAYOUT_BANKS[country], country)
    events: list[tuple[int, dict]] = []
    t0 = episode(rng, lo, hi, 3 * DAY_MS)
    for a in accts:
        off = utc_offset(a.home, t0)
        visit = in_window(rng, t0, t0 + DAY_MS + DAY_MS // 2, off, tuple(range(9, 19)))
        for _ in range(rng.choice((1, 2, 2, 3))):
            events += remit(w, a, visit, beneficiary, money(rng, 900, 2980), rng)
            visit = in_window(rng, visit + 18 * HOUR_MS, visit + 40 * HOUR_MS, off, (10, 14, 17))
    return events


_WALK_IN = Opening(banking="msb")

# Assigned in turn (the plan's g-th group is GROUPS[g % len(GROUPS)]): append new kinds.
GROUPS = (
    GroupKind(
        "labour_shared_identifier",
        LABOUR,
        labour_shared_identifier,
        size=lambda rng: rng.randint(3, 5),
        opening=Opening(banking="us_bank", salary="never"),  # paid by the scenario
    ),
    GroupKind(
        "smuggling_shared_identifier",
        SMUGGLING,
        smuggling_shared_identifier,
        size=lambda rng: rng.randint(3, 5),
        opening=_WALK_IN,
    ),
    GroupKind(
        "smuggling_common_beneficiary",
        SMUGGLING,
        smuggling_common_beneficiary,
        size=lambda rng: rng.randint(5, 8),
        opening=_WALK_IN,
    ),
)
