"""Indicator 14: payroll far too low for the business's takings, and no tax paid (FIN-2014).

FIN-2014-A008 and FATF (2018): a business whose revenue grows with no matching wages, and no
payroll tax or insurance deductions, may be running on forced labour. Only BUSINESS accounts
are considered. Revenue is every incoming payment that is not payroll (card settlements,
cash deposits, transfers); payroll is an outgoing payment flagged ``payroll`` or with ISO
20022 purpose SALA or PAYR; a tax payment is a debit at MCC 9311 (tax payments) or with
purpose TAXS.

State: one bucket per calendar week (Monday 00:00 UTC) over the tax look-back (15 at most):
revenue and payroll (integer US cents), tax payments counted, and a few evidence ids.

Numbers. None from the source ("far too low"). Suggested: over a window of the current week
and the 4 before (``window_hours`` 840, 29 to 35 days, so a monthly payroll always falls
inside), with revenue seen in the account for at least ``min_history_weeks`` 5 weeks, revenue
of at least ``min_revenue_usd`` $20,000 and payroll below ``max_payroll_ratio`` 2% of it
(labour costs run at 20-35% of revenue in the trades concerned; 5% fired on an ordinary
restaurant of the 120-day simulated traffic), and no tax payment in the
last ``tax_lookback_weeks`` 15 weeks (long enough to see a quarterly payment).
"""

from __future__ import annotations

from processors.indicators.common import (
    PAYROLL_PURPOSES,
    WEEK_MS,
    BucketDetector,
    pays_payroll,
)
from processors.model import IndicatorHit, PaymentEvent, Typology

REVENUE, PAYROLL, TAX = 2, 3, 4  # bucket fields after [week start, ids]


def pays_tax(ev: PaymentEvent) -> bool:
    return ev.mcc == 9311 or ev.purpose == "TAXS"


class LowPayroll(BucketDetector):
    code = "LOW_PAYROLL"
    name = "Payroll far below revenue, no tax payments"
    source = "FIN-2014-A008"
    typologies = (Typology.LABOUR_TRAFFICKING,)
    defaults = {
        "window_hours": 840,
        "min_history_weeks": 5,
        "min_revenue_usd": 20000,
        "max_payroll_ratio": 0.02,
        "tax_lookback_weeks": 15,
    }
    n_values = 3
    ids_per_bucket = 3
    bucket_ms = WEEK_MS

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._weeks = max(1, round(self.params["window_hours"] / 168))
        self._horizon = max(self._weeks, int(self.params["tax_lookback_weeks"]))

    def horizon_buckets(self) -> int:
        return self._horizon

    def evidence_buckets(self) -> int:
        return self._weeks

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        return account_type == "BUSINESS"

    def accepts(self, ev: PaymentEvent) -> bool:
        if ev.account_type != "BUSINESS":
            return False
        if ev.direction == "CREDIT":
            return not ev.payroll and ev.purpose not in PAYROLL_PURPOSES
        return pays_payroll(ev) or pays_tax(ev)

    def accumulate(self, bucket: list, ev: PaymentEvent) -> bool:
        cents = int(max(ev.amount_usd, 0.0) * 100 + 0.5)
        if ev.direction == "CREDIT":
            bucket[REVENUE] += cents
            return True
        if pays_tax(ev):
            bucket[TAX] += 1
        else:
            bucket[PAYROLL] += cents
        return True

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        p = self.params
        today = self.today(slot)
        if today - slot[0][0] < (p["min_history_weeks"] - 1) * WEEK_MS:
            return None
        if any(b[TAX] for b in slot):
            return None
        window = slot[-self._weeks :]
        window = [b for b in window if b[0] > today - self._weeks * WEEK_MS]
        revenue = sum(b[REVENUE] for b in window) / 100
        if revenue < p["min_revenue_usd"]:
            return None
        payroll = sum(b[PAYROLL] for b in window) / 100
        # Compared as the rounded percentages the alert shows, so what it says is what it did.
        share, limit = round(payroll / revenue * 100, 2), round(p["max_payroll_ratio"] * 100, 2)
        if share >= limit:
            return None
        return self.evidence(
            ev,
            window,
            share,
            limit,
            f"Business account took in ${revenue:.2f} over the last {self._weeks} weeks but "
            f"paid ${payroll:.2f} in payroll ({share:g}% of revenue), and no taxes in "
            f"{self._horizon} weeks; threshold: payroll below {limit:g}% of revenue, with "
            f"revenue of at least ${p['min_revenue_usd']:.0f} and no tax payment.",
        )
