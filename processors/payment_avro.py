"""Avro binary payment_event records (the current schema) straight into PaymentRecord structs.

Why: reading an Avro container for the backtest, fastavro's generic decoder spent about 9 us a
record building dicts for this schema, more than validation and detection together, so Avro
input could not reach the backtest's 100,000 events/s. This decoder knows the one layout it
reads and, compiled (scripts/build_native.py), takes about 1 us. It is used only where the
writer schema is exactly the one ``LAYOUT`` spells out (the caller compares parsing canonical
forms) and only when compiled (interpreted it is slower than fastavro); anything else goes
to fastavro, which also resolves older writer schemas.
``tests/processors/test_payment_avro.py`` checks ``LAYOUT`` against schemas/payment_event.avsc
and the output against fastavro's on records that take every union branch.

Nested records come out as the dicts fastavro makes (merchant, counterparty, location, with
every field), the top level as the PaymentRecord struct the JSON-lines reader makes, so
``to_event`` sees the same values either way. Corrupt bytes raise (IndexError, ValueError,
UnicodeDecodeError); the caller then lets fastavro decode the block and report it.
"""

from __future__ import annotations

from typing import Any, Final

from processors.validation import PaymentRecord

ACCOUNT_TYPES: Final = ("PERSONAL", "BUSINESS")
DIRECTIONS: Final = ("DEBIT", "CREDIT")
CHANNELS: Final = (
    "CARD_PRESENT", "CARD_NOT_PRESENT", "CASH_DEPOSIT", "CASH_WITHDRAWAL", "ATM", "WIRE", "ACH",
    "P2P", "REMITTANCE", "PREPAID_LOAD", "CRYPTO", "OTHER",
)  # fmt: skip
_OPT: Final = ["null", "string"]

#: The writer schema ``Decoder.record`` reads, field by field in order, as (name, type) with
#: enums as ("enum", symbols) and records as ("record", fields). A test compares it with the
#: schema file, so a schema change that this decoder does not follow fails there first.
LAYOUT: Final[tuple] = (
    ("event_id", "string"),
    ("event_time", "long"),
    ("utc_offset_minutes", "int"),
    ("institution_id", "string"),
    ("account_id", "string"),
    ("customer_id", "string"),
    ("account_type", ("enum", ACCOUNT_TYPES)),
    ("direction", ("enum", DIRECTIONS)),
    ("channel", ("enum", CHANNELS)),
    ("amount_minor", "long"),
    ("currency", "string"),
    ("merchant", ["null", ("record", (
        ("merchant_id", "string"), ("name", _OPT), ("mcc", "string"), ("city", _OPT),
        ("region", _OPT), ("country", _OPT),
    ))]),
    ("counterparty", ["null", ("record", (
        ("account_id", _OPT), ("institution_id", _OPT), ("country", _OPT), ("name_hash", _OPT),
        ("ultimate_party_hash", _OPT),
    ))]),
    ("location", ["null", ("record", (
        ("city", _OPT), ("region", _OPT), ("country", _OPT), ("terminal_id", _OPT),
    ))]),
    ("purpose", _OPT),
    ("payroll", "boolean"),
    ("holder_phone_hash", _OPT),
    ("holder_email_hash", _OPT),
    ("holder_address_hash", _OPT),
    ("device_hash", _OPT),
    ("wallet_address_hash", _OPT),
    ("passenger_name_hashes", ("array", "string")),
)  # fmt: skip


