"""Turn a decoded record into a PaymentEvent, or say exactly why it cannot be one.

Every rejection carries a reason from a small fixed set (it becomes a metric label and the
dead-letter header) plus a detail naming the field and the bad value.
"""

from __future__ import annotations

import operator
import string
from dataclasses import fields
from typing import Any, Final, NoReturn

import msgspec

from processors.currency import DEFAULT_USD_PER_UNIT, ISO_4217, MINOR_PER_UNIT
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

_REQUIRED: Final = ("event_id", "institution_id", "account_id", "customer_id")
#: Longest text a field may hold (ISO 20022's longest, a name, is 140), and most passenger
#: names per payment. Strings are kept in account state and forwarded: one event with a
#: megabyte in a field would make the account's state too large for its changelog.
MAX_TEXT: Final = 256
MAX_PASSENGERS: Final = 64
_EARLIEST_MS: Final = 946_684_800_000  # 2000-01-01: older than any feed we accept
_MAX_AMOUNT_MINOR: Final = 10**15


class InvalidEvent(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


#: Every well-formed ISO 3166-1 alpha-2 code (ASCII A-Z): a set lookup per country field.
_ALPHA2: Final = frozenset(a + b for a in string.ascii_uppercase for b in string.ascii_uppercase)


def _bad_country(value: Any, field: str) -> NoReturn:
    """The rejection of a country field that is not None and not in _ALPHA2 (checked inline)."""
    raise InvalidEvent("invalid_field", f"{field} must be ISO 3166-1 alpha-2, got {value!r}")


#: The names of to_event's ``texts``, in order, for the message naming the bad one.
_TEXT_FIELDS: Final = (
    "account_type channel merchant.merchant_id merchant.city merchant.region merchant.country "
    "location.city location.region location.country location.terminal_id "
    "counterparty.account_id counterparty.institution_id counterparty.country "
    "counterparty.name_hash counterparty.ultimate_party_hash purpose holder_phone_hash "
    "holder_email_hash holder_address_hash device_hash wallet_address_hash"
).split()


def _check_texts(values: tuple) -> None:
    """Reject the first value that is neither None nor a string (str subclasses pass), or is
    longer than MAX_TEXT."""
    for name, value in zip(_TEXT_FIELDS, values, strict=True):
        if value is not None and not isinstance(value, str):
            raise InvalidEvent(
                "invalid_field", f"{name} must be a string, got {type(value).__name__}"
            )
        if value is not None and len(value) > MAX_TEXT:
            raise InvalidEvent("invalid_field", f"{name} is longer than {MAX_TEXT} characters")


def _too_long(values: tuple) -> NoReturn:
    """The rejection of a required id over MAX_TEXT (checked inline)."""
    for name, value in zip(_REQUIRED, values, strict=False):
        if len(value) > MAX_TEXT:
            raise InvalidEvent("invalid_field", f"{name} is longer than {MAX_TEXT} characters")
    raise AssertionError("no required id is too long")


def _check_passengers(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise InvalidEvent("invalid_field", "passenger_name_hashes must be a list of strings")
    if len(value) > MAX_PASSENGERS or any(len(p) > MAX_TEXT for p in value):
        raise InvalidEvent(
            "invalid_field",
            f"passenger_name_hashes: at most {MAX_PASSENGERS} of at most {MAX_TEXT} characters",
        )


def _check_object(value: Any, name: str) -> None:
    if not isinstance(value, dict):
        raise InvalidEvent("invalid_field", f"{name} must be an object, got {type(value).__name__}")


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


#: Every top-level field to_event reads, fetched in one C call. Records from the Avro decoder
#: carry all of them; a JSON record may leave optional ones out, and then gets the schema's
#: defaults first, so both paths check the same values.
_TOP_FIELDS = (
    "event_id institution_id account_id customer_id amount_minor currency event_time "
    "utc_offset_minutes direction channel merchant location counterparty account_type purpose "
    "payroll holder_phone_hash holder_email_hash holder_address_hash device_hash "
    "wallet_address_hash passenger_name_hashes"
).split()
if tuple(_TOP_FIELDS[: len(_REQUIRED)]) != _REQUIRED:  # to_event's slow path zips the two
    raise ImportError("processors.validation: _TOP_FIELDS must start with _REQUIRED")
_TOP: Final = operator.itemgetter(*_TOP_FIELDS)
_TOP_DEFAULTS: Final[dict[str, Any]] = {**dict.fromkeys(_TOP_FIELDS), "utc_offset_minutes": 0}

#: The top level of a payment record as a typed JSON decoder builds it (msgspec, in C), for
#: readers of JSON lines: no dict per record, which made a third of reading a line. Every value
#: stays untyped (nested records are plain dicts) and takes the same default as a key left out
#: of a dict, so to_event checks exactly what it checks on a dict, in the same order.
PaymentRecord: Final = msgspec.defstruct(
    "PaymentRecord",
    [(name, Any, default) for name, default in _TOP_DEFAULTS.items()],
    module=__name__,
    gc=False,  # holds no reference cycles; the collector need not track millions of them
)
_TOP_ATTRS: Final = operator.attrgetter(*_TOP_FIELDS)
_MERCHANT_FIELDS: Final = ("merchant_id", "mcc", "city", "region", "country")
_MERCHANT: Final = operator.itemgetter(*_MERCHANT_FIELDS)
_LOCATION_FIELDS: Final = ("city", "region", "country", "terminal_id")
_LOCATION: Final = operator.itemgetter(*_LOCATION_FIELDS)
_COUNTERPARTY_FIELDS: Final = (
    "account_id",
    "institution_id",
    "country",
    "name_hash",
    "ultimate_party_hash",
)
_COUNTERPARTY: Final = operator.itemgetter(*_COUNTERPARTY_FIELDS)


def to_event(
    rec: Any,  # a dict, or a PaymentRecord from the typed JSON-lines reader
    now_ms: int,
    max_future_skew_ms: int = 300_000,
    usd_per_unit: dict[str, float] = DEFAULT_USD_PER_UNIT,
) -> PaymentEvent:
    # Runs once per event in the worker and the backtest: one itemgetter call per record
    # instead of a lookup per field, then the checks a field-by-field reading makes, in order.
    if rec.__class__ is PaymentRecord:
        fields_ = _TOP_ATTRS(rec)
    else:
        try:
            fields_ = _TOP(rec)
        except KeyError:  # a sparse JSON record: absent optional fields take their defaults
            fields_ = _TOP({**_TOP_DEFAULTS, **rec})
    (event_id, institution_id, account_id, customer_id, amount, currency, event_time, offset,
     direction, channel, merchant, location, cp, account_type, purpose, payroll, phone, email,
     address, device, wallet, passengers) = fields_  # fmt: skip
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
        for name, value in zip(_REQUIRED, fields_, strict=False):
            if not isinstance(value, str) or not value:
                raise InvalidEvent("missing_field", f"{name} is missing or empty")
    if (
        len(event_id) > MAX_TEXT
        or len(institution_id) > MAX_TEXT
        or len(account_id) > MAX_TEXT
        or len(customer_id) > MAX_TEXT
    ):
        _too_long(fields_)
    if amount.__class__ is not int and (not isinstance(amount, int) or isinstance(amount, bool)):
        raise InvalidEvent("missing_field", "amount_minor is missing or not an integer")
    if amount <= 0 or amount > _MAX_AMOUNT_MINOR:
        raise InvalidEvent("invalid_amount", f"amount_minor must be positive, got {amount}")
    if currency.__class__ is not str or currency not in ISO_4217:  # (a list is unhashable)
        raise InvalidEvent("unknown_currency", f"currency {currency!r} is not an ISO 4217 code")
    if not isinstance(event_time, int):
        raise InvalidEvent("missing_field", "event_time is missing or not an integer")
    if event_time > now_ms + max_future_skew_ms:
        raise InvalidEvent(
            "future_event_time",
            f"event_time {event_time} is {(event_time - now_ms) // 1000}s in the future",
        )
    if event_time < _EARLIEST_MS:
        raise InvalidEvent("invalid_event_time", f"event_time {event_time} is before 2000-01-01")
    if not isinstance(offset, int) or not -720 <= offset <= 840:
        raise InvalidEvent("invalid_field", f"utc_offset_minutes out of range: {offset!r}")
    if direction != "DEBIT" and direction != "CREDIT":
        raise InvalidEvent("invalid_field", f"direction must be DEBIT or CREDIT, got {direction!r}")

    if merchant:
        if merchant.__class__ is not dict:
            _check_object(merchant, "merchant")
        try:
            merchant_id, raw_mcc, m_city, m_region, m_country = _MERCHANT(merchant)
        except KeyError:
            merchant_id, raw_mcc, m_city, m_region, m_country = map(merchant.get, _MERCHANT_FIELDS)
        if not (
            isinstance(raw_mcc, str)
            and len(raw_mcc) == 4
            and raw_mcc.isascii()
            and raw_mcc.isdigit()
        ):  # isdigit() alone takes "²³⁴⁵", which int() refuses
            raise InvalidEvent(
                "invalid_field", f"merchant.mcc must be four digits, got {raw_mcc!r}"
            )
        mcc: int | None = int(raw_mcc)
    else:
        merchant_id = m_city = m_region = m_country = None
        mcc = None
    if location:
        if location.__class__ is not dict:
            _check_object(location, "location")
        try:
            city, region, country, terminal_id = _LOCATION(location)
        except KeyError:
            city, region, country, terminal_id = map(location.get, _LOCATION_FIELDS)
    else:
        city = region = country = terminal_id = None
    if cp:
        if cp.__class__ is not dict:
            _check_object(cp, "counterparty")
        try:
            cp_account, cp_institution, cp_country, cp_name, cp_ultimate = _COUNTERPARTY(cp)
        except KeyError:
            cp_account, cp_institution, cp_country, cp_name, cp_ultimate = map(
                cp.get, _COUNTERPARTY_FIELDS
            )
    else:
        cp_account = cp_institution = cp_country = cp_name = cp_ultimate = None
    # Every optional text field is a string or absent. Without this a number there went on
    # into the detectors (or, compiled, failed building the event with a bare TypeError).
    texts = (account_type, channel, merchant_id, m_city, m_region, m_country, city, region,
             country, terminal_id, cp_account, cp_institution, cp_country, cp_name, cp_ultimate,
             purpose, phone, email, address, device, wallet)  # fmt: skip
    for value in texts:
        if value is not None and (value.__class__ is not str or len(value) > MAX_TEXT):
            _check_texts(texts)
            break
    if passengers:
        if (
            passengers.__class__ is not list
            or len(passengers) > MAX_PASSENGERS
            or not all(p.__class__ is str and len(p) <= MAX_TEXT for p in passengers)
        ):
            _check_passengers(passengers)
    else:
        passengers = []
    city = city or m_city
    region = region or m_region
    country = country or m_country
    rate = usd_per_unit.get(currency)  # to_usd, inlined: it runs on every event
    # No reference rate: -1, so that USD thresholds cannot fire on this event.
    amount_usd = -1.0 if rate is None else amount / MINOR_PER_UNIT[currency] * rate

    return PaymentEvent(
        event_id,
        event_time,
        offset,
        institution_id,
        account_id,
        customer_id,
        account_type or "PERSONAL",
        direction,
        channel or "OTHER",
        amount,
        currency,
        amount_usd,
        merchant_id,
        mcc,
        city,
        region,
        country
        if country is None or country in _ALPHA2
        else _bad_country(country, "location.country"),
        terminal_id,
        cp_account,
        cp_institution,
        cp_country
        if cp_country is None or cp_country in _ALPHA2
        else _bad_country(cp_country, "counterparty.country"),
        cp_name,
        cp_ultimate,
        purpose,
        bool(payroll),
        phone,
        email,
        address,
        device,
        wallet,
        passengers,
    )
