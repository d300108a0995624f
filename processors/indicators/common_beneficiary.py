"""Indicator 18: apparently unrelated senders each wiring the same beneficiary small amounts.

FIN-2014-A008 and FIN-2023-Alert001 (human smuggling) describe many unrelated senders, often at
different branches on the same or consecutive days, sending the same recipient amounts under
the US$3,000 money-transmitter record-keeping threshold: the smuggling organisation's
collector. From the senders' side it is invisible per account; ``processors.links`` groups
outgoing transfers by beneficiary (counterparty account and institution, as a digest) and the
engine's ``apply_signal`` records the finding on every sender's account, and, when the
beneficiary is one of the reporting institutions' accounts, on it as COLLECTOR_FAN_IN (the
collector, the subject the advisories describe). A transfer that is a forwarded wage (most of
a wage right after payday) makes a WAGE_FORWARDING link instead: one typology per piece of
evidence (processors/attribution.py). ``accepts`` is always false.

Numbers. From the source: each transfer under US$3,000 (``max_amount_usd``). Suggested: at least
5 distinct sending customers (``min_senders``) within 7 days (``window_hours``), over wires and
remittances (``channels``), the channels the sources name. ACH and P2P are left out by default
and payroll debits always are: rent, bills and wages put many customers on one ACH payee every
week (on simulated traffic with ACH, 62% of accounts hit), and friends splitting bills put
many P2P senders on one friend (with P2P, 8,082 of 50,000 simulated accounts hit and smuggling
precision fell from 100% to 88%; docs/backtest.md). An institution whose smugglers use P2P
apps adds "P2P" in its rule set. More than ``max_senders`` (100) is a
utility or a charity and does not fire.

Weight 0.3 (was 0.6 up to rule set 2026.11.3): on the senders it is context. The senders are
mostly migrants' relatives paying a fee (FIN-2014-A008, FIN-2023-Alert001); the red flag is
about the beneficiary. In the independent evaluation of 2026-12-01, 97 innocent senders
carried this hit while the collectors carried none, and smuggling precision was 0.03-0.07. At
0.3 a sender plus any one other smuggling indicator (the heaviest, CASH_IN_WIRE_OUT, 0.65)
stays under the threshold, so a remitting family is not alerted for it; in a network case it
counts in the score but never makes a sender a subject (processors/networks.py).
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
