"""The real pipeline: Kafka -> Faust worker -> alerts topic -> Redis Stream case queue.

Runs `chainbreaker worker` as a process against the broker and Redis the project starts.
"""

from __future__ import annotations

import json
import struct

import pytest

from schemas.codec import SOE_MAGIC, AvroCodec
from streams.topics import consumer_lag
from tests.support import (
    HOUR_MS,
    WorkerProcess,
    hotel,
    isolated_env,
    midnight_days_ago,
    night_atm,
    operator_redis,
    payment,
    producer,
    settings_for,
)
from tests.support import consumer as support_consumer

pytestmark = pytest.mark.integration
EVENTS = AvroCodec("payment_event")


def publish(settings, records, raw: list[tuple[bytes | None, bytes]] = ()) -> None:
    p = producer(settings)
    for rec in records:
        p.produce(settings.topic_payments, key=rec["account_id"].encode(), value=EVENTS.encode(rec))
    for key, value in raw:
        p.produce(settings.topic_payments, key=key, value=value)
    assert p.flush(30) == 0


def ring_events(prefix: str, account: str = "acct-1", last_day_ago: int = 1) -> list[dict]:
    """Hotels in three cities and three late-night ATM withdrawals within three days, the
    last of them ``last_day_ago`` days ago."""
    d3, d2, d1 = (midnight_days_ago(last_day_ago + n) for n in (2, 1, 0))
    return [
        hotel(f"{prefix}-h1", d3 + 15 * HOUR_MS, "Reno", account),
        night_atm(f"{prefix}-n1", d3, account),
        hotel(f"{prefix}-h2", d2 + 15 * HOUR_MS, "Fresno", account),
        night_atm(f"{prefix}-n2", d2, account),
        night_atm(f"{prefix}-n3", d1, account),
        hotel(f"{prefix}-h3", d1 + 15 * HOUR_MS, "Boise", account),
    ]


def cases(settings, institution: str = "bank-test") -> list[dict]:
    client = operator_redis(settings)
    entries = client.xrange(settings.case_stream(institution))
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]


@pytest.fixture
def worker_env(stack, tmp_path):
    return isolated_env(tmp_path)


@pytest.fixture
def spawn(tmp_path):
    """Start workers that are always stopped at teardown, even when the test fails."""
    started: list[WorkerProcess] = []

    def _spawn(env: dict[str, str], log_name: str) -> WorkerProcess:
        worker = WorkerProcess(env, tmp_path / log_name)
        started.append(worker)
        return worker.start()

    yield _spawn
    for worker in started:
        worker.stop()


def test_payments_become_one_case_on_the_institution_queue(worker_env, tmp_path):
    settings = settings_for(worker_env)
    worker = WorkerProcess(worker_env, tmp_path / "worker.log").start()
    try:
        ring = ring_events("ring")
        innocent = [hotel("trip-1", midnight_days_ago(2) + 10 * HOUR_MS, "Reno", "acct-2")]
        publish(settings, ring + innocent)
        worker.wait_metric("chainbreaker_events_processed_total", len(ring) + len(innocent))
        worker.wait_metric("chainbreaker_cases_enqueued_total", 1)

        queued = cases(settings)
        assert len(queued) == 1
        case = queued[0]
        assert case["typology"] == "SEX_TRAFFICKING"
        assert case["account_id"] == "acct-1"
        alert = json.loads(case["alert"])
        assert {i["code"] for i in alert["indicators"]} == {"HOTEL_MULTI_CITY", "LATE_NIGHT_CASH"}
        assert set(alert["evidence_event_ids"]) == {e["event_id"] for e in ring}
        assert alert["sar_key_term"] == "HUMAN TRAFFICKING FIN-2020-A008"
        assert alert["first_event_time"] == min(e["event_time"] for e in ring)
        assert alert["last_event_time"] == max(e["event_time"] for e in ring)
        hotel_hit = next(i for i in alert["indicators"] if i["code"] == "HOTEL_MULTI_CITY")
        assert hotel_hit["measured"] == 3 and hotel_hit["threshold"] == 3
        assert worker.metric("chainbreaker_end_to_end_latency_seconds_count") == 1
        assert (
            worker.metric("chainbreaker_alerts_total", 'severity="LOW",typology="SEX_TRAFFICKING"')
            == 1
        )
    finally:
        worker.stop()


