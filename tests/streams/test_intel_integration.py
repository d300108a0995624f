"""The shared intelligence feed end to end: `chainbreaker intel` (a subprocess, as a
contributor runs it) -> the compacted intel topic -> a running worker's replica -> alerts.

Covers: an entry listed before the worker starts matches payments already waiting on the
topic (the worker loads the feed before it consumes payments); an entry added while it runs
matches the next payment; a removal stops matches in the running worker; the topic holds
hashes, never the raw identifiers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from confluent_kafka import Consumer, KafkaError, TopicPartition

from config import clients
from processors.intel import hash_identifier
from schemas.codec import AvroCodec
from streams.topics import ensure_topics
from tests.support import (
    HOUR_MS,
    ROOT,
    WorkerProcess,
    isolated_env,
    operator_redis,
    payment,
    producer,
    settings_for,
    wait_for,
)

pytestmark = pytest.mark.integration
EVENTS = AvroCodec("payment_event")
PHONE_A = "+1 (555) 010-2030"
PHONE_B = "+44 20 7946 0958"
EMAIL = "Listed.Person@Example.org"


def intel_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cli", "intel", *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def publish(settings, records: list[dict]) -> None:
    p = producer(settings)
    for rec in records:
        p.produce(settings.topic_payments, key=rec["account_id"].encode(), value=EVENTS.encode(rec))
    assert p.flush(30) == 0


def queued(settings) -> dict[str, dict]:
    """account_id -> alert, from the institution's case queue."""
    client = operator_redis(settings)
    out = {}
    for _, fields in client.xrange(settings.case_stream("bank-test")):
        alert = json.loads(fields[b"alert"])
        out[alert["account_id"]] = alert
    return out


def topic_bytes(settings) -> list[tuple[bytes, bytes | None]]:
    consumer = Consumer(clients.kafka_config(settings, clients.ADMIN, {
        "group.id": "intel-bytes", "enable.auto.commit": False, "enable.partition.eof": True,
    }))  # fmt: skip
    topic = settings.topic_intel
    parts = sorted(consumer.list_topics(topic, timeout=30).topics[topic].partitions)
    consumer.assign([TopicPartition(topic, p, 0) for p in parts])
    pending, out = set(parts), []
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                pending.discard(m.partition())
            continue
        out.append((m.key(), m.value()))
    consumer.close()
    assert not pending, "intel topic not read to its end"
    return out


@pytest.fixture
def env(stack, tmp_path):
    env = isolated_env(tmp_path)
    # The operator's topics first: a contributor may create the intel topic only, and a
    # payment sent before its topic exists would be refused (auto-creation is off).
    ensure_topics(settings_for(env))
    return env


