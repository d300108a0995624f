"""Indicator 20: amounts kept just under reporting or record-keeping limits.

The limits are the ones the sources state: US CTR $10,000 and Canada's LCTR CAD 10,000 for
cash; the US MSB record-keeping limit of $3,000 for remittances, wires and money orders
(FIN-2014-A008, FIN-2023-Alert001). Each limit is compared in its own currency where it is
defined in one (CAD for LCTR), otherwise in USD at the reference rate.
"""

from __future__ import annotations

from processors.indicators.base import Detector, days
from processors.model import CASH_CHANNELS, IndicatorHit, PaymentEvent, Typology

_MSB_CHANNELS = frozenset({"REMITTANCE", "WIRE", "PREPAID_LOAD"})


class Structuring(Detector):
    code = "STRUCTURING"
    name = "Amounts just under reporting thresholds"
    source = "FIN-2014-A008"
    typologies = (
        Typology.SEX_TRAFFICKING,
        Typology.LABOUR_TRAFFICKING,
        Typology.HUMAN_SMUGGLING,
    )
    defaults = {
        "window_hours": 168,
        "min_count": 3,
        "band_low": 0.90,
        "cash_limit_usd": 10_000,
        "cash_limit_cad": 10_000,
        "msb_limit_usd": 3_000,
    }

    def _limit(self, ev: PaymentEvent) -> tuple[float, float] | None:
        """(amount, limit) in the limit's own currency, or None if no limit applies."""
        p = self.params
        if ev.channel in CASH_CHANNELS:
            if ev.currency == "CAD":
                return ev.amount_minor / 100, p["cash_limit_cad"]
            return ev.amount_usd, p["cash_limit_usd"]
        if ev.channel in _MSB_CHANNELS:
            return ev.amount_usd, p["msb_limit_usd"]
        return None

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        return channel in CASH_CHANNELS or channel in _MSB_CHANNELS

    def accepts(self, ev: PaymentEvent) -> bool:
        pair = self._limit(ev)
        if pair is None:
            return False
        amount, limit = pair
        return self.params["band_low"] * limit <= amount < limit

    def entry(self, ev: PaymentEvent) -> list:
        return [ev.event_time, ev.event_id, round(self._limit(ev)[0], 2)]  # type: ignore[index]

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        p = self.params
        if len(slot) < p["min_count"]:
            return None
        return self.slot_hit(
            ev,
            len(slot),
            p["min_count"],
            slot,
            f"{len(slot)} amounts between {p['band_low']:.0%} and 100% of a reporting or "
            f"record-keeping limit within {days(p['window_hours'])} "
            f"(largest {max(e[2] for e in slot):,.2f}); threshold {p['min_count']:g}.",
        )
