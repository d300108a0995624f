"""Indicator 1: payments to online classified-ad sites for commercial sex (FINTRAC 2016, FIN-2020).

Traffickers advertise victims on escort and "massage" classified sites and pay the posting
fees by card, online, often in small repeated amounts that are multiples of $3, $12 or $24
(FINTRAC-2016-OA003; FIN-2020-A008 adds foreign classified sites). Ad sites have no reliable
MCC, so the sites are matched by merchant id against a curated watchlist in the rule set
(``merchant_ids``, empty by default: the list is the institution's or the consortium's) and
against the shared intelligence feed (processors/intel.py): merchants listed with category
``ad_site`` count as watchlisted while the event's time is before the entry's expiry. Events
carry merchant ids in clear and the feed their keyed hashes; the index hashes (and caches)
the id for the lookup.

Numbers. From the source: the $3 / $12 / $24 multiples (every one of them is a multiple of
$3, so one test covers all three). Suggested, to tune in the backtest: ``min_payments`` 5
card-not-present payments to watchlisted sites in 7 days; or ``min_multiples`` 3 payments
that are whole multiples of 3 currency units under ``max_amount_usd`` $100, either to a
watchlisted site or to a merchant under a generic advertising MCC (``ad_mccs``, default 7311
advertising services: the code such sites usually sit under).
"""

from __future__ import annotations

from processors.indicators.base import Detector, days
from processors.indicators.common import is_multiple_of, mcc_set
from processors.intel import AD_SITE
from processors.model import IndicatorHit, PaymentEvent, Typology


class AdSitePayments(Detector):
    code = "AD_SITE_PAYMENTS"
    name = "Payments to escort / classified-ad sites"
    source = "FINTRAC-2016-OA003"
    typologies = (Typology.SEX_TRAFFICKING,)
    uses_intel = True
    defaults = {
        "window_hours": 168,
        "min_payments": 5,
        "min_multiples": 3,
        "multiple_of": 3,
        "max_amount_usd": 100,
        "merchant_ids": [],
        "ad_mccs": ["7311"],
    }

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._sites = frozenset(self.params["merchant_ids"])
        self._ad_mccs = mcc_set(self.params["ad_mccs"], "ad_mccs")
        self._unit = int(self.params["multiple_of"])
        self._last: tuple[PaymentEvent | None, str | None] = (None, None)

    def _listed(self, ev: PaymentEvent) -> str | None:
        """Where the merchant is listed (None: nowhere); cached for entry()."""
        if self._last[0] is ev:
            return self._last[1]
        where = None
        if ev.merchant_id in self._sites:
            where = "rule set"
        elif self.intel is not None:
            e = self.intel.match_merchant(ev.merchant_id, ev.event_time)
            if e is not None and e.category == AD_SITE:
                where = e.describe()
        self._last = (ev, where)
        return where

    def _small_multiple(self, ev: PaymentEvent) -> bool:
        return 0 < ev.amount_usd < self.params["max_amount_usd"] and is_multiple_of(ev, self._unit)

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        return channel == "CARD_NOT_PRESENT" and direction == "DEBIT"

    def accepts(self, ev: PaymentEvent) -> bool:
        if ev.channel != "CARD_NOT_PRESENT" or ev.direction != "DEBIT":
            return False
        if self._listed(ev) is not None:
            return True
        return ev.mcc in self._ad_mccs and self._small_multiple(ev)

    def entry(self, ev: PaymentEvent) -> list:
        where = self._listed(ev)
        return [ev.event_time, ev.event_id, where is not None, self._small_multiple(ev), where]

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        p = self.params
        listed = [e for e in slot if e[2]]
        multiples = [e for e in slot if e[3]]
        span = days(p["window_hours"])
        if len(listed) >= p["min_payments"]:
            # entries from before the feed have no fifth element: they came from the rule set
            where = sorted({e[4] if len(e) > 4 and e[4] else "rule set" for e in listed})
            return self.hit(
                ev,
                len(listed),
                p["min_payments"],
                [e[1] for e in listed],
                f"{len(listed)} card-not-present payments to watchlisted classified-ad sites "
                f"(listed by: {'; '.join(where)}) within {span}; "
                f"threshold {p['min_payments']:g}.",
            )
        if len(multiples) >= p["min_multiples"]:
            return self.hit(
                ev,
                len(multiples),
                p["min_multiples"],
                [e[1] for e in multiples],
                f"{len(multiples)} small online payments (under ${p['max_amount_usd']:g}) in whole "
                f"multiples of {self._unit} to classified-ad or advertising merchants within "
                f"{span}; threshold {p['min_multiples']:g}.",
            )
        return None
