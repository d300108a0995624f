"""Where the simulated world is: cities and their clocks, regions, and the corridors abroad.

The tables are data (simulator/data/cities.json, corridors.json), loaded once at import; their
order is part of the seed's meaning (draws pick by position), so append, never reorder. UTC
offsets are computed here, not from tzdata, so output is identical on every machine.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from simulator.clock import DAY_MS, EPOCH_ORDINAL, HOUR_MS, MIN_MS, cum

DATA = Path(__file__).resolve().parent / "data"


def load_data(name: str) -> dict[str, Any]:
    """One of simulator/data/*.json (the world's tables)."""
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class City:
    name: str
    region: str  # ISO 3166-2
    country: str
    std_offset: int  # minutes
    dst: bool = True


def _cities(country: str, rows: list[dict[str, Any]]) -> tuple[City, ...]:
    return tuple(
        City(r["name"], r["region"], country, r["std_offset"], r.get("dst", True)) for r in rows
    )


_CITIES = load_data("cities")
US_CITIES = _cities("US", _CITIES["US"])
CA_CITIES = _cities("CA", _CITIES["CA"])
CITIES = {"US": US_CITIES, "CA": CA_CITIES}
ALL_CITIES = US_CITIES + CA_CITIES
BORDER_CITIES = tuple(c for c in US_CITIES if c.region in ("US-TX", "US-AZ", "US-CA"))
_BY_NAME = {c.name: c for c in ALL_CITIES}


def city(name: str) -> City:
    """A city of the tables by name (how the data files refer to one)."""
    return _BY_NAME[name]


_CORRIDORS = load_data("corridors")
REMIT_COUNTRIES = tuple(_CORRIDORS["remittance"]["countries"])
REMIT_WEIGHTS = cum(_CORRIDORS["remittance"]["weights"])
SMUGGLING_CORRIDORS = tuple(_CORRIDORS["smuggling"])
PAYOUT_BANKS: dict[str, str] = dict(_CORRIDORS["payout_banks"])


@lru_cache(maxsize=512)
def _dst_window(year: int, std_offset: int) -> tuple[int, int]:
    """US/Canada rule since 2007: 2nd Sunday of March 02:00 to 1st Sunday of November 02:00."""
    mar8, nov1 = date(year, 3, 8), date(year, 11, 1)
    start = mar8 + timedelta(days=(6 - mar8.weekday()) % 7)
    end = nov1 + timedelta(days=(6 - nov1.weekday()) % 7)
    std = std_offset * MIN_MS
    return (
        (start.toordinal() - EPOCH_ORDINAL) * DAY_MS + 2 * HOUR_MS - std,
        (end.toordinal() - EPOCH_ORDINAL) * DAY_MS + HOUR_MS - std,
    )


def utc_offset(city: City, t_ms: int) -> int:
    """UTC offset in minutes; computed here, not from tzdata, so output is identical everywhere."""
    if not city.dst:
        return city.std_offset
    lo, hi = _dst_window(datetime.fromtimestamp(t_ms / 1000, UTC).year, city.std_offset)
    return city.std_offset + 60 if lo <= t_ms < hi else city.std_offset


def distinct_regions(rng: random.Random, cities: Sequence[City], k: int) -> list[City]:
    by_region: dict[str, list[City]] = {}
    for c in cities:
        by_region.setdefault(c.region, []).append(c)
    regions = rng.sample(sorted(by_region), min(k, len(by_region)))
    return [rng.choice(by_region[r]) for r in regions]
