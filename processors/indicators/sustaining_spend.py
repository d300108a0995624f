"""Indicator 5: spending that sustains other people.

Source: FINTRAC-2016-OA003; FIN-2020-A008 (paying victims' housing, transport, food).

A trafficker feeds, clothes and houses the victims: frequent cheap fast food (MCC 5814), drug
stores (5912), lingerie and women's or family clothing (5631, 5651) and cosmetics (5977).
Everyone buys these, so the red flag is a shift: the share of card spend going to them
recently, against the account's own share over the months before.

State: one bucket per calendar week (Monday 00:00 UTC) over 4 + 13 weeks (17 at most),
holding the week's card spend and the part of it at these merchants (integer US cents), their
count, and a few evidence ids. No raw events. Every card payment is accepted (the share needs
the denominator), so weekly buckets keep the common case to one addition into the newest one.

Numbers. None from the source. Suggested, after the reference's "30-day share well above the
90-day baseline", in whole weeks: the recent window is the current week and the 3 before
(``window_hours`` 672), the baseline the ``baseline_weeks`` 13 weeks before that. Fires when
the recent share reaches the larger of ``min_share`` 40% and ``factor`` 2 x the baseline
share, with at least ``min_target_usd`` $500 of such spend in the recent window, and only
once the account has card spend at least ``min_baseline_weeks`` 8 weeks before the recent
window and ``min_baseline_spend_usd`` $500 of card spend in the baseline (no baseline, no
shift). The share and spend floors were raised from 35% and $250 after the 120-day
simulated background traffic fired them on two ordinary consumers who like fast food.
"""

from __future__ import annotations

from processors.indicators.common import (
    CARD_CHANNELS,
    WEEK_MS,
    BucketDetector,
    mcc_set,
    pct,
)
from processors.model import IndicatorHit, PaymentEvent, Typology

TOTAL, TARGET, COUNT = 2, 3, 4  # bucket fields after [week start, ids]


class SustainingSpend(BucketDetector):
    code = "SUSTAINING_SPEND"
    name = "Shift of spend to fast food, drug store, clothing, cosmetics"
    source = "FINTRAC-2016-OA003"
    typologies = (Typology.SEX_TRAFFICKING, Typology.LABOUR_TRAFFICKING)
    defaults = {
        "window_hours": 672,
        "baseline_weeks": 13,
        "factor": 2,
        "min_share": 0.4,
        "min_target_usd": 500,
        "min_baseline_weeks": 8,
        "min_baseline_spend_usd": 500,
        "mccs": ["5814", "5912", "5631", "5651", "5977"],
    }
    n_values = 3
    ids_per_bucket = 5
    bucket_ms = WEEK_MS

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._mccs = mcc_set(self.params["mccs"], "mccs")
        self._recent_weeks = max(1, round(self.params["window_hours"] / 168))
        self._horizon = self._recent_weeks + int(self.params["baseline_weeks"])
        self._min_baseline_ms = self.params["min_baseline_weeks"] * WEEK_MS

    def horizon_buckets(self) -> int:
        return self._horizon

    def evidence_buckets(self) -> int:
        return self._recent_weeks

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        return channel in CARD_CHANNELS and direction == "DEBIT"

    def accepts(self, ev: PaymentEvent) -> bool:
        return ev.channel in CARD_CHANNELS and ev.direction == "DEBIT" and ev.amount_usd > 0

    def observe(self, slot: list[list], ev: PaymentEvent, watermark: int) -> IndicatorHit | None:
        # The common case, inlined: a payment in the newest week's bucket.
        if slot:
            last = slot[-1]
            if 0 <= ev.event_time - last[0] < WEEK_MS:
                cents = int(ev.amount_usd * 100 + 0.5)
                last[TOTAL] += cents
                if ev.mcc not in self._mccs:
                    return None
                last[TARGET] += cents
                last[COUNT] += 1
                ids = last[1]
                ids.append(ev.event_time)
                ids.append(ev.event_id)
                if len(ids) > 2 * self.ids_per_bucket:
                    del ids[:2]
                return self.evaluate(slot, ev)
        return super().observe(slot, ev, watermark)

    def accumulate(self, bucket: list, ev: PaymentEvent) -> bool:
        cents = int(ev.amount_usd * 100 + 0.5)  # integer cents: exact sums, compact state
        bucket[TOTAL] += cents
        if ev.mcc in self._mccs:
            bucket[TARGET] += cents
            bucket[COUNT] += 1
            return True
        return False

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        if ev.mcc not in self._mccs:
            return None  # only a purchase of the kind can raise the share
        p = self.params
        start = slot[-1][0] - (self._recent_weeks - 1) * WEEK_MS
        if slot[0][0] > start - self._min_baseline_ms:
            return None  # no baseline yet
        recent = [b for b in slot if b[0] >= start]
        target = sum(b[TARGET] for b in recent)
        total = sum(b[TOTAL] for b in recent)
        if target < p["min_target_usd"] * 100 or target < p["min_share"] * total:
            return None
        base = slot[: len(slot) - len(recent)]
        base_total = sum(b[TOTAL] for b in base)
        if base_total < p["min_baseline_spend_usd"] * 100:
            return None
        share = target / total
        base_share = sum(b[TARGET] for b in base) / base_total
        need = max(p["min_share"], p["factor"] * base_share)
        if share < need:
            return None
        count = sum(b[COUNT] for b in recent)
        return self.evidence(
            ev,
            recent,
            round(share * 100, 1),
            round(need * 100, 1),
            f"{pct(share * 100)} of card spend in the last {self._recent_weeks} weeks went to fast "
            f"food, drug stores, clothing or cosmetics ({count} purchases, ${target / 100:.2f}), "
            f"against {pct(base_share * 100)} in the {len(base)} weeks before; threshold "
            f"{pct(need * 100)} (the larger of {pct(p['min_share'] * 100)} and {p['factor']:g} x "
            f"the baseline).",
        )
