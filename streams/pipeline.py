"""One payment message in -> a dead letter, or new account state plus encoded alerts.

Transport-free on purpose: the Faust agent supplies bytes and the account's stored state and
does what the outcome says, so everything here is testable without a broker, and the worker
agent stays a thin loop. Any failure becomes a dead letter with a bounded reason, so a bad
event never stops the stream and never disappears.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from processors.engine import Engine
from processors.model import IndicatorHit
from processors.rules import RuleSet
from processors.state import AccountState
from processors.validation import InvalidEvent, to_event
from schemas.codec import AvroCodec, DecodeError, codec_for
from streams.settings import Settings


def dead_letter_headers(
    reason: str, detail: str, topic: str, partition: int, offset: int
) -> list[tuple[str, bytes]]:
    """The headers every dead letter carries, from the worker and the case router alike."""
    return [
        ("cb-dlq-reason", reason.encode()),
        ("cb-dlq-detail", detail.encode()[:1000]),
        ("cb-dlq-topic", str(topic).encode()),
        ("cb-dlq-partition", str(partition).encode()),
        ("cb-dlq-offset", str(offset).encode()),
        ("cb-dlq-at", str(int(time.time() * 1000)).encode()),
    ]


@dataclass(slots=True)
class DeadLetter:
    reason: str
    detail: str


@dataclass(slots=True)
class Processed:
    account_key: bytes
    state: bytes | None  # None when nothing changed (a duplicate)
    alerts: list[tuple[dict, bytes]] = field(default_factory=list)  # (record, Avro bytes)
    hits: list[IndicatorHit] = field(default_factory=list)
    duplicate: bool = False


class PaymentPipeline:
    def __init__(self, settings: Settings, rules: RuleSet) -> None:
        self.events: AvroCodec = codec_for("payment_event", settings.schema_registry_url)
        self.alerts: AvroCodec = codec_for("alert", settings.schema_registry_url)
        self.engine = Engine(rules)
        self._max_skew_ms = settings.max_future_skew_s * 1000

    def use_rules(self, rules: RuleSet) -> None:
        """Switch rule sets between batches (hot reload). Account state carries over: slots
        are keyed by indicator code, and hits of indicators the new set disables stop
        counting because scoring only weighs enabled codes."""
        self.engine = Engine(rules)

    def parse(self, key: bytes | None, value: bytes | None, now_ms: int):
        """Decode and validate; returns the event or a DeadLetter."""
        if value is None:
            return DeadLetter("undecodable", "message has no value (tombstone)")
        try:
            record = self.events.decode(value)
            event = to_event(record, now_ms, self._max_skew_ms)
        except (DecodeError, InvalidEvent) as exc:
            return DeadLetter(exc.reason, exc.detail)
        if key is not None and key != event.account_id.encode():
            return DeadLetter(
                "invalid_field", "message key must be the account_id (partitioning by account)"
            )
        return event

    def apply(self, event, stored: bytes | None, now_ms: int) -> Processed | DeadLetter:
        try:
            state = AccountState.loads(stored)
            step = self.engine.step(state, event, now_ms)
            alerts = [(a, self.alerts.encode(a)) for a in step.alerts]
        except Exception as exc:  # a detector bug must not stop the stream or lose the event
            return DeadLetter("processing_error", f"{type(exc).__name__}: {exc}"[:500])
        return Processed(
            account_key=event.account_id.encode(),
            state=None if step.duplicate else state.dumps(),
            alerts=alerts,
            hits=step.hits,
            duplicate=step.duplicate,
        )
