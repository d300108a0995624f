"""The streaming worker and the offline backtest raise the same alerts on the same input.

Publishes a small simulated population (two scenarios of each typology, four look-alikes) and
three rings that only network cases find (processors/networks.py: one sharing a phone, one
across two institutions, one linked only through the controller its victims pay) to an
isolated payments topic with a real worker behind it, waits until the worker has committed
every payment, link, signal and the case router every alert, and compares the case queues
with what `processors.replay.run` raises over the same records: same (account, typology,
alert id), network cases included.
"""

from __future__ import annotations

import time

import pytest

from config.names import institutions_key, router_group
from processors import replay
from processors import rules as rules_mod
from processors.engine import Engine
from publisher.producer import Publisher
from streams.topics import consumer_lag
from tests.backtest.test_backtest import simulated
from tests.processors.test_networks import ads, handover, motels
from tests.support import (
    WorkerProcess,
    isolated_env,
    operator_redis,
    payment,
    settings_for,
    wait_for,
)

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def network_rings(t0: int) -> list[dict]:
    """Rings whose red flags only add up across members: each makes a network case."""
    phone_a, phone_b = "a1" * 32, "b2" * 32
    recs = ads("ring1-victim", t0, phone=phone_a) + motels("ring1-boss", t0 + HOUR_MS, phone_a)
    recs += ads("ring2-victim", t0, phone=phone_b, institution="bank-a")
    recs += motels("ring2-boss", t0 + HOUR_MS, phone=phone_b, institution="bank-b")
    recs += ads("ring3-v1", t0, phone=None) + motels("ring3-v2", t0, phone=None)
    for day in range(4):
        t = t0 + day * DAY_MS
        recs += [
            handover("ring3-v1", t + HOUR_MS, to="ring3-boss"),
            handover("ring3-v2", t + 2 * HOUR_MS, to="ring3-boss"),
            payment(f"ring3-boss-c{day}", t, "ring3-boss", institution_id="bank-a"),
        ]
    for rec in recs:  # the helpers name their own payee's institution: keep it ours
        if rec.get("counterparty"):
            rec["counterparty"]["institution_id"] = "bank-a"
    return sorted(recs, key=lambda r: r["event_time"])


def all_consumed(settings) -> bool:
    """Every payment, link and signal committed by the worker, every alert by the router."""
    group = settings.app_id
    return (
        consumer_lag(settings, group, settings.topic_payments) == 0
        and consumer_lag(settings, group, settings.topic_identity_links) == 0
        and consumer_lag(settings, group, settings.topic_account_signals) == 0
        and consumer_lag(settings, router_group(group), settings.topic_alerts) == 0
    )


pytestmark = pytest.mark.integration


def queued_alerts(settings) -> set[tuple[str, str, str]]:
    client = operator_redis(settings, decode_responses=True)
    found = set()
    for institution in client.smembers(institutions_key(settings.app_id)):
        for _, fields in client.xrange(settings.case_stream(institution)):
            found.add((fields["account_id"], fields["typology"], fields["alert_id"]))
    return found


def test_worker_and_backtest_raise_the_same_alerts(stack, tmp_path):
    env = isolated_env(tmp_path)
    settings = settings_for(env)
    records, truth = simulated()
    records += network_rings(min(r["event_time"] for r in records) + DAY_MS)
    offline = replay.run(records, Engine(rules_mod.load()), int(time.time() * 1000))
    expected = {(a["account_id"], a["typology"], aid) for aid, a in offline.alerts.items()}
    assert offline.rejected == {} and len(expected) >= 6  # the scenarios alert offline
    network_cases = {aid for aid, a in offline.alerts.items() if a.get("network")}
    assert len(network_cases) >= 4  # ring 2 makes one case at each of its two banks

    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        with Publisher(settings) as pub:  # keyed by account_id, as the contract requires
            for rec in records:
                pub.send(rec)
            assert pub.flush(30) == 0
        # The worker commits a payment's offset only after the alerts and links it raised
        # are sent, a link's after its signals, a signal's after its alerts and reports; the
        # router commits an alert's offset only after Redis took the case. Twice in a row,
        # since a report consumed last can still raise a case.
        for _ in range(2):
            wait_for(
                lambda: all_consumed(settings),
                60,
                "the worker and the router to commit everything",
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
    rings = {acct for acct, _, _ in streamed if acct.startswith("ring")}
    assert {acct for acct, _, _ in streamed} - rings == labelled
    assert {"ring1-victim", "ring2-victim", "ring2-boss", "ring3-v1"} <= rings
