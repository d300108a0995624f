"""Prometheus metrics of the worker, the case router and the publisher.

Units are in the names (seconds, records, messages), counters end in ``_total``, and labels
are bounded sets (indicator codes, typologies, severities, dead-letter reasons, partitions of
our own topics): never account ids or anything personal. Histogram buckets start at a tenth
of a millisecond because the alerting target is tens of milliseconds, and Faust's own
buckets start at 5 ms.

The one label that is not a fixed set is ``institution``. Its cardinality is capped by
`institution_label`: the first MAX_INSTITUTION_LABELS institutions a process sees keep their
name, every later one is folded into "other". A consortium has tens of members, so the cap
only bites on garbage input (which validation dead-letters before it gets here anyway).

The publisher's counters live here too, so every name is in one place; the worker exposes
them at zero, and `chainbreaker publish --metrics-port` serves them from the CLI process.
"""

from __future__ import annotations

import gc
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

PROCESSING_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0,
    2.5, 5.0, 10.0,
)  # fmt: skip

# --- institution label: bounded --------------------------------------------------------------

MAX_INSTITUTION_LABELS = 100
OTHER_INSTITUTION = "other"
_institutions: set[str] = set()
_institutions_lock = threading.Lock()


def institution_label(institution: str) -> str:
    """The institution's own name for its first MAX_INSTITUTION_LABELS, then "other".

    Called once per institution per batch (worker) or per refresh (router), never per event.
    """
    if institution in _institutions:
        return institution
    with _institutions_lock:
        if len(_institutions) < MAX_INSTITUTION_LABELS:
            _institutions.add(institution)
            return institution
    return OTHER_INSTITUTION


# --- worker ----------------------------------------------------------------------------------

EVENTS = Counter(
    "chainbreaker_events_processed_total",
    "Valid payment events run through the detectors, by reporting institution",
    ["institution"],
)
DUPLICATES = Counter(
    "chainbreaker_duplicate_events_total",
    "Redelivered events skipped because their id was already applied",
)
HITS = Counter("chainbreaker_indicator_hits_total", "Indicator firings", ["indicator"])
STATE_BYTES = Counter(
    "chainbreaker_state_bytes_written_total",
    "Bytes of table values written (each write is one changelog record), by table",
    ["table"],
)
LINKS_SENT = Counter(
    "chainbreaker_identity_links_sent_total",
    "Account-identifier links re-keyed to the identity-links topic (cross-account indicators)",
)
SIGNALS_SENT = Counter(
    "chainbreaker_account_signals_sent_total",
    "Cross-account findings sent back to an account (one per account implicated)",
    ["indicator"],
)
ALERTS = Counter("chainbreaker_alerts_total", "Alerts raised", ["typology", "severity"])
DEAD_LETTERS = Counter(
    "chainbreaker_dead_letters_total", "Events sent to the dead-letter topic", ["reason"]
)


