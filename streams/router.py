"""Case router: alerts topic -> one Redis Stream per reporting institution, once per alert id.

The worker delivers alerts at least once (a crash replays events, and replays re-emit the
same alert id). The router makes the queue exactly-once by claiming the alert id and
appending the case in one Lua script: Redis runs it atomically, so a crash between the two
steps cannot happen and a second delivery finds the id already claimed. Offsets are committed
only after Redis has taken the batch, so a crash of the router replays, never skips.

It is a plain confluent-kafka consumer rather than a Faust agent: it keeps no state, its
per-alert work is one Redis round trip per batch, and it can run inside the worker process
(a thread) or on its own (`chainbreaker router`).

It runs as the worker's Kafka principal and as its own Redis user (access/redis_acl.py),
which may append cases but not read them: the queue metrics below use counts and entry ids
only (XLEN, XINFO GROUPS, XPENDING, and the enqueue-time sorted set the script keeps).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
import time
from typing import Any

import redis
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer

from config import clients
from config.names import (
    ANALYSTS_GROUP,
    TRIGGER_TS_HEADER,
    case_enqueued_key,
    case_index_key,
    dedup_key,
    institutions_key,
    router_group,
)
from config.settings import Settings, load
from schemas.codec import codec_for
from streams import metrics
from streams.pipeline import dead_letter_headers

log = logging.getLogger("chainbreaker.router")

QUEUE_METRICS_INTERVAL_S = 5.0

# KEYS: dedup key, case stream, case index, enqueue times; ARGV: dedup TTL, alert id, the
# entry's fields.
_ENQUEUE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  local id = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
  redis.call('HSET', KEYS[3], ARGV[2], id)
  redis.call('ZADD', KEYS[4], tonumber(string.match(id, '^(%d+)')), id)
  return id
end
return false
"""


def entry_fields(alert: dict[str, Any], trigger_produced_ms: int | None) -> list[str]:
    """Flat summary fields an analyst's queue view can show, plus the full alert as JSON."""
    return [
        "alert_id", alert["alert_id"],
        "institution_id", alert["institution_id"],
        "account_id", alert["account_id"],
        "typology", alert["typology"],
        "severity", alert["severity"],
        "score", f"{alert['score']:.3f}",
        "rule_set_version", alert["rule_set_version"],
        "detected_at", str(alert["detected_at"]),
        "trigger_produced_at", str(trigger_produced_ms or ""),
        "alert", json.dumps(alert, separators=(",", ":")),
    ]  # fmt: skip


