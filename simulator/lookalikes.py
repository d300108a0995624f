"""Look-alikes (hard negatives): innocent accounts whose routines resemble a typology's.

Each one reaches some indicator's threshold on its own (a salesperson's hotels in two cities a
week, a nurse's night withdrawals, a family pooling remittances to one relative) and must
still not alert: the backtest counts every alert on one as a false alert. They are labelled
with typology NONE in the truth.

A look-alike is a :class:`~simulator.kinds.Kind` with no injected events: its account is
opened like the customers it resembles, and its habits run inside the daily routine
(``travel`` says where the holder is today, ``habit`` adds the day's own events). To add one,
append it to LOOKALIKES or LOOKALIKE_GROUPS: the kinds are assigned in turn, so appending
keeps every existing seed's assignments.
"""

from __future__ import annotations

import random

from simulator.amounts import money, spend
from simulator.clock import BUSINESS_HOURS, DAY_HOURS, MIN_MS, at_hour
from simulator.geography import CITIES, City
from simulator.kinds import NONE, GroupKind, Kind, Opening
from simulator.parties import AIRLINES, merchant, online_merchant
from simulator.population import share_identity
from simulator.world import Account, Day, World

# --- habits ----------------------------------------------------------------------------------


def salesperson_territory(w: World, a: Account, rng: random.Random) -> None:
    """Two cities of the holder's country, outside the home region."""
    others = [c for c in CITIES[a.inst.country] if c.region != a.home.region]
    a.territory = tuple(rng.sample(others, 2))


def salesperson_travel(
    w: World, a: Account, day: Day, rng: random.Random, out: list
) -> City | None:
    """Mon-Tue in one territory city, Wed-Thu in the other: two hotel cities every week."""
    if day.weekday >= 4:
        return None
    city = a.territory[0] if day.weekday < 2 else a.territory[1]
    if day.weekday == 0 and rng.random() < 0.5:  # the week's flights, booked online
        name, mcc, hq = rng.choice(AIRLINES)
        t = at_hour(rng, day.start, day.offsets[a.home], rng.choice((5, 6)))
        rec = online_merchant(name, mcc, hq).record()
        for _ in range(2):
            out.append(
                w.rec(a, t, day.offsets[a.home], "DEBIT", "CARD_NOT_PRESENT",
                      money(rng, 120, 420), rec, online=True, passengers=[a.name_hash])
            )  # fmt: skip
            t += rng.randrange(MIN_MS, 10 * MIN_MS)
    if day.weekday in (0, 2):
        off = day.offsets[city]
        t = at_hour(rng, day.start, off, rng.choice((15, 16, 17, 18)))
        nights = 2 if day.weekday == 0 else 1
        m = merchant(city, "hotel", a.fav)
        out.append(w.card(a, t, off, m, money(rng, 120, 190) * nights))
    return city


def trucker_travel(w: World, a: Account, day: Day, rng: random.Random, out: list) -> City | None:
    """A new city every weeknight and fuel at any hour: many hotel cities, no cash at night."""
    if day.weekday >= 5:
        return None
    choices = [c for c in CITIES[a.inst.country] if c not in (a.road_city, a.home)]
    city = a.road_city = rng.choice(choices)
    off = day.offsets[city]
    for _ in range(rng.randint(1, 2)):
        t = at_hour(rng, day.start, off, rng.randrange(24))
        out.append(
            w.card(a, t, off, merchant(city, "truck_stop", rng.randrange(2)), money(rng, 180, 620))
        )
    if day.weekday < 4:
        t = at_hour(rng, day.start, off, rng.choice((19, 20, 21)))
        out.append(w.card(a, t, off, merchant(city, "hotel", 3), money(rng, 55, 95)))
    return city


def night_nurse_first_shift(w: World, a: Account, rng: random.Random) -> None:
    a.next_special = rng.randint(0, 3)


def night_nurse_habit(w: World, a: Account, day: Day, rng: random.Random, out: list) -> None:
    """Cash on the way to a night shift: at most one night withdrawal every 4+ days, never
    three in a week."""
    if day.index < a.next_special:
        return
    a.next_special = day.index + rng.randint(4, 9)
    off = day.offsets[a.home]
    t = at_hour(rng, day.start, off, rng.choice((22, 23, 0, 1, 2, 3)))
    amount = rng.choice((40, 60, 80, 100)) * 100
    out.append(w.cash(a, t, off, a.home, "DEBIT", amount, "atm"))


# Bar staff and hotel night auditors: the look-alikes of the after-hours indicators. Bar staff
# often have a drink or a bite at a bar after a late shift and bank their tips; night auditors
# take a cab home at dawn and buy the odd prepaid gift card. Each habit can reach one
# indicator's threshold in a busy week (a bar at 01:00 three times is
# AFTER_HOURS_ADULT_SERVICES), never two of the same typology: cash stays at most one night
# withdrawal a week, rides under the burst count, prepaid loads at one a week.


