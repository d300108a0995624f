"""Indicator 2: hotel or motel charges in several cities within days (FINTRAC 2016, 2021).

Victims of sex trafficking are moved between cities to meet demand and avoid detection; the
trace in card data is lodging in rotating cities. One business trip touches one or two.
"""

from __future__ import annotations

from processors.indicators.base import Detector, days
from processors.model import IndicatorHit, PaymentEvent, Typology


def is_lodging(mcc: int | None) -> bool:
    return mcc is not None and (mcc == 7011 or 3501 <= mcc <= 3799)


class HotelMultiCity(Detector):
    code = "HOTEL_MULTI_CITY"
    name = "Hotel charges in several cities"
    source = "FINTRAC-2016-OA003"
    typologies = (Typology.SEX_TRAFFICKING, Typology.LABOUR_TRAFFICKING)
    defaults = {"window_hours": 168, "min_cities": 3}

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        return direction == "DEBIT" and is_lodging(mcc)

    def accepts(self, ev: PaymentEvent) -> bool:
        return ev.direction == "DEBIT" and is_lodging(ev.mcc)

    def entry(self, ev: PaymentEvent) -> list:
        city = f"{(ev.city or '?').strip().lower()}|{ev.region or ''}|{ev.country or ''}"
        return [ev.event_time, ev.event_id, city]

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        first_by_city: dict[str, str] = {}
        for _, event_id, city in slot:
            first_by_city.setdefault(city, event_id)
        need = self.params["min_cities"]
        if len(first_by_city) < need:
            return None
        return self.slot_hit(
            ev,
            len(first_by_city),
            need,
            slot,
            f"Hotel or motel charges in {len(first_by_city)} distinct cities within "
            f"{days(self.params['window_hours'])} ({len(slot)} charges); "
            f"threshold {need:g} cities.",
        )
