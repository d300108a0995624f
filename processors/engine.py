"""Account state + one event -> new state, indicator hits and alerts.

This is the whole detection step. The streaming worker calls it per event with the state it
keeps in a changelog-backed table; the backtest calls it with states in a dict. Nothing here
knows about Kafka, Faust or wall clocks beyond the ``now_ms`` it is given for ``detected_at``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from processors import feedback
from processors.attribution import attribute, names_a_crime
from processors.intel import IntelIndex
from processors.links import Signal
from processors.model import IndicatorHit, PaymentEvent, Typology
from processors.rules import RuleSet
from processors.state import (
    PAYMENTS,
    SIGNALS,
    AccountState,
    alert_entry,
    alert_record,
    id_digest,
)

MAX_DISPATCH_KEYS: Final = 4096  # distinct (account type, direction, channel, mcc) remembered


@dataclass(slots=True)
class StepResult:
    # Read-only for callers: a result may be the shared QUIET below.
    hits: Sequence[IndicatorHit] = ()
    alerts: Sequence[dict] = ()
    duplicate: bool = False


#: What most steps return: a new event that raised no hit. One shared instance (most events
#: raise nothing, and a result per event was a twentieth of the backtest); its fields are
#: empty tuples so that a caller appending to it fails loudly instead of leaking into others.
QUIET: Final = StepResult()


def alert_id(ev: PaymentEvent, typology: Typology, rule_version: str) -> str:
    key = f"{ev.institution_id}|{ev.account_id}|{typology.value}|{rule_version}|{ev.event_id}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class Engine:
    def __init__(self, rules: RuleSet, intel: IntelIndex | None = None) -> None:
        self.rules = rules
        # The shared intelligence feed, if any: detectors that consult it get their own copy
        # holding the index, so the rule set's detectors are never mutated.
        self.intel = intel
        self._detectors = tuple(
            d.with_intel(intel) if intel is not None and d.uses_intel else d
            for d in rules.detectors
        )
        # (account type, direction, channel, mcc) -> the detectors that can accept such an
        # event, in rule-set order (Detector.could_accept). Twenty accepts() calls per event
        # were a fifth of the backtest's time; an event now visits 1.6 of 21 on average.
        # Bounded: channel and account type are free text on the wire.
        self._dispatch: dict[tuple, tuple] = {}
        #: code -> the codes its hits explain (processors/attribution.py, rule 1)
        self.explains: dict[str, frozenset[str]] = {
            d.code: d.explains for d in rules.detectors if d.explains
        }

    def candidates(self, ev: PaymentEvent) -> tuple:
        """The detectors whose static prefilter admits ``ev`` (accepts() still decides)."""
        key = (ev.account_type, ev.direction, ev.channel, ev.mcc)
        dets = self._dispatch.get(key)
        if dets is None:
            dets = tuple(d for d in self._detectors if d.could_accept(*key))
            if len(self._dispatch) < MAX_DISPATCH_KEYS:
                self._dispatch[key] = dets
        return dets

    @staticmethod
    def _admit(
        state: AccountState,
        source: int,
        trigger_id: str,
        event_time: int,
        partition: int,
        offset: int,
    ) -> StepResult | None:
        """Remember a trigger (payment or signal) and advance the watermark: None for a new
        one. A replay (at or below the input's last applied offset, or an id among the recent
        ones) has its effect in the state already: its result re-emits the alert it raised
        (same id, so the case queue drops the copy) in case the first send was lost."""
        digest = id_digest(trigger_id)
        if state.is_replay(source, partition, offset) or state.has_recent(source, digest):
            again = [alert_record(e) for e in state.alerts.values() if e[1] == trigger_id]
            return StepResult(alerts=again, duplicate=True)
        if event_time > state.watermark:
            state.watermark = event_time
            if state.suppressions:
                feedback.prune_suppressions(state)  # bounded: ended suppressions go
        state.remember(source, digest, event_time, partition, offset)
        return None

    def step(
        self,
        state: AccountState,
        ev: PaymentEvent,
        now_ms: int,
        partition: int = -1,
        offset: int = -1,
    ) -> StepResult:
        """Apply one payment. ``partition`` and ``offset`` are its input position (the
        worker's; -1 offline), by which a redelivery is recognised in constant space."""
        redelivered = self._admit(state, PAYMENTS, ev.event_id, ev.event_time, partition, offset)
        if redelivered is not None:
            return redelivered
        dets = self._dispatch.get((ev.account_type, ev.direction, ev.channel, ev.mcc))
        if dets is None:
            dets = self.candidates(ev)
        hits: list[IndicatorHit] | None = None
        for det in dets:
            if not det.accepts(ev):
                continue
            hit = det.observe(state.slot_to_change(det.code), ev, state.watermark)
            if hit is not None:
                hit.weight = max(self.rules.weights[det.code].values(), default=0.0)
                state.hits[det.code] = hit
                if hits is None:
                    hits = []
                hits.append(hit)
        if hits is None:
            return QUIET
        return StepResult(hits, self._score(state, ev, hits, now_ms))

    def _score(
        self, state: AccountState, ev: PaymentEvent, new_hits: list[IndicatorHit], now_ms: int
    ) -> list[dict]:
        """Re-score the typologies ``new_hits`` are attributed to; the alerts that fire.

        Attribution (processors/attribution.py): explained evidence does not count, and a hit
        of an indicator weighing on several typologies scores for one of them only, the one
        the account's specific evidence points to, so one pattern raises one alert.
        """
        rules = self.rules
        alerts: list[dict] = []
        # A hit counts while its own window still covers it (and never past the score window),
        # so two unrelated red flags weeks apart do not add up to one pattern.
        expired = [
            code
            for code, h in state.hits.items()
            if state.watermark - h.detected_event_time
            > min(rules.score_window_ms, h.window_seconds * 1000)
        ]
        for code in expired:
            del state.hits[code]
        # Indicators an analyst called a false positive on this account score nothing here
        # until the suppression ends (processors/feedback.py); they are still detected.
        muted = feedback.suppressed_codes(state, ev.event_time)
        active = [h for code, h in state.hits.items() if code not in muted]
        by_typology = attribute(active, rules, self.explains)
        new_codes = {hit.code for hit in new_hits}
        touched = [
            t
            for t, contributing in by_typology.items()
            if any(hit.code in new_codes for hit, _ in contributing)
        ]
        for typology in sorted(touched, key=lambda t: t.value):
            contributing = by_typology[typology]
            score = round(sum(w for _, w in contributing), 6)
            spec = rules.typologies[typology]
            if score < spec.threshold:
                continue
            if not names_a_crime(contributing, rules):
                continue  # a shared address and a traveller's hotels: a household
            previous = state.alerts.get(typology.value)
            if previous is not None and ev.event_time < previous[2]:
                continue  # the open case for this pattern covers it (cooldown)
            record = self._alert(ev, typology, score, contributing, now_ms)
            state.alerts[typology.value] = alert_entry(
                record, ev.event_id, ev.event_time + rules.cooldown_ms
            )
            alerts.append(record)
        return alerts

    def _alert(
        self,
        ev: PaymentEvent,
        typology: Typology,
        score: float,
        contributing: list[tuple[IndicatorHit, float]],
        now_ms: int,
    ) -> dict:
        spec = self.rules.typologies[typology]
        indicators = []
        evidence: dict[str, None] = {}
        for hit, weight in sorted(contributing, key=lambda hw: hw[0].code):
            rec = hit.to_record()
            rec["weight"] = weight
            indicators.append(rec)
            evidence.update(dict.fromkeys(hit.event_ids))
        hits = [hit for hit, _ in contributing]
        return {
            "alert_id": alert_id(ev, typology, self.rules.version),
            "institution_id": ev.institution_id,
            "account_id": ev.account_id,
            "customer_id": ev.customer_id,
            "typology": typology.value,
            "score": score,
            "severity": self.rules.severity(score).value,
            "indicators": indicators,
            "evidence_event_ids": list(evidence),
            "first_event_time": min(h.first_event_time for h in hits),
            "last_event_time": max(h.last_event_time for h in hits),
            "detected_at": now_ms,
            "sar_key_term": spec.sar_key_term,
            "sar_field": spec.sar_field,
            "rule_set_version": self.rules.version,
            "network": None,  # an account's own alert (processors/networks.py sets it)
        }

    def apply_signal(
        self,
        state: AccountState,
        signal: Signal,
        now_ms: int,
        partition: int = -1,
        offset: int = -1,
    ) -> StepResult:
        """Record a cross-account finding (processors.links) on the account and score it.

        The signal plays the part of the triggering event: its position on the signals topic
        and its id are remembered like a payment's, so a redelivered signal (or one the
        cross-account hop sends again after its own replay) is a no-op that re-emits the
        alert it raised (same id, derived from the signal id), exactly as ``step`` does.
        The signal's time (the newest payment in the group) advances the account's watermark
        like a payment would, so a per-account hit from weeks ago has expired by the time a
        ring is found and does not add up with it. A signal for an indicator the rule set in
        force disables is remembered and otherwise ignored.
        """
        redelivered = self._admit(
            state, SIGNALS, signal.signal_id, signal.event_time, partition, offset
        )
        if redelivered is not None:
            return redelivered
        if signal.case:
            return self._network_case(state, signal, now_ms)
        weights = self.rules.weights.get(signal.code)
        det = next((d for d in self.rules.detectors if d.code == signal.code), None)
        if weights is None or det is None:
            return QUIET
        hit = IndicatorHit(
            code=signal.code,
            source=det.source,
            explanation=signal.explanation,
            window_seconds=signal.window_seconds,
            measured=float(signal.measured),
            threshold=float(signal.threshold),
            event_ids=list(signal.event_ids),
            detected_event_time=signal.event_time,
            first_event_time=signal.first_event_time or signal.event_time,
            last_event_time=signal.event_time,
            weight=max(weights.values(), default=0.0),
        )
        state.hits[signal.code] = hit
        return StepResult([hit], self._score(state, signal_event(signal), [hit], now_ms))

    def _network_case(self, state: AccountState, signal: Signal, now_ms: int) -> StepResult:
        """A network case (processors/networks.py) for which this account is the subject:
        raised as the account's alert unless the account's own open case for the typology
        covers it (cooldown), and then covering the account's own alerts for the typology
        in turn, so one account carries one alert per pattern."""
        case = signal.case
        typology = case["typology"]
        if case.get("rule_set_version") != self.rules.version or typology not in {
            t.value for t in self.rules.typologies
        }:
            return QUIET  # raised under a rule set no longer in force
        previous = state.alerts.get(typology)
        if previous is not None and signal.event_time < previous[2]:
            return QUIET
        record = dict(case)
        record["detected_at"] = now_ms
        state.alerts[typology] = alert_entry(
            record, signal.signal_id, signal.event_time + self.rules.cooldown_ms
        )
        return StepResult(alerts=[record])


def signal_event(signal: Signal) -> PaymentEvent:
    """The stand-in trigger event of a signal: scoring reads its id, time and account."""
    return PaymentEvent(
        event_id=signal.signal_id,
        event_time=signal.event_time,
        utc_offset_minutes=0,
        institution_id=signal.institution_id,
        account_id=signal.account_id,
        customer_id=signal.customer_id,
        account_type="PERSONAL",
        direction="DEBIT",
        channel="OTHER",
        amount_minor=0,
        currency="USD",
        amount_usd=0.0,
    )
