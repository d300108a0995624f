"""Indicator 17: several customers share one phone, e-mail, address or device.

FIN-2014-A008 describes customers escorted by a third party who speaks for them and whose own
contact details appear on many accounts: the controller registers the victims' accounts with
his phone, e-mail, address or device. No single account shows it; it only appears when the
accounts are grouped by identifier, so this detector sees no per-account event at all
(``accepts`` is always false). ``processors.links`` groups the links, and the engine's
``apply_signal`` records the finding on each account involved (see the README's
"Cross-account indicators"). It counts distinct customers, not accounts, so one customer's
checking and savings accounts sharing a phone are one, not two.

Numbers. From the source: "many customers sharing one phone/device/address". Suggested: at
least 3 customers (``min_customers``) within 30 days (``window_hours``), so a couple does not
fire; groups above ``max_customers`` (50) are infrastructure (a shared branch kiosk, an
employer's address, a carrier's placeholder number) and do not fire either. ``kinds`` picks
which identifiers are grouped. The weight stays below the typology threshold: households share
addresses and phones, so the link needs a second, per-account indicator to alert.
"""

from __future__ import annotations

from processors.indicators.base import CrossAccountDetector
from processors.model import Typology

#: identifier kind -> the event field carrying its keyed hash
KINDS = {
    "phone": "holder_phone_hash",
    "email": "holder_email_hash",
    "address": "holder_address_hash",
    "device": "device_hash",
}
LABELS = {"phone": "phone number", "email": "e-mail address", "address": "address",
          "device": "device"}  # fmt: skip


class SharedIdentifier(CrossAccountDetector):
    code = "SHARED_IDENTIFIER"
    name = "Several customers share one phone, e-mail, address or device"
    source = "FIN-2014-A008"
    typologies = (Typology.LABOUR_TRAFFICKING, Typology.HUMAN_SMUGGLING)
    defaults = {
        "window_hours": 720,
        "min_customers": 3,
        "max_customers": 50,
        "kinds": ["phone", "email", "address", "device"],
    }

    def __init__(self, **params) -> None:
        super().__init__(**params)
        unknown = sorted(set(self.params["kinds"]) - set(KINDS))
        if unknown:
            raise ValueError(f"kinds: {', '.join(unknown)} not one of {sorted(KINDS)}")
        self.check_group_size("min_customers", "max_customers")
        self.fields = tuple((kind, KINDS[kind]) for kind in self.params["kinds"])
