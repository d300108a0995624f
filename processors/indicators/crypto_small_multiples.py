"""Indicator 9: virtual currency in small multiples of $3/$12/$24, or dark-web wallets.

FINTRAC-2016-OA003: virtual-currency purchases in multiples of $3, $12 or $24 (the ad-site
posting fees, paid in crypto where cards are refused). FIN-2020-A008: crypto sent to or
received from dark-web markets. A purchase is a debit at a quasi-cash / crypto merchant (MCC
6051) or on the CRYPTO channel; a wallet is the event's keyed ``wallet_address_hash``,
matched against ``dark_web_wallets`` in the rule set (empty by default), in either direction,
and against the shared intelligence feed (processors/intel.py): wallets listed with category
``dark_web_market``, while the event's time is before the entry's expiry.

Numbers. From the source: the $3 / $12 / $24 multiples (all multiples of $3) and "any match"
for a listed wallet. Suggested: ``min_multiples`` 3 purchases under ``max_amount_usd`` $100
within 7 days.
"""

from __future__ import annotations

from processors.indicators.base import Detector, days
from processors.indicators.common import is_multiple_of
from processors.intel import DARK_WEB_MARKET
from processors.model import IndicatorHit, PaymentEvent, Typology


class CryptoSmallMultiples(Detector):
    code = "CRYPTO_SMALL_MULTIPLES"
    name = "Crypto in small multiples of $3, or dark-web wallets"
    source = "FINTRAC-2016-OA003"
    typologies = (Typology.SEX_TRAFFICKING,)
    uses_intel = True
    defaults = {
        "window_hours": 168,
        "min_multiples": 3,
        "multiple_of": 3,
        "max_amount_usd": 100,
        "dark_web_wallets": [],
    }

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._wallets = frozenset(self.params["dark_web_wallets"])
        self._unit = int(self.params["multiple_of"])
        self._last: tuple[PaymentEvent | None, str | None] = (None, None)

    def _listed(self, ev: PaymentEvent) -> str | None:
        """Where the wallet is listed (None: nowhere); cached for entry()."""
        if self._last[0] is ev:
            return self._last[1]
        where, wallet = None, ev.wallet_address_hash
        if wallet is not None:
            if wallet in self._wallets:
                where = "rule set"
            elif self.intel is not None:
                e = self.intel.match("wallet", wallet, ev.event_time)
                if e is not None and e.category == DARK_WEB_MARKET:
                    where = e.describe()
        self._last = (ev, where)
        return where

    def _small_multiple(self, ev: PaymentEvent) -> bool:
        return (
            ev.direction == "DEBIT"
            and (ev.channel == "CRYPTO" or ev.mcc == 6051)
            and 0 < ev.amount_usd < self.params["max_amount_usd"]
            and is_multiple_of(ev, self._unit)
        )

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        if self._wallets or self.intel is not None:
            return True  # a listed wallet counts on any payment
        return channel == "CRYPTO" or mcc == 6051

    def accepts(self, ev: PaymentEvent) -> bool:
        if self._listed(ev) is not None:
            return True
        return (ev.channel == "CRYPTO" or ev.mcc == 6051) and self._small_multiple(ev)

    def entry(self, ev: PaymentEvent) -> list:
        where = self._listed(ev)
        return [ev.event_time, ev.event_id, where is not None, self._small_multiple(ev), where]

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        p = self.params
        span = days(p["window_hours"])
        listed = [e for e in slot if e[2]]
        if listed:
            where = sorted({e[4] if len(e) > 4 and e[4] else "rule set" for e in listed})
            return self.hit(
                ev,
                len(listed),
                1,
                [e[1] for e in listed],
                f"{len(listed)} crypto payments to or from wallets on the dark-web market "
                f"watchlist (listed by: {'; '.join(where)}) within {span}; "
                f"threshold 1 (any match).",
            )
        multiples = [e for e in slot if e[3]]
        if len(multiples) >= p["min_multiples"]:
            return self.hit(
                ev,
                len(multiples),
                p["min_multiples"],
                [e[1] for e in multiples],
                f"{len(multiples)} crypto purchases under ${p['max_amount_usd']:g} in whole "
                f"multiples of {self._unit} within {span}; threshold {p['min_multiples']:g}.",
            )
        return None
