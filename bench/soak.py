"""Soak: the worker under steady traffic at half its capacity for a long time (default 30 min),
reporting its resident memory, consumer lag and errors every minute.

What it shows: whether memory stays flat (bounded state, no leak) and lag stays bounded when
the worker runs for a long time, not just for a benchmark's minute. Real parts: the stack's
broker and Redis, `chainbreaker worker` as its own process (with its case router), the real
publisher, on an app id of its own.

1. Warm-up and capacity: a backlog of simulated payments is published unpaced, the worker
   is started, and its processing rate over the backlog is its capacity (or give
   --capacity). The backlog spans the rule set's state horizon in event time (the longest
   look-back any detector keeps: 17 weeks under the default rules, SUSTAINING_SPEND's
   baseline), so the accounts' state has reached its designed size before the soak starts:
   a soak that begins with young accounts shows the state filling its horizon, which is
   growth by design, not a leak (2026-12-07: a 16-minute soak from fresh accounts grew 21%
   after minute 5, all of it weekly buckets filling towards 17 weeks).
2. Soak: payments at --fraction of that (default 0.5), paced, for --minutes. The simulated
   population (a few thousand accounts) is replayed in passes, each with fresh event ids and
   shifted forward in event time, so accounts keep accumulating history (bounded state is
   what is being tested) and nothing is a duplicate.
3. Every minute: RSS of the worker process (/proc), lag of the worker and the router,
   dead letters, errors in the worker's log, publisher failures, events processed.

    .venv/bin/python -m bench.soak                  # 30 minutes
    .venv/bin/python -m bench.soak --minutes 5 --out soak.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

from access.grant import grant_app, revoke_app
from bench.common import isolated
from config import settings as settings_mod
from config.names import router_group
from processors import rules as rules_mod
from processors.indicators.common import BucketDetector
from processors.rules import RuleSet
from publisher.pacing import TokenBucket
from publisher.producer import Publisher
from simulator.simulation import generate
from streams.topics import consumer_lag, ensure_topics

ROOT = Path(__file__).resolve().parent.parent
DAY_MS = 86_400_000
ROCKSDB = "chainbreaker_rocksdb_memory_bytes"
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL|Traceback)\b")


def population(seed: int, accounts: int, days: int, end_ms: int) -> list[dict]:
    events, _ = generate(seed, accounts, days, end_ms - days * DAY_MS, "chainbreaker-local-dev-key")
    return list(events)


def passes(base: list[dict], span_ms: int, first_pass: int = 0) -> Iterator[dict]:
    """The population again and again: pass k has event ids suffixed ``~k`` and every time
    shifted by k spans; the base ends far enough in the past that no pass is in the future."""
    k = first_pass
    while True:
        shift = k * span_ms
        for rec in base:
            yield {
                **rec,
                "event_id": f"{rec['event_id']}~{k}",
                "event_time": rec["event_time"] + shift,
            }
        k += 1


def state_horizon_ms(rules: RuleSet) -> int:
    """How far back in event time an account's state reaches under ``rules``: the longest
    look-back of any detector (bucket detectors keep ``horizon_buckets`` buckets, the
    others their window) or of the score."""
    spans = [rules.score_window_ms]
    for det in rules.detectors:
        if isinstance(det, BucketDetector):
            spans.append(det.horizon_buckets() * det.bucket_ms)
        else:
            spans.append(int(getattr(det, "window_ms", 0)))
    return max(spans)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def metric(port: int, name: str, label: str = "") -> float:
    """The sum of a metric's series on the worker's page (those whose labels include ``label``)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return float("nan")
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or (line.startswith(name + "{") and label in line):
            total += float(line.rsplit(" ", 1)[1])
    return total


