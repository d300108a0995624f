"""Create the application's topics with the configured partitions, idempotently.

The payments topic and the account-state changelog must have the same partition count (the
state of an account lives in the partition its events arrive on), so a mismatch on an
existing topic is an error, not a warning.
"""

from __future__ import annotations

import argparse
import time

from confluent_kafka.admin import AdminClient, NewTopic

from config import clients
from config.names import disposition_topic
from config.settings import Settings, load


class TopicError(RuntimeError):
    pass


def topic_specs(settings: Settings) -> dict[str, tuple[int, dict[str, str]]]:
    """name -> (partitions, config). Topics keyed by account share CB_PARTITIONS so an
    account's payments, dispositions and signals meet its state on one partition."""
    week_ms = str(7 * 86_400_000)
    month_ms = str(30 * 86_400_000)
    compacted = {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}
    n = settings.partitions
    return {
        settings.topic_payments: (n, {"retention.ms": week_ms}),
        settings.topic_alerts: (n, {"retention.ms": month_ms}),
        settings.topic_dead_letter: (n, {"retention.ms": month_ms}),
        **disposition_specs(settings, settings.institutions),
        settings.topic_identity_links: (n, {"retention.ms": week_ms}),
        settings.topic_account_signals: (n, {"retention.ms": week_ms}),
        # Read whole by every worker: compaction keeps the latest entry per key, and a
        # tombstone (null value) removes the key.
        settings.topic_intel: (n, compacted),
        settings.topic_rules: (1, compacted),  # one key, one partition: a total order
    }


def disposition_specs(
    settings: Settings, institutions: tuple[str, ...] | list[str]
) -> dict[str, tuple[int, dict[str, str]]]:
    """One dispositions topic per institution (config/names.py says why), keyed by account
    like payments, so it has CB_PARTITIONS partitions too."""
    year_ms = str(365 * 86_400_000)
    return {
        disposition_topic(settings.topic_dispositions, inst): (
            settings.partitions,
            {"retention.ms": year_ms},
        )
        for inst in institutions
    }


def ensure_topics(
    settings: Settings,
    timeout: float = 30.0,
    role: str = clients.WORKER,
    only: tuple[str, ...] | None = None,
) -> list[str]:
    """Create missing topics (all the app's, or ``only`` these) as ``role``, which needs the
    CREATE right on them; return the names created."""
    # Errors only: failures reach the caller as exceptions, and at info level librdkafka
    # prints a line about admin events nobody served when the client is dropped (BGQUEUE).
    admin = AdminClient(clients.kafka_config(settings, role, {"log_level": 3}))
    existing = admin.list_topics(timeout=timeout).topics
    wanted = topic_specs(settings)
    if only is not None:
        wanted = {name: spec for name, spec in wanted.items() if name in only}
    for name, (partitions, _config) in wanted.items():
        if name in existing and len(existing[name].partitions) != partitions:
            raise TopicError(
                f"topic {name!r} exists with {len(existing[name].partitions)} partitions but "
                f"needs {partitions} (CB_PARTITIONS is {settings.partitions}); use the "
                "existing count or a new topic"
            )
    missing = [
        NewTopic(name, partitions, settings.replication, config=config)
        for name, (partitions, config) in wanted.items()
        if name not in existing
    ]
    if not missing:
        return []
    created = []
    for name, future in admin.create_topics(missing, operation_timeout=timeout).items():
        try:
            future.result()
            created.append(name)
        except Exception as exc:  # a concurrent creator may have won the race
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise TopicError(f"could not create topic {name!r}: {exc}") from exc
    return created


def delete_topics_named(
    settings: Settings, prefixes: tuple[str, ...], timeout: float = 60.0
) -> list[str]:
    """Delete every topic whose name starts with one of ``prefixes``, as the operator (tests
    and benchmarks clean up the apps they made); return the names deleted."""
    if not prefixes:
        return []
    admin = AdminClient(clients.kafka_config(settings, clients.ADMIN, {"log_level": 3}))
    doomed = [t for t in admin.list_topics(timeout=timeout).topics if t.startswith(prefixes)]
    for start in range(0, len(doomed), 100):
        for future in admin.delete_topics(doomed[start : start + 100]).values():
            future.result(timeout=timeout)
    return doomed


def main(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="chainbreaker topics", description=__doc__).parse_args(argv)
    settings = load()
    created = ensure_topics(settings, role=clients.ADMIN)
    print(
        f"topics ready ({settings.partitions} partitions); created: {', '.join(created) or 'none'}"
    )
    return 0


def consumer_lag(
    settings: Settings,
    group: str,
    topic: str,
    timeout: float = 10.0,
    role: str = clients.ADMIN,
) -> int:
    """Messages in ``topic`` not yet committed by ``group`` (all partitions).

    A partition the group never committed counts from its low watermark, so a group that has
    not started yet shows the whole topic as lag. Leadership can still be moving right after
    a topic is created; errors are retried until ``timeout``.
    """
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer(clients.kafka_config(
        settings, role, {"group.id": group, "enable.auto.commit": False}
    ))  # fmt: skip
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                meta = consumer.list_topics(topic, timeout=timeout).topics[topic]
                partitions = [TopicPartition(topic, p) for p in meta.partitions]
                lag = 0
                for tp in consumer.committed(partitions, timeout=timeout):
                    low, high = consumer.get_watermark_offsets(tp, timeout=timeout)
                    lag += high - (tp.offset if tp.offset >= 0 else low)
                return lag
            except KafkaException:
                # NOT_LEADER_FOR_PARTITION right after creation is not flagged retriable.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        consumer.close()
