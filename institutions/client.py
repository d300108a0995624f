"""An institution's handle on its case queue: the Python client every front end uses.

`chainbreaker cases` (institutions/cli.py) is one front end; anything else an institution
builds (a web desk, its own case system) uses this class the same way. Each institution's
cases are one Redis Stream, `<CB_APP_ID>:cases:<institution>`, written by the router
(streams/router.py). Analysts work it through the consumer group `analysts`:

* read: XREADGROUP hands each new case to exactly one analyst (consumer) and keeps it pending
  until acknowledged, so a case cannot be lost between "seen" and "done";
* ack / dispose: XACK closes it (dispose first publishes the outcome to Kafka);
* reclaim: XAUTOCLAIM hands cases left pending longer than CB_CASE_CLAIM_IDLE_S (an analyst
  went home, a laptop died) to whoever asks, so nothing waits forever on one person.

The client connects with the institution's own ACL user (institutions/acl.py), never the
admin URL: what the ACL does not allow, the client cannot do, which is the point.

    from institutions.client import CaseClient
    client = CaseClient.from_credentials(".stack/institutions/chainbreaker/bank-us-01.env",
                                         consumer="analyst-7")
    for case in client.read(count=10, block_ms=5000):
        print(case.entry_id, case.alert["typology"], case.alert["score"])
        client.ack(case.entry_id)
"""

from __future__ import annotations

import getpass
import json
import re
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis

from config.clients import ENV_KAFKA_MECHANISM, ENV_KAFKA_PASSWORD, ENV_KAFKA_USERNAME
from config.names import ANALYSTS_GROUP, case_index_key, outcomes_key
from config.settings import Settings, check_institution_id, load
from institutions.credentials import (
    ENV_APP,
    ENV_INSTITUTION,
    ENV_URL,
    institution_from_username,
    read_credentials,
    url_credentials,
)

if TYPE_CHECKING:
    from institutions.dispositions import DispositionProducer

ENTRY_ID = re.compile(r"\d+-\d+")
SCAN_CHUNK = 500
# The consumer a released case is parked on: pending (so still open and counted), on nobody's
# desk, claimable by anyone (`claim`, or `reclaim` once idle). Not a valid analyst name.
UNASSIGNED = "unassigned"


class CaseError(Exception):
    """A case operation that cannot be done; the message says why and what to do."""


class CaseNotFound(CaseError):
    pass


@dataclass(frozen=True)
class Case:
    """One stream entry: its id, the router's flat summary fields and the full alert."""

    entry_id: str
    fields: dict[str, str]
    alert: dict[str, Any]

    @property
    def alert_id(self) -> str:
        return self.alert["alert_id"]

    def to_json(self) -> dict[str, Any]:
        return {"entry_id": self.entry_id, "alert": self.alert}


@dataclass(frozen=True)
class PendingCase:
    """A case delivered to a consumer and not yet acknowledged."""

    entry_id: str
    consumer: str
    idle_ms: int
    deliveries: int

    def to_json(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "consumer": self.consumer,
            "idle_ms": self.idle_ms,
            "deliveries": self.deliveries,
        }


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _alert_id(raw: dict) -> str:
    return _s(raw.get("alert_id", raw.get(b"alert_id", "")))


def _case(entry_id: Any, raw: dict) -> Case:
    fields = {_s(k): _s(v) for k, v in raw.items()}
    try:
        alert = json.loads(fields["alert"])
    except (KeyError, ValueError) as exc:
        raise CaseError(f"entry {_s(entry_id)} is not a case ({exc})") from None
    summary = {k: v for k, v in fields.items() if k != "alert"}
    return Case(_s(entry_id), summary, alert)


def entry_key(entry_id: str) -> tuple[int, int]:
    """A stream entry id as a sortable pair (ms, sequence)."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def default_consumer() -> str:
    """Who is reading: one consumer per analyst, so pending cases show whose desk they sit on."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name (containers): still a stable name per host
        user = "analyst"
    return f"{user}@{socket.gethostname()}"


