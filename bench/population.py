"""Populations for the worker benchmarks: fresh accounts, and mature ones with busy businesses.

The simulator's population is mostly consumers with one or two payments a day; its businesses
make a few. Production accounts are older and busier: a card account sees several payments a
day and a business account hundreds. What a worker costs on such accounts (their state has
filled every detector's window) is what a payment processor pays, so the mature population
adds business accounts with dozens of payments a day (card purchases, customers paying in
by P2P and card-not-present, supplier ACH, weekly payroll, daily cash deposits) to the
simulator's traffic, over months.

The busy businesses are generated here, not in the simulator: they are load, not a
scenario, and the simulator's seeded populations stay what the backtest's figures are
about. Events come out in event-time order, merged with the simulator's stream.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from typing import Any

from processors.intel import keyed_hash
from simulator.simulation import generate

DAY_MS = 86_400_000
BUSINESS_HOURS = range(7, 21)
SUPPLY_MCCS = ("5411", "5541", "5812", "5200", "5111", "5046", "4814", "5734")
CITIES = (
    ("Houston", "US-TX", -360), ("Phoenix", "US-AZ", -420), ("Chicago", "US-IL", -360),
    ("Miami", "US-FL", -300), ("Denver", "US-CO", -420), ("Seattle", "US-WA", -480),
)  # fmt: skip


def busy_businesses(
    seed: int, count: int, days: float, start_ms: int, per_day: int, hash_key: str
) -> Iterator[dict[str, Any]]:
    """``count`` business accounts, each with about ``per_day`` payments a day."""
    rng = random.Random(seed * 7919 + 17)
    accounts = []
    for i in range(count):
        city, region, offset = rng.choice(CITIES)
        accounts.append(
            {
                "id": f"biz-{seed}-{i:05d}",
                "city": city,
                "region": region,
                "offset": offset,
                "phone": keyed_hash(hash_key, f"biz-phone-{seed}-{i}"),
                "address": keyed_hash(hash_key, f"biz-address-{seed}-{i}"),
                "customers": [f"cust-acct-{seed}-{i}-{j}" for j in range(rng.randint(40, 400))],
                "suppliers": [f"supp-{seed}-{rng.randrange(500)}" for _ in range(8)],
                "staff": [keyed_hash(hash_key, f"staff-{seed}-{i}-{j}") for j in range(6)],
                "per_day": max(4, int(rng.gauss(per_day, per_day / 4))),
            }
        )
    heap: list[tuple[int, int, dict[str, Any]]] = []
    n = 0
    for day in range(int(days)):
        day_start = start_ms + day * DAY_MS
        for a in accounts:
            for t, rec in _day(rng, a, day_start, day, seed, n):
                heapq.heappush(heap, (t, n, rec))
                n += 1
        horizon = day_start + DAY_MS // 2  # everything generated later starts after this
        while heap and heap[0][0] < horizon:
            yield heapq.heappop(heap)[2]
    while heap:
        yield heapq.heappop(heap)[2]


def _day(
    rng: random.Random, a: dict[str, Any], day_start: int, day: int, seed: int, n: int
) -> list[tuple[int, dict[str, Any]]]:
    out = []
    local_midnight = day_start - a["offset"] * 60_000
    weekday = (day_start // DAY_MS + 3) % 7  # 0 = Monday

    def at(hour_range: range = BUSINESS_HOURS) -> int:
        hour = rng.choice(hour_range)
        return local_midnight + hour * 3_600_000 + rng.randrange(3_600_000)

    def rec(t: int, direction: str, channel: str, amount_minor: int, **extra: Any) -> None:
        out.append(
            (
                t,
                {
                    "event_id": f"{a['id']}-{day}-{len(out)}-{n}",
                    "event_time": t,
                    "utc_offset_minutes": a["offset"],
                    "institution_id": "bank-us-01",
                    "account_id": a["id"],
                    "customer_id": a["id"].replace("biz", "bizcus"),
                    "account_type": "BUSINESS",
                    "direction": direction,
                    "channel": channel,
                    "amount_minor": max(1, amount_minor),
                    "currency": "USD",
                    "merchant": extra.get("merchant"),
                    "counterparty": extra.get("counterparty"),
                    "location": {
                        "city": a["city"],
                        "region": a["region"],
                        "country": "US",
                        "terminal_id": None,
                    },  # fmt: skip
                    "purpose": extra.get("purpose"),
                    "payroll": extra.get("payroll", False),
                    "holder_phone_hash": a["phone"],
                    "holder_email_hash": None,
                    "holder_address_hash": a["address"],
                    "device_hash": None,
                    "wallet_address_hash": None,
                    "passenger_name_hashes": [],
                },
            )
        )

    per_day = a["per_day"]
    for _ in range(rng.randint(per_day // 2, per_day)):  # supplies, fuel, meals, software
        mcc = rng.choice(SUPPLY_MCCS)
        merchant = {"merchant_id": f"m-{mcc}-{rng.randrange(40)}", "name": None, "mcc": mcc,
                    "city": a["city"], "region": a["region"], "country": "US"}  # fmt: skip
        channel = rng.choice(("CARD_PRESENT", "CARD_NOT_PRESENT"))
        rec(at(), "DEBIT", channel, int(rng.lognormvariate(8.5, 1.0)), merchant=merchant)
    for _ in range(rng.randint(per_day // 4, per_day // 2)):  # customers paying in
        payer = _party(rng.choice(a["customers"]), "p2p-net")
        rec(at(), "CREDIT", rng.choice(("P2P", "CARD_NOT_PRESENT")),
            int(rng.lognormvariate(8.0, 0.9)), counterparty=payer)  # fmt: skip
    if weekday < 5:
        for supplier in rng.sample(a["suppliers"], rng.randint(0, 2)):
            rec(at(range(8, 17)), "DEBIT", "ACH", int(rng.lognormvariate(11.0, 0.7)),
                counterparty=_party(supplier, "bank-us-09"), purpose="SUPP")  # fmt: skip
        rec(at(range(16, 19)), "CREDIT", "CASH_DEPOSIT", int(rng.lognormvariate(11.5, 0.6)))
    if weekday == 4:  # Friday payroll
        for worker in a["staff"]:
            rec(at(range(6, 8)), "DEBIT", "ACH", int(rng.uniform(70_000, 190_000)),
                counterparty=_party(f"emp-{worker[:12]}", "bank-us-01", worker),
                purpose="SALA", payroll=True)  # fmt: skip
    return out


def _party(account: str, institution: str, ultimate: str | None = None) -> dict[str, Any]:
    return {"account_id": account, "institution_id": institution, "country": "US",
            "name_hash": None, "ultimate_party_hash": ultimate}  # fmt: skip


def population(
    seed: int,
    accounts: int,
    days: float,
    start_ms: int,
    hash_key: str,
    busy: int = 0,
    busy_per_day: int = 40,
) -> Iterator[dict[str, Any]]:
    """The simulator's seeded population of ``accounts`` plus ``busy`` busy businesses, in
    event-time order."""
    stream, _truth = generate(seed, accounts, days, start_ms, hash_key)
    if not busy:
        return stream
    extra = busy_businesses(seed, busy, days, start_ms, busy_per_day, hash_key)
    return heapq.merge(stream, extra, key=lambda r: r["event_time"])
