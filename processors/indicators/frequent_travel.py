"""Indicator 3: frequent air, rail or bus tickets, possibly for several people.

Source: FINTRAC-2016-OA003 (tickets, several passengers); FIN-2020-A008 (movement).

Victims are moved between cities, and the trafficker buys their tickets; FIN-2020-A008 adds
frequent movement visible in transaction locations. Tickets are airline (MCC 3000-3299,
4511), rail (4112) and bus (4131) charges; passengers are the keyed passenger-name hashes the
event carries (airline addendum data), the holder included.

Cities count only for tickets bought in person (not card-not-present): an online ticket
carries the carrier's head-office city, which says nothing about where the buyer is.

Numbers. None from the source. Suggested, as in the reference: ``min_passengers`` 2 distinct
passengers, or tickets bought in ``min_cities`` 3 cities, within 7 days. Added here, also
suggested: at least ``min_tickets`` 2 tickets ("frequent"), so one family booking alone does
not fire. Couples and families still can, which is why the default weights are low.
"""

from __future__ import annotations

from processors.indicators.base import Detector, days
from processors.model import IndicatorHit, PaymentEvent, Typology

TICKET_MCCS = frozenset((*range(3000, 3300), 4511, 4112, 4131))


class FrequentTravel(Detector):
    code = "FREQUENT_TRAVEL"
    name = "Frequent tickets, several passengers or cities"
    source = "FINTRAC-2016-OA003"
    typologies = (
        Typology.SEX_TRAFFICKING,
        Typology.LABOUR_TRAFFICKING,
        Typology.HUMAN_SMUGGLING,
    )
    defaults = {"window_hours": 168, "min_tickets": 2, "min_passengers": 2, "min_cities": 3}

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        return mcc in TICKET_MCCS and direction == "DEBIT"

    def accepts(self, ev: PaymentEvent) -> bool:
        return ev.mcc in TICKET_MCCS and ev.direction == "DEBIT"

    def entry(self, ev: PaymentEvent) -> list:
        city = ""
        if ev.channel != "CARD_NOT_PRESENT" and ev.city:
            city = f"{ev.city.strip().lower()}|{ev.region or ''}|{ev.country or ''}"
        return [ev.event_time, ev.event_id, list(ev.passenger_name_hashes), city]

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        p = self.params
        if len(slot) < p["min_tickets"]:
            return None
        passengers = {h for e in slot for h in e[2]}
        cities = {e[3] for e in slot if e[3]}
        span = days(p["window_hours"])
        ids = [e[1] for e in slot]
        tail = f"({len(slot)} tickets, {len(passengers)} passengers, {len(cities)} cities)"
        if len(passengers) >= p["min_passengers"]:
            return self.hit(
                ev,
                len(passengers),
                p["min_passengers"],
                ids,
                f"Air, rail or bus tickets for {len(passengers)} distinct passengers within "
                f"{span} {tail}; threshold {p['min_passengers']:g} passengers.",
            )
        if len(cities) >= p["min_cities"]:
            return self.hit(
                ev,
                len(cities),
                p["min_cities"],
                ids,
                f"Air, rail or bus tickets bought in {len(cities)} distinct cities within "
                f"{span} {tail}; threshold {p['min_cities']:g} cities.",
            )
        return None
