"""The shared intelligence feed, transport-free: normalising, keyed hashing, the entry model
and the in-memory index the detectors consult.

Consortium members share one key (CB_HASH_KEY). Contributors hash identifiers on their own
machine under it, and publishers of payment events hash the identifiers they put on events
under the same key, so the feed and the events meet on equal hashes while no raw phone
number, e-mail or address is ever shared. Equal hashes need equal inputs: everyone normalises
with :func:`normalise` before hashing, which is why it lives here and not in the CLI.

The index is one plain dict per identifier kind. A background thread writes it (single dict
assignments and deletions, atomic under the GIL) while the hot path only reads it, so a
lookup is one ``dict.get`` and never a network round trip.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

#: Identifier kinds and the event fields they match (see the detectors).
KINDS = ("phone", "email", "address", "device", "name", "wallet", "merchant", "account")
#: Categories the issue names; others are accepted (the list grows), these are routed below.
CATEGORIES = (
    "ad_site",
    "illicit_massage_business",
    "unlicensed_recruiter",
    "dark_web_market",
    "sex_ad_identifier",
)
#: A payee category that has its own indicator; holder matches of these kinds go elsewhere.
AD_SITE = "ad_site"
UNLICENSED_RECRUITER = "unlicensed_recruiter"
DARK_WEB_MARKET = "dark_web_market"

MAX_LABEL = 64  # category and source are short labels, not free text (they reach alerts)
_LABEL = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
_HEX = re.compile(r"^(0x)?[0-9a-fA-F]+$")
_HASH = re.compile(r"^[0-9a-f]{64}$")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


class IntelError(ValueError):
    """An identifier or entry that cannot be used. Never quotes the raw identifier."""


def keyed_hash(key: str, value: str) -> str:
    """HMAC-SHA256 under the consortium key: joinable across institutions, useless if leaked."""
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def _phone(value: str) -> str:
    v = value.strip()
    if v.startswith("00"):
        v = "+" + v[2:]
    if not v.startswith("+"):
        raise IntelError(
            "phone: include the country code ('+' or '00' then the country code), so the "
            "same number hashes the same everywhere"
        )
    if re.search(r"[^\d\s().\-/+]", v[1:]) or "+" in v[1:]:
        raise IntelError("phone: only digits, spaces, dots, dashes, slashes and parentheses")
    digits = re.sub(r"\D", "", v)
    if not 8 <= len(digits) <= 15:  # E.164: at most 15 digits, country code included
        raise IntelError(f"phone: {len(digits)} digits; E.164 numbers have 8 to 15")
    return "+" + digits


def _email(value: str) -> str:
    v = value.strip().lower()
    if v.count("@") != 1 or v.startswith("@") or v.endswith("@") or any(c.isspace() for c in v):
        raise IntelError("email: not a single address of the form local@domain")
    return v


def _words(value: str) -> str:
    """Lower-case, punctuation to spaces, whitespace collapsed ("12 Main St." == "12 main st")."""
    v = unicodedata.normalize("NFKC", value).casefold()
    return " ".join(_NON_WORD.sub(" ", v).split())


def _wallet(value: str) -> str:
    v = value.strip()
    # Hex addresses (Ethereum and kin) are case-insensitive; base58/bech32 ones are not.
    return v.lower() if v.startswith("0x") and _HEX.match(v) else v


def normalise(kind: str, value: str) -> str:
    """The canonical form of a raw identifier, the one every party hashes.

    phone: E.164, '+' and digits (the payment contract's "E.164 normalised"); e-mail:
    trimmed, lower-case; address and name: lower-case, punctuation and runs of whitespace
    collapsed to one space; wallet: trimmed, lower-case when hex; merchant id, device and
    account: trimmed.
    """
    if kind not in KINDS:
        raise IntelError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    if not isinstance(value, str) or not value.strip():
        raise IntelError(f"{kind}: empty value")
    if kind == "phone":
        out = _phone(value)
    elif kind == "email":
        out = _email(value)
    elif kind in ("address", "name"):
        out = _words(value)
    elif kind == "wallet":
        out = _wallet(value)
    else:
        out = value.strip()
    if not out:
        raise IntelError(f"{kind}: nothing left after normalising")
    return out


def hash_identifier(key: str, kind: str, value: str) -> str:
    """Normalise then hash: what a contributor and a payment publisher both compute."""
    return keyed_hash(key, normalise(kind, value))


def entry_key(kind: str, digest: str) -> bytes:
    """The topic key, ``<kind>:<hash>``: compaction keeps one record per identifier."""
    return f"{kind}:{digest}".encode()


def parse_key(key: bytes | None) -> tuple[str, str]:
    try:
        kind, digest = (key or b"").decode().split(":", 1)
    except (UnicodeDecodeError, ValueError):
        raise IntelError("key: not of the form <kind>:<hash>") from None
    if kind not in KINDS or not _HASH.match(digest):
        raise IntelError("key: unknown kind or not a SHA-256 hex digest")
    return kind, digest


def check_label(field: str, value: str) -> str:
    v = value.strip().lower()
    if not v or len(v) > MAX_LABEL or not _LABEL.match(v):
        raise IntelError(
            f"{field}: a short label of lower-case letters, digits, '_', '-', '.' "
            f"(at most {MAX_LABEL} characters), e.g. sex_ad_identifier"
        )
    return v


@dataclass(frozen=True, slots=True)
class IntelEntry:
    """One listed identifier. Carries its hash only; the raw value never left its contributor."""

    kind: str
    hash: str
    category: str
    source: str
    confidence: float
    expires_ms: int | None  # event time from which it stops matching; None: until removed
    added_ms: int

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise IntelError(f"kind: {self.kind!r} is not one of {', '.join(KINDS)}")
        if not _HASH.match(self.hash):
            raise IntelError("hash: not a SHA-256 hex digest")
        check_label("category", self.category)
        check_label("source", self.source)
        if not 0.0 < self.confidence <= 1.0:
            raise IntelError(f"confidence: must be in (0, 1], got {self.confidence!r}")

    @property
    def key(self) -> bytes:
        return entry_key(self.kind, self.hash)

    def active_at(self, event_time: int) -> bool:
        return self.expires_ms is None or event_time < self.expires_ms

    def describe(self) -> str:
        """For explanations: category, source and confidence, never the value or its hash."""
        return f"{self.category} from {self.source}, confidence {self.confidence:.2f}"

    def to_record(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "hash": self.hash,
            "category": self.category,
            "source": self.source,
            "confidence": self.confidence,
            "expires_at": self.expires_ms,
            "added_at": self.added_ms,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> IntelEntry:
        return cls(
            kind=record["kind"],
            hash=record["hash"],
            category=record["category"],
            source=record["source"],
            confidence=float(record["confidence"]),
            expires_ms=record.get("expires_at"),
            added_ms=int(record["added_at"]),
        )


class IntelIndex:
    """Every listed identifier, by kind then hash; what the matching detectors look up.

    Written by one thread (the feed replica), read by the event loop. Each write is a single
    dict operation, so a reader sees an entry either before or after it changed, never half.
    Expired entries stay (an event from before the expiry still matches, in replays and the
    backtest alike) until the feed removes them.
    """

    MERCHANT_CACHE_MAX = 50_000

    def __init__(self, hash_key: str | None = None) -> None:
        self._by_kind: dict[str, dict[str, IntelEntry]] = {k: {} for k in KINDS}
        self._hash_key = hash_key
        self._merchant_hashes: dict[str, str] = {}
        self.updates = 0  # puts and removals applied, for metrics and tests

    def __len__(self) -> int:
        return sum(len(d) for d in self._by_kind.values())

    def __iter__(self) -> Iterator[IntelEntry]:
        for d in list(self._by_kind.values()):
            yield from list(d.values())

    def put(self, entry: IntelEntry) -> None:
        self._by_kind[entry.kind][entry.hash] = entry
        self.updates += 1

    def remove(self, kind: str, digest: str) -> bool:
        self.updates += 1
        return self._by_kind[kind].pop(digest, None) is not None

    def get(self, kind: str, digest: str | None) -> IntelEntry | None:
        """The entry listed for this hash, expired or not."""
        return None if digest is None else self._by_kind[kind].get(digest)

    def match(self, kind: str, digest: str | None, event_time: int) -> IntelEntry | None:
        """The entry for this hash if it was in force at ``event_time``."""
        if digest is None:
            return None
        entry = self._by_kind[kind].get(digest)
        if entry is None or (entry.expires_ms is not None and event_time >= entry.expires_ms):
            return None
        return entry

    def table(self, kind: str) -> dict[str, IntelEntry]:
        """The live dict for one kind, for hot loops that inline :meth:`match`."""
        return self._by_kind[kind]

    def count(self, kind: str) -> int:
        return len(self._by_kind[kind])

    def merchant_hash(self, merchant_id: str) -> str | None:
        """Events carry merchant ids in clear; the feed lists their hashes. Hashing costs ~1 µs,
        so the hashes of recently seen merchants are kept (bounded: when full, the oldest
        half goes; merchants repeat a lot, so the cache stays warm)."""
        cache = self._merchant_hashes
        digest = cache.get(merchant_id)
        if digest is None:
            if self._hash_key is None:
                return None
            digest = keyed_hash(self._hash_key, merchant_id.strip())
            if len(cache) >= self.MERCHANT_CACHE_MAX:
                for old in list(cache)[: self.MERCHANT_CACHE_MAX // 2]:
                    del cache[old]
            cache[merchant_id] = digest
        return digest

    def match_merchant(self, merchant_id: str | None, event_time: int) -> IntelEntry | None:
        if merchant_id is None or not self._by_kind["merchant"]:
            return None
        return self.match("merchant", self.merchant_hash(merchant_id), event_time)