class CaseQueues:
    """The Redis side: enqueue a batch of alerts in one round trip.

    The enqueue script runs by its SHA. redis-py's registered scripts ask Redis whether the
    script is loaded (SCRIPT EXISTS) before every pipeline that uses them: a second round
    trip per batch on the way of every case. Here it is loaded once, and again only when
    Redis answers NOSCRIPT (a restarted Redis has an empty script cache)."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self._redis = client
        self._settings = settings
        self._sha: str | None = None
        self._known_institutions: set[str] = set()

    def enqueue(self, batch: list[tuple[dict[str, Any], int | None]]) -> list[int | None]:
        """Return, per alert, the enqueue time in ms (Redis clock), or None for a duplicate."""
        new = {a["institution_id"] for a, _ in batch} - self._known_institutions
        if self._sha is None:
            self._sha = self._redis.script_load(_ENQUEUE)
        try:
            results = self._execute(batch, new)
        except redis.exceptions.NoScriptError:
            # Nothing of the batch ran but the SADD, which is idempotent.
            self._sha = self._redis.script_load(_ENQUEUE)
            results = self._execute(batch, new)
        self._known_institutions |= new
        out = []
        for entry_id in results[: len(batch)]:
            if not entry_id:
                out.append(None)
            else:
                entry = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                out.append(int(entry.split("-", 1)[0]))
        return out

    def _execute(self, batch: list[tuple[dict[str, Any], int | None]], new: set[str]) -> list:
        settings = self._settings
        pipe = self._redis.pipeline(transaction=False)
        for alert, trigger in batch:
            institution = alert["institution_id"]
            pipe.evalsha(
                self._sha,
                4,
                dedup_key(settings.app_id, institution, alert["alert_id"]),
                settings.case_stream(institution),
                case_index_key(settings.app_id, institution),
                case_enqueued_key(settings.app_id, institution),
                settings.case_dedup_ttl_s,
                alert["alert_id"],
                *entry_fields(alert, trigger),
            )
        if new:
            pipe.sadd(institutions_key(settings.app_id), *new)
        return pipe.execute()


def _entry_ms(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


def _entry_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _field(info: dict, name: str):
    return info.get(name, info.get(name.encode()))


class CaseQueueMetrics:
    """Depth, pending entries and oldest open case per institution's stream, on a timer.

    Runs on its own thread and Redis connection, every `interval` seconds, so routing never
    waits for it. A case is open until the analysts group acknowledges it: pending (read, not
    acknowledged) or not yet delivered to the group. While the group does not exist, every
    entry counts as open and the pending count is 0.
    """

    def __init__(
        self, client: redis.Redis, settings: Settings, interval: float = QUEUE_METRICS_INTERVAL_S
    ) -> None:
        self._redis = client
        self._settings = settings
        self.interval = interval

    def refresh(self, now_ms: int | None = None) -> None:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        members = self._redis.smembers(institutions_key(self._settings.app_id))
        institutions = sorted(m.decode() if isinstance(m, bytes) else m for m in members)
        length: dict[str, int] = {}
        pending: dict[str, int] = {}
        age: dict[str, float] = {}
        for institution in institutions:
            depth, entry_pending, oldest = self._stream_state(institution)
            label = metrics.institution_label(institution)  # capped: the rest folds to "other"
            length[label] = length.get(label, 0) + depth
            pending[label] = pending.get(label, 0) + entry_pending
            seconds = max(now_ms - oldest, 0) / 1000 if oldest is not None else 0.0
            age[label] = max(age.get(label, 0.0), seconds)
        for label in length:
            metrics.CASE_QUEUE_LENGTH.labels(label).set(length[label])
            metrics.CASE_QUEUE_PENDING.labels(label).set(pending[label])
            metrics.CASE_QUEUE_OLDEST_AGE.labels(label).set(age[label])

    def _stream_state(self, institution: str) -> tuple[int, int, int | None]:
        """(XLEN, pending entries of the analysts group, ms of the oldest open case), without
        reading an entry: the router's user may not."""
        client = self._redis
        stream = self._settings.case_stream(institution)
        enqueued = case_enqueued_key(self._settings.app_id, institution)
        depth = client.xlen(stream)
        if depth == 0:
            return 0, 0, None
        try:
            groups = client.xinfo_groups(stream)
        except redis.ResponseError:  # the stream went away between SMEMBERS and here
            return 0, 0, None
        group = next((g for g in groups if _field(g, "name") in (ANALYSTS_GROUP,
                      ANALYSTS_GROUP.encode())), None)  # fmt: skip
        candidates = []
        entry_pending = 0
        last = (0, 0)
        if group is not None:
            summary = client.xpending(stream, ANALYSTS_GROUP)
            entry_pending = int(summary.get("pending") or 0)
            if entry_pending and summary.get("min"):
                candidates.append(_entry_ms(summary["min"]))
            raw = _field(group, "last-delivered-id")
            last = _entry_key(raw.decode() if isinstance(raw, bytes) else str(raw or "0-0"))
            # Delivered to the group: no longer waiting to be handed out.
            client.zremrangebyscore(enqueued, "-inf", f"({last[0]}")
        for member, _score in client.zrange(enqueued, 0, 9, withscores=True):
            entry = _entry_key(member.decode() if isinstance(member, bytes) else member)
            if entry > last:  # the oldest case not yet handed to an analyst
                candidates.append(entry[0])
                break
        return depth, entry_pending, min(candidates) if candidates else None

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.refresh()
            except redis.RedisError as exc:
                log.warning("case queue metrics: %s", type(exc).__name__)
            stop.wait(self.interval)


def _commit_result(err, _partitions) -> None:
    if err is not None and err.code() != KafkaError._NO_OFFSET:
        log.warning("alerts offsets not committed (%s): the batch comes again", err)