def bar_staff_habit(w: World, a: Account, day: Day, rng: random.Random, out: list) -> None:
    off = day.offsets[a.home]
    if day.weekday in (3, 4, 5) and rng.random() < 0.6:  # after the Thu-Sat shifts
        t = at_hour(rng, day.start, off, rng.choice((1, 2)))
        m = merchant(a.home, "bar", a.fav % 3)
        out.append(w.card(a, t, off, m, spend(rng, 22, 6, 80)))
    if day.weekday == 6:  # the week's tips banked on Sunday afternoon
        t = at_hour(rng, day.start, off, rng.choice((13, 14, 15, 16)))
        out.append(w.cash(a, t, off, a.home, "CREDIT", money(rng, 180, 650), "atm"))
    if day.weekday == 5 and rng.random() < 0.5:  # one ride home a week, at most
        t = at_hour(rng, day.start, off, 3)
        out.append(w.ride(a, t, off, money(rng, 9, 28)))


def hotel_worker_habit(w: World, a: Account, day: Day, rng: random.Random, out: list) -> None:
    off = day.offsets[a.home]
    if day.weekday < 5 and rng.random() < 0.5:  # hotel night auditor: a cab home at 07:00
        t = at_hour(rng, day.start, off, 7)
        out.append(w.ride(a, t, off, money(rng, 11, 30)))
    if day.weekday == 2:
        t = at_hour(rng, day.start, off, rng.choice(DAY_HOURS))
        m = merchant(a.home, "prepaid", a.fav % 2)
        out.append(w.card(a, t, off, m, rng.choice((25, 50, 100)) * 100))
    if day.weekday == 0 and rng.random() < 0.7:  # after the Sunday night shift
        t = at_hour(rng, day.start, off, rng.choice((6, 7)))  # 06:00 is day, by the rule
        amount = rng.choice((40, 60, 80, 100)) * 100
        out.append(w.cash(a, t, off, a.home, "DEBIT", amount, "atm"))


def salon_habit(w: World, a: Account, day: Day, rng: random.Random, out: list) -> None:
    """A salon that pays its payroll tax every month (the front business does not)."""
    if day.dom != 15:
        return
    off = day.offsets[a.home]
    t = at_hour(rng, day.start, off, rng.choice(BUSINESS_HOURS))
    cp = w.tax_agency.record()
    amount = money(rng, 400, 1500)
    out.append(w.rec(a, t, off, "DEBIT", "ACH", amount, None, cp, None, "TAXS", online=True))


# --- groups ----------------------------------------------------------------------------------


def couple(w: World, accts: list[Account], rng: random.Random, lo: int, hi: int) -> list:
    """Two partners with separate accounts, one home phone and one address."""
    share_identity(w, accts, f"couple:{w.seed}:{accts[0].idx}", device=rng.random() < 0.5)
    return []


def family_pool(w: World, accts: list[Account], rng: random.Random, lo: int, hi: int) -> list:
    """Two to four relatives in one town send money home to the same mother, each once a
    month, around the same payday (the MSB routine does the sending)."""
    first = accts[0]
    for a in accts:
        a.home, a.recipient = first.home, first.recipient
        a.remit_country = first.remit_country
        a.next_remit = first.next_remit + rng.randint(0, 2)
    return []


# --- the catalog -----------------------------------------------------------------------------

US_BANK = Opening(banking="us_bank")
FAMILY_REMITTER = Opening(banking="msb", family_remittance=True)

# Single-account look-alikes, assigned in turn. The first four keep their places so small
# populations (a few hard negatives) keep the same mix as before the newer ones were added.
LOOKALIKES: dict[str, Kind] = {
    k.kind: k
    for k in (
        Kind(
            "hard_negative_salesperson",
            NONE,
            Opening(setup=salesperson_territory),
            travel=salesperson_travel,
        ),
        Kind(
            "hard_negative_night_nurse",
            NONE,
            Opening(banking="us_bank", setup=night_nurse_first_shift),
            habit=night_nurse_habit,
        ),
        Kind("hard_negative_family_remitter", NONE, FAMILY_REMITTER),
        Kind("hard_negative_trucker", NONE, travel=trucker_travel),
        Kind("hard_negative_bar_staff", NONE, US_BANK, habit=bar_staff_habit),
        Kind("hard_negative_hotel_worker", NONE, US_BANK, habit=hotel_worker_habit),
        Kind(
            "hard_negative_salon",
            NONE,
            Opening(banking="us_business", business_types=("nail_salon", "spa")),
            habit=salon_habit,
        ),
    )
}
NEGATIVE_KINDS = tuple(LOOKALIKES)

# Multi-account look-alikes of the cross-account indicators (SHARED_IDENTIFIER,
# COMMON_BENEFICIARY): a couple sharing a phone and address, a family pooling remittances.
LOOKALIKE_GROUPS: dict[str, GroupKind] = {
    g.kind: g
    for g in (
        GroupKind("hard_negative_couple", NONE, couple, size=lambda rng: 2),
        GroupKind(
            "hard_negative_family_pool",
            NONE,
            family_pool,
            size=lambda rng: rng.randint(2, 4),
            opening=FAMILY_REMITTER,
        ),
    )
}
NEGATIVE_GROUP_KINDS = tuple(LOOKALIKE_GROUPS)
