"""Cross-account indicators (reference rows 17 and 18): links, identifier groups and signals.

A per-account detector sees one account's payments. Two red flags only show when accounts are
grouped by something they share: several customers with one phone, e-mail, address or device
(SHARED_IDENTIFIER), and many senders paying one beneficiary (COMMON_BENEFICIARY). The flow,
the same in the worker and in the offline backtest:

1. ``Linker.due(state, ev)``: a payment yields one :class:`Link` per identifier it carries
   (account, identifier kind, identifier, event id and time). Every payment of an account
   carries the same holder hashes, so a link is only due when the account has not reported
   that identifier for a quarter of the SHARED_IDENTIFIER window (``Linker.refresh_ms``,
   7.5 days by default); the account state remembers when it last did (slot ``LINK_SLOT``).
   That keeps the repartition traffic near one record per account and identifier per
   refresh period instead of up to four per payment (measured on simulated traffic: 2.3
   links per payment without the throttle). Groups keep members for the window plus the
   refresh period, so the throttle never expires a member early; the price is that a
   member may count up to a refresh period after its last payment with the identifier.
2. The worker re-keys links by identifier (topic CB_TOPIC_IDENTITY_LINKS); the backtest keeps a
   dict. ``LinkIndex.add(group, link)`` updates the :class:`IdentifierGroup` of that identifier
   (bounded: members trimmed to the window and capped) and returns a :class:`Signal` per
   account to tell when the group reaches the threshold.
3. Signals go back to the accounts, keyed by account (topic CB_TOPIC_ACCOUNT_SIGNALS) and
   ``Engine.apply_signal`` records the finding as an indicator hit and scores it.

Idempotence. A signal's id is a digest of (indicator, identifier, account, episode), the
episode being the event time at which the group reached the threshold, stored in the group.
Replaying links (at-least-once after a crash) leaves the group as it was and re-sends the same
signal ids, which the account state skips as seen; an alert raised by a signal takes its id
from the signal id. A link whose event id is already the member's newest is treated as a
replay and re-sends the group's signals, so a signal lost between the changelog write and the
send is sent again.

Privacy. Links carry only keyed hashes: holder identifiers are HMAC hashes already, and the
beneficiary is reduced to a digest of its account and institution. Explanations name the kind
of identifier, the first 8 hex digits of its hash and counts, never a raw identifier; evidence
lists only the receiving account's own event ids, never another account's (the group may span
institutions).
"""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from processors.indicators.base import HOUR_MS, Detector, days
from processors.indicators.collector_fan_in import CollectorFanIn
from processors.indicators.common_beneficiary import CommonBeneficiary
from processors.indicators.shared_identifier import LABELS, SharedIdentifier
from processors.indicators.wage_forwarding import WageForwarding
from processors.indicators.wages_collected import WagesCollected
from processors.model import PaymentEvent
from processors.rules import RuleSet

SHARED: Final = SharedIdentifier.code
BENEFICIARY: Final = CommonBeneficiary.code
BENEFICIARY_KIND: Final = "beneficiary"
WAGES: Final = WageForwarding.code
WAGE_KIND: Final = "wage_beneficiary"
#: the code a money group's finding is recorded under on the receiving account (its owner)
COLLECTOR: Final = CollectorFanIn.code
CONTROLLER: Final = WagesCollected.code
OWNER_CODE: Final = {BENEFICIARY: COLLECTOR, WAGES: CONTROLLER}
#: a link's role in its group: a member (a sender, or a holder of the identifier), the owner
#: of a beneficiary digest (the receiving account itself), or a report of a member's hits
#: that changes nothing but its summary (processors/networks.py)
MEMBER: Final = 0
OWNER: Final = 1
REPORT: Final = 2
#: account-state slot: [event time the account last reported itself as owner of its
#: beneficiary digest to the beneficiary group, the same to the wage group, to the payee group]
OWNER_SLOT: Final = "~OWNER"
#: payee groups (network cases only, processors/networks.py): the accounts paying one account
#: by transfer, and that account as owner. No indicator of their own.
PAYEE_KIND: Final = "payee"
PAYEE_CHANNELS: Final = frozenset({"WIRE", "ACH", "P2P", "REMITTANCE"})
#: account-state slot: {first 16 hex digits of a payee digest: [event time last reported as
#: its payer (0: never), event time of the last payment to it]}
PAYEE_SLOT: Final = "~PAYEES"
MAX_PAYEES: Final = 32
#: ISO 20022 purpose codes of rent, tax, utility, phone, insurance and loan payments: paid
#: right after payday they are still not a wage forwarded to someone (on the harder
#: simulated population, two tenants paying one landlord by ACH after payday were linked as
#: forwarding their wages to it and made a labour network case)
BILL_PURPOSES: Final = frozenset({"RENT", "TAXS", "ELEC", "GASB", "WTER", "PHON", "INSU", "LOAR"})
#: account-state slot: [event time, US$ amount] of the account's last payroll credit
PAYDAY_SLOT: Final = "~PAYDAY"
#: account-state slot: {kind initial + first 16 hex digits of the hash: event time last
#: reported}. A dict, unlike the detectors' list slots; only this module reads it.
LINK_SLOT: Final = "~LINKS"
#: account-state slot: [fingerprint, due, fingerprint, due] of the last two holder-identifier
#: sets checked, newest first; due is the event time the first identifier of the set must be
#: reported again (0, 0: no second set yet). Linker.due's fast path.
LINK_DUE_SLOT: Final = "~LINKDUE"
#: floor of the refresh period (a very short window must still throttle a little)
MIN_REFRESH_MS: Final = HOUR_MS
#: most identifiers an account state remembers having reported (newest kept)
MAX_REPORTED: Final = 64
FORMAT: Final = 2  # 2: links carry a role and the member's hit summary (1 is read as role 0)
SIGNAL_FORMAT: Final = 2  # 2: a signal may carry a network case (1 is read as none)
#: 2: members carry role, hit summary and last report; network cases. 3: format 2's row in
#: MessagePack rather than JSON text (a group is read and written for every link it takes)
GROUP_FORMAT: Final = 3


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


