"""The simulated world: its shared parties, its accounts, and how a payment becomes a record.

Scenario builders, look-alike habits and the daily routines all write events through
:class:`World` (``rec``, ``card``, ``cash``, ``transfer_out``, ``ride``), so every record has
the payment contract's shape (schemas/payment_event.avsc) and carries identifiers only as
keyed hashes (:func:`keyed_hash`), as the contract requires of every publisher.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from processors.intel import keyed_hash as intel_keyed_hash
from simulator.clock import DAY_MS
from simulator.geography import City
from simulator.parties import (
    RIDE_HAIL,
    Institution,
    Merchant,
    Party,
    cash_location,
    online_merchant,
)

# A look-alike's habits (see Account.travel and Account.habit).
Travel = Callable[["World", "Account", "Day", random.Random, list], City | None]
Habit = Callable[["World", "Account", "Day", random.Random, list], None]


def keyed_hash(key: str, value: str) -> str:
    """HMAC-SHA256 under the consortium key: joinable across institutions, useless if leaked.

    The same function the intel feed hashes with (processors/intel.py); the simulator's
    phones ('+' and digits) and e-mails (lower-case) are already in normal form."""
    return intel_keyed_hash(key, value)


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
    # The look-alike's own habits (lookalikes.py), called by the account's daily routine:
    # travel says where the holder is today (None: the routine decides), habit adds its events.
    travel: Travel | None = None
    habit: Habit | None = None
    #: the account's part in its scenario, for the truth (collector, sender, worker, ...);
    #: set by a scenario builder, else the kind's default (simulation.role_of)
    scenario_role: str = ""


@dataclass(slots=True)
class Day:
    """One day of the run: its calendar, and each city's UTC offset that day."""

    index: int
    start: int  # UTC ms of the day's first instant
    epoch_day: int
    weekday: int  # Monday = 0
    dom: int
    offsets: dict[City, int] = field(default_factory=dict)


class World:
    """The parties every account may deal with, the accounts, and the record builders."""

    def __init__(self, seed: int, key: str, start_ms: int, end_ms: int, population: int) -> None:
        self.seed, self.key = seed, key
        self.start, self.end = start_ms, end_ms
        self.ndays = -(-(self.end - self.start) // DAY_MS)
        # Friends paid by P2P: the pool grows with the population, so a person is a friend of
        # about as many customers at 50,000 accounts as at 2,000 (a fixed pool would have each
        # of them paid by hundreds, a collector's shape).
        n_people = max(400, population // 10)
        self.people = [self.party(f"person:{i}", "p2p-net-01", "US") for i in range(n_people)]
        self.people_ca = [
            self.party(f"person-ca:{i}", "interac-ca", "CA") for i in range(n_people // 2)
        ]
        self.employers = [self.party(f"employer:{i}", "021000021", "US") for i in range(120)]
        self.employers_ca = [self.party(f"employer-ca:{i}", "CC0010", "CA") for i in range(60)]
        self.landlords = [self.party(f"landlord:{i}", "026009593", "US") for i in range(150)]
        self.acquirers = [self.party(f"acquirer:{i}", "acq-network", "US") for i in range(3)]
        # Watchlisted parties: unlicensed recruiters (their accounts, as counterparties) and
        # dark-web market wallets. Ad sites are merchants (AD_SITES).
        self.recruiters = [self.party(f"recruiter:{i}", "026013673", "US") for i in range(6)]
        self.dark_wallets = [self.keyed(f"wallet:{seed}:darkweb:{i}") for i in range(4)]
        self.tax_agency = self.party("tax-agency", "021030004", "US")
        self.intel: list[str] = []  # holder identifiers seen in ads (filled by the scenarios)
        self.accounts: list[Account] = []  # opened by the simulation (population.py)

    def keyed(self, value: str) -> str:
        """A keyed hash under the run's key: how every identifier appears in the records."""
        return keyed_hash(self.key, value)

    def party(self, label: str, institution: str, country: str) -> Party:
        """A counterparty (account and name hashed) of the world, stable per seed and label."""
        return Party(
            self.keyed(f"acct:{self.seed}:{label}"),
            institution,
            country,
            self.keyed(f"name:{self.seed}:{label}"),
        )

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
            a, t, off, direction, channel, amount, None, None, cash_location(a.inst, city, kind)
        )

    def transfer_out(
        self, a: Account, t: int, off: int, party: Party, amount: int, channel: str
    ) -> tuple[int, dict]:
        loc = (
            cash_location(a.inst, a.home, "agent")
            if channel == "REMITTANCE" and not a.inst.bank
            else None
        )
        return self.rec(
            a, t, off, "DEBIT", channel, amount, None, party.record(), loc, online=loc is None
        )

    def ride(self, a: Account, t: int, off: int, amount: int) -> tuple[int, dict]:
        """A ride-hail trip, paid in the app."""
        m = online_merchant(*RIDE_HAIL).record()
        return self.rec(a, t, off, "DEBIT", "CARD_NOT_PRESENT", amount, m, online=True)
