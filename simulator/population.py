"""The population: opening accounts, and the daily routine of each kind of customer.

Background accounts are ordinary customers of the three institutions (consumers, small
businesses, walk-in MSB customers) and make up almost all of the traffic. Scenario and
look-alike accounts are opened by the same code, steered by their kind's
:class:`~simulator.kinds.Opening`, and live the same routine plus their kind's habits, so a
scenario is its footprint on top of an ordinary life rather than an account that only
misbehaves.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from simulator.amounts import money, spend
from simulator.clock import (
    ACH_HOURS,
    ALL_HOURS,
    ATM_HOURS,
    BUSINESS_HOURS,
    DAY_HOURS,
    MIN_MS,
    SHOPPING_HOURS,
    at_hour,
)
from simulator.geography import (
    BORDER_CITIES,
    CITIES,
    PAYOUT_BANKS,
    REMIT_COUNTRIES,
    REMIT_WEIGHTS,
    SMUGGLING_CORRIDORS,
    City,
)
from simulator.kinds import GroupKind, Kind, Member
from simulator.parties import (
    AIRLINES,
    BANK_US,
    BUSINESS_MCC,
    CU_CA,
    MSB_US,
    ONLINE,
    merchant,
    online_merchant,
)
from simulator.world import Account, Day, World


def open_account(
    w: World, idx: int, rng: random.Random, spec: Kind | GroupKind | Member
) -> Account:
    """The idx-th account of the run, of kind ``spec`` (BACKGROUND for ordinary customers)."""
    kind, opening = spec.kind, spec.opening
    r = rng.random()
    banking = opening.banking
    if banking == "msb":
        inst, role = MSB_US, "msb_customer"
    elif banking == "msb_or_us_bank":
        inst, role = (MSB_US, "msb_customer") if rng.random() < 0.6 else (BANK_US, "consumer")
    elif banking == "us_bank":
        inst, role = BANK_US, "consumer"
    elif banking == "us_business":
        inst, role = BANK_US, "business"
    elif banking == "us_or_ca_bank":
        inst, role = (BANK_US if rng.random() < 0.7 else CU_CA), "consumer"
    elif banking != "background":
        raise ValueError(f"{kind}: unknown banking {banking!r}")
    elif r < 0.5:
        inst, role = BANK_US, "consumer"
    elif r < 0.7:
        inst, role = CU_CA, "consumer"
    elif r < 0.77:
        inst, role = BANK_US, "business"
    elif r < 0.80:
        inst, role = CU_CA, "business"
    else:
        inst, role = MSB_US, "msb_customer"
    cities = CITIES[inst.country]
    home = rng.choice(BORDER_CITIES if opening.border_home else cities)
    label = f"{w.seed}:{idx}"
    acct = Account(
        idx=idx,
        account_id=f"acc-{w.seed}-{idx:07d}",
        customer_id=f"cus-{w.seed}-{idx:07d}",
        inst=inst,
        role=role,
        home=home,
        account_type="BUSINESS" if role == "business" else "PERSONAL",
        name_hash=w.keyed(f"name:{label}"),
        phone_hash=w.keyed(f"+1{rng.randrange(2_000_000_000, 9_999_999_999)}"),
        email_hash=w.keyed(f"user{idx}.{w.seed}@example.org") if rng.random() < 0.85 else None,
        address_hash=w.keyed(f"{rng.randrange(1, 9999)} {home.name} {label}"),
        device_hash=w.keyed(f"device:{label}"),
        traits=frozenset({kind}) if kind else frozenset(),
        pay_phase=rng.randrange(2),
        rent_day=rng.randint(1, 5),
        has_car=rng.random() < 0.8,
        fav=rng.randrange(4),
        travel=spec.travel,
        habit=spec.habit,
    )
    ca = inst.country == "CA"
    if role == "consumer":
        employers = w.employers_ca if ca else w.employers
        if opening.salary == "never":
            pass  # paid by the scenario, or not at all
        elif opening.salary == "always" or rng.random() < 0.5:
            acct.employer = rng.choice(employers)
            acct.salary = rng.uniform(1100, 3800)
        acct.rent = rng.uniform(900, 2600)
        acct.rent_party = rng.choice(w.landlords)
        pool = w.people_ca if ca else w.people
        acct.friends = tuple(rng.sample(pool, 4))
        subs = rng.sample(ONLINE, rng.randint(1, 3))
        acct.subs = tuple(
            (online_merchant(*s), rng.uniform(6, 25), rng.randint(1, 28)) for s in subs
        )
        if opening.setup is not None:
            opening.setup(w, acct, rng)
    elif role == "business":
        acct.business = rng.choice(tuple(BUSINESS_MCC))
        if opening.business_types:
            acct.business = rng.choice(opening.business_types)
        acct.acquirer = rng.choice(w.acquirers)
        acct.deposit_weekday = rng.randrange(6)
        acct.rent = rng.uniform(2500, 9000)
        acct.rent_party = rng.choice(w.landlords)
        acct.employees = tuple(
            (
                w.party(f"employee:{idx}:{j}", inst.id, inst.country),
                w.keyed(f"worker:{label}:{j}"),
            )
            for j in range(rng.randint(2, 8))
        )
        if not opening.payroll:
            acct.employees = ()  # nobody on the books
    else:
        acct.remit_country = REMIT_COUNTRIES[
            rng.choices(range(len(REMIT_COUNTRIES)), cum_weights=REMIT_WEIGHTS)[0]
        ]
        if opening.family_remittance:
            acct.remit_country = rng.choice(SMUGGLING_CORRIDORS + ("SV",))
            acct.remit_gap, acct.remit_amount = (28, 31), (550.0, 1600.0)
            acct.next_remit = rng.randint(0, max(0, min(10, w.ndays - 2)))
        else:
            acct.next_remit = rng.randint(0, 25)
        acct.recipient = w.party(
            f"recipient:{idx}", PAYOUT_BANKS[acct.remit_country], acct.remit_country
        )
    return acct


def share_identity(w: World, accts: Sequence[Account], label: str, device: bool) -> None:
    """Give every account the same holder phone and address (and device): the escort's or the
    trafficker's, given at account opening."""
    phone = w.keyed(f"+1{label}")
    address = w.keyed(f"address:{label}")
    for a in accts:
        a.phone_hash, a.address_hash, a.home = phone, address, accts[0].home
        if device:
            a.device_hash = w.keyed(f"device:{label}")


