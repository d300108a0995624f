"""Latency under load: paced traffic at a share of the worker's capacity, hundreds of cases.

The traffic is a scenario-dense simulated month (one account in eight a trafficking
scenario, so a run raises hundreds of cases), published at ``fraction`` of the capacity the
throughput bench measured in the same run. Two latencies:

* event produced -> case on the institution's Redis Stream, for every case: the stream
  entry's id (Redis's clock when the router appended it) minus the Kafka timestamp of the
  payment that triggered the alert (carried in the case entry);
* event produced -> event processed (its batch's state written), for every event: the
  worker's own histogram chainbreaker_event_latency_seconds, read at the end (quantiles
  interpolated within its buckets, as Prometheus computes them).

A warm-up payment is processed before the measured traffic starts, so the group join and
the first fetches are not counted.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import redis

from bench import common
from config import clients, names
from config import settings as settings_mod
from simulator.simulation import generate
from streams.topics import consumer_lag

DAY_MS = 86_400_000


@dataclass
class Latency:
    fraction: float
    rate: float
    events: int
    seconds: float
    cases: int
    case_p50_ms: float
    case_p99_ms: float
    case_max_ms: float
    processed_p50_ms: float
    processed_p99_ms: float
    gc_pauses: int = 0  # the worker's garbage collections during the run
    gc_p99_ms: float = float("nan")
    gc_max_bucket_ms: float = float("nan")  # upper bound of the longest pause's bucket
    batch_mean_events: float = float("nan")  # payments per batch of the detect agent
    worker_cpu_share: float = float("nan")  # the worker's CPU seconds per second of the run
    publisher_cpu_share: float = float("nan")  # the paced publisher's, while it published

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pick(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * (len(values) - 1)))] if values else float("nan")


def _warm_up(settings: Any, worker: common.Process, template: dict) -> None:
    """One payment, processed, before the clock starts: the group has joined and fetches."""
    record = {**template, "event_id": "bench-warm-up", "account_id": "bench-warm-up"}
    common.publish(settings, [record])
    deadline = time.monotonic() + 300
    while True:
        try:
            samples = worker.metrics()
        except OSError:  # its metrics endpoint is not listening yet
            samples = {}
        done = sum(
            v for k, v in samples.items() if k.startswith("chainbreaker_events_processed_total{")
        )
        if done >= 1:
            return
        if not worker.alive():
            raise RuntimeError(f"worker exited; see {worker.log}")
        if time.monotonic() > deadline:
            raise RuntimeError("worker did not process the warm-up payment in 300 s")
        time.sleep(0.1)


@dataclass
class Traffic:
    """One run's isolated app on the stack and the first ``n`` payments of the latency
    month (scenario-dense: one account in eight a trafficking scenario)."""

    tmp: Path
    env: dict[str, str]
    settings: Any
    records: list[dict]

    @classmethod
    def make(
        cls, tag: str, n: int, seed: int, partitions: int, accounts: int, scenarios: int
    ) -> Traffic:
        tmp = Path(tempfile.mkdtemp(prefix="cb-bench-"))
        env = common.provision(common.isolated(tag, tmp, partitions))
        settings = settings_mod.load(env)
        start_ms = int(time.time() * 1000) - 30 * DAY_MS
        stream, _truth = generate(seed, accounts, 30, start_ms, settings.hash_key, scenarios)
        return cls(tmp, env, settings, [r for _, r in zip(range(n), stream, strict=False)])


def capacity(
    seed: int = 31,
    partitions: int = 4,
    accounts: int = 4_000,
    scenarios: int = 500,
    events: int = 60_000,
) -> float:
    """The worker's capacity on the latency runs' own traffic: a fresh worker draining the
    first ``events`` of the same scenario-dense month, preloaded. Paced runs at a share of
    a capacity measured on other traffic say little: this month raises about ten times the
    cases and cross-account links of the throughput bench's, and a worker paced at half
    the throughput bench's figure fell behind on it (docs/benchmarks.md)."""
    t = Traffic.make(f"cap-{uuid.uuid4().hex[:8]}", events, seed, partitions, accounts, scenarios)
    common.publish(t.settings, t.records)
    worker = common.worker("capacity", t.env, t.tmp)
    try:
        return common.drain(t.settings, t.settings.app_id, [worker], timeout=1800).eps
    finally:
        worker.stop()


def run(
    capacity_eps: float,
    fraction: float,
    seed: int = 31,
    partitions: int = 4,
    accounts: int = 4_000,
    scenarios: int = 500,
    max_seconds: float = 60,
) -> Latency:
    rate = capacity_eps * fraction
    t = Traffic.make(
        uuid.uuid4().hex[:8], int(rate * max_seconds), seed, partitions, accounts, scenarios
    )
    settings, records = t.settings, t.records
    worker = common.worker("worker", t.env, t.tmp)
    try:
        _warm_up(settings, worker, records[0])
        t0 = time.perf_counter()
        cpu0 = worker.cpu_seconds()
        paced = common.publish_paced(settings, records, rate)
        common.drain(settings, settings.app_id, [worker], timeout=600)
        seconds = time.perf_counter() - t0
        deadline = time.monotonic() + 120
        while consumer_lag(settings, names.router_group(settings.app_id), settings.topic_alerts):
            if time.monotonic() > deadline:
                raise RuntimeError("case router did not catch up in 120 s")
            time.sleep(0.1)
        samples = worker.metrics()
        cpu = worker.cpu_seconds() - cpu0
    finally:
        worker.stop()
    client = redis.Redis.from_url(clients.redis_url(settings), decode_responses=True)
    lat: list[float] = []
    for inst in client.smembers(names.institutions_key(settings.app_id)):
        for entry_id, fields in client.xrange(names.case_stream(settings.app_id, inst)):
            if fields.get("trigger_produced_at"):
                lat.append(int(entry_id.split("-")[0]) - int(fields["trigger_produced_at"]))
    lat.sort()
    q = common.histogram_quantile
    return Latency(
        fraction=fraction,
        rate=rate,
        events=paced.sent,
        seconds=seconds,
        cases=len(lat),
        case_p50_ms=_pick(lat, 0.5),
        case_p99_ms=_pick(lat, 0.99),
        case_max_ms=lat[-1] if lat else float("nan"),
        processed_p50_ms=1000 * q(samples, "chainbreaker_event_latency_seconds", 0.5),
        processed_p99_ms=1000 * q(samples, "chainbreaker_event_latency_seconds", 0.99),
        gc_pauses=int(samples.get("chainbreaker_gc_pause_seconds_count", 0)),
        gc_p99_ms=1000 * q(samples, "chainbreaker_gc_pause_seconds", 0.99),
        # q=1 is the upper bound of the highest non-empty bucket: the longest pause, rounded up
        gc_max_bucket_ms=1000 * q(samples, "chainbreaker_gc_pause_seconds", 1.0),
        batch_mean_events=_mean(samples, "chainbreaker_batch_events"),
        worker_cpu_share=cpu / seconds if seconds else float("nan"),
        publisher_cpu_share=paced.cpu_share,
    )


def _mean(samples: dict[str, float], name: str) -> float:
    count = samples.get(f"{name}_count", 0.0)
    return samples.get(f"{name}_sum", 0.0) / count if count else float("nan")
