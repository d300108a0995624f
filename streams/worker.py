"""The Faust worker: payments -> detectors -> alerts topic -> case queues.

Topology (Kafka Streams style, wiring only; the logic is in processors/ and pipeline.py):

    payments ──detect──> account-state table (changelog) ──> alerts ──router──> Redis Streams
        └──────────────> payments-dlq (reason, original partition/offset in headers)
        └──detect──> identity-links ──group_links──> identity-groups table (changelog)
                       account-signals <───────────┘ ──apply_signals──> account-state ──> alerts
                       identity-links <── hit reports of apply_signals (network cases)

The case router (streams/router.py) runs as a thread of this process unless
CB_EMBEDDED_ROUTER=false, in which case `chainbreaker router` runs it on its own.

Agents run with concurrency 1: they write a table, and faust-streaming can commit offsets
past in-flight events with concurrency > 1 (issue #606).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
import time
import weakref
from collections import Counter
from collections.abc import Callable
from typing import Any

import faust
from faust.streams import _current_event  # see table_op()

import processors
from config import clients
from config.names import TRIGGER_TS_HEADER, disposition_topic
from config.settings import Settings, load
from processors import feedback
from processors import rules as rules_mod
from processors.indicators import CATALOG
from processors.intel import IntelIndex
from processors.keyhash import partition_for
from processors.links import Link, dump_links
from processors.model import Typology
from processors.state import StateCache
from schemas.codec import RegistryUnavailable
from streams import metrics, state_store
from streams import router as case_router
from streams.batching import consumer_backlog, partition_backlog, take_settled
from streams.changelog import BatchWriter
from streams.intel_feed import start_replica as start_intel_replica
from streams.pipeline import DeadLetter, PaymentPipeline, Pending, dead_letter_headers
from streams.rules_feed import RulesFeed
from streams.topics import ensure_topics
from streams.transport import install as install_transport

log = logging.getLogger("chainbreaker.worker")

FETCH_MAX_WAIT_MS = 10
#: How long a thread may hold the GIL while another waits for it (CPython's default: 5 ms).
GIL_SWITCH_INTERVAL_S = 0.001
METRICS_INTERVAL_S = 1.0
#: key of identity-links records: each holds a batch of links (partitions chosen by the sender)
LINK_RECORD_KEY = b"links"


class RebalanceSensor(faust.Sensor):
    """Counts rebalances as Faust reports them (the app calls every sensor's hooks), and
    drops the decoded states the worker keeps: after a rebalance the table may hold what
    another worker or a changelog restore wrote. Faust calls it from the consumer's thread,
    as early as the revocation, before any partition changes hands."""

    def __init__(self, on_start: Callable[[], None] = lambda: None) -> None:
        super().__init__()
        self._on_start = on_start

    def on_rebalance_start(self, app: faust.App) -> dict:
        self._on_start()
        metrics.REBALANCES.inc()
        metrics.REBALANCING.set(1)
        return {}

    def on_rebalance_end(self, app: faust.App, state: dict) -> None:
        metrics.REBALANCING.set(0)


def table_keys(table: Any) -> int:
    """RocksDB's estimate of the keys in a table's local partition stores (cheap: no scan)."""
    total = 0
    for db in list(getattr(table.data, "_dbs", {}).values()):
        try:
            total += int(db.property_int_value("rocksdb.estimate-num-keys") or 0)
        except Exception:  # a store closed by a rebalance in the meantime
            continue
    return total


def table_op(event: Any, op, *args):
    """Run a table operation as if ``event`` were the stream's current event.

    Faust picks the changelog partition and the RocksDB partition store from the current
    event. A batch from take_events() has only the last event as current, so each key's read
    and write is pinned to an event of that key (all of them share its partition, the topics
    being keyed by that key).
    """
    token = _current_event.set(weakref.ref(event))
    try:
        return op(*args)
    finally:
        _current_event.reset(token)


class StateTable(faust.Table):
    """A Faust table that records the changelog offsets it has written in memory and
    persists them to RocksDB once a second (``persist_offsets``), instead of one RocksDB
    write per changelog record acknowledged.

    Faust keeps, in each partition's store, the newest changelog offset whose record is in
    that store, so that recovery reads the changelog only from there. Stored a second late,
    the offset is at worst behind the store's content: recovery then re-applies a few
    records it already has (the newest value of each key wins, as it would anyway). It is
    never ahead, which is the direction that could lose state.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self._unpersisted: dict[Any, int] = {}
        #: batched writes into this table (streams/changelog.py)
        self.writer = BatchWriter(self, self.changelog_written)

    def _on_changelog_sent(self, fut: Any) -> None:
        res = fut.result()
        if self.app.in_transaction:  # not used by chainbreaker; Faust's own path
            super()._on_changelog_sent(fut)
            return
        self.changelog_written(res.topic_partition, res.offset)

    def changelog_written(self, tp: Any, offset: int) -> None:
        """The broker has the changelog up to ``offset`` of ``tp`` (here or BatchWriter)."""
        if offset > self._unpersisted.get(tp, -1):
            self._unpersisted[tp] = offset

    def persist_offsets(self) -> None:
        pending, self._unpersisted = self._unpersisted, {}
        for tp, offset in pending.items():
            try:
                self.data.set_persisted_offset(tp, offset)
            except Exception as exc:  # the partition's store closed by a rebalance meanwhile
                log.debug("changelog offset of %s not persisted: %r", tp, exc)


class BatchView:
    """One batch's view of a table: reads see the batch's own writes, and each key is
    written once, at ``flush`` (one changelog record per key per batch, not per event, and
    one produce batch per partition: streams/changelog.py).

    Values put are bytes, or an account's :class:`Pending` state, which is encoded at
    ``flush``: once per account per batch however many of its events the batch holds.

    With a ``cache`` (the pipeline's decoded states), a key whose last write is cached is
    not read from the table at all: between rebalances this worker is the only writer of its
    partitions, and the cache is cleared when a rebalance starts (RebalanceSensor). Pending
    states are encoded through it, so it holds what was written."""

    def __init__(self, table: StateTable, cache: StateCache | None = None) -> None:
        self._table = table
        self._cache = cache
        # key -> (the partition of its events, its value: bytes, or a state to encode)
        self._newest: dict[bytes, tuple[int, bytes | Pending]] = {}

    def get(self, event: Any, key: bytes) -> bytes | Pending | None:
        newest = self._newest.get(key)
        if newest is not None:
            return newest[1]
        if self._cache is not None:
            cached = self._cache.peek(key)
            if cached is not None:
                return cached
        # The store itself: one RocksDB read (the table's own get asks twice, once to see
        # whether the key exists and once for its value).
        return table_op(event, self._table.data.get, key)

    def put(self, event: Any, key: bytes, value: bytes | Pending) -> None:
        self._newest[key] = (event.message.partition, value)

    async def flush(self) -> None:
        written = 0
        by_partition: dict[int, list[tuple[bytes, bytes]]] = {}
        for key, (partition, value) in self._newest.items():
            if isinstance(value, Pending):
                value = (
                    value.state.dumps()
                    if self._cache is None
                    else self._cache.store(key, value.state)
                )
            by_partition.setdefault(partition, []).append((key, value))
            written += len(value)
        await self._table.writer.write(by_partition)
        if written:
            metrics.STATE_BYTES.labels(self._table.name).inc(written)


def tune_interpreter(settings: Settings) -> None:
    """uvloop as the event loop (CB_UVLOOP), and the GIL handed over within 1 ms rather
    than CPython's 5. Before the app is built: its loops (the agents' and the consumer
    thread's) are made by the policy in force.

    uvloop runs the loop's scheduling and socket I/O in C (libuv). On fresh accounts, the
    same build with and without it, alternating: Faust's floor 7,785-8,395 -> 10,059-10,274
    events/s, the worker 2,586-2,647 -> 3,064-3,155 (docs/benchmarks.md). The kill, scale-out
    and rebalance tests run on it.

    Faust runs its Kafka consumer on a thread of its own: fetched records reach the agents
    only after that thread has held the GIL, and every fetch result crosses back to the
    event loop through it. With the default interval, a loop busy with a batch made each
    crossing wait up to 5 ms. Paced at 80% of the worker's capacity, p99 event -> case went
    from 0.6-2.1 s over five runs to 0.3-0.8 s over three (docs/benchmarks.md).

    The youngest garbage collection runs after CB_GC_GEN0_THRESHOLD net allocations rather
    than CPython's 700: each payment allocates dozens of lists (slot entries, hits, links),
    so the worker collected 25-30 times a second, and every tenth collection of the middle
    generation walked the whole heap, the decoded state cache included: paced at half its
    capacity, a pause's p99 was 9 ms and the longest up to a second. The older generations
    keep CPython's ratios, so cyclic garbage is still collected, less often."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(settings.gc_gen0_threshold, middle, old)
    if settings.uvloop:
        import uvloop  # only where it is wanted: a platform without it runs with false

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def make_app(settings: Settings) -> faust.App:
    """The Faust app with the worker's settings and no agents: the worker builds its
    topology on it, and the benchmark's bare agent (Faust's own floor) runs on the same."""
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        # The worker's own principal (SASL/SCRAM unless CB_KAFKA_SECURITY=plaintext).
        broker_credentials=clients.faust_credentials(settings, clients.WORKER),
        # RocksDB under one memory budget for the whole worker (streams/state_store.py).
        store=state_store.install(
            block_cache_size=settings.rocksdb_block_cache_mb * 1024 * 1024,
            write_buffer_size=16 * 1024 * 1024,
        ),
        datadir=str(settings.state_dir / settings.app_id),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Changelog and alert records batch for up to 5 ms: fewer produce requests per event.
        producer_linger=settings.producer_linger_ms / 1000,
        # Off by default: lz4 batches halved the changelog on the broker but cost the worker
        # 60% more CPU per event (aiokafka builds them in Python; docs/benchmarks.md). The
        # account states compress themselves (processors/state.py, format 6).
        producer_compression_type=(
            None if settings.producer_compression == "none" else settings.producer_compression
        ),
        # How often source offsets are committed: after a crash, at most this much input is
        # delivered again (and skipped as seen, the state remembering its input offsets).
        broker_commit_interval=settings.commit_interval_ms / 1000,
        # A crashed worker's partitions are reassigned after this long; Faust's 60 s default
        # would stall a restarted worker for a minute.
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=max(1.0, settings.session_timeout_s / 4),
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
    )
    # Faust's aiokafka transport, with fetches that cannot skip input records at the end of
    # a changelog recovery (streams/transport.py: the restarted-worker stall).
    install_transport(app)
    return app


def build_app(
    settings: Settings,
    rules: rules_mod.RuleSet,
    rules_feed: RulesFeed | None = None,
    intel: IntelIndex | None = None,
) -> faust.App:
    app = make_app(settings)
    payments = app.topic(settings.topic_payments, partitions=settings.partitions)
    alerts_topic = app.topic(settings.topic_alerts, partitions=settings.partitions)
    dead_letters = app.topic(settings.topic_dead_letter, partitions=settings.partitions)
    table = StateTable(
        app,
        name="account-state",
        beacon=app.tables.beacon,
        default=None,
        partitions=settings.partitions,
        key_type=bytes,  # bytes -> Faust's "raw" codec: the state has its own compact format
        value_type=bytes,
    )
    app.tables.add(table)
    pipeline = PaymentPipeline(settings, rules, intel=intel)
    # Every agent that reads and writes account-state holds this for its whole batch: a batch
    # awaits sends between its read and its write, and another agent's write in between
    # would be lost when the batch writes its copy back.
    state_lock = asyncio.Lock()

    async def to_dead_letter(
        message: Any, reason: str, detail: str, value: bytes | None = None
    ) -> None:
        """The message (or, for one link of a batch, ``value``) with why and where from."""
        metrics.DEAD_LETTERS.labels(reason).inc()
        await dead_letters.send(
            key=message.key,
            value=message.value if value is None else value,
            headers=dead_letter_headers(
                reason, detail, message.topic, message.partition, message.offset
            ),
        )

    async def parse_with_retry(message: Any, now_ms: int):
        """Decode; while the schema registry is unreachable, wait rather than drop or DLQ."""
        delay = 0.1
        while True:
            try:
                return pipeline.parse(message.key, message.value, now_ms)
            except RegistryUnavailable as exc:
                log.warning("schema registry unavailable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def send_alerts(
        key: bytes, message: Any, alerts: list, raised: Counter[tuple[str, str]]
    ) -> None:
        """Alerts keyed by account, with the trigger's produce time for end-to-end latency."""
        trigger = str(int(message.timestamp * 1000)).encode()
        for record, encoded in alerts:
            await alerts_topic.send(key=key, value=encoded, headers=[(TRIGGER_TS_HEADER, trigger)])
            raised[record["typology"], record["severity"]] += 1

    async def process_batch(events: list[Any]) -> None:
        now_ms = int(time.time() * 1000)
        states = BatchView(table, pipeline.states)
        duplicates = 0
        # Metric increments are summed per batch: one labelled inc per key, not per event.
        by_institution: Counter[str] = Counter()
        hits: Counter[str] = Counter()
        raised: Counter[tuple[str, str]] = Counter()
        links: list[Link] = []
        took: list[float] = []
        produced: list[float] = []
        clock = time.perf_counter
        for event in events:
            message = event.message
            started = clock()
            try:
                parsed = pipeline.parse(message.key, message.value, now_ms)
            except RegistryUnavailable:
                parsed = await parse_with_retry(message, now_ms)
            if isinstance(parsed, DeadLetter):
                await to_dead_letter(message, parsed.reason, parsed.detail)
                continue
            key = parsed.account_id.encode()
            outcome = pipeline.apply(
                parsed, states.get(event, key), now_ms, message.partition, message.offset
            )
            if isinstance(outcome, DeadLetter):
                await to_dead_letter(message, outcome.reason, outcome.detail)
                continue
            if outcome.state is not None:
                states.put(event, key, outcome.state)
            if outcome.alerts:
                await send_alerts(key, message, outcome.alerts, raised)
            for link in outcome.links:  # cross-account: re-keyed by identifier (group_links)
                links.append(link)
            for hit in outcome.hits:
                hits[hit.code] += 1
            if outcome.duplicate:
                duplicates += 1
            else:
                by_institution[parsed.institution_id] += 1
            took.append(clock() - started)
            produced.append(message.timestamp)
        await send_links(links)
        await states.flush()
        done = time.time()
        metrics.PROCESSING.observe_batch(took)
        metrics.EVENT_LATENCY.observe_batch([max(0.0, done - ts) for ts in produced])
        for institution, count in by_institution.items():
            metrics.EVENTS.labels(metrics.institution_label(institution)).inc(count)
        for code, count in hits.items():
            metrics.HITS.labels(code).inc(count)
        for (typology, severity), count in raised.items():
            metrics.ALERTS.labels(typology, severity).inc(count)
        if duplicates:
            metrics.DUPLICATES.inc(duplicates)
        if links:
            metrics.LINKS_SENT.inc(len(links))

    async def send_links(links: list[Link]) -> None:
        """Identity links, re-keyed by identifier: one record per partition holding all of
        this batch's links for it (processors.links.dump_links), straight to the producer.
        A link goes to the partition Kafka's default partitioner gives its identifier key
        (compiled, processors.keyhash), where its group has always been."""
        if not links:
            return
        n = settings.partitions
        by_partition: dict[int, list[Link]] = {}
        for link in links:
            by_partition.setdefault(partition_for(link.key.encode(), n), []).append(link)
        producer = app.producer
        topic = settings.topic_identity_links
        for partition, batch in by_partition.items():
            await producer.send(topic, LINK_RECORD_KEY, dump_links(batch), partition, None, None)

    @app.task
    async def quiet_client_logs() -> None:
        # Faust's worker sets up logging after build_app; aiokafka's connection logger then
        # builds a DEBUG record per frame (measured: ~8% of worker CPU) only to drop it, and
        # faust.topics one per message sent, with its key and value (4.6% of CPU).
        for name in ("aiokafka", "faust", "mode"):
            logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger().level))

    @app.timer(interval=1.0)
    async def cap_fetch_wait() -> None:
        """Cap the broker-side fetch wait, which Faust hard-codes to 1.5 s.

        aiokafka fetches only partitions with nothing buffered. When the payments partitions
        all have buffered records, the next fetch holds only idle partitions (the assignor's
        leader topic) and the broker parks it for the full wait, so under steady paced
        traffic events sat ~1 s before processing. 10 ms keeps fetches cheap and latency low.
        """
        consumer = getattr(getattr(app.consumer, "_thread", None), "_consumer", None)
        fetcher = getattr(consumer, "_fetcher", None)
        if fetcher is not None and fetcher._fetch_max_wait_ms != FETCH_MAX_WAIT_MS:
            fetcher._fetch_max_wait_ms = FETCH_MAX_WAIT_MS

    metrics.set_rule_version(rules.version)

    @app.timer(interval=0.5)
    async def apply_rule_updates() -> None:
        """Hot reload: swap in a rule set the feed thread validated, between batches."""
        if rules_feed is None:
            return
        new = rules_feed.take()
        if new is None:
            return
        async with state_lock:
            old = pipeline.engine.rules.version
            pipeline.use_rules(new)
        metrics.set_rule_version(new.version)
        metrics.RULE_RELOADS.inc()
        log.info("rule set %s now in force (was %s)", new.version, old)

    exported_lag: set[tuple[str, str]] = set()

    @app.timer(interval=1.0)
    async def persist_changelog_offsets() -> None:
        for state_table in (table, groups):
            state_table.persist_offsets()

    @app.timer(interval=METRICS_INTERVAL_S)
    async def export_pipeline_metrics() -> None:
        """Consumer lag per assigned payments partition and the size of the account state.

        Only in-memory reads on the event loop: no broker round trip and no call into the
        consumer's thread, which serves the fetches. Partitions this worker no longer owns
        are removed, so a rebalance moves a partition's series to its new owner instead of
        freezing it here. A failure is logged and skipped: metrics never stop the worker.
        """
        try:
            metrics.flush_gc()
            export_lag()
            metrics.TABLE_KEYS.labels(table.name).set(table_keys(table))
            export_memory()
        except Exception as exc:  # e.g. a partition revoked while we looked at it
            log.debug("pipeline metrics skipped: %r", exc)

    def export_memory() -> None:
        for budget in state_store.budgets():
            for kind, used in budget.usage().items():
                metrics.ROCKSDB_MEMORY.labels(kind).set(used)
        metrics.STATE_CACHE_ACCOUNTS.set(len(pipeline.states))

    def export_lag() -> None:
        consumer = app.consumer
        read_offsets = app.monitor.tp_read_offsets  # last offset the stream took, per tp
        committed = getattr(consumer, "_committed_offset", {})  # next offset, per tp
        current: set[tuple[str, str]] = set()
        for tp in consumer.assignment():
            if tp.topic != settings.topic_payments:
                continue
            lag = partition_backlog(consumer, read_offsets, committed, tp)
            if lag is None:
                continue
            labels = (tp.topic, str(tp.partition))
            metrics.CONSUMER_LAG.labels(*labels).set(lag)
            current.add(labels)
        for labels in exported_lag - current:
            metrics.CONSUMER_LAG.remove(*labels)
        exported_lag.clear()
        exported_lag.update(current)

    tables = app.tables  # created here, on the main thread, before any scrape

    def recovery_probe() -> tuple[bool, int, int]:
        """Runs on the metrics HTTP thread: read only, never create. (`tables.recovery` is
        built lazily; building it from this thread raced the event loop and hung startup.)"""
        recovery = tables._recovery
        if recovery is None:
            return False, 0, 0
        return (
            bool(recovery.in_recovery),
            recovery.active_remaining_total(),
            recovery.standby_remaining_total(),
        )

    metrics.RECOVERY.probe = recovery_probe
    app.sensors.add(RebalanceSensor(pipeline.states.invalidate))

    @app.agent(payments, concurrency=1)
    async def detect(stream: faust.StreamT) -> None:
        if settings.batch_max == 1:
            async for event in stream.events():
                async with state_lock:
                    await process_batch([event])
            return
        # Batches: one state write per account per batch (CB_BATCH_MAX=1 is one at a time),
        # as large as the backlog, handed over once it stops growing (streams/batching.py).
        batches = take_settled(
            stream,
            settings.batch_max,
            settle=settings.batch_settle_ms / 1000,
            within=settings.batch_within_ms / 1000,
            backlog=consumer_backlog(app, settings.topic_payments),
            within_backlog=settings.batch_backlog_within_ms / 1000,
        )
        async for events in batches:
            metrics.BATCH_EVENTS.observe_batch((len(events),))
            async with state_lock:
                await process_batch(events)

    # One dispositions topic per institution, which only that institution's principal may
    # write: the topic a record comes from says who sent it (config/names.py).
    disposition_topics = {
        disposition_topic(settings.topic_dispositions, inst): inst for inst in settings.institutions
    }
    precision = feedback.PrecisionTally()
    metrics.init_disposition_series([t.value for t in Typology], sorted(CATALOG), feedback.OUTCOMES)

    async def parse_disposition_with_retry(message: Any):
        delay = 0.1
        while True:
            try:
                return pipeline.parse_disposition(message.key, message.value)
            except RegistryUnavailable as exc:
                log.warning("schema registry unavailable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def apply_dispositions(stream: faust.StreamT) -> None:
        """Analysts' outcomes -> the account's state (false-positive suppression) and the
        precision metrics. Dispositions are keyed by account like payments, so partition p
        here meets partition p of account-state; rare, so one at a time. A disposition whose
        institution is not the one whose topic it came on is refused (dead-lettered)."""
        async for event in stream.events():
            message = event.message
            parsed = await parse_disposition_with_retry(message)
            if isinstance(parsed, DeadLetter):
                await to_dead_letter(message, parsed.reason, parsed.detail)
                continue
            sender = disposition_topics.get(message.topic)
            if parsed.institution_id != sender:
                await to_dead_letter(
                    message,
                    "institution_mismatch",
                    f"a disposition for {parsed.institution_id!r} on {sender!r}'s topic",
                )
                continue
            key = parsed.account_id.encode()
            async with state_lock:
                done = pipeline.dispose(
                    parsed, table_op(event, table.get, key), message.partition, message.offset
                )
                if isinstance(done, DeadLetter):
                    await to_dead_letter(message, done.reason, done.detail)
                    continue
                if done.state is not None:
                    table_op(event, table.__setitem__, key, done.state)
            if done.duplicate:
                continue  # applied before (redelivery): counted before too
            d = done.disposition
            precision.record(d)
            metrics.DISPOSITIONS.labels(d.typology, d.outcome).inc()
            metrics.TYPOLOGY_PRECISION.labels(d.typology).set(precision.typology(d.typology).ratio)
            for code in d.indicator_codes:
                metrics.INDICATOR_DISPOSITIONS.labels(code, d.outcome).inc()
                metrics.INDICATOR_PRECISION.labels(code).set(precision.indicator(code).ratio)

    if disposition_topics:
        app.agent(app.topic(*disposition_topics, partitions=settings.partitions), concurrency=1)(
            apply_dispositions
        )
    else:
        log.warning("CB_INSTITUTIONS is none: this worker reads no dispositions")

    # --- cross-account indicators (processors/links.py) ---------------------------------------
    # payments ──detect──> identity-links (keyed by identifier) ──group_links──> identity-groups
    #   table ──> account-signals (keyed by account, sent to the account's payments partition
    #   number) ──apply_signals──> account-state (under state_lock) ──> alerts
    # Network cases (processors/networks.py) take the same road: a group opens one as a signal
    # to its subject account, and an account whose hits change reports them to its groups as
    # REPORT links on identity-links, from detect and from apply_signals alike.
    # An explicit re-keyed topic rather than Faust's group_by: the hop is visible, and the
    # signal goes to the partition number the account's payment came from, whatever
    # partitioner the publisher used (confluent-kafka's CRC32 differs from aiokafka's
    # murmur2, so re-keying by account_id alone could land on another worker's partition).
    links_topic = app.topic(settings.topic_identity_links, partitions=settings.partitions)
    signals_topic = app.topic(settings.topic_account_signals, partitions=settings.partitions)
    groups = StateTable(
        app,
        name="identity-groups",
        beacon=app.tables.beacon,
        default=None,
        partitions=settings.partitions,
        key_type=bytes,
        value_type=bytes,
    )
    app.tables.add(groups)

    async def group_batch(events: list[Any]) -> None:
        """Links onto their identifier groups; signals to the accounts a group implicates.

        Only this agent touches identity-groups, so it needs no lock; as in process_batch,
        one write per identifier per batch, each pinned to an event of its partition. A
        link found on a partition other than its identifier's (a topic whose partition count
        changed, or a foreign producer) is sent on to the right one rather than grouped here.
        """
        now_ms = int(time.time() * 1000)
        view = BatchView(groups)
        signalled: Counter[str] = Counter()
        misplaced: list[Link] = []
        n = settings.partitions
        for event in events:
            message = event.message
            links = pipeline.parse_links(message.value)
            if isinstance(links, DeadLetter):
                await to_dead_letter(message, links.reason, links.detail)
                continue
            for link in links:
                key = link.key.encode()
                if partition_for(key, n) != message.partition:
                    misplaced.append(link)
                    continue
                done = pipeline.add_link(link, view.get(event, key), now_ms)
                if isinstance(done, DeadLetter):
                    await to_dead_letter(message, done.reason, done.detail, dump_links([link]))
                    continue
                group, signals = done
                if group is not None:
                    view.put(event, key, group)
                for sig in signals:
                    await signals_topic.send(
                        key=sig.account_id.encode(),
                        value=sig.dumps(),
                        partition=sig.partition if sig.partition >= 0 else None,
                    )
                    signalled[sig.code] += 1
        await send_links(misplaced)
        await view.flush()
        for code, count in signalled.items():
            metrics.SIGNALS_SENT.labels(code).inc(count)

    async def signal_batch(events: list[Any]) -> None:
        """Signals onto account state (Engine.apply_signal); alerts as process_batch sends
        them. Runs under state_lock: it reads and writes account-state like detect."""
        now_ms = int(time.time() * 1000)
        states = BatchView(table, pipeline.states)
        hits: Counter[str] = Counter()
        raised: Counter[tuple[str, str]] = Counter()
        reports: list[Link] = []
        for event in events:
            message = event.message
            key = message.key
            if not key:
                await to_dead_letter(message, "invalid_field", "account signal without a key")
                continue
            # The pipeline refuses a signal keyed by another account (invalid_field) before
            # it touches the state handed in.
            outcome = pipeline.apply_signal(
                message.value,
                states.get(event, key),
                now_ms,
                message.partition,
                message.offset,
                key=key,
            )
            if isinstance(outcome, DeadLetter):
                await to_dead_letter(message, outcome.reason, outcome.detail)
                continue
            if outcome.state is not None:
                states.put(event, key, outcome.state)
            if outcome.alerts:
                await send_alerts(key, message, outcome.alerts, raised)
            for link in outcome.links:  # the account's new hits, reported to its groups
                reports.append(link)
            for hit in outcome.hits:
                hits[hit.code] += 1
        await send_links(reports)
        await states.flush()
        for code, count in hits.items():
            metrics.HITS.labels(code).inc(count)
        for (typology, severity), count in raised.items():
            metrics.ALERTS.labels(typology, severity).inc(count)

    @app.agent(links_topic, concurrency=1)
    async def group_links(stream: faust.StreamT) -> None:
        within = settings.batch_within_ms / 1000
        async for events in stream.take_events(max(1, settings.batch_max), within=within):
            await group_batch(events)

    @app.agent(signals_topic, concurrency=1)
    async def apply_signals(stream: faust.StreamT) -> None:
        within = settings.batch_within_ms / 1000
        async for events in stream.take_events(max(1, settings.batch_max), within=within):
            async with state_lock:
                await signal_batch(events)

    app.chainbreaker_groups = groups  # for tests and introspection
    app.chainbreaker_table = table  # for tests and introspection
    return app


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="chainbreaker worker", description=__doc__)
    parser.parse_args(argv)
    settings = load()
    try:
        rules = rules_mod.load(settings.rules_file)
    except rules_mod.RuleError as exc:
        print(f"chainbreaker worker: {exc}")
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    ensure_topics(settings)
    try:
        metrics.serve(settings.metrics_port, settings.metrics_bind)
    except OSError as exc:
        print(
            f"chainbreaker worker: cannot serve metrics on {settings.metrics_bind}:"
            f"{settings.metrics_port} ({exc.strerror}); is another worker running? "
            "Set CB_METRICS_PORT to a free port."
        )
        return 2
    tune_interpreter(settings)
    metrics.WORKER_UP.set_to_current_time()
    metrics.watch_gc()
    # The fleet's rule set (the rules topic) supersedes CB_RULES_FILE, which only seeds it.
    rules_feed = RulesFeed(settings, on_rejected=lambda _r: metrics.RULE_REJECTED.inc())
    try:
        published = rules_feed.catch_up()
    except TimeoutError as exc:
        print(f"chainbreaker worker: {exc}")
        return 2
    if published is not None:
        log.info("rule set %s from %s supersedes %s", published.version,
                 settings.topic_rules, rules.version)  # fmt: skip
        rules = published
    # The shared intelligence feed: read to its end before any payment is consumed, so a
    # restarted worker does not run its backlog against an empty index, then followed.
    try:
        intel = start_intel_replica(settings)
    except (TimeoutError, RuntimeError) as exc:
        print(f"chainbreaker worker: {exc}")
        return 2
    app = build_app(settings, rules, rules_feed.start(), intel=intel)
    if settings.embedded_router:
        case_router.start_in_thread(settings)
    log.info(
        "worker %s: kafka=%s redis=%s rules=%s metrics=http://%s:%d/metrics processors=%s",
        settings.app_id, settings.kafka_bootstrap, settings.redis_url.split("@")[-1],
        rules.version, settings.metrics_bind, settings.metrics_port, processors.RUNS_AS,
    )  # fmt: skip
    worker = faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True)
    worker.execute_from_commandline()
    return 0
