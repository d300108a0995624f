"""Indicator 12: funnel account (FIN-2020-A008, FIN-2023-Alert001, FATF 2018).

Cash is deposited into one account in several places, then taken out soon after somewhere
else. Traffickers use it to move proceeds across regions without wires.
"""

from __future__ import annotations

from processors.indicators.base import HOUR_MS, Detector, days
from processors.model import CASH_CHANNELS, IndicatorHit, PaymentEvent, Typology


class FunnelAccount(Detector):
    code = "FUNNEL_ACCOUNT"
    name = "Funnel account"
    source = "FIN-2020-A008"
    typologies = (
        Typology.SEX_TRAFFICKING,
        Typology.LABOUR_TRAFFICKING,
        Typology.HUMAN_SMUGGLING,
    )
    defaults = {"window_hours": 168, "min_regions": 2, "withdraw_within_hours": 72}

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        return channel in CASH_CHANNELS

    def accepts(self, ev: PaymentEvent) -> bool:
        return ev.channel in CASH_CHANNELS and ev.region is not None

    def entry(self, ev: PaymentEvent) -> list:
        return [ev.event_time, ev.event_id, ev.direction == "CREDIT", f"{ev.country}|{ev.region}"]

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        if ev.direction != "DEBIT":
            return None
        p = self.params
        here = f"{ev.country}|{ev.region}"
        deposits = [e for e in slot if e[2] and e[0] <= ev.event_time]
        regions = {e[3] for e in deposits}
        if len(regions) < p["min_regions"] or here in regions:
            return None
        if ev.event_time - deposits[-1][0] > p["withdraw_within_hours"] * HOUR_MS:
            return None
        return self.hit(
            ev,
            len(regions),
            p["min_regions"],
            [e[1] for e in deposits] + [ev.event_id],
            f"Cash deposited in {len(regions)} regions within {days(p['window_hours'])}, then "
            f"withdrawn in another region within {p['withdraw_within_hours']:g} hours of the "
            f"last deposit; threshold {p['min_regions']:g} regions.",
        )
