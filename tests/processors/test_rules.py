"""The rule set: the shipped defaults load, and every error names the key path that is wrong."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from config.settings import load as load_settings
from processors import rules
from processors.engine import Engine
from processors.indicators import CATALOG
from processors.model import Severity, Typology
from processors.replay import run
from processors.state import AccountState
from processors.validation import to_event
from schemas.codec import AvroCodec
from streams.pipeline import PaymentPipeline

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NOW = T0 + 30 * DAY


def default_doc() -> dict[str, Any]:
    return copy.deepcopy(rules.default_document())


def parse_error(doc: Any) -> str:
    with pytest.raises(rules.RuleError) as info:
        rules.parse(doc)
    return str(info.value)


def test_default_rules_load_and_match_the_document():
    doc = rules.default_document()
    rs = rules.load()
    assert rs.version == doc["version"] and rs.version
    assert {d.code for d in rs.detectors} == set(CATALOG) == set(doc["indicators"])
    assert set(rs.typologies) == set(Typology)
    assert rs.score_window_ms == doc["score_window_hours"] * HOUR
    assert rs.cooldown_ms == doc["cooldown_hours"] * HOUR
    # Bands sorted highest first, whatever order the document lists them in.
    floors = [f for f, _ in rs.severity_bands]
    assert floors == sorted(floors, reverse=True)
    assert [lvl for _, lvl in rs.severity_bands] == [
        Severity.CRITICAL,
        Severity.HIGH,
        Severity.MEDIUM,
    ]
    # Parameters in the document reach the detectors.
    for det in rs.detectors:
        for key, value in doc["indicators"][det.code].get("params", {}).items():
            assert det.params[key] == value
        assert det.window_ms == det.params["window_hours"] * HOUR
    # Every weight refers to a typology its detector declares.
    for det in rs.detectors:
        assert set(rs.weights[det.code]) <= set(det.typologies)


def test_load_of_a_file_equals_parse_of_its_content(tmp_path: Path):
    doc = default_doc()
    doc["version"] = "file-1"
    doc["indicators"]["HOTEL_MULTI_CITY"]["params"]["min_cities"] = 4
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(doc))
    rs = rules.load(path)
    assert rs.version == "file-1"
    hotel = next(d for d in rs.detectors if d.code == "HOTEL_MULTI_CITY")
    assert hotel.params["min_cities"] == 4


def test_unknown_indicator_code_is_named():
    doc = default_doc()
    doc["indicators"]["HOTEL_MULTY_CITY"] = doc["indicators"]["HOTEL_MULTI_CITY"]
    msg = parse_error(doc)
    assert "indicators" in msg and "HOTEL_MULTY_CITY" in msg


def test_unknown_param_is_named_with_its_path():
    doc = default_doc()
    doc["indicators"]["WAGE_CAPTURE"]["params"]["min_worker"] = 3
    msg = parse_error(doc)
    assert "indicators.WAGE_CAPTURE.params" in msg and "min_worker" in msg


def test_non_numeric_threshold_is_named():
    doc = default_doc()
    doc["typologies"]["HUMAN_SMUGGLING"]["threshold"] = "1.0"
    msg = parse_error(doc)
    assert "typologies.HUMAN_SMUGGLING.threshold" in msg


@pytest.mark.parametrize("bad", [True, None, [1], 0, -0.5])
def test_threshold_must_be_a_positive_number(bad):
    doc = default_doc()
    doc["typologies"]["SEX_TRAFFICKING"]["threshold"] = bad
    assert "typologies.SEX_TRAFFICKING.threshold" in parse_error(doc)


def test_non_numeric_param_is_named():
    doc = default_doc()
    doc["indicators"]["STRUCTURING"]["params"]["min_count"] = "three"
    assert "indicators.STRUCTURING.params.min_count" in parse_error(doc)


def test_list_param_must_be_strings():
    doc = default_doc()
    doc["indicators"]["CASH_IN_WIRE_OUT"]["params"]["corridors"] = ["MX", 7]
    assert "indicators.CASH_IN_WIRE_OUT.params.corridors" in parse_error(doc)
    doc["indicators"]["CASH_IN_WIRE_OUT"]["params"]["corridors"] = ["MX", "GT"]
    det = next(d for d in rules.parse(doc).detectors if d.code == "CASH_IN_WIRE_OUT")
    assert det.params["corridors"] == ["MX", "GT"]


def test_weight_for_unsupported_typology_is_named():
    # LATE_NIGHT_CASH is a sex-trafficking indicator only.
    assert Typology.HUMAN_SMUGGLING not in CATALOG["LATE_NIGHT_CASH"].typologies
    doc = default_doc()
    doc["indicators"]["LATE_NIGHT_CASH"]["weights"]["HUMAN_SMUGGLING"] = 0.2
    msg = parse_error(doc)
    assert "indicators.LATE_NIGHT_CASH.weights" in msg and "HUMAN_SMUGGLING" in msg


def test_non_numeric_weight_is_named():
    doc = default_doc()
    doc["indicators"]["FUNNEL_ACCOUNT"]["weights"]["SEX_TRAFFICKING"] = "high"
    assert "indicators.FUNNEL_ACCOUNT.weights.SEX_TRAFFICKING" in parse_error(doc)


def test_missing_typology_is_named():
    doc = default_doc()
    del doc["typologies"]["LABOUR_TRAFFICKING"]
    msg = parse_error(doc)
    assert "typologies" in msg and "missing" in msg and "LABOUR_TRAFFICKING" in msg


def test_missing_typology_field_is_named():
    doc = default_doc()
    del doc["typologies"]["HUMAN_SMUGGLING"]["sar_field"]
    msg = parse_error(doc)
    assert "typologies.HUMAN_SMUGGLING" in msg and "sar_field" in msg


@pytest.mark.parametrize("key", ["version", "severity_bands", "cooldown_hours"])
def test_missing_top_level_key_is_named(key):
    doc = default_doc()
    del doc[key]
    msg = parse_error(doc)
    assert "<root>" in msg and key in msg


def test_enabled_must_be_boolean():
    doc = default_doc()
    doc["indicators"]["STRUCTURING"]["enabled"] = "yes"
    assert "indicators.STRUCTURING.enabled" in parse_error(doc)


def test_empty_version_and_bad_band_are_named():
    doc = default_doc()
    doc["version"] = ""
    assert "version" in parse_error(doc)
    doc = default_doc()
    doc["severity_bands"]["HIGH"] = "1.8"
    assert "severity_bands.HIGH" in parse_error(doc)
    doc = default_doc()
    doc["severity_bands"]["LOW"] = 0.1
    msg = parse_error(doc)
    assert "severity_bands" in msg and "LOW" in msg


def test_document_that_is_not_an_object():
    assert "<root>" in parse_error([])


def test_bad_json_file_names_the_file(tmp_path: Path):
    path = tmp_path / "broken-rules.json"
    path.write_text('{"version": "x",,}')
    with pytest.raises(rules.RuleError) as info:
        rules.load(path)
    assert str(path) in str(info.value)
    assert "JSON" in str(info.value)


def _hotel(event_id: str, t: int, city: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_time": t,
        "institution_id": "bank-1",
        "account_id": "acct-1",
        "customer_id": "cust-1",
        "direction": "DEBIT",
        "channel": "CARD_PRESENT",
        "amount_minor": 15_000,
        "currency": "USD",
        "merchant": {"merchant_id": f"m-{city}", "mcc": "7011", "city": city},
    }


def _hotel_hits(rs: rules.RuleSet) -> list[str]:
    engine, state = Engine(rs), AccountState()
    codes = []
    for i, city in enumerate(["Reno", "Fresno", "Eugene"]):
        result = engine.step(state, to_event(_hotel(f"h{i}", T0 + i * DAY, city), NOW), NOW)
        codes.extend(h.code for h in result.hits)
    return codes


def test_disabled_indicator_is_not_run():
    assert _hotel_hits(rules.load()) == ["HOTEL_MULTI_CITY"]  # control: it fires when enabled
    doc = default_doc()
    doc["indicators"]["HOTEL_MULTI_CITY"]["enabled"] = False
    rs = rules.parse(doc)
    assert "HOTEL_MULTI_CITY" not in {d.code for d in rs.detectors}
    assert "HOTEL_MULTI_CITY" not in rs.weights
    assert _hotel_hits(rs) == []


def test_omitted_indicator_is_not_run():
    doc = default_doc()
    del doc["indicators"]["HOTEL_MULTI_CITY"]
    assert _hotel_hits(rules.parse(doc)) == []


def test_param_override_changes_detection():
    doc = default_doc()
    doc["indicators"]["HOTEL_MULTI_CITY"]["params"]["min_cities"] = 4
    assert _hotel_hits(rules.parse(doc)) == []


# --- reference exchange rates (fx_usd_per_unit) ------------------------------------------


def aed_cash(n: int) -> list[dict[str, Any]]:
    """Cash deposits of AED 34,900 (about US$9,500 at 0.2723): just under the US$10,000 CTR."""
    return [
        {"event_id": f"aed-{i}", "event_time": T0 + i * DAY, "institution_id": "msb-ae",
         "account_id": "acct-aed", "customer_id": "cust-aed", "direction": "CREDIT",
         "channel": "CASH_DEPOSIT", "amount_minor": 3_490_000, "currency": "AED"}
        for i in range(n)
    ]  # fmt: skip


def test_fx_rates_in_the_rule_set_extend_and_override_the_reference_rates():
    doc = default_doc()
    doc["fx_usd_per_unit"] = {"AED": 0.2723, "CAD": 0.70}
    rs = rules.parse(doc)
    assert rs.usd_per_unit["AED"] == 0.2723 and rs.usd_per_unit["CAD"] == 0.70
    assert rs.usd_per_unit["USD"] == 1.0  # the rest stay the reference rates
    assert "AED" not in rules.load().usd_per_unit


@pytest.mark.parametrize(
    ("fx", "path"),
    [
        ({"XYZ": 1.0}, "fx_usd_per_unit.XYZ: not an ISO 4217"),
        ({"AED": 0}, "fx_usd_per_unit.AED: must be positive"),
        ({"AED": "0.27"}, "fx_usd_per_unit.AED: must be a number"),
        ([["AED", 0.27]], "fx_usd_per_unit: must be an object"),
    ],
)
def test_bad_fx_rates_name_the_key(fx, path):
    doc = default_doc()
    doc["fx_usd_per_unit"] = fx
    assert path in parse_error(doc)


def test_a_currency_gets_usd_thresholds_only_once_the_rule_set_gives_it_a_rate():
    doc = default_doc()
    without = run(aed_cash(3), Engine(rules.parse(doc)), NOW)
    doc["fx_usd_per_unit"] = {"AED": 0.2723}
    with_rate = run(aed_cash(3), Engine(rules.parse(doc)), NOW)
    assert without.processed == with_rate.processed == 3
    assert ("acct-aed", "STRUCTURING") not in without.hits
    assert with_rate.hits[("acct-aed", "STRUCTURING")][1] >= 1


def test_the_worker_decodes_with_the_rates_of_the_rule_set_in_force():
    doc = default_doc()
    pipeline = PaymentPipeline(load_settings({}), rules.parse(doc))
    [record] = aed_cash(1)
    value = AvroCodec("payment_event").encode(record)
    assert pipeline.parse(b"acct-aed", value, NOW).amount_usd == -1.0  # no rate: no USD
    doc["fx_usd_per_unit"] = {"AED": 0.2723}
    pipeline.use_rules(rules.parse(doc))  # a hot reload brings the rate
    assert pipeline.parse(b"acct-aed", value, NOW).amount_usd == pytest.approx(9503.27)
