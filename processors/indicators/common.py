"""Helpers shared by several indicators: MCC lists, amount tests, and aggregate slots.

Detectors that compare an account with its own history (a burst over a baseline, a share of
spend against last quarter's share, a business's revenue against its payroll) cannot keep raw
events for months: the slot would outgrow its cap and the state its changelog. They keep one
aggregate bucket per UTC day or calendar week instead, so a slot never holds more entries than
the days or weeks of its horizon, whatever the traffic.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Final

from processors.currency import exponent
from processors.indicators.base import HOUR_MS, MAX_SLOT_ENTRIES, Detector
from processors.model import IndicatorHit, PaymentEvent

DAY_MS: Final = 24 * HOUR_MS
WEEK_MS: Final = 7 * DAY_MS
MONDAY_MS: Final = 4 * DAY_MS  # 1970-01-05, a Monday: weekly buckets start on Mondays, 00:00 UTC
CARD_CHANNELS: Final = frozenset({"CARD_PRESENT", "CARD_NOT_PRESENT"})
PAYROLL_PURPOSES: Final = frozenset({"SALA", "PAYR"})  # ISO 20022 ExternalPurpose1Code
#: Evidence ids an aggregate hit carries at most (the newest ones).
MAX_EVIDENCE_IDS: Final = 20


def mcc_set(values: Iterable[str], key: str) -> frozenset[int]:
    """Four-digit MCC strings from the rule set as ints; a bad one names the parameter."""
    out = set()
    for value in values:
        if not (isinstance(value, str) and len(value) == 4 and value.isdigit()):
            raise ValueError(f"{key}: {value!r} is not a four-digit MCC")
        out.add(int(value))
    return frozenset(out)


def is_multiple_of(ev: PaymentEvent, units: int) -> bool:
    """Whether the amount is a whole multiple of ``units`` of its own currency (e.g. $3)."""
    return ev.amount_minor % (units * 10 ** exponent(ev.currency)) == 0


def pays_payroll(ev: PaymentEvent) -> bool:
    return ev.direction == "DEBIT" and (ev.payroll or ev.purpose in PAYROLL_PURPOSES)


def whole_days(window_hours: float) -> int:
    return max(1, round(window_hours / 24))


def pct(value: float) -> str:
    return f"{value:.1f}%"


class BucketDetector(Detector):
    """A detector whose slot holds one aggregate bucket per UTC day (or week) of its horizon.

    A bucket is ``[start_ms, [event_time, event_id, event_time, event_id, ...], value, ...]``:
    the values are what :meth:`accumulate` adds up; the flat id list keeps at most
    ``ids_per_bucket`` of the events :meth:`accumulate` marks as evidence (the newest).
    Buckets that start more than ``horizon_buckets`` before the newest one are dropped, and
    late events that would land in one are ignored. ``bucket_ms`` is a day, or a week (Monday
    00:00 UTC) for detectors that see most of an account's payments and must be cheap.
    """

    n_values: ClassVar[int] = 1
    ids_per_bucket: ClassVar[int] = 4
    bucket_ms: ClassVar[int] = DAY_MS

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._zeros = (0,) * self.n_values

    def horizon_buckets(self) -> int:
        raise NotImplementedError

    def evidence_buckets(self) -> int:
        """How many of the newest buckets :meth:`evaluate` can name evidence from. Older
        buckets only feed a baseline: their ids are dropped when a new bucket opens, so a
        long baseline costs a few numbers a bucket in the stored state, not a list of ids."""
        return self.horizon_buckets()

    def accumulate(self, bucket: list, ev: PaymentEvent) -> bool:
        """Add ``ev`` to the bucket's values; return whether it is evidence worth naming."""
        raise NotImplementedError

    def observe(self, slot: list[list], ev: PaymentEvent, watermark: int) -> IndicatorHit | None:
        t = ev.event_time
        size = self.bucket_ms
        if slot and 0 <= t - slot[-1][0] < size:
            bucket = slot[-1]  # the common case: the newest bucket
        else:
            start = t - (t - MONDAY_MS) % size
            oldest = watermark - (watermark - MONDAY_MS) % size
            oldest -= (self.horizon_buckets() - 1) * size
            if start < oldest:
                return None
            if not slot or slot[-1][0] < start:
                bucket = [start, [], *self._zeros]
                slot.append(bucket)
                self._forget_old_evidence(slot, start)
            else:  # a late event for an earlier bucket: rare, so a linear search is fine
                found = [b for b in slot if b[0] == start]
                bucket = found[0] if found else [start, [], *self._zeros]
                if not found:
                    slot.append(bucket)
                    slot.sort(key=lambda b: b[0])
            if slot[0][0] < oldest:
                slot[:] = [b for b in slot if b[0] >= oldest]
            if len(slot) > MAX_SLOT_ENTRIES:
                del slot[: len(slot) - MAX_SLOT_ENTRIES]
        if self.accumulate(bucket, ev):
            ids = bucket[1]
            ids.append(t)
            ids.append(ev.event_id)
            if len(ids) > 2 * self.ids_per_bucket:
                del ids[:2]
        return self.evaluate(slot, ev)

    def _forget_old_evidence(self, slot: list[list], newest: int) -> None:
        span = self.evidence_buckets()
        if span >= self.horizon_buckets():
            return
        cutoff = newest - (span - 1) * self.bucket_ms
        for b in slot:
            if b[0] >= cutoff:
                break
            if b[1]:
                b[1] = []

    def today(self, slot: list[list]) -> int:
        """Start of the newest bucket (the current event's, unless it came late)."""
        return slot[-1][0]

    def evidence(
        self,
        ev: PaymentEvent,
        buckets: Iterable[list],
        measured: float,
        threshold: float,
        text: str,
    ) -> IndicatorHit:
        """A hit naming the newest evidence events of ``buckets`` (and the trigger)."""
        pairs = sorted((t, i) for b in buckets for t, i in zip(b[1][::2], b[1][1::2], strict=True))
        pairs = pairs[-MAX_EVIDENCE_IDS:]
        ids = list(dict.fromkeys([e for _, e in pairs]))
        hit = self.hit(ev, measured, threshold, ids or [ev.event_id], text)
        times = [t for t, _ in pairs] or [ev.event_time]
        hit.first_event_time, hit.last_event_time = min(times), max(times)
        return hit


