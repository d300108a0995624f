"""12,000 mutated payment messages through the real worker: each is processed as a valid event
or dead-lettered with its reason, the worker never dies, and the counts add up exactly.

The kinds of mutation are in tests/reliability/fuzz.py (random bytes, truncated, bit-flipped
and trailing-garbage Avro, schema-valid absurd values, strings up to 600 KB, wrong or missing
keys, unknown schema fingerprints, empty values and tombstones, plus valid v1 and v2 events).
What each message must become is decided offline by the same decoding and validation the
worker runs (streams.pipeline.PaymentPipeline.parse), and the worker must agree message for
message: the dead-letter topic holds exactly the expected messages, byte for byte, with the
expected reason, and the rest were processed.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from confluent_kafka import KafkaError

from processors import rules as rules_mod
from streams.pipeline import DeadLetter, PaymentPipeline
from tests.reliability.fuzz import KINDS, mutations
from tests.reliability.harness import traffic, wait_drained
from tests.support import WorkerProcess, consumer, isolated_env, producer, settings_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COUNT = 12_000
SEED = 1313


def read_topic(settings, topic: str, expect: int, timeout: float = 300) -> list:
    c = consumer(settings, f"{settings.app_id}-fuzz-read")
    c.subscribe([topic])
    out: list = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expect and time.monotonic() < deadline:
            for m in c.consume(500, timeout=1.0):
                if m.error() is None:
                    out.append(m)
                elif m.error().code() != KafkaError._PARTITION_EOF:
                    raise AssertionError(m.error())
        # Anything beyond what is expected would be a dead letter too many.
        out += [m for m in c.consume(500, timeout=3.0) if m.error() is None]
    finally:
        c.close()
    return out


def test_fuzzed_payments_are_processed_or_dead_lettered_and_counts_add_up(stack, tmp_path):
    env = isolated_env(tmp_path)
    settings = settings_for(env)
    now_ms = int(time.time() * 1000)
    records = traffic(SEED, accounts=200, days=10, scenarios=10, groups=2)
    messages = list(mutations(records, COUNT, SEED, now_ms))

    # What each must become, by the worker's own decoding and validation.
    pipeline = PaymentPipeline(settings, rules_mod.load())
    expected_dead: Counter[tuple[bytes | None, bytes | None, str]] = Counter()
    expected_valid = 0
    for m in messages:
        outcome = pipeline.parse(m.key, m.value, now_ms)
        if isinstance(outcome, DeadLetter):
            expected_dead[(m.key, m.value, outcome.reason)] += 1
        else:
            expected_valid += 1
    reasons = Counter(reason for (_, _, reason), n in expected_dead.items() for _ in range(n))

    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    started = worker.metric("chainbreaker_worker_started_timestamp_seconds")
    try:
        p = producer(settings, extra={"message.max.bytes": 2_000_000})
        for m in messages:
            while True:
                try:
                    p.produce(settings.topic_payments, key=m.key, value=m.value)
                    break
                except BufferError:
                    p.poll(0.1)
            p.poll(0)
        assert p.flush(120) == 0
        wait_drained(settings, worker, timeout=900)
        processed = worker.metric("chainbreaker_events_processed_total")
        duplicates = worker.metric("chainbreaker_duplicate_events_total")
        dead = worker.metric("chainbreaker_dead_letters_total")
        letters = read_topic(settings, settings.topic_dead_letter, int(dead))
        assert worker.proc.poll() is None, "the worker died"
        assert worker.metric("chainbreaker_worker_started_timestamp_seconds") == started
    finally:
        worker.stop()

    got = Counter(
        (m.key(), m.value(), dict(m.headers())["cb-dlq-reason"].decode()) for m in letters
    )
    by_reason = Counter(dict(m.headers())["cb-dlq-reason"].decode() for m in letters)
    print(
        f"\nworker fuzz: {COUNT:,} messages ({COUNT // len(KINDS):,} of each of "
        f"{len(KINDS)} kinds), {int(processed):,} processed + {int(duplicates)} duplicates + "
        f"{int(dead):,} dead-lettered; by reason {dict(sorted(by_reason.items()))}"
    )
    assert processed + duplicates + dead == COUNT
    assert processed + duplicates == expected_valid
    assert len(letters) == dead
    assert by_reason == reasons
    assert got == expected_dead  # each one, byte for byte, with its reason
    for m in letters:
        headers = dict(m.headers())
        assert headers["cb-dlq-topic"].decode() == settings.topic_payments
        assert int(headers["cb-dlq-offset"]) >= 0 and headers["cb-dlq-detail"]
