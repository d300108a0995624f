"""Indicator 6: card payments at adult-service venues after hours.

Source: FINTRAC-2016-OA003.

Massage parlours (MCC 7297), health and beauty spas (7298), beauty and nail salons (7230),
dating and escort services (7273) and bars and night clubs, strip clubs included (5813), paid
for at night. Local time comes from the event's UTC offset.

Numbers. From the source: the night, 22:00-06:00 local (FINTRAC 2016 for night-time cash;
the reference's default for these venues, which lack opening hours). Suggested:
``min_count`` 3 such payments within 7 days. Bars at night are the noisiest of the codes;
an institution can drop 5813 from ``mccs``.
"""

from __future__ import annotations

from processors.indicators.base import Detector, days
from processors.indicators.common import CARD_CHANNELS, mcc_set
from processors.model import IndicatorHit, PaymentEvent, Typology


class AfterHoursAdultServices(Detector):
    code = "AFTER_HOURS_ADULT_SERVICES"
    name = "Night-time card payments at massage, spa, salon, escort or bar venues"
    source = "FINTRAC-2016-OA003"
    typologies = (Typology.SEX_TRAFFICKING,)
    defaults = {
        "window_hours": 168,
        "min_count": 3,
        "night_start_hour": 22,
        "night_end_hour": 6,
        "mccs": ["7297", "7298", "7230", "7273", "5813"],
    }

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._mccs = mcc_set(self.params["mccs"], "mccs")
        start, end = int(self.params["night_start_hour"]), int(self.params["night_end_hour"])
        self._night_hours = frozenset(
            h for h in range(24) if (h >= start or h < end if start > end else start <= h < end)
        )

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        return mcc in self._mccs and direction == "DEBIT" and channel in CARD_CHANNELS

    def accepts(self, ev: PaymentEvent) -> bool:
        return (
            ev.mcc in self._mccs
            and ev.direction == "DEBIT"
            and ev.channel in CARD_CHANNELS
            and ev.local_hour in self._night_hours
        )

    def entry(self, ev: PaymentEvent) -> list:
        return [ev.event_time, ev.event_id, ev.mcc]

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        p = self.params
        need = p["min_count"]
        if len(slot) < need:
            return None
        mccs = ", ".join(str(m) for m in sorted({e[2] for e in slot}))
        return self.slot_hit(
            ev,
            len(slot),
            need,
            slot,
            f"{len(slot)} card payments at massage, spa, salon, escort or bar venues (MCC "
            f"{mccs}) between {int(p['night_start_hour']):02d}:00 and "
            f"{int(p['night_end_hour']):02d}:00 local time within {days(p['window_hours'])}; "
            f"threshold {need:g}.",
        )
