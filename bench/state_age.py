"""Offline cost per event by account age, and the state written per event.

The worker's cost per payment must not grow with an account's history. This replays a
mature population (bench/population.py: months of traffic with busy business accounts)
through ``PaymentPipeline.apply`` (decode excluded: it does not depend on age) in 15-day
slices, each slice from the state the previous ones left, and reports per slice the events
per second (the best of three runs of the slice, CPU time of this process, which a loaded
machine disturbs less than the wall clock) and the state bytes written per event.

As in the worker, each account's state is encoded once per batch of ``--batch`` events (the
worker's BatchView.flush). The default, 1, encodes after every payment: what the worker
writes when each payment is its account's only one in a batch (light traffic); the worker
draining a backlog takes batches of up to CB_BATCH_MAX (500) events.

    python -m bench.state_age [--accounts N --busy N --days D --batch N]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from bench.population import population
from config import settings as settings_mod
from processors import rules as rules_mod
from streams.pipeline import PaymentPipeline, Pending

DAY_MS = 86_400_000
SLICE_DAYS = 15


@dataclass
class Slice:
    first_day: int
    events: int
    eps: float
    state_bytes_per_event: float


def measure(
    accounts: int = 1_500,
    busy: int = 100,
    days: int = 90,
    seed: int = 21,
    repeat: int = 3,
    cache_accounts: int | None = None,
    batch: int = 1,
) -> list[Slice]:
    env = {} if cache_accounts is None else {"CB_STATE_CACHE_ACCOUNTS": str(cache_accounts)}
    settings = settings_mod.load({**os.environ, **env})
    rules = rules_mod.load()
    start = int(time.time() * 1000) - (days + 1) * DAY_MS
    now = int(time.time() * 1000)
    encoder = PaymentPipeline(settings, rules)
    slices: dict[int, list[bytes]] = {}
    for record in population(seed, accounts, days, start, settings.hash_key, busy=busy):
        slices.setdefault((record["event_time"] - start) // (SLICE_DAYS * DAY_MS), []).append(
            encoder.events.encode(record)
        )
    out: list[Slice] = []
    states: dict[bytes, bytes] = {}
    for k in sorted(slices):
        events = [encoder.parse(None, blob, now) for blob in slices[k]]
        best, written, after = float("inf"), 0, states
        for _ in range(repeat):
            pipe = PaymentPipeline(settings, rules)
            trial = dict(states)
            nbytes = 0
            t0 = time.process_time()
            for first in range(0, len(events), batch):
                dirty: dict[bytes, Pending] = {}
                for ev in events[first : first + batch]:
                    key = ev.account_id.encode()
                    done = pipe.apply(ev, dirty.get(key) or trial.get(key), now)
                    if done.state is not None:
                        dirty[key] = done.state
                for key, work in dirty.items():
                    blob = trial[key] = pipe.states.store(key, work.state)
                    nbytes += len(blob)
            elapsed = time.process_time() - t0
            if elapsed < best:
                best, written, after = elapsed, nbytes, trial
        states = after
        out.append(Slice(k * SLICE_DAYS, len(events), len(events) / best, written / len(events)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.state_age", description=__doc__)
    p.add_argument("--accounts", type=int, default=1_500)
    p.add_argument("--busy", type=int, default=100, help="busy business accounts added")
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--no-cache", action="store_true", help="decode every state (cache off)")
    p.add_argument("--batch", type=int, default=1, help="events per batch (one encode each)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    rows = measure(
        args.accounts,
        args.busy,
        args.days,
        cache_accounts=0 if args.no_cache else None,
        batch=max(1, args.batch),
    )
    if args.json:
        print(json.dumps([asdict(r) for r in rows]))
        return 0
    report(rows)
    return 0


def report(rows: list[Slice], say: Callable[..., None] = print) -> None:
    for r in rows:
        say(
            f"  days {r.first_day:3d}-{r.first_day + SLICE_DAYS:3d}  {r.eps:9,.0f} ev/s  "
            f"{r.state_bytes_per_event:7.0f} B state/event  ({r.events:,} events)"
        )
    full = [r for r in rows if r.events > 0.5 * max(x.events for x in rows)]
    if len(full) > 1:
        say(f"  oldest slice / youngest: {full[-1].eps / full[0].eps:.2f} of its events/s")
    if len(full) > 2:
        # The youngest slice starts from empty accounts, so its first week runs with windows
        # still filling; from the second slice on, every 7-day window is full and what is left
        # to grow is history: the second ratio separates the two.
        say(
            f"  oldest slice / days {full[1].first_day}-{full[1].first_day + SLICE_DAYS}: "
            f"{full[-1].eps / full[1].eps:.2f} of its events/s"
        )


if __name__ == "__main__":
    raise SystemExit(main())
