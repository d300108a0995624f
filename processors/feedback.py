"""Analysts' dispositions flowing back into detection: false-positive suppression, precision.

An analyst closes each alert as CONFIRMED_SAR_FILED, VALUABLE or FALSE_POSITIVE. Two things
follow from that here, both plain Python so the worker and the backtest share them:

What an analyst expects from a FALSE_POSITIVE (the behaviour implemented below):

* "I looked at this account's hotel stays and night cash and they are innocent; do not show
  me the same thing again next week." So the alert's indicators stop counting toward every
  typology's score *on that account* for CB_FP_SUPPRESS_HOURS from the decision (0 turns
  suppression off). Hits are still detected and counted in the hit metrics: only scoring
  ignores them. Other accounts are untouched.
* "But if something new turns up, tell me." An indicator that was not on the alert still
  scores, and the typology's alert cooldown is lifted: the cooldown exists because an open
  case already covers further evidence, and a case closed as innocent covers nothing. New
  evidence alone must reach the threshold, since the muted indicators add nothing to it.
* "If I change my mind, the system follows." A later CONFIRMED_SAR_FILED or VALUABLE for the
  same alert lifts that alert's suppression (dispositions of an account arrive in order, on
  its partition). Both decisions are counted in the precision tally, as both were made.
* Activity from before the decision stays muted too (late or replayed payments of the
  period the analyst reviewed): the period has an end, not a start.

Suppression compares the payment's event time with decided_at + period, though decided_at is
a wall clock. That is acceptable because validation rejects events more than
CB_MAX_FUTURE_SKEW_S ahead of the wall clock and live payments arrive within minutes, so
the two clocks differ by the pipeline's lag, negligible against a period of days. In return
the step stays deterministic: a changelog restore, a redelivery or the backtest replaying
the same events decide the same way, and a backlog drained after an outage is judged by when
its payments happened rather than by when the worker caught up.

State stays bounded: a suppression is dropped once the account's event-time watermark passes
its end, at most MAX_SUPPRESSIONS are kept (the ones ending first go), and a redelivered
disposition is recognised like a payment (processors/state.py): by its offset on the
dispositions topic, or by its id among the account's few most recent ones.

Precision per typology and per indicator is (CONFIRMED_SAR_FILED + VALUABLE) / all, tallied
over the dispositions one process has applied; the fleet-wide figure comes from the counters
in Prometheus (ops/prometheus/rules.yml).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from processors.indicators import CATALOG
from processors.model import Typology
from processors.state import DISPOSITIONS, AccountState, id_digest
from processors.validation import InvalidEvent

CONFIRMED = "CONFIRMED_SAR_FILED"
VALUABLE = "VALUABLE"
FALSE_POSITIVE = "FALSE_POSITIVE"
OUTCOMES = (CONFIRMED, VALUABLE, FALSE_POSITIVE)
USEFUL = frozenset({CONFIRMED, VALUABLE})

MAX_SUPPRESSIONS = 64
HOUR_MS = 3_600_000

_REQUIRED = ("disposition_id", "alert_id", "institution_id", "account_id", "analyst_id")


@dataclass(frozen=True, slots=True)
class Disposition:
    """The fields of a disposition record that detection and metrics use (no note)."""

    disposition_id: str
    alert_id: str
    institution_id: str
    account_id: str
    typology: str
    indicator_codes: tuple[str, ...]
    outcome: str
    decided_at: int
    rule_set_version: str


def to_disposition(rec: dict[str, Any]) -> Disposition:
    """Validate a decoded record. Typology, outcome and codes become metric labels, so only
    the enums and the indicator catalog are accepted (bounded label values)."""
    for name in _REQUIRED:
        value = rec.get(name)
        if not isinstance(value, str) or not value:
            raise InvalidEvent("missing_field", f"{name} is missing or empty")
    typology = rec.get("typology")
    if typology not in Typology.__members__:
        raise InvalidEvent("invalid_field", f"typology {typology!r} is not a known typology")
    outcome = rec.get("outcome")
    if outcome not in OUTCOMES:
        raise InvalidEvent("invalid_field", f"outcome {outcome!r} is not one of {OUTCOMES}")
    codes = rec.get("indicator_codes")
    if not isinstance(codes, list) or not codes:
        raise InvalidEvent("missing_field", "indicator_codes is missing or empty")
    unknown = sorted({c for c in codes if c not in CATALOG}, key=str)
    if unknown:
        raise InvalidEvent("invalid_field", f"indicator_codes not in the catalog: {unknown[:5]}")
    decided_at = rec.get("decided_at")
    if not isinstance(decided_at, int) or isinstance(decided_at, bool) or decided_at <= 0:
        raise InvalidEvent("invalid_field", f"decided_at must be epoch ms, got {decided_at!r}")
    return Disposition(
        disposition_id=rec["disposition_id"],
        alert_id=rec["alert_id"],
        institution_id=rec["institution_id"],
        account_id=rec["account_id"],
        typology=str(typology),
        indicator_codes=tuple(dict.fromkeys(codes)),
        outcome=outcome,
        decided_at=decided_at,
        rule_set_version=str(rec.get("rule_set_version") or ""),
    )


def apply_disposition(
    state: AccountState,
    d: Disposition,
    suppress_hours: int,
    partition: int = -1,
    offset: int = -1,
) -> bool:
    """Fold one disposition into the account's state; False if it was applied before (a
    redelivery at or below the last applied offset, or a recent id sent again)."""
    digest = id_digest(d.disposition_id)
    if state.is_replay(DISPOSITIONS, partition, offset) or state.has_recent(DISPOSITIONS, digest):
        return False
    state.remember(DISPOSITIONS, digest, d.decided_at, partition, offset)
    if d.outcome == FALSE_POSITIVE:
        if suppress_hours > 0:
            until = d.decided_at + suppress_hours * HOUR_MS
            state.suppressions[d.alert_id] = [until, sorted(d.indicator_codes)]
        open_alert = state.alerts.get(d.typology)
        if open_alert is not None and open_alert[0] == d.alert_id:
            open_alert[2] = 0  # the case is closed as innocent: lift its cooldown
    else:
        state.suppressions.pop(d.alert_id, None)  # the analyst changed their mind
    prune_suppressions(state)
    return True


def prune_suppressions(state: AccountState) -> None:
    """Drop suppressions that ended before the account's newest event; keep at most
    MAX_SUPPRESSIONS (those ending last)."""
    sup = state.suppressions
    for alert in [a for a, (until, _codes) in sup.items() if until <= state.watermark]:
        del sup[alert]
    if len(sup) > MAX_SUPPRESSIONS:
        keep = sorted(sup.items(), key=lambda item: item[1][0])[-MAX_SUPPRESSIONS:]
        state.suppressions = dict(keep)


def suppressed_codes(state: AccountState, event_time: int) -> frozenset[str]:
    """Indicator codes that must not score for an event at ``event_time`` on this account."""
    if not state.suppressions:
        return frozenset()
    return frozenset(
        code for until, codes in state.suppressions.values() if event_time < until for code in codes
    )


@dataclass(frozen=True, slots=True)
class Precision:
    useful: int
    total: int

    @property
    def ratio(self) -> float:
        return self.useful / self.total if self.total else float("nan")


class PrecisionTally:
    """Dispositions counted per typology and per indicator: useful (SAR filed or valuable)
    versus all. One per process; a replayed disposition is not fed to it (the state knows)."""

    def __init__(self) -> None:
        self._typology: Counter[tuple[str, bool]] = Counter()
        self._indicator: Counter[tuple[str, bool]] = Counter()

    def record(self, d: Disposition) -> None:
        useful = d.outcome in USEFUL
        self._typology[d.typology, useful] += 1
        for code in d.indicator_codes:
            self._indicator[code, useful] += 1

    @staticmethod
    def _of(counts: Counter[tuple[str, bool]], key: str) -> Precision:
        useful, wasted = counts[key, True], counts[key, False]
        return Precision(useful, useful + wasted)

    def typology(self, typology: str) -> Precision:
        return self._of(self._typology, typology)

    def indicator(self, code: str) -> Precision:
        return self._of(self._indicator, code)
