"""Indicator 16: payments to unlicensed recruitment, visa or student agencies.

Source: FIN-2014-A008; FIN-2020-A008.

Forced-labour victims are charged recruitment and visa fees by agencies that hold no licence,
and start their work in debt. The counterparty (``counterparty.account_id``) or the merchant
(``merchant_id``) of an outgoing payment is matched against ``recruiters`` in the rule set:
agencies missing from the licence register, or named by authorities (empty by default), and
against the shared intelligence feed (processors/intel.py): a merchant (kind ``merchant``) or
counterparty account (kind ``account``: the keyed hash publishers put in counterparty.account_id)
listed with category ``unlicensed_recruiter``, while the event's time is before its expiry.

Numbers. From the source: a watchlist match. Suggested: ``min_count`` 1 payment within 14
days (the score window, so a fee paid before the wages arrive still counts).
"""

from __future__ import annotations

from processors.indicators.base import Detector, days
from processors.intel import UNLICENSED_RECRUITER
from processors.model import IndicatorHit, PaymentEvent, Typology


class UnlicensedRecruiter(Detector):
    code = "UNLICENSED_RECRUITER"
    name = "Payments to an unlicensed recruiter or visa agency"
    source = "FIN-2014-A008"
    typologies = (Typology.LABOUR_TRAFFICKING,)
    uses_intel = True
    defaults = {"window_hours": 336, "min_count": 1, "recruiters": []}

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._ids = frozenset(self.params["recruiters"])
        self._last: tuple[PaymentEvent | None, tuple[str, str] | None] = (None, None)

    def _listed(self, ev: PaymentEvent) -> tuple[str, str] | None:
        """(payee, where listed) or None; cached for entry()."""
        if self._last[0] is ev:
            return self._last[1]
        found: tuple[str, str] | None = None
        ids = self._ids
        if ev.counterparty_account is not None and ev.counterparty_account in ids:
            found = (ev.counterparty_account, "rule set")
        elif ev.merchant_id is not None and ev.merchant_id in ids:
            found = (ev.merchant_id, "rule set")
        elif self.intel is not None:
            index, t = self.intel, ev.event_time
            e = index.match("account", ev.counterparty_account, t)
            payee = ev.counterparty_account
            if e is None or e.category != UNLICENSED_RECRUITER:
                e, payee = index.match_merchant(ev.merchant_id, t), ev.merchant_id
            if e is not None and payee is not None and e.category == UNLICENSED_RECRUITER:
                found = (payee, e.describe())
        self._last = (ev, found)
        return found

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        return direction == "DEBIT" and (bool(self._ids) or self.intel is not None)

    def accepts(self, ev: PaymentEvent) -> bool:
        if ev.direction != "DEBIT" or (not self._ids and self.intel is None):
            return False
        return self._listed(ev) is not None

    def entry(self, ev: PaymentEvent) -> list:
        payee, where = self._listed(ev) or (ev.merchant_id, "rule set")
        return [ev.event_time, ev.event_id, payee, round(max(ev.amount_usd, 0.0), 2), where]

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        need = self.params["min_count"]
        if len(slot) < need:
            return None
        payees = len({e[2] for e in slot})
        total = sum(e[3] for e in slot)
        where = sorted({e[4] if len(e) > 4 else "rule set" for e in slot})
        return self.slot_hit(
            ev,
            len(slot),
            need,
            slot,
            f"{len(slot)} payments (${total:,.2f}) to {payees} recruitment or visa agencies on "
            f"the unlicensed-recruiter watchlist (listed by: {'; '.join(where)}) within "
            f"{days(self.params['window_hours'])}; threshold {need:g}.",
        )
