"""Indicator 15, cross-account side: several workers forward their wages to one account.

FIN-2014-A008 and FATF (2018) describe wage capture: the trafficker controls the workers'
pay. WAGE_CAPTURE sees it when the employer pays several workers' wages into one account.
When each worker is paid into an account of their own, the same control shows only across
accounts: soon after each payday, the workers' accounts send most of their wage on to one
collector. ``processors.links`` notes, per account, the last payroll credit. A transfer out
within ``forward_hours`` of it, and at least ``min_share`` of it, becomes a link keyed by the
beneficiary (a digest of counterparty account and institution), and not also a
COMMON_BENEFICIARY link: wages forwarded after payday are labour evidence, not smuggling fees
(processors/attribution.py). The group counts distinct customers, and
``Engine.apply_signal`` records the finding on every sender's account and, when the account
collecting the wages is one of ours, on it as WAGES_COLLECTED: the controller, the primary
subject. ``accepts`` is always false.

Numbers. From the source: wages "leave again right after arrival" and "several workers' wages
into one account". Suggested (the reference marks them so): forwarded within 24 hours, at least
80% of the wage, from at least 3 customers within 7 days (one pay cycle). Groups above
``max_customers`` (50) are a landlord or a lender collecting from many tenants. The weight
stays below the typology threshold: migrant workers send payday remittances home, and
siblings may send to one parent, so a second indicator (a shared address or phone, low
payroll, recruitment fees) is needed to alert.
"""

from __future__ import annotations

from processors.indicators.base import CrossAccountDetector
from processors.model import Typology


class WageForwarding(CrossAccountDetector):
    code = "WAGE_FORWARDING"
    name = "Several workers forward their wages to one account"
    source = "FIN-2014-A008"
    typologies = (Typology.LABOUR_TRAFFICKING,)
    defaults = {
        "window_hours": 168,
        "forward_hours": 24,
        "min_share": 0.8,
        "min_customers": 3,
        "max_customers": 50,
        "channels": ["WIRE", "ACH", "P2P", "REMITTANCE"],
    }

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.check_group_size("min_customers", "max_customers")
        if self.params["min_share"] > 1:
            raise ValueError("min_share: a share of the wage, at most 1")
        self.channels = self.check_channels()
        self.forward_ms = int(self.params["forward_hours"] * 3_600_000)
