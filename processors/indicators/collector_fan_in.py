"""Indicator 18, beneficiary side: the collector's own account receives from many senders.

FIN-2014-A008 and FIN-2023-Alert001 (human smuggling) describe apparently unrelated people,
often in several places on the same or consecutive days, sending one recipient amounts under
the US$3,000 money-transmitter record-keeping threshold: the smuggling organisation's
collector. The red flag is about the recipient. When the recipient is a customer of a
reporting institution, its own statement shows every one of those credits, so the finding is
per account and needs no cross-account hop: credits by wire or remittance, each under
US$3,000, from at least ``min_senders`` distinct senders within ``window_hours``.

The cross-account grouping finds the same thing from the senders' side (COMMON_BENEFICIARY,
processors/links.py); when the beneficiary it groups on is one of the reporting institutions'
accounts, the group signals that account with this code, so the two views are one finding on
the collector and never add up.

A sender is the credit's ultimate debtor if the feed names one, else the payer's name, else
the payer's account and institution (all keyed hashes or pseudonyms): a remittance paid out
through an MSB's settlement account still counts each person who sent it.

Numbers. From the source: each credit under US$3,000 (``max_amount_usd``), wires and
remittances (``channels``). Suggested by the reference (row 18): at least 5 distinct senders
within 7 days. Personal accounts only (``account_types``): a business receiving wires from
five customers a week is trading, and the advisories describe personal and funnel accounts.
Payroll credits never count. ACH and P2P are left out for the reasons COMMON_BENEFICIARY
gives (rent, bills and friends splitting costs put many payers on one payee).

Weight. 1.0 towards HUMAN_SMUGGLING, enough to alert alone: the sources name this pattern as
the collector's footprint, and the innocent shapes of it we know stay below 5 distinct
senders a week by wire or remittance (a family abroad pooling for one relative: 2-4
relatives, monthly; a student's parents: 1-2). On the 2026-12-01 independent evaluation the
collectors carried no hit at all and smuggling recall was 0.10-0.25; the evidence at the
receiving account was simply not read.
"""

from __future__ import annotations

from processors.indicators.base import Detector, days
from processors.indicators.common import MAX_EVIDENCE_IDS
from processors.model import TRANSFER_CHANNELS, IndicatorHit, PaymentEvent, Typology
from processors.state import id_digest

ACCOUNT_TYPES = ("PERSONAL", "BUSINESS")


def sender_key(ev: PaymentEvent) -> str | None:
    """Who paid a credit, as precisely as the feed says; None when it does not say."""
    if ev.ultimate_party_hash:
        return "u" + ev.ultimate_party_hash
    if ev.counterparty_name_hash:
        return "n" + ev.counterparty_name_hash
    if ev.counterparty_account:
        return f"a{ev.counterparty_institution or ''}|{ev.counterparty_account}"
    return None


def sender_digest(ev: PaymentEvent) -> int:
    """The 64-bit digest of :func:`sender_key` the slots keep (processors/state.py: format 5):
    senders are only ever compared, and the key is a hash of 60-odd characters."""
    key = sender_key(ev)
    assert key is not None  # accepts() admits only credits whose sender is known
    return id_digest(key)


def check_account_types(params: dict) -> frozenset[str]:
    unknown = sorted(set(params["account_types"]) - set(ACCOUNT_TYPES))
    if unknown:
        raise ValueError(f"account_types: {', '.join(unknown)} not one of {list(ACCOUNT_TYPES)}")
    return frozenset(params["account_types"])


def check_channels(params: dict) -> frozenset[str]:
    unknown = sorted(set(params["channels"]) - TRANSFER_CHANNELS)
    if unknown:
        raise ValueError(f"channels: {', '.join(unknown)} not transfer channels")
    return frozenset(params["channels"])


class CreditsFromSenders(Detector):
    """A detector of the receiving side: credits (not payroll) into an account of
    ``account_types`` by ``channels``, from a sender the feed names, in the amount range
    :meth:`amount_counts` allows. The collector, the wage controller and the earnings
    controller differ only in that range and in what they count."""

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.channels = check_channels(self.params)
        self.account_types = check_account_types(self.params)

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        return (
            direction == "CREDIT"
            and channel in self.channels
            and account_type in self.account_types
        )

    def accepts(self, ev: PaymentEvent) -> bool:
        return (
            ev.direction == "CREDIT"
            and ev.channel in self.channels
            and ev.account_type in self.account_types
            and not ev.payroll
            and self.amount_counts(ev.amount_usd)
            and sender_key(ev) is not None
        )

    def amount_counts(self, amount_usd: float) -> bool:
        raise NotImplementedError


class CollectorFanIn(CreditsFromSenders):
    code = "COLLECTOR_FAN_IN"
    name = "Many unrelated senders, each under US$3,000, into one account"
    source = "FIN-2023-Alert001"
    typologies = (Typology.HUMAN_SMUGGLING,)
    defaults = {
        "window_hours": 168,
        "min_senders": 5,
        "max_amount_usd": 3000,
        "channels": ["WIRE", "REMITTANCE"],
        "account_types": ["PERSONAL"],
    }

    def amount_counts(self, amount_usd: float) -> bool:
        return 0 <= amount_usd < self.params["max_amount_usd"]

    def entry(self, ev: PaymentEvent) -> list:
        return [ev.event_time, ev.event_id, sender_digest(ev)]

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        p = self.params
        need = p["min_senders"]
        if len(slot) < need:
            return None
        senders = len({e[2] for e in slot})
        if senders < need:
            return None
        return self.hit(
            ev,
            senders,
            need,
            [e[1] for e in slot[-MAX_EVIDENCE_IDS:]],
            f"{len(slot)} credits by {'/'.join(sorted(self.channels)).lower()} under "
            f"US${p['max_amount_usd']:,g} each from {senders} different senders within "
            f"{days(p['window_hours'])}; threshold {need:g} senders.",
        )
