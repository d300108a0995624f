"""SAR narrative draft (processors/sar.py): plain functions over an alert record."""

from __future__ import annotations

import copy
import json

from processors import sar
from schemas.codec import AvroCodec

T0 = 1_764_000_000_000  # 2025-11-24T16:00:00Z


def make_alert(
    alert_id: str = "a1b2c3d4e5f60718293a4b5c6d7e8f90",
    institution: str = "bank-us-01",
    account: str = "acct-42",
) -> dict:
    """A valid alert record (schemas/alert.avsc), checked by encoding it."""
    alert = {
        "alert_id": alert_id,
        "institution_id": institution,
        "account_id": account,
        "customer_id": "cust-7",
        "typology": "SEX_TRAFFICKING",
        "score": 1.6,
        "severity": "MEDIUM",
        "indicators": [
            {
                "code": "HOTEL_MULTI_CITY",
                "source": "FINTRAC-2016-OA003",
                "explanation": "Hotel or motel charges in 3 distinct cities within 7 days "
                "(4 charges); threshold 3 cities.",
                "window_seconds": 7 * 86_400,
                "measured": 3.0,
                "threshold": 3.0,
                "weight": 0.5,
                "event_ids": ["ev-1", "ev-2", "ev-3"],
                "detected_event_time": T0 + 3_000,
            },
            {
                "code": "LATE_NIGHT_CASH",
                "source": "FIN-2020-A008",
                "explanation": "4 cash withdrawals between 22:00 and 06:00 within 7 days; "
                "threshold 3.",
                "window_seconds": 7 * 86_400,
                "measured": 4.0,
                "threshold": 3.0,
                "weight": 0.5,
                "event_ids": ["ev-4", "ev-5"],
                "detected_event_time": T0 + 5_000,
            },
            {
                "code": "MANY_SMALL_PAYERS",
                "source": "FIN-2020-A008",
                "explanation": "12 incoming payments under 100 USD from 6 payers.",
                "window_seconds": 7 * 86_400,
                "measured": 6.0,
                "threshold": 5.0,
                "weight": 0.6,
                "event_ids": ["ev-6"],
                "detected_event_time": T0 + 6_000,
            },
        ],
        "evidence_event_ids": ["ev-1", "ev-2", "ev-3", "ev-4", "ev-5", "ev-6"],
        "first_event_time": T0,
        "last_event_time": T0 + 6_000,
        "detected_at": T0 + 60_000,
        "sar_key_term": "HUMAN TRAFFICKING FIN-2020-A008",
        "sar_field": "38(h)",
        "rule_set_version": "2026.11.0",
    }
    codec = AvroCodec("alert")
    assert codec.decode(codec.encode(alert))["alert_id"] == alert_id
    return alert


def test_draft_carries_key_term_field_and_five_ws() -> None:
    d = sar.draft(make_alert())
    md = d.markdown
    assert "HUMAN TRAFFICKING FIN-2020-A008" in md
    assert "38(h)" in md
    for section in ("**Who.**", "**What.**", "**When.**", "**Where.**", "**Why.**", "**How.**"):
        assert section in md
    assert "acct-42" in d.data["who"] and "cust-7" in d.data["who"]
    assert "bank-us-01" in d.data["who"]
    assert d.data["sar_field"] == "38(h)"
    assert d.data["sar_key_term"] == "HUMAN TRAFFICKING FIN-2020-A008"
    assert d.data["narrative_opening"].count("HUMAN TRAFFICKING FIN-2020-A008") == 1


def test_when_is_iso_utc() -> None:
    d = sar.draft(make_alert())
    assert d.data["when"]["first_event_time"] == "2025-11-24T16:00:00Z"
    assert d.data["when"]["last_event_time"] == "2025-11-24T16:00:06Z"
    assert d.data["when"]["detected_at"] == "2025-11-24T16:01:00Z"
    assert "2025-11-24T16:00:00Z" in d.markdown


def test_what_lists_each_indicator_measured_against_threshold() -> None:
    d = sar.draft(make_alert())
    items = d.data["what_items"]
    assert len(items) == 3
    assert items[1].startswith("LATE_NIGHT_CASH: measured 4 against threshold 3 over 7 days.")
    assert "12 incoming payments under 100 USD" in items[2]


def test_why_names_every_advisory() -> None:
    why = sar.draft(make_alert()).data["why"]
    assert "FINTRAC-2016-OA003" in why and "FIN-2020-A008" in why
    assert "HOTEL_MULTI_CITY (FINTRAC-2016-OA003)" in why


def test_evidence_table_rows() -> None:
    d = sar.draft(make_alert())
    rows = d.data["evidence"]
    assert [r["indicator"] for r in rows] == ["HOTEL_MULTI_CITY", "LATE_NIGHT_CASH",
                                               "MANY_SMALL_PAYERS"]  # fmt: skip
    assert rows[0]["event_ids"] == ["ev-1", "ev-2", "ev-3"]
    assert rows[2]["weight"] == 0.6
    assert (
        "| HOTEL_MULTI_CITY | FINTRAC-2016-OA003 | 3 | 3 | 0.5 | ev-1, ev-2, ev-3 |" in d.markdown
    )
    assert "| MANY_SMALL_PAYERS | FIN-2020-A008 | 6 | 5 | 0.6 | ev-6 |" in d.markdown


def test_where_uses_geographic_evidence_or_says_it_is_missing() -> None:
    with_place = sar.draft(make_alert()).data["where"]
    assert len(with_place["evidence"]) == 1
    assert with_place["evidence"][0].startswith("HOTEL_MULTI_CITY:")
    alert = make_alert()
    alert["indicators"] = alert["indicators"][1:]
    without = sar.draft(alert).data["where"]
    assert without["evidence"] == []
    assert "Location is not in the alert" in without["text"]


def test_smuggling_uses_its_own_key_term_and_box() -> None:
    alert = make_alert()
    alert.update(
        typology="HUMAN_SMUGGLING", sar_key_term="FIN-2023-HUMANSMUGGLING", sar_field="38(g)"
    )
    d = sar.draft(alert)
    assert "FIN-2023-HUMANSMUGGLING" in d.markdown and "38(g)" in d.markdown
    assert "human smuggling" in d.data["narrative_opening"]
    assert "38(h)" not in d.markdown


def test_json_is_serialisable_and_input_untouched() -> None:
    alert = make_alert()
    before = copy.deepcopy(alert)
    d = sar.draft(alert)
    assert json.loads(json.dumps(d.data))["alert_id"] == alert["alert_id"]
    assert alert == before
