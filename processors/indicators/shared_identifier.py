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
which identifiers are grouped.

Renewal. While the group keeps three customers or more and its members keep transacting
with the identifier, its finding is signalled to every member again each half score window
(7 days under the default rule set; ``processors.links.Linker.episode_ms``): the sharing is
a state, not an event, and a signal counts on an account for at most the 14-day score
window. Signalled once per 30-day window, a bunkhouse address seen from day 1 no longer
counted by day 14 and could not add up with the controller's collected wages found on day
23 (harder simulated population, seed 7, 50,000 accounts: labour rings ring-7-0261 and
ring-7-0276). Measured there on top of EARNINGS_COLLECTED: labour scenarios 51/57 -> 53/57,
account precision 100% -> 100%, sex trafficking 51/54 and smuggling 57/61 unchanged, hard
negatives 0/441 and background 0 unchanged. The renewal alone (without EARNINGS_COLLECTED,
same rule set and watchlists): labour 51/57 -> 53/57 too, sex trafficking 45/54 unchanged,
labour precision 100% -> 99.2% and wrong-typology alerts 8 -> 9 (a shared phone and hotels
pulling an account to labour; attribution rule 4 now stops a shared identifier alerting on
everyday footprints alone). An earlier measurement of this experiment (45/54 -> 43/54) ran
without the simulated world's watchlists and is not comparable.

The weight stays below the typology threshold: households share addresses and phones, so
the link needs a second, per-account indicator to alert.
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