class CaseRouter:
    """Consume alerts, enqueue them, then commit: at-least-once in, exactly-once out."""

    def __init__(self, settings: Settings, batch: int = 200) -> None:
        self.settings = settings
        self.batch = batch
        self.codec = codec_for("alert", settings.schema_registry_url)
        # Its own Redis user (appends cases, reads none) and the worker's Kafka principal.
        url = clients.redis_url(settings, clients.ROUTER)
        self.queues = CaseQueues(redis.Redis.from_url(url, socket_connect_timeout=5), settings)
        self.stop_event = threading.Event()
        self.queue_metrics = CaseQueueMetrics(
            redis.Redis.from_url(url, socket_connect_timeout=5), settings
        )
        self._dead_letters = Producer(
            clients.kafka_config(
                settings, clients.WORKER, {"acks": "all", "enable.idempotence": True}
            )
        )

    def _consumer(self) -> Consumer:
        consumer = Consumer(
            clients.kafka_config(
                self.settings,
                clients.WORKER,
                {
                    "group.id": router_group(self.settings.app_id),
                    "auto.offset.reset": "earliest",
                    "enable.auto.commit": False,
                    "session.timeout.ms": self.settings.session_timeout_s * 1000,
                    "fetch.wait.max.ms": 10,
                    "on_commit": _commit_result,
                },
            )
        )
        consumer.subscribe([self.settings.topic_alerts])
        return consumer

    def run(self) -> None:
        threading.Thread(
            target=self.queue_metrics.run,
            args=(self.stop_event,),
            name="case-queue-metrics",
            daemon=True,
        ).start()
        consumer = self._consumer()
        try:
            while not self.stop_event.is_set():
                # consume() waits for a full batch or the timeout; wait for one message
                # instead, then take whatever else is already fetched.
                first = consumer.poll(0.1)
                if first is None:
                    continue
                messages = [first, *consumer.consume(self.batch - 1, timeout=0)]
                self._handle([m for m in messages if self._usable(m)])
                self._commit(consumer)
        finally:
            consumer.close()
            self._dead_letters.flush(10)

    def _commit(self, consumer: Consumer) -> None:
        """Commit the batch Redis has taken, asynchronously: a synchronous commit can block
        for good when the broker goes away with the request in flight (a standalone router
        sat on one through a broker restart, its lag never moving). A commit that is lost
        only means the batch comes again, and its alert ids are already claimed."""
        try:
            consumer.commit(asynchronous=True)
        except KafkaException as exc:  # nothing to commit, or no coordinator right now
            log.info("alerts offsets not committed (%s)", exc.args[0] if exc.args else exc)

    def _usable(self, message) -> bool:
        err = message.error()
        if err is None:
            return True
        if err.code() != KafkaError._PARTITION_EOF:
            log.warning("alerts consumer error: %s", err)
        return False

    def _handle(self, messages: list) -> None:
        batch: list[tuple[dict[str, Any], int | None]] = []
        for message in messages:
            try:
                alert = self.codec.decode(message.value())
            except Exception as exc:  # not one of ours: keep it, with the reason
                metrics.DEAD_LETTERS.labels("undecodable").inc()
                self._dead_letters.produce(
                    self.settings.topic_dead_letter,
                    key=message.key(),
                    value=message.value(),
                    headers=dead_letter_headers(
                        "undecodable",
                        f"alert: {exc}",
                        message.topic(),
                        message.partition(),
                        message.offset(),
                    ),
                )
                continue
            headers = dict(message.headers() or [])
            raw = headers.get(TRIGGER_TS_HEADER)
            batch.append((alert, int(raw) if raw else None))
        if not batch:
            return
        results = self._enqueue_with_retry(batch)
        for (_, trigger), enqueued in zip(batch, results, strict=True):
            if enqueued is None:
                metrics.CASE_DUPLICATES.inc()
                continue
            metrics.CASES.inc()
            if trigger is not None:
                metrics.END_TO_END.observe(max(enqueued - trigger, 0) / 1000)

    def _enqueue_with_retry(self, batch) -> list[int | None]:
        """Hold the batch (and the offsets) until Redis takes it: a case is never skipped."""
        delay = 0.1
        while True:
            try:
                return self.queues.enqueue(batch)
            except redis.RedisError as exc:
                if self.stop_event.is_set():
                    raise
                log.warning(
                    "case queue unavailable (%s); retrying in %.1fs", type(exc).__name__, delay
                )
                time.sleep(delay)
                delay = min(delay * 2, 5.0)


def start_in_thread(settings: Settings) -> CaseRouter:
    router = CaseRouter(settings)
    threading.Thread(target=router.run, name="case-router", daemon=True).start()
    return router


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="chainbreaker router", description=__doc__)
    parser.parse_args(argv)
    settings = load()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        metrics.serve(settings.metrics_port, settings.metrics_bind)
    except OSError as exc:
        print(f"chainbreaker router: cannot serve metrics on port {settings.metrics_port}: {exc}")
        return 2
    router = CaseRouter(settings)
    signal.signal(signal.SIGTERM, lambda *_: router.stop_event.set())
    signal.signal(signal.SIGINT, lambda *_: router.stop_event.set())
    router.run()
    return 0