@dataclass(slots=True)
class Link:
    """One account seen carrying one identifier. ``partition`` is the payments partition the
    account lives on (the worker sends the account's signals there; -1 offline). ``role``:
    MEMBER, OWNER or REPORT (above). ``summary``: the account's active hits when it has any,
    for network cases (processors/networks.py), else empty."""

    kind: str
    ident: str
    institution_id: str
    account_id: str
    customer_id: str
    event_id: str
    event_time: int
    partition: int = -1
    role: int = MEMBER
    summary: list = field(default_factory=list)

    # Written out: compiled, a dataclass's generated __init__ stays interpreted (processors.model).
    def __init__(
        self,
        kind: str,
        ident: str,
        institution_id: str,
        account_id: str,
        customer_id: str,
        event_id: str,
        event_time: int,
        partition: int = -1,
        role: int = MEMBER,
        summary: list | None = None,
    ) -> None:
        self.kind = kind
        self.ident = ident
        self.institution_id = institution_id
        self.account_id = account_id
        self.customer_id = customer_id
        self.event_id = event_id
        self.event_time = event_time
        self.partition = partition
        self.role = role
        self.summary = [] if summary is None else summary

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ident}"

    @property
    def code(self) -> str:
        return _CODE_OF_KIND.get(self.kind, SHARED)

    def dumps(self) -> bytes:
        return json.dumps(
            [FORMAT, self.kind, self.ident, self.institution_id, self.account_id,
             self.customer_id, self.event_id, self.event_time, self.partition, self.role,
             self.summary],
            separators=(",", ":"),
        ).encode()  # fmt: skip

    @classmethod
    def loads(cls, data: bytes) -> Link:
        """Raises ValueError on anything but a link this build (or the one before) wrote."""
        row = json.loads(data)
        ok = isinstance(row, list) and (
            (len(row) == 9 and row[0] == 1) or (len(row) == 11 and row[0] == FORMAT)
        )
        if not ok:
            raise ValueError("not an identity link record")
        link = cls(*row[1:])
        if not (isinstance(link.event_time, int) and isinstance(link.partition, int)):
            raise ValueError("identity link: bad event_time or partition")
        if link.role not in (MEMBER, OWNER, REPORT) or not isinstance(link.summary, list):
            raise ValueError("identity link: bad role or summary")
        return link


#: identity-links records carry a batch of links: all of one producer batch's links for one
#: partition in one Kafka message (MessagePack), so the hop costs the worker one message per
#: partition per batch instead of one per link. A record that starts with "[" is a single
#: link in JSON, as builds before 2026-12-07 wrote them, and is still read.
LINK_BATCH_FORMAT: Final = 3
_batch_encoder: Final = msgspec.msgpack.Encoder()
_batch_decoder: Final = msgspec.msgpack.Decoder()


def dump_links(links: Sequence[Link]) -> bytes:
    """One identity-links record holding ``links`` (all for one partition)."""
    return _batch_encoder.encode(
        (
            LINK_BATCH_FORMAT,
            [
                (lk.kind, lk.ident, lk.institution_id, lk.account_id, lk.customer_id,
                 lk.event_id, lk.event_time, lk.partition, lk.role, lk.summary)
                for lk in links
            ],
        )
    )  # fmt: skip


