"""ISO 4217 currencies: which codes are valid, their minor-unit exponent, a USD reference rate.

Thresholds in the advisories are in USD (and CAD for FINTRAC); events arrive in any currency,
so amounts are compared in USD at a reference rate. The rates are deliberately coarse and
static: a detector needs "about 3,000 dollars", not a trading rate. Institutions that need
their own rates, or rates for currencies not listed here, set them in the rule set
(``fx_usd_per_unit``, processors/rules.py), which the worker and the backtest validate with.
"""

from __future__ import annotations

from typing import Final

# Active ISO 4217 alphabetic codes (2024 list).
ISO_4217: Final = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
    KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP
    MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
    RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT
    TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW
    ZWG
    """.split()
)

# Minor-unit exponents that differ from 2.
_EXPONENT: Final = {
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
}

# Approximate USD value of one unit of currency; currencies not listed count at 0 USD-weight
# only for thresholds that need USD, which then cannot fire on them (stated in the evidence).
DEFAULT_USD_PER_UNIT: Final[dict[str, float]] = {
    "USD": 1.0, "CAD": 0.72, "EUR": 1.08, "GBP": 1.27, "MXN": 0.055, "GTQ": 0.13,
    "HNL": 0.04, "INR": 0.012, "PHP": 0.018, "CNY": 0.14, "JPY": 0.0067, "AUD": 0.66,
    "CHF": 1.12, "BRL": 0.19, "COP": 0.00025, "DOP": 0.017, "NGN": 0.00065, "KES": 0.0077,
    "VND": 0.00004, "THB": 0.028, "KRW": 0.00074, "SVC": 0.114, "NIO": 0.027, "HTG": 0.0076,
    "PKR": 0.0036, "BDT": 0.0084, "UAH": 0.024, "RON": 0.22, "PLN": 0.25, "ZAR": 0.055,
}  # fmt: skip


def exponent(currency: str) -> int:
    return _EXPONENT.get(currency, 2)


#: 10 ** exponent, per code: to_event divides by it once per event (the same integer divisor,
#: so the same float result as computing the power each time).
MINOR_PER_UNIT: Final = {code: 10 ** exponent(code) for code in ISO_4217}
