"""Prometheus metrics of the worker and the case router.

Units are in the names (seconds), labels are bounded sets (indicator codes, typologies,
severities, dead-letter reasons): never account ids or anything personal. Histogram buckets
start at a tenth of a millisecond because the alerting target is tens of milliseconds, and
Faust's own buckets start at 5 ms.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

PROCESSING_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0,
    2.5, 5.0, 10.0,
)  # fmt: skip

EVENTS = Counter(
    "chainbreaker_events_processed_total", "Valid payment events run through the detectors"
)
DUPLICATES = Counter(
    "chainbreaker_duplicate_events_total",
    "Redelivered events skipped because their id was already applied",
)
HITS = Counter("chainbreaker_indicator_hits_total", "Indicator firings", ["indicator"])
ALERTS = Counter("chainbreaker_alerts_total", "Alerts raised", ["typology", "severity"])
DEAD_LETTERS = Counter(
    "chainbreaker_dead_letters_total", "Events sent to the dead-letter topic", ["reason"]
)
PROCESSING = Histogram(
    "chainbreaker_processing_seconds",
    "Time to decode, validate, update state and score one event",
    buckets=PROCESSING_BUCKETS,
)
END_TO_END = Histogram(
    "chainbreaker_end_to_end_latency_seconds",
    "Triggering payment produced to Kafka -> alert on the institution's case queue",
    buckets=LATENCY_BUCKETS,
)
CASES = Counter("chainbreaker_cases_enqueued_total", "Alerts placed on a case queue")
CASE_DUPLICATES = Counter(
    "chainbreaker_case_duplicates_total",
    "Alerts not enqueued because their alert id was already queued",
)
WORKER_UP = Gauge("chainbreaker_worker_started_timestamp_seconds", "When the worker started")


def serve(port: int, bind: str) -> None:
    start_http_server(port, addr=bind)