class Paced(threading.Thread):
    def __init__(self, settings, records: Iterator[dict], rate: float, stop: threading.Event):
        super().__init__(name="soak-publisher", daemon=True)
        self.settings, self.records, self.rate, self.stop = settings, records, rate, stop
        self.sent = 0
        self.publisher = Publisher(settings)

    def run(self) -> None:
        bucket = TokenBucket(self.rate, self.publisher.poll)
        for record in self.records:
            if self.stop.is_set():
                break
            bucket.take()
            self.publisher.send(record)
            self.sent += 1
        self.publisher.flush(120)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    p.add_argument("--minutes", type=float, default=30.0, help="soak duration (default 30)")
    p.add_argument("--fraction", type=float, default=0.5, help="of capacity (default 0.5)")
    p.add_argument("--capacity", type=float, help="events/s; default: measured first")
    p.add_argument(
        "--backlog", type=int, default=40_000,
        help="fewest events to warm up and measure capacity on (default 40,000; more when "
        "the state horizon needs more passes)",
    )  # fmt: skip
    p.add_argument("--accounts", type=int, default=3000)
    p.add_argument("--days", type=int, default=14, help="event-time span of one pass")
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--out", type=Path, help="write the per-minute rows as JSON here")
    args = p.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="cb-soak-"))
    env = isolated(f"soak-{uuid.uuid4().hex[:6]}", tmp, args.partitions)
    env["CB_LOG_LEVEL"] = "INFO"
    settings = settings_mod.load(env)
    grant_app(settings)
    ensure_topics(settings)
    span = args.days * DAY_MS
    # Event time is budgeted for the whole run before the capacity is measured: every pass
    # must still end in the past, or the worker rightly dead-letters it as future_event_time
    # (2026-12-08: a worker measured at 4,753 events/s outran a 2,000 guess after 10 minutes
    # of a 15-minute soak). Further back costs nothing down to 2000-01-01, which validation
    # refuses: 10,000 events/s keeps a 60-minute soak after 2005.
    rate_guess = args.capacity or 10_000
    now = int(time.time() * 1000)
    print(f"simulating {args.accounts} accounts over {args.days} days (seed {args.seed}) ...",
          flush=True)  # fmt: skip
    base = population(args.seed, args.accounts, args.days, now - DAY_MS)
    horizon = state_horizon_ms(rules_mod.load(settings.rules_file))
    warm_passes = -(-horizon // span)  # whole passes covering the horizon
    backlog = max(args.backlog, warm_passes * len(base))
    total_guess = backlog + int(rate_guess * args.fraction * args.minutes * 60 * 1.5)
    n_passes = total_guess // len(base) + 2
    # Pass 0 ends n_passes spans before now: the last pass still ends in the past.
    shift_back = n_passes * span
    base = [{**r, "event_time": r["event_time"] - shift_back} for r in base]
    stream = passes(base, span)
    print(f"one pass = {len(base):,} events; up to {n_passes} passes; state horizon "
          f"{horizon / DAY_MS:g} days: warm-up backlog {backlog:,} events "
          f"({backlog / len(base):.1f} passes)", flush=True)  # fmt: skip

    log_path = tmp / "worker.log"
    log = open(log_path, "ab")  # noqa: SIM115 - closed at the end
    port = int(env["CB_METRICS_PORT"])
    worker = None
    rows: list[dict] = []
    try:
        with Publisher(settings) as pub:
            for _ in range(backlog):
                pub.send(next(stream))
        print(f"backlog of {backlog:,} published; starting the worker", flush=True)
        worker = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        while not metric(port, "chainbreaker_events_processed_total") > 0:
            time.sleep(0.5)
            if worker.poll() is not None:
                raise SystemExit(f"the worker exited: see {log_path}")
        t0 = time.monotonic()
        start = metric(port, "chainbreaker_events_processed_total")
        while consumer_lag(settings, settings.app_id, settings.topic_payments) > 0:
            time.sleep(1.0)
            if worker.poll() is not None:
                raise SystemExit(f"the worker exited during the warm-up: see {log_path}")
        done = metric(port, "chainbreaker_events_processed_total")
        measured = (done - start) / (time.monotonic() - t0)
        print(f"warm-up done: {measured:,.0f} events/s over {done - start:,.0f} events, "
              f"rss {rss_mb(worker.pid):.1f} MB", flush=True)  # fmt: skip
        capacity = args.capacity or measured
        rate = capacity * args.fraction
        print(f"soak: {rate:,.0f} events/s ({args.fraction:.0%} of capacity) for "
              f"{args.minutes:g} min", flush=True)  # fmt: skip
        stop = threading.Event()
        paced = Paced(settings, stream, rate, stop)
        paced.start()
        started = time.monotonic()
        header = (
            f"{'min':>4} {'rss MB':>8} {'rocksdb MB':>10} {'memtab MB':>9} {'cached':>7} "
            f"{'lag':>7} {'router lag':>10} {'processed':>11} "
            f"{'sent':>10} {'dlq':>5} {'log errors':>10} {'pub failed':>10}"
        )
        print(header, flush=True)
        minute = 0
        while time.monotonic() - started < args.minutes * 60:
            minute += 1
            while time.monotonic() - started < minute * 60:
                time.sleep(1)
                if worker.poll() is not None:
                    raise SystemExit(f"the worker exited at minute {minute}: see {log_path}")
            errors = sum(
                1 for line in log_path.read_text(errors="replace").splitlines()
                if ERROR_LINE.search(line)
            )  # fmt: skip
            row = {
                "minute": minute,
                "rss_mb": round(rss_mb(worker.pid), 1),
                # The worker's RocksDB budget in use (block cache with the memtables charged
                # to it), the memtables alone, and the decoded account states it keeps.
                "rocksdb_mb": round(metric(port, ROCKSDB, 'kind="cache"') / 2**20, 1),
                "memtables_mb": round(metric(port, ROCKSDB, 'kind="memtables"') / 2**20, 1),
                "cached_accounts": int(metric(port, "chainbreaker_state_cache_accounts")),
                "lag": consumer_lag(settings, settings.app_id, settings.topic_payments),
                "router_lag": consumer_lag(
                    settings, router_group(settings.app_id), settings.topic_alerts
                ),
                "processed": int(metric(port, "chainbreaker_events_processed_total")),
                "sent": paced.sent,
                "dead_letters": int(metric(port, "chainbreaker_dead_letters_total")),
                "log_errors": errors,
                "publish_failed": paced.publisher.failed,
            }
            rows.append(row)
            print(f"{minute:>4} {row['rss_mb']:>8.1f} {row['rocksdb_mb']:>10.1f} "
                  f"{row['memtables_mb']:>9.1f} {row['cached_accounts']:>7,} "
                  f"{row['lag']:>7,} {row['router_lag']:>10,} "
                  f"{row['processed']:>11,} {row['sent']:>10,} {row['dead_letters']:>5} "
                  f"{row['log_errors']:>10} {row['publish_failed']:>10}", flush=True)  # fmt: skip
        stop.set()
        paced.join(180)
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        log.close()
    summary = summarise(rows, capacity, args)
    summary["state_horizon_days"] = horizon / DAY_MS
    summary["warmup_events"] = backlog
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "minutes": rows}, indent=2))
    revoke_app(settings)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def summarise(rows: list[dict], capacity: float, args) -> dict:
    if not rows:
        return {}
    warm = rows[min(4, len(rows) - 1)]  # after the first minutes: caches and RocksDB warm
    last = rows[-1]
    rss = [r["rss_mb"] for r in rows]
    steady = [r["rss_mb"] for r in rows[rows.index(warm) :]]
    return {
        "minutes": len(rows),
        "capacity_eps": round(capacity),
        "rate_eps": round(capacity * args.fraction),
        "rss_mb_first": rss[0],
        "rss_mb_warm": warm["rss_mb"],
        "rss_mb_last": last["rss_mb"],
        "rss_mb_max": max(rss),
        "rocksdb_mb_last": last.get("rocksdb_mb"),
        "rss_change_after_warmup_pct": round(100 * (last["rss_mb"] / warm["rss_mb"] - 1), 1),
        "rss_spread_after_warmup_pct": round(100 * (max(steady) / min(steady) - 1), 1),
        "lag_max": max(r["lag"] for r in rows),
        "lag_last": last["lag"],
        "router_lag_max": max(r["router_lag"] for r in rows),
        "events_processed": last["processed"],
        "dead_letters": last["dead_letters"],
        "log_errors": last["log_errors"],
        "publish_failed": last["publish_failed"],
        "host_load_1m": os.getloadavg()[0],
    }


if __name__ == "__main__":
    sys.exit(main())
