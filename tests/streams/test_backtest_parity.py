"""The streaming worker and the offline backtest raise the same alerts on the same input.

Publishes a small simulated population (two scenarios of each typology, four look-alikes) to
an isolated payments topic with a real worker behind it, waits until the worker has committed
every payment and the case router every alert, and compares the case queues with what
`processors.replay.run` raises over the same records: same (account, typology, alert id).
"""

from __future__ import annotations

import time

import pytest
import redis

from config.names import institutions_key, router_group
from processors import replay
from processors import rules as rules_mod
from processors.engine import Engine
from publisher.producer import Publisher
from streams.topics import consumer_lag
from tests.backtest.test_backtest import simulated
from tests.support import WorkerProcess, isolated_env, settings_for, wait_for

pytestmark = pytest.mark.integration


def queued_alerts(settings) -> set[tuple[str, str, str]]:
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    found = set()
    for institution in client.smembers(institutions_key(settings.app_id)):
        for _, fields in client.xrange(settings.case_stream(institution)):
            found.add((fields["account_id"], fields["typology"], fields["alert_id"]))
    return found


def test_worker_and_backtest_raise_the_same_alerts(stack, tmp_path):
    env = isolated_env(tmp_path)
    settings = settings_for(env)
    records, truth = simulated()
    offline = replay.run(records, Engine(rules_mod.load()), int(time.time() * 1000))
    expected = {(a["account_id"], a["typology"], aid) for aid, a in offline.alerts.items()}
    assert offline.rejected == {} and len(expected) >= 6  # the scenarios alert offline

    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        with Publisher(settings) as pub:  # keyed by account_id, as the contract requires
            for rec in records:
                pub.send(rec)
            assert pub.flush(30) == 0
        # The worker commits a payment's offset only after the alerts it raised are sent,
        # and the router commits an alert's offset only after Redis took the case.
        wait_for(
            lambda: consumer_lag(settings, settings.app_id, settings.topic_payments) == 0,
            30,
            "the worker to commit every payment",
            interval=0.25,
        )
        wait_for(
            lambda: (
                consumer_lag(settings, router_group(settings.app_id), settings.topic_alerts) == 0
            ),
            20,
            "the case router to queue every alert",
            interval=0.25,
        )
        streamed = queued_alerts(settings)
        assert worker.metric("chainbreaker_dead_letters_total") == 0, worker.log_tail()
    finally:
        worker.stop()

    assert streamed == expected, (
        f"only streamed: {sorted(streamed - expected)}\nonly offline: {sorted(expected - streamed)}"
    )
    labelled = {t.account_id for t in truth if t.typology != "NONE"}
    assert {acct for acct, _, _ in streamed} == labelled
