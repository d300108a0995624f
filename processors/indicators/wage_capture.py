"""Indicator 15: several workers' wages paid into one account (FIN-2014-A008, FATF 2018).

Exploiters of forced labour collect their victims' pay. Payroll credits carry the worker they
are for (ISO 20022 ultimate creditor); an account receiving the wages of three or more
different people in one pay cycle is the footprint.
"""

from __future__ import annotations

from processors.indicators.base import Detector, days
from processors.model import IndicatorHit, PaymentEvent, Typology


class WageCapture(Detector):
    code = "WAGE_CAPTURE"
    name = "Several workers' wages into one account"
    source = "FIN-2014-A008"
    typologies = (Typology.LABOUR_TRAFFICKING,)
    defaults = {"window_hours": 168, "min_workers": 3}

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        return direction == "CREDIT"

    def accepts(self, ev: PaymentEvent) -> bool:
        return ev.direction == "CREDIT" and ev.payroll

    def entry(self, ev: PaymentEvent) -> list:
        return [ev.event_time, ev.event_id, ev.ultimate_party_hash or "holder"]

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        workers = {e[2] for e in slot}
        need = self.params["min_workers"]
        if len(workers) < need:
            return None
        return self.slot_hit(
            ev,
            len(workers),
            need,
            slot,
            f"Payroll credits for {len(workers)} different workers into one account within "
            f"{days(self.params['window_hours'])}; threshold {need:g}.",
        )
