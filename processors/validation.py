"""Turn a decoded record into a PaymentEvent, or say exactly why it cannot be one.

Every rejection carries a reason from a small fixed set (it becomes a metric label and the
dead-letter header) plus a detail naming the field and the bad value.
"""

from __future__ import annotations

import math
from typing import Any

from processors.currency import DEFAULT_USD_PER_UNIT, ISO_4217, to_usd
from processors.model import PaymentEvent

REASONS = (
    "undecodable",
    "unknown_schema",
    "missing_field",
    "invalid_field",
    "invalid_amount",
    "unknown_currency",
    "future_event_time",
    "invalid_event_time",
    "processing_error",
)

_REQUIRED = ("event_id", "institution_id", "account_id", "customer_id")
_EARLIEST_MS = 946_684_800_000  # 2000-01-01: older than any feed we accept
_MAX_AMOUNT_MINOR = 10**15


class InvalidEvent(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _country(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not (isinstance(value, str) and len(value) == 2 and value.isalpha() and value.isupper()):
        raise InvalidEvent("invalid_field", f"{field} must be ISO 3166-1 alpha-2, got {value!r}")
    return value


def to_event(
    rec: dict[str, Any],
    now_ms: int,
    max_future_skew_ms: int = 300_000,
    usd_per_unit: dict[str, float] = DEFAULT_USD_PER_UNIT,
) -> PaymentEvent:
    for name in _REQUIRED:
        value = rec.get(name)
        if not isinstance(value, str) or not value:
            raise InvalidEvent("missing_field", f"{name} is missing or empty")
    amount = rec.get("amount_minor")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise InvalidEvent("missing_field", "amount_minor is missing or not an integer")
    if amount <= 0 or amount > _MAX_AMOUNT_MINOR:
        raise InvalidEvent("invalid_amount", f"amount_minor must be positive, got {amount}")
    currency = rec.get("currency")
    if currency not in ISO_4217:
        raise InvalidEvent("unknown_currency", f"currency {currency!r} is not an ISO 4217 code")
    event_time = rec.get("event_time")
    if not isinstance(event_time, int):
        raise InvalidEvent("missing_field", "event_time is missing or not an integer")
    if event_time > now_ms + max_future_skew_ms:
        raise InvalidEvent(
            "future_event_time",
            f"event_time {event_time} is {(event_time - now_ms) // 1000}s in the future",
        )
    if event_time < _EARLIEST_MS:
        raise InvalidEvent("invalid_event_time", f"event_time {event_time} is before 2000-01-01")
    offset = rec.get("utc_offset_minutes", 0)
    if not isinstance(offset, int) or not -720 <= offset <= 840:
        raise InvalidEvent("invalid_field", f"utc_offset_minutes out of range: {offset!r}")
    direction = rec.get("direction")
    if direction not in ("DEBIT", "CREDIT"):
        raise InvalidEvent("invalid_field", f"direction must be DEBIT or CREDIT, got {direction!r}")
    channel = rec.get("channel") or "OTHER"

    merchant = rec.get("merchant") or {}
    location = rec.get("location") or {}
    cp = rec.get("counterparty") or {}
    mcc = None
    if merchant:
        raw_mcc = merchant.get("mcc")
        if not (isinstance(raw_mcc, str) and len(raw_mcc) == 4 and raw_mcc.isdigit()):
            raise InvalidEvent(
                "invalid_field", f"merchant.mcc must be four digits, got {raw_mcc!r}"
            )
        mcc = int(raw_mcc)
    amount_usd = to_usd(amount, currency, usd_per_unit)
    if math.isnan(amount_usd):
        amount_usd = -1.0  # no reference rate: USD thresholds cannot fire on this event

    return PaymentEvent(
        event_id=rec["event_id"],
        event_time=event_time,
        utc_offset_minutes=offset,
        institution_id=rec["institution_id"],
        account_id=rec["account_id"],
        customer_id=rec["customer_id"],
        account_type=rec.get("account_type") or "PERSONAL",
        direction=direction,
        channel=channel,
        amount_minor=amount,
        currency=currency,
        amount_usd=amount_usd,
        merchant_id=merchant.get("merchant_id"),
        mcc=mcc,
        city=location.get("city") or merchant.get("city"),
        region=location.get("region") or merchant.get("region"),
        country=_country(location.get("country") or merchant.get("country"), "location.country"),
        terminal_id=location.get("terminal_id"),
        counterparty_account=cp.get("account_id"),
        counterparty_institution=cp.get("institution_id"),
        counterparty_country=_country(cp.get("country"), "counterparty.country"),
        counterparty_name_hash=cp.get("name_hash"),
        ultimate_party_hash=cp.get("ultimate_party_hash"),
        purpose=rec.get("purpose"),
        payroll=bool(rec.get("payroll", False)),
        holder_phone_hash=rec.get("holder_phone_hash"),
        holder_email_hash=rec.get("holder_email_hash"),
        holder_address_hash=rec.get("holder_address_hash"),
        device_hash=rec.get("device_hash"),
        wallet_address_hash=rec.get("wallet_address_hash"),
        passenger_name_hashes=rec.get("passenger_name_hashes") or [],
    )
