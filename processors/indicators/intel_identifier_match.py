"""Indicator 11: the holder's phone, e-mail, address or device appears in commercial-sex ads.

FIN-2020-A008 lists contact details of the account appearing in online commercial-sex
advertisements; the UNU report (2017, keys 10 and 25) describes the join of payment data with
open-source ad data, shared safely between civil society and the financial sector. Events
carry the holder's identifiers only as keyed hashes (HMAC-SHA256 under the consortium key), so
the lists hold hashes under the same key, never raw values. Two lists count: ``identifiers``
in the rule set (empty by default) and the shared intelligence feed (processors/intel.py),
where the holder's phone, e-mail, address, device, wallet or a passenger name on a ticket
may be listed. A feed entry matches while the event's time is before the entry's expiry.
Wallets listed as ``dark_web_market`` are left to CRYPTO_SMALL_MULTIPLES (one red flag, one
indicator). The alert names the kind of identifier and, for the feed, the category, source
and confidence of the entry: never the value.

Numbers. From the source: any match is enough, with high severity. Suggested: matches count
within 7 days, for the evidence. The default weight (1.8) reaches the typology threshold on
its own and the HIGH severity band.
"""

from __future__ import annotations

from processors.indicators.base import Detector, days
from processors.intel import DARK_WEB_MARKET
from processors.model import IndicatorHit, PaymentEvent, Typology

FIELDS = ("holder_phone_hash", "holder_email_hash", "holder_address_hash", "device_hash")
LABELS = {"holder_phone_hash": "phone", "holder_email_hash": "e-mail",
          "holder_address_hash": "address", "device_hash": "device"}  # fmt: skip
#: Event field -> feed kind, for the feed lookups (passenger names are a list, see _matches).
FEED_FIELDS = (("holder_phone_hash", "phone"), ("holder_email_hash", "email"),
               ("holder_address_hash", "address"), ("device_hash", "device"),
               ("wallet_address_hash", "wallet"))  # fmt: skip
FEED_LABELS = {"phone": "phone", "email": "e-mail", "address": "address", "device": "device",
               "wallet": "wallet", "name": "passenger name"}  # fmt: skip
RULE_LIST = "the rule set's intel list"
MAX_IDS = 20  # evidence events named: every event of the account carries the identifiers


class IntelIdentifierMatch(Detector):
    code = "INTEL_IDENTIFIER_MATCH"
    name = "Holder identifier seen in commercial-sex ads"
    source = "FIN-2020-A008"
    typologies = (Typology.SEX_TRAFFICKING,)
    uses_intel = True
    defaults = {"window_hours": 168, "identifiers": []}

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._ids = frozenset(self.params["identifiers"])
        self._last: tuple[PaymentEvent | None, list] = (None, [])

    def _matches(self, ev: PaymentEvent) -> list[list]:
        """[label, hash, where listed] per matching identifier; cached for entry()."""
        if self._last[0] is ev:
            return self._last[1]
        found: list[list] = []
        ids = self._ids
        if ids:
            for f in FIELDS:
                v = getattr(ev, f)
                if v is not None and v in ids:
                    found.append([LABELS[f], v, RULE_LIST])
        index = self.intel
        if index is not None:
            # Inlined IntelIndex.match: this runs for every event (bench/intel_lookup.py).
            t = ev.event_time
            for f, kind in FEED_FIELDS:
                v = getattr(ev, f)
                e = None if v is None else index.table(kind).get(v)
                if (
                    e is not None
                    and (e.expires_ms is None or t < e.expires_ms)
                    and not (kind == "wallet" and e.category == DARK_WEB_MARKET)
                ):
                    found.append([FEED_LABELS[kind], e.hash, e.describe()])
            if ev.passenger_name_hashes:
                for h in ev.passenger_name_hashes:
                    e = index.match("name", h, t)
                    if e is not None:
                        found.append([FEED_LABELS["name"], e.hash, e.describe()])
        self._last = (ev, found)
        return found

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        return bool(self._ids) or self.intel is not None

    def accepts(self, ev: PaymentEvent) -> bool:
        if not self._ids and self.intel is None:
            return False
        return bool(self._matches(ev))

    def entry(self, ev: PaymentEvent) -> list:
        return [ev.event_time, ev.event_id, self._matches(ev)]

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        values: set[str] = set()
        kinds: set[str] = set()
        where: set[str] = set()
        for e in slot:
            for m in e[2]:
                label = LABELS.get(m[0], m[0])  # entries before the feed held field names
                values.add(m[1])
                kinds.add(label)
                where.add(f"{label}: {m[2] if len(m) > 2 else RULE_LIST}")
        return self.hit(
            ev,
            len(values),
            1,
            [e[1] for e in slot[-MAX_IDS:]],
            f"{len(values)} of the account holder's identifiers ({', '.join(sorted(kinds))}) "
            f"are listed as seen in commercial-sex ads or trafficking intel "
            f"({'; '.join(sorted(where))}), on {len(slot)} events within "
            f"{days(self.params['window_hours'])}; threshold 1 (any match).",
        )
