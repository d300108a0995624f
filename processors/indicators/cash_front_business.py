"""Indicator 13: cash-intensive front business, steady cash in and no payroll (FIN-2020-A008).

Illicit massage parlours, nail salons and restaurants bank the takings in cash, week after
week, yet pay no wages by ACH: the workers are not paid, or are paid in cash off the books.
Only BUSINESS accounts are considered. Payroll is an outgoing payment flagged ``payroll`` or
with ISO 20022 purpose SALA or PAYR.

State: one bucket per calendar week (Monday 00:00 UTC) of the window (5 at most): cash
deposited, payroll paid (integer US cents), and a few evidence ids.

Numbers. None from the source ("steady", "no payroll"). Suggested, after the reference's
"ratio over 30-90 days": a window of the current week and the 4 before (``window_hours`` 840,
29 to 35 days, so a monthly payroll always falls inside), cash deposits of at least
``min_cash_usd`` $5,000 in it, made in at least ``min_weeks`` 4 of its 5 weeks, and payroll
at most ``max_payroll_ratio`` 5% of the cash deposited (nothing, or a token amount).
"""

from __future__ import annotations

from processors.indicators.common import WEEK_MS, BucketDetector, pays_payroll
from processors.model import IndicatorHit, PaymentEvent, Typology

CASH, PAYROLL = 2, 3  # bucket fields after [week start, ids]
_CASH_IN = frozenset({"CASH_DEPOSIT", "ATM"})


class CashFrontBusiness(BucketDetector):
    code = "CASH_FRONT_BUSINESS"
    name = "Business with steady cash deposits and no payroll"
    source = "FIN-2020-A008"
    typologies = (Typology.SEX_TRAFFICKING, Typology.LABOUR_TRAFFICKING)
    defaults = {
        "window_hours": 840,
        "min_cash_usd": 5000,
        "min_weeks": 4,
        "max_payroll_ratio": 0.05,
    }
    n_values = 2
    ids_per_bucket = 4
    bucket_ms = WEEK_MS

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._weeks = max(1, round(self.params["window_hours"] / 168))

    def horizon_buckets(self) -> int:
        return self._weeks

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        return account_type == "BUSINESS" and (direction != "CREDIT" or channel in _CASH_IN)

    def accepts(self, ev: PaymentEvent) -> bool:
        if ev.account_type != "BUSINESS":
            return False
        if ev.direction == "CREDIT":
            return ev.channel in _CASH_IN
        return pays_payroll(ev)

    def accumulate(self, bucket: list, ev: PaymentEvent) -> bool:
        cents = int(max(ev.amount_usd, 0.0) * 100 + 0.5)
        if ev.direction == "CREDIT":
            bucket[CASH] += cents
            return True
        bucket[PAYROLL] += cents
        return False

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        if ev.direction != "CREDIT":
            return None  # a payroll payment can only end the pattern
        p = self.params
        cash = sum(b[CASH] for b in slot) / 100
        if cash < p["min_cash_usd"]:
            return None
        weeks = sum(1 for b in slot if b[CASH] > 0)
        if weeks < p["min_weeks"]:
            return None
        payroll = sum(b[PAYROLL] for b in slot) / 100
        if round(payroll / cash, 4) > round(p["max_payroll_ratio"], 4):
            return None
        return self.evidence(
            ev,
            slot,
            round(cash, 2),
            p["min_cash_usd"],
            f"Business account deposited ${cash:.2f} in cash in {weeks} of the last "
            f"{self._weeks} weeks and paid ${payroll:.2f} in payroll ({payroll / cash:.1%} of "
            f"the cash); thresholds ${p['min_cash_usd']:.0f} in cash in {p['min_weeks']:g} "
            f"weeks, payroll at most {p['max_payroll_ratio']:.0%} of it.",
        )
