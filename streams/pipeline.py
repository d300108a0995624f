"""One payment message in -> a dead letter, or new account state plus encoded alerts.

Transport-free on purpose: the Faust agent supplies bytes and the account's stored state and
does what the outcome says, so everything here is testable without a broker, and the worker
agent stays a thin loop. Any failure becomes a dead letter with a bounded reason, so a bad
event never stops the stream and never disappears.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import processors
from config.settings import Settings
from processors import feedback
from processors.engine import Engine
from processors.intel import IntelIndex
from processors.links import IdentifierGroup, Link, Linker, LinkIndex, Signal, load_links
from processors.model import IndicatorHit
from processors.networks import Networks
from processors.payment_avro import decode_message
from processors.rules import RuleSet
from processors.state import AccountState, StateCache
from processors.validation import InvalidEvent, to_event
from schemas.codec import SOE_MAGIC, AvroCodec, DecodeError, codec_for


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

    @classmethod
    def failed(cls, exc: Exception) -> DeadLetter:
        """Our own code failed on this record: a bug must not stop the stream or lose it."""
        return cls("processing_error", f"{type(exc).__name__}: {exc}"[:500])

    @classmethod
    def if_misrouted(cls, key: bytes | None, account_id: str) -> DeadLetter | None:
        """A record keyed by anything but its account would meet another account's state."""
        if key is not None and key != account_id.encode():
            return cls(
                "invalid_field", "message key must be the account_id (partitioning by account)"
            )
        return None


@dataclass(slots=True, eq=False)
class Pending:
    """One account's state as a batch has changed it, not encoded yet.

    The worker encodes each account's state once per batch, when it writes the batch's
    states (streams/worker.py BatchView.flush), instead of once per event: a busy account
    with twenty payments in a batch holds ~20 KB of state, and encoding it after each of
    them was most of the worker's own cost on mature accounts. Hand it back to the
    pipeline as the stored state for the account's next event in the same batch.

    ``redo`` lists the steps applied since ``base`` (the stored bytes the batch started
    from), so that a step that fails half-way can be undone: the state is decoded again
    from ``base`` and the steps before the failed one are applied again (the steps are
    deterministic for one batch: same inputs, same ``now_ms``).
    """

    key: bytes
    base: bytes | None
    state: AccountState
    redo: list[tuple[Callable[..., Any], tuple]] = field(default_factory=list)


@dataclass(slots=True)
class Processed:
    account_key: bytes
    state: Pending | None  # None when nothing changed (a duplicate)
    alerts: list[tuple[dict, bytes]] = field(default_factory=list)  # (record, Avro bytes)
    hits: list[IndicatorHit] = field(default_factory=list)
    duplicate: bool = False
    links: list[Link] = field(default_factory=list)  # to re-key by identifier (links.py)


@dataclass(slots=True)
class Disposed:
    disposition: feedback.Disposition
    state: bytes | None  # None when it was applied before (a redelivery): nothing to write

    @property
    def duplicate(self) -> bool:
        return self.state is None


