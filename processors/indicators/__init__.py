"""The indicator catalog: one module per red flag, registered here by code."""

import processors

if processors.NATIVE:  # the compiled detectors (see processors/__init__.py)
    __path__.insert(0, str(processors.NATIVE_DIR / "indicators"))

from processors.indicators.ad_site_payments import AdSitePayments
from processors.indicators.after_hours_adult_services import AfterHoursAdultServices
from processors.indicators.base import Detector
from processors.indicators.cash_front_business import CashFrontBusiness
from processors.indicators.cash_in_wire_out import CashInWireOut
from processors.indicators.collector_fan_in import CollectorFanIn
from processors.indicators.common_beneficiary import CommonBeneficiary
from processors.indicators.crypto_small_multiples import CryptoSmallMultiples
from processors.indicators.earnings_collected import EarningsCollected
from processors.indicators.frequent_travel import FrequentTravel
from processors.indicators.funnel_account import FunnelAccount
from processors.indicators.hotel_multi_city import HotelMultiCity
from processors.indicators.intel_identifier_match import IntelIdentifierMatch
from processors.indicators.late_night_cash import LateNightCash
from processors.indicators.low_payroll import LowPayroll
from processors.indicators.many_small_payers import ManySmallPayers
from processors.indicators.prepaid_burst import PrepaidBurst
from processors.indicators.ride_share_burst import RideShareBurst
from processors.indicators.shared_identifier import SharedIdentifier
from processors.indicators.structuring import Structuring
from processors.indicators.sustaining_spend import SustainingSpend
from processors.indicators.unlicensed_recruiter import UnlicensedRecruiter
from processors.indicators.wage_capture import WageCapture
from processors.indicators.wage_forwarding import WageForwarding
from processors.indicators.wages_collected import WagesCollected

CATALOG: dict[str, type[Detector]] = {
    cls.code: cls
    for cls in (
        HotelMultiCity,
        LateNightCash,
        ManySmallPayers,
        Structuring,
        CashInWireOut,
        WageCapture,
        FunnelAccount,
        AdSitePayments,
        FrequentTravel,
        RideShareBurst,
        SustainingSpend,
        AfterHoursAdultServices,
        CryptoSmallMultiples,
        PrepaidBurst,
        IntelIdentifierMatch,
        CashFrontBusiness,
        LowPayroll,
        UnlicensedRecruiter,
        SharedIdentifier,
        CommonBeneficiary,
        WageForwarding,
        CollectorFanIn,
        WagesCollected,
        EarningsCollected,
    )
}

__all__ = ["CATALOG", "Detector"]
