"""The desk's queue logic (desk/queue.py): states, filters and sorting, over plain data."""

from __future__ import annotations

from datetime import date

import pytest

from desk import queue
from desk.queue import FilterError, Filters, classify, select
from institutions.client import UNASSIGNED, Case, PendingCase
from tests.processors.test_sar import make_alert

DAY_MS = 86_400_000


def case(
    entry: str,
    score: float,
    typology: str = "SEX_TRAFFICKING",
    severity: str = "MEDIUM",
    codes: tuple[str, ...] = ("HOTEL_MULTI_CITY",),
    day: int = 0,
) -> Case:
    alert = make_alert(alert_id=f"a-{entry}")
    alert.update(score=score, typology=typology, severity=severity)
    alert["detected_at"] += day * DAY_MS
    alert["indicators"] = [dict(alert["indicators"][0], code=c) for c in codes]
    return Case(entry, {}, alert)


CASES = [
    case("100-0", 1.2, day=0),  # delivered, acknowledged: closed
    case("200-0", 2.5, "LABOUR_TRAFFICKING", "HIGH", ("WAGE_CAPTURE",), day=1),  # pending: ana
    case("300-0", 0.9, day=2),  # pending: bob
    case("400-0", 1.8, "HUMAN_SMUGGLING", "HIGH", ("STRUCTURING", "CASH_IN_WIRE_OUT"), day=3),
    case("500-0", 3.1, day=4),  # released
]
PENDING = [
    PendingCase("200-0", "ana", 5_000, 1),
    PendingCase("300-0", "bob", 60_000, 2),
    PendingCase("500-0", UNASSIGNED, 1_000, 1),
]
LAST_DELIVERED = "300-0"  # 400-0 is after it: new; 500-0 is pending although later (claim_new)


def rows():
    return classify(CASES, LAST_DELIVERED, PENDING, {"a-100-0": {"outcome": "VALUABLE"}})


def test_each_case_gets_its_state() -> None:
    states = {r.case.entry_id: r.state for r in rows()}
    assert states == {
        "100-0": "closed",
        "200-0": "pending",
        "300-0": "pending",
        "400-0": "new",
        "500-0": "pending",
    }
    closed = next(r for r in rows() if r.state == "closed")
    assert closed.outcome == {"outcome": "VALUABLE"}
    assert queue.counts(rows(), "ana") == {"new": 1, "pending": 3, "mine": 1, "closed": 1}
    assert queue.counts(rows(), "carol")["mine"] == 0


def test_views_and_sort_by_score() -> None:
    pending = select(rows(), Filters(view="pending"), "ana")
    assert [r.case.entry_id for r in pending] == ["500-0", "200-0", "300-0"]  # 3.1, 2.5, 0.9
    ascending = select(rows(), Filters(view="pending", sort="score-asc"), "ana")
    assert [r.case.entry_id for r in ascending] == ["300-0", "200-0", "500-0"]
    newest = select(rows(), Filters(view="pending", sort="newest"), "ana")
    assert [r.case.entry_id for r in newest] == ["500-0", "300-0", "200-0"]
    assert [r.case.entry_id for r in select(rows(), Filters(view="mine"), "ana")] == ["200-0"]
    assert [r.case.entry_id for r in select(rows(), Filters(view="mine"), "bob")] == ["300-0"]
    row = next(r for r in rows() if r.case.entry_id == "500-0")
    assert row.to_json()["unassigned"] is True and row.to_json()["state"] == "pending"


def test_filters_narrow_the_view() -> None:
    def ids(**kw) -> list[str]:
        return [r.case.entry_id for r in select(rows(), Filters(view="pending", **kw), "x")]

    assert ids(typology="LABOUR_TRAFFICKING") == ["200-0"]
    assert ids(severity="MEDIUM") == ["500-0", "300-0"]
    assert ids(indicator="WAGE_CAPTURE") == ["200-0"]
    assert ids(indicator="STRUCTURING") == []  # 400-0 has it, but it is new, not pending
    t0 = make_alert()["detected_at"]
    first_day = date.fromtimestamp(t0 / 1000)
    assert ids(raised_from=date.fromordinal(first_day.toordinal() + 2)) == ["500-0", "300-0"]
    assert ids(raised_to=date.fromordinal(first_day.toordinal() + 1)) == ["200-0"]


def test_parse_refuses_unknown_values_by_name() -> None:
    codes = {"HOTEL_MULTI_CITY", "WAGE_CAPTURE"}
    f = Filters.parse(
        {
            "view": "mine",
            "typology": "HUMAN_SMUGGLING",
            "from": "2026-01-02",
            "indicator": "WAGE_CAPTURE",
            "sort": "newest",
        },
        codes,
    )
    assert (f.view, f.typology, f.indicator, f.sort) == (
        "mine",
        "HUMAN_SMUGGLING",
        "WAGE_CAPTURE",
        "newest",
    )
    assert f.raised_from == date(2026, 1, 2)
    assert Filters.parse({}, codes) == Filters()
    for params, name in [
        ({"view": "all"}, "view"),
        ({"typology": "FRAUD"}, "typology"),
        ({"indicator": "NOPE"}, "indicator"),
        ({"from": "yesterday"}, "from"),
        ({"sort": "random"}, "sort"),
        ({"severity": "low"}, "severity"),
    ]:
        with pytest.raises(FilterError, match=name):
            Filters.parse(params, codes)
    with pytest.raises(FilterError, match="before"):
        Filters.parse({"from": "2026-02-01", "to": "2026-01-01"}, codes)
    assert f.query(view="new") == {
        "view": "new",
        "typology": "HUMAN_SMUGGLING",
        "indicator": "WAGE_CAPTURE",
        "from": "2026-01-02",
        "sort": "newest",
    }
