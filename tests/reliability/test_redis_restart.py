"""Redis restarted mid-stream, once with SIGTERM and once with SIGKILL: the cases already queued
are still there (append-only file), the institution's user still logs in (aclfile) with the
same credentials, the analysts' pending entries keep their consumer and delivery count, the
case router resumes on its own, and in the end the queues hold the backtest's alerts exactly
once. Nothing is granted again between the restarts: what works afterwards is what Redis kept.
"""

from __future__ import annotations

import os
import random
import time
from functools import partial

import pytest

from config import settings as settings_mod
from institutions import acl
from institutions.client import CaseClient
from stack import services as st
from tests.reliability.harness import (
    PacedPublisher,
    compare,
    oracle,
    queued_alerts,
    traffic,
    wait_drained,
)
from tests.support import WorkerProcess, isolated_env, operator_redis, settings_for, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RATE = 250


def _take_cases(client: CaseClient) -> list:
    """New cases onto this analyst, or those already pending on it (listed, not re-read:
    re-reading the pending history bumps a delivery count that Redis does not write to its
    append-only file, so it would not survive the restart either way)."""
    return client.read(count=3, block_ms=500) or [
        p for p in client.pending() if p.consumer == client.consumer
    ]


def _pending(client: CaseClient) -> dict[str, tuple[str, int]]:
    return {p.entry_id: (p.consumer, p.deliveries) for p in client.pending(count=10_000)}


def test_redis_restarts_keep_cases_users_and_pending_state(stack, tmp_path) -> None:
    seed = int(os.environ.get("CB_FAULT_SEED") or time.time()) % 100_000
    rng = random.Random(seed)
    records = traffic(seed, accounts=300, days=30, scenarios=60, groups=6)
    expected = oracle(records)
    institution = max(
        {a["institution_id"] for a in expected.values()},
        key=lambda i: sum(a["institution_id"] == i for a in expected.values()),
    )
    shared = settings_mod.load()  # the stack's own Redis, the one to restart
    if shared.redis_external:
        pytest.skip("Redis is external: not ours to restart")
    # A stack directory of the test's own for the institution's credentials file.
    env = isolated_env(tmp_path, CB_STACK_DIR=str(tmp_path / "stack"))
    settings = settings_for(env)
    admin = operator_redis(settings)
    grant = acl.grant(admin, settings, institution)
    admin.close()
    analyst = CaseClient(grant.url, settings, institution, "ana")
    worker = WorkerProcess(env, tmp_path / "worker.log")
    publisher = PacedPublisher(settings, records, RATE)
    restarts = []
    try:
        worker.start()
        publisher.start()
        for fraction, kill in ((rng.uniform(0.25, 0.4), False), (rng.uniform(0.6, 0.75), True)):
            publisher.wait_sent(int(fraction * len(records)), timeout=900)
            # The analyst has cases on the desk (some read twice: delivery count 2) and has
            # closed one: that state must come back as it was.
            wait_for(partial(_take_cases, analyst), 120,
                     f"cases for {institution} before restart {len(restarts) + 1}")  # fmt: skip
            mine = [p for p in analyst.pending() if p.consumer == analyst.consumer]
            if len(mine) > 1:
                analyst.ack(mine[0].entry_id)
            if mine:
                analyst.reclaim(min_idle_s=0, count=1)  # delivered again: count goes up
            before_pending = _pending(analyst)
            before_cases = {a["alert_id"] for a in queued_alerts(settings)}
            action = st.stop_service(shared, st.REDIS, kill=kill)
            st.start_service(shared, st.REDIS)
            restarts.append(f"{'SIGKILL' if kill else 'SIGTERM'} ({action}) at {publisher.sent}")

            # Same credentials, no new grant: the user came back from the aclfile.
            again = CaseClient(grant.url, settings, institution, "ana")
            assert _pending(again) == before_pending
            assert before_cases <= {a["alert_id"] for a in queued_alerts(settings)}
            analyst = again
        publisher.finish(timeout=900)
        wait_drained(settings, worker, timeout=900)
        queued = queued_alerts(settings)
        assert worker.proc.poll() is None, "the worker (and its router thread) died"
        assert worker.metric("chainbreaker_cases_enqueued_total") > 0
    finally:
        publisher.stop()
        worker.stop()
        st.up(shared)  # the stack's Redis runs again whatever happened
        admin = operator_redis(settings)
        acl.revoke(admin, settings, institution)
        admin.close()

    result = compare(queued, expected)
    print(
        f"\nredis restarts: seed {seed}, {len(records):,} payments at {RATE}/s, "
        f"{len(restarts)} faults injected: {'; '.join(restarts)}; {result.summary()}"
    )
    assert result.holds, f"seed {seed}: {result.summary()}\n" + "\n".join(result.details[:40])
