"""Who pays whom: the reporting institutions, counterparties and merchants of the world.

Merchants are pure functions of (city, category, index), so no catalog is stored; their brands
and codes are data (simulator/data/merchants.json).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from simulator.geography import City, city, load_data


@dataclass(frozen=True, slots=True)
class Institution:
    id: str
    country: str
    currency: str
    bank: bool  # banks have branches and ATMs; MSBs have agents and no ATMs


BANK_US = Institution("bank-us-01", "US", "USD", True)
MSB_US = Institution("msb-us-02", "US", "USD", False)
CU_CA = Institution("cu-ca-03", "CA", "CAD", True)


@dataclass(frozen=True, slots=True)
class Party:
    account_id: str | None
    institution_id: str | None
    country: str | None
    name_hash: str | None

    def record(self, ultimate: str | None = None) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "institution_id": self.institution_id,
            "country": self.country,
            "name_hash": self.name_hash,
            "ultimate_party_hash": ultimate,
        }


@dataclass(frozen=True, slots=True)
class Merchant:
    merchant_id: str
    name: str
    mcc: str
    city: City
    terminal_id: str

    def record(self) -> dict[str, Any]:
        c = self.city
        return {
            "merchant_id": self.merchant_id,
            "name": self.name,
            "mcc": self.mcc,
            "city": c.name,
            "region": c.region,
            "country": c.country,
        }

    def location(self) -> dict[str, Any]:
        c = self.city
        return {
            "city": c.name,
            "region": c.region,
            "country": c.country,
            "terminal_id": self.terminal_id,
        }


_MERCHANTS = load_data("merchants")
CATEGORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    name: (row["mcc"], tuple(row["brands"])) for name, row in _MERCHANTS["categories"].items()
}
# Card-not-present merchants: (name, mcc, headquarters).
OnlineMerchant = tuple[str, str, City]


def _online(row: dict[str, str]) -> OnlineMerchant:
    return row["name"], row["mcc"], city(row["hq"])


ONLINE = tuple(_online(r) for r in _MERCHANTS["online"])
AIRLINES = tuple(_online(r) for r in _MERCHANTS["airlines"])
# Online classified-ad sites (no reliable MCC: two under advertising services 7311, one under a
# generic digital-goods code, caught only through the watchlist), a crypto exchange, prepaid
# card sellers, ride-hail and car rental.
AD_SITES = tuple(_online(r) for r in _MERCHANTS["ad_sites"])
CRYPTO_EXCHANGE = _online(_MERCHANTS["crypto_exchange"])
RIDE_HAIL = _online(_MERCHANTS["ride_hail"])
BUSINESS_MCC: dict[str, str] = dict(_MERCHANTS["business_mcc"])


def city_code(city: City) -> int:
    return zlib.crc32(f"{city.name}|{city.region}".encode())


@lru_cache(maxsize=4096)
def merchant(city: City, category: str, i: int) -> Merchant:
    """The i-th merchant of a category in a city; a pure function, so no catalog is stored."""
    mcc, brands = CATEGORIES[category]
    code = city_code(city)
    return Merchant(
        merchant_id=f"{code % 10**6:06d}{mcc}{i:05d}",
        name=f"{brands[i % len(brands)]} {city.name}",
        mcc=mcc,
        city=city,
        terminal_id=f"T{code % 10**4:04d}{mcc}{i:02d}",
    )


@lru_cache(maxsize=64)
def online_merchant(name: str, mcc: str, hq: City) -> Merchant:
    return Merchant(f"{zlib.crc32(name.encode()) % 10**15:015d}", name, mcc, hq, "")


def cash_location(inst: Institution, city: City, kind: str) -> dict[str, Any]:
    """ATM, branch or MSB agent: terminal ids stable per institution, city and kind."""
    n = city_code(city) % 1000
    prefix = {"atm": "ATM", "branch": "BR", "agent": "AGT"}[kind]
    return {
        "city": city.name,
        "region": city.region,
        "country": city.country,
        "terminal_id": f"{prefix}-{inst.id}-{n:03d}",
    }
