"""Indicator 18: apparently unrelated senders each wiring the same beneficiary small amounts.

FIN-2014-A008 and FIN-2023-Alert001 (human smuggling) describe many unrelated senders, often at
different branches on the same or consecutive days, sending the same recipient amounts under
the US$3,000 money-transmitter record-keeping threshold: the smuggling organisation's
collector. Like indicator 17 it is invisible per account; ``processors.links`` groups outgoing
transfers by beneficiary (counterparty account and institution, as a digest) and the engine's
``apply_signal`` records the finding on every sender's account. ``accepts`` is always false.

Numbers. From the source: each transfer under US$3,000 (``max_amount_usd``). Suggested: at least
5 distinct sending customers (``min_senders``) within 7 days (``window_hours``), over wires and
remittances (``channels``), the channels the sources name. ACH and P2P are left out by default
and payroll debits always are: rent, bills and wages put many customers on one ACH payee every
week (on simulated traffic with ACH, 62% of accounts hit), and friends splitting bills put
many P2P senders on one friend (with P2P, 8,082 of 50,000 simulated accounts hit and smuggling
precision fell from 100% to 88%; docs/backtest.md). An institution whose smugglers use P2P
apps adds "P2P" in its rule set. More than ``max_senders`` (100) is a
utility or a charity and does not fire. The weight stays below the typology threshold: family
members abroad also collect from several relatives, so a second indicator is needed to alert.
"""

from __future__ import annotations

from processors.indicators.base import CrossAccountDetector
from processors.model import Typology


class CommonBeneficiary(CrossAccountDetector):
    code = "COMMON_BENEFICIARY"
    name = "Many unrelated senders to one beneficiary"
    source = "FIN-2023-Alert001"
    typologies = (Typology.HUMAN_SMUGGLING,)
    defaults = {
        "window_hours": 168,
        "min_senders": 5,
        "max_senders": 100,
        "max_amount_usd": 3000,
        "channels": ["WIRE", "REMITTANCE"],
    }

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.check_group_size("min_senders", "max_senders")
        self.channels = self.check_channels()
