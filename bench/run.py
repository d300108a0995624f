"""The worker's benchmarks, in one run on the local stack. Prints its figures (or --json).

* throughput (bench/throughput.py): on one preloaded topic, the ceiling (consume + decode),
  Faust's floor (a bare agent with the worker's settings), the peer (Engine.step on Quix
  Streams), the worker on fresh accounts, and two workers in one group;
* mature: the worker on accounts with months of history and busy businesses, its state
  built first, and the changelog bytes it writes per event;
* age (bench/state_age.py): offline cost per event and state bytes per event by account
  age, in 15-day slices;
* latency (bench/latency.py): the worker's capacity on the latency traffic (a drain of it),
  then paced at 50% and 80% of that, event produced -> case on Redis, and event produced ->
  processed for every event;
* backtest (bench/backtest_speed.py): the offline backtest loop, no stack needed.

The broker, the worker and the producer share this machine's cores, so ratios measured in
the same run (worker against floor, ceiling and peer) are reported beside the absolutes.

    python -m bench.run [--only PART ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any

PARTS = ("throughput", "mature", "age", "latency", "backtest")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    p.add_argument("--only", nargs="+", choices=PARTS, default=None)
    p.add_argument("--events", type=int, default=100_000, help="fresh-account topic size")
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--mature-accounts", type=int, default=1_500)
    p.add_argument("--mature-busy", type=int, default=100, help="busy business accounts")
    p.add_argument("--mature-days", type=int, default=90, help="history before measuring")
    p.add_argument("--measured-days", type=int, default=10)
    p.add_argument(
        "--age-batch", type=int, default=1,
        help="age: events per batch, each account's state encoded once per batch",
    )  # fmt: skip
    p.add_argument(
        "--capacity", type=float, default=None,
        help="worker events/s for the latency runs (default: measured on their traffic)",
    )  # fmt: skip
    p.add_argument("--latency-seconds", type=float, default=60)
    p.add_argument("--no-peer", action="store_true", help="skip the Quix Streams peer")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument(
        "--keep-topics", action="store_true", help="leave the runs' topics on the broker"
    )
    args = p.parse_args(argv)
    try:
        return measure(args, args.only or list(PARTS))
    finally:
        if not args.keep_topics:
            from bench import common

            common.delete_run_topics()


def measure(args: argparse.Namespace, parts: list[str]) -> int:
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    say(f"machine: {os.cpu_count()} cores; broker, worker and producer share them")
    result: dict[str, Any] = {}
    if "throughput" in parts or "mature" in parts:
        from bench import throughput

        t = throughput.Throughput(events=0, ceiling_eps=float("nan"))
        if "throughput" in parts:
            t = throughput.fresh(args.events, args.seed, args.partitions, peer=not args.no_peer)
        if "mature" in parts:
            t = throughput.mature(
                t, args.seed, args.partitions, args.mature_accounts, args.mature_busy,
                args.mature_days, args.measured_days,
            )  # fmt: skip
        report_throughput(t, say)
        result.update(throughput_keys(t))
    if "age" in parts:
        from bench import state_age

        say(
            "offline cost per event by account age (PaymentPipeline.apply, best of 3, "
            f"states encoded once per {args.age_batch}-event batch):"
        )
        rows = state_age.measure(
            args.mature_accounts, args.mature_busy, args.mature_days, batch=max(1, args.age_batch)
        )
        state_age.report(rows, say)
        result["offline_eps_by_age"] = [r.eps for r in rows]
        result["offline_state_bytes_by_age"] = [r.state_bytes_per_event for r in rows]
    if "latency" in parts:
        from bench import latency

        if args.capacity is None:
            capacity = latency.capacity()
            say(
                f"latency: the worker's capacity on the latency traffic (a preloaded drain of "
                f"it): {capacity:,.0f} ev/s"
            )
            result["latency_capacity_eps"] = capacity
        else:
            capacity = args.capacity
        runs = {}
        for fraction in (0.5, 0.8):
            r = latency.run(capacity, fraction, max_seconds=args.latency_seconds)
            runs[f"{round(fraction * 100)}%"] = r.as_dict()
            say(
                f"latency at {fraction:.0%} of {capacity:,.0f} ev/s ({r.rate:,.0f} ev/s, "
                f"{r.events:,} events in {r.seconds:.0f} s): {r.cases} cases, event -> case "
                f"p50 {r.case_p50_ms:.0f} ms, p99 {r.case_p99_ms:.0f} ms, max "
                f"{r.case_max_ms:.0f} ms; event -> processed p50 {r.processed_p50_ms:.1f} ms, "
                f"p99 {r.processed_p99_ms:.1f} ms; {r.gc_pauses:,} GC pauses, p99 "
                f"{r.gc_p99_ms:.1f} ms, longest <= {r.gc_max_bucket_ms:.0f} ms; "
                f"{r.batch_mean_events:.1f} payments per batch; worker CPU "
                f"{r.worker_cpu_share:.0%} of a core, the publisher's "
                f"{r.publisher_cpu_share:.0%}"
            )
        result["latency"] = runs
    if "backtest" in parts and not args.json:
        from bench import backtest_speed

        backtest_speed.main([])  # its own defaults: seed 7, 20,000 accounts, 30 days
    if args.json:
        print(json.dumps(result, default=_nan_safe))
    return 0


def _nan_safe(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else str(value)


def throughput_keys(t: Any) -> dict[str, Any]:
    def eps(run: Any) -> float | None:
        return None if run is None else run.eps

    return {
        "ceiling_eps": t.ceiling_eps,
        "faust_floor_eps": eps(t.faust_floor),
        "quix_engine_eps": eps(t.quix_engine),
        "worker_fresh_eps": eps(t.worker_fresh),
        "worker_mature_eps": eps(t.worker_mature),
        "two_workers_eps": eps(t.two_workers),
        "changelog_bytes_per_event": t.changelog_bytes_per_event,
        "cpu_us_per_event": {
            name: getattr(t, name).cpu_us_per_event
            for name in (
                "faust_floor",
                "quix_engine",
                "worker_fresh",
                "two_workers",
                "worker_mature",
            )  # fmt: skip
            if getattr(t, name) is not None
        },
        "throughput_detail": t.as_dict(),
    }


def report_throughput(t: Any, say: Any) -> None:
    floor = t.faust_floor.eps if t.faust_floor else float("nan")

    def line(label: str, run: Any) -> None:
        if run is None:
            return
        say(
            f"  {label:34s} {run.eps:>9,.0f} ev/s  {run.cpu_us_per_event:7.0f} us CPU/event  "
            f"{run.eps / floor:5.0%} of Faust's floor, {run.eps / t.ceiling_eps:5.0%} of ceiling, "
            f"machine {run.machine_busy_cores:.2f} of {os.cpu_count()} cores busy"
        )

    if t.events:
        say(f"throughput: {t.events:,} events preloaded, fresh accounts (~16 events each)")
        say(f"  {'ceiling: consume + decode':34s} {t.ceiling_eps:>9,.0f} ev/s")
        line("Faust's floor: bare agent", t.faust_floor)
        line("peer: Engine.step on Quix Streams", t.quix_engine)
        line("worker, fresh accounts", t.worker_fresh)
        line("two workers, one group", t.two_workers)
        if t.worker_fresh and t.two_workers:
            say(f"  two workers / one: {t.two_workers.eps / t.worker_fresh.eps:.2f}x")
    if t.worker_mature is not None:
        say(f"mature accounts: {t.mature_events:,} events measured after the state was built")
        line("worker, state build-up (history)", t.mature_build)
        line("worker, mature accounts", t.worker_mature)
        say(f"  changelog bytes per event (account state): {t.changelog_bytes_per_event:,.0f}")
    for note in t.notes:
        say(f"  note: {note}")


if __name__ == "__main__":
    sys.exit(main())
