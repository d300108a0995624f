"""Rings: multi-account scenarios that are harder to please (issue 12).

The classic scenarios (sex.py, labour.py, smuggling.py, groups.py) were written with the
detectors: each leaves at least two indicators summing to the threshold on one account. Real
rings do not oblige. Here each ring:

* shows a **random subset** of its typology's red flags, each on a random subset of its
  members, so some rings show one flag and some none that a detector reads alone;
* varies widely in **size** (2 to 13 accounts), **timing** (episodes of one to three weeks,
  paydays weekly or fortnightly, forwarding within 1 to 30 hours) and **amounts**;
* has its members **transact with each other** inside the population (a sender's wire is a
  debit on her account and a credit on the collector's, each naming the other), so the
  receiving side sees what the sources say it sees;
* links some members **only through another member** (a victim who shares the controller's
  phone and another who shares his device; workers in the bunkhouse and a worker who only
  forwards his wage);
* labels each account's **role** in the truth: collector, sender, funnel (smuggling);
  controller, worker (labour); controller, victim (sex trafficking).

Flag names and their odds are in each builder's ``FLAGS``; which ones a ring drew is not in
the truth (the backtest should not know), only the roles.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from simulator.amounts import money
from simulator.clock import (
    ACH_HOURS,
    DAY_HOURS,
    DAY_MS,
    HOUR_MS,
    MIN_MS,
    NIGHT_HOURS,
    at_hour,
    in_window,
    times,
)
from simulator.geography import (
    BORDER_CITIES,
    CITIES,
    PAYOUT_BANKS,
    SMUGGLING_CORRIDORS,
    distinct_regions,
    utc_offset,
)
from simulator.kinds import LABOUR, SEX, SMUGGLING, GroupKind, Opening
from simulator.parties import AD_SITES, CRYPTO_EXCHANGE, Party, merchant, online_merchant
from simulator.world import Account, World

Events = list[tuple[int, dict]]


def draw(rng: random.Random, flags: dict[str, float], at_least: int = 1) -> set[str]:
    """Each flag with its own odds; at least ``at_least`` of them."""
    chosen = {f for f, p in flags.items() if rng.random() < p}
    rest = [f for f in flags if f not in chosen]
    while len(chosen) < at_least and rest:
        chosen.add(rest.pop(rng.randrange(len(rest))))
    return chosen


def some(rng: random.Random, accts: Sequence[Account], lo: int = 1) -> list[Account]:
    """A random non-empty subset (at least ``lo``) of ``accts``."""
    k = rng.randint(min(lo, len(accts)), len(accts))
    return rng.sample(list(accts), k)


def as_party(a: Account) -> Party:
    """An account of the population as the counterparty of a transfer."""
    return Party(a.account_id, a.inst.id, a.inst.country, a.name_hash)


def transfer(
    w: World,
    src: Account,
    dst: Account,
    t: int,
    amount: int,
    channel: str,
    delay: int = 0,
    purpose: str | None = None,
) -> Events:
    """One payment between two accounts of the population: the sender's debit and the
    receiver's credit, each naming the other (its account, institution and name hash)."""
    off = utc_offset(src.home, t)
    out = [w.transfer_out(src, t, off, as_party(dst), amount, channel)]
    t_in = t + delay
    cp = as_party(src).record()
    credit = w.rec(dst, t_in, utc_offset(dst.home, t_in), "CREDIT", channel, amount, None, cp,
                   None, purpose, online=True)  # fmt: skip
    out.append(credit)
    return out


def cnp(w: World, a: Account, t: int, merchant_rec: dict, amount: int) -> tuple[int, dict]:
    off = utc_offset(a.home, t)
    return w.rec(a, t, off, "DEBIT", "CARD_NOT_PRESENT", amount, merchant_rec, online=True)


def start(rng: random.Random, lo: int, hi: int, length: int) -> int:
    room = hi - lo - length
    return lo + (rng.randrange(room) if room > 0 else 0)


# --- human smuggling: the collector ------------------------------------------------------------

