"""Indicator 7: cash deposits or withdrawals late at night, 22:00-06:00 local (FINTRAC 2016).

Proceeds of commercial sex are cash earned at night and banked at ATMs before morning. Local
time comes from the event's UTC offset, not the worker's clock.
"""

from __future__ import annotations

from processors.indicators.base import Detector, days
from processors.model import CASH_CHANNELS, IndicatorHit, PaymentEvent, Typology


class LateNightCash(Detector):
    code = "LATE_NIGHT_CASH"
    name = "Late-night cash activity"
    source = "FINTRAC-2016-OA003"
    typologies = (Typology.SEX_TRAFFICKING,)
    defaults = {"window_hours": 168, "min_count": 3, "night_start_hour": 22, "night_end_hour": 6}

    def __init__(self, **params) -> None:
        super().__init__(**params)
        start, end = int(self.params["night_start_hour"]), int(self.params["night_end_hour"])
        self._night_hours = frozenset(
            h for h in range(24) if (h >= start or h < end if start > end else start <= h < end)
        )

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        return channel in CASH_CHANNELS

    def accepts(self, ev: PaymentEvent) -> bool:
        return ev.channel in CASH_CHANNELS and ev.local_hour in self._night_hours

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        need = self.params["min_count"]
        if len(slot) < need:
            return None
        p = self.params
        return self.slot_hit(
            ev,
            len(slot),
            need,
            slot,
            f"{len(slot)} cash deposits or withdrawals between {int(p['night_start_hour']):02d}:00 "
            f"and {int(p['night_end_hour']):02d}:00 local time within {days(p['window_hours'])}; "
            f"threshold {need:g}.",
        )
