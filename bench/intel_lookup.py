"""Per-event cost of joining a payment against the intel feed: in-memory index vs Redis.

The issue asked for "a global table or Redis, whichever measures better". Every event carries
up to five identifiers to look up (phone, e-mail, address, device, wallet, plus the merchant),
and almost all of them miss. This measures, on this machine:

* index: IntelIndex.match per identifier, and the whole INTEL_IDENTIFIER_MATCH accepts() per
  event, with ``--entries`` identifiers listed;
* redis: one GET per identifier (a round trip each), and the best case for Redis: one
  pipelined round trip per event carrying all its lookups.

    python -m bench.intel_lookup [--entries 100000] [--events 20000]

Uses a unique key prefix on the configured Redis and deletes it afterwards.
"""

from __future__ import annotations

import argparse
import time
import uuid

import redis

from config import clients
from config import settings as settings_mod
from processors import rules
from processors.engine import Engine
from processors.intel import KINDS, IntelEntry, IntelIndex, keyed_hash
from processors.validation import to_event

KEY = "bench-consortium-key-0123456789"
FIELDS = ("holder_phone_hash", "holder_email_hash", "holder_address_hash", "device_hash")


def per_op(seconds: float, ops: int) -> str:
    return f"{seconds / ops * 1e6:8.3f} µs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.intel_lookup", description=__doc__)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args(argv)

    index = IntelIndex(KEY)
    for i in range(args.entries):
        kind = KINDS[i % len(KINDS)]
        index.put(IntelEntry(kind, keyed_hash(KEY, f"listed-{i}"), "sex_ad_identifier",
                             "bench", 0.9, None, 0))  # fmt: skip
    now = int(time.time() * 1000)
    events = []
    for i in range(args.events):
        rec = {"event_id": f"e{i}", "event_time": now - 60_000, "utc_offset_minutes": 0,
               "institution_id": "bank-1", "account_id": f"a{i % 500}", "customer_id": "c",
               "direction": "DEBIT", "channel": "CARD_NOT_PRESENT", "amount_minor": 5_000,
               "currency": "USD",
               "merchant": {"merchant_id": f"m-{i % 2000}", "mcc": "5999"}}  # fmt: skip
        for f in FIELDS:
            rec[f] = keyed_hash(KEY, f"{f}-{i}")  # misses, as nearly every real lookup is
        events.append(to_event(rec, now))
    lookups = [(k, getattr(ev, f)) for ev in events for f, k in
               zip(FIELDS, ("phone", "email", "address", "device"), strict=True)]  # fmt: skip

    # warm the merchant-hash cache as a running worker's would be
    for ev in events:
        index.match_merchant(ev.merchant_id, ev.event_time)

    t0 = time.perf_counter()
    for kind, digest in lookups:
        index.match(kind, digest, now)
    index_lookup = time.perf_counter() - t0

    engine = Engine(rules.load(), intel=index)
    det = next(d for d in engine._detectors if d.code == "INTEL_IDENTIFIER_MATCH")
    t0 = time.perf_counter()
    for ev in events:
        det.accepts(ev)
    index_event = time.perf_counter() - t0

    t0 = time.perf_counter()
    for ev in events:
        index.match_merchant(ev.merchant_id, ev.event_time)
    merchant = time.perf_counter() - t0

    settings = settings_mod.load()
    client = redis.Redis.from_url(clients.redis_url(settings))
    prefix = f"bench-intel-{uuid.uuid4().hex[:8]}:"
    pipe = client.pipeline(transaction=False)
    for entry in list(index)[:20_000]:
        pipe.set(prefix + f"{entry.kind}:{entry.hash}", b"x")
    pipe.execute()
    n = min(len(lookups), 20_000)
    try:
        t0 = time.perf_counter()
        for kind, digest in lookups[:n]:
            client.get(f"{prefix}{kind}:{digest}")
        redis_lookup = time.perf_counter() - t0
        m = n // 4
        t0 = time.perf_counter()
        for ev in events[:m]:
            p = client.pipeline(transaction=False)
            for f, k in zip(FIELDS, ("phone", "email", "address", "device"), strict=True):
                p.get(f"{prefix}{k}:{getattr(ev, f)}")
            p.execute()
        redis_event = time.perf_counter() - t0
    finally:
        keys = list(client.scan_iter(match=prefix + "*", count=5000))
        for i in range(0, len(keys), 1000):
            client.delete(*keys[i : i + 1000])

    print(f"entries listed: {len(index):,}; events: {len(events):,}")
    print(f"in-memory index, one lookup          {per_op(index_lookup, len(lookups))}")
    print(f"in-memory index, detector per event  {per_op(index_event, len(events))}")
    print(f"in-memory merchant lookup (cached)   {per_op(merchant, len(events))}")
    print(f"redis GET, one lookup (round trip)   {per_op(redis_lookup, n)}")
    print(f"redis pipeline, 4 lookups per event  {per_op(redis_event, m)}")
    ratio = (redis_event / m) / (index_event / len(events))
    print(f"ratio redis-per-event / index-per-event: {ratio:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
