"""Throughput, latency and the ceiling, on the local stack. Prints its figures.

* ceiling: a plain confluent-kafka consume + fastavro decode loop over the preloaded topic;
  what any Python consumer of this topic can do on this machine, before detection.
* throughput: the same preloaded topic, a fresh worker from start until caught up (lag 0).
* offline: the detection code alone (decode + validate + engine) on the same events, one core.
* backtest: the offline backtest loop on one core, JSON lines and Avro (bench/backtest_speed.py,
  its own seeded 30-day population; no stack needed).
* latency: a producer paced at a fixed rate while the worker runs; event produced -> case
  enqueued on Redis, from the case entries themselves, p50/p99.

The broker, the worker and the producer share two cores here, so each run reports its ratio
to the ceiling as well as absolutes. Each run uses its own app id and topics.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer

from access.grant import grant_app
from config import clients
from config import settings as settings_mod
from publisher.pacing import TokenBucket
from publisher.producer import Publisher
from schemas.codec import AvroCodec
from simulator.simulation import generate
from streams.topics import consumer_lag, ensure_topics

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated(tag: str, tmp: Path, partitions: int) -> dict[str, str]:
    return {
        **os.environ,
        "CB_APP_ID": f"bench-{tag}",
        "CB_TOPIC_PAYMENTS": f"bench-{tag}-payments",
        "CB_TOPIC_ALERTS": f"bench-{tag}-alerts",
        "CB_TOPIC_DEAD_LETTER": f"bench-{tag}-dlq",
        **{
            f"CB_TOPIC_{name.upper().replace('-', '_')}": f"bench-{tag}-{name}"
            for name in ("dispositions", "intel", "rules", "identity-links", "account-signals")
        },
        "CB_PARTITIONS": str(partitions),
        "CB_STATE_DIR": str(tmp / "state"),
        "CB_METRICS_PORT": str(free_port()),
        "CB_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def preload(settings, events: int, seed: int, rate: float = 0) -> tuple[int, float]:
    start_ms = int(time.time() * 1000) - 30 * 86_400_000
    accounts = max(200, events // 16)
    stream, _ = generate(seed, accounts, 30, start_ms, settings.hash_key)
    sent = 0
    t0 = time.perf_counter()
    with Publisher(settings) as pub:
        bucket = TokenBucket(rate, pub.poll) if rate else None
        for record in stream:
            if bucket is not None:
                bucket.take()
            pub.send(record)
            sent += 1
            if sent >= events:
                break
        assert pub.flush(120) == 0
    return sent, time.perf_counter() - t0


def ceiling(settings, n: int) -> float:
    codec = AvroCodec("payment_event")
    consumer = Consumer(
        clients.kafka_config(
            settings,
            clients.WORKER,
            {
                "group.id": f"{settings.app_id}-ceiling",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            },
        )
    )
    consumer.subscribe([settings.topic_payments])
    got, t0 = 0, None
    while got < n:
        for m in consumer.consume(1000, timeout=1.0):
            if m.error():
                continue
            if t0 is None:
                t0 = time.perf_counter()
            codec.decode(m.value())
            got += 1
    elapsed = time.perf_counter() - t0
    consumer.close()
    return got / elapsed


def offline(settings, n: int, seed: int) -> float:
    from processors import rules
    from streams.pipeline import PaymentPipeline

    start_ms = int(time.time() * 1000) - 30 * 86_400_000
    stream, _ = generate(seed, max(200, n // 16), 30, start_ms, settings.hash_key)
    pipe = PaymentPipeline(settings, rules.load())
    blobs = []
    for rec in stream:
        blobs.append(pipe.events.encode(rec))
        if len(blobs) >= n:
            break
    states: dict[bytes, bytes] = {}
    now = int(time.time() * 1000)
    t0 = time.perf_counter()
    for blob in blobs:
        ev = pipe.parse(None, blob, now)
        key = ev.account_id.encode()
        out = pipe.apply(ev, states.get(key), now)
        if out.state is not None:
            states[key] = out.state
    return len(blobs) / (time.perf_counter() - t0)


def run_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "worker"],
        env=env,
        cwd=ROOT,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )  # noqa: SIM115


def wait_caught_up(settings, proc, timeout: float) -> tuple[float, float, int]:
    """(seconds to lag 0, seconds since the first commit, events done at that first commit)."""
    t0 = time.perf_counter()
    first: tuple[float, int] | None = None
    total = None
    while (lag := consumer_lag(settings, settings.app_id, settings.topic_payments)) > 0:
        total = total or lag
        if first is None and lag < total:
            first = (time.perf_counter(), total - lag)
        if proc.poll() is not None:
            raise RuntimeError("worker exited")
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError("worker did not catch up in time")
        time.sleep(0.1)
    end = time.perf_counter()
    if first is None:
        return end - t0, 0.0, 0
    return end - t0, end - first[0], first[1]


def throughput(n: int, seed: int, partitions: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="cb-bench-"))
    env = isolated(uuid.uuid4().hex[:8], tmp, partitions)
    settings = settings_mod.load(env)
    grant_app(settings)  # the app's principals and the router's Redis user
    ensure_topics(settings)
    sent, pub_s = preload(settings, n, seed)
    ceil = ceiling(settings, sent)
    proc = run_worker(env, tmp / "worker.log")
    try:
        # From process start: includes Python/Faust start-up and the group join.
        elapsed, steady_s, done_at_first = wait_caught_up(settings, proc, 1800)
    finally:
        proc.terminate()
        proc.wait(30)
    off = offline(settings, min(n, 200_000), seed)
    return {
        "events": sent,
        "publish_eps": sent / pub_s,
        "ceiling_eps": ceil,
        "worker_s": elapsed,
        "worker_eps": sent / elapsed,
        "offline_eps": off,
        "steady_eps": (sent - done_at_first) / steady_s if steady_s else float("nan"),
    }


def latency(rate: float, seconds: float, seed: int, partitions: int) -> dict[str, float]:
    import redis

    from config.names import institutions_key, router_group

    tmp = Path(tempfile.mkdtemp(prefix="cb-bench-"))
    env = isolated(uuid.uuid4().hex[:8], tmp, partitions)
    settings = settings_mod.load(env)
    grant_app(settings)
    ensure_topics(settings)
    proc = run_worker(env, tmp / "worker.log")
    try:
        wait_caught_up(settings, proc, 120)  # empty topic: returns at once
        sent, _ = preload(settings, int(rate * seconds), seed, rate)
        wait_caught_up(settings, proc, 600)
        while consumer_lag(settings, router_group(settings.app_id), settings.topic_alerts):
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(30)
    client = redis.Redis.from_url(clients.redis_url(settings), decode_responses=True)
    lat = []
    for inst in client.smembers(institutions_key(settings.app_id)):
        for entry_id, fields in client.xrange(settings.case_stream(inst)):
            if fields.get("trigger_produced_at"):
                lat.append(int(entry_id.split("-")[0]) - int(fields["trigger_produced_at"]))
    lat.sort()
    pick = lambda q: lat[min(len(lat) - 1, int(q * (len(lat) - 1)))] if lat else float("nan")  # noqa: E731
    return {
        "rate": rate,
        "events": sent,
        "cases": len(lat),
        "p50_ms": pick(0.5),
        "p99_ms": pick(0.99),
        "max_ms": lat[-1] if lat else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--rate", type=float, default=1000)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--only", choices=("throughput", "latency", "backtest"), default=None)
    args = p.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores; broker, worker and producer share them")
    if args.only in (None, "throughput"):
        t = throughput(args.events, args.seed, args.partitions)
        print(
            f"throughput: {t['events']:,} events preloaded ({t['publish_eps']:,.0f} ev/s publish)"
        )
        print(f"  ceiling (consume + decode)     {t['ceiling_eps']:>9,.0f} ev/s")
        print(f"  offline engine (1 core)        {t['offline_eps']:>9,.0f} ev/s")
        print(
            f"  worker, start -> caught up     {t['worker_eps']:>9,.0f} ev/s "
            f"({t['worker_s']:.1f} s; {t['worker_eps'] / t['ceiling_eps']:.0%} of ceiling)"
        )
        print(
            f"  worker, steady (after 1st commit) {t['steady_eps']:>6,.0f} ev/s "
            f"({t['steady_eps'] / t['ceiling_eps']:.0%} of ceiling, "
            f"{t['steady_eps'] / t['offline_eps']:.0%} of offline)"
        )
    if args.only in (None, "backtest"):
        from bench import backtest_speed

        backtest_speed.main([])  # its own defaults: seed 7, 20,000 accounts, 30 days
    if args.only in (None, "latency"):
        r = latency(args.rate, args.seconds, args.seed + 1, args.partitions)
        print(
            f"latency: {r['events']:,} events paced at {r['rate']:,.0f} ev/s -> {r['cases']} cases"
        )
        print(
            f"  event produced -> case queued  p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
            f"max {r['max_ms']} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
