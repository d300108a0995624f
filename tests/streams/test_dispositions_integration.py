"""Analysts' dispositions reach a real worker: a false positive mutes a repeat of the pattern.

Two accounts show the same ring pattern (hotels in three cities, late-night cash) and both
alert. The analyst calls one a false positive. Ten days later in event time (past the
168 h cooldown, inside the default 30-day suppression) both repeat the pattern: the control
account alerts again, the suppressed one does not. Malformed dispositions are dead-lettered
with their reason, a redelivered one is applied once, one naming another institution than
the topic it came on is refused (institution_mismatch), and the worker keeps running.
"""

from __future__ import annotations

import json
import time

import pytest

from config.names import disposition_topic
from institutions.dispositions import build_disposition
from schemas.codec import AvroCodec
from tests.streams.test_worker_integration import cases, publish, ring_events
from tests.support import (
    WorkerProcess,
    institution_producer,
    isolated_env,
    settings_for,
    wait_for,
)
from tests.support import consumer as support_consumer

pytestmark = pytest.mark.integration
DISPOSITIONS = AvroCodec("disposition")
SUPPRESSED, CONTROL = "acct-fp", "acct-ctl"


def disposition_for(alert: dict, outcome: str, **over) -> dict:
    """What `chainbreaker cases dispose` sends, with a fixed id so a replay is recognisable."""
    record = build_disposition(alert, outcome, "analyst-17")
    return {**record, "disposition_id": f"disp-{alert['alert_id']}", **over}


def alerts_by_account(settings) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for case in cases(settings):
        out.setdefault(case["account_id"], []).append(json.loads(case["alert"]))
    return out


def dead_letters(settings, want: int) -> list:
    consumer = support_consumer(settings, f"{settings.app_id}-dlq-check")
    consumer.subscribe([settings.topic_dead_letter])
    letters = []
    try:
        deadline = time.monotonic() + 60
        while len(letters) < want and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                letters.append(msg)
    finally:
        consumer.close()
    return letters


def test_false_positive_mutes_the_pattern_on_its_account_only(stack, tmp_path):
    env = isolated_env(tmp_path)
    settings = settings_for(env)
    assert settings.fp_suppress_hours >= 24 * 10  # the repeat falls inside the suppression
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        first = ring_events("a", SUPPRESSED, 11) + ring_events("b", CONTROL, 11)
        publish(settings, first)
        worker.wait_metric("chainbreaker_alerts_total", 2, timeout=90)
        by_account = wait_for(
            lambda: (a := alerts_by_account(settings)) and len(a) == 2 and a,
            60,
            "both first alerts on the case queue",
        )
        alert = by_account[SUPPRESSED][0]
        hits_first = worker.metric("chainbreaker_indicator_hits_total")
        assert hits_first >= 4  # two indicators on each account
        assert {i["code"] for i in alert["indicators"]} == {"HOTEL_MULTI_CITY", "LATE_NIGHT_CASH"}

        # The analyst's false positive, its redelivery, and three broken dispositions behind
        # them on the same key (so the same partition, processed in this order), all sent by
        # the institution's own principal on its own topic; the last claims to be another
        # institution's decision.
        fp = DISPOSITIONS.encode(disposition_for(alert, "FALSE_POSITIVE"))
        unknown_code = DISPOSITIONS.encode(
            disposition_for(alert, "VALUABLE", disposition_id="x", indicator_codes=["NOPE"])
        )
        forged = DISPOSITIONS.encode(
            disposition_for(alert, "VALUABLE", disposition_id="y", institution_id="bank-other")
        )
        p = institution_producer(settings, "bank-test")
        topic = disposition_topic(settings.topic_dispositions, "bank-test")
        key = SUPPRESSED.encode()
        for value in (fp, fp, b"not avro", unknown_code, forged):
            p.produce(topic, key=key, value=value)
        assert p.flush(30) == 0

        worker.wait_metric("chainbreaker_dispositions_total", 1, timeout=90)
        worker.wait_metric("chainbreaker_dead_letters_total", 3, timeout=90)
        # Both broken ones came after the replay: it has been read, and applied only once.
        sex_fp = 'outcome="FALSE_POSITIVE",typology="SEX_TRAFFICKING"'
        assert worker.metric("chainbreaker_dispositions_total", sex_fp) == 1
        assert worker.metric("chainbreaker_dispositions_total") == 1
        for code in ("HOTEL_MULTI_CITY", "LATE_NIGHT_CASH"):
            labels = f'indicator="{code}",outcome="FALSE_POSITIVE"'
            assert worker.metric("chainbreaker_indicator_dispositions_total", labels) == 1
            assert worker.metric("chainbreaker_indicator_precision", f'indicator="{code}"') == 0
        assert worker.metric("chainbreaker_typology_precision", 'typology="SEX_TRAFFICKING"') == 0

        letters = [
            m
            for m in dead_letters(settings, 3)
            if dict(m.headers())["cb-dlq-topic"].decode() == topic
        ]
        reasons = sorted(dict(m.headers())["cb-dlq-reason"].decode() for m in letters)
        assert reasons == ["institution_mismatch", "invalid_field", "undecodable"]
        detail = next(
            dict(m.headers())["cb-dlq-detail"].decode()
            for m in letters
            if dict(m.headers())["cb-dlq-reason"] == b"invalid_field"
        )
        assert "NOPE" in detail and "indicator_codes" in detail

        # Ten days later in event time: past the cooldown, inside the suppression.
        again = ring_events("c", SUPPRESSED, 1) + ring_events("d", CONTROL, 1)
        publish(settings, again)
        worker.wait_metric("chainbreaker_events_processed_total", len(first) + len(again), 90)
        worker.wait_metric("chainbreaker_alerts_total", 3, timeout=90)
        by_account = wait_for(
            lambda: (a := alerts_by_account(settings)) and len(a[CONTROL]) == 2 and a,
            60,
            "the control account's second alert on the case queue",
        )
        assert len(by_account[SUPPRESSED]) == 1  # only the alert the analyst dismissed
        assert worker.metric("chainbreaker_alerts_total") == 3
        # The suppressed account's pattern was detected as before, just not scored.
        assert worker.metric("chainbreaker_indicator_hits_total") == 2 * hits_first
        assert worker.proc.poll() is None, worker.log_tail()
    finally:
        worker.stop()
