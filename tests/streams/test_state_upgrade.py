"""A worker upgraded in place reads the account state the previous build left in its changelog.

The previous build (before 2026-12-07) stored each account as JSON with up to 1,024 seen event
ids (format 3). Here its changelog holds such a record, written by that build's own code
(tests/processors/fixtures/account_state_v3.json): an account half-way through a sex-
trafficking pattern. A worker of this build starts with an empty local store, so the state
can only come from that changelog; the payments its predecessor applied but never committed
are delivered again, then the payment that completes the pattern. The redeliveries must be
recognised (by the ids carried over from the old record), the pattern must complete with
exactly the alert the previous build would have raised, and the account's changelog must
then hold the new, compact format.
"""

from __future__ import annotations

import json

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from config import clients
from processors import rules as rules_mod
from processors.keyhash import partition_for
from processors.state import COMPRESSED, FORMAT, AccountState
from schemas.codec import AvroCodec
from streams.topics import ensure_topics
from tests.processors.test_engine import DAY, HOUR, T0, hotel, night_cash, rec
from tests.processors.test_state import GROCERY, LEGACY
from tests.support import (
    WorkerProcess,
    isolated_env,
    operator_redis,
    producer,
    settings_for,
    wait_for,
)
from tests.support import consumer as kafka_consumer

pytestmark = pytest.mark.integration
EVENTS = AvroCodec("payment_event")
PARTITIONS = 2


def history_tail() -> list[dict]:
    """The last payments the previous build applied to the fixture's account (the fixture
    was built from 1,500 grocery payments, then these hotels and night withdrawals)."""
    groceries = [
        rec(f"g{i:05d}", T0 - 20 * DAY + i * 600_000, merchant=GROCERY) for i in range(1490, 1500)
    ]
    pattern = [night_cash("n0", T0 + 23 * HOUR), night_cash("n1", T0 + DAY + 23 * HOUR)]
    pattern += [hotel(f"h{i}", T0 + i * DAY + 12 * HOUR, c) for i, c in enumerate("ABC")]
    return groceries + sorted(pattern, key=lambda r: r["event_time"])


def test_upgraded_worker_keeps_history_from_the_old_changelog(stack, tmp_path):
    # The alert id includes the rule-set version: run the version the fixture was made with.
    doc = rules_mod.default_document()
    doc["version"] = LEGACY["alert"]["rule_set_version"]
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps(doc))
    env = isolated_env(tmp_path, CB_PARTITIONS=str(PARTITIONS), CB_RULES_FILE=str(rules_file))
    settings = settings_for(env)
    changelog = f"{settings.app_id}-account-state-changelog"
    admin = AdminClient(clients.kafka_config(settings, clients.ADMIN))
    topic = NewTopic(changelog, PARTITIONS, 1, config={"cleanup.policy": "compact"})
    admin.create_topics([topic])[changelog].result(30)
    ensure_topics(settings)  # the payments topic with CB_PARTITIONS, not the broker's default

    account = b"acct-1"
    partition = partition_for(account, PARTITIONS)
    p = producer(settings, clients.ADMIN)  # the changelog record: as the worker's build did
    p.produce(changelog, key=account, value=LEGACY["half_pattern"].encode(), partition=partition)
    redelivered = history_tail()
    trigger = night_cash("n2", T0 + 2 * DAY + 23 * HOUR)
    for record in redelivered + [trigger]:
        p.produce(settings.topic_payments, key=account, value=EVENTS.encode(record))
    assert p.flush(30) == 0

    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        worker.wait_metric("chainbreaker_cases_enqueued_total", 1, timeout=120)
        assert worker.metric("chainbreaker_duplicate_events_total") == len(redelivered)
        assert worker.metric("chainbreaker_events_processed_total") == 1
    finally:
        worker.stop()

    client = operator_redis(settings, decode_responses=True)
    entries = client.xrange(settings.case_stream("bank-1"))
    assert [fields["alert_id"] for _, fields in entries] == [LEGACY["alert"]["alert_id"]]

    # The account's newest changelog record is the new format, and far smaller.
    consumer = kafka_consumer(settings, "probe")
    try:
        tp = TopicPartition(changelog, partition)
        _low, high = consumer.get_watermark_offsets(tp, timeout=10)
        consumer.assign([TopicPartition(changelog, partition, high - 1)])
        newest = wait_for(lambda: consumer.poll(1.0), 30, "the newest changelog record")
    finally:
        consumer.close()
    assert newest.key() == account and newest.value()[:1] == COMPRESSED
    state = AccountState.loads(newest.value())
    assert FORMAT == 6 and "LATE_NIGHT_CASH" in state.hits and "HOTEL_MULTI_CITY" in state.hits
    assert len(newest.value()) < len(LEGACY["half_pattern"]) / 8
