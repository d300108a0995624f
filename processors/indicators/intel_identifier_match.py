"""Indicator 11: the holder's phone, e-mail, address or device appears in commercial-sex ads.

FIN-2020-A008 lists contact details of the account appearing in online commercial-sex
advertisements; the UNU report (2017, keys 10 and 25) describes the join of payment data with
open-source ad data, shared safely between civil society and the financial sector. Events
carry the holder's identifiers only as keyed hashes (HMAC-SHA256 under the consortium key), so
the intel list in the rule set (``identifiers``, empty by default) holds hashes under the same
key, never raw values, and the alert names which kind of identifier matched, not the value.

Numbers. From the source: any match is enough, with high severity. Suggested: matches count
within 7 days, for the evidence. The default weight (1.8) reaches the typology threshold on
its own and the HIGH severity band.
"""

from __future__ import annotations

from processors.indicators.base import Detector, days
from processors.model import IndicatorHit, PaymentEvent, Typology

FIELDS = ("holder_phone_hash", "holder_email_hash", "holder_address_hash", "device_hash")
LABELS = {"holder_phone_hash": "phone", "holder_email_hash": "e-mail",
          "holder_address_hash": "address", "device_hash": "device"}  # fmt: skip
MAX_IDS = 20  # evidence events named: every event of the account carries the identifiers


class IntelIdentifierMatch(Detector):
    code = "INTEL_IDENTIFIER_MATCH"
    name = "Holder identifier seen in commercial-sex ads"
    source = "FIN-2020-A008"
    typologies = (Typology.SEX_TRAFFICKING,)
    defaults = {"window_hours": 168, "identifiers": []}

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._ids = frozenset(self.params["identifiers"])

    def accepts(self, ev: PaymentEvent) -> bool:
        ids = self._ids
        return bool(ids) and (
            ev.holder_phone_hash in ids
            or ev.holder_email_hash in ids
            or ev.holder_address_hash in ids
            or ev.device_hash in ids
        )

    def entry(self, ev: PaymentEvent) -> list:
        matched = [[f, getattr(ev, f)] for f in FIELDS if getattr(ev, f) in self._ids]
        return [ev.event_time, ev.event_id, matched]

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        values = {v for e in slot for _, v in e[2]}
        kinds = sorted({LABELS[f] for e in slot for f, _ in e[2]})
        return self.hit(
            ev,
            len(values),
            1,
            [e[1] for e in slot[-MAX_IDS:]],
            f"{len(values)} of the account holder's identifiers ({', '.join(kinds)}) match the "
            f"intel list of identifiers seen in commercial-sex ads, on {len(slot)} events within "
            f"{days(self.params['window_hours'])}; threshold 1 (any match).",
        )