def test_feed_entries_reach_a_running_worker_and_removals_stop_matches(env, tmp_path):
    settings = settings_for(env)
    key = settings.hash_key
    phone_a, phone_b = (hash_identifier(key, "phone", p) for p in (PHONE_A, PHONE_B))
    email = hash_identifier(key, "email", EMAIL)
    t = int(time.time() * 1000) - HOUR_MS

    # Listed before the worker exists, and a payment already waiting: the worker must load
    # the feed before it consumes that payment, or the match is missed for good.
    out = intel_cli(env, "add", "--kind", "phone", "--value", PHONE_A, "--category",
                    "sex_ad_identifier", "--source", "ads-watch", "--confidence", "0.9",
                    "--expires", "2099-01-01")  # fmt: skip
    assert "555" not in out and phone_a[:16] in out
    publish(settings, [payment("pre-1", t, "acct-pre", holder_phone_hash=phone_a)])

    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        worker.wait_metric("chainbreaker_intel_ready", 1, timeout=90)
        worker.wait_metric("chainbreaker_cases_enqueued_total", 1, timeout=90)
        alert = queued(settings)["acct-pre"]
        (hit,) = [i for i in alert["indicators"] if i["code"] == "INTEL_IDENTIFIER_MATCH"]
        assert "sex_ad_identifier from ads-watch, confidence 0.90" in hit["explanation"]
        assert phone_a not in json.dumps(alert)

        # Added while the worker runs (value on stdin, out of shell history): the next
        # payment carrying the hash alerts.
        intel_cli(env, "add", "--kind", "phone", "--value", "-", "--category",
                  "sex_ad_identifier", "--source", "ngo-y", "--confidence", "0.6",
                  stdin=PHONE_B + "\n")  # fmt: skip
        puts = 'outcome="put"'
        worker.wait_metric("chainbreaker_intel_updates_total", 2, labels=puts, timeout=90)
        publish(settings, [payment("live-1", t + 1, "acct-live", holder_phone_hash=phone_b)])
        wait_for(lambda: "acct-live" in queued(settings), 90, "an alert for acct-live")

        # Removed: later payments with that hash do not match, on any account. The e-mail
        # entry added after the removal proves the worker has read past the tombstone.
        intel_cli(env, "remove", "--kind", "phone", "--value", PHONE_B)
        intel_cli(env, "add", "--kind", "email", "--value", EMAIL, "--category",
                  "sex_ad_identifier", "--source", "ngo-y", "--confidence", "0.8")  # fmt: skip
        worker.wait_metric("chainbreaker_intel_updates_total", 1, labels='outcome="remove"')
        worker.wait_metric("chainbreaker_intel_entries", 1, labels='kind="email"')
        late = payment("late-1", t + 2, "acct-late", holder_phone_hash=phone_b)
        publish(settings, [late, payment("mail-1", t + 3, "acct-mail", holder_email_hash=email)])
        worker.wait_metric("chainbreaker_events_processed_total", 4, timeout=90)
        wait_for(lambda: "acct-mail" in queued(settings), 90, "an alert for acct-mail")
        assert "acct-late" not in queued(settings)
        assert worker.metric("chainbreaker_intel_entries", 'kind="phone"') == 1  # A only
    finally:
        worker.stop()

    # Only hashes ever reached the topic: no raw identifier in any key or value.
    records = topic_bytes(settings)
    keys = {k.decode() for k, _ in records}
    assert keys == {f"phone:{phone_a}", f"phone:{phone_b}", f"email:{email}"}
    assert (f"phone:{phone_b}".encode(), None) in records  # the removal is a tombstone
    blob = b"".join(k + (v or b"") for k, v in records)
    for raw in (PHONE_A, PHONE_B, EMAIL, "5550102030", "442079460958", EMAIL.lower()):
        assert raw.encode() not in blob, raw
    log = (tmp_path / "worker.log").read_text(errors="replace")
    for raw in ("5550102030", "442079460958", EMAIL.lower()):
        assert raw not in log


def test_imported_feed_drives_merchant_and_wallet_indicators_and_expiry(env, tmp_path):
    settings = settings_for(env)
    key = settings.hash_key
    t = int(time.time() * 1000) - HOUR_MS
    csv_file = tmp_path / "listed.csv"
    csv_file.write_text(
        "kind,value,category,source,confidence,expires\n"
        "merchant, ESCORTADS-77 ,ad_site,ad-census,0.95,2099-01-01\n"
        "wallet,bc1qDarkMarket,dark_web_market,chain-intel,0.8,\n"
        "phone,+1 555 010 9999,sex_ad_identifier,ads-watch,0.9,2020-01-01\n"  # long expired
    )
    out = intel_cli(env, "import", str(csv_file))
    assert "listed 3 identifiers" in out
    listing = intel_cli(env, "list")
    assert "expired" in listing and "3 entries" in listing and "ESCORTADS" not in listing

    merchant = {"merchant_id": "ESCORTADS-77", "mcc": "5999", "city": "Reno", "country": "US"}
    ads = [payment(f"ad-{i}", t + i, "acct-ads", channel="CARD_NOT_PRESENT", merchant=merchant,
                   amount_minor=2_500) for i in range(5)]  # fmt: skip
    wallet = hash_identifier(key, "wallet", "bc1qDarkMarket")
    crypto = payment("cx-1", t, "acct-cx", channel="CRYPTO", wallet_address_hash=wallet)
    stale = payment("old-1", t, "acct-old",
                    holder_phone_hash=hash_identifier(key, "phone", "+15550109999"))  # fmt: skip
    publish(settings, [*ads, crypto, stale])

    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        worker.wait_metric("chainbreaker_events_processed_total", 7, timeout=90)
        hits = "chainbreaker_indicator_hits_total"
        assert worker.metric(hits, 'indicator="AD_SITE_PAYMENTS"') >= 1
        assert worker.metric(hits, 'indicator="CRYPTO_SMALL_MULTIPLES"') == 1
        assert worker.metric(hits, 'indicator="INTEL_IDENTIFIER_MATCH"') == 0  # expired
        assert worker.metric("chainbreaker_intel_entries", 'kind="merchant"') == 1
    finally:
        worker.stop()
