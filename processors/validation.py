"""Turn a decoded record into a PaymentEvent, or say exactly why it cannot be one.

Every rejection carries a reason from a small fixed set (it becomes a metric label and the
dead-letter header) plus a detail naming the field and the bad value.
"""

from __future__ import annotations

from dataclasses import fields
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
_EMPTY: dict[str, Any] = {}  # an absent nested record (read only)


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


# PaymentEvent is built positionally below: 31 keyword arguments cost ~1.5 us per event
# (a tenth of validation; measured with timeit). This pins the order it relies
# on, at import, so a new or moved field fails loudly instead of shifting values.
_POSITIONAL = (
    "event_id event_time utc_offset_minutes institution_id account_id customer_id account_type "
    "direction channel amount_minor currency amount_usd merchant_id mcc city region country "
    "terminal_id counterparty_account counterparty_institution counterparty_country "
    "counterparty_name_hash ultimate_party_hash purpose payroll holder_phone_hash "
    "holder_email_hash holder_address_hash device_hash wallet_address_hash passenger_name_hashes"
).split()
if tuple(f.name for f in fields(PaymentEvent)) != tuple(_POSITIONAL):
    raise ImportError("processors.validation: PaymentEvent fields changed; update to_event")


def to_event(
    rec: dict[str, Any],
    now_ms: int,
    max_future_skew_ms: int = 300_000,
    usd_per_unit: dict[str, float] = DEFAULT_USD_PER_UNIT,
) -> PaymentEvent:
    # Runs once per event in the worker and the backtest: rec.get is bound once, and the
    # checks are the same as a field-by-field reading would make, in the same order.
    get = rec.get
    event_id = get("event_id")
    institution_id = get("institution_id")
    account_id = get("account_id")
    customer_id = get("customer_id")
    if not (
        event_id.__class__ is str
        and institution_id.__class__ is str
        and account_id.__class__ is str
        and customer_id.__class__ is str
        and event_id
        and institution_id
        and account_id
        and customer_id
    ):  # the slow path names the first bad one (and lets str subclasses through)
        for name in _REQUIRED:
            value = get(name)
            if not isinstance(value, str) or not value:
                raise InvalidEvent("missing_field", f"{name} is missing or empty")
    amount = get("amount_minor")
    if amount.__class__ is not int and (not isinstance(amount, int) or isinstance(amount, bool)):
        raise InvalidEvent("missing_field", "amount_minor is missing or not an integer")
    if amount <= 0 or amount > _MAX_AMOUNT_MINOR:
        raise InvalidEvent("invalid_amount", f"amount_minor must be positive, got {amount}")
    currency = get("currency")
    if currency not in ISO_4217:
        raise InvalidEvent("unknown_currency", f"currency {currency!r} is not an ISO 4217 code")
    event_time = get("event_time")
    if not isinstance(event_time, int):
        raise InvalidEvent("missing_field", "event_time is missing or not an integer")
    if event_time > now_ms + max_future_skew_ms:
        raise InvalidEvent(
            "future_event_time",
            f"event_time {event_time} is {(event_time - now_ms) // 1000}s in the future",
        )
    if event_time < _EARLIEST_MS:
        raise InvalidEvent("invalid_event_time", f"event_time {event_time} is before 2000-01-01")
    offset = get("utc_offset_minutes", 0)
    if not isinstance(offset, int) or not -720 <= offset <= 840:
        raise InvalidEvent("invalid_field", f"utc_offset_minutes out of range: {offset!r}")
    direction = get("direction")
    if direction != "DEBIT" and direction != "CREDIT":
        raise InvalidEvent("invalid_field", f"direction must be DEBIT or CREDIT, got {direction!r}")
    channel = get("channel") or "OTHER"

    merchant = get("merchant") or _EMPTY
    location = get("location") or _EMPTY
    cp = get("counterparty") or _EMPTY
    mcc = None
    if merchant:
        raw_mcc = merchant.get("mcc")
        if not (isinstance(raw_mcc, str) and len(raw_mcc) == 4 and raw_mcc.isdigit()):
            raise InvalidEvent(
                "invalid_field", f"merchant.mcc must be four digits, got {raw_mcc!r}"
            )
        mcc = int(raw_mcc)
    amount_usd = to_usd(amount, currency, usd_per_unit)
    if amount_usd != amount_usd:  # NaN (math.isnan, without the call)
        amount_usd = -1.0  # no reference rate: USD thresholds cannot fire on this event
    country = location.get("country") or merchant.get("country")
    cp_country = cp.get("country")

    return PaymentEvent(
        event_id,
        event_time,
        offset,
        institution_id,
        account_id,
        customer_id,
        get("account_type") or "PERSONAL",
        direction,
        channel,
        amount,
        currency,
        amount_usd,
        merchant.get("merchant_id"),
        mcc,
        location.get("city") or merchant.get("city"),
        location.get("region") or merchant.get("region"),
        country if country is None else _country(country, "location.country"),
        location.get("terminal_id"),
        cp.get("account_id"),  # counterparty_account
        cp.get("institution_id"),
        cp_country if cp_country is None else _country(cp_country, "counterparty.country"),
        cp.get("name_hash"),
        cp.get("ultimate_party_hash"),
        get("purpose"),
        bool(get("payroll", False)),
        get("holder_phone_hash"),
        get("holder_email_hash"),
        get("holder_address_hash"),
        get("device_hash"),
        get("wallet_address_hash"),
        get("passenger_name_hashes") or [],
    )