class CaseClient:
    """An institution's analyst's handle on its case queue (a consumer of the analysts group).

    ``redis_client`` is a URL (the institution's, with its ACL user) or a redis.Redis. The
    client never needs, and must never be given, the admin URL.
    """

    def __init__(
        self,
        redis_client: str | redis.Redis,
        settings: Settings,
        institution_id: str,
        consumer: str | None = None,
    ) -> None:
        check_institution_id("institution", institution_id)
        if isinstance(redis_client, str):
            redis_client = redis.Redis.from_url(redis_client, socket_connect_timeout=5)
        self.redis = redis_client
        self.settings = settings
        self.institution_id = institution_id
        self.consumer = consumer or default_consumer()
        self.stream = settings.case_stream(institution_id)
        self._group_ready = False

    @classmethod
    def from_credentials(
        cls, path: str | Path, consumer: str | None = None, settings: Settings | None = None
    ) -> CaseClient:
        """From the file `chainbreaker cases grant` writes (app id, institution, URL)."""
        creds = read_credentials(Path(path))
        if ENV_URL not in creds:
            raise CaseError(f"{path} holds no {ENV_URL}; is it a `cases grant` file?")
        if settings is None:
            settings = load({ENV_APP: creds[ENV_APP]} if ENV_APP in creds else {})
        elif ENV_APP in creds and creds[ENV_APP] != settings.app_id:
            settings = replace(settings, app_id=creds[ENV_APP])
        # The institution's Kafka principal (dispositions), when the file holds one: the
        # client then needs nothing but this file, wherever it runs.
        user, password = creds.get(ENV_KAFKA_USERNAME), creds.get(ENV_KAFKA_PASSWORD)
        if user and password:
            settings = replace(
                settings,
                kafka_username=user,
                kafka_password=password,
                kafka_sasl_mechanism=creds.get(ENV_KAFKA_MECHANISM) or "SCRAM-SHA-512",
            )
        institution = creds.get(ENV_INSTITUTION) or institution_from_username(
            settings, url_credentials(creds[ENV_URL])[0]
        )
        if not institution:
            raise CaseError(f"{path} names no institution ({ENV_INSTITUTION})")
        return cls(creds[ENV_URL], settings, institution, consumer)

    # ------------------------------------------------------------------ the queue

    def ensure_group(self) -> None:
        """Create the analysts group from the start of the stream if nobody has yet."""
        if self._group_ready:
            return
        try:
            self.redis.xgroup_create(self.stream, ANALYSTS_GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def read(self, count: int = 10, block_ms: int | None = None) -> list[Case]:
        """New cases, now pending on this consumer. Waits up to block_ms when there are none."""
        self.ensure_group()
        reply = self.redis.xreadgroup(
            ANALYSTS_GROUP, self.consumer, {self.stream: ">"}, count=count, block=block_ms
        )
        return [_case(eid, raw) for _, entries in reply or [] for eid, raw in entries]

    def mine(self, count: int = 100) -> list[Case]:
        """Cases already delivered to this consumer and not acknowledged (its desk)."""
        self.ensure_group()
        reply = self.redis.xreadgroup(
            ANALYSTS_GROUP, self.consumer, {self.stream: "0"}, count=count
        )
        return [_case(eid, raw) for _, entries in reply or [] for eid, raw in entries if raw]

    def ack(self, *entry_ids: str) -> int:
        """Close cases; returns how many were pending (0: already closed or never read)."""
        if not entry_ids:
            return 0
        self.ensure_group()
        return int(self.redis.xack(self.stream, ANALYSTS_GROUP, *entry_ids))

    def pending(
        self, count: int = 100, consumer: str | None = None, min_id: str = "-", max_id: str = "+"
    ) -> list[PendingCase]:
        self.ensure_group()
        rows = self.redis.xpending_range(
            self.stream, ANALYSTS_GROUP, min=min_id, max=max_id, count=count, consumername=consumer
        )
        return [
            PendingCase(
                _s(r["message_id"]),
                _s(r["consumer"]),
                int(r["time_since_delivered"]),
                int(r["times_delivered"]),
            )
            for r in rows
        ]

    def holder(self, entry_id: str) -> PendingCase | None:
        """Who has this case open, or None (not read yet, or closed)."""
        return next(iter(self.pending(1, min_id=entry_id, max_id=entry_id)), None)

    def reclaim(self, min_idle_s: float | None = None, count: int = 100) -> list[Case]:
        """Take over cases pending longer than min_idle_s (default CB_CASE_CLAIM_IDLE_S)."""
        self.ensure_group()
        idle_ms = int(
            (self.settings.case_claim_idle_s if min_idle_s is None else min_idle_s) * 1000
        )
        cases: list[Case] = []
        start = "0-0"
        while len(cases) < count:
            reply = self.redis.xautoclaim(
                self.stream,
                ANALYSTS_GROUP,
                self.consumer,
                idle_ms,
                start_id=start,
                count=count - len(cases),
            )
            start, entries = _s(reply[0]), reply[1]
            cases += [_case(eid, raw) for eid, raw in entries if raw]
            if start == "0-0":
                break
        return cases

    def claim(self, entry_id: str, min_idle_s: float = 0) -> Case | None:
        """Take one pending case onto this consumer (e.g. a colleague's, handed over)."""
        self.ensure_group()
        entries = self.redis.xclaim(
            self.stream, ANALYSTS_GROUP, self.consumer, int(min_idle_s * 1000), [entry_id]
        )
        return next((_case(eid, raw) for eid, raw in entries if raw), None)

    # ------------------------------------------------------------------ overview (the desk)

    def last_delivered(self) -> str:
        """The newest entry the analysts group has handed out: every later one is new."""
        self.ensure_group()
        for group in self.redis.xinfo_groups(self.stream):
            if _s(group.get("name", group.get(b"name", ""))) == ANALYSTS_GROUP:
                return _s(group.get("last-delivered-id", group.get(b"last-delivered-id", "0-0")))
        return "0-0"

    def recent(self, count: int) -> list[Case]:
        """The newest ``count`` cases of the queue, newest first, whatever their state."""
        entries = self.redis.xrevrange(self.stream, max="+", min="-", count=count)
        return [_case(eid, raw) for eid, raw in entries]

    def cases(self, entry_ids: list[str]) -> dict[str, Case]:
        """Cases by entry id, one round trip; ids not (or no longer) on the stream are absent."""
        pipe = self.redis.pipeline(transaction=False)
        for entry_id in entry_ids:
            pipe.xrange(self.stream, min=entry_id, max=entry_id)
        found = {}
        for entries in pipe.execute():
            for eid, raw in entries:
                case = _case(eid, raw)
                found[case.entry_id] = case
        return found

    def outcomes(self, alert_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Recorded outcomes of these alerts, one round trip; undecided ones are absent."""
        key = outcomes_key(self.settings.app_id, self.institution_id)
        pipe = self.redis.pipeline(transaction=False)
        for alert_id in alert_ids:
            pipe.hget(key, alert_id)
        return {a: json.loads(raw) for a, raw in zip(alert_ids, pipe.execute(), strict=True) if raw}

    def all_outcomes(self) -> dict[str, dict[str, Any]]:
        """Every outcome this institution recorded (alert id -> record)."""
        raw = self.redis.hgetall(outcomes_key(self.settings.app_id, self.institution_id))
        return {_s(k): json.loads(v) for k, v in raw.items()}

    def release(self, entry_id: str) -> Case | None:
        """Put a case pending on this consumer back for anyone to claim: it moves to the
        UNASSIGNED consumer (still pending, so still open). None if it is not on this desk."""
        held = self.holder(entry_id)
        if held is None or held.consumer != self.consumer:
            return None
        entries = self.redis.xclaim(self.stream, ANALYSTS_GROUP, UNASSIGNED, 0, [entry_id])
        return next((_case(eid, raw) for eid, raw in entries if raw), None)

    def claim_new(self, entry_id: str) -> Case | None:
        """Take one particular case that nobody has been handed yet.

        A consumer group hands new cases out oldest first, so the older new cases are handed
        to UNASSIGNED (still open, claimable by anyone) and this one is then claimed from
        there, only if nobody else took it meanwhile (XCLAIM's idle-time guard).
        """
        self.ensure_group()
        if entry_key(entry_id) <= entry_key(self.last_delivered()):
            return None  # handed out already: claim() it from whoever holds it
        older = self.redis.xrange(self.stream, min=f"({self.last_delivered()}", max=entry_id)
        if not any(_s(eid) == entry_id for eid, _ in older):
            return None
        self.redis.xreadgroup(ANALYSTS_GROUP, UNASSIGNED, {self.stream: ">"}, count=len(older))
        held = self.holder(entry_id)
        if held is None or held.consumer != UNASSIGNED:
            return None  # another analyst's read took it first
        entries = self.redis.xclaim(
            self.stream, ANALYSTS_GROUP, self.consumer, held.idle_ms, [entry_id]
        )
        return next((_case(eid, raw) for eid, raw in entries if raw), None)

    # ------------------------------------------------------------------ lookup

    def get(self, ref: str) -> Case:
        """A case by stream entry id (`1732526400000-0`) or alert id."""
        if ENTRY_ID.fullmatch(ref):
            entries = self.redis.xrange(self.stream, min=ref, max=ref)
            if not entries:
                raise CaseNotFound(f"no case with entry id {ref} in {self.institution_id}'s queue")
            return _case(*entries[0])
        try:
            indexed = self.redis.hget(
                case_index_key(self.settings.app_id, self.institution_id), ref
            )
        except redis.exceptions.NoPermissionError:  # a user granted before the index: scan
            indexed = None
        if indexed:
            entries = self.redis.xrange(self.stream, min=_s(indexed), max=_s(indexed))
            if entries and _alert_id(entries[0][1]) == ref:
                return _case(*entries[0])
        end = "+"
        while True:  # not indexed (enqueued by an older router): scan newest first
            entries = self.redis.xrevrange(self.stream, max=end, min="-", count=SCAN_CHUNK)
            for eid, raw in entries:
                if _alert_id(raw) == ref:
                    return _case(eid, raw)
            if len(entries) < SCAN_CHUNK:
                raise CaseNotFound(f"no case for alert {ref} in {self.institution_id}'s queue")
            end = f"({_s(entries[-1][0])}"

    # ------------------------------------------------------------------ outcomes

    def record_outcome(self, alert_id: str, outcome: dict[str, Any]) -> None:
        self.redis.hset(
            outcomes_key(self.settings.app_id, self.institution_id),
            alert_id,
            json.dumps(outcome, separators=(",", ":")),
        )

    def outcome(self, alert_id: str) -> dict[str, Any] | None:
        raw = self.redis.hget(outcomes_key(self.settings.app_id, self.institution_id), alert_id)
        return json.loads(raw) if raw else None

    def dispose(
        self,
        ref: str,
        outcome: str,
        analyst_id: str,
        note: str | None = None,
        producer: DispositionProducer | None = None,
        force: bool = False,
    ) -> dict[str, Any]:
        """Publish the analyst's outcome to the dispositions topic, then close the case.

        The record is delivered (acks=all) before the XACK: if Kafka does not take it, the
        case stays pending and the analyst can retry. Refuses a second decision on the same
        alert unless ``force``: each one counts in the per-indicator precision.
        """
        from institutions.dispositions import DispositionProducer, build_disposition

        case = self.get(ref)
        previous = self.outcome(case.alert_id)
        if previous and not force:
            raise CaseError(
                f"alert {case.alert_id} was already disposed as {previous.get('outcome')} "
                f"by {previous.get('analyst_id')}; pass --force to record a new decision"
            )
        record = build_disposition(case.alert, outcome, analyst_id, note)
        own = producer is None
        producer = producer or DispositionProducer(self.settings, self.institution_id)
        try:
            producer.send(record)
        finally:
            if own:
                producer.close()
        self.record_outcome(
            case.alert_id,
            {
                "outcome": record["outcome"],
                "analyst_id": analyst_id,
                "decided_at": record["decided_at"],
                "disposition_id": record["disposition_id"],
                "entry_id": case.entry_id,
            },
        )
        self.ack(case.entry_id)
        return record


__all__ = [
    "Case",
    "CaseClient",
    "CaseError",
    "CaseNotFound",
    "PendingCase",
    "UNASSIGNED",
    "default_consumer",
    "entry_key",
]
