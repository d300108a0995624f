"""The engine's dispatch table: each event visits only the detectors whose static prefilter
(Detector.could_accept) admits it, and the results are exactly those of visiting all of them.

A prefilter may only say "no" when accepts() says "no" for every event with the same account
type, direction, channel and MCC; these tests try events of every combination against every
catalog detector, with and without watchlists and an intelligence index.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from processors import rules
from processors.engine import MAX_DISPATCH_KEYS, Engine
from processors.indicators import CATALOG
from processors.intel import IntelIndex
from processors.state import AccountState
from processors.validation import to_event

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NOW = T0 + 3_650 * 86_400_000  # after every event of the grid (one an hour)
LISTED = "a" * 64  # a keyed hash / id the watchlists below carry

CHANNELS = ("CARD_PRESENT", "CARD_NOT_PRESENT", "CASH_DEPOSIT", "CASH_WITHDRAWAL", "ATM", "WIRE",
            "ACH", "P2P", "REMITTANCE", "PREPAID_LOAD", "CRYPTO", "OTHER", "NEW_RAIL")  # fmt: skip
MCCS = (None, "7011", "3600", "4121", "3400", "4511", "3100", "6051", "6540", "7311", "7297",
        "5814", "5411", "5813")  # fmt: skip
WATCHLISTS = {
    "AD_SITE_PAYMENTS": {"merchant_ids": [LISTED]},
    "CRYPTO_SMALL_MULTIPLES": {"dark_web_wallets": [LISTED]},
    "INTEL_IDENTIFIER_MATCH": {"identifiers": [LISTED]},
    "UNLICENSED_RECRUITER": {"recruiters": [LISTED]},
}


def record(n: int, account_type: str, direction: str, channel: str, mcc: str | None,
           amount_minor: int, extra: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    rec: dict[str, Any] = {
        "event_id": f"e{n}",
        "event_time": T0 + n * 3_600_000,
        "utc_offset_minutes": -300,
        "institution_id": "bank-1",
        "account_id": "acct-1",
        "customer_id": "cust-1",
        "account_type": account_type,
        "direction": direction,
        "channel": channel,
        "amount_minor": amount_minor,
        "currency": "USD",
        "counterparty": {"account_id": LISTED, "country": "MX", "name_hash": LISTED},
        "location": {"city": "Reno", "region": "US-NV", "country": "US"},
        **extra,
    }
    if mcc is not None:
        rec["merchant"] = {"merchant_id": LISTED, "mcc": mcc, "city": "Reno", "country": "US"}
    return rec


def events():
    """Every combination of the four dispatch keys, crossed with amounts and flags that make
    the amount, payroll, purpose and identifier tests of accepts() go either way."""
    extras = (
        {},
        {"payroll": True, "purpose": "SALA"},
        {"purpose": "TAXS", "wallet_address_hash": LISTED, "holder_phone_hash": LISTED},
    )
    n = 0
    for key in itertools.product(("PERSONAL", "BUSINESS"), ("DEBIT", "CREDIT"), CHANNELS, MCCS):
        for amount, extra in itertools.product((300, 4_000, 290_000, 950_000), extras):
            n += 1
            yield to_event(record(n, *key, amount, extra), NOW)


def detectors(with_watchlists: bool, with_intel: bool):
    out = []
    for code, cls in CATALOG.items():
        det = cls(**(WATCHLISTS.get(code, {}) if with_watchlists else {}))
        if with_intel and det.uses_intel:
            det = det.with_intel(IntelIndex("k"))
        out.append(det)
    return out


@pytest.mark.parametrize(("watchlists", "intel"), [(False, False), (True, False), (False, True)])
def test_a_prefilter_never_turns_away_an_event_its_detector_accepts(watchlists, intel):
    dets = detectors(watchlists, intel)
    accepted = {d.code: 0 for d in dets}
    for ev in events():
        for det in dets:
            if det.accepts(ev):
                accepted[det.code] += 1
                assert det.could_accept(ev.account_type, ev.direction, ev.channel, ev.mcc), (
                    det.code,
                    ev,
                )
    # The grid exercises every per-account detector (cross-account ones accept nothing).
    cross_account = {"SHARED_IDENTIFIER", "COMMON_BENEFICIARY", "WAGE_FORWARDING"}
    needs_a_list = {"INTEL_IDENTIFIER_MATCH", "UNLICENSED_RECRUITER"}
    for code, n in accepted.items():
        if code in cross_account or (code in needs_a_list and not (watchlists or intel)):
            assert n == 0, code
        elif code == "UNLICENSED_RECRUITER" and intel:
            continue  # the index is empty: nothing is listed in it
        elif code == "INTEL_IDENTIFIER_MATCH" and intel:
            continue
        else:
            assert n > 0, f"{code} accepted no event of the grid: the test proves nothing"


def test_prefilters_prune_a_typical_card_payment():
    engine = Engine(rules.load())
    ev = to_event(record(1, "PERSONAL", "DEBIT", "CARD_PRESENT", "5411", 4_000, {}), NOW)
    codes = [d.code for d in engine.candidates(ev)]
    assert "SUSTAINING_SPEND" in codes  # all card spend counts towards its baseline
    for code in ("SHARED_IDENTIFIER", "COMMON_BENEFICIARY", "WAGE_FORWARDING", "LATE_NIGHT_CASH",
                 "MANY_SMALL_PAYERS", "INTEL_IDENTIFIER_MATCH", "LOW_PAYROLL"):  # fmt: skip
        assert code not in codes
    assert len(codes) < len(engine.rules.detectors) // 2
    order = [d.code for d in engine.rules.detectors]
    assert codes == [c for c in order if c in codes]  # rule-set order: hits come out the same


def test_an_intel_index_opens_the_intel_detectors_to_every_event():
    ev = to_event(record(1, "PERSONAL", "CREDIT", "ACH", None, 4_000, {}), NOW)
    without = {d.code for d in Engine(rules.load()).candidates(ev)}
    with_index = {d.code for d in Engine(rules.load(), intel=IntelIndex("k")).candidates(ev)}
    assert "INTEL_IDENTIFIER_MATCH" not in without
    assert "INTEL_IDENTIFIER_MATCH" in with_index  # the feed may list any holder identifier


def test_dispatch_gives_the_same_hits_alerts_and_state_as_visiting_every_detector():
    ruleset = rules.load()
    fast, slow = Engine(ruleset), Engine(ruleset)
    states_fast: dict[str, AccountState] = {}
    states_slow: dict[str, AccountState] = {}
    n_hits = n_alerts = 0
    for i, ev in enumerate(events()):
        # Spread over a few accounts so windows fill up and indicators fire.
        ev.account_id = f"acct-{i % 7}"
        # The engine as it was: every detector's accepts() on every event. Its table is
        # filled in ahead (the engine may be compiled: no method to override).
        slow._dispatch[ev.account_type, ev.direction, ev.channel, ev.mcc] = slow._detectors
        a = fast.step(states_fast.setdefault(ev.account_id, AccountState()), ev, NOW)
        b = slow.step(states_slow.setdefault(ev.account_id, AccountState()), ev, NOW)
        assert [h.to_record() for h in a.hits] == [h.to_record() for h in b.hits]
        assert a.alerts == b.alerts
        n_hits += len(a.hits)
        n_alerts += len(a.alerts)
    assert n_hits > 0 and n_alerts > 0, "nothing fired: the comparison proves nothing"
    assert {k: s.dumps() for k, s in states_fast.items()} == {
        k: s.dumps() for k, s in states_slow.items()
    }


def test_the_dispatch_table_is_bounded_by_free_text_channels():
    engine = Engine(rules.load())
    state = AccountState()
    for i in range(MAX_DISPATCH_KEYS + 50):
        ev = to_event(record(i, "PERSONAL", "DEBIT", f"RAIL_{i}", None, 4_000, {}), NOW)
        engine.step(state, ev, NOW)
    assert len(engine._dispatch) == MAX_DISPATCH_KEYS
    # Past the bound, events are still dispatched (just not remembered).
    ev = to_event(record(5, "PERSONAL", "DEBIT", "CASH_WITHDRAWAL", None, 950_000, {}), NOW)
    assert "STRUCTURING" in {d.code for d in engine.candidates(ev)}