class PaymentPipeline:
    def __init__(self, settings: Settings, rules: RuleSet, intel: IntelIndex | None = None) -> None:
        # The feed replica's index (streams/intel_feed.py); kept so a rule reload keeps it.
        self.intel = intel
        self.events: AvroCodec = codec_for("payment_event", settings.schema_registry_url)
        # Payments in single-object framing with exactly the current schema are read by the
        # compiled decoder of processors.payment_avro (about 1 us against fastavro's 9);
        # anything else, and anything it refuses, by the codec, which says what is wrong.
        self._fast_header = (
            SOE_MAGIC + self.events.current.fingerprint
            if processors.NATIVE and not settings.schema_registry_url
            else None
        )
        self.alerts: AvroCodec = codec_for("alert", settings.schema_registry_url)
        self.dispositions: AvroCodec = codec_for("disposition", settings.schema_registry_url)
        self._suppress_hours = settings.fp_suppress_hours
        self.engine = Engine(rules, intel=intel)
        self._max_skew_ms = settings.max_future_skew_s * 1000
        # Decoded states of recently written accounts (processors/state.py): a hit saves the
        # decode, which grows with the account's stored history.
        self.states = StateCache(settings.state_cache_accounts)

    def use_rules(self, rules: RuleSet) -> None:
        """Switch rule sets between batches (hot reload). Account state carries over: slots
        are keyed by indicator code, and hits of indicators the new set disables stop
        counting because scoring only weighs enabled codes."""
        self.engine = Engine(rules, intel=self.intel)

    def parse(self, key: bytes | None, value: bytes | None, now_ms: int):
        """Decode and validate; returns the event or a DeadLetter."""
        if value is None:
            return DeadLetter("undecodable", "message has no value (tombstone)")
        try:
            record = None
            if self._fast_header is not None and value[:10] == self._fast_header:
                try:
                    record = decode_message(value, 10)
                except (IndexError, ValueError):  # UnicodeDecodeError is a ValueError
                    record = None
            if record is None:
                record = self.events.decode(value)
            event = to_event(record, now_ms, self._max_skew_ms, self.engine.rules.usd_per_unit)
        except (DecodeError, InvalidEvent) as exc:
            return DeadLetter(exc.reason, exc.detail)
        return DeadLetter.if_misrouted(key, event.account_id) or event

    def parse_disposition(
        self, key: bytes | None, value: bytes | None
    ) -> feedback.Disposition | DeadLetter:
        """Decode and validate an analyst's disposition; returns it or a DeadLetter."""
        if value is None:
            return DeadLetter("undecodable", "message has no value (tombstone)")
        try:
            disposition = feedback.to_disposition(self.dispositions.decode(value))
        except (DecodeError, InvalidEvent) as exc:
            return DeadLetter(exc.reason, exc.detail)
        return DeadLetter.if_misrouted(key, disposition.account_id) or disposition

    def dispose(
        self, d: feedback.Disposition, stored: bytes | None, partition: int = -1, offset: int = -1
    ) -> Disposed | DeadLetter:
        """Apply a disposition to the account's stored state (a replay changes nothing)."""
        key = d.account_id.encode()
        try:
            state = self.states.load(key, stored)
            applied = feedback.apply_disposition(state, d, self._suppress_hours, partition, offset)
            blob = self.states.store(key, state) if applied else None
        except Exception as exc:  # a corrupt state must not stop the stream
            self.states.forget(key)
            return DeadLetter.failed(exc)
        return Disposed(d, blob)

    def _working(self, key: bytes, stored: bytes | Pending | None) -> Pending:
        """The account's state to change: the batch's own (``stored`` a Pending), or the
        stored bytes decoded (or their cached decoded state)."""
        if isinstance(stored, Pending):
            if stored.key != key:
                raise ValueError("the state handed in is another account's")
            return stored
        return Pending(key, stored, self.states.load(key, stored))

    def _changed(self, work: Pending, step: Callable[..., Any], args: tuple) -> Pending:
        """Record a step that changed ``work``; the cached state is now ahead of its bytes."""
        work.redo.append((step, args))
        self.states.touched(work.key, work.state)
        return work

    def _failed(self, key: bytes, work: Pending | None, exc: Exception) -> DeadLetter:
        """A step failed half-way: the cached object may hold half of the change, so it is
        dropped, and a batch's state is rebuilt without the failed step."""
        self.states.forget(key)
        if work is not None and work.redo:
            try:
                state = AccountState.loads(work.base)
                for step, args in work.redo:
                    step(state, *args)
            except Exception:  # steps that succeeded once fail again: keep what is stored
                state, work.redo = AccountState.loads(work.base), []
            work.state = state
        return DeadLetter.failed(exc)

    def apply(
        self,
        event,
        stored: bytes | Pending | None,
        now_ms: int,
        partition: int = -1,
        offset: int = -1,
    ) -> Processed | DeadLetter:
        """One payment onto the account's stored state (bytes, or this batch's Pending);
        ``partition`` and ``offset`` are its position on the payments topic (a redelivery is
        recognised by it). The new state comes back as a Pending, encoded by the caller."""
        key = event.account_id.encode()
        work = None
        try:
            work = self._working(key, stored)
            step, alerts, links = self._payment(work.state, event, now_ms, partition, offset)
        except Exception as exc:  # a detector bug must not stop the stream or lose the event
            return self._failed(key, work, exc)
        changed = None
        if not step.duplicate:
            changed = self._changed(work, self._payment, (event, now_ms, partition, offset))
        return Processed(
            account_key=key,
            state=changed,
            alerts=alerts,
            hits=step.hits,
            duplicate=step.duplicate,
            links=links,
        )

    def _payment(self, state: AccountState, event, now_ms: int, partition: int, offset: int):
        step = self.engine.step(state, event, now_ms, partition, offset)
        alerts = [(a, self.alerts.encode(a)) for a in step.alerts]
        links = self.linker.due(state.slots, event, step.duplicate, partition)
        if links or step.hits:  # hit summaries for network cases (processors/networks.py)
            who = (event.institution_id, event.account_id, event.customer_id)
            links = self.networks.outgoing(
                state, links, bool(step.hits), event.event_id, event.event_time, who, partition
            )
        return step, alerts, links

    # --- cross-account indicators (processors/links.py) -------------------------------------

    @property
    def linker(self) -> Linker:
        """The link rules of the engine in force (rebuilt after a hot rule reload)."""
        cached = getattr(self, "_linker", None)
        if cached is None or cached[0] is not self.engine:
            linker = Linker.from_rules(self.engine.rules)
            cached = self._linker = (self.engine, linker)
        return cached[1]

    @property
    def networks(self) -> Networks:
        """The network-case rules of the engine in force (rebuilt after a hot rule reload)."""
        cached = getattr(self, "_networks", None)
        if cached is None or cached[0] is not self.engine:
            cached = self._networks = (
                self.engine,
                Networks(self.engine.rules, self.engine.explains),
            )
        return cached[1]

    @staticmethod
    def parse_links(value: bytes | None) -> list[Link] | DeadLetter:
        """The links of one identity-links record (a batch), or a DeadLetter."""
        try:
            return load_links(value or b"")
        except (ValueError, TypeError) as exc:
            return DeadLetter("undecodable", f"identity link: {exc}"[:500])

    def add_link(self, link: Link | bytes | None, stored: bytes | None, now_ms: int = 0):
        """One link onto its identifier's group (``link`` decoded, or one link's bytes).

        Returns (new group bytes or None when unchanged, signals) or a DeadLetter. The
        signals include the network cases the group opens (processors/networks.py), each
        addressed to its subject account like any other signal."""
        if not isinstance(link, Link):
            try:
                link = Link.loads(link or b"")
            except (ValueError, TypeError) as exc:
                return DeadLetter("undecodable", f"identity link: {exc}"[:500])
        try:
            group = IdentifierGroup.loads(stored)
            before = group.dumps() if stored else None
            index = LinkIndex(self.linker)
            signals = index.add(group, link)
            signals += self.networks.cases(group, link.key, index.replayed, now_ms)
            after = group.dumps()
        except Exception as exc:  # a corrupt group must not stop the stream
            return DeadLetter.failed(exc)
        return (None if after == before else after), signals

    def apply_signal(
        self,
        value: bytes | None,
        stored: bytes | Pending | None,
        now_ms: int,
        partition: int = -1,
        offset: int = -1,
        key: bytes | None = None,
    ) -> Processed | DeadLetter:
        """One account-signals record onto the account's stored state (Engine.apply_signal);
        ``key``, when given, is the record's key, which must be the signal's account."""
        try:
            signal = Signal.loads(value or b"")
        except (ValueError, TypeError) as exc:
            return DeadLetter("undecodable", f"account signal: {exc}"[:500])
        account_key = signal.account_id.encode()
        if key is not None and key != account_key:
            return DeadLetter("invalid_field", "signal key is not its account")
        work = None
        try:
            work = self._working(account_key, stored)
            step, alerts, links = self._signal(work.state, signal, now_ms, partition, offset)
        except Exception as exc:
            return self._failed(account_key, work, exc)
        changed = None
        if not step.duplicate:
            changed = self._changed(work, self._signal, (signal, now_ms, partition, offset))
        return Processed(
            account_key=account_key,
            state=changed,
            alerts=alerts,
            hits=step.hits,
            duplicate=step.duplicate,
            links=links,
        )

    def _signal(self, state: AccountState, signal: Signal, now_ms: int, partition, offset):
        step = self.engine.apply_signal(state, signal, now_ms, partition, offset)
        alerts = [(a, self.alerts.encode(a)) for a in step.alerts]
        # A new hit, or a network case now open on the account: its groups hear of it.
        changed = bool(step.hits) or (bool(signal.case) and bool(step.alerts))
        links: list[Link] = []
        if changed and not step.duplicate:
            who = (signal.institution_id, signal.account_id, signal.customer_id)
            links = self.networks.outgoing(
                state, [], True, signal.signal_id, signal.event_time, who, signal.partition
            )
        return step, alerts, links
