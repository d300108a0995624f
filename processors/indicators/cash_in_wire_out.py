"""Indicator 19: cash in, then quick wires to countries with high migrant flows (FIN-2023).

Smuggling fees are collected in cash and moved on by wire or remittance within days. Families
remitting home do the same once in a while, so one pair is not enough: the default needs
several pairs inside the window, and the weight in scoring stays modest.
"""

from __future__ import annotations

from processors.indicators.base import HOUR_MS, Detector, days
from processors.model import IndicatorHit, PaymentEvent, Typology

DEFAULT_CORRIDORS = ("MX", "GT", "HN", "SV", "NI", "EC", "CO", "VE", "HT", "CU", "IN", "CN")
_OUT_CHANNELS = frozenset({"WIRE", "REMITTANCE"})
_CASH_IN = frozenset({"CASH_DEPOSIT", "ATM"})


class CashInWireOut(Detector):
    code = "CASH_IN_WIRE_OUT"
    name = "Cash in, wired out to a high-risk corridor"
    source = "FIN-2023-Alert001"
    typologies = (Typology.HUMAN_SMUGGLING,)
    defaults = {
        "window_hours": 168,
        "pair_hours": 72,
        "min_pairs": 2,
        "min_cash_usd": 500,
        "corridors": list(DEFAULT_CORRIDORS),
    }

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.corridors = frozenset(self.params["corridors"])

    def could_accept(
        self, account_type: str, direction: str, channel: str, mcc: int | None
    ) -> bool:
        return channel in (_CASH_IN if direction == "CREDIT" else _OUT_CHANNELS)

    def accepts(self, ev: PaymentEvent) -> bool:
        if ev.direction == "CREDIT":
            return ev.channel in _CASH_IN
        return ev.channel in _OUT_CHANNELS and ev.counterparty_country in self.corridors

    def entry(self, ev: PaymentEvent) -> list:
        kind = "in" if ev.direction == "CREDIT" else "out"
        return [ev.event_time, ev.event_id, kind, max(ev.amount_usd, 0.0)]

    def evaluate(self, slot: list[list], ev: PaymentEvent) -> IndicatorHit | None:
        if ev.direction != "DEBIT":
            return None
        p = self.params
        pair_ms = p["pair_hours"] * HOUR_MS
        pairs = 0
        ids: list[str] = []
        used: set[str] = set()  # each deposit pays for one wire at most
        for t, event_id, kind, _ in slot:
            if kind != "out":
                continue
            cash = [
                e for e in slot
                if e[2] == "in" and t - pair_ms <= e[0] <= t and e[1] not in used
            ]  # fmt: skip
            if sum(e[3] for e in cash) >= p["min_cash_usd"]:
                pairs += 1
                used.update(e[1] for e in cash)
                ids.extend(e[1] for e in cash)
                ids.append(event_id)
        if pairs < p["min_pairs"]:
            return None
        return self.hit(
            ev,
            pairs,
            p["min_pairs"],
            list(dict.fromkeys(ids)),
            f"{pairs} wires or remittances to high-migration corridors each within "
            f"{p['pair_hours']:g} hours of cash deposits of ${p['min_cash_usd']:g} or more, "
            f"within {days(p['window_hours'])}; threshold {p['min_pairs']:g}.",
        )