def load_links(data: bytes) -> list[Link]:
    """The links of an identity-links record (a batch, or one link of an earlier build).
    Raises ValueError on anything else."""
    if data[:1] == b"[":
        return [Link.loads(data)]
    try:
        row: Any = _batch_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise ValueError(f"not an identity-links record: {exc}") from None
    if not (isinstance(row, list) and len(row) == 2 and row[0] == LINK_BATCH_FORMAT):
        raise ValueError("not an identity-links record")
    out: list[Link] = []
    for item in row[1]:
        if not (isinstance(item, list) and len(item) == 10):
            raise ValueError("identity link: bad row")
        kind, ident, institution, account, customer, event_id, t, partition, role, summary = item
        for text in (kind, ident, institution, account, customer, event_id):
            if not isinstance(text, str):
                raise ValueError("identity link: a text field is not text")
        if not (isinstance(t, int) and isinstance(partition, int)):
            raise ValueError("identity link: bad event_time or partition")
        if role not in (MEMBER, OWNER, REPORT) or not isinstance(summary, list):
            raise ValueError("identity link: bad role or summary")
        out.append(Link(kind, ident, institution, account, customer, event_id, t, partition,
                        role, summary))  # fmt: skip
    return out


@dataclass(slots=True)
class Signal:
    """A cross-account finding for one account, keyed by that account. A signal with a
    ``case`` carries a network case (processors/networks.py) for the account to raise."""

    signal_id: str
    code: str
    institution_id: str
    account_id: str
    customer_id: str
    event_time: int  # newest event time in the group when it was found
    measured: float
    threshold: float
    window_seconds: int
    explanation: str
    event_ids: list[str] = field(default_factory=list)  # this account's own events only
    first_event_time: int = 0
    partition: int = -1
    case: dict = field(default_factory=dict)

    # Written out: compiled, a dataclass's generated __init__ stays interpreted (processors.model).
    def __init__(
        self,
        signal_id: str,
        code: str,
        institution_id: str,
        account_id: str,
        customer_id: str,
        event_time: int,
        measured: float,
        threshold: float,
        window_seconds: int,
        explanation: str,
        event_ids: list[str] | None = None,
        first_event_time: int = 0,
        partition: int = -1,
        case: dict | None = None,
    ) -> None:
        self.signal_id = signal_id
        self.code = code
        self.institution_id = institution_id
        self.account_id = account_id
        self.customer_id = customer_id
        self.event_time = event_time
        self.measured = measured
        self.threshold = threshold
        self.window_seconds = window_seconds
        self.explanation = explanation
        self.event_ids = [] if event_ids is None else event_ids
        self.first_event_time = first_event_time
        self.partition = partition
        self.case = {} if case is None else case

    def dumps(self) -> bytes:
        return json.dumps(
            [SIGNAL_FORMAT, self.signal_id, self.code, self.institution_id, self.account_id,
             self.customer_id, self.event_time, self.measured, self.threshold,
             self.window_seconds, self.explanation, self.event_ids, self.first_event_time,
             self.partition, self.case],
            separators=(",", ":"),
        ).encode()  # fmt: skip

    @classmethod
    def loads(cls, data: bytes) -> Signal:
        row = json.loads(data)
        ok = isinstance(row, list) and (
            (len(row) == 14 and row[0] == 1) or (len(row) == 15 and row[0] == SIGNAL_FORMAT)
        )
        if not ok:
            raise ValueError("not an account signal record")
        signal = cls(*row[1:])
        if not isinstance(signal.case, dict):
            raise ValueError("account signal: bad case")
        return signal


@dataclass(slots=True)
class IdentifierGroup:
    """The accounts seen with one identifier: bounded and self-expiring, like AccountState.

    ``members``: "institution|account" -> [last seen (event time), customer id, newest event
    id, first seen, payments partition of the account (-1 offline), role (MEMBER or OWNER),
    hit summary (processors/networks.py), id of the last report applied]. ``since``: event
    time the group reached the threshold (the episode), or 0. ``cases``: the network cases
    open on the group, typology -> [cooldown until (event time), [the signals that carry
    them, as dumped]] (processors/networks.py).
    """

    watermark: int = 0
    since: int = 0
    members: dict[str, list] = field(default_factory=dict)
    cases: dict[str, list] = field(default_factory=dict)

    def dumps(self) -> bytes:
        return _batch_encoder.encode(
            [GROUP_FORMAT, self.watermark, self.since, self.members, self.cases]
        )

    @classmethod
    def loads(cls, data: bytes | None) -> IdentifierGroup:
        """Format 3 (MessagePack), or formats 1 and 2 (JSON text, before 2026-12-07)."""
        if not data:
            return cls()
        row: Any = json.loads(data) if data[:1] == b"[" else _batch_decoder.decode(data)
        fmt = row[0]
        if fmt == 2:  # the same row as JSON text
            _fmt, watermark, since, members, cases = row
            return cls(watermark, since, members, cases)
        if fmt == 1:  # members without role, summary or report id; no cases
            _fmt, watermark, since, members = row
            for m in members.values():
                m.extend([MEMBER, [], ""])
            return cls(watermark, since, members, {})
        if fmt != GROUP_FORMAT:
            raise ValueError(f"identifier group format {fmt} not understood by this build")
        _fmt, watermark, since, members, cases = row
        return cls(watermark, since, members, cases)


