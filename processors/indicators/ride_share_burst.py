"""Indicator 4: taxis, limousines, car rental in short timelines.

Source: FINTRAC-2016-OA003; FIN-2014-A008 (a business renting vehicles regularly).

Victims are driven to hotels and "calls"; FIN-2014-A008 adds businesses renting vehicles
regularly. Taxi, limousine and ride-share (MCC 4121) and car rental (7512, 7513, 3351-3441)
are ordinary for many people, so the red flag is a burst against the account's own habit,
not a count.

State: one bucket per UTC day for the window plus the baseline (8 weeks + 7 days = 63 at
most), each holding a count and a few evidence ids; no raw events.

Numbers. None from the source ("short timelines"). Suggested: fires when the count of the
last 7 days reaches max(``min_count`` 6, ``factor`` 3 x the mean weekly count over the
``baseline_weeks`` 8 weeks before).
"""

from __future__ import annotations

from processors.indicators.common import BaselineBurst
from processors.model import PaymentEvent, Typology

RIDE_MCCS = frozenset((4121, 7512, 7513, *range(3351, 3442)))


class RideShareBurst(BaselineBurst):
    code = "RIDE_SHARE_BURST"
    name = "Burst of taxi, ride-share or car-rental payments"
    source = "FINTRAC-2016-OA003"
    typologies = (Typology.SEX_TRAFFICKING, Typology.LABOUR_TRAFFICKING)
    what = "taxi, limousine, ride-share or car-rental payments"
    defaults = {"window_hours": 168, "baseline_weeks": 8, "min_count": 6, "factor": 3}

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        return mcc in RIDE_MCCS and direction == "DEBIT"

    def accepts(self, ev: PaymentEvent) -> bool:
        return ev.mcc in RIDE_MCCS and ev.direction == "DEBIT"
