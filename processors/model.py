"""Typed records that cross the boundary between the wire format and the detectors."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Typology(StrEnum):
    SEX_TRAFFICKING = "SEX_TRAFFICKING"
    LABOUR_TRAFFICKING = "LABOUR_TRAFFICKING"
    HUMAN_SMUGGLING = "HUMAN_SMUGGLING"


class Severity(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


CASH_CHANNELS = frozenset({"CASH_DEPOSIT", "CASH_WITHDRAWAL", "ATM"})
TRANSFER_CHANNELS = frozenset({"WIRE", "ACH", "P2P", "REMITTANCE", "CRYPTO", "OTHER"})


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
