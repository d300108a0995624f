"""Workers scale out in one group and survive each other: no case lost, none doubled.

One seeded population with many injected scenarios is published, paced, twice: once to an
undisturbed single worker (the control), once to a group whose membership changes under
load: a second worker joins, the first leaves by SIGTERM, a third joins, the second dies by
SIGKILL. Every alert of the control run must be on the disturbed run's case queues, exactly
once, and nothing may be dead-lettered in either run. The take-over time (departure ->
first committed progress on a partition the departed worker owned) is printed.

Alerts are compared by id, exactly, for every (account, typology) that neither run reached
through a network case or a cross-account indicator (SHARED_IDENTIFIER, COMMON_BENEFICIARY,
WAGE_FORWARDING); the others are only checked to be queued once:
the worker applies a cross-account signal when it arrives, between whatever payments are in
flight, and a group's episode takes its time from whichever link completed it, so which of
those alerts fire, and their ids, depend on timing even between two undisturbed runs of the
same input (151 and 155 cases in two control runs here; docs/known-issues.md), and a
network case opened first holds the account's own alert of that typology back (cooldown).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import TopicPartition

from config.names import institutions_key, router_group
from processors.indicators import CATALOG
from processors.indicators.base import CrossAccountDetector
from publisher.pacing import TokenBucket
from publisher.producer import Publisher
from simulator.simulation import generate
from streams.topics import consumer_lag
from tests.support import (
    WorkerProcess,
    free_port,
    isolated_env,
    operator_redis,
    settings_for,
    wait_for,
)
from tests.support import consumer as kafka_consumer

pytestmark = pytest.mark.integration

DAY_MS = 86_400_000
RATE = 300  # events/s: a run lasts about a minute, long enough for four membership changes
CROSS_ACCOUNT = {code for code, cls in CATALOG.items() if issubclass(cls, CrossAccountDetector)}


def population() -> list[dict]:
    start = (int(time.time() * 1000) // DAY_MS - 22) * DAY_MS
    events, _truth = generate(12, 600, 21, start, "scale-out-test-key", 100)
    return list(events)


def cases(settings) -> list[dict]:
    client = operator_redis(settings, decode_responses=True)
    out = []
    for institution in client.smembers(institutions_key(settings.app_id)):
        out += [fields for _, fields in client.xrange(settings.case_stream(institution))]
    return out


def committed(settings) -> dict[int, int]:
    consumer = kafka_consumer(settings, settings.app_id)
    try:
        tps = [TopicPartition(settings.topic_payments, p) for p in range(settings.partitions)]
        return {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=10)}
    finally:
        consumer.close()


class Group:
    """Worker processes of one app id, each with its own state dir and metrics port."""

    def __init__(self, env: dict[str, str], tmp: Path) -> None:
        self.env, self.tmp, self.n = env, tmp, 0
        tmp.mkdir(parents=True, exist_ok=True)

    def start(self) -> WorkerProcess:
        self.n += 1
        env = {**self.env, "CB_STATE_DIR": str(self.tmp / f"state-{self.n}"),
               "CB_METRICS_PORT": str(free_port())}  # fmt: skip
        return WorkerProcess(env, self.tmp / f"worker-{self.n}.log").start()


class TakeOver(threading.Thread):
    """Seconds from a departure until every partition has committed progress again (the
    departed worker's partitions once a survivor took them over), measured while the
    traffic goes on. Commits come every 200 ms in this test, so that is its resolution."""

    def __init__(self, settings, timeout: float) -> None:
        super().__init__(daemon=True)
        self.settings, self.timeout = settings, timeout
        self.before = committed(settings)
        self.gone_at = time.monotonic()
        self.seconds: float | None = None
        self.error: str | None = None

    def run(self) -> None:
        waiting, last = set(self.before), self.gone_at
        while waiting:
            offsets = committed(self.settings)
            now = time.monotonic()
            for p in [p for p in waiting if offsets[p] > self.before[p]]:
                waiting.discard(p)
                last = now
            if now - self.gone_at > self.timeout:
                self.error = f"partitions {sorted(waiting)} not taken over in {self.timeout}s"
                return
            time.sleep(0.1)
        self.seconds = last - self.gone_at


def run(records: list[dict], settings, on_progress) -> None:
    """Publish ``records`` paced at RATE, calling ``on_progress(fraction)`` as it goes."""
    with Publisher(settings) as pub:
        bucket = TokenBucket(RATE, pub.poll)
        for i, record in enumerate(records):
            bucket.take()
            pub.send(record)
            if i % 500 == 0:
                on_progress(i / len(records))
        assert pub.flush(60) == 0


def drained(settings, timeout: float = 300) -> None:
    """Every payment, identity link, account signal and alert committed by its consumer,
    all at once: the cross-account hop runs after the payments that feed it."""
    app = settings.app_id
    inputs = [
        (app, settings.topic_payments),
        (app, settings.topic_identity_links),
        (app, settings.topic_account_signals),
        (router_group(app), settings.topic_alerts),
    ]
    wait_for(
        lambda: all(consumer_lag(settings, group, topic) == 0 for group, topic in inputs),
        timeout,
        "every payment, link, signal and alert to be committed",
        interval=0.5,
    )


def dead_letters(workers: list[WorkerProcess]) -> float:
    return sum(w.metric("chainbreaker_dead_letters_total") for w in workers)


def test_workers_join_leave_and_die_without_losing_or_doubling_a_case(stack, tmp_path):
    records = population()

    (tmp_path / "control").mkdir()
    (tmp_path / "group").mkdir()
    control_env = isolated_env(tmp_path / "control", CB_PARTITIONS="4")
    control_settings = settings_for(control_env)
    control = Group(control_env, tmp_path / "control").start()
    try:
        run(records, control_settings, lambda _f: None)
        drained(control_settings)
        assert control.metric("chainbreaker_dead_letters_total") == 0, control.log_tail()
    finally:
        control.stop()
    expected = cases(control_settings)
    assert len(expected) >= 100, f"only {len(expected)} cases: too few to prove anything"

    env = isolated_env(tmp_path / "group", CB_PARTITIONS="4", CB_COMMIT_INTERVAL_MS="200")
    settings = settings_for(env)
    group = Group(env, tmp_path / "group")
    workers = {"first": group.start()}
    events: list[str] = []
    take_overs: dict[str, TakeOver] = {}

    def disturb(fraction: float) -> None:
        if fraction >= 0.2 and "second" not in workers:
            workers["second"] = group.start()
            events.append(f"second joined at {fraction:.0%}")
        elif fraction >= 0.4 and "SIGTERM" not in take_overs:
            take_overs["SIGTERM"] = TakeOver(settings, 90)
            workers["first"].stop()  # SIGTERM: leaves the group cleanly
            take_overs["SIGTERM"].start()
            events.append(f"first stopped (SIGTERM) at {fraction:.0%}")
        elif fraction >= 0.55 and "third" not in workers:
            workers["third"] = group.start()
            events.append(f"third joined at {fraction:.0%}")
        elif fraction >= 0.75 and "SIGKILL" not in take_overs:
            take_overs["SIGKILL"] = TakeOver(settings, 120)
            workers["second"].kill()  # SIGKILL: no leave, no commit; the session times out
            take_overs["SIGKILL"].start()
            events.append(f"second killed (SIGKILL) at {fraction:.0%}")

    try:
        run(records, settings, disturb)
        assert set(take_overs) == {"SIGTERM", "SIGKILL"}, events
        drained(settings)
        for kind, measure in take_overs.items():
            measure.join(150)
            assert measure.error is None and measure.seconds is not None, (kind, measure.error)
        survivors = [w for w in workers.values() if w.proc and w.proc.poll() is None]
        assert dead_letters(survivors) == 0
        got = cases(settings)
    finally:
        for w in workers.values():
            w.stop()

    ids = Counter(c["alert_id"] for c in got)
    assert [i for i, n in ids.items() if n > 1] == [], "a case was queued twice"

    # Exactly the control run's alerts, for every (account, typology) that neither run
    # reached through a network case or a cross-account finding (whose timing may also
    # decide, through the cooldown, whether the account's own alert fires).
    timing = {_pair(c) for c in got + expected if _cross_account(c)}
    compared = {c["alert_id"] for c in expected if _pair(c) not in timing}
    per_account = {c["alert_id"] for c in got if _pair(c) not in timing}
    assert len(compared) >= 80, f"only {len(compared)} alerts comparable by id"
    assert per_account == compared, (
        f"lost: {sorted(compared - per_account)}\nextra: {sorted(per_account - compared)}"
    )
    print(
        f"\nscale-out: {len(records):,} events at {RATE}/s; {len(per_account)} cases identical "
        f"to the control run's, {len(got) - len(per_account)} others touched by network or "
        f"cross-account findings ({len(expected) - len(compared)} in the control run), none "
        f"twice, "
        f"after {', '.join(events)}; take-over "
        + ", ".join(f"{k} {m.seconds:.1f} s" for k, m in take_overs.items())
    )


def _pair(case: dict) -> tuple[str, str, str]:
    return case["institution_id"], case["account_id"], case["typology"]


def _cross_account(case: dict) -> bool:
    """A network case, or an alert a cross-account finding contributed to."""
    alert = json.loads(case["alert"])
    if alert.get("network") is not None:
        return True
    return any(i["code"] in CROSS_ACCOUNT for i in alert["indicators"])
