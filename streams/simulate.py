"""Deterministic synthetic payment traffic with labelled trafficking scenarios and look-alikes.

Why it exists: labelled real cases cannot be shared, yet the detectors must be tuned and shown
against traffic whose truth is known. Everything derives from the seed (one ``random.Random``
per day of traffic, never the global generator), so a backtest is repeatable and a failing
scenario can be replayed. Traffic is produced one day at a time, so memory stays bounded by
one day of events however long the run.

Plain Python on purpose: the offline backtest imports this module, so Kafka and Faust are only
imported inside :func:`main` when ``--publish`` asks for them.

Scenarios come in variants per typology (so every detector has traffic that should fire it)
and in multi-account groups (shared phone/address/device, many senders to one beneficiary) for
the cross-account indicators; each has look-alikes that must stay quiet. The ad sites,
recruiters, wallets and advertised phones the scenarios use are returned as
:class:`Watchlists`, since the shipped rule set's lists are empty (:func:`rules_overlay`).
Scenario events are held in memory (a few per cent of the traffic); background traffic is not.

Identifiers (phone, e-mail, address, device, names) never appear in clear, only as keyed
hashes (:func:`keyed_hash`), as the payment contract requires of every publisher.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
import zlib
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any

from processors.intel import keyed_hash as intel_keyed_hash

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MIN_MS = 60_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

TYPOLOGIES = ("SEX_TRAFFICKING", "LABOUR_TRAFFICKING", "HUMAN_SMUGGLING")
# Single-account look-alikes, assigned in turn. The first four keep their places so small
# populations (a few hard negatives) keep the same mix as before the newer ones were added.
NEGATIVE_KINDS = (
    "hard_negative_salesperson",
    "hard_negative_night_nurse",
    "hard_negative_family_remitter",
    "hard_negative_trucker",
    "hard_negative_bar_staff",
    "hard_negative_hotel_worker",
    "hard_negative_salon",
)
# Multi-account look-alikes of the cross-account indicators (SHARED_IDENTIFIER,
# COMMON_BENEFICIARY): a couple sharing a phone and address, a family pooling remittances.
NEGATIVE_GROUP_KINDS = ("hard_negative_couple", "hard_negative_family_pool")
# The classic scenario of each typology first: populations with a few scenarios per typology
# get only those, so short demos and tests keep their footprints.
SCENARIO_KIND = {
    "SEX_TRAFFICKING": "sex_ring",
    "LABOUR_TRAFFICKING": "labour_wage_capture",
    "HUMAN_SMUGGLING": "smuggling_cash_wire",
}
SCENARIO_VARIANTS: dict[str, tuple[str, ...]] = {
    "SEX_TRAFFICKING": ("sex_ring", "sex_ring_online", "sex_ring_travel"),
    "LABOUR_TRAFFICKING": ("labour_wage_capture", "labour_recruiter", "labour_front_business"),
    "HUMAN_SMUGGLING": ("smuggling_cash_wire", "smuggling_structuring", "smuggling_transport"),
}
# Variants that need more than a short run to show (weekly cash over four weeks); shorter runs
# fall back to the typology's classic scenario.
MIN_DAYS = {"labour_front_business": 27}
# Multi-account scenarios: several accounts, one scenario id and typology.
GROUP_KINDS: dict[str, str] = {
    "labour_shared_identifier": "LABOUR_TRAFFICKING",
    "smuggling_shared_identifier": "HUMAN_SMUGGLING",
    "smuggling_common_beneficiary": "HUMAN_SMUGGLING",
}


def keyed_hash(key: str, value: str) -> str:
    """HMAC-SHA256 under the consortium key: joinable across institutions, useless if leaked.

    The same function the intel feed hashes with (processors/intel.py); the simulator's
    phones ('+' and digits) and e-mails (lower-case) are already in normal form."""
    return intel_keyed_hash(key, value)


@dataclass(frozen=True, slots=True)
class ScenarioTruth:
    account_id: str
    institution_id: str
    scenario_id: str
    typology: str  # one of TYPOLOGIES, or "NONE" for a hard negative that must not alert
    kind: str
    start_ms: int
    end_ms: int


# --- geography and clocks -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class City:
    name: str
    region: str  # ISO 3166-2
    country: str
    std_offset: int  # minutes
    dst: bool = True


US_CITIES = (
    City("New York", "US-NY", "US", -300),
    City("Newark", "US-NJ", "US", -300),
    City("Boston", "US-MA", "US", -300),
    City("Atlanta", "US-GA", "US", -300),
    City("Miami", "US-FL", "US", -300),
    City("Orlando", "US-FL", "US", -300),
    City("Charlotte", "US-NC", "US", -300),
    City("Chicago", "US-IL", "US", -360),
    City("Houston", "US-TX", "US", -360),
    City("Dallas", "US-TX", "US", -360),
    City("Nashville", "US-TN", "US", -360),
    City("Minneapolis", "US-MN", "US", -360),
    City("Denver", "US-CO", "US", -420),
    City("El Paso", "US-TX", "US", -420),
    City("Phoenix", "US-AZ", "US", -420, dst=False),
    City("Las Vegas", "US-NV", "US", -480),
    City("Los Angeles", "US-CA", "US", -480),
    City("San Diego", "US-CA", "US", -480),
    City("Seattle", "US-WA", "US", -480),
)
CA_CITIES = (
    City("Toronto", "CA-ON", "CA", -300),
    City("Ottawa", "CA-ON", "CA", -300),
    City("Montreal", "CA-QC", "CA", -300),
    City("Halifax", "CA-NS", "CA", -240),
    City("Winnipeg", "CA-MB", "CA", -360),
    City("Regina", "CA-SK", "CA", -360, dst=False),
    City("Calgary", "CA-AB", "CA", -420),
    City("Edmonton", "CA-AB", "CA", -420),
    City("Vancouver", "CA-BC", "CA", -480),
)
CITIES = {"US": US_CITIES, "CA": CA_CITIES}
ALL_CITIES = US_CITIES + CA_CITIES
BORDER_CITIES = tuple(c for c in US_CITIES if c.region in ("US-TX", "US-AZ", "US-CA"))


@lru_cache(maxsize=512)
def _dst_window(year: int, std_offset: int) -> tuple[int, int]:
    """US/Canada rule since 2007: 2nd Sunday of March 02:00 to 1st Sunday of November 02:00."""
    mar8, nov1 = date(year, 3, 8), date(year, 11, 1)
    start = mar8 + timedelta(days=(6 - mar8.weekday()) % 7)
    end = nov1 + timedelta(days=(6 - nov1.weekday()) % 7)
    std = std_offset * MIN_MS
    return (
        (start.toordinal() - _EPOCH_ORDINAL) * DAY_MS + 2 * HOUR_MS - std,
        (end.toordinal() - _EPOCH_ORDINAL) * DAY_MS + HOUR_MS - std,
    )


def utc_offset(city: City, t_ms: int) -> int:
    """UTC offset in minutes; computed here, not from tzdata, so output is identical everywhere."""
    if not city.dst:
        return city.std_offset
    lo, hi = _dst_window(datetime.fromtimestamp(t_ms / 1000, UTC).year, city.std_offset)
    return city.std_offset + 60 if lo <= t_ms < hi else city.std_offset


def _at_hour(rng: random.Random, t_from: int, offset: int, hour: int) -> int:
    """First instant >= t_from whose local hour is ``hour`` (random second within it)."""
    off = offset * MIN_MS
    local = t_from + off
    cand = local - local % DAY_MS + hour * HOUR_MS + rng.randrange(3600) * 1000
    if cand < local:
        cand += DAY_MS
    return cand - off


def _cum(weights: Sequence[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


_HOURS = range(24)
# Card spending by local hour: mostly daytime, a thin tail into the night.
SHOPPING_HOURS = _cum(
    [0.3, 0.2, 0.1, 0.1, 0.1, 0.3, 1, 2.5, 4, 5, 6, 7, 8, 7, 6, 6, 7, 8, 8, 6, 4, 2.5, 1.2, 0.6]
)
# ATM use by local hour; about 3.5% falls in 22:00-06:00.
ATM_HOURS = _cum(
    [0.2, 0.1, 0.05, 0.05, 0.05, 0.2, 0.8, 2, 4, 5, 6, 6, 6, 6, 5, 5, 5, 5, 4, 3, 2, 1, 0.5, 0.3]
)
DAY_HOURS = tuple(range(8, 19))
BUSINESS_HOURS = tuple(range(9, 17))
ACH_HOURS = (3, 4, 5, 6)
NIGHT_HOURS = (22, 23, 0, 1, 2, 3, 4, 5)


# --- institutions, parties, merchants ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Institution:
    id: str
    country: str
    currency: str
    bank: bool  # banks have branches and ATMs; MSBs have agents and no ATMs


BANK_US = Institution("bank-us-01", "US", "USD", True)
MSB_US = Institution("msb-us-02", "US", "USD", False)
CU_CA = Institution("cu-ca-03", "CA", "CAD", True)


@dataclass(frozen=True, slots=True)
class Party:
    account_id: str | None
    institution_id: str | None
    country: str | None
    name_hash: str | None

    def record(self, ultimate: str | None = None) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "institution_id": self.institution_id,
            "country": self.country,
            "name_hash": self.name_hash,
            "ultimate_party_hash": ultimate,
        }


@dataclass(frozen=True, slots=True)
class Merchant:
    merchant_id: str
    name: str
    mcc: str
    city: City
    terminal_id: str

    def record(self) -> dict[str, Any]:
        c = self.city
        return {
            "merchant_id": self.merchant_id,
            "name": self.name,
            "mcc": self.mcc,
            "city": c.name,
            "region": c.region,
            "country": c.country,
        }

    def location(self) -> dict[str, Any]:
        c = self.city
        return {
            "city": c.name,
            "region": c.region,
            "country": c.country,
            "terminal_id": self.terminal_id,
        }


CATEGORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "grocery": ("5411", ("FreshMart", "Valley Foods", "Corner Grocer", "Harvest Market")),
    "fuel": ("5541", ("QuickFuel", "Gas N Go", "Petro Stop")),
    "restaurant": ("5812", ("Olive Bistro", "Main St Grill", "Trattoria Roma", "Lucky Dragon")),
    "fast_food": ("5814", ("Burger Barn", "Taco Rapido", "Coffee Corner")),
    "pharmacy": ("5912", ("CarePlus Pharmacy", "HealthRx")),
    "hotel": ("7011", ("Comfort Lodge", "Budget Inn", "Suites Downtown", "Airport Motel")),
    "supplies": ("5300", ("Wholesale Club", "Restaurant Depot", "Beauty Supply Depot")),
    "truck_stop": ("5541", ("Interstate Travel Plaza", "Truckers Rest")),
    "bar": ("5813", ("Night Owl Bar", "Corner Tavern", "Blue Room Lounge")),
    "massage": ("7297", ("Golden Touch Massage", "Relax Foot Spa", "Oriental Massage")),
    "spa": ("7298", ("Serenity Day Spa", "Lotus Spa")),
    "prepaid": ("6540", ("CardStop Prepaid", "QuickLoad Kiosk")),
    "bus": ("4131", ("Greyline Bus Depot", "Express Coach Terminal")),
    "car_rental": ("7512", ("Budget Van Rental", "City Car Hire")),
    "clothing": ("5651", ("Family Outfitters", "Style Mart")),
}
# Card-not-present merchants: (name, mcc, headquarters).
ONLINE = (
    ("StreamFlix", "4899", US_CITIES[16]),
    ("MusicBox", "5815", US_CITIES[18]),
    ("CloudDrive", "5818", US_CITIES[0]),
    ("Mobile Phone Co", "4814", US_CITIES[9]),
)
AIRLINES = (("AirNorth", "4511", CA_CITIES[0]), ("SkyWays", "4511", US_CITIES[3]))
# Online classified-ad sites (no reliable MCC: two under advertising services 7311, one under a
# generic digital-goods code, caught only through the watchlist), a crypto exchange, prepaid
# card sellers, ride-hail and car rental.
AD_SITES = (
    ("NightPages Classifieds", "7311", US_CITIES[15]),
    ("CityVibe Ads", "7311", US_CITIES[16]),
    ("LocalList Online", "5818", US_CITIES[14]),
)
CRYPTO_EXCHANGE = ("CoinKiosk", "6051", US_CITIES[7])
RIDE_HAIL = ("RideNow", "4121", US_CITIES[17])
BUSINESS_MCC = {"nail_salon": "7230", "restaurant": "5812", "spa": "7298"}


def _city_code(city: City) -> int:
    return zlib.crc32(f"{city.name}|{city.region}".encode())


@lru_cache(maxsize=4096)
def merchant(city: City, category: str, i: int) -> Merchant:
    """The i-th merchant of a category in a city; a pure function, so no catalog is stored."""
    mcc, brands = CATEGORIES[category]
    code = _city_code(city)
    return Merchant(
        merchant_id=f"{code % 10**6:06d}{mcc}{i:05d}",
        name=f"{brands[i % len(brands)]} {city.name}",
        mcc=mcc,
        city=city,
        terminal_id=f"T{code % 10**4:04d}{mcc}{i:02d}",
    )


@lru_cache(maxsize=64)
def online_merchant(name: str, mcc: str, hq: City) -> Merchant:
    return Merchant(f"{zlib.crc32(name.encode()) % 10**15:015d}", name, mcc, hq, "")


def _cash_location(inst: Institution, city: City, kind: str) -> dict[str, Any]:
    """ATM, branch or MSB agent: terminal ids stable per institution, city and kind."""
    n = _city_code(city) % 1000
    prefix = {"atm": "ATM", "branch": "BR", "agent": "AGT"}[kind]
    return {
        "city": city.name,
        "region": city.region,
        "country": city.country,
        "terminal_id": f"{prefix}-{inst.id}-{n:03d}",
    }


# --- accounts -------------------------------------------------------------------------------

_MSB_KINDS = frozenset(
    {
        "hard_negative_family_remitter",
        "hard_negative_family_pool",
        "smuggling_shared_identifier",
        "smuggling_common_beneficiary",
    }
)
_US_BANK_KINDS = frozenset(
    {
        "labour_wage_capture",
        "labour_recruiter",
        "labour_shared_identifier",
        "smuggling_structuring",
        "hard_negative_night_nurse",
        "hard_negative_bar_staff",
        "hard_negative_hotel_worker",
    }
)
_BORDER_KINDS = frozenset({"smuggling_cash_wire", "smuggling_structuring", "smuggling_transport"})
_NO_SALARY_KINDS = frozenset({"labour_shared_identifier"})


@dataclass(slots=True)
class Account:
    idx: int
    account_id: str
    customer_id: str
    inst: Institution
    role: str  # consumer | business | msb_customer
    home: City
    account_type: str
    name_hash: str
    phone_hash: str
    email_hash: str | None
    address_hash: str
    device_hash: str
    traits: frozenset[str] = frozenset()
    employer: Party | None = None
    salary: float = 0.0
    pay_phase: int = 0
    rent: float = 0.0
    rent_party: Party | None = None
    rent_day: int = 1
    friends: tuple[Party, ...] = ()
    subs: tuple[tuple[Merchant, float, int], ...] = ()
    has_car: bool = True
    fav: int = 0  # which local merchants this customer frequents
    business: str | None = None
    employees: tuple[tuple[Party, str], ...] = ()  # (employee account, employee name hash)
    acquirer: Party | None = None
    deposit_weekday: int = 1
    remit_country: str = "MX"
    recipient: Party | None = None
    remit_gap: tuple[int, int] = (8, 30)
    remit_amount: tuple[float, float] = (100.0, 900.0)
    next_remit: int = 0
    next_special: int = 0
    territory: tuple[City, ...] = ()
    trip_city: City | None = None
    trip_until: int = -1
    road_city: City | None = None


@dataclass(slots=True)
class _Day:
    index: int
    start: int  # UTC ms of the day's first instant
    epoch_day: int
    weekday: int  # Monday = 0
    dom: int
    offsets: dict[City, int] = field(default_factory=dict)


def _money(rng: random.Random, lo: float, hi: float) -> int:
    return int(round(rng.uniform(lo, hi) * 100))


def _spend(rng: random.Random, median: float, lo: float, hi: float) -> int:
    """Skewed purchase amount: most small, a few large, as card spending is."""
    value = median * rng.lognormvariate(0.0, 0.55)
    return int(round(min(hi, max(lo, value)) * 100))


REMIT_COUNTRIES = ("MX", "GT", "IN", "PH")
REMIT_WEIGHTS = _cum([0.45, 0.2, 0.2, 0.15])
SMUGGLING_CORRIDORS = ("MX", "GT", "HN")
PAYOUT_BANKS = {
    "MX": "BNMXMXMM", "GT": "BAGUGTGC", "HN": "BMILHNTE", "SV": "CUSCSVSS",
    "IN": "SBININBB", "PH": "BNORPHMM",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Watchlists:
    """The watchlist entries the simulated world's scenarios use.

    The watchlist detectors (ad sites, unlicensed recruiters, dark-web wallets, identifiers
    seen in ads) read their lists from the rule set (or the intel feed), empty by default. The
    simulated world invents its own ad sites, recruiters and wallets; :func:`rules_overlay`
    writes them into a rule set so a backtest can see what an institution with that
    intelligence would see. Values are what the events carry: merchant ids in clear, the rest
    keyed hashes under the run's key.
    """

    ad_site_merchant_ids: tuple[str, ...]
    recruiters: tuple[str, ...]
    dark_web_wallets: tuple[str, ...]
    intel_identifiers: tuple[str, ...]

    def as_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class Simulation:
    events: Iterator[dict]
    truth: list[ScenarioTruth]
    watchlists: Watchlists


class _World:
    """All accounts and the injected scenario events of one run."""

    def __init__(
        self,
        seed: int,
        accounts: int,
        days: float,
        start_ms: int,
        key: str,
        scenarios: int | None,
        groups: int | None = None,
    ) -> None:
        if accounts < 1:
            raise ValueError("accounts must be at least 1")
        if days <= 0:
            raise ValueError("days must be positive")
        self.seed, self.key = seed, key
        self.start, self.end = start_ms, start_ms + int(days * DAY_MS)
        self.ndays = -(-(self.end - self.start) // DAY_MS)
        rng = random.Random(f"chainbreaker-sim:{seed}:world")
        # Friends paid by P2P: the pool grows with the population, so a person is a friend of
        # about as many customers at 50,000 accounts as at 2,000 (a fixed pool would have each
        # of them paid by hundreds, a collector's shape).
        n_people = max(400, accounts // 10)
        self.people = [self._party(f"person:{i}", "p2p-net-01", "US") for i in range(n_people)]
        self.people_ca = [
            self._party(f"person-ca:{i}", "interac-ca", "CA") for i in range(n_people // 2)
        ]
        self.employers = [self._party(f"employer:{i}", "021000021", "US") for i in range(120)]
        self.employers_ca = [self._party(f"employer-ca:{i}", "CC0010", "CA") for i in range(60)]
        self.landlords = [self._party(f"landlord:{i}", "026009593", "US") for i in range(150)]
        self.acquirers = [self._party(f"acquirer:{i}", "acq-network", "US") for i in range(3)]
        # Watchlisted parties: unlicensed recruiters (their accounts, as counterparties) and
        # dark-web market wallets. Ad sites are merchants (AD_SITES).
        self.recruiters = [self._party(f"recruiter:{i}", "026013673", "US") for i in range(6)]
        self.dark_wallets = [self._hash(f"wallet:{seed}:darkweb:{i}") for i in range(4)]
        self.tax_agency = self._party("tax-agency", "021030004", "US")
        self.intel: list[str] = []  # holder identifiers seen in ads (filled by the scenarios)

        n_scen = max(3, accounts // 500) if scenarios is None else max(0, scenarios)
        n_neg = max(4, n_scen) if n_scen else 0
        n_scen = min(n_scen, accounts)
        n_neg = min(n_neg, accounts - n_scen)
        if groups is None:  # groups need a week to show (paydays, instalments)
            groups = n_scen // 8 if self.end - self.start >= 7 * DAY_MS else 0
        group_plans = self._group_plans(max(0, groups))
        if n_scen + n_neg + sum(size for _, _, size in group_plans) > accounts:
            group_plans = []  # too few accounts: single-account scenarios only
        n_group_accts = sum(size for _, _, size in group_plans)
        special = rng.sample(range(accounts), n_scen + n_neg + n_group_accts)
        plans: dict[int, tuple[str, str]] = {}
        for i, idx in enumerate(special[:n_scen]):
            typ = TYPOLOGIES[i % 3]
            plans[idx] = (typ, self._variant(typ, i // 3))
        for i, idx in enumerate(special[n_scen : n_scen + n_neg]):
            plans[idx] = ("NONE", NEGATIVE_KINDS[i % len(NEGATIVE_KINDS)])
        members: list[list[int]] = []
        pos = n_scen + n_neg
        for typ, kind, size in group_plans:
            members.append(special[pos : pos + size])
            for idx in members[-1]:
                plans[idx] = (typ, kind)
            pos += size

        self.accounts = [self._account(i, rng, plans.get(i, ("", ""))[1]) for i in range(accounts)]
        self.overlay: dict[int, list[tuple[int, dict]]] = {}
        self.truth: list[ScenarioTruth] = []
        n = 0
        for idx in special[: n_scen + n_neg]:
            typ, kind = plans[idx]
            acct = self.accounts[idx]
            srng = random.Random(f"chainbreaker-sim:{seed}:scenario:{idx}")
            lo, hi = self._scenario_window()
            events = SCENARIO_BUILDERS[kind](self, acct, srng, lo, hi) if typ != "NONE" else []
            self._add(f"scn-{seed}-{n:04d}", typ, kind, [acct], events)
            n += 1
        for (typ, kind, _), idxs in zip(group_plans, members, strict=True):
            accts = [self.accounts[i] for i in idxs]
            grng = random.Random(f"chainbreaker-sim:{seed}:group:{idxs[0]}")
            lo, hi = self._scenario_window()
            events = GROUP_BUILDERS[kind](self, accts, grng, lo, hi)
            self._add(f"scn-{seed}-{n:04d}", typ, kind, accts, events)
            n += 1
        self.truth.sort(key=lambda s: (s.scenario_id, s.account_id))

    def _group_plans(self, n_groups: int) -> list[tuple[str, str, int]]:
        """(typology, kind, size) of each multi-account scenario and look-alike group."""
        rng = random.Random(f"chainbreaker-sim:{self.seed}:group-plans")
        kinds = tuple(GROUP_KINDS)
        plans = []
        for g in range(n_groups):
            kind = kinds[g % len(kinds)]
            size = (
                rng.randint(5, 8) if kind == "smuggling_common_beneficiary" else rng.randint(3, 5)
            )
            plans.append((GROUP_KINDS[kind], kind, size))
        for g in range(n_groups):
            kind = NEGATIVE_GROUP_KINDS[g % len(NEGATIVE_GROUP_KINDS)]
            plans.append(("NONE", kind, 2 if kind == "hard_negative_couple" else rng.randint(2, 4)))
        return plans

    def _variant(self, typology: str, n: int) -> str:
        """The n-th scenario of a typology: classic first, then the variants in turn."""
        kinds = SCENARIO_VARIANTS[typology]
        kind = kinds[n % len(kinds)]
        span_days = (self.end - self.start) / DAY_MS
        if kind != kinds[0] and span_days < MIN_DAYS.get(kind, 7):
            return kinds[0]
        return kind

    def _add(
        self, scenario_id: str, typ: str, kind: str, accts: list[Account], events: list
    ) -> None:
        """File the scenario's events by day and label each of its accounts."""
        times: dict[str, list[int]] = {a.account_id: [] for a in accts}
        for t, rec in events:
            if self.start <= t < self.end:
                self.overlay.setdefault((t - self.start) // DAY_MS, []).append((t, rec))
                times[rec["account_id"]].append(t)
        for a in accts:
            ts = times[a.account_id]
            self.truth.append(
                ScenarioTruth(
                    account_id=a.account_id,
                    institution_id=a.inst.id,
                    scenario_id=scenario_id,
                    typology=typ,
                    kind=kind,
                    start_ms=min(ts) if ts else self.start,
                    end_ms=max(ts) if ts else self.end,
                )
            )

    def watchlists(self) -> Watchlists:
        return Watchlists(
            ad_site_merchant_ids=tuple(online_merchant(*s).merchant_id for s in AD_SITES),
            recruiters=tuple(sorted(str(r.account_id) for r in self.recruiters)),
            dark_web_wallets=tuple(self.dark_wallets),
            intel_identifiers=tuple(sorted(set(self.intel))),
        )

    # -- construction --

    def _hash(self, value: str) -> str:
        return keyed_hash(self.key, value)

    def _party(self, label: str, institution: str, country: str) -> Party:
        return Party(
            self._hash(f"acct:{self.seed}:{label}"),
            institution,
            country,
            self._hash(f"name:{self.seed}:{label}"),
        )

    def _scenario_window(self) -> tuple[int, int]:
        """Where a scenario may put events: inside the run, clear of its edges when possible."""
        margin = min(DAY_MS, (self.end - self.start) // 10)
        return self.start + margin, self.end - margin

    def _account(self, idx: int, rng: random.Random, kind: str) -> Account:
        r = rng.random()
        if kind in _MSB_KINDS:
            inst, role = MSB_US, "msb_customer"
        elif kind in ("smuggling_cash_wire", "smuggling_transport"):
            inst, role = (MSB_US, "msb_customer") if rng.random() < 0.6 else (BANK_US, "consumer")
        elif kind in _US_BANK_KINDS:
            inst, role = BANK_US, "consumer"
        elif kind in ("labour_front_business", "hard_negative_salon"):
            inst, role = BANK_US, "business"
        elif kind:
            inst, role = (BANK_US if rng.random() < 0.7 else CU_CA), "consumer"
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
        home = rng.choice(BORDER_CITIES if kind in _BORDER_KINDS else cities)
        label = f"{self.seed}:{idx}"
        acct = Account(
            idx=idx,
            account_id=f"acc-{self.seed}-{idx:07d}",
            customer_id=f"cus-{self.seed}-{idx:07d}",
            inst=inst,
            role=role,
            home=home,
            account_type="BUSINESS" if role == "business" else "PERSONAL",
            name_hash=self._hash(f"name:{label}"),
            phone_hash=self._hash(f"+1{rng.randrange(2_000_000_000, 9_999_999_999)}"),
            email_hash=self._hash(f"user{idx}.{self.seed}@example.org")
            if rng.random() < 0.85
            else None,
            address_hash=self._hash(f"{rng.randrange(1, 9999)} {home.name} {label}"),
            device_hash=self._hash(f"device:{label}"),
            traits=frozenset({kind}) if kind else frozenset(),
            pay_phase=rng.randrange(2),
            rent_day=rng.randint(1, 5),
            has_car=rng.random() < 0.8,
            fav=rng.randrange(4),
        )
        ca = inst.country == "CA"
        if role == "consumer":
            employers = self.employers_ca if ca else self.employers
            if kind in _NO_SALARY_KINDS:
                pass  # paid by the scenario, or not at all
            elif not kind.startswith("sex_ring") or rng.random() < 0.5:
                acct.employer = rng.choice(employers)
                acct.salary = rng.uniform(1100, 3800)
            acct.rent = rng.uniform(900, 2600)
            acct.rent_party = rng.choice(self.landlords)
            pool = self.people_ca if ca else self.people
            acct.friends = tuple(rng.sample(pool, 4))
            subs = rng.sample(ONLINE, rng.randint(1, 3))
            acct.subs = tuple(
                (online_merchant(*s), rng.uniform(6, 25), rng.randint(1, 28)) for s in subs
            )
            if kind == "hard_negative_salesperson":
                others = [c for c in cities if c.region != home.region]
                acct.territory = tuple(rng.sample(others, 2))
            elif kind == "hard_negative_night_nurse":
                acct.next_special = rng.randint(0, 3)
        elif role == "business":
            acct.business = rng.choice(tuple(BUSINESS_MCC))
            if kind in ("labour_front_business", "hard_negative_salon"):
                acct.business = rng.choice(("nail_salon", "spa"))
            acct.acquirer = rng.choice(self.acquirers)
            acct.deposit_weekday = rng.randrange(6)
            acct.rent = rng.uniform(2500, 9000)
            acct.rent_party = rng.choice(self.landlords)
            acct.employees = tuple(
                (
                    self._party(f"employee:{idx}:{j}", inst.id, inst.country),
                    self._hash(f"worker:{label}:{j}"),
                )
                for j in range(rng.randint(2, 8))
            )
            if kind == "labour_front_business":
                acct.employees = ()  # nobody on the books
        else:
            acct.remit_country = REMIT_COUNTRIES[
                rng.choices(range(len(REMIT_COUNTRIES)), cum_weights=REMIT_WEIGHTS)[0]
            ]
            if kind in ("hard_negative_family_remitter", "hard_negative_family_pool"):
                acct.remit_country = rng.choice(SMUGGLING_CORRIDORS + ("SV",))
                acct.remit_gap, acct.remit_amount = (28, 31), (550.0, 1600.0)
                acct.next_remit = rng.randint(0, max(0, min(10, self.ndays - 2)))
            else:
                acct.next_remit = rng.randint(0, 25)
            acct.recipient = self._party(
                f"recipient:{idx}", PAYOUT_BANKS[acct.remit_country], acct.remit_country
            )
        return acct

    # -- record building --

    def rec(
        self,
        a: Account,
        t: int,
        offset: int,
        direction: str,
        channel: str,
        amount_minor: int,
        merchant_rec: dict | None = None,
        counterparty: dict | None = None,
        location: dict | None = None,
        purpose: str | None = None,
        payroll: bool = False,
        online: bool = False,
        passengers: Sequence[str] = (),
    ) -> tuple[int, dict]:
        return t, {
            "event_id": "",
            "event_time": t,
            "utc_offset_minutes": offset,
            "institution_id": a.inst.id,
            "account_id": a.account_id,
            "customer_id": a.customer_id,
            "account_type": a.account_type,
            "direction": direction,
            "channel": channel,
            "amount_minor": max(1, amount_minor),
            "currency": a.inst.currency,
            "merchant": merchant_rec,
            "counterparty": counterparty,
            "location": location,
            "purpose": purpose,
            "payroll": payroll,
            "holder_phone_hash": a.phone_hash,
            "holder_email_hash": a.email_hash,
            "holder_address_hash": a.address_hash,
            "device_hash": a.device_hash if online else None,
            "wallet_address_hash": None,
            "passenger_name_hashes": list(passengers),
        }

    def card(self, a: Account, t: int, off: int, m: Merchant, amount: int) -> tuple[int, dict]:
        return self.rec(a, t, off, "DEBIT", "CARD_PRESENT", amount, m.record(), None, m.location())

    def cash(
        self, a: Account, t: int, off: int, city: City, direction: str, amount: int, kind: str = ""
    ) -> tuple[int, dict]:
        """ATM at banks, teller or agent counter otherwise (MSBs have no ATMs)."""
        if not kind:
            kind = "atm" if a.inst.bank else "agent"
        if kind == "atm":
            channel = "ATM"
        else:
            channel = "CASH_DEPOSIT" if direction == "CREDIT" else "CASH_WITHDRAWAL"
        return self.rec(
            a, t, off, direction, channel, amount, None, None, _cash_location(a.inst, city, kind)
        )

    def transfer_out(
        self, a: Account, t: int, off: int, party: Party, amount: int, channel: str
    ) -> tuple[int, dict]:
        loc = (
            _cash_location(a.inst, a.home, "agent")
            if channel == "REMITTANCE" and not a.inst.bank
            else None
        )
        return self.rec(
            a, t, off, "DEBIT", channel, amount, None, party.record(), loc, online=loc is None
        )

    # -- background traffic --

    def stream(self) -> Iterator[dict]:
        """Day by day: only one day of events (plus what spills past midnight) is in memory."""
        n = 0
        carry: list[tuple[int, dict]] = []
        for d in range(self.ndays):
            start = self.start + d * DAY_MS
            epoch_day = (start + 12 * HOUR_MS) // DAY_MS
            day = _Day(
                index=d,
                start=start,
                epoch_day=epoch_day,
                weekday=(epoch_day + 3) % 7,
                dom=date.fromordinal(epoch_day + _EPOCH_ORDINAL).day,
                offsets={c: utc_offset(c, start + 12 * HOUR_MS) for c in ALL_CITIES},
            )
            rng = random.Random(f"chainbreaker-sim:{self.seed}:day:{d}")
            out, carry = carry, []
            for acct in self.accounts:
                ROLE_DAY[acct.role](self, acct, day, rng, out)
            out.extend(self.overlay.pop(d, ()))
            out.sort(key=itemgetter(0))  # stable: ties keep generation order, so output is too
            cut = (
                len(out)
                if d == self.ndays - 1
                else bisect_left(out, start + DAY_MS, key=itemgetter(0))
            )
            carry = out[cut:]  # later days only ever add events at or after their own start
            for t, rec in islice(out, cut):
                if self.start <= t < self.end:
                    rec["event_id"] = f"sim-{self.seed}-{n}"
                    n += 1
                    yield rec

    def consumer_day(self, a: Account, day: _Day, rng: random.Random, out: list) -> None:
        home, traits = a.home, a.traits
        off = day.offsets[home]
        rnd = rng.random
        if a.employer is not None and day.weekday == 4 and (day.epoch_day // 7 + a.pay_phase) % 2:
            t = _at_hour(rng, day.start, off, rng.choice(ACH_HOURS))
            amount = int(a.salary * rng.uniform(0.97, 1.03) * 100)
            cp = a.employer.record(ultimate=a.name_hash)
            out.append(self.rec(a, t, off, "CREDIT", "ACH", amount, None, cp, None, "SALA", True))
        if day.dom == a.rent_day and a.rent_party is not None:
            t = _at_hour(rng, day.start, off, rng.choice(ACH_HOURS))
            cp = a.rent_party.record()
            out.append(
                self.rec(
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
                t = _at_hour(rng, day.start, off, rng.choice(ACH_HOURS))
                out.append(
                    self.rec(
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
        if "hard_negative_trucker" in traits and day.weekday < 5:
            where = self._trucker_day(a, day, rng, out)
        elif "hard_negative_salesperson" in traits and day.weekday < 4:
            where = self._salesperson_day(a, day, rng, out)
        elif a.trip_until > day.index and a.trip_city is not None:
            where = a.trip_city
        elif not traits and rnd() < 0.012:
            self._start_trip(a, day, rng, out)
            where = a.trip_city or home
        woff = day.offsets[where]

        def shop(category: str, median: float, lo: float, hi: float, city: City = where) -> None:
            t = _at_hour(rng, day.start, woff, rng.choices(_HOURS, cum_weights=SHOPPING_HOURS)[0])
            m = merchant(city, category, (a.fav + rng.randrange(2)) % 4)
            out.append(self.card(a, t, woff, m, _spend(rng, median, lo, hi)))

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
                rng.choice(DAY_HOURS) if day_only else rng.choices(_HOURS, cum_weights=ATM_HOURS)[0]
            )
            t = _at_hour(rng, day.start, woff, hour)
            amount = rng.choice((40, 60, 80, 100, 120, 160, 200, 300)) * 100
            out.append(self.cash(a, t, woff, where, "DEBIT", amount, "atm"))
        if rnd() < 0.05 and a.friends:
            t = _at_hour(rng, day.start, off, rng.choices(_HOURS, cum_weights=SHOPPING_HOURS)[0])
            cp = rng.choice(a.friends).record()
            amount = _spend(rng, 35, 5, 150)
            out.append(self.rec(a, t, off, "DEBIT", "P2P", amount, None, cp, online=True))
        if rnd() < 0.035 and a.friends:
            t = _at_hour(rng, day.start, off, rng.choices(_HOURS, cum_weights=SHOPPING_HOURS)[0])
            cp = rng.choice(a.friends).record()
            amount = _spend(rng, 35, 5, 150)
            out.append(self.rec(a, t, off, "CREDIT", "P2P", amount, None, cp, online=True))
        if traits & _NIGHT_WORKERS:
            self._night_worker_day(a, day, rng, out)
        if "hard_negative_night_nurse" in traits and day.index >= a.next_special:
            # At most one night withdrawal every 4+ days: never three in a week.
            a.next_special = day.index + rng.randint(4, 9)
            t = _at_hour(rng, day.start, off, rng.choice((22, 23, 0, 1, 2, 3)))
            amount = rng.choice((40, 60, 80, 100)) * 100
            out.append(self.cash(a, t, off, home, "DEBIT", amount, "atm"))

    def _night_worker_day(self, a: Account, day: _Day, rng: random.Random, out: list) -> None:
        """Bar staff and hotel night auditors: the look-alikes of the after-hours indicators.

        Bar staff often have a drink or a bite at a bar after a late shift and bank their tips;
        night auditors take a cab home at dawn and buy the odd prepaid gift card. Each habit
        can reach one indicator's threshold in a busy week (a bar at 01:00 three times is
        AFTER_HOURS_ADULT_SERVICES), never two of the same typology: cash stays at most one
        night withdrawal a week, rides under the burst count, prepaid loads at one a week.
        """
        off = day.offsets[a.home]
        if "hard_negative_bar_staff" in a.traits:
            if day.weekday in (3, 4, 5) and rng.random() < 0.6:  # after the Thu-Sat shifts
                t = _at_hour(rng, day.start, off, rng.choice((1, 2)))
                m = merchant(a.home, "bar", a.fav % 3)
                out.append(self.card(a, t, off, m, _spend(rng, 22, 6, 80)))
            if day.weekday == 6:  # the week's tips banked on Sunday afternoon
                t = _at_hour(rng, day.start, off, rng.choice((13, 14, 15, 16)))
                out.append(self.cash(a, t, off, a.home, "CREDIT", _money(rng, 180, 650), "atm"))
            if day.weekday == 5 and rng.random() < 0.5:  # one ride home a week, at most
                t = _at_hour(rng, day.start, off, 3)
                out.append(self._ride(a, t, off, _money(rng, 9, 28)))
            return
        if day.weekday < 5 and rng.random() < 0.5:  # hotel night auditor: a cab home at 07:00
            t = _at_hour(rng, day.start, off, 7)
            out.append(self._ride(a, t, off, _money(rng, 11, 30)))
        if day.weekday == 2:
            t = _at_hour(rng, day.start, off, rng.choice(DAY_HOURS))
            m = merchant(a.home, "prepaid", a.fav % 2)
            out.append(self.card(a, t, off, m, rng.choice((25, 50, 100)) * 100))
        if day.weekday == 0 and rng.random() < 0.7:  # after the Sunday night shift
            t = _at_hour(rng, day.start, off, rng.choice((6, 7)))  # 06:00 is day, by the rule
            amount = rng.choice((40, 60, 80, 100)) * 100
            out.append(self.cash(a, t, off, a.home, "DEBIT", amount, "atm"))

    def _ride(self, a: Account, t: int, off: int, amount: int) -> tuple[int, dict]:
        m = online_merchant(*RIDE_HAIL).record()
        return self.rec(a, t, off, "DEBIT", "CARD_NOT_PRESENT", amount, m, online=True)

    def _start_trip(self, a: Account, day: _Day, rng: random.Random, out: list) -> None:
        cities = [c for c in CITIES[a.inst.country] if c != a.home]
        city = rng.choice(cities)
        nights = rng.randint(1, 4)
        a.trip_city, a.trip_until = city, day.index + nights + 1
        off = day.offsets[city]
        if rng.random() < 0.5:
            name, mcc, hq = rng.choice(AIRLINES)
            t = _at_hour(rng, day.start, day.offsets[a.home], rng.choice((6, 7, 8)))
            rec = online_merchant(name, mcc, hq).record()
            amount = _money(rng, 140, 650)
            out.append(
                self.rec(a, t, day.offsets[a.home], "DEBIT", "CARD_NOT_PRESENT", amount, rec,
                         online=True, passengers=[a.name_hash])
            )  # fmt: skip
        t = _at_hour(rng, day.start, off, rng.choice((14, 15, 16, 17, 18, 19)))
        m = merchant(city, "hotel", rng.randrange(4))
        out.append(self.card(a, t, off, m, _money(rng, 110, 260) * nights))

    def _salesperson_day(self, a: Account, day: _Day, rng: random.Random, out: list) -> City:
        """Mon-Tue in one territory city, Wed-Thu in the other: two hotel cities every week."""
        city = a.territory[0] if day.weekday < 2 else a.territory[1]
        if day.weekday == 0 and rng.random() < 0.5:  # the week's flights, booked online
            name, mcc, hq = rng.choice(AIRLINES)
            t = _at_hour(rng, day.start, day.offsets[a.home], rng.choice((5, 6)))
            rec = online_merchant(name, mcc, hq).record()
            for _ in range(2):
                out.append(
                    self.rec(a, t, day.offsets[a.home], "DEBIT", "CARD_NOT_PRESENT",
                             _money(rng, 120, 420), rec, online=True, passengers=[a.name_hash])
                )  # fmt: skip
                t += rng.randrange(MIN_MS, 10 * MIN_MS)
        if day.weekday in (0, 2):
            off = day.offsets[city]
            t = _at_hour(rng, day.start, off, rng.choice((15, 16, 17, 18)))
            nights = 2 if day.weekday == 0 else 1
            m = merchant(city, "hotel", a.fav)
            out.append(self.card(a, t, off, m, _money(rng, 120, 190) * nights))
        return city

    def _trucker_day(self, a: Account, day: _Day, rng: random.Random, out: list) -> City:
        """A new city every night and fuel at any hour: many hotel cities, no cash at night."""
        choices = [c for c in CITIES[a.inst.country] if c not in (a.road_city, a.home)]
        city = a.road_city = rng.choice(choices)
        off = day.offsets[city]
        for _ in range(rng.randint(1, 2)):
            t = _at_hour(rng, day.start, off, rng.randrange(24))
            out.append(
                self.card(
                    a, t, off, merchant(city, "truck_stop", rng.randrange(2)), _money(rng, 180, 620)
                )
            )
        if day.weekday < 4:
            t = _at_hour(rng, day.start, off, rng.choice((19, 20, 21)))
            out.append(self.card(a, t, off, merchant(city, "hotel", 3), _money(rng, 55, 95)))
        return city

    def business_day(self, a: Account, day: _Day, rng: random.Random, out: list) -> None:
        off = day.offsets[a.home]
        scale = {"nail_salon": 0.6, "restaurant": 1.6, "spa": 1.0}[a.business or "spa"]
        if day.weekday != 6 and a.acquirer is not None:
            t = _at_hour(rng, day.start, off, rng.choice(ACH_HOURS))
            amount = _money(rng, 350, 2200) * scale
            out.append(self.rec(a, t, off, "CREDIT", "ACH", int(amount), None, a.acquirer.record()))
        if day.weekday == a.deposit_weekday:
            t = _at_hour(rng, day.start, off, rng.choice(BUSINESS_HOURS))
            amount = int(_money(rng, 300, 1500) * scale)
            out.append(self.cash(a, t, off, a.home, "CREDIT", amount, "branch"))
        if day.weekday == 4 and (day.epoch_day // 7 + a.pay_phase) % 2:
            t = _at_hour(rng, day.start, off, rng.choice((6, 7)))
            for party, worker in a.employees:
                amount = _money(rng, 650, 1900)
                cp = party.record(ultimate=worker)
                out.append(
                    self.rec(
                        a, t, off, "DEBIT", "ACH", amount, None, cp, None, "PAYR", True, online=True
                    )
                )
        if day.dom == 15 and "hard_negative_salon" in a.traits:  # monthly payroll tax deposit
            t = _at_hour(rng, day.start, off, rng.choice(BUSINESS_HOURS))
            cp = self.tax_agency.record()
            amount = _money(rng, 400, 1500)
            out.append(
                self.rec(a, t, off, "DEBIT", "ACH", amount, None, cp, None, "TAXS", online=True)
            )
        if day.weekday < 6 and rng.random() < 0.25:
            t = _at_hour(rng, day.start, off, rng.choice(BUSINESS_HOURS))
            m = merchant(a.home, "supplies", a.fav % 3)
            out.append(self.card(a, t, off, m, _spend(rng, 160, 20, 1400)))
        if day.dom == a.rent_day and a.rent_party is not None:
            t = _at_hour(rng, day.start, off, rng.choice(ACH_HOURS))
            out.append(
                self.rec(
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

    def msb_day(self, a: Account, day: _Day, rng: random.Random, out: list) -> None:
        """Walk-in remittances: cash in at the agent counter, sent abroad minutes later."""
        if day.index < a.next_remit or a.recipient is None:
            return
        a.next_remit = day.index + rng.randint(*a.remit_gap)
        off = day.offsets[a.home]
        t = _at_hour(rng, day.start, off, rng.choice(tuple(range(9, 20))))
        amount = _money(rng, *a.remit_amount)
        fee = _money(rng, 4, 12)
        out.append(self.cash(a, t, off, a.home, "CREDIT", amount + fee, "agent"))
        t2 = t + rng.randint(3, 40) * MIN_MS
        out.append(self.transfer_out(a, t2, off, a.recipient, amount, "REMITTANCE"))


_NIGHT_WORKERS = frozenset({"hard_negative_bar_staff", "hard_negative_hotel_worker"})

ROLE_DAY: dict[str, Callable[[_World, Account, _Day, random.Random, list], None]] = {
    "consumer": _World.consumer_day,
    "business": _World.business_day,
    "msb_customer": _World.msb_day,
}


# --- injected scenarios -----------------------------------------------------------------------
# Each builder returns the scenario's extra events for one account. They are built so that the
# default rule set must alert (at least two indicators of the typology, summed weight >= 1.0,
# all inside one 7-day window); the seed varies counts, amounts, cities and timing.


def _distinct_regions(rng: random.Random, cities: Sequence[City], k: int) -> list[City]:
    by_region: dict[str, list[City]] = {}
    for c in cities:
        by_region.setdefault(c.region, []).append(c)
    regions = rng.sample(sorted(by_region), min(k, len(by_region)))
    return [rng.choice(by_region[r]) for r in regions]


def _episode_starts(rng: random.Random, lo: int, hi: int, length: int, gap: int) -> list[int]:
    """One or two episode start times that fit [lo, hi); the second only if there is room."""
    room = hi - lo - length
    if room <= 0:
        return [lo]
    first = lo + rng.randrange(0, max(1, min(room, 4 * DAY_MS)))
    starts = [first]
    second = first + length + gap
    if second + length <= hi and rng.random() < 0.6:
        starts.append(second + rng.randrange(0, max(1, min(hi - second - length, 3 * DAY_MS))))
    return starts


def _in_window(rng: random.Random, t_from: int, t_to: int, off: int, hours: Sequence[int]) -> int:
    """A time in one of ``hours`` local if [t_from, t_to) has one; else anywhere in the window.

    Short runs compress scenarios into less than a day per step; keeping every event inside
    its step matters more there than the hour of day.
    """
    t = _at_hour(rng, t_from, off, rng.choice(hours))
    if t < t_to:
        return t
    return rng.randrange(t_from, max(t_from + 1, t_to))


def _sex_ring(
    w: _World, a: Account, rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
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
    for ep, t0 in enumerate(_episode_starts(rng, lo, hi, length, 8 * DAY_MS)):
        drop = rng.choice((None,) * 6 + ("hotel", "night", "p2p", "funnel"))
        cities = _distinct_regions(rng, CITIES[a.inst.country], rng.randint(3, min(5, total)))
        nights = [1] * len(cities)
        for _ in range(total - len(cities)):
            nights[rng.randrange(len(cities))] += 1
        arrive = t0
        if aligned:
            arrive = _at_hour(rng, t0, utc_offset(cities[0], t0), rng.choice((12, 13, 14, 15)))
        first_t = last = arrive  # last: time of the latest cash event, to keep their order
        for j, city in enumerate(cities):
            off = utc_offset(city, arrive)
            settle = max(1, min(2 * HOUR_MS, per_night // 4))
            if drop != "hotel":
                t = arrive + rng.randrange(settle)
                m = merchant(city, "hotel", rng.randrange(4))
                events.append(w.card(a, t, off, m, int(_money(rng, 60, 140) * usd) * nights[j]))
            if drop != "funnel" and j >= 2:
                last = max(arrive + rng.randrange(settle), last + MIN_MS)
                amount = rng.choice((200, 300, 400, 500, 600)) * 100
                events.append(w.cash(a, last, off, city, "DEBIT", amount, "atm"))
            for n in range(nights[j]):
                night = arrive + n * per_night
                hours = (9, 10, 11) if drop == "night" else NIGHT_HOURS
                start = max(night + min(HOUR_MS, per_night // 8), last + MIN_MS)
                last = _in_window(rng, start, night + per_night, off, hours)
                events.append(w.cash(a, last, off, city, "CREDIT", _money(rng, 150, 850), "atm"))
            arrive = max(arrive + nights[j] * per_night, last + MIN_MS)
        if drop != "p2p":
            n_pay = rng.randint(12, 28)
            payers = [
                w._party(f"payer:{a.idx}:{ep}:{i}", "p2p-net-01", a.inst.country)
                for i in range(rng.randint(6, min(18, n_pay)))
            ]
            off = utc_offset(cities[0], first_t)
            for i in range(n_pay):
                t = rng.randint(first_t, arrive)
                payer = payers[i] if i < len(payers) else rng.choice(payers)
                amount = int(_money(rng, 25, 95) * usd)
                events.append(
                    w.rec(a, t, off, "CREDIT", "P2P", amount, None, payer.record(), online=True)
                )
    return events


def _labour(w: _World, a: Account, rng: random.Random, lo: int, hi: int) -> list[tuple[int, dict]]:
    """Wages of several workers land in one account; most of it leaves just under $3,000."""
    events: list[tuple[int, dict]] = []
    employer = rng.choice(w.employers)
    roster = [w._hash(f"worker:{w.seed}:{a.idx}:{j}") for j in range(rng.randint(4, 9))]
    recipients = [
        w._party(f"lab-recipient:{a.idx}:{j}", PAYOUT_BANKS[c], c)
        for j, c in enumerate(rng.sample(("MX", "GT", "HN", "IN", "PH"), 3))
    ]
    aligned = hi - lo >= 6 * DAY_MS
    period = rng.choice((7, 14)) * DAY_MS
    payday = lo + (rng.randrange(max(1, min(hi - lo - 6 * DAY_MS, 3 * DAY_MS))) if aligned else 0)
    off = utc_offset(a.home, payday)
    cycle = 0
    while cycle == 0 or payday + 6 * DAY_MS <= hi:
        t_pay = _at_hour(rng, payday, off, rng.choice(ACH_HOURS)) if aligned else payday
        for worker in rng.sample(roster, rng.randint(3, len(roster))):
            amount = _money(rng, 560, 1300)
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
                t = _in_window(rng, t, t + 14 * HOUR_MS, off, DAY_HOURS)
            channel = "WIRE" if rng.random() < 0.7 else "REMITTANCE"
            amount = _money(rng, 2705, 2995)
            events.append(w.transfer_out(a, t, off, rng.choice(recipients), amount, channel))
        payday += period
        cycle += 1
    return events


def _smuggling(
    w: _World, a: Account, rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """Cash fees in, wired to the corridor within hours, kept under the $3,000 MSB limit.

    A third of the cells also collect in a second state and withdraw in a third (funnel).
    """
    events: list[tuple[int, dict]] = []
    aligned = hi - lo >= 7 * DAY_MS
    span = int(rng.uniform(3, 5) * DAY_MS) if aligned else max(HOUR_MS, (hi - lo) * 2 // 3)
    recipients = [
        w._party(f"smg-recipient:{a.idx}:{j}", PAYOUT_BANKS[c], c)
        for j, c in enumerate(rng.choices(SMUGGLING_CORRIDORS, k=rng.randint(2, 4)))
    ]
    out_channel = "WIRE" if a.inst.bank else "REMITTANCE"
    others = [c for c in US_CITIES if c.region != a.home.region]
    slack = 2 * DAY_MS if aligned else 0
    for t0 in _episode_starts(rng, lo, hi, span + slack, 8 * DAY_MS):
        funnel = rng.random() < 0.35
        second = _distinct_regions(rng, others, 1)[0]
        rounds = rng.randint(3, 5)
        step = span // rounds
        last = t0
        for i in range(rounds):
            city = second if funnel and i % 2 else a.home
            base = t0 + i * step
            off = utc_offset(city, base)
            if aligned:
                base = _in_window(rng, base, base + DAY_MS, off, (9, 10, 11, 12))
            t = max(base, last + MIN_MS)
            for n in range(rng.randint(1, 3)):
                t += rng.randrange(15 * MIN_MS, 80 * MIN_MS) if aligned else n * (step // 10)
                kind = "branch" if a.inst.bank and rng.random() < 0.6 else ""
                events.append(w.cash(a, t, off, city, "CREDIT", _money(rng, 900, 4500), kind))
            last = t + (rng.randrange(HOUR_MS, 6 * HOUR_MS) if aligned else step // 3)
            home_off = utc_offset(a.home, last)
            amount = _money(rng, 2705, 2995)
            events.append(
                w.transfer_out(a, last, home_off, rng.choice(recipients), amount, out_channel)
            )
        if funnel and a.inst.bank:
            third = _distinct_regions(rng, [c for c in others if c.region != second.region], 1)[0]
            t = last + (rng.randrange(2 * HOUR_MS, 20 * HOUR_MS) if aligned else MIN_MS)
            amount = rng.choice((300, 400, 500)) * 100
            events.append(w.cash(a, t, utc_offset(third, t), third, "DEBIT", amount, "atm"))
    return events


def _episode(rng: random.Random, lo: int, hi: int, length: int) -> int:
    """Start of one episode of ``length`` inside [lo, hi): early enough to finish in the run."""
    room = hi - lo - length
    return lo + (rng.randrange(0, min(room, 10 * DAY_MS)) if room > 0 else 0)


def _times(rng: random.Random, t0: int, span: int, n: int, off: int, hours: Sequence[int]) -> list:
    """``n`` sorted times in [t0, t0 + span), each at one of ``hours`` local where possible."""
    out = []
    for _ in range(n):
        t = t0 + rng.randrange(max(1, span - HOUR_MS))
        out.append(_in_window(rng, t, t0 + span, off, hours))
    return sorted(out)


def _cnp(w: _World, a: Account, t: int, off: int, m: Merchant, amount: int) -> tuple[int, dict]:
    return w.rec(a, t, off, "DEBIT", "CARD_NOT_PRESENT", amount, m.record(), online=True)


def _sex_ring_online(
    w: _World, a: Account, rng: random.Random, lo: int, hi: int
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
    t0 = _episode(rng, lo, hi, span)
    off = utc_offset(a.home, t0)
    drop = rng.choice((None, None, "crypto", "prepaid", "spa", "payers", "rides"))
    site = online_merchant(*AD_SITES[rng.randrange(2)])  # 7311: the multiples count
    for t in _times(rng, t0, span, rng.randint(4, 8), off, tuple(range(8, 24))):
        amount = rng.choice((9, 12, 15, 24, 36, 48)) * 100
        events.append(_cnp(w, a, t, off, site, amount))
    if rng.random() < 0.5:  # also a site that only a watchlist can name
        listed = online_merchant(*AD_SITES[2])
        for t in _times(rng, t0, span, rng.randint(5, 8), off, tuple(range(8, 24))):
            events.append(_cnp(w, a, t, off, listed, rng.choice((10, 20, 25, 40)) * 100))
    if drop != "crypto":
        exchange = online_merchant(*CRYPTO_EXCHANGE).record()
        dark = rng.random() < 0.4
        wallet = rng.choice(w.dark_wallets) if dark else w._hash(f"wallet:{w.seed}:{a.idx}")
        for t in _times(rng, t0, span, rng.randint(3, 6), off, tuple(range(0, 24))):
            amount = rng.choice((24, 36, 48, 72, 96)) * 100
            t_rec = w.rec(a, t, off, "DEBIT", "CRYPTO", amount, exchange, online=True)
            t_rec[1]["wallet_address_hash"] = wallet
            events.append(t_rec)
    if drop != "prepaid":
        for t in _times(rng, t0, span, rng.randint(4, 7), off, DAY_HOURS):
            m = merchant(a.home, "prepaid", rng.randrange(2))
            events.append(w.card(a, t, off, m, rng.choice((50, 100, 200, 300, 500)) * 100))
    if drop != "spa":
        for t in _times(rng, t0, span, rng.randint(3, 5), off, (22, 23, 0, 1, 2)):
            m = merchant(a.home, rng.choice(("massage", "spa")), rng.randrange(3))
            events.append(w.card(a, t, off, m, _money(rng, 60, 220)))
    if drop != "rides":
        for t in _times(rng, t0, span, rng.randint(6, 10), off, NIGHT_HOURS):
            events.append(w._ride(a, t, off, _money(rng, 9, 45)))
    if drop != "payers":
        payers = [
            w._party(f"payer:{a.idx}:o:{i}", "p2p-net-01", a.inst.country)
            for i in range(rng.randint(6, 14))
        ]
        for i, t in enumerate(_times(rng, t0, span, rng.randint(12, 24), off, NIGHT_HOURS)):
            payer = payers[i] if i < len(payers) else rng.choice(payers)
            cp = payer.record()
            events.append(
                w.rec(a, t, off, "CREDIT", "P2P", _money(rng, 30, 95), None, cp, online=True)
            )
    if rng.random() < 0.3:
        w.intel.append(a.phone_hash)  # the number in the ads
    return events


def _sex_ring_travel(
    w: _World, a: Account, rng: random.Random, lo: int, hi: int
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
    victims = [w._hash(f"victim:{w.seed}:{a.idx}:{i}") for i in range(rng.randint(1, 3))]
    n_cities = rng.randint(3, 4)
    per_city = min(DAY_MS + DAY_MS // 2, (hi - lo) // (n_cities + 1))
    t0 = _episode(rng, lo, hi, per_city * n_cities)
    cities = _distinct_regions(rng, CITIES[a.inst.country], n_cities)
    drop = rng.choice((None, None, "hotel", "venue", "rides"))
    for j, city in enumerate(cities):
        arrive = t0 + j * per_city
        off = utc_offset(city, arrive)
        t = _in_window(rng, arrive, arrive + per_city, off, (10, 11, 12, 13))
        if j + 1 < len(cities):  # tickets to the next city, bought at this depot
            m = merchant(city, "bus", rng.randrange(2))
            rec = w.rec(
                a,
                t,
                off,
                "DEBIT",
                "CARD_PRESENT",
                _money(rng, 35, 90) * (len(victims) + 1),
                m.record(),
                None,
                m.location(),
                passengers=[a.name_hash, *victims],
            )
            events.append(rec)
        if drop != "hotel":
            t_h = _in_window(rng, arrive, arrive + per_city, off, (14, 15, 16))
            events.append(
                w.card(a, t_h, off, merchant(city, "hotel", rng.randrange(4)), _money(rng, 55, 120))
            )
        if drop != "venue":
            t_v = _in_window(rng, arrive, arrive + per_city, off, (22, 23, 0, 1))
            kind = rng.choice(("massage", "bar", "spa"))
            events.append(
                w.card(a, t_v, off, merchant(city, kind, rng.randrange(2)), _money(rng, 40, 180))
            )
        if drop != "rides":
            for t_r in _times(rng, arrive, per_city, rng.randint(2, 3), off, NIGHT_HOURS):
                events.append(w._ride(a, t_r, off, _money(rng, 9, 40)))
        for cat, median in (("fast_food", 14), ("pharmacy", 22), ("clothing", 45)):
            t_s = _in_window(rng, arrive, arrive + per_city, off, DAY_HOURS)
            m = merchant(city, cat, rng.randrange(2) if cat == "clothing" else rng.randrange(3))
            events.append(w.card(a, t_s, off, m, _spend(rng, median, 4, 200)))
    if hi - lo >= SUSTAIN_MIN_DAYS * DAY_MS:
        events += _sustaining(w, a, rng, max(lo, hi - 4 * 7 * DAY_MS), hi)
    return events


# SUSTAINING_SPEND compares the last four weeks with the thirteen before and needs eight weeks
# of baseline: the shift is only worth generating when the run has room for both (12 weeks).
SUSTAIN_MIN_DAYS = 84


def _sustaining(
    w: _World, a: Account, rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """Feeding and clothing the victims at home between trips: fast food, drug store and
    clothing most days, several people's worth."""
    events: list[tuple[int, dict]] = []
    off = utc_offset(a.home, lo)
    t = lo
    while t < hi - DAY_MS:
        for cat, median in (("fast_food", 38), ("pharmacy", 30), ("clothing", 70)):
            if rng.random() < (0.9 if cat == "fast_food" else 0.3):
                t_s = _in_window(rng, t, t + DAY_MS, off, DAY_HOURS)
                m = merchant(a.home, cat, rng.randrange(2))
                events.append(w.card(a, t_s, off, m, _spend(rng, median, 8, 250)))
        t += DAY_MS
    return events


def _labour_recruiter(
    w: _World, a: Account, rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """A crew boss: fees to an unlicensed recruiter, bus tickets for the crew, van rental,
    then the crew's wages captured as in the classic scenario.

    Without the recruiter watchlist the wages and the crew's tickets already reach the
    threshold; with it, the fee adds to the score before the first payday.
    """
    events: list[tuple[int, dict]] = []
    off = utc_offset(a.home, lo)
    recruiter = rng.choice(w.recruiters)
    for t in _times(rng, lo, min(2 * DAY_MS, hi - lo), rng.randint(1, 2), off, DAY_HOURS):
        events.append(w.transfer_out(a, t, off, recruiter, _money(rng, 800, 2600), "WIRE"))
    crew = [w._hash(f"crew:{w.seed}:{a.idx}:{i}") for i in range(rng.randint(3, 6))]
    t = _in_window(rng, lo + DAY_MS // 2, lo + 2 * DAY_MS, off, DAY_HOURS)
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
                _money(rng, 40, 90) * len(group),
                m.record(),
                None,
                m.location(),
                passengers=group,
            )
        )
    if rng.random() < 0.6:  # a van every working day of the first week
        for t_v in _times(
            rng, lo + DAY_MS, min(6 * DAY_MS, hi - lo - DAY_MS), rng.randint(6, 7), off, (5, 6)
        ):
            m = merchant(a.home, "car_rental", rng.randrange(2))
            events.append(w.card(a, t_v, off, m, _money(rng, 55, 120)))
    return events + _labour(w, a, rng, lo + DAY_MS, hi)


def _labour_front_business(
    w: _World, a: Account, rng: random.Random, lo: int, hi: int
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
        for t_c in _times(rng, t, min(7 * DAY_MS, hi - t), rng.randint(2, 4), off, BUSINESS_HOURS):
            events.append(w.cash(a, t_c, off, a.home, "CREDIT", _money(rng, 900, 2400), "branch"))
        t += 7 * DAY_MS
    last_week = max(lo, hi - 7 * DAY_MS)
    for t_p in _times(rng, last_week, hi - last_week, rng.randint(5, 7), off, DAY_HOURS):
        m = merchant(a.home, "prepaid", rng.randrange(2))
        events.append(w.card(a, t_p, off, m, rng.choice((100, 200, 300)) * 100))
    if rng.random() < 0.7:
        recruiter = rng.choice(w.recruiters)
        t_r = _in_window(rng, hi - 10 * DAY_MS, hi - 8 * DAY_MS, off, DAY_HOURS)
        events.append(w.transfer_out(a, t_r, off, recruiter, _money(rng, 1500, 4000), "WIRE"))
    return events


def _smuggling_structuring(
    w: _World, a: Account, rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """Cash just under the $10,000 report at branches, wired to the corridor within hours."""
    events: list[tuple[int, dict]] = []
    span = min(5 * DAY_MS, hi - lo)
    t0 = _episode(rng, lo, hi, span)
    off = utc_offset(a.home, t0)
    country = rng.choice(SMUGGLING_CORRIDORS)
    recipient = w._party(f"smg-recipient:{a.idx}:s", PAYOUT_BANKS[country], country)
    for t in _times(rng, t0, span, rng.randint(3, 4), off, (9, 10, 11, 12, 13)):
        cash = _money(rng, 9050, 9950)
        events.append(w.cash(a, t, off, a.home, "CREDIT", cash, "branch"))
        t_out = t + rng.randrange(HOUR_MS, 4 * HOUR_MS)
        events.append(
            w.transfer_out(a, t_out, off, recipient, cash - _money(rng, 100, 600), "WIRE")
        )
    return events


def _smuggling_transport(
    w: _World, a: Account, rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """A coordinator near the border: bus tickets for groups of migrants, cash fees in, wired
    to the corridor."""
    events: list[tuple[int, dict]] = []
    span = min(5 * DAY_MS, hi - lo)
    t0 = _episode(rng, lo, hi, span)
    off = utc_offset(a.home, t0)
    migrants = [w._hash(f"migrant:{w.seed}:{a.idx}:{i}") for i in range(rng.randint(3, 8))]
    for k, t in enumerate(_times(rng, t0, span, rng.randint(2, 3), off, (6, 7, 8, 9))):
        m = merchant(a.home, "bus", k % 2)
        group = migrants[k::2] or migrants[:2]
        events.append(
            w.rec(
                a,
                t,
                off,
                "DEBIT",
                "CARD_PRESENT",
                _money(rng, 45, 110) * len(group),
                m.record(),
                None,
                m.location(),
                passengers=group,
            )
        )
    country = rng.choice(SMUGGLING_CORRIDORS)
    recipient = w._party(f"smg-recipient:{a.idx}:t", PAYOUT_BANKS[country], country)
    out_channel = "WIRE" if a.inst.bank else "REMITTANCE"
    for t in _times(rng, t0, span, rng.randint(2, 4), off, (10, 11, 12, 13, 14)):
        events.append(w.cash(a, t, off, a.home, "CREDIT", _money(rng, 1200, 2900), ""))
        t_out = t + rng.randrange(HOUR_MS, 5 * HOUR_MS)
        events.append(
            w.transfer_out(a, t_out, off, recipient, _money(rng, 1100, 2800), out_channel)
        )
    return events


# --- multi-account scenarios and look-alikes ------------------------------------------------


def _share_identity(w: _World, accts: Sequence[Account], label: str, device: bool) -> None:
    """Give every account the same holder phone and address (and device): the escort's or the
    trafficker's, given at account opening."""
    phone = w._hash(f"+1{label}")
    address = w._hash(f"address:{label}")
    for a in accts:
        a.phone_hash, a.address_hash, a.home = phone, address, accts[0].home
        if device:
            a.device_hash = w._hash(f"device:{label}")


def _labour_shared_identifier(
    w: _World, accts: list[Account], rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """Victims' accounts opened by their trafficker: one phone, one address, one device.

    Each gets its own wage by payroll, which leaves the same day: a recruitment-fee instalment
    to an unlicensed recruiter (watchlist), then either prepaid cards the boss keeps or, in
    half of the groups, most of the wage sent on to the boss's account (WAGE_FORWARDING).
    Alone, an account shows little; SHARED_IDENTIFIER joins them.
    """
    _share_identity(w, accts, f"lab:{w.seed}:{accts[0].idx}", device=True)
    events: list[tuple[int, dict]] = []
    employer = rng.choice(w.employers)
    recruiter = rng.choice(w.recruiters)
    boss = w._party(f"lab-boss:{accts[0].idx}", "p2p-net-01", "US") if rng.random() < 0.5 else None
    off = utc_offset(accts[0].home, lo)
    payday = lo + rng.randrange(max(1, min(3 * DAY_MS, hi - lo - 7 * DAY_MS)))
    while payday < hi:
        t_pay = _at_hour(rng, payday, off, rng.choice(ACH_HOURS))
        for a in accts:
            wage = _money(rng, 420, 900)
            cp = employer.record(ultimate=a.name_hash)
            events.append(w.rec(a, t_pay, off, "CREDIT", "ACH", wage, None, cp, None, "SALA", True))
            t = t_pay + rng.randrange(2 * HOUR_MS, 8 * HOUR_MS)
            fee = _money(rng, 150, 350)
            events.append(w.transfer_out(a, t, off, recruiter, fee, "ACH"))
            if boss is not None:
                kept = wage * rng.uniform(0.85, 0.95)
                t_f = t + rng.randrange(10 * MIN_MS, 2 * HOUR_MS)
                events.append(w.transfer_out(a, t_f, off, boss, int(kept), "P2P"))
                continue
            for k in range(rng.randint(4, 5)):
                t_p = _in_window(rng, t + k * DAY_MS, t + (k + 1) * DAY_MS, off, DAY_HOURS)
                m = merchant(a.home, "prepaid", rng.randrange(2))
                events.append(w.card(a, t_p, off, m, rng.choice((25, 50, 75, 100)) * 100))
        payday += 14 * DAY_MS
    return events


def _remit(
    w: _World, a: Account, t: int, party: Party, amount: int, rng: random.Random
) -> list[tuple[int, dict]]:
    """A walk-in remittance: cash at the agent counter, sent minutes later."""
    off = utc_offset(a.home, t)
    fee = _money(rng, 8, 30)
    cash = w.cash(a, t, off, a.home, "CREDIT", amount + fee, "agent")
    out = w.transfer_out(a, t + rng.randint(4, 30) * MIN_MS, off, party, amount, "REMITTANCE")
    return [cash, out]


def _smuggling_shared_identifier(
    w: _World, accts: list[Account], rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """Escorted customers: one smuggler brings several people to the same agent on the same
    days; their accounts carry his phone and address, and each sends fees to the corridor in
    two or three instalments under $3,000."""
    _share_identity(w, accts, f"smg:{w.seed}:{accts[0].idx}", device=False)
    collectors = [
        w._party(f"smg-collector:{accts[0].idx}:{j}", PAYOUT_BANKS[c], c)
        for j, c in enumerate(rng.sample(SMUGGLING_CORRIDORS, 2))
    ]
    events: list[tuple[int, dict]] = []
    t0 = _episode(rng, lo, hi, 4 * DAY_MS)
    off = utc_offset(accts[0].home, t0)
    for a in accts:
        visit = _in_window(rng, t0, t0 + DAY_MS, off, (10, 11, 12, 13, 14))
        for _ in range(rng.randint(2, 3)):
            events += _remit(w, a, visit, rng.choice(collectors), _money(rng, 1500, 2980), rng)
            visit = _in_window(rng, visit + 20 * HOUR_MS, visit + 44 * HOUR_MS, off, (10, 11, 12))
    return events


def _smuggling_common_beneficiary(
    w: _World, accts: list[Account], rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """Relatives of migrants in several cities pay the smuggler's fee to one account abroad,
    on the same or consecutive days, each under the $3,000 MSB limit, in one to three
    instalments. The senders do not know each other; COMMON_BENEFICIARY joins them."""
    country = rng.choice(SMUGGLING_CORRIDORS)
    beneficiary = w._party(f"smg-beneficiary:{accts[0].idx}", PAYOUT_BANKS[country], country)
    events: list[tuple[int, dict]] = []
    t0 = _episode(rng, lo, hi, 3 * DAY_MS)
    for a in accts:
        off = utc_offset(a.home, t0)
        visit = _in_window(rng, t0, t0 + DAY_MS + DAY_MS // 2, off, tuple(range(9, 19)))
        for _ in range(rng.choice((1, 2, 2, 3))):
            events += _remit(w, a, visit, beneficiary, _money(rng, 900, 2980), rng)
            visit = _in_window(rng, visit + 18 * HOUR_MS, visit + 40 * HOUR_MS, off, (10, 14, 17))
    return events


def _couple(
    w: _World, accts: list[Account], rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """Look-alike: two partners with separate accounts, one home phone and one address."""
    _share_identity(w, accts, f"couple:{w.seed}:{accts[0].idx}", device=rng.random() < 0.5)
    return []


def _family_pool(
    w: _World, accts: list[Account], rng: random.Random, lo: int, hi: int
) -> list[tuple[int, dict]]:
    """Look-alike: two to four relatives in one town send money home to the same mother,
    each once a month, around the same payday (the MSB routine does the sending)."""
    first = accts[0]
    for a in accts:
        a.home, a.recipient = first.home, first.recipient
        a.remit_country = first.remit_country
        a.next_remit = first.next_remit + rng.randint(0, 2)
    return []


GROUP_BUILDERS: dict[str, Callable[[_World, list[Account], random.Random, int, int], list]] = {
    "labour_shared_identifier": _labour_shared_identifier,
    "smuggling_shared_identifier": _smuggling_shared_identifier,
    "smuggling_common_beneficiary": _smuggling_common_beneficiary,
    "hard_negative_couple": _couple,
    "hard_negative_family_pool": _family_pool,
}


SCENARIO_BUILDERS: dict[str, Callable[[_World, Account, random.Random, int, int], list]] = {
    "sex_ring": _sex_ring,
    "sex_ring_online": _sex_ring_online,
    "sex_ring_travel": _sex_ring_travel,
    "labour_wage_capture": _labour,
    "labour_recruiter": _labour_recruiter,
    "labour_front_business": _labour_front_business,
    "smuggling_cash_wire": _smuggling,
    "smuggling_structuring": _smuggling_structuring,
    "smuggling_transport": _smuggling_transport,
}


def build(
    seed: int,
    accounts: int,
    days: float,
    start_ms: int,
    hash_key: str,
    scenarios: int | None = None,
    groups: int | None = None,
) -> Simulation:
    """The events, the truth and the watchlists of one simulated world.

    ``scenarios`` is the number of single-account trafficking scenarios (default one per 500
    accounts, at least one per typology), as many single-account hard negatives are added
    (at least four). ``groups`` is the number of multi-account scenarios (default one per
    eight scenarios in runs of a week or more, so none in small or short runs); as many
    look-alike groups (couples, families pooling remittances) are added. All of these accounts
    are part of ``accounts``; groups are left out when the accounts do not suffice. The event
    iterator is lazy and single-use; the truth and watchlists are complete before it is
    consumed.
    """
    world = _World(seed, accounts, days, start_ms, hash_key, scenarios, groups)
    return Simulation(world.stream(), world.truth, world.watchlists())


def generate(
    seed: int,
    accounts: int,
    days: float,
    start_ms: int,
    hash_key: str,
    scenarios: int | None = None,
    groups: int | None = None,
) -> tuple[Iterator[dict], list[ScenarioTruth]]:
    """Avro-ready payment records in event-time order, and the truth about injected accounts.

    See :func:`build` (which also gives the watchlists the scenarios use).
    """
    sim = build(seed, accounts, days, start_ms, hash_key, scenarios, groups)
    return sim.events, sim.truth


# Rule-set indicator parameter that receives each watchlist.
_WATCHLIST_PARAMS = {
    "ad_site_merchant_ids": ("AD_SITE_PAYMENTS", "merchant_ids"),
    "recruiters": ("UNLICENSED_RECRUITER", "recruiters"),
    "dark_web_wallets": ("CRYPTO_SMALL_MULTIPLES", "dark_web_wallets"),
    "intel_identifiers": ("INTEL_IDENTIFIER_MATCH", "identifiers"),
}


def rules_overlay(doc: dict[str, Any], watchlists: Watchlists, label: str = "sim") -> dict:
    """A copy of rule-set ``doc`` whose watchlists also hold the simulated world's entries.

    The version gets ``+<label>`` so alerts raised under it are told apart from production
    ones. Indicators missing from ``doc`` are left out, not added.
    """
    out = json.loads(json.dumps(doc))
    out["version"] = f"{out['version']}+{label}"
    lists = watchlists.as_dict()
    for name, (code, param) in _WATCHLIST_PARAMS.items():
        spec = out.get("indicators", {}).get(code)
        if spec is None:
            continue
        params = spec.setdefault("params", {})
        params[param] = list(dict.fromkeys([*params.get(param, []), *lists[name]]))
    return out


# --- command line -----------------------------------------------------------------------------

_RELATIVE = re.compile(r"^now(?:-(\d+(?:\.\d+)?)([dhm]))?$")


def parse_start(text: str | None, now_ms: int, days: float) -> int:
    """``None`` -> now - days (so every event is in the past); ``now-3d``, ``now-12h``; ISO 8601."""
    if text is None:
        return now_ms - int(days * DAY_MS)
    m = _RELATIVE.match(text.strip())
    if m:
        if m.group(1) is None:
            return now_ms
        unit = {"d": DAY_MS, "h": HOUR_MS, "m": MIN_MS}[m.group(2)]
        return now_ms - int(float(m.group(1)) * unit)
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--start must be ISO 8601 or now-<N>d|h|m, got {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def write_avro(records: Iterable[dict[str, Any]], path: Path) -> int:
    """Records as an Avro object container file of the payment_event schema (uncompressed:
    it reads fastest); returns how many were written."""
    import fastavro

    from schemas.codec import schema_json

    count = 0

    def counted() -> Iterator[dict[str, Any]]:
        nonlocal count
        for rec in records:
            count += 1
            yield rec

    schema = fastavro.parse_schema(schema_json("payment_event.avsc"))
    with open(path, "wb") as f:
        fastavro.writer(f, schema, counted(), codec="null")
    return count


def _args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="chainbreaker simulate",
        description="Generate seeded payment traffic with injected trafficking scenarios and "
        "look-alike accounts; the same seed and start give the same events and event ids.",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--accounts", type=int, default=2000)
    p.add_argument("--days", type=float, default=14.0)
    p.add_argument("--scenarios", type=int, default=None, help="trafficking scenarios to inject")
    p.add_argument(
        "--groups",
        type=int,
        default=None,
        help="multi-account scenarios (shared identifiers, common beneficiary); default "
        "one per 8 scenarios",
    )
    p.add_argument("--start", help="ISO 8601 or now-<N>d|h|m (default: now minus --days)")
    dest = p.add_mutually_exclusive_group(required=True)
    dest.add_argument(
        "--out", help="write to FILE ('-' for stdout): JSON lines, or Avro if FILE ends in .avro"
    )
    dest.add_argument("--publish", action="store_true", help="send to the payments topic")
    p.add_argument("--topic", help="topic for --publish (default CB_TOPIC_PAYMENTS)")
    p.add_argument("--rate", type=float, help="events per second for --publish (default unpaced)")
    p.add_argument("--truth", help="write the scenario truth as JSON to FILE")
    p.add_argument(
        "--rules-out",
        help="write the default rule set plus the simulated watchlists (ad sites, recruiters, "
        "dark-web wallets, identifiers in ads) to FILE, for `backtest --rules` (default with "
        "--out FILE: FILE with suffix .rules.json)",
    )
    p.add_argument("--limit", type=int, help="stop after N events")
    p.add_argument(
        "--format",
        choices=("jsonl", "avro"),
        help="file format for --out (default: avro if FILE ends in .avro, else jsonl); avro is "
        "an object container file of the payment_event schema, as `backtest` reads it",
    )
    args = p.parse_args(argv)
    if args.format is None and args.out:
        args.format = "avro" if args.out.lower().endswith(".avro") else "jsonl"
    if args.format == "avro" and args.out in (None, "-"):
        p.error("--format avro needs --out FILE (a container file is binary)")
    if args.accounts < 1 or args.days <= 0:
        p.error("--accounts and --days must be positive")
    if args.rate is not None and (not args.publish or args.rate <= 0):
        p.error("--rate must be positive and needs --publish")
    return args


def main(argv: list[str]) -> int:
    from tqdm import tqdm

    from config.settings import load

    args = _args(argv)
    settings = load()
    try:
        start_ms = parse_start(args.start, int(time.time() * 1000), args.days)
    except ValueError as exc:
        print(f"chainbreaker simulate: {exc}", file=sys.stderr)
        return 2
    sim = build(
        args.seed,
        args.accounts,
        args.days,
        start_ms,
        settings.hash_key,
        args.scenarios,
        args.groups,
    )
    events, truth = sim.events, sim.truth
    if args.limit is not None:
        events = islice(events, max(0, args.limit))
    truth_path = args.truth
    if truth_path is None and args.out not in (None, "-"):
        truth_path = str(Path(args.out).with_suffix(".truth.json"))
    if truth_path:
        Path(truth_path).write_text(json.dumps([asdict(s) for s in truth], indent=1) + "\n")
    rules_path = args.rules_out
    if rules_path is None and args.out not in (None, "-"):
        rules_path = str(Path(args.out).with_suffix(".rules.json"))
    if rules_path:
        from processors.rules import default_document

        overlay = rules_overlay(default_document(), sim.watchlists, f"sim.{args.seed}")
        Path(rules_path).write_text(json.dumps(overlay, indent=1) + "\n")

    bar = tqdm(events, unit="ev", file=sys.stderr, disable=None, desc="simulate")
    count, failures = 0, 0
    if args.publish:
        from publisher.pacing import TokenBucket
        from publisher.producer import Publisher

        topic = args.topic or settings.topic_payments
        interrupted = False
        with Publisher(settings, topic) as pub:
            bucket = TokenBucket(args.rate, pub.poll) if args.rate else None
            try:
                for rec in bar:
                    if bucket is not None:
                        bucket.take()
                    pub.send(rec)
                    count += 1
            except KeyboardInterrupt:  # stop sending, but deliver what is already queued
                interrupted = True
            failures = pub.flush(60.0)
        where = f"published to {topic}" + (f", {failures} delivery failures" if failures else "")
        where += " (interrupted)" if interrupted else ""
    elif args.format == "avro":
        count = write_avro(bar, Path(args.out))
        where = f"written to {args.out} (Avro)"
    else:
        out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
        try:
            dumps = json.JSONEncoder(separators=(",", ":")).encode
            for rec in bar:
                out.write(dumps(rec))
                out.write("\n")
                count += 1
        finally:
            if out is not sys.stdout:
                out.close()
        where = f"written to {args.out}"
    bar.close()
    by_typ = Counter(s.typology for s in truth)
    summary = ", ".join(f"{t}={by_typ.get(t, 0)}" for t in (*TYPOLOGIES, "NONE"))
    where += f", truth in {truth_path}" if truth_path else ""
    where += f", rules with watchlists in {rules_path}" if rules_path else ""
    print(
        f"simulate: {count} events, {args.accounts} accounts, scenarios {summary}; {where}",
        file=sys.stderr if args.out == "-" else sys.stdout,
    )
    return 1 if failures else 0
