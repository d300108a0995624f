"""Raw personal identifiers -> keyed hashes, on the publisher's side, before anything is sent.

The payment contract carries only keyed hashes (HMAC-SHA256 under the consortium key,
CB_HASH_KEY) of the holder's phone, e-mail and address, device, wallet and passenger names.
A publisher whose records hold the clear values hands them to :func:`hash_identifiers`
(`chainbreaker publish --hash-identifiers` does, line by line): each is normalised as every
consortium member normalises it (processors.intel.normalise: E.164 phones, lower-case
e-mail, collapsed addresses) and hashed; the clear value is dropped from the record. A value
that cannot be normalised (a phone without its country code) is refused, with the field
named and never the value, rather than hashed in a form no one else would match.
"""

from __future__ import annotations

from typing import Any

from processors.intel import IntelError, hash_identifier

# raw field -> (identifier kind, the contract's hash field)
RAW_FIELDS: dict[str, tuple[str, str]] = {
    "holder_phone": ("phone", "holder_phone_hash"),
    "holder_email": ("email", "holder_email_hash"),
    "holder_address": ("address", "holder_address_hash"),
    "device_id": ("device", "device_hash"),
    "wallet_address": ("wallet", "wallet_address_hash"),
}
RAW_LISTS: dict[str, tuple[str, str]] = {"passenger_names": ("name", "passenger_name_hashes")}
RAW_COUNTERPARTY: dict[str, tuple[str, str]] = {
    "name": ("name", "name_hash"),
    "ultimate_party_name": ("name", "ultimate_party_hash"),
}


class IdentifierError(ValueError):
    """A raw identifier that cannot be hashed; names the field, never the value."""


def _hash(key: str, kind: str, value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise IdentifierError(f"{field} must be a string")
    try:
        return hash_identifier(key, kind, value)
    except IntelError as exc:
        reason = str(exc).split(":", 1)[-1].strip()
        raise IdentifierError(f"{field}: {reason}") from None


def hash_identifiers(record: dict[str, Any], key: str) -> dict[str, Any]:
    """A copy of ``record`` with every raw identifier replaced by its keyed hash."""
    out = dict(record)
    for raw, (kind, target) in RAW_FIELDS.items():
        value = out.pop(raw, None)
        if value is not None:
            out[target] = _hash(key, kind, value, raw)
    for raw, (kind, target) in RAW_LISTS.items():
        values = out.pop(raw, None)
        if values is not None:
            if not isinstance(values, list):
                raise IdentifierError(f"{raw} must be a list of strings")
            out[target] = [_hash(key, kind, v, raw) for v in values]
    counterparty = out.get("counterparty")
    if isinstance(counterparty, dict) and any(k in counterparty for k in RAW_COUNTERPARTY):
        cp = dict(counterparty)
        for raw, (kind, target) in RAW_COUNTERPARTY.items():
            value = cp.pop(raw, None)
            if value is not None:
                cp[target] = _hash(key, kind, value, f"counterparty.{raw}")
        out["counterparty"] = cp
    return out


def hash_rows(rows, key: str):
    """`chainbreaker publish --hash-identifiers`: each (line, record) with its raw identifiers
    hashed, or a rejection of the line (reason invalid_field) naming the field."""
    from publisher.files import RecordError

    for line, rec in rows:
        if isinstance(rec, dict):
            try:
                rec = hash_identifiers(rec, key)
            except IdentifierError as exc:
                rec = RecordError("invalid_field", str(exc))
        yield line, rec
