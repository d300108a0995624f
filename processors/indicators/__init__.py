"""The indicator catalog: one module per red flag, registered here by code."""

from processors.indicators.base import Detector
from processors.indicators.cash_in_wire_out import CashInWireOut
from processors.indicators.funnel_account import FunnelAccount
from processors.indicators.hotel_multi_city import HotelMultiCity
from processors.indicators.late_night_cash import LateNightCash
from processors.indicators.many_small_payers import ManySmallPayers
from processors.indicators.structuring import Structuring
from processors.indicators.wage_capture import WageCapture

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
    )
}

__all__ = ["CATALOG", "Detector"]