class BatchHistogram(Collector):
    """A Prometheus histogram fed a batch at a time.

    ``Histogram.observe`` takes a lock and walks the buckets for every value, a few
    microseconds each: on the worker's per-event path that is a measurable share. Here a
    batch's values go into a local count per bucket (a C bisect each), and the shared counts
    take one lock per batch. It exposes exactly what a Histogram of the same name exposes.
    """

    def __init__(self, name: str, documentation: str, buckets: tuple[float, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = tuple(buckets)
        self._counts = [0] * (len(self.bounds) + 1)  # the last one: above every bound
        self._sum = 0.0
        self._lock = threading.Lock()
        REGISTRY.register(self)

    def observe_batch(self, values: Iterable[float]) -> None:
        local = [0] * len(self._counts)
        total = 0.0
        bounds = self.bounds
        for value in values:
            local[bisect_left(bounds, value)] += 1
            total += value
        with self._lock:
            counts = self._counts
            for i, n in enumerate(local):
                if n:
                    counts[i] += n
            self._sum += total

    def collect(self) -> Iterable[HistogramMetricFamily]:
        with self._lock:
            counts, total = list(self._counts), self._sum
        cumulative, running = [], 0
        for bound, n in zip((*self.bounds, float("inf")), counts, strict=True):
            running += n
            cumulative.append((_bound_text(bound), running))
        family = HistogramMetricFamily(self.name, self.documentation)
        family.add_metric([], cumulative, total)
        yield family


def _bound_text(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


PROCESSING = BatchHistogram(
    "chainbreaker_processing_seconds",
    "Time to decode, validate, update state and score one event (its share of the batch)",
    PROCESSING_BUCKETS,
)
EVENT_LATENCY = BatchHistogram(
    "chainbreaker_event_latency_seconds",
    "Payment produced to Kafka -> processed by the worker (its batch's state written), per event",
    LATENCY_BUCKETS,
)
BATCH_EVENTS = BatchHistogram(
    "chainbreaker_batch_events",
    "Payments per batch of the detect agent (large while it drains a backlog)",
    (1, 10, 50, 100, 250, 500, 1000, 2000, 5000),
)
GC_PAUSE = BatchHistogram(
    "chainbreaker_gc_pause_seconds",
    "Pauses of Python's garbage collector in the worker (its event loop stands still)",
    PROCESSING_BUCKETS,
)
_gc_pauses: list[float] = []
_gc_started: list[float] = [0.0]


def _on_gc(phase: str, info: dict) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter()
    else:
        _gc_pauses.append(time.perf_counter() - _gc_started[0])


def watch_gc() -> None:
    """Time every collection (gc.callbacks), to be fed to GC_PAUSE by :func:`flush_gc` a
    batch at a time: a long full collection is a latency spike no other series explains."""
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)


def flush_gc() -> None:
    pauses = _gc_pauses[:]
    del _gc_pauses[: len(pauses)]
    GC_PAUSE.observe_batch(pauses)


END_TO_END = Histogram(
    "chainbreaker_end_to_end_latency_seconds",
    "Triggering payment produced to Kafka -> alert on the institution's case queue",
    buckets=LATENCY_BUCKETS,
)
WORKER_UP = Gauge("chainbreaker_worker_started_timestamp_seconds", "When the worker started")
RULE_SET = Gauge(
    "chainbreaker_rule_set_info",
    "1 for the rule-set version this worker applies now (one series at a time)",
    ["version"],
)
RULE_RELOADS = Counter(
    "chainbreaker_rule_set_reloads_total", "Rule sets taken from the rules topic while running"
)
RULE_REJECTED = Counter(
    "chainbreaker_rule_set_rejected_total",
    "Rule sets on the rules topic that failed validation (the one in force stayed)",
)


def set_rule_version(version: str) -> None:
    RULE_SET.clear()
    RULE_SET.labels(version).set(1)


# --- shared intelligence feed (streams/intel_feed.py) ---------------------------------------------

INTEL_ENTRIES = Gauge(
    "chainbreaker_intel_entries",
    "Identifiers on the shared intelligence feed held in this worker's replica, by kind",
    ["kind"],
)
INTEL_UPDATES = Counter(
    "chainbreaker_intel_updates_total",
    "Intel feed records applied to the replica (outcome put, remove) or skipped (rejected)",
    ["outcome"],
)
INTEL_READY = Gauge(
    "chainbreaker_intel_ready",
    "1 once the worker has read the intel topic to its end (it consumes payments only then)",
)


CONSUMER_LAG = Gauge(
    "chainbreaker_consumer_lag_messages",
    "Records in an assigned input partition not yet read by the worker (high water mark "
    "minus next offset to read)",
    ["topic", "partition"],
)
TABLE_KEYS = Gauge(
    "chainbreaker_table_keys",
    "Keys in a table's local RocksDB stores (RocksDB's estimate): accounts held in state",
    ["table"],
)
ROCKSDB_MEMORY = Gauge(
    "chainbreaker_rocksdb_memory_bytes",
    "The worker's RocksDB memory budget in use (streams/state_store.py): cache = the shared "
    "block cache with the memtables, index and filter blocks charged to it; pinned = the part "
    "held by open iterators and pinned blocks; memtables = the write buffers alone",
    ["kind"],
)
STATE_CACHE_ACCOUNTS = Gauge(
    "chainbreaker_state_cache_accounts",
    "Decoded account states the worker keeps between batches (CB_STATE_CACHE_ACCOUNTS bounds it)",
)
REBALANCES = Counter(
    "chainbreaker_rebalances_total", "Consumer group rebalances this worker went through"
)
REBALANCING = Gauge(
    "chainbreaker_rebalancing", "1 while a rebalance is in progress on this worker, else 0"
)

# --- analyst feedback ------------------------------------------------------------------------

DISPOSITIONS = Counter(
    "chainbreaker_dispositions_total",
    "Analysts' dispositions applied, by the alert's typology and the outcome",
    ["typology", "outcome"],
)
INDICATOR_DISPOSITIONS = Counter(
    "chainbreaker_indicator_dispositions_total",
    "Dispositions applied, once per indicator on the alert, by outcome",
    ["indicator", "outcome"],
)
TYPOLOGY_PRECISION = Gauge(
    "chainbreaker_typology_precision",
    "Share of dispositions this process applied that were CONFIRMED_SAR_FILED or VALUABLE, "
    "by typology (fleet-wide: the chainbreaker:typology_precision:ratio30d recording rule)",
    ["typology"],
)
INDICATOR_PRECISION = Gauge(
    "chainbreaker_indicator_precision",
    "Share of dispositions this process applied that were CONFIRMED_SAR_FILED or VALUABLE, "
    "by indicator on the alert (fleet-wide: chainbreaker:indicator_precision:ratio30d)",
    ["indicator"],
)


def init_disposition_series(typologies: Iterable[str], indicators: Iterable[str],
                            outcomes: Iterable[str]) -> None:  # fmt: skip
    """Export every (bounded) counter series at 0 from the start, so the first disposition
    of a kind is an increase Prometheus sees, not a series appearing at 1."""
    typologies, indicators = list(typologies), list(indicators)
    for outcome in outcomes:
        for typology in typologies:
            DISPOSITIONS.labels(typology, outcome)
        for indicator in indicators:
            INDICATOR_DISPOSITIONS.labels(indicator, outcome)


# --- case router -----------------------------------------------------------------------------

CASES = Counter("chainbreaker_cases_enqueued_total", "Alerts placed on a case queue")
CASE_DUPLICATES = Counter(
    "chainbreaker_case_duplicates_total",
    "Alerts not enqueued because their alert id was already queued",
)
CASE_QUEUE_LENGTH = Gauge(
    "chainbreaker_case_queue_length",
    "Entries in an institution's case stream (XLEN)",
    ["institution"],
)
CASE_QUEUE_PENDING = Gauge(
    "chainbreaker_case_queue_pending",
    "Cases delivered to the analysts consumer group but not acknowledged (XPENDING); "
    "0 while the group does not exist",
    ["institution"],
)
CASE_QUEUE_OLDEST_AGE = Gauge(
    "chainbreaker_case_queue_oldest_age_seconds",
    "Age of the oldest case the analysts group has not acknowledged (pending or not yet "
    "delivered; the whole stream while the group does not exist); 0 when there is none",
    ["institution"],
)

# --- publisher -------------------------------------------------------------------------------

PUBLISH_SENT = Counter(
    "chainbreaker_publish_messages_sent_total", "Payment events the broker acknowledged"
)
PUBLISH_FAILED = Counter(
    "chainbreaker_publish_messages_failed_total", "Payment events whose delivery failed"
)
PUBLISH_RETRIED = Counter(
    "chainbreaker_publish_retries_total",
    "Produce calls retried because the producer's local queue was full",
)

# --- recovery: read at scrape time -----------------------------------------------------------


class RecoveryCollector(Collector):
    """Table recovery progress, read when Prometheus scrapes.

    Faust starts timers only after the first recovery has finished, which is exactly when
    this would be interesting, so the worker hands over a probe instead: a function returning
    (in recovery?, active records remaining, standby records remaining). The probe reads
    plain counters of Faust's recovery service from the HTTP server's thread.
    """

    def __init__(self) -> None:
        self.probe: Callable[[], tuple[bool, int, int]] | None = None

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return self._families(False, 0, 0)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        state = (False, 0, 0)
        # The probe reads dicts the event loop may be resizing ("changed size during
        # iteration"): try again. A scrape must never fail because of such a race.
        for _attempt in range(3):
            if self.probe is None:
                break
            try:
                state = self.probe()
                break
            except Exception:
                continue
        return self._families(*state)

    @staticmethod
    def _families(active: bool, remaining: int, standby: int) -> list[GaugeMetricFamily]:
        in_progress = GaugeMetricFamily(
            "chainbreaker_recovery_in_progress",
            "1 while the worker restores table state from changelog topics, else 0",
            value=1 if active else 0,
        )
        left = GaugeMetricFamily(
            "chainbreaker_recovery_remaining_records",
            "Changelog records still to apply, for active and standby table partitions",
            labels=["kind"],
        )
        left.add_metric(["active"], remaining)
        left.add_metric(["standby"], standby)
        return [in_progress, left]


RECOVERY = RecoveryCollector()
REGISTRY.register(RECOVERY)


def serve(port: int, bind: str) -> None:
    start_http_server(port, addr=bind)
