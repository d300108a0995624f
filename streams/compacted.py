"""Follow a compacted topic whole from a thread: the shared part of the intel and rules feeds.

Both feeds are small tables every worker must hold entirely (the newest value per key), so
each reads all partitions from the beginning with no consumer-group offsets. A group would
split the partitions between workers, and a committed offset would skip the history a
restarted worker needs. ``catch_up`` reads to the current end before the worker consumes
payments; ``start`` then follows the topic in a daemon thread. Subclasses only say what one
record means (``handle``); the hot path never waits on this thread.
"""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from config import clients
from config.settings import Settings

log = logging.getLogger("chainbreaker.compacted")


class CompactedTopicFollower:
    """Reads ``topic`` from the beginning of every partition; subclasses define ``handle``."""

    name = "feed"  # thread name and log prefix

    def __init__(self, settings: Settings, topic: str, role: str = clients.WORKER) -> None:
        self.settings = settings
        self.topic = topic
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._consumer = Consumer(
            clients.kafka_config(
                settings,
                role,
                {
                    "group.id": f"{settings.app_id}-{self.name}",  # required; never committed
                    "enable.auto.commit": False,
                    "enable.partition.eof": True,
                    "auto.offset.reset": "earliest",
                },
            )
        )
        try:
            meta = self._consumer.list_topics(topic, timeout=30).topics.get(topic)
        except KafkaException as exc:
            self._consumer.close()
            raise RuntimeError(f"topic {topic!r}: cannot read metadata ({exc})") from None
        if meta is None or meta.error is not None or not meta.partitions:
            self._consumer.close()
            raise RuntimeError(f"topic {topic!r} not found; run `chainbreaker topics`")
        self.partitions = sorted(meta.partitions)
        self._consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in self.partitions])

    def handle(self, message) -> None:
        raise NotImplementedError

    def catch_up(self, timeout: float) -> None:
        """Read every partition to its current end; TimeoutError if that takes too long."""
        pending = set(self.partitions)
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"could not read topic {self.topic!r} to its end in {timeout:.0f}s "
                    f"({len(pending)} partitions left)"
                )
            message = self._consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    pending.discard(message.partition())
                else:
                    log.warning("%s: %s", self.name, message.error())
                continue
            self.handle(message)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                message = self._consumer.poll(0.5)
            except Exception as exc:  # a broker hiccup must not end the feed
                log.warning("%s poll failed: %r", self.name, exc)
                continue
            if message is None:
                continue
            if message.error():
                if message.error().code() != KafkaError._PARTITION_EOF:
                    log.warning("%s: %s", self.name, message.error())
                continue
            self.handle(message)
        self._consumer.close()

    def start(self):
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        else:
            self._consumer.close()
