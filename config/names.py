"""Names more than one package relies on: Redis key layouts, consumer groups, header names and
the Kafka partitioner.

The router (streams/) writes keys that the institutions' side reads and the operator's ACLs
name; the worker stamps a header that the router measures. When each side held the name the
other needed, the packages imported each other in circles. Plain strings and functions of
the app id (CB_APP_ID), so this module imports nothing of ours.
"""

from __future__ import annotations

# Analysts read their institution's case stream through this consumer group; the router's
# queue metrics report its pending entries (0 while it does not exist).
ANALYSTS_GROUP = "analysts"

# Kafka's standard key partitioner (the Java client's and aiokafka's default). librdkafka's own
# default is CRC32, so without this an account's dispositions written by our CLI and its
# payments written by a Java producer would land on different partitions, away from the
# account's state.
PARTITIONER = "murmur2_random"

# Header on each alert: when the payment that triggered it was produced (ms), for the
# end-to-end latency the router observes as it enqueues the case.
TRIGGER_TS_HEADER = "cb-trigger-produced-ms"


def case_stream_prefix(app_id: str) -> str:
    """Every institution's case stream starts with this (and nothing else does)."""
    return f"{app_id}:cases:"


def case_stream(app_id: str, institution: str) -> str:
    """The Redis Stream of one institution's cases, written by the router."""
    return f"{case_stream_prefix(app_id)}{institution}"


def case_index_key(app_id: str, institution: str) -> str:
    """Hash alert_id -> stream entry id of its case, written by the router as it enqueues, so
    a lookup by alert id is one HGET instead of a scan of the stream. Read-only for the
    institution's user."""
    return f"{app_id}:case-index:{institution}"


def outcomes_key(app_id: str, institution: str) -> str:
    """Hash alert_id -> the institution's recorded outcome. Not under `<app>:cases:` so that
    prefix keeps meaning "case streams" for anyone scanning it."""
    return f"{app_id}:case-outcomes:{institution}"


def dedup_key(app_id: str, institution: str, alert_id: str) -> str:
    """Claimed once per alert id by the router (SET NX with a TTL): the queue's exactly-once."""
    return f"{app_id}:case-ids:{institution}:{alert_id}"


def institutions_key(app_id: str) -> str:
    """Set of the institutions that have a case stream (the router adds them as it meets them)."""
    return f"{app_id}:institutions"


def router_group(app_id: str) -> str:
    """The case router's Kafka consumer group on the alerts topic."""
    return f"{app_id}-case-router"


def case_enqueued_key(app_id: str, institution: str) -> str:
    """Sorted set entry id -> enqueue time (ms) of the cases analysts have not been handed
    yet, kept by the router (added as it enqueues, trimmed as the analysts group reads) so the
    oldest open case is known without reading the stream: the router's user may not."""
    return f"{app_id}:case-enqueued:{institution}"


def disposition_topic(base: str, institution: str) -> str:
    """One dispositions topic per institution (`<CB_TOPIC_DISPOSITIONS>.<institution>`): a
    topic ACL lets only that institution's principal write it, so the topic a disposition
    arrives on names the institution that sent it (Kafka does not pass the producing
    principal to consumers). The worker refuses a record whose institution_id differs."""
    return f"{base}.{institution}"