# --- daily routines ---------------------------------------------------------------------------


def consumer_day(w: World, a: Account, day: Day, rng: random.Random, out: list) -> None:
    """A consumer's day: pay, rent, subscriptions, shopping, cash, friends, trips."""
    home, traits = a.home, a.traits
    off = day.offsets[home]
    rnd = rng.random
    if a.employer is not None and day.weekday == 4 and (day.epoch_day // 7 + a.pay_phase) % 2:
        t = at_hour(rng, day.start, off, rng.choice(ACH_HOURS))
        amount = int(a.salary * rng.uniform(0.97, 1.03) * 100)
        cp = a.employer.record(ultimate=a.name_hash)
        out.append(w.rec(a, t, off, "CREDIT", "ACH", amount, None, cp, None, "SALA", True))
    if day.dom == a.rent_day and a.rent_party is not None:
        t = at_hour(rng, day.start, off, rng.choice(ACH_HOURS))
        cp = a.rent_party.record()
        out.append(
            w.rec(
                a,
                t,
                off,
                "DEBIT",
                "ACH",
                int(a.rent * 100),
                None,
                cp,
                None,
                "RENT",
                online=True,
            )
        )
    for m, amount, dom in a.subs:
        if dom == day.dom:
            t = at_hour(rng, day.start, off, rng.choice(ACH_HOURS))
            out.append(
                w.rec(
                    a,
                    t,
                    off,
                    "DEBIT",
                    "CARD_NOT_PRESENT",
                    int(amount * 100),
                    m.record(),
                    online=True,
                )
            )

    where = home
    away = a.travel(w, a, day, rng, out) if a.travel is not None else None
    if away is not None:
        where = away
    elif a.trip_until > day.index and a.trip_city is not None:
        where = a.trip_city
    elif not traits and rnd() < 0.012:
        start_trip(w, a, day, rng, out)
        where = a.trip_city or home
    woff = day.offsets[where]

    def shop(category: str, median: float, lo: float, hi: float, city: City = where) -> None:
        t = at_hour(rng, day.start, woff, rng.choices(ALL_HOURS, cum_weights=SHOPPING_HOURS)[0])
        m = merchant(city, category, (a.fav + rng.randrange(2)) % 4)
        out.append(w.card(a, t, woff, m, spend(rng, median, lo, hi)))

    if where is home and rnd() < 0.3:
        shop("grocery", 55, 6, 320)
    if rnd() < 0.3:
        shop("restaurant", 38, 9, 240)
    if rnd() < 0.25:
        shop("fast_food", 12, 3, 45)
    if a.has_car and rnd() < 0.14:
        shop("fuel", 48, 15, 110)
    if rnd() < 0.06:
        shop("pharmacy", 24, 4, 150)
    if rnd() < 0.07:
        day_only = bool(traits)  # look-alike accounts keep routine cash to daytime
        hour = (
            rng.choice(DAY_HOURS) if day_only else rng.choices(ALL_HOURS, cum_weights=ATM_HOURS)[0]
        )
        t = at_hour(rng, day.start, woff, hour)
        amount = rng.choice((40, 60, 80, 100, 120, 160, 200, 300)) * 100
        out.append(w.cash(a, t, woff, where, "DEBIT", amount, "atm"))
    if rnd() < 0.05 and a.friends:
        t = at_hour(rng, day.start, off, rng.choices(ALL_HOURS, cum_weights=SHOPPING_HOURS)[0])
        cp = rng.choice(a.friends).record()
        amount = spend(rng, 35, 5, 150)
        out.append(w.rec(a, t, off, "DEBIT", "P2P", amount, None, cp, online=True))
    if rnd() < 0.035 and a.friends:
        t = at_hour(rng, day.start, off, rng.choices(ALL_HOURS, cum_weights=SHOPPING_HOURS)[0])
        cp = rng.choice(a.friends).record()
        amount = spend(rng, 35, 5, 150)
        out.append(w.rec(a, t, off, "CREDIT", "P2P", amount, None, cp, online=True))
    if a.habit is not None:
        a.habit(w, a, day, rng, out)


def start_trip(w: World, a: Account, day: Day, rng: random.Random, out: list) -> None:
    """A few nights in another city: maybe a flight, then a hotel."""
    cities = [c for c in CITIES[a.inst.country] if c != a.home]
    city = rng.choice(cities)
    nights = rng.randint(1, 4)
    a.trip_city, a.trip_until = city, day.index + nights + 1
    off = day.offsets[city]
    if rng.random() < 0.5:
        name, mcc, hq = rng.choice(AIRLINES)
        t = at_hour(rng, day.start, day.offsets[a.home], rng.choice((6, 7, 8)))
        rec = online_merchant(name, mcc, hq).record()
        amount = money(rng, 140, 650)
        out.append(
            w.rec(a, t, day.offsets[a.home], "DEBIT", "CARD_NOT_PRESENT", amount, rec,
                     online=True, passengers=[a.name_hash])
        )  # fmt: skip
    t = at_hour(rng, day.start, off, rng.choice((14, 15, 16, 17, 18, 19)))
    m = merchant(city, "hotel", rng.randrange(4))
    out.append(w.card(a, t, off, m, money(rng, 110, 260) * nights))


def business_day(w: World, a: Account, day: Day, rng: random.Random, out: list) -> None:
    """A small business: card takings, cash deposits, payroll, supplies, rent."""
    off = day.offsets[a.home]
    scale = {"nail_salon": 0.6, "restaurant": 1.6, "spa": 1.0}[a.business or "spa"]
    if day.weekday != 6 and a.acquirer is not None:
        t = at_hour(rng, day.start, off, rng.choice(ACH_HOURS))
        amount = money(rng, 350, 2200) * scale
        out.append(w.rec(a, t, off, "CREDIT", "ACH", int(amount), None, a.acquirer.record()))
    if day.weekday == a.deposit_weekday:
        t = at_hour(rng, day.start, off, rng.choice(BUSINESS_HOURS))
        amount = int(money(rng, 300, 1500) * scale)
        out.append(w.cash(a, t, off, a.home, "CREDIT", amount, "branch"))
    if day.weekday == 4 and (day.epoch_day // 7 + a.pay_phase) % 2:
        t = at_hour(rng, day.start, off, rng.choice((6, 7)))
        for party, worker in a.employees:
            amount = money(rng, 650, 1900)
            cp = party.record(ultimate=worker)
            out.append(
                w.rec(a, t, off, "DEBIT", "ACH", amount, None, cp, None, "PAYR", True, online=True)
            )
    if a.habit is not None:
        a.habit(w, a, day, rng, out)
    if day.weekday < 6 and rng.random() < 0.25:
        t = at_hour(rng, day.start, off, rng.choice(BUSINESS_HOURS))
        m = merchant(a.home, "supplies", a.fav % 3)
        out.append(w.card(a, t, off, m, spend(rng, 160, 20, 1400)))
    if day.dom == a.rent_day and a.rent_party is not None:
        t = at_hour(rng, day.start, off, rng.choice(ACH_HOURS))
        out.append(
            w.rec(
                a,
                t,
                off,
                "DEBIT",
                "ACH",
                int(a.rent * 100),
                None,
                a.rent_party.record(),
                None,
                "RENT",
                online=True,
            )
        )


def msb_day(w: World, a: Account, day: Day, rng: random.Random, out: list) -> None:
    """Walk-in remittances: cash in at the agent counter, sent abroad minutes later."""
    if day.index < a.next_remit or a.recipient is None:
        return
    a.next_remit = day.index + rng.randint(*a.remit_gap)
    off = day.offsets[a.home]
    t = at_hour(rng, day.start, off, rng.choice(tuple(range(9, 20))))
    amount = money(rng, *a.remit_amount)
    fee = money(rng, 4, 12)
    out.append(w.cash(a, t, off, a.home, "CREDIT", amount + fee, "agent"))
    t2 = t + rng.randint(3, 40) * MIN_MS
    out.append(w.transfer_out(a, t2, off, a.recipient, amount, "REMITTANCE"))


ROLE_DAY: dict[str, Callable[[World, Account, Day, random.Random, list], None]] = {
    "consumer": consumer_day,
    "business": business_day,
    "msb_customer": msb_day,
}