class Decoder:
    """Reads consecutive records from one buffer (an Avro container block's bytes)."""

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def long(self) -> int:
        """A zig-zag varint (Avro int and long)."""
        buf = self.buf
        pos = self.pos
        b = buf[pos]
        pos += 1
        n = b & 0x7F
        shift = 7
        while b & 0x80:
            if shift > 63:
                raise ValueError("varint longer than 64 bits")
            b = buf[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
        self.pos = pos
        return (n >> 1) ^ -(n & 1)

    def string(self) -> str:
        n = self.long()
        start = self.pos
        end = start + n
        if n < 0 or end > len(self.buf):
            raise ValueError("string runs past the end of the block")
        self.pos = end
        return self.buf[start:end].decode()

    def opt_string(self) -> str | None:
        branch = self.long()
        if branch == 0:
            return None
        if branch != 1:
            raise ValueError(f"union branch {branch} of [null, string]")
        return self.string()

    def present(self) -> bool:
        """The branch of a ["null", record] union: True for the record."""
        branch = self.long()
        if branch != 0 and branch != 1:
            raise ValueError(f"union branch {branch} of [null, record]")
        return branch == 1

    def enum(self, symbols: tuple[str, ...]) -> str:
        i = self.long()
        if i < 0:
            raise ValueError(f"enum index {i}")
        return symbols[i]  # past the end: IndexError

    def boolean(self) -> bool:
        b = self.buf[self.pos]
        self.pos += 1
        if b > 1:
            raise ValueError(f"boolean byte {b}")
        return b == 1

    def strings(self) -> list[str]:
        out: list[str] = []
        while True:
            count = self.long()
            if count == 0:
                return out
            if count < 0:  # a block that also says its size in bytes
                count = -count
                self.long()
            for _ in range(count):
                out.append(self.string())

    def record(self) -> Any:
        # In LAYOUT order; the struct takes its fields in _TOP_FIELDS order (validation.py).
        event_id = self.string()
        event_time = self.long()
        offset = self.long()
        institution_id = self.string()
        account_id = self.string()
        customer_id = self.string()
        account_type = self.enum(ACCOUNT_TYPES)
        direction = self.enum(DIRECTIONS)
        channel = self.enum(CHANNELS)
        amount = self.long()
        currency = self.string()
        merchant: dict[str, Any] | None = None
        if self.present():
            merchant = {
                "merchant_id": self.string(),
                "name": self.opt_string(),
                "mcc": self.string(),
                "city": self.opt_string(),
                "region": self.opt_string(),
                "country": self.opt_string(),
            }
        counterparty: dict[str, Any] | None = None
        if self.present():
            counterparty = {
                "account_id": self.opt_string(),
                "institution_id": self.opt_string(),
                "country": self.opt_string(),
                "name_hash": self.opt_string(),
                "ultimate_party_hash": self.opt_string(),
            }
        location: dict[str, Any] | None = None
        if self.present():
            location = {
                "city": self.opt_string(),
                "region": self.opt_string(),
                "country": self.opt_string(),
                "terminal_id": self.opt_string(),
            }
        purpose = self.opt_string()
        payroll = self.boolean()
        phone = self.opt_string()
        email = self.opt_string()
        address = self.opt_string()
        device = self.opt_string()
        wallet = self.opt_string()
        passengers = self.strings()
        return PaymentRecord(
            event_id, institution_id, account_id, customer_id, amount, currency, event_time,
            offset, direction, channel, merchant, location, counterparty, account_type, purpose,
            payroll, phone, email, address, device, wallet, passengers,
        )  # fmt: skip


def decode_block(buf: bytes, count: int) -> list[Any]:
    """``count`` records filling ``buf`` exactly; raises if the bytes say otherwise."""
    dec = Decoder(buf)
    out = [dec.record() for _ in range(count)]
    if dec.pos != len(buf):
        raise ValueError(f"{len(buf) - dec.pos} bytes left after {count} records")
    return out


def decode_message(buf: bytes, offset: int) -> Any:
    """One record that fills ``buf`` from ``offset`` to its end (a Kafka message's body after
    its framing header); raises if the bytes say otherwise."""
    dec = Decoder(buf)
    dec.pos = offset
    record = dec.record()
    if dec.pos != len(buf):
        raise ValueError(f"{len(buf) - dec.pos} trailing bytes after record")
    return record
