"""The worker SIGKILLed three times at random points under paced traffic: every alert the
offline backtest raises over the same payments is on the case queues, exactly once.

Real parts only: the broker and Redis the stack runs, `chainbreaker worker` as an OS process
(killed with SIGKILL, restarted on the same state directory, as a crashed host would come
back), the real publisher. The seed is printed; a failure names it.
"""

from __future__ import annotations

import os
import random
import time

import pytest

from tests.reliability.harness import (
    PacedPublisher,
    compare,
    cross_account,
    oracle,
    queued_alerts,
    traffic,
    wait_drained,
)
from tests.support import WorkerProcess, isolated_env, settings_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KILLS = int(os.environ.get("CB_FAULT_KILLS") or 3)
RATE = 300  # events/s: paced, so each kill lands mid-stream with traffic still coming


def test_worker_killed_three_times_loses_and_duplicates_nothing(stack, tmp_path) -> None:
    seed = int(os.environ.get("CB_FAULT_SEED") or time.time()) % 100_000
    rng = random.Random(seed)
    records = traffic(seed, accounts=500, days=30, scenarios=200, groups=4)
    expected = oracle(records)
    per_account = sum(not cross_account(a) for a in expected.values())
    assert per_account >= 200, f"seed {seed}: the oracle raises {per_account} per-account alerts"

    env = isolated_env(tmp_path)
    settings = settings_for(env)
    kill_at = sorted(rng.uniform(0.1, 0.9) for _ in range(KILLS))
    workers = [WorkerProcess(env, tmp_path / "worker-0.log")]
    publisher = PacedPublisher(settings, records, RATE)
    kills = []
    try:
        workers[0].start()
        publisher.start()
        for n, fraction in enumerate(kill_at, 1):
            publisher.wait_sent(int(fraction * len(records)), timeout=900)
            workers[-1].kill()
            kills.append(publisher.sent)
            workers.append(WorkerProcess(env, tmp_path / f"worker-{n}.log"))
            workers[-1].start()
        publisher.finish(timeout=900)
        wait_drained(settings, workers[-1], timeout=900)
        queued = queued_alerts(settings)
    finally:
        publisher.stop()
        for worker in workers:
            worker.stop()

    result = compare(queued, expected)
    print(
        f"\nworker kills: seed {seed}, {len(records):,} payments at {RATE}/s, SIGKILL after "
        f"{kills} sent; {KILLS} faults injected; {result.summary()}"
    )
    assert result.holds, f"seed {seed}: {result.summary()}\n" + "\n".join(result.details[:40])
    assert result.by_id >= 200
