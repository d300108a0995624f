"""Cross-account indicators through the real worker: identity-links and account-signals topics.

A shared-phone ring (three customers), five senders to one collector and their look-alikes (a
couple sharing a phone, four senders to one family member) go to an isolated payments topic
with a real `chainbreaker worker` behind it. The ring and the senders must reach the case
queues for the typologies the cross-account indicator completes; the look-alikes must not. The
offline backtest over the same records must raise alerts for the same (account, typology)
pairs (alert ids may differ: the worker applies a signal after the payments in flight, the
backtest inline, so another event can be the trigger).
"""

from __future__ import annotations

import json
import time

import pytest

from config.names import institutions_key
from processors import replay
from processors import rules as rules_mod
from processors.engine import Engine
from publisher.producer import Publisher
from streams.topics import consumer_lag
from tests.processors.test_links import PHONE, expected_ring_alerts, ring_population
from tests.streams.test_backtest_parity import queued_alerts
from tests.support import WorkerProcess, isolated_env, operator_redis, settings_for, wait_for

pytestmark = pytest.mark.integration

DAY_MS = 86_400_000


def drained(settings, group: str, topic: str) -> bool:
    return consumer_lag(settings, group, topic) == 0


def queued_records(settings) -> list[dict]:
    client = operator_redis(settings, decode_responses=True)
    return [
        json.loads(fields["alert"])
        for institution in client.smembers(institutions_key(settings.app_id))
        for _, fields in client.xrange(settings.case_stream(institution))
    ]


def test_rings_alert_through_the_worker_look_alikes_do_not_and_backtest_agrees(stack, tmp_path):
    env = isolated_env(tmp_path)
    settings = settings_for(env)
    start = (int(time.time() * 1000) // DAY_MS - 10) * DAY_MS  # ten days ago, all in the past
    records = ring_population(start)
    offline = replay.run(records, Engine(rules_mod.load()), int(time.time() * 1000))
    offline_pairs = {(a["account_id"], a["typology"]) for a in offline.alerts.values()}
    assert offline.rejected == {} and offline_pairs == expected_ring_alerts()

    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        with Publisher(settings) as pub:
            for rec in records:
                pub.send(rec)
            assert pub.flush(30) == 0
        # Each hop commits its input only after its output is sent, so draining the hops in
        # order means every signal and alert is out.
        group = settings.app_id
        hops = [
            (group, settings.topic_payments),
            (group, settings.topic_identity_links),
            (group, settings.topic_account_signals),
            (f"{group}-case-router", settings.topic_alerts),
        ]

        def drain_all() -> None:
            for g, topic in hops:
                wait_for(
                    lambda g=g, t=topic: drained(settings, g, t), 90, f"{g} to drain {topic}", 0.5
                )

        drain_all()
        streamed = queued_alerts(settings)
        cases = queued_records(settings)
        assert worker.metric("chainbreaker_dead_letters_total") == 0, worker.log_tail()
        assert worker.metric("chainbreaker_identity_links_sent_total") >= len(records) // 3
        signals = worker.metric("chainbreaker_account_signals_sent_total")
        assert signals >= 3 + 5, worker.log_tail()  # the ring and the senders, at least once

        # Redelivery of the whole input (as after a crash): the payments are duplicates, their
        # links are re-reported, the groups re-send the same signal ids, the accounts skip
        # them and re-emit the same alert ids, and the case queues stay as they were.
        with Publisher(settings) as pub:
            for rec in records:
                pub.send(rec)
            assert pub.flush(30) == 0
        worker.wait_metric("chainbreaker_duplicate_events_total", len(records), 90)
        drain_all()
        assert worker.metric("chainbreaker_account_signals_sent_total") > signals
        assert queued_alerts(settings) == streamed
        assert worker.metric("chainbreaker_dead_letters_total") == 0, worker.log_tail()
    finally:
        worker.stop()

    pairs = {(acct, typ) for acct, typ, _ in streamed}
    assert pairs == expected_ring_alerts(), (
        f"only streamed: {sorted(pairs - offline_pairs)}\n"
        f"only offline: {sorted(offline_pairs - pairs)}"
    )
    assert not any(acct.startswith(("couple", "four")) for acct, _ in pairs)
    assert len(streamed) == len(pairs)  # one case per account and typology (cooldown)
    # Every case cites the cross-account indicator next to the per-account one (structuring
    # alone is below the threshold) and names the identifier only by a hash prefix.
    for case in cases:
        codes = {i["code"] for i in case["indicators"]}
        cross = (
            "SHARED_IDENTIFIER" if case["account_id"].startswith("ring") else "COMMON_BENEFICIARY"
        )
        assert codes == {"STRUCTURING", cross}, case
        assert PHONE not in json.dumps(case) and "collector" not in json.dumps(case)
        assert any("hash" in i["explanation"] for i in case["indicators"] if i["code"] == cross)


def test_identifier_groups_survive_a_kill_and_a_fresh_local_store(stack, tmp_path):
    """Two ring members go through a first worker, which is then killed with SIGKILL; a second
    worker with an empty state directory sees the third member. The ring can only complete
    if the identity-groups table came back from its changelog (and the members' structuring
    hits from the account-state changelog)."""
    env = isolated_env(tmp_path)
    settings = settings_for(env)
    start = (int(time.time() * 1000) // DAY_MS - 10) * DAY_MS
    records = ring_population(start)
    before = [r for r in records if r["account_id"] != "ring-2"]
    after = [r for r in records if r["account_id"] == "ring-2"]
    group = settings.app_id
    hops = [
        (group, settings.topic_payments),
        (group, settings.topic_identity_links),
        (group, settings.topic_account_signals),
    ]

    def publish_and_drain(batch: list[dict]) -> None:
        with Publisher(settings) as pub:
            for rec in batch:
                pub.send(rec)
            assert pub.flush(30) == 0
        for g, topic in hops:
            wait_for(lambda g=g, t=topic: drained(settings, g, t), 90, f"{g} to drain {topic}", 0.5)

    first = WorkerProcess(env, tmp_path / "w1.log").start()
    try:
        publish_and_drain(before)
        assert first.metric("chainbreaker_account_signals_sent_total") >= 5  # the senders
    finally:
        first.kill()
        first.stop()
    ring_cases = {(a, t) for a, t, _ in queued_alerts(settings) if a.startswith("ring")}
    assert ring_cases == set()  # two customers with one phone: nothing yet

    env2 = {**env, "CB_STATE_DIR": str(tmp_path / "state-2")}
    second = WorkerProcess(env2, tmp_path / "w2.log").start()
    try:
        publish_and_drain(after)
        wait_for(
            lambda: drained(settings, f"{group}-case-router", settings.topic_alerts),
            90,
            "the case router to queue every alert",
            0.5,
        )
        assert second.metric("chainbreaker_dead_letters_total") == 0, second.log_tail()
    finally:
        second.stop()
    pairs = {(a, t) for a, t, _ in queued_alerts(settings)}
    assert pairs == expected_ring_alerts()