def test_bad_input_goes_to_dead_letter_with_reason_and_worker_keeps_going(worker_env, tmp_path):
    settings = settings_for(worker_env)
    worker = WorkerProcess(worker_env, tmp_path / "worker.log").start()
    now_day = midnight_days_ago(0)
    try:
        unknown_schema = SOE_MAGIC + struct.pack("<Q", 12345) + b"\x00"
        bad = [
            ("garbage", b"acct-9", b"not avro at all"),
            ("unknown", b"acct-9", unknown_schema),
            (
                "negative",
                b"acct-9",
                EVENTS.encode(payment("neg", now_day, "acct-9", amount_minor=-5)),
            ),
            (
                "currency",
                b"acct-9",
                EVENTS.encode(payment("cur", now_day, "acct-9", currency="ZZZ")),
            ),
            ("future", b"acct-9", EVENTS.encode(payment("fut", now_day + 48 * HOUR_MS, "acct-9"))),
            ("wrongkey", b"other", EVENTS.encode(payment("key", now_day, "acct-9"))),
            ("tombstone", b"acct-9", None),
        ]
        good = payment("good-1", now_day, "acct-9")
        publish(settings, [], [(k, v) for _, k, v in bad])
        publish(settings, [good])
        worker.wait_metric("chainbreaker_events_processed_total", 1)
        worker.wait_metric("chainbreaker_dead_letters_total", len(bad))

        consumer = support_consumer(settings, f"{settings.app_id}-check")
        consumer.subscribe([settings.topic_dead_letter])
        letters = []
        while len(letters) < len(bad):
            msg = consumer.poll(30)
            assert msg is not None, f"only {len(letters)} dead letters arrived"
            if not msg.error():
                letters.append(msg)
        consumer.close()
        reasons = sorted(dict(m.headers())["cb-dlq-reason"].decode() for m in letters)
        assert reasons == sorted([
            "undecodable", "unknown_schema", "invalid_amount", "unknown_currency",
            "future_event_time", "invalid_field", "undecodable",
        ])  # fmt: skip
        originals = {value for _, _, value in bad}
        for m in letters:
            headers = dict(m.headers())
            assert headers["cb-dlq-topic"].decode() == settings.topic_payments
            assert int(headers["cb-dlq-offset"]) >= 0
            assert headers["cb-dlq-detail"]
            assert m.value() in originals  # the original bytes, untouched
        assert worker.metric("chainbreaker_dead_letters_total", 'reason="undecodable"') == 2
        assert worker.proc.poll() is None
    finally:
        worker.stop()


def test_killed_worker_restores_state_from_changelog_and_opens_no_duplicate_case(
    worker_env, tmp_path, spawn
):
    settings = settings_for(worker_env)
    ring = ring_events("kill")
    before, trigger = ring[:-1], ring[-1]  # everything but the third hotel city
    # The first worker never commits its input offsets (10-minute interval): killed, it leaves
    # all it processed to be delivered again, the case a crash between commits makes.
    first = spawn({**worker_env, "CB_COMMIT_INTERVAL_MS": "600000"}, "w1.log")
    publish(settings, before)
    first.wait_metric("chainbreaker_events_processed_total", len(before))
    first.wait_metric("chainbreaker_indicator_hits_total", 1)  # late-night cash, no alert yet
    assert consumer_lag(settings, settings.app_id, settings.topic_payments) == len(before)
    first.kill()
    assert cases(settings) == []

    # A fresh local state directory: the state can only come back from the changelog topic.
    # The uncommitted events come again and are skipped as seen (their effect is in the
    # restored state), then the trigger completes the pattern.
    env2 = {**worker_env, "CB_STATE_DIR": str(tmp_path / "state-2")}
    second = spawn(env2, "w2.log")
    publish(settings, [trigger])
    second.wait_metric("chainbreaker_cases_enqueued_total", 1)
    assert second.metric("chainbreaker_duplicate_events_total") == len(before)
    assert second.metric("chainbreaker_events_processed_total") == 1
    queued = cases(settings)
    assert len(queued) == 1
    alert = json.loads(queued[0]["alert"])
    assert set(alert["evidence_event_ids"]) == {e["event_id"] for e in ring}
    second.kill()

    # Crash again and replay: the trigger is delivered a second time (as after a crash before
    # the offset commit). Whether the restored state already holds it (a duplicate, re-emitted)
    # or not (applied again), the alert comes out with the same id and the queue must not grow.
    env3 = {**worker_env, "CB_STATE_DIR": str(tmp_path / "state-3")}
    third = spawn(env3, "w3.log")
    publish(settings, [trigger])
    third.wait_metric("chainbreaker_case_duplicates_total", 1)
    seen = third.metric("chainbreaker_duplicate_events_total")
    seen += third.metric("chainbreaker_events_processed_total")
    assert seen >= 1
    assert len(cases(settings)) == 1
