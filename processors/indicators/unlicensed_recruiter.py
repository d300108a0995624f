"""Indicator 16: payments to unlicensed recruitment, visa or student agencies.

Source: FIN-2014-A008; FIN-2020-A008.

Forced-labour victims are charged recruitment and visa fees by agencies that hold no licence,
and start their work in debt. The counterparty (``counterparty.account_id``) or the merchant
(``merchant_id``) of an outgoing payment is matched against ``recruiters`` in the rule set:
agencies missing from the licence register, or named by authorities (empty by default).

Numbers. From the source: a watchlist match. Suggested: ``min_count`` 1 payment within 14
days (the score window, so a fee paid before the wages arrive still counts).
"""

from __future__ import annotations

from processors.indicators.base import Detector, days
from processors.model import IndicatorHit, PaymentEvent, Typology


class UnlicensedRecruiter(Detector):
    code = "UNLICENSED_RECRUITER"
    name = "Payments to an unlicensed recruiter or visa agency"
    source = "FIN-2014-A008"
    typologies = (Typology.LABOUR_TRAFFICKING,)
    defaults = {"window_hours": 336, "min_count": 1, "recruiters": []}

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._ids = frozenset(self.params["recruiters"])

    def accepts(self, ev: PaymentEvent) -> bool:
        ids = self._ids
        return (
            bool(ids)
            and ev.direction == "DEBIT"
            and (ev.counterparty_account in ids or ev.merchant_id in ids)
        )

    def entry(self, ev: PaymentEvent) -> list:
        payee = ev.counterparty_account if ev.counterparty_account in self._ids else ev.merchant_id
        return [ev.event_time, ev.event_id, payee, round(max(ev.amount_usd, 0.0), 2)]

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        need = self.params["min_count"]
        if len(slot) < need:
            return None
        payees = len({e[2] for e in slot})
        total = sum(e[3] for e in slot)
        return self.hit(
            ev,
            len(slot),
            need,
            [e[1] for e in slot],
            f"{len(slot)} payments (${total:,.2f}) to {payees} recruitment or visa agencies on "
            f"the unlicensed-recruiter watchlist within {days(self.params['window_hours'])}; "
            f"threshold {need:g}.",
        )
