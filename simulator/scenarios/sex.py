"""Sex trafficking: rings moving victims between motels, run from a phone, or on the road.

The footprints are those of the typology's indicators (processors/indicators/, each citing
its sources); every builder leaves at least two of them.
"""

from __future__ import annotations

import random

from simulator.amounts import money, spend
from simulator.clock import (
    DAY_HOURS,
    DAY_MS,
    HOUR_MS,
    MIN_MS,
    NIGHT_HOURS,
    at_hour,
    episode,
    episode_starts,
    in_window,
    times,
)
from simulator.geography import CITIES, distinct_regions, utc_offset
from simulator.kinds import SEX, Kind, Opening
from simulator.parties import AD_SITES, CRYPTO_EXCHANGE, Merchant, merchant, online_merchant
from simulator.world import Account, World


def sex_ring(w: World, a: Account, rng: random.Random, lo: int, hi: int) -> list[tuple[int, dict]]:
    """Rotating motels, night cash, many small P2P payments and a cash funnel across regions.

    One of the four footprints may be missing (the seed decides); any two of them already sum
    to 1.0 for SEX_TRAFFICKING, so a footprint lost to compression still leaves an alert.
    """
    events: list[tuple[int, dict]] = []
    usd = 1.0 if a.inst.currency == "USD" else 1 / 0.72
    avail_days = (hi - lo) // DAY_MS
    total = rng.randint(3, max(3, min(6, avail_days - 1)))
    aligned = hi - lo >= (total + 1) * DAY_MS
    per_night = DAY_MS if aligned else max(10 * MIN_MS, (hi - lo - HOUR_MS) // total)
    length = total * per_night + (DAY_MS if aligned else 0)
    for ep, t0 in enumerate(episode_starts(rng, lo, hi, length, 8 * DAY_MS)):
        drop = rng.choice((None,) * 6 + ("hotel", "night", "p2p", "funnel"))
        cities = distinct_regions(rng, CITIES[a.inst.country], rng.randint(3, min(5, total)))
        nights = [1] * len(cities)
        for _ in range(total - len(cities)):
            nights[rng.randrange(len(cities))] += 1
        arrive = t0
        if aligned:
            arrive = at_hour(rng, t0, utc_offset(cities[0], t0), rng.choice((12, 13, 14, 15)))
        first_t = last = arrive  # last: time of the latest cash event, to keep their order
        for j, city in enumerate(cities):
            off = utc_offset(city, arrive)
            settle = max(1, min(2 * HOUR_MS, per_night // 4))
            if drop != "hotel":
                t = arrive + rng.randrange(settle)
                m = merchant(city, "hotel", rng.randrange(4))
                events.append(w.card(a, t, off, m, int(money(rng, 60, 140) * usd) * nights[j]))
            if drop != "funnel" and j >= 2:
                last = max(arrive + rng.randrange(settle), last + MIN_MS)
                amount = rng.choice((200, 300, 400, 500, 600)) * 100
                events.append(w.cash(a, last, off, city, "DEBIT", amount, "atm"))
            for n in range(nights[j]):
                night = arrive + n * per_night
                hours = (9, 10, 11) if drop == "night" else NIGHT_HOURS
                start = max(night + min(HOUR_MS, per_night // 8), last + MIN_MS)
                last = in_window(rng, start, night + per_night, off, hours)
                events.append(w.cash(a, last, off, city, "CREDIT", money(rng, 150, 850), "atm"))
            arrive = max(arrive + nights[j] * per_night, last + MIN_MS)
        if drop != "p2p":
            n_pay = rng.randint(12, 28)
            payers = [
                w.party(f"payer:{a.idx}:{ep}:{i}", "p2p-net-01", a.inst.country)
                for i in range(rng.randint(6, min(18, n_pay)))
            ]
            off = utc_offset(cities[0], first_t)
            for i in range(n_pay):
                t = rng.randint(first_t, arrive)
                payer = payers[i] if i < len(payers) else rng.choice(payers)
                amount = int(money(rng, 25, 95) * usd)
                events.append(
                    w.rec(a, t, off, "CREDIT", "P2P", amount, None, payer.record(), online=True)
                )
    return events


def _cnp(w: World, a: Account, t: int, off: int, m: Merchant, amount: int) -> tuple[int, dict]:
    return w.rec(a, t, off, "DEBIT", "CARD_NOT_PRESENT", amount, m.record(), online=True)


def sex_ring_online(
    w: World, a: Account, rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """A ring run from a phone: ad-site fees, crypto in small multiples, prepaid cards, rides
    to calls, night payments at massage venues and many small payments from buyers.

    Ad fees are whole multiples of $3 under $100 at the advertising MCC or at a site only the
    watchlist knows; the crypto goes, in some rings, to a dark-web market wallet; in some the
    holder's phone is in the ads (the intel list). One footprint may be missing; the rest
    still reach the threshold under the default rules (no watchlists needed).
    """
    events: list[tuple[int, dict]] = []
    span = min(6 * DAY_MS, hi - lo)
    t0 = episode(rng, lo, hi, span)
    off = utc_offset(a.home, t0)
    drop = rng.choice((None, None, "crypto", "prepaid", "spa", "payers", "rides"))
    site = online_merchant(*AD_SITES[rng.randrange(2)])  # 7311: the multiples count
    for t in times(rng, t0, span, rng.randint(4, 8), off, tuple(range(8, 24))):
        amount = rng.choice((9, 12, 15, 24, 36, 48)) * 100
        events.append(_cnp(w, a, t, off, site, amount))
    if rng.random() < 0.5:  # also a site that only a watchlist can name
        listed = online_merchant(*AD_SITES[2])
        for t in times(rng, t0, span, rng.randint(5, 8), off, tuple(range(8, 24))):
            events.append(_cnp(w, a, t, off, listed, rng.choice((10, 20, 25, 40)) * 100))
    if drop != "crypto":
        exchange = online_merchant(*CRYPTO_EXCHANGE).record()
        dark = rng.random() < 0.4
        wallet = rng.choice(w.dark_wallets) if dark else w.keyed(f"wallet:{w.seed}:{a.idx}")
        for t in times(rng, t0, span, rng.randint(3, 6), off, tuple(range(0, 24))):
            amount = rng.choice((24, 36, 48, 72, 96)) * 100
            t_rec = w.rec(a, t, off, "DEBIT", "CRYPTO", amount, exchange, online=True)
            t_rec[1]["wallet_address_hash"] = wallet
            events.append(t_rec)
    if drop != "prepaid":
        for t in times(rng, t0, span, rng.randint(4, 7), off, DAY_HOURS):
            m = merchant(a.home, "prepaid", rng.randrange(2))
            events.append(w.card(a, t, off, m, rng.choice((50, 100, 200, 300, 500)) * 100))
    if drop != "spa":
        for t in times(rng, t0, span, rng.randint(3, 5), off, (22, 23, 0, 1, 2)):
            m = merchant(a.home, rng.choice(("massage", "spa")), rng.randrange(3))
            events.append(w.card(a, t, off, m, money(rng, 60, 220)))
    if drop != "rides":
        for t in times(rng, t0, span, rng.randint(6, 10), off, NIGHT_HOURS):
            events.append(w.ride(a, t, off, money(rng, 9, 45)))
    if drop != "payers":
        payers = [
            w.party(f"payer:{a.idx}:o:{i}", "p2p-net-01", a.inst.country)
            for i in range(rng.randint(6, 14))
        ]
        for i, t in enumerate(times(rng, t0, span, rng.randint(12, 24), off, NIGHT_HOURS)):
            payer = payers[i] if i < len(payers) else rng.choice(payers)
            cp = payer.record()
            events.append(
                w.rec(a, t, off, "CREDIT", "P2P", money(rng, 30, 95), None, cp, online=True)
            )
    if rng.random() < 0.3:
        w.intel.append(a.phone_hash)  # the number in the ads
    return events


def sex_ring_travel(
    w: World, a: Account, rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """A ring on the road by bus: tickets for the victims bought at the depot in each city,
    a motel per city, night payments at massage venues and bars, rides to calls, and the
    victims' food, drug-store and clothing bought by the trafficker.

    No night cash here (that is the classic ring), so the variant rests on the newer
    detectors. One of motels, venues or rides may be missing; the rest reach the threshold.
    The shift of spend (SUSTAINING_SPEND) needs an 8-week baseline before a 4-week window, so
    it is only generated in runs of twelve weeks or more.
    """
    events: list[tuple[int, dict]] = []
    victims = [w.keyed(f"victim:{w.seed}:{a.idx}:{i}") for i in range(rng.randint(1, 3))]
    n_cities = rng.randint(3, 4)
    per_city = min(DAY_MS + DAY_MS // 2, (hi - lo) // (n_cities + 1))
    t0 = episode(rng, lo, hi, per_city * n_cities)
    cities = distinct_regions(rng, CITIES[a.inst.country], n_cities)
    drop = rng.choice((None, None, "hotel", "venue", "rides"))
    for j, city in enumerate(cities):
        arrive = t0 + j * per_city
        off = utc_offset(city, arrive)
        t = in_window(rng, arrive, arrive + per_city, off, (10, 11, 12, 13))
        if j + 1 < len(cities):  # tickets to the next city, bought at this depot
            m = merchant(city, "bus", rng.randrange(2))
            rec = w.rec(
                a,
                t,
                off,
                "DEBIT",
                "CARD_PRESENT",
                money(rng, 35, 90) * (len(victims) + 1),
                m.record(),
                None,
                m.location(),
                passengers=[a.name_hash, *victims],
            )
            events.append(rec)
        if drop != "hotel":
            t_h = in_window(rng, arrive, arrive + per_city, off, (14, 15, 16))
            events.append(
                w.card(a, t_h, off, merchant(city, "hotel", rng.randrange(4)), money(rng, 55, 120))
            )
        if drop != "venue":
            t_v = in_window(rng, arrive, arrive + per_city, off, (22, 23, 0, 1))
            kind = rng.choice(("massage", "bar", "spa"))
            events.append(
                w.card(a, t_v, off, merchant(city, kind, rng.randrange(2)), money(rng, 40, 180))
            )
        if drop != "rides":
            for t_r in times(rng, arrive, per_city, rng.randint(2, 3), off, NIGHT_HOURS):
                events.append(w.ride(a, t_r, off, money(rng, 9, 40)))
        for cat, median in (("fast_food", 14), ("pharmacy", 22), ("clothing", 45)):
            t_s = in_window(rng, arrive, arrive + per_city, off, DAY_HOURS)
            m = merchant(city, cat, rng.randrange(2) if cat == "clothing" else rng.randrange(3))
            events.append(w.card(a, t_s, off, m, spend(rng, median, 4, 200)))
    if hi - lo >= SUSTAIN_MIN_DAYS * DAY_MS:
        events += sustaining(w, a, rng, max(lo, hi - 4 * 7 * DAY_MS), hi)
    return events


# SUSTAINING_SPEND compares the last four weeks with the thirteen before and needs eight weeks
# of baseline: the shift is only worth generating when the run has room for both (12 weeks).
SUSTAIN_MIN_DAYS = 84


def sustaining(
    w: World, a: Account, rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """Feeding and clothing the victims at home between trips: fast food, drug store and
    clothing most days, several people's worth."""
    events: list[tuple[int, dict]] = []
    off = utc_offset(a.home, lo)
    t = lo
    while t < hi - DAY_MS:
        for cat, median in (("fast_food", 38), ("pharmacy", 30), ("clothing", 70)):
            if rng.random() < (0.9 if cat == "fast_food" else 0.3):
                t_s = in_window(rng, t, t + DAY_MS, off, DAY_HOURS)
                m = merchant(a.home, cat, rng.randrange(2))
                events.append(w.card(a, t_s, off, m, spend(rng, median, 8, 250)))
        t += DAY_MS
    return events


# Sex-ring accounts get a salary half of the time (some victims also hold a job).
_RING = Opening(salary="half")

# The typology's scenarios, classic first: small runs with one scenario per typology get it.
SCENARIOS = (
    Kind("sex_ring", SEX, _RING, build=sex_ring),
    Kind("sex_ring_online", SEX, _RING, build=sex_ring_online),
    Kind("sex_ring_travel", SEX, _RING, build=sex_ring_travel),
)
