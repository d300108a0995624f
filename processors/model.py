"""Typed records that cross the boundary between the wire format and the detectors."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final


class Typology(StrEnum):
    SEX_TRAFFICKING = "SEX_TRAFFICKING"
    LABOUR_TRAFFICKING = "LABOUR_TRAFFICKING"
    HUMAN_SMUGGLING = "HUMAN_SMUGGLING"


class Severity(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


CASH_CHANNELS: Final = frozenset({"CASH_DEPOSIT", "CASH_WITHDRAWAL", "ATM"})
TRANSFER_CHANNELS: Final = frozenset({"WIRE", "ACH", "P2P", "REMITTANCE", "CRYPTO", "OTHER"})


@dataclass(slots=True)
class PaymentEvent:
    """A validated payment, flattened so detectors read attributes, not nested dicts."""

    event_id: str
    event_time: int
    utc_offset_minutes: int
    institution_id: str
    account_id: str
    customer_id: str
    account_type: str
    direction: str
    channel: str
    amount_minor: int
    currency: str
    amount_usd: float
    merchant_id: str | None = None
    mcc: int | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    terminal_id: str | None = None
    counterparty_account: str | None = None
    counterparty_institution: str | None = None
    counterparty_country: str | None = None
    counterparty_name_hash: str | None = None
    ultimate_party_hash: str | None = None
    purpose: str | None = None
    payroll: bool = False
    holder_phone_hash: str | None = None
    holder_email_hash: str | None = None
    holder_address_hash: str | None = None
    device_hash: str | None = None
    wallet_address_hash: str | None = None
    passenger_name_hashes: list[str] = field(default_factory=list)

    # Written out rather than generated: compiled (mypyc), a dataclass keeps the generated
    # __init__ as interpreted code, which was a thirtieth of the backtest.
    def __init__(
        self,
        event_id: str,
        event_time: int,
        utc_offset_minutes: int,
        institution_id: str,
        account_id: str,
        customer_id: str,
        account_type: str,
        direction: str,
        channel: str,
        amount_minor: int,
        currency: str,
        amount_usd: float,
        merchant_id: str | None = None,
        mcc: int | None = None,
        city: str | None = None,
        region: str | None = None,
        country: str | None = None,
        terminal_id: str | None = None,
        counterparty_account: str | None = None,
        counterparty_institution: str | None = None,
        counterparty_country: str | None = None,
        counterparty_name_hash: str | None = None,
        ultimate_party_hash: str | None = None,
        purpose: str | None = None,
        payroll: bool = False,
        holder_phone_hash: str | None = None,
        holder_email_hash: str | None = None,
        holder_address_hash: str | None = None,
        device_hash: str | None = None,
        wallet_address_hash: str | None = None,
        passenger_name_hashes: list[str] | None = None,
    ) -> None:
        self.event_id = event_id
        self.event_time = event_time
        self.utc_offset_minutes = utc_offset_minutes
        self.institution_id = institution_id
        self.account_id = account_id
        self.customer_id = customer_id
        self.account_type = account_type
        self.direction = direction
        self.channel = channel
        self.amount_minor = amount_minor
        self.currency = currency
        self.amount_usd = amount_usd
        self.merchant_id = merchant_id
        self.mcc = mcc
        self.city = city
        self.region = region
        self.country = country
        self.terminal_id = terminal_id
        self.counterparty_account = counterparty_account
        self.counterparty_institution = counterparty_institution
        self.counterparty_country = counterparty_country
        self.counterparty_name_hash = counterparty_name_hash
        self.ultimate_party_hash = ultimate_party_hash
        self.purpose = purpose
        self.payroll = payroll
        self.holder_phone_hash = holder_phone_hash
        self.holder_email_hash = holder_email_hash
        self.holder_address_hash = holder_address_hash
        self.device_hash = device_hash
        self.wallet_address_hash = wallet_address_hash
        self.passenger_name_hashes = [] if passenger_name_hashes is None else passenger_name_hashes

    @property
    def local_hour(self) -> int:
        return ((self.event_time + self.utc_offset_minutes * 60_000) // 3_600_000) % 24

    @property
    def is_cash(self) -> bool:
        return self.channel in CASH_CHANNELS

    @property
    def is_credit(self) -> bool:
        return self.direction == "CREDIT"


@dataclass(slots=True)
class IndicatorHit:
    """One red flag measured on an account, with what an analyst needs to check it."""

    code: str
    source: str
    explanation: str
    window_seconds: int
    measured: float
    threshold: float
    event_ids: list[str]
    detected_event_time: int
    first_event_time: int = 0
    last_event_time: int = 0
    weight: float = 0.0

    # Written out: compiled, a dataclass's generated __init__ stays interpreted (see PaymentEvent).
    def __init__(
        self,
        code: str,
        source: str,
        explanation: str,
        window_seconds: int,
        measured: float,
        threshold: float,
        event_ids: list[str],
        detected_event_time: int,
        first_event_time: int = 0,
        last_event_time: int = 0,
        weight: float = 0.0,
    ) -> None:
        self.code = code
        self.source = source
        self.explanation = explanation
        self.window_seconds = window_seconds
        self.measured = measured
        self.threshold = threshold
        self.event_ids = event_ids
        self.detected_event_time = detected_event_time
        self.first_event_time = first_event_time
        self.last_event_time = last_event_time
        self.weight = weight

    def to_record(self) -> dict:
        return {
            "code": self.code,
            "source": self.source,
            "explanation": self.explanation,
            "window_seconds": self.window_seconds,
            "measured": float(self.measured),
            "threshold": float(self.threshold),
            "weight": float(self.weight),
            "event_ids": list(self.event_ids),
            "detected_event_time": self.detected_event_time,
        }

    def to_state(self) -> list:
        return [
            self.code,
            self.source,
            self.explanation,
            self.window_seconds,
            self.measured,
            self.threshold,
            self.event_ids,
            self.detected_event_time,
            self.first_event_time,
            self.last_event_time,
        ]

    @classmethod
    def from_state(cls, row: list) -> IndicatorHit:
        return cls(*row)