_CODE_OF_KIND: Final = {BENEFICIARY_KIND: BENEFICIARY, WAGE_KIND: WAGES}


class Linker:
    """Which links a payment yields, under the rule set in force (None: indicator disabled)."""

    def __init__(
        self,
        shared: SharedIdentifier | None,
        beneficiary: CommonBeneficiary | None,
        wages: WageForwarding | None = None,
        collector: CollectorFanIn | None = None,
        controller: WagesCollected | None = None,
        payee_window_ms: int = 0,
        payee_max: int = 0,
        score_window_ms: int = 0,
    ) -> None:
        self.shared = shared
        #: payee groups (0: off): members kept this long, at most payee_max + 1 of them
        self.payee_window_ms = payee_window_ms
        self.payee_refresh_ms = max(MIN_REFRESH_MS, payee_window_ms // 4)
        self.payee_max = payee_max
        self.beneficiary = beneficiary
        self.wages = wages
        #: the detectors a money group's finding is recorded under on its owner (None:
        #: disabled, and the owner is then not signalled)
        self._owner_dets: dict[str, Detector | None] = {
            BENEFICIARY: collector, WAGES: controller
        }  # fmt: skip
        #: an owner re-reports itself to a money group at most this often (a quarter of the
        #: group's window, as holder identifiers)
        self.owner_refresh_ms = {
            det.code: max(MIN_REFRESH_MS, det.window_ms // 4)
            for det in (beneficiary, wages)
            if det is not None
        }
        self._fields = shared.fields if shared is not None else ()
        # One C call for every holder identifier of an event (attrgetter of one name returns
        # the value itself, not a tuple, so the tuple is built here in that case).
        names = [attr for _kind, attr in self._fields]
        self._holder_ids = (
            operator.attrgetter(*names) if len(names) > 1 else (lambda ev: (getattr(ev, names[0]),))
        ) if names else None  # fmt: skip
        self._max_usd = beneficiary.params["max_amount_usd"] if beneficiary else 0.0
        #: an account re-reports a holder identifier it carries at most this often
        self.refresh_ms = max(MIN_REFRESH_MS, shared.window_ms // 4) if shared else 0
        self._by_code = {SHARED: shared, BENEFICIARY: beneficiary, WAGES: wages}
        #: code -> how long one episode of a group's finding lasts before the group, still
        #: qualifying, signals every member again (LinkIndex.add). The group's window, but
        #: never more than half the score window (``score_window_ms``; 0: no cap): a finding
        #: counts on an account for at most the score window after its signal
        #: (Engine._score), so a shared bunkhouse address first seen on day 1 stopped counting
        #: on day 14 while the group still held its customers until day 30, and could not
        #: add up with the controller's collected wages found on day 23 (harder simulated
        #: population of 2026-12, labour ring ring-7-0261). FIN-2014-A008's red flag is the
        #: sharing, which lasts as long as the group does, not the day it was first seen.
        #: The money groups' windows (7 days) are within the cap: unchanged.
        self.episode_ms = {
            det.code: (
                min(det.window_ms, score_window_ms // 2) if score_window_ms else det.window_ms
            )
            for det in (shared, beneficiary, wages)
            if det is not None
        }
        #: code -> (fewest, most) distinct customers (or senders) that make a finding
        self.limits = {
            det.code: (
                (det.params["min_senders"], det.params["max_senders"])
                if det.code == BENEFICIARY
                else (det.params["min_customers"], det.params["max_customers"])
            )  # WAGE_FORWARDING, like SHARED_IDENTIFIER, counts customers
            for det in (shared, beneficiary, wages)
            if det is not None
        }
        #: outgoing channels that can make a beneficiary, forwarded-wage or payee link
        self._out_channels = frozenset(
            (beneficiary.channels if beneficiary else set())
            | (wages.channels if wages else set())
            | (PAYEE_CHANNELS if payee_window_ms else set())
        )

    @classmethod
    def from_detectors(
        cls,
        detectors: tuple[Detector, ...],
        payee_window_ms: int = 0,
        payee_max: int = 0,
        score_window_ms: int = 0,
    ) -> Linker:
        by_code = {d.code: d for d in detectors}
        return cls(
            by_code.get(SHARED),  # type: ignore[arg-type]
            by_code.get(BENEFICIARY),  # type: ignore[arg-type]
            by_code.get(WAGES),  # type: ignore[arg-type]
            by_code.get(COLLECTOR),  # type: ignore[arg-type]
            by_code.get(CONTROLLER),  # type: ignore[arg-type]
            payee_window_ms,
            payee_max,
            score_window_ms,
        )

    @classmethod
    def from_rules(cls, rules: RuleSet) -> Linker:
        """The links of a rule set: its cross-account indicators, and payee groups when it
        turns network cases on (kept for its score window, capped at its network size);
        findings renewed within its score window (``episode_ms``)."""
        on = rules.networks.enabled
        return cls.from_detectors(
            rules.detectors,
            rules.score_window_ms if on else 0,
            rules.networks.max_customers if on else 0,
            rules.score_window_ms,
        )

    def owner_detector(self, code: str) -> Detector | None:
        """The detector a money group's finding (``code``) is recorded under on its owner."""
        return self._owner_dets.get(code)

    @property
    def enabled(self) -> bool:
        return self.payee_window_ms > 0 or any(
            d is not None for d in (self.shared, self.beneficiary, self.wages)
        )

    def detector(self, code: str) -> Detector | None:
        return self._by_code.get(code)

    def links(self, ev: PaymentEvent, partition: int = -1, slots: dict | None = None) -> list[Link]:
        """Every link ``ev`` carries (unthrottled). ``slots`` (read only) supply the payday
        a forwarded wage is measured against."""
        out = [
            self._link(ev, kind, value, partition)
            for kind, attr in self._fields
            if (value := getattr(ev, attr))
        ]
        if ev.direction == "CREDIT":
            return out + self._owned(None, ev, partition)
        forwarded = self._forwarded(slots, ev, partition, record=False)
        out += forwarded or self.links_to_beneficiary(ev, partition)
        return out + self._paid(None, ev, partition)

    @staticmethod
    def _link(ev: PaymentEvent, kind: str, ident: str, partition: int, role: int = MEMBER) -> Link:
        return Link(kind, ident, ev.institution_id, ev.account_id, ev.customer_id,
                    ev.event_id, ev.event_time, partition, role)  # fmt: skip

    def due(self, slots: dict, ev: PaymentEvent, duplicate: bool, partition: int = -1):
        """The links of ``ev`` to report now; records them in the account's ``slots``.

        A redelivered event (``duplicate``) re-reports all its links without touching the
        state: the first delivery's links may have been lost in the crash that caused it, and
        the identifier side is idempotent. Beneficiary links are never throttled: each is a
        separate transfer and the group counts senders, so the cost is one link per transfer.

        This runs on every payment, and almost every payment carries the same holder
        identifiers as one of the account's last two sets (card-present payments carry no
        device hash, online ones do), reported recently. ``LINK_DUE_SLOT`` keeps, for each of
        those two sets, a fingerprint and the event time the first identifier in it falls due,
        so that case costs one tuple hash and a few comparisons. The fingerprint is Python's
        ``hash`` (salted per process): after a restart it never matches, and the exact check
        below runs once and writes a new one. A stale fingerprint can only send the event down
        the exact path, never skip a due link.
        """
        if duplicate:
            return self.links(ev, partition, slots)
        out: list[Link] = []
        if self._holder_ids is not None:
            ids = self._holder_ids(ev)
            fp = hash(ids)
            mark = slots.get(LINK_DUE_SLOT)
            t = ev.event_time
            if mark is None:
                due = self._holder_links(slots, ev, ids, out, partition)
                slots[LINK_DUE_SLOT] = [fp, due[0], 0, 0]
            elif not ((fp == mark[0] and t < mark[1]) or (fp == mark[2] and t < mark[3])):
                due = self._holder_links(slots, ev, ids, out, partition)
                # The newest identifier set first, the one before it second; none when the
                # reported identifiers were trimmed (the other set's may be due again now).
                older = (mark[2:] if fp == mark[0] else mark[:2]) if due[1] else [0, 0]
                slots[LINK_DUE_SLOT] = [fp, due[0], *older]
        if ev.direction == "CREDIT":
            if ev.payroll and self.wages is not None and ev.amount_usd > 0:
                slots[PAYDAY_SLOT] = [ev.event_time, ev.amount_usd]  # a payday (WAGE_FORWARDING)
            elif ev.channel in self._out_channels:
                out.extend(self._owned(slots, ev, partition))
        elif ev.channel in self._out_channels:
            # One typology per piece of evidence (processors/attribution.py): a transfer that
            # is a forwarded wage is labour evidence and does not also count as a payment
            # to a smuggling collector.
            forwarded = self._forwarded(slots, ev, partition, record=True)
            if forwarded:
                out.extend(forwarded)
            elif self.beneficiary is not None:
                out.extend(self.links_to_beneficiary(ev, partition))
            if self.payee_window_ms:
                out.extend(self._paid(slots, ev, partition))
        return out

    def _paid(self, slots: dict | None, ev: PaymentEvent, partition: int) -> list[Link]:
        """A transfer out: a payer paying the same account again within the payee window
        joins that payee's group (network cases only), at most once per refresh period per
        payee (``slots`` None: a redelivery, re-sent whenever the account is a member).

        Only recurring payers join: earnings handed over every few days, wages every payday,
        fees by instalment. Someone paying a friend or a shop once is not linked to the
        friend's other payers (on the harder simulated population, co-payers of one popular
        friend with a weak flag each made a labour case when every payer joined).
        """
        if (
            not self.payee_window_ms
            or ev.payroll
            or not ev.counterparty_account
            or ev.channel not in PAYEE_CHANNELS
        ):
            return []
        ident = _digest(ev.counterparty_institution or "", ev.counterparty_account)
        t = ev.event_time
        key = ident[:16]
        if slots is None:  # a redelivery: what the first delivery may have sent
            return [self._link(ev, PAYEE_KIND, ident, partition)]
        paid = slots.get(PAYEE_SLOT)
        if paid is None:
            paid = slots[PAYEE_SLOT] = {}
        entry = paid.get(key)  # [event time last reported (0: never), previous payment]
        if entry is None:
            entry = paid[key] = [0, 0]
        previous, entry[1] = entry[1], t
        if len(paid) > MAX_PAYEES:
            newest = sorted(paid.items(), key=lambda kv: kv[1][1])[-MAX_PAYEES:]
            slots[PAYEE_SLOT] = dict(newest)
        if not previous or abs(t - previous) > self.payee_window_ms:
            return []  # a first payment (in the window): not yet a recurring payer
        if entry[0] and t - entry[0] < self.payee_refresh_ms:
            return []
        entry[0] = t
        return [self._link(ev, PAYEE_KIND, ident, partition)]

    def _owned(self, slots: dict | None, ev: PaymentEvent, partition: int) -> list[Link]:
        """A credit that could be one of a money group's transfers: the receiving account
        reports itself as the owner of its own beneficiary digest, at most once per refresh
        period per group kind (``slots`` None: unthrottled, a redelivery).

        That is how a group keyed by a digest of (institution, account), as the senders'
        payments name their beneficiary, learns which of our accounts it is: the digest of
        the account's own institution and account id. It matches when the senders' feeds name
        the beneficiary by the same pseudonymous account id its own institution publishes
        (always within one institution; across institutions when they share the keyed hash).
        """
        if ev.payroll or ev.amount_usd < 0:
            return []
        out: list[Link] = []
        mark = None if slots is None else slots.get(OWNER_SLOT)
        if mark is not None and len(mark) < 3:
            mark.append(0)
        ident = ""
        b, w = self.beneficiary, self.wages
        for i, kind, channels, refresh in (
            (0, BENEFICIARY_KIND, b.channels if b else (), self.owner_refresh_ms.get(BENEFICIARY)),
            (1, WAGE_KIND, w.channels if w else (), self.owner_refresh_ms.get(WAGES)),
            (2, PAYEE_KIND, PAYEE_CHANNELS if self.payee_window_ms else (), self.payee_refresh_ms),
        ):
            if ev.channel not in channels or refresh is None:
                continue
            if i == 0 and ev.amount_usd >= self._max_usd:
                continue
            if slots is not None:
                if mark is None:
                    mark = slots[OWNER_SLOT] = [0, 0, 0]
                if mark[i] and ev.event_time - mark[i] < refresh:
                    continue
                mark[i] = ev.event_time
            ident = ident or _digest(ev.institution_id, ev.account_id)
            out.append(self._link(ev, kind, ident, partition, OWNER))
        return out

    def _holder_links(
        self, slots: dict, ev: PaymentEvent, ids: tuple, out: list[Link], partition: int
    ) -> tuple[int, bool]:
        """Append the holder-identifier links due now to ``out`` and note them as reported.

        Returns the event time the first of these identifiers falls due again, and whether
        the account's record of reported identifiers kept all of them (False: the oldest were
        trimmed, and are due at once if they come back)."""
        reported = slots.get(LINK_SLOT)
        if reported is None:
            reported = slots[LINK_SLOT] = {}
        t = ev.event_time
        next_due = t + self.refresh_ms
        for (kind, _attr), value in zip(self._fields, ids, strict=True):
            if not value:
                continue
            key = kind[0] + value[:16]  # short: it is in every account's state
            last = reported.get(key)
            if last is None or t - last >= self.refresh_ms:
                reported[key] = last = t
                out.append(self._link(ev, kind, value, partition))
            next_due = min(next_due, last + self.refresh_ms)
        if len(reported) > MAX_REPORTED:
            newest = sorted(reported.items(), key=lambda kv: kv[1])[-MAX_REPORTED:]
            slots[LINK_SLOT] = dict(newest)
            return next_due, False
        return next_due, True

    def _forwarded(
        self, slots: dict | None, ev: PaymentEvent, partition: int, record: bool
    ) -> list[Link]:
        """A wage forwarded: a transfer out soon after the account's last payroll credit.

        Only ``record`` (a first delivery) notes a new payday in ``slots``."""
        w = self.wages
        if w is None:
            return []
        if ev.direction == "CREDIT":
            if record and ev.payroll and slots is not None and ev.amount_usd > 0:
                slots[PAYDAY_SLOT] = [ev.event_time, ev.amount_usd]
            return []
        if ev.payroll or not ev.counterparty_account or ev.channel not in w.channels:
            return []
        if ev.purpose in BILL_PURPOSES:
            return []  # rent or a bill paid after payday is not a wage handed on
        payday = (slots or {}).get(PAYDAY_SLOT)
        if not payday:
            return []
        paid_at, wage = payday
        if not 0 <= ev.event_time - paid_at <= w.forward_ms:
            return []
        if ev.amount_usd < w.params["min_share"] * wage:
            return []
        ident = _digest(ev.counterparty_institution or "", ev.counterparty_account)
        return [self._link(ev, WAGE_KIND, ident, partition)]

    def links_to_beneficiary(self, ev: PaymentEvent, partition: int = -1) -> list[Link]:
        b = self.beneficiary
        if (
            b is None
            or ev.direction != "DEBIT"
            or ev.payroll
            or not ev.counterparty_account
            or ev.channel not in b.channels
            or ev.amount_usd >= self._max_usd
        ):
            return []
        ident = _digest(ev.counterparty_institution or "", ev.counterparty_account)
        return [self._link(ev, BENEFICIARY_KIND, ident, partition)]


class LinkIndex:
    """Applies links to identifier groups and decides which accounts to signal."""

    def __init__(self, linker: Linker) -> None:
        self.linker = linker
        #: whether the last link added was a redelivery (network cases re-send theirs)
        self.replayed = False

    def add(self, group: IdentifierGroup, link: Link) -> list[Signal]:
        """Apply ``link`` to its group; the signals it causes.

        Owners (the receiving account of a money group) are members that never count
        towards the group's senders; once the group is a finding they are signalled with the
        owner's code (COLLECTOR_FAN_IN, WAGES_COLLECTED). A REPORT only updates the summary
        of a member already in the group (processors/networks.py)."""
        self.replayed = False
        if link.kind == PAYEE_KIND:
            self._add_payee(group, link)
            return []
        code = link.code
        det = self.linker.detector(code)
        if det is None:
            return []  # the indicator is disabled in the rule set now in force
        need, most = self.linker.limits[code]
        member_key = f"{link.institution_id}|{link.account_id}"
        members = group.members
        member = members.get(member_key)
        t = link.event_time
        if link.role == REPORT:
            self.replayed = member is not None and member[7] == link.event_id
            if member is not None and not self.replayed:
                member[6], member[7] = link.summary, link.event_id
                member[4] = link.partition
            return []
        owner = link.role == OWNER
        replay = member is not None and member[2] == link.event_id
        self.replayed = replay
        joined = member is None
        if member is None:
            role = OWNER if owner else MEMBER
            members[member_key] = [t, link.customer_id, link.event_id, t, link.partition, role,
                                   link.summary, ""]  # fmt: skip
        else:
            member[4] = link.partition
            if owner:
                member[5] = OWNER  # an owner stays one (it also pays itself, say)
            if t >= member[0] and not replay:
                member[0], member[2] = t, link.event_id
                member[6] = link.summary
            if t < member[3]:
                member[3] = t
        if t > group.watermark:
            group.watermark = t
        horizon = group.watermark - det.window_ms
        if code == SHARED:
            horizon -= self.linker.refresh_ms  # last-seen is only reported every refresh_ms
        owner_horizon = group.watermark - det.window_ms - self.linker.owner_refresh_ms.get(code, 0)
        for m in members.values():  # a loop, not any(): most groups have one member
            if m[0] < (owner_horizon if m[5] == OWNER else horizon):
                for key in [
                    k
                    for k, m in members.items()
                    if m[0] < (owner_horizon if m[5] == OWNER else horizon)
                ]:
                    del members[key]
                if member_key not in members:
                    return []  # a link older than the window: nothing to add
                break
        cap = int(most) + 1  # one over the maximum is enough to know the group is too big
        senders = [k for k, m in members.items() if m[5] != OWNER]
        if len(senders) > cap:
            keep = sorted(senders, key=lambda k: members[k][0])[-cap:]
            keep += [k for k, m in members.items() if m[5] == OWNER]
            group.members = members = {k: members[k] for k in keep}
            if member_key not in members:
                return []
            senders = [k for k, m in members.items() if m[5] != OWNER]
        if len(senders) < need:  # fewer accounts than the customers it takes (most groups)
            group.since = 0
            return []
        customers = {(k.split("|", 1)[0], members[k][1]) for k in senders}
        n = len(customers)
        if n < need or n > most:
            group.since = 0
            return []
        if group.since == 0 or group.watermark - group.since >= self.linker.episode_ms[code]:
            # A new episode (the first, or the group still qualifies an episode later):
            # everyone is signalled, so the finding keeps counting while it lasts.
            group.since = group.watermark
            targets = list(members)
        elif replay:
            targets = list(members)
        elif joined:
            targets = [member_key]
        else:
            return []
        out = []
        for key in targets:
            if members[key][5] == OWNER:
                owner_det = self.linker.owner_detector(code)
                if owner_det is not None:
                    out.append(self._signal(owner_det, link, group, key, n, need, owner=True))
            else:
                out.append(self._signal(det, link, group, key, n, need))
        return out

    def _add_payee(self, group: IdentifierGroup, link: Link) -> None:
        """A payee group: members and its owner, for network cases only (no finding, no
        signal). Bounded like the others: trimmed to the window (plus the refresh period),
        at most the network size plus one payer."""
        linker = self.linker
        if not linker.payee_window_ms:
            return
        member_key = f"{link.institution_id}|{link.account_id}"
        members = group.members
        member = members.get(member_key)
        t = link.event_time
        if link.role == REPORT:
            self.replayed = member is not None and member[7] == link.event_id
            if member is not None and not self.replayed:
                member[6], member[7], member[4] = link.summary, link.event_id, link.partition
            return
        self.replayed = member is not None and member[2] == link.event_id
        if member is None:
            role = OWNER if link.role == OWNER else MEMBER
            members[member_key] = [t, link.customer_id, link.event_id, t, link.partition, role,
                                   link.summary, ""]  # fmt: skip
        else:
            member[4] = link.partition
            if link.role == OWNER:
                member[5] = OWNER
            if t >= member[0] and not self.replayed:
                member[0], member[2], member[6] = t, link.event_id, link.summary
            member[3] = min(member[3], t)
        group.watermark = max(group.watermark, t)
        horizon = group.watermark - linker.payee_window_ms - linker.payee_refresh_ms
        if any(m[0] < horizon for m in members.values()):
            for key in [k for k, m in members.items() if m[0] < horizon]:
                del members[key]
        payers = [k for k, m in members.items() if m[5] != OWNER]
        cap = linker.payee_max + 1
        if len(payers) > cap:
            keep = sorted(payers, key=lambda k: members[k][0])[-cap:]
            keep += [k for k, m in members.items() if m[5] == OWNER]
            group.members = {k: members[k] for k in keep}

    def _signal(
        self, det: Detector, link: Link, group: IdentifierGroup, member_key: str, n: int,
        need: float, owner: bool = False,
    ) -> Signal:  # fmt: skip
        institution, account = member_key.split("|", 1)
        _last, customer, event_id, first, partition = group.members[member_key][:5]
        group_det = self.linker.detector(link.code) if owner else det
        assert group_det is not None
        return Signal(
            signal_id=_digest(det.code, link.key, member_key, str(group.since)),
            code=det.code,
            institution_id=institution,
            account_id=account,
            customer_id=customer,
            event_time=group.watermark,
            measured=float(n),
            threshold=float(need),
            window_seconds=group_det.window_seconds,
            explanation=explain(group_det, link.kind, link.ident, n, need, owner),
            event_ids=[event_id],
            first_event_time=first,
            partition=partition,
        )


def explain(det: Detector, kind: str, ident: str, n: int, need: float, owner: bool = False) -> str:
    window = days(det.params["window_hours"])
    if kind == WAGE_KIND:
        p = det.params
        whom = "this account" if owner else f"one account (hash {ident[:8]}…)"
        return (
            f"{n} different customers each sent at least {p['min_share']:.0%} of a wage on to "
            f"{whom} within {p['forward_hours']:g} hours of payday, within {window}; "
            f"threshold {need:g}."
        )
    if kind == BENEFICIARY_KIND:
        whom = "this account" if owner else f"one beneficiary (hash {ident[:8]}…)"
        return (
            f"{n} different customers sent transfers under US${det.params['max_amount_usd']:,g} "
            f"each to {whom} within {window}; threshold {need:g}."
        )
    return (
        f"{n} customers' accounts share one {LABELS.get(kind, kind)} (keyed hash "
        f"{ident[:8]}…) within {window}; threshold {need:g}."
    )
