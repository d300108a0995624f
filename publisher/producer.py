"""The payments producer: encodes payment records and sends them to the payments topic.

Messages are keyed by account_id (the worker keeps per-account state in the partition the key
selects) and produced idempotently with acks=all, so a retry never duplicates or reorders.
Used by `chainbreaker publish`, `chainbreaker simulate --publish`, the demo and the benchmarks.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaException, Producer

from config import clients
from config.names import PARTITIONER
from config.settings import Settings
from schemas.codec import AvroCodec, codec_for
from streams import metrics

# Tried in order; librdkafka builds without one of them reject it at configuration time.
COMPRESSIONS = ("zstd", "lz4")


class Publisher:
    """A confluent-kafka producer that encodes payment records and counts deliveries."""

    def __init__(
        self,
        settings: Settings,
        topic: str | None = None,
        codec: AvroCodec | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.topic = topic or settings.topic_payments
        self.codec = codec or codec_for("payment_event", settings.schema_registry_url)
        self.delivered = 0
        self.failed = 0
        self.errors: list[str] = []  # the first few delivery errors, for the summary
        # As the publisher principal: it may write the payments topic and nothing else.
        base = {
            **clients.kafka_config(settings, clients.PUBLISHER),
            "client.id": "chainbreaker-publish",
            "partitioner": PARTITIONER,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "batch.size": 256 * 1024,
            # Errors only. librdkafka's warnings here are conditions it retries by itself (a
            # fresh broker answers the first producer-id request with "coordinator load in
            # progress", GETPID); a delivery that still fails is reported per message.
            "log_level": 3,
            **(config or {}),
        }
        self.compression = "none"
        for codec_name in COMPRESSIONS:
            try:
                self._producer = Producer({**base, "compression.type": codec_name})
                self.compression = codec_name
                break
            except KafkaException:
                continue
        else:
            self._producer = Producer(base)

    def _on_delivery(self, err: Any, _msg: Any) -> None:
        if err is None:
            self.delivered += 1
            metrics.PUBLISH_SENT.inc()
            return
        self.failed += 1
        metrics.PUBLISH_FAILED.inc()
        if len(self.errors) < 5:
            self.errors.append(str(err))

    def send(self, record: dict[str, Any]) -> None:
        self.send_encoded(record["account_id"].encode(), self.codec.encode(record))

    def send_encoded(self, key: bytes, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(self.topic, value, key, on_delivery=self._on_delivery)
                break
            except BufferError:  # local queue full: let deliveries drain it, then retry
                metrics.PUBLISH_RETRIED.inc()
                self._producer.poll(0.1)
        self._producer.poll(0)

    def poll(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds while serving delivery callbacks (used for pacing)."""
        self._producer.poll(timeout)

    def flush(self, timeout: float = 30.0) -> int:
        """Wait for outstanding deliveries; failures include messages still queued at timeout."""
        remaining = self._producer.flush(timeout)
        return self.failed + remaining

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()
