"""What every indicator shares: its identity, its parameters and its bounded slice of state.

Each detector owns one list in the account state (its "slot") holding only the events it cares
about, trimmed to its window and capped in length. Most events touch no slot at all, which
keeps the per-event cost to a few attribute checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Final

from processors.model import TRANSFER_CHANNELS, IndicatorHit, PaymentEvent, Typology

if TYPE_CHECKING:
    from processors.intel import IntelIndex

HOUR_MS: Final = 3_600_000
MAX_SLOT_ENTRIES: Final = 256


class Detector:
    code: ClassVar[str]
    name: ClassVar[str]
    source: ClassVar[str]
    typologies: ClassVar[tuple[Typology, ...]]
    #: Parameter defaults; the rule set may override any of them (and nothing else).
    defaults: ClassVar[dict] = {"window_hours": 168}
    #: Whether the detector consults the shared intelligence feed (processors/intel.py).
    uses_intel: ClassVar[bool] = False
    #: Codes whose hits this one explains when both rest on the same events: those then do
    #: not score (processors/attribution.py, rule 1). Declared by the more specific finding.
    explains: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **params) -> None:
        self.params = {**self.defaults, **params}
        self.window_ms = int(self.params["window_hours"] * HOUR_MS)
        self.window_seconds = self.window_ms // 1000
        self.intel: IntelIndex | None = None

    def with_intel(self, index: IntelIndex | None) -> Detector:
        """A copy consulting ``index``: the engine hands each of its copies the index, so a
        rule set's detectors are never mutated and two engines (say, the backtest's and a
        test's) can hold different indexes. Built from the same parameters, so the copy
        derives the same settings."""
        clone = self.__class__(**self.params)
        clone.intel = index
        return clone

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        """A static prefilter: False only if :meth:`accepts` is False for *every* event with
        these four attributes (whatever its amount, time or identifiers).

        The engine asks once per distinct combination and keeps, per combination, the tuple of
        detectors that can take such an event (a dispatch table), so a payment visits under two
        detectors on average instead of twenty. ``accepts`` stays the exact test. The
        answer may only depend on the detector's parameters and its intelligence index being
        set (never on the index's contents, which change while the engine runs). True is
        always correct, just slower.
        """
        return True

    def accepts(self, ev: PaymentEvent) -> bool:
        raise NotImplementedError

    def entry(self, ev: PaymentEvent) -> list:
        """The compact record of ``ev`` kept in the slot; element 0 is always event time."""
        return [ev.event_time, ev.event_id]

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        raise NotImplementedError

    def observe(self, slot: list[list], ev: PaymentEvent, watermark: int) -> IndicatorHit | None:
        slot.append(self.entry(ev))
        if len(slot) > 1 and slot[-1][0] < slot[-2][0]:
            slot.sort(key=lambda e: e[0])
        horizon = watermark - self.window_ms
        if slot[0][0] < horizon:
            # The slot is in time order, so what expired is a prefix: on a busy account one
            # or two entries per payment, where rebuilding the list cost the whole window.
            cut = 1
            while cut < len(slot) and slot[cut][0] < horizon:
                cut += 1
            del slot[:cut]
        if len(slot) > MAX_SLOT_ENTRIES:
            del slot[: len(slot) - MAX_SLOT_ENTRIES]
        if not slot:
            return None
        hit = self.evaluate(slot, ev)
        if hit is not None and not hit.last_event_time:  # slot_hit() sets them itself
            wanted = set(hit.event_ids)
            times = [e[0] for e in slot if e[1] in wanted]
            hit.first_event_time = min(times, default=ev.event_time)
            hit.last_event_time = max(times, default=ev.event_time)
        return hit

    def slot_hit(
        self, ev: PaymentEvent, measured: float, threshold: float, slot: list[list], text: str
    ) -> IndicatorHit:
        """A hit whose evidence is every entry of the slot. Its first and last times are the
        slot's ends (observe keeps it in time order), which saves looking every id up again:
        a busy account's slot holds the whole window and such a hit fires on each payment."""
        hit = self.hit(ev, measured, threshold, [e[1] for e in slot], text)
        hit.first_event_time = slot[0][0]
        hit.last_event_time = slot[-1][0]
        return hit

    def hit(
        self, ev: PaymentEvent, measured: float, threshold: float, event_ids: list[str], text: str
    ) -> IndicatorHit:
        return IndicatorHit(
            code=self.code,
            source=self.source,
            explanation=text,
            window_seconds=self.window_seconds,
            measured=float(measured),
            threshold=float(threshold),
            event_ids=event_ids,
            detected_event_time=ev.event_time,
        )


class CrossAccountDetector(Detector):
    """An indicator seen only across accounts (processors.links groups the links and
    ``Engine.apply_signal`` records the finding): it takes no per-account event at all, and
    is a Detector only so the rule set validates, enables and weights it like the others."""

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        return False

    def accepts(self, ev: PaymentEvent) -> bool:
        return False

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        return None

    def check_group_size(self, low: str, high: str) -> None:
        if self.params[high] < self.params[low]:
            raise ValueError(f"{high}: must not be below {low}")

    def check_channels(self) -> frozenset[str]:
        unknown = sorted(set(self.params["channels"]) - TRANSFER_CHANNELS)
        if unknown:
            raise ValueError(f"channels: {', '.join(unknown)} not transfer channels")
        return frozenset(self.params["channels"])


def days(window_hours: float) -> str:
    d = window_hours / 24
    if d >= 1:
        return f"{d:g} day" if d == 1 else f"{d:g} days"
    return f"{window_hours:g} hours"
