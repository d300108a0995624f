"""What every live benchmark shares: isolated topics, preloading, processes, progress, metrics.

Each run gets its own app id and topics on the local stack, so runs never see each other's
data. Progress is read from the broker (the consumer group's committed offsets) and from the
process's own CPU clock, never from fixed sleeps.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import ConsumerGroupState, KafkaException
from confluent_kafka.admin import AdminClient

from config import clients
from config import settings as settings_mod
from publisher.pacing import TokenBucket
from publisher.producer import Publisher
from streams.topics import consumer_lag

ROOT = Path(__file__).resolve().parent.parent
PEER_PYTHON = ROOT / ".venv-peer" / "bin" / "python"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: app ids of this process's runs: their topics are deleted when the benchmark ends
RUN_APPS: list[str] = []


def isolated(tag: str, tmp: Path, partitions: int, **overrides: str) -> dict[str, str]:
    """Environment of one benchmark run: its own app id and topics on the shared stack."""
    base = settings_mod.load()
    RUN_APPS.append(f"bench-{tag}")
    env = {
        **os.environ,
        "CB_KAFKA_BOOTSTRAP": base.kafka_bootstrap,
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
    env.update(overrides)
    return env


def provision(env: dict[str, str]) -> dict[str, str]:
    """The app's principals (Kafka users and ACLs, the router's Redis user), as `stack up`
    grants them for the default app, and its topics; the environment, for chaining."""
    from access.grant import grant_app
    from streams.topics import ensure_topics

    settings = settings_mod.load(env)
    grant_app(settings)
    ensure_topics(settings)
    return env


def delete_run_topics() -> int:
    """Delete the topics of every run this process made: the apps' own (``bench-<tag>-``)
    and the Quix Streams peer's changelogs (``changelog__bench-<tag>-``). A mature run
    leaves about 3 GB of changelog behind, so repeated benchmarks would fill the disk."""
    from streams.topics import delete_topics_named

    apps = tuple(dict.fromkeys(RUN_APPS))
    prefixes = tuple(f"{app}-" for app in apps) + tuple(f"changelog__{app}-" for app in apps)
    RUN_APPS.clear()
    return len(delete_topics_named(settings_mod.load(), prefixes))


def admin_login_env(settings: Any) -> dict[str, str]:
    """The operator's Kafka login as CB_KAFKA_* variables, for the Quix Streams peer: it
    creates topics of its own naming (changelogs), which no app role's ACLs cover."""
    from config import clients

    login = clients.kafka_login(settings, clients.ADMIN)
    if login is None:  # CB_KAFKA_SECURITY=plaintext
        return {}
    return {
        clients.ENV_KAFKA_USERNAME: login.username,
        clients.ENV_KAFKA_PASSWORD: login.password,
        clients.ENV_KAFKA_MECHANISM: login.mechanism,
    }


@dataclass
class Paced:
    sent: int
    seconds: float
    cpu_share: float  # this process's CPU seconds per second while it published


def publish_paced(settings: Any, records: Iterable[dict], rate: float) -> Paced:
    """Send ``records`` at ``rate`` per second, Avro-encoded before the clock starts.

    The publisher shares the machine's two cores with the broker and the worker; encoding
    a record costs about 25 us (6% of a core at 2,250 events/s), CPU that a publisher on
    its own machine would not take from the worker. Encoded first, the paced loop only
    hands bytes to librdkafka; what it still costs is reported (``cpu_share``)."""
    with Publisher(settings) as pub:
        encoded = [(r["account_id"].encode(), pub.codec.encode(r)) for r in records]
        bucket = TokenBucket(rate, pub.poll)
        t0, cpu0 = time.perf_counter(), time.process_time()
        for key, value in encoded:
            bucket.take()
            pub.send_encoded(key, value)
        if pub.flush(300) != 0:
            raise RuntimeError("publisher could not deliver every record")
        seconds = time.perf_counter() - t0
        return Paced(len(encoded), seconds, (time.process_time() - cpu0) / seconds)


def publish(settings: Any, records: Iterable[dict]) -> tuple[int, float]:
    """Send ``records`` to the payments topic as fast as it takes them (paced traffic:
    :func:`publish_paced`)."""
    sent = 0
    t0 = time.perf_counter()
    with Publisher(settings) as pub:
        for record in records:
            pub.send(record)
            sent += 1
        if pub.flush(300) != 0:
            raise RuntimeError("publisher could not deliver every record")
    return sent, time.perf_counter() - t0


@dataclass
class Process:
    """A worker-like process (the worker, Faust's bare agent, the Quix peer)."""

    name: str
    proc: subprocess.Popen
    log: Path
    metrics_port: int | None = None

    @classmethod
    def start(
        cls, name: str, argv: list[str], env: dict[str, str], log: Path, metrics: bool = False
    ) -> Process:
        out = open(log, "ab")  # noqa: SIM115 (the child owns it)
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        port = int(env["CB_METRICS_PORT"]) if metrics else None
        return cls(name, proc, log, port)

    def cpu_seconds(self) -> float:
        """User + system CPU of the process, all threads (its /proc stat)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def metrics(self) -> dict[str, float]:
        """The process's Prometheus samples (name{labels} -> value)."""
        assert self.metrics_port is not None
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            return parse_metrics(response.read().decode())

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 60) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


