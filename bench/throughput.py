"""Throughput of the worker against its floor, its ceiling and its peer, in one run.

Every figure comes from the same preloaded payments topic on the same broker, measured
from the group's first committed progress to lag 0 (past process start and the group join):

* ceiling: a plain confluent-kafka consume + Avro decode loop, what any Python consumer of
  the topic can do before detection;
* Faust's floor: a bare Faust agent with the worker's own app settings, nothing per event;
* the peer: the project's Engine.step per account on Quix Streams (bench/quix_peer.py);
* the worker on fresh accounts, one process and two processes in one group;
* the worker on mature accounts: months of history with busy business accounts, the
  worker's state built first, then measured on the days after (bench/population.py).

The broker and these processes share the machine's cores, so the ratios measured here in
one run say more than the absolutes.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer

from bench import common
from bench.population import population
from config import clients
from config import settings as settings_mod
from schemas.codec import AvroCodec

DAY_MS = 86_400_000


@dataclass
class Run:
    """One process (or group of processes) draining the topic."""

    eps: float
    cpu_us_per_event: float
    events: int
    start_to_caught_up_s: float
    machine_busy_cores: float = float("nan")  # the whole machine, broker included


@dataclass
class Throughput:
    events: int
    ceiling_eps: float
    faust_floor: Run | None = None
    quix_engine: Run | None = None
    worker_fresh: Run | None = None
    two_workers: Run | None = None
    worker_mature: Run | None = None
    mature_build: Run | None = None
    mature_events: int = 0
    changelog_bytes_per_event: float = float("nan")
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _run(d: common.Drain) -> Run:
    return Run(d.eps, d.cpu_us_per_event, d.events, d.total_s, d.machine_busy_cores)


def ceiling(settings: Any, n: int) -> float:
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
    elapsed = time.perf_counter() - (t0 or time.perf_counter())
    consumer.close()
    return got / elapsed if elapsed else float("nan")


class Bench:
    """Processes that each drain one shared payments topic with topics of their own."""

    def __init__(self, partitions: int) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="cb-bench-"))
        self.tag = uuid.uuid4().hex[:8]
        self.partitions = partitions
        self.base = common.isolated(self.tag, self.tmp, partitions)
        self.settings = settings_mod.load(common.provision(self.base))

    def env(self, name: str) -> dict[str, str]:
        """A process's own app id, internal topics and state, on the shared payments topic."""
        env = common.isolated(f"{self.tag}-{name}", self.tmp / name, self.partitions)
        env["CB_TOPIC_PAYMENTS"] = self.settings.topic_payments
        return common.provision(env)

    def drain(self, name: str, start, count: int = 1) -> common.Drain:
        env = self.env(name)
        procs = []
        for i in range(count):
            own = dict(env)
            if count > 1:  # one group, a state dir and a metrics port each
                own["CB_STATE_DIR"] = str(self.tmp / name / f"state-{i}")
                own["CB_METRICS_PORT"] = str(common.free_port())
            procs.append(start(own, self.tmp / name if count == 1 else self.tmp / f"{name}-{i}"))
        try:
            return common.drain(settings_mod.load(env), env["CB_APP_ID"], procs, members=count)
        finally:
            for p in procs:
                p.stop()


def _start_worker(env: dict[str, str], tmp: Path) -> common.Process:
    tmp.mkdir(parents=True, exist_ok=True)
    return common.worker(tmp.name, env, tmp)


def _start_floor(env: dict[str, str], tmp: Path) -> common.Process:
    tmp.mkdir(parents=True, exist_ok=True)
    return common.faust_floor(env, tmp)


def _start_peer(env: dict[str, str], tmp: Path) -> common.Process:
    tmp.mkdir(parents=True, exist_ok=True)
    env = {**env, **common.admin_login_env(settings_mod.load(env))}
    return common.quix_peer(env, tmp)


def fresh(events: int, seed: int, partitions: int, peer: bool = True) -> Throughput:
    """Ceiling, floor, peer, one and two workers on fresh accounts (~16 events each)."""
    bench = Bench(partitions)
    start_ms = int(time.time() * 1000) - 30 * DAY_MS
    accounts = max(200, events // 16)
    records = population(seed, accounts, 30, start_ms, bench.settings.hash_key)
    sent, _ = common.publish(
        bench.settings, (r for _, r in zip(range(events), records, strict=False))
    )
    out = Throughput(events=sent, ceiling_eps=ceiling(bench.settings, sent))
    out.faust_floor = _run(bench.drain("floor", _start_floor))
    if peer and common.PEER_PYTHON.exists():
        out.quix_engine = _run(bench.drain("quix", _start_peer))
    elif peer:
        out.notes.append("peer skipped: no .venv-peer (bench/peer-venv.sh)")
    out.worker_fresh = _run(bench.drain("worker", _start_worker))
    out.two_workers = _run(bench.drain("two-workers", _start_worker, count=2))
    return out


def mature(
    out: Throughput,
    seed: int,
    partitions: int,
    accounts: int,
    busy: int,
    history_days: int,
    measured_days: int,
) -> Throughput:
    """The worker on accounts with ``history_days`` of history: state built by a first
    worker run over the history, then a restarted worker measured on the next days."""
    bench = Bench(partitions)
    days = history_days + measured_days
    start_ms = int(time.time() * 1000) - (days + 1) * DAY_MS
    split = common.Split(
        population(seed, accounts, days, start_ms, bench.settings.hash_key, busy=busy),
        start_ms + history_days * DAY_MS,
    )
    common.publish(bench.settings, split.before())
    env = bench.env("mature")
    build = _start_worker(env, bench.tmp / "mature")
    try:
        out.mature_build = _run(common.drain(settings_mod.load(env), env["CB_APP_ID"], [build]))
    finally:
        build.stop()
    sent, _ = common.publish(bench.settings, split.after())
    measured = _start_worker(env, bench.tmp / "mature")
    try:
        d = common.drain(settings_mod.load(env), env["CB_APP_ID"], [measured])
        samples = measured.metrics()
    finally:
        measured.stop()
    out.worker_mature = _run(d)
    out.mature_events = sent
    written = samples.get('chainbreaker_state_bytes_written_total{table="account-state"}', 0.0)
    processed = sum(
        v for k, v in samples.items() if k.startswith("chainbreaker_events_processed_total{")
    )
    out.changelog_bytes_per_event = written / processed if processed else float("nan")
    return out
