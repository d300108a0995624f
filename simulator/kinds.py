"""What each kind of simulated account is: how it is opened, what it does, how it is labelled.

Every account of a run has a kind: background ("", ordinary customers), a trafficking
scenario (scenarios/) or a look-alike that must not alert (lookalikes.py). A kind is declared
once, as data: its label in the truth (kind, typology), how its account is opened
(:class:`Opening`), its own daily habits, and for a scenario the function that builds the
events it injects. The catalogs (scenarios.SCENARIOS, lookalikes.LOOKALIKES, ...) are what
the simulation plans from.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from simulator.world import Account, Habit, Travel, World

SEX = "SEX_TRAFFICKING"
LABOUR = "LABOUR_TRAFFICKING"
SMUGGLING = "HUMAN_SMUGGLING"
TYPOLOGIES = (SEX, LABOUR, SMUGGLING)
NONE = "NONE"  # the typology of a look-alike: labelled, and must not alert

Events = list[tuple[int, dict]]  # (event time, record), in any order
Builder = Callable[[World, Account, random.Random, int, int], Events]
GroupBuilder = Callable[[World, list[Account], random.Random, int, int], Events]
Setup = Callable[[World, Account, random.Random], None]


@dataclass(frozen=True, slots=True)
class Opening:
    """How an account of the kind is opened (population.open_account).

    The seeded draws follow from these choices, so changing an existing kind's opening
    changes that seed's population from the account on; a new kind changes nothing else.
    """

    # Where it banks: "background" (the population's own mix), "msb", "msb_or_us_bank" (six
    # in ten at the MSB), "us_bank", "us_business", "us_or_ca_bank" (seven in ten in the US).
    banking: str = "us_or_ca_bank"
    border_home: bool = False  # the holder lives in a border state (TX, AZ, CA)
    # Consumer accounts: a salary from an employer "always", "half" the time, or "never".
    salary: str = "always"
    business_types: tuple[str, ...] = ()  # business accounts: the business is one of these
    payroll: bool = True  # business accounts: False keeps nobody on the books
    family_remittance: bool = False  # MSB customers: monthly, larger, to a smuggling corridor
    setup: Setup | None = None  # consumer accounts: the kind's own draws, last at opening


@dataclass(frozen=True, slots=True)
class Kind:
    """A single-account kind: a trafficking scenario or a look-alike."""

    kind: str
    typology: str  # one of scenarios.TYPOLOGIES, or NONE
    opening: Opening = Opening()
    build: Builder | None = None  # the scenario's events; None: only its routine and habits
    travel: Travel | None = None  # where the holder is today (Account.travel)
    habit: Habit | None = None  # the kind's own events of the day (Account.habit)
    # A variant needs this many days to show; shorter runs get the typology's classic scenario.
    min_days: float = 7.0


@dataclass(frozen=True, slots=True)
class GroupKind:
    """A multi-account kind: several accounts, one scenario id and typology."""

    kind: str
    typology: str
    build: GroupBuilder
    size: Callable[[random.Random], int]  # how many accounts (drawn from the plan's generator)
    opening: Opening = Opening()
    travel: Travel | None = None
    habit: Habit | None = None
    #: openings of the first members (the collector, the controller), when they differ
    member_openings: tuple[Opening, ...] = ()

    def member(self, position: int) -> Member:
        """The kind as the ``position``-th member of a group is opened."""
        opening = (
            self.member_openings[position] if position < len(self.member_openings) else self.opening
        )
        return Member(self.kind, self.typology, opening, self.travel, self.habit)


@dataclass(frozen=True, slots=True)
class Member:
    """One member of a group, as population.open_account opens it."""

    kind: str
    typology: str
    opening: Opening
    travel: Travel | None = None
    habit: Habit | None = None


BACKGROUND = Kind("", "", Opening(banking="background"))