def parse_metrics(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            out[series] = float(value)
    return out


def worker(name: str, env: dict[str, str], tmp: Path) -> Process:
    argv = [sys.executable, "-m", "cli", "worker"]
    return Process.start(name, argv, env, tmp / f"{name}.log", metrics=True)


def faust_floor(env: dict[str, str], tmp: Path) -> Process:
    argv = [sys.executable, "-m", "bench.faust_floor"]
    return Process.start("faust-floor", argv, env, tmp / "faust-floor.log")


def quix_peer(env: dict[str, str], tmp: Path) -> Process:
    if not PEER_PYTHON.exists():
        raise RuntimeError("no .venv-peer: run bench/peer-venv.sh (make bench does)")
    argv = [str(PEER_PYTHON), "-m", "bench.quix_peer"]
    return Process.start("quix-peer", argv, env, tmp / "quix-peer.log")


@dataclass
class Drain:
    """One process draining a preloaded topic: rates from the first commit to lag 0."""

    events: int  # records the group had to process
    total_s: float  # process start -> caught up
    steady_s: float  # first committed progress -> caught up
    steady_events: int  # records done in that time
    cpu_s: float  # the process's CPU in that time (all threads)
    machine_busy_cores: float = float("nan")  # every process's CPU (broker too) in that time

    @property
    def eps(self) -> float:
        return self.steady_events / self.steady_s if self.steady_s else float("nan")

    @property
    def cpu_us_per_event(self) -> float:
        return 1e6 * self.cpu_s / self.steady_events if self.steady_events else float("nan")


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot (/proc/stat)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def group_settled(settings: Any, group: str, members: int) -> bool:
    """Whether ``group`` is stable with ``members`` members (every worker joined, the
    partitions shared out)."""
    admin = AdminClient(clients.kafka_config(settings, clients.ADMIN, {"log_level": 3}))
    try:
        found = admin.describe_consumer_groups([group], request_timeout=10)[group].result(10)
    except KafkaException:
        return False
    return found.state == ConsumerGroupState.STABLE and len(found.members) >= members


def drain(
    settings: Any, group: str, procs: list[Process], timeout: float = 1800, members: int = 1
) -> Drain:
    """Wait until ``group`` has committed the whole payments topic; measure from its first
    committed progress (past process start-up and the group join) to the end. With several
    ``members``, from the first progress after all of them have joined: one worker can
    start draining before the other joins, and the rebalance then falls in the measurement
    (two workers measured 1.19x-1.70x one that way)."""
    t0 = time.perf_counter()
    total: int | None = None
    first: tuple[float, int, float] | None = None
    joined = members <= 1
    while True:
        lag = consumer_lag(settings, group, settings.topic_payments)
        now = time.perf_counter()
        if total is None:
            total = lag
        if not joined:
            joined = group_settled(settings, group, members)
        if first is None and joined and lag < total:
            first = (now, total - lag, sum(p.cpu_seconds() for p in procs))
            busy0 = machine_busy_seconds()
        if lag == 0:
            break
        dead = [p.name for p in procs if not p.alive()]
        if dead:
            raise RuntimeError(f"{', '.join(dead)} exited; see {procs[0].log.parent}")
        if now - t0 > timeout:
            raise RuntimeError(f"{group} did not catch up within {timeout:.0f}s")
        time.sleep(0.05)
    cpu = sum(p.cpu_seconds() for p in procs)
    end = time.perf_counter()
    if first is None:  # caught up before the first look: nothing steady to measure
        return Drain(total or 0, end - t0, 0.0, 0, 0.0)
    steady = end - first[0]
    busy = (machine_busy_seconds() - busy0) / steady if steady else float("nan")
    return Drain(total or 0, end - t0, steady, (total or 0) - first[1], cpu - first[2], busy)


def histogram_quantile(samples: dict[str, float], name: str, q: float) -> float:
    """Prometheus-style quantile (linear within the bucket) of an unlabelled histogram."""
    buckets = []
    for series, value in samples.items():
        m = re.fullmatch(rf'{name}_bucket\{{le="([^"]+)"\}}', series)
        if m:
            buckets.append((float(m.group(1)), value))
    buckets.sort()
    if not buckets or buckets[-1][1] == 0:
        return float("nan")
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            span = count - lower_count
            return lower_bound + (bound - lower_bound) * (
                (rank - lower_count) / span if span else 1
            )
        lower_bound, lower_count = bound, count
    return buckets[-1][0]


class Split:
    """A time-ordered record stream cut in two at an event time, consumed lazily: the
    history first (``before``), then the rest (``after``), without holding either."""

    def __init__(self, records: Iterable[dict], cut_ms: int) -> None:
        self._records = iter(records)
        self._cut = cut_ms
        self._held: dict | None = None

    def before(self) -> Iterator[dict]:
        for record in self._records:
            if record["event_time"] >= self._cut:
                self._held = record
                return
            yield record

    def after(self) -> Iterator[dict]:
        if self._held is not None:
            yield self._held
            self._held = None
        yield from self._records
