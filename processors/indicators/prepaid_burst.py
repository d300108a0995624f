"""Indicator 10: frequent purchase and use of prepaid cards (FIN-2020-A008).

Prepaid cards move value without a bank account in the victim's or the trafficker's name.
A load is a debit at a stored-value merchant (MCC 6540) or an event on the PREPAID_LOAD
channel. Some people top up a travel or gift card every week, so the red flag is a burst
against the account's own habit.

State: one bucket per UTC day for the window plus the baseline (63 at most), each holding a
count and a few evidence ids; no raw events.

Numbers. None from the source ("frequent"). Suggested: fires when the loads of the last 7
days reach max(``min_count`` 4, ``factor`` 3 x the mean weekly count over the
``baseline_weeks`` 8 weeks before).
"""

from __future__ import annotations

from processors.indicators.common import BaselineBurst
from processors.model import PaymentEvent, Typology


class PrepaidBurst(BaselineBurst):
    code = "PREPAID_BURST"
    name = "Burst of prepaid card loads"
    source = "FIN-2020-A008"
    typologies = (Typology.SEX_TRAFFICKING, Typology.LABOUR_TRAFFICKING)
    what = "prepaid card loads"
    defaults = {"window_hours": 168, "baseline_weeks": 8, "min_count": 4, "factor": 3}

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        return (mcc == 6540 or channel == "PREPAID_LOAD") and direction == "DEBIT"

    def accepts(self, ev: PaymentEvent) -> bool:
        return (ev.mcc == 6540 or ev.channel == "PREPAID_LOAD") and ev.direction == "DEBIT"
