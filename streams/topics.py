"""Create the application's topics with the configured partitions, idempotently.

The payments topic and the account-state changelog must have the same partition count (the
state of an account lives in the partition its events arrive on), so a mismatch on an
existing topic is an error, not a warning.
"""

from __future__ import annotations

import argparse
import time

from confluent_kafka.admin import AdminClient, NewTopic

from streams.settings import Settings, load


class TopicError(RuntimeError):
    pass


def topic_specs(settings: Settings) -> dict[str, dict[str, str]]:
    week_ms = str(7 * 86_400_000)
    return {
        settings.topic_payments: {"retention.ms": week_ms},
        settings.topic_alerts: {"retention.ms": str(30 * 86_400_000)},
        settings.topic_dead_letter: {"retention.ms": str(30 * 86_400_000)},
    }


def ensure_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create missing topics; return the names created."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    existing = admin.list_topics(timeout=timeout).topics
    wanted = topic_specs(settings)
    for name in wanted:
        if name in existing and len(existing[name].partitions) != settings.partitions:
            raise TopicError(
                f"topic {name!r} exists with {len(existing[name].partitions)} partitions but "
                f"CB_PARTITIONS is {settings.partitions}; use the existing count or a new topic"
            )
    missing = [
        NewTopic(name, settings.partitions, settings.replication, config=config)
        for name, config in wanted.items()
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


def main(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="chainbreaker topics", description=__doc__).parse_args(argv)
    settings = load()
    created = ensure_topics(settings)
    print(
        f"topics ready ({settings.partitions} partitions); created: {', '.join(created) or 'none'}"
    )
    return 0


def consumer_lag(settings: Settings, group: str, topic: str, timeout: float = 10.0) -> int:
    """Messages in ``topic`` not yet committed by ``group`` (all partitions).

    A partition the group never committed counts from its low watermark, so a group that has
    not started yet shows the whole topic as lag. Leadership can still be moving right after
    a topic is created; errors are retried until ``timeout``.
    """
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group,
                         "enable.auto.commit": False})  # fmt: skip
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
