"""Indicator 8: many small incoming payments from many payers (FINTRAC 2016: typically < $100).

Buyers of commercial sex pay through P2P and online payment services; the account that
collects shows a stream of small credits from people who never pay it twice.
"""

from __future__ import annotations

from processors.indicators.base import Detector, days
from processors.model import IndicatorHit, PaymentEvent, Typology
from processors.state import id_digest

_INCOMING_CHANNELS = frozenset({"P2P", "CARD_NOT_PRESENT", "ACH", "WIRE", "REMITTANCE", "OTHER"})


class ManySmallPayers(Detector):
    code = "MANY_SMALL_PAYERS"
    name = "Many small payments from many payers"
    source = "FINTRAC-2016-OA003"
    typologies = (Typology.SEX_TRAFFICKING,)
    defaults = {"window_hours": 168, "max_amount_usd": 100, "min_payments": 10, "min_payers": 5}

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        return direction == "CREDIT" and channel in _INCOMING_CHANNELS

    def accepts(self, ev: PaymentEvent) -> bool:
        return (
            ev.direction == "CREDIT"
            and ev.channel in _INCOMING_CHANNELS
            and 0 <= ev.amount_usd < self.params["max_amount_usd"]
            and (ev.counterparty_account is not None or ev.counterparty_name_hash is not None)
            and not ev.payroll
        )

    def entry(self, ev: PaymentEvent) -> list:
        # A digest of the payer (processors/state.py: format 5): payers are only counted.
        payer = ev.counterparty_account or ev.counterparty_name_hash
        return [ev.event_time, ev.event_id, id_digest(payer or "")]

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        p = self.params
        if len(slot) < p["min_payments"]:
            return None
        payers = len({e[2] for e in slot})
        if payers < p["min_payers"]:
            return None
        return self.slot_hit(
            ev,
            payers,
            p["min_payers"],
            slot,
            f"{len(slot)} incoming payments under ${p['max_amount_usd']:g} from {payers} distinct "
            f"payers within {days(p['window_hours'])}; thresholds {p['min_payments']:g} payments "
            f"from {p['min_payers']:g} payers.",
        )