class BaselineBurst(BucketDetector):
    """Count of matching events in the last window against the account's own weekly mean.

    Fires when the count of the current window (``window_hours``, in whole UTC days up to the
    account's newest day) reaches ``max(min_count, factor x baseline)``, where the baseline is
    the mean weekly count over the ``baseline_weeks`` weeks before the window (weeks with no
    such event count as zero, so an account with no history needs ``min_count``).
    """

    what: str = "payments"
    ids_per_bucket = 8
    defaults = {"window_hours": 168, "baseline_weeks": 8, "min_count": 5, "factor": 3}

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._window_days = whole_days(self.params["window_hours"])
        self._baseline_days = int(self.params["baseline_weeks"] * 7)

    def horizon_buckets(self) -> int:
        return self._window_days + self._baseline_days

    def evidence_buckets(self) -> int:
        return self._window_days

    def accumulate(self, bucket: list, ev: PaymentEvent) -> bool:
        bucket[2] += 1
        return True

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        p = self.params
        start = self.today(slot) - (self._window_days - 1) * DAY_MS
        current = [b for b in slot if b[0] >= start]
        count = sum(b[2] for b in current)
        if count < p["min_count"]:
            return None
        weeks = self._baseline_days / 7
        baseline = sum(b[2] for b in slot if b[0] < start) / weeks
        need = round(max(p["min_count"], p["factor"] * baseline), 2)
        if count < need:
            return None
        return self.evidence(
            ev,
            current,
            count,
            need,
            f"{count} {self.what} in the last {self._window_days} days against a baseline of "
            f"{baseline:.2f} a week over the {p['baseline_weeks']:g} weeks before; threshold "
            f"{need:g} (the larger of {p['min_count']:g} and {p['factor']:g} x the baseline).",
        )
