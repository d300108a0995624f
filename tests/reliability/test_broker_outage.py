"""The Kafka broker stopped mid-stream, once with SIGTERM (a clean shutdown) and once with
SIGKILL (a crash), each time for 10-20 s, then started again: the worker, the standalone case
router and the publisher ride it out without being restarted, every payment the broker
acknowledged is processed, and the case queues hold the backtest's alerts exactly once.

The broker is the shared stack's own (stack/services.py stop_service / start_service); it is
running again when the test ends, whatever happens.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time

import pytest

from config import settings as settings_mod
from stack import services as st
from tests.reliability.harness import (
    PacedPublisher,
    compare,
    oracle,
    queued_alerts,
    traffic,
    wait_drained,
)
from tests.support import ROOT, WorkerProcess, free_port, isolated_env, settings_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Slow enough that both outages (each 10-20 s down plus a restart that has taken up to a
# minute here) fall while payments are still being sent: the publisher's side is exercised.
RATE = 100


def test_broker_outages_lose_nothing_and_need_no_restart(stack, tmp_path) -> None:
    shared = settings_mod.load()  # the stack's own broker, the one to stop
    if shared.kafka_external:
        pytest.skip("the broker is external: not ours to stop")
    seed = int(os.environ.get("CB_FAULT_SEED") or time.time()) % 100_000
    rng = random.Random(seed)
    records = traffic(seed, accounts=300, days=30, scenarios=60, groups=6)
    expected = oracle(records)

    env = isolated_env(tmp_path, CB_EMBEDDED_ROUTER="false")
    settings = settings_for(env)
    worker = WorkerProcess(env, tmp_path / "worker.log")
    router_log = open(tmp_path / "router.log", "ab")  # noqa: SIM115 - closed below
    router: subprocess.Popen | None = None
    publisher = PacedPublisher(settings, records, RATE)
    outages = []
    try:
        worker.start()  # creates the topics
        router = subprocess.Popen(
            [sys.executable, "-m", "cli", "router"],
            env={**env, "CB_METRICS_PORT": str(free_port())},
            cwd=ROOT,
            stdout=router_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        publisher.start()
        for fraction, kill in ((rng.uniform(0.15, 0.35), False), (rng.uniform(0.5, 0.7), True)):
            publisher.wait_sent(int(fraction * len(records)), timeout=900)
            down_for = rng.uniform(10, 20)
            stopped = time.monotonic()
            action = st.stop_service(shared, st.KAFKA, kill=kill)
            sent_at_stop = publisher.sent
            # Mid-stream: the publisher still has payments to send into the outage.
            assert sent_at_stop < len(records), f"seed {seed}: outage after the last payment"
            # The outage itself: the broker stays down this long while traffic keeps coming.
            while time.monotonic() - stopped < down_for:
                assert worker.proc.poll() is None, "the worker died during the outage"
                assert router.poll() is None, "the router died during the outage"
                time.sleep(0.5)
            # A broker restarted after SIGKILL waits out its old registration first; on this
            # shared 2-core machine that has taken over a minute.
            st.start_service(shared, st.KAFKA, timeout=300)
            outages.append(
                f"{'SIGKILL' if kill else 'SIGTERM'} ({action}) after {sent_at_stop} sent, "
                f"down {time.monotonic() - stopped:.0f}s, {publisher.sent - sent_at_stop} "
                "sent before it was back"
            )
        publisher.finish(timeout=900)
        wait_drained(settings, worker, timeout=900)
        queued = queued_alerts(settings)
        assert worker.proc.poll() is None and router.poll() is None
    finally:
        publisher.stop()
        worker.stop()
        st.up(shared)  # the stack's broker runs again whatever happened
        if router is not None:
            router.terminate()
            try:
                router.wait(30)
            except subprocess.TimeoutExpired:
                router.kill()
        router_log.close()

    result = compare(queued, expected)
    print(
        f"\nbroker outages: seed {seed}, {len(records):,} payments at {RATE}/s, "
        f"{len(outages)} faults injected: {'; '.join(outages)}; publisher acknowledged "
        f"{publisher.publisher.delivered:,}, failed {publisher.publisher.failed}; "
        f"{result.summary()}"
    )
    assert result.holds, f"seed {seed}: {result.summary()}\n" + "\n".join(result.details[:40])