SMUGGLING_FLAGS = {
    "near_limit": 0.4,  # instalments just under US$3,000
    "cash_out": 0.5,  # the collector takes the money out in cash near the border
    "wire_on": 0.4,  # ... or wires it on to the corridor
    "escort": 0.3,  # a few senders are walked in by one smuggler (his phone on their accounts)
    "outsiders": 0.5,  # some senders are not customers of a reporting institution
    "funnel": 0.25,  # a second account receives part and withdraws elsewhere (a funnel)
}


def smuggling_collector(
    w: World, accts: list[Account], rng: random.Random, lo: int, hi: int
) -> Events:
    """Migrants' relatives in several cities pay a smuggler's fee to one collector's account,
    by wire from their banks or by remittance at an MSB counter, in one to three instalments
    under US$3,000, on the same or consecutive days (FIN-2014-A008, FIN-2023-Alert001).

    Member 0 is the collector (a personal account near the border); the last member may be
    a funnel; the rest are senders. Between 3 and 12 distinct people pay (fewer than the
    suggested 5 in some rings: those rings are hard on purpose)."""
    flags = draw(rng, SMUGGLING_FLAGS, at_least=0)
    collector = accts[0]
    collector.scenario_role = "collector"
    funnel = accts[-1] if "funnel" in flags and len(accts) > 3 else None
    senders = [a for a in accts[1:] if a is not funnel]
    for a in senders:
        a.scenario_role = "sender"
    if funnel is not None:
        funnel.scenario_role = "funnel"
    outsiders: list[Party] = []
    if "outsiders" in flags:
        outsiders = [
            w.party(f"ring-sender:{collector.idx}:{i}", rng.choice(("p2p-net-01", "021000021")),
                    "US") for i in range(rng.randint(1, 5))
        ]  # fmt: skip
    span = int(rng.uniform(1, 6) * DAY_MS)
    t0 = start(rng, lo, hi, span + 3 * DAY_MS)
    events: Events = []
    received: list[tuple[int, int]] = []
    lo_amt, hi_amt = (2600, 2990) if "near_limit" in flags else (400, 2990)
    if "escort" in flags and len(senders) >= 2:
        phone = w.keyed(f"+1smuggler:{w.seed}:{collector.idx}")
        for a in rng.sample(senders, rng.randint(2, len(senders))):
            a.phone_hash = phone
    for a in senders:
        t = t0 + rng.randrange(span)
        for _ in range(rng.choice((1, 1, 2, 3))):
            amount = money(rng, lo_amt, hi_amt)
            off = utc_offset(a.home, t)
            t = in_window(rng, t, t + DAY_MS, off, tuple(range(9, 19)))
            if a.inst.bank:
                events += transfer(
                    w, a, collector, t, amount, "WIRE", rng.randrange(MIN_MS, HOUR_MS)
                )
            else:  # walk-in: cash at the counter, remitted minutes later
                events.append(w.cash(a, t, off, a.home, "CREDIT", amount + money(rng, 8, 30)))
                t_r = t + rng.randint(4, 30) * MIN_MS
                events += transfer(w, a, collector, t_r, amount, "REMITTANCE", 10 * MIN_MS)
            received.append((t, amount))
            t += rng.randrange(16 * HOUR_MS, 48 * HOUR_MS)
    for i, party in enumerate(outsiders):
        t = in_window(rng, t0 + rng.randrange(span), t0 + span + DAY_MS, -360, DAY_HOURS)
        amount = money(rng, lo_amt, hi_amt)
        cp = party.record(ultimate=w.keyed(f"ring-sender-name:{collector.idx}:{i}"))
        off = utc_offset(collector.home, t)
        channel = rng.choice(("WIRE", "REMITTANCE"))
        events.append(w.rec(collector, t, off, "CREDIT", channel, amount, None, cp, online=True))
        received.append((t, amount))
    if not received:
        return events
    received.sort()
    total = sum(a for _, a in received)
    t_last = received[-1][0]
    if funnel is not None:
        part = int(total * rng.uniform(0.3, 0.6))
        t = t_last + rng.randrange(2 * HOUR_MS, 20 * HOUR_MS)
        events += transfer(w, collector, funnel, t, part, "P2P", MIN_MS)
        far = rng.choice([c for c in CITIES["US"] if c.region != funnel.home.region])
        for k in range(rng.randint(2, 4)):
            t_w = t + rng.randrange(HOUR_MS, 48 * HOUR_MS) + k * HOUR_MS
            events.append(w.cash(funnel, t_w, utc_offset(far, t_w), far, "DEBIT",
                                 min(part // 3, 80_000), "atm"))  # fmt: skip
        total -= part
    if "cash_out" in flags and collector.inst.bank:
        city = rng.choice(BORDER_CITIES)
        left = int(total * rng.uniform(0.6, 0.95))
        t = t_last
        while left > 0:
            t += rng.randrange(2 * HOUR_MS, 30 * HOUR_MS)
            amount = min(left, rng.choice((400, 500, 800, 1000)) * 100)
            kind = "atm" if amount <= 100_000 else "branch"
            events.append(w.cash(collector, t, utc_offset(city, t), city, "DEBIT", amount, kind))
            left -= amount
    if "wire_on" in flags:
        country = rng.choice(SMUGGLING_CORRIDORS)
        boss = w.party(f"ring-boss:{collector.idx}", PAYOUT_BANKS[country], country)
        t = t_last
        for _ in range(rng.randint(1, 4)):
            t += rng.randrange(3 * HOUR_MS, 40 * HOUR_MS)
            amount = money(rng, 1500, 2990)
            off = utc_offset(collector.home, t)
            channel = "WIRE" if collector.inst.bank else "REMITTANCE"
            events.append(w.transfer_out(collector, t, off, boss, amount, channel))
    return events


# --- labour trafficking: the controller --------------------------------------------------------

LABOUR_FLAGS = {
    "forward": 0.75,  # workers send most of each wage on to the controller after payday
    "capture": 0.25,  # the employer pays some wages straight into the controller's account
    "bunkhouse": 0.5,  # workers share one address (the controller's lodging)
    "phone": 0.35,  # their accounts carry the controller's phone or device
    "recruiter": 0.35,  # recruitment-fee instalments to an unlicensed recruiter
    "transport": 0.3,  # the controller buys bus tickets for the crew
    "wire_on": 0.3,  # the controller wires the takings to the corridor under US$3,000
}


def labour_controller(
    w: World, accts: list[Account], rng: random.Random, lo: int, hi: int
) -> Events:
    """Workers placed with an employer by a controller who keeps their pay (FIN-2014-A008,
    FATF 2018): forwarded after payday, or paid to him directly; housing, phones and
    recruitment debts tie them to him. Member 0 is the controller, the others workers; each
    flag touches a random subset of the workers."""
    flags = draw(rng, LABOUR_FLAGS)
    if not flags & {"forward", "capture"}:
        flags.add("forward")
    boss, crew = accts[0], accts[1:]
    boss.scenario_role = "controller"
    for a in crew:
        a.scenario_role = "worker"
        a.home = boss.home
    employer = rng.choice(w.employers)
    events: Events = []
    if "bunkhouse" in flags:
        address = w.keyed(f"bunkhouse:{w.seed}:{boss.idx}")
        for a in some(rng, crew, lo=min(3, len(crew))):
            a.address_hash = address
    if "phone" in flags:
        phone = boss.phone_hash
        device = boss.device_hash
        for a in some(rng, crew, lo=min(2, len(crew))):
            if rng.random() < 0.5:
                a.phone_hash = phone
            else:
                a.device_hash = device
    forwarders = some(rng, crew, lo=min(2, len(crew))) if "forward" in flags else []
    captured = (
        [a for a in crew if a not in forwarders][: rng.randint(1, len(crew))]
        if "capture" in flags
        else []
    )
    if "capture" in flags and not captured:
        captured = [rng.choice(crew)]
        forwarders = [a for a in forwarders if a not in captured]
    period = rng.choice((7, 14)) * DAY_MS
    payday = lo + rng.randrange(max(1, min(period, hi - lo - DAY_MS)))
    share = rng.uniform(0.7, 0.95)
    delay_hi = rng.choice((4, 12, 30)) * HOUR_MS
    channel = rng.choice(("P2P", "P2P", "WIRE", "ACH"))
    wages = {a.account_id: rng.uniform(350, 1100) for a in crew}
    off = utc_offset(boss.home, payday)
    recruiter = rng.choice(w.recruiters)
    while payday < hi - HOUR_MS:
        t_pay = at_hour(rng, payday, off, rng.choice(ACH_HOURS))
        for a in crew:
            wage = int(wages[a.account_id] * rng.uniform(0.8, 1.15) * 100)
            cp = employer.record(ultimate=a.name_hash)
            if a in captured:
                events.append(w.rec(boss, t_pay, off, "CREDIT", "ACH", wage, None, cp, None,
                                    "SALA", True))  # fmt: skip
                continue
            events.append(w.rec(a, t_pay, off, "CREDIT", "ACH", wage, None, cp, None, "SALA",
                                True))  # fmt: skip
            if a in forwarders:
                t = t_pay + rng.randrange(HOUR_MS, delay_hi)
                kept = int(wage * share * rng.uniform(0.95, 1.05))
                events += transfer(w, a, boss, t, min(kept, wage), channel, rng.randrange(MIN_MS))
            if "recruiter" in flags and rng.random() < 0.6:
                t = t_pay + rng.randrange(2 * HOUR_MS, 2 * DAY_MS)
                events.append(w.transfer_out(a, t, off, recruiter, money(rng, 100, 400), "ACH"))
        if "wire_on" in flags:
            country = rng.choice(("MX", "GT", "HN", "IN", "PH"))
            dest = w.party(f"ring-lab-dest:{boss.idx}", PAYOUT_BANKS[country], country)
            t = t_pay + rng.randrange(DAY_MS, 3 * DAY_MS)
            for _ in range(rng.randint(1, 3)):
                t += rng.randrange(HOUR_MS, 6 * HOUR_MS)
                events.append(w.transfer_out(boss, t, off, dest, money(rng, 2500, 2990), "WIRE"))
        payday += period
    if "transport" in flags:
        t = in_window(rng, lo, lo + 2 * DAY_MS, off, DAY_HOURS)
        for k in range(rng.randint(1, 3)):
            m = merchant(boss.home, "bus", rng.randrange(2))
            riders = [a.name_hash for a in some(rng, crew, lo=min(2, len(crew)))]
            amount = money(rng, 40, 90) * len(riders)
            events.append(w.rec(boss, t + k * 7 * DAY_MS, off, "DEBIT", "CARD_PRESENT", amount,
                                m.record(), None, m.location(), passengers=riders))  # fmt: skip
    return events


# --- sex trafficking: the controller and his victims -------------------------------------------

SEX_FLAGS = {
    "ads": 0.6,  # ad-site posting fees (small multiples of $3, or a listed site)
    "motels": 0.5,  # motels in several cities within a week
    "night_cash": 0.4,  # cash at ATMs late at night
    "buyers": 0.4,  # many small P2P payments from buyers
    "venues": 0.3,  # massage and spa venues after hours
    "crypto": 0.2,  # crypto in small multiples of $3
    "prepaid": 0.3,  # a burst of prepaid card loads
    "rides": 0.3,  # a burst of rides at night
    "intel": 0.1,  # the controller's phone is in the ads (the intel list)
}


def sex_ring(w: World, accts: list[Account], rng: random.Random, lo: int, hi: int) -> Events:
    """A controller and one to four victims (FINTRAC-2016-OA003, FIN-2020-A008, FATF 2018).
    The red flags are split between them at random: one victim pays the ads, the controller
    the motels, another victim takes buyers' payments. They are linked by the controller's
    phone or device on the victims' accounts, some victims only through him, and the victims
    pass their earnings on to him."""
    flags = draw(rng, SEX_FLAGS, at_least=1)
    boss, victims = accts[0], accts[1:]
    boss.scenario_role = "controller"
    for i, v in enumerate(victims):
        v.scenario_role = "victim"
        if i % 2 == 0 or rng.random() < 0.3:
            v.phone_hash = boss.phone_hash
        else:
            v.device_hash = boss.device_hash
    events: Events = []
    span = int(rng.uniform(5, 14) * DAY_MS)
    t0 = start(rng, lo, hi, span)

    def who(role_bias: float = 0.5) -> Account:
        return boss if rng.random() < role_bias else rng.choice(victims)

    if "ads" in flags:
        a = who(0.3)
        site = online_merchant(*AD_SITES[rng.randrange(len(AD_SITES))]).record()
        for t in times(rng, t0, span, rng.randint(3, 9), utc_offset(a.home, t0), range(8, 24)):
            events.append(cnp(w, a, t, site, rng.choice((6, 9, 12, 15, 24, 36, 48, 10, 20)) * 100))
    if "motels" in flags:
        a = who(0.6)
        cities = distinct_regions(rng, CITIES[a.inst.country], rng.randint(2, 4))
        for j, c in enumerate(cities):
            t = t0 + j * rng.randrange(DAY_MS, 3 * DAY_MS)
            t = in_window(rng, t, t + DAY_MS, utc_offset(c, t), (13, 14, 15, 16, 22, 23))
            m = merchant(c, "hotel", rng.randrange(4))
            events.append(w.card(a, t, utc_offset(c, t), m, money(rng, 55, 150)))
    if "night_cash" in flags:
        a = who(0.3)
        off = utc_offset(a.home, t0)
        for t in times(rng, t0, min(span, 7 * DAY_MS), rng.randint(2, 5), off, NIGHT_HOURS):
            direction = rng.choice(("CREDIT", "DEBIT"))
            events.append(w.cash(a, t, off, a.home, direction, money(rng, 100, 600), "atm"))
    if "buyers" in flags:
        a = rng.choice(victims)
        off = utc_offset(a.home, t0)
        payers = [w.party(f"ring-buyer:{a.idx}:{i}", "p2p-net-01", a.inst.country)
                  for i in range(rng.randint(3, 12))]  # fmt: skip
        for i, t in enumerate(times(rng, t0, min(span, 7 * DAY_MS), rng.randint(6, 20), off,
                                    NIGHT_HOURS)):  # fmt: skip
            cp = payers[i % len(payers)].record()
            events.append(w.rec(a, t, off, "CREDIT", "P2P", money(rng, 30, 99), None, cp,
                                online=True))  # fmt: skip
    if "venues" in flags:
        a = who(0.5)
        off = utc_offset(a.home, t0)
        for t in times(rng, t0, min(span, 7 * DAY_MS), rng.randint(2, 4), off, (22, 23, 0, 1)):
            m = merchant(a.home, rng.choice(("massage", "spa")), rng.randrange(3))
            events.append(w.card(a, t, off, m, money(rng, 60, 220)))
    if "crypto" in flags:
        a = who(0.5)
        exchange = online_merchant(*CRYPTO_EXCHANGE).record()
        off = utc_offset(a.home, t0)
        for t in times(rng, t0, span, rng.randint(2, 5), off, range(24)):
            rec = cnp(w, a, t, exchange, rng.choice((24, 36, 48, 72)) * 100)
            rec[1]["channel"] = "CRYPTO"
            rec[1]["wallet_address_hash"] = w.keyed(f"wallet:{w.seed}:{a.idx}")
            events.append(rec)
    if "prepaid" in flags:
        a = who(0.5)
        off = utc_offset(a.home, t0)
        for t in times(rng, t0, min(span, 7 * DAY_MS), rng.randint(2, 6), off, DAY_HOURS):
            m = merchant(a.home, "prepaid", rng.randrange(2))
            events.append(w.card(a, t, off, m, rng.choice((50, 100, 200)) * 100))
    if "rides" in flags:
        a = who(0.5)
        off = utc_offset(a.home, t0)
        for t in times(rng, t0, min(span, 7 * DAY_MS), rng.randint(3, 9), off, NIGHT_HOURS):
            events.append(w.ride(a, t, off, money(rng, 9, 45)))
    if "intel" in flags:
        w.intel.append(boss.phone_hash)
    # Earnings passed on to the controller, most days.
    for v in victims:
        for d in range(0, span // DAY_MS, rng.randint(1, 3)):
            t = in_window(rng, t0 + d * DAY_MS, t0 + (d + 1) * DAY_MS, utc_offset(v.home, t0),
                          DAY_HOURS)  # fmt: skip
            events += transfer(w, v, boss, t, money(rng, 80, 600), "P2P", rng.randrange(MIN_MS))
    return events


# --- look-alikes ---------------------------------------------------------------------------


def landlord(w: World, accts: list[Account], rng: random.Random, lo: int, hi: int) -> Events:
    """A small landlord (personal account) collecting rent from four to nine tenants around
    the first of the month: mostly ACH and P2P, some by wire, each under US$3,000. Many
    payers to one account, none of them a smuggling fee."""
    owner, tenants = accts[0], accts[1:]
    owner.scenario_role = "landlord"
    events: Events = []
    first = w.start - (w.start % DAY_MS)
    for a in tenants:
        a.scenario_role = "tenant"
        a.rent_party = None  # this landlord is their landlord
        rent = money(rng, 700, 2400)
        channel = rng.choices(("ACH", "P2P", "WIRE"), (0.55, 0.25, 0.2))[0]
        day = rng.randint(0, 4)
        month = first
        while month < hi:
            t = at_hour(rng, month + day * DAY_MS, utc_offset(a.home, month), rng.choice(DAY_HOURS))
            if lo <= t < hi:
                events += transfer(w, a, owner, t, rent, channel, rng.randrange(MIN_MS, HOUR_MS),
                                   "RENT")  # fmt: skip
            month += 30 * DAY_MS
    return events


def savings_club(w: World, accts: list[Account], rng: random.Random, lo: int, hi: int) -> Events:
    """A rotating savings club (tanda): five to ten members pay the organiser the same amount
    every week after payday, and each week one member takes the pot."""
    organiser, members = accts[0], accts[1:]
    organiser.scenario_role = "organiser"
    for a in members:
        a.scenario_role = "member"
    events: Events = []
    amount = money(rng, 100, 400)
    t = lo + rng.randrange(DAY_MS)
    week = 0
    while t < hi - DAY_MS:
        for a in members:
            t_a = in_window(rng, t, t + 20 * HOUR_MS, utc_offset(a.home, t), DAY_HOURS)
            events += transfer(w, a, organiser, t_a, amount, "P2P", rng.randrange(MIN_MS))
        winner = members[week % len(members)]
        t_p = t + DAY_MS + rng.randrange(HOUR_MS, 8 * HOUR_MS)
        events += transfer(w, organiser, winner, t_p, amount * len(members), "P2P", MIN_MS)
        t += 7 * DAY_MS
        week += 1
    return events


def family_collector(
    w: World, accts: list[Account], rng: random.Random, lo: int, hi: int
) -> Events:
    """A parent in the US whose two to four grown children, working in other cities, each
    wire or remit part of their pay to her once a month, under US$3,000."""
    parent, children = accts[0], accts[1:]
    parent.scenario_role = "recipient"
    events: Events = []
    for a in children:
        a.scenario_role = "relative"
        t = lo + rng.randrange(max(1, min(hi - lo, 25 * DAY_MS)))
        amount = money(rng, 200, 1200)
        channel = "WIRE" if a.inst.bank else "REMITTANCE"
        events += transfer(w, a, parent, t, amount, channel, rng.randrange(MIN_MS, HOUR_MS))
    return events


def coworkers(w: World, accts: list[Account], rng: random.Random, lo: int, hi: int) -> Events:
    """Migrant co-workers sharing a flat, paid by one employer every fortnight, each sending
    most of the pay home to his own family abroad within hours of payday: a shared address
    and payday remittances, with nobody collecting their wages."""
    address = w.keyed(f"flat:{w.seed}:{accts[0].idx}")
    employer = rng.choice(w.employers)
    events: Events = []
    families = {}
    for a in accts:
        a.scenario_role = "worker"
        a.address_hash, a.home = address, accts[0].home
        country = rng.choice(("MX", "GT", "HN", "SV", "PH", "IN"))
        families[a.account_id] = w.party(f"family:{a.idx}", PAYOUT_BANKS[country], country)
    off = utc_offset(accts[0].home, lo)
    payday = lo + rng.randrange(max(1, min(7 * DAY_MS, hi - lo - DAY_MS)))
    while payday < hi - HOUR_MS:
        t_pay = at_hour(rng, payday, off, rng.choice(ACH_HOURS))
        for a in accts:
            wage = money(rng, 600, 1300)
            cp = employer.record(ultimate=a.name_hash)
            events.append(w.rec(a, t_pay, off, "CREDIT", "ACH", wage, None, cp, None, "SALA",
                                True))  # fmt: skip
            t = t_pay + rng.randrange(2 * HOUR_MS, 20 * HOUR_MS)
            sent = int(wage * rng.uniform(0.5, 0.85))
            events.append(w.transfer_out(a, t, off, families[a.account_id], sent, "REMITTANCE"))
        payday += 14 * DAY_MS
    return events


def mixed_household(w: World, accts: list[Account], rng: random.Random, lo: int, hi: int) -> Events:
    """Two partners sharing a phone and an address: one works nights (cash from the ATM on
    the way to the shift, now and then three nights in a week), the other travels for work
    (hotels in three cities some weeks). Each shows one weak flag of sex trafficking."""
    a, b = accts[0], accts[1]
    a.scenario_role = b.scenario_role = "partner"
    phone, address = w.keyed(f"+1home:{w.seed}:{a.idx}"), w.keyed(f"home:{w.seed}:{a.idx}")
    b.home = a.home
    for x in accts:
        x.phone_hash, x.address_hash = phone, address
    events: Events = []
    off = utc_offset(a.home, lo)
    t = lo
    while t < hi - DAY_MS:  # night shifts: three a week some weeks
        for n in range(rng.choice((1, 2, 3))):
            t_n = at_hour(rng, t + n * 2 * DAY_MS, off, rng.choice((22, 23, 0)))
            events.append(w.cash(a, t_n, off, a.home, "DEBIT", rng.choice((40, 60, 80)) * 100,
                                 "atm"))  # fmt: skip
        t += 7 * DAY_MS
    t = lo
    while t < hi - 3 * DAY_MS:  # sales trips
        cities = distinct_regions(rng, CITIES[b.inst.country], rng.choice((2, 3)))
        for j, c in enumerate(cities):
            t_h = at_hour(rng, t + j * DAY_MS, utc_offset(c, t), rng.choice((17, 18, 19)))
            events.append(w.card(b, t_h, utc_offset(c, t_h), merchant(c, "hotel", 1),
                                 money(rng, 110, 220)))  # fmt: skip
        t += rng.choice((7, 14)) * DAY_MS
    return events


# --- the catalog ---------------------------------------------------------------------------

_BANK = Opening(banking="us_bank")
_WORKER = Opening(banking="us_bank", salary="never")  # paid by the scenario
_WALK_IN_OR_BANK = Opening(banking="msb_or_us_bank")
_BORDER = Opening(banking="us_bank", border_home=True)

RINGS = (
    GroupKind(
        "ring_smuggling_collector",
        SMUGGLING,
        smuggling_collector,
        size=lambda rng: rng.randint(3, 12),
        opening=_WALK_IN_OR_BANK,
        member_openings=(_BORDER,),
    ),
    GroupKind(
        "ring_labour_controller",
        LABOUR,
        labour_controller,
        size=lambda rng: rng.randint(3, 10),
        opening=_WORKER,
        member_openings=(_BANK,),
    ),
    GroupKind(
        "ring_sex_controller",
        SEX,
        sex_ring,
        size=lambda rng: rng.randint(2, 5),
        opening=Opening(banking="us_bank", salary="half"),
    ),
)

RING_LOOKALIKES = (
    GroupKind(
        "hard_negative_landlord",
        "NONE",
        landlord,
        size=lambda rng: rng.randint(5, 10),
        opening=_BANK,
    ),  # fmt: skip
    GroupKind(
        "hard_negative_savings_club",
        "NONE",
        savings_club,
        size=lambda rng: rng.randint(6, 11),
        opening=_BANK,
    ),  # fmt: skip
    GroupKind(
        "hard_negative_family_collector",
        "NONE",
        family_collector,
        size=lambda rng: rng.randint(3, 5),
        opening=_WALK_IN_OR_BANK,
        member_openings=(_BANK,),
    ),  # fmt: skip
    GroupKind(
        "hard_negative_coworkers",
        "NONE",
        coworkers,
        size=lambda rng: rng.randint(3, 6),
        opening=_WORKER,
    ),  # fmt: skip
    GroupKind(
        "hard_negative_mixed_household", "NONE", mixed_household, size=lambda rng: 2, opening=_BANK
    ),  # fmt: skip
)

__all__ = ["RINGS", "RING_LOOKALIKES"]
