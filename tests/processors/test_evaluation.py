"""processors.evaluation on hand-built truth and alerts, expected figures reasoned out below."""

from __future__ import annotations

import pytest

from processors.evaluation import (
    NONE,
    AlertRecord,
    HitRecord,
    Truth,
    distribution,
    evaluate,
)

H = 3_600_000
ST, LT, SM = "SEX_TRAFFICKING", "LABOUR_TRAFFICKING", "HUMAN_SMUGGLING"

TRUTH = [
    Truth("st-1", ST, start_ms=0),
    Truth("st-2", ST, start_ms=10 * H),
    Truth("st-3", ST, start_ms=0),  # never alerted: a miss
    Truth("lt-1", LT, start_ms=100 * H),
    Truth("sm-1", SM, start_ms=None),  # start unknown: no time to detect
    Truth("neg-1", NONE),
    Truth("neg-2", NONE),
    Truth("neg-3", NONE),
    Truth("neg-4", NONE),
]
ALERTS = [
    # st-1 twice for ST: counted as two alerts, one account; first detection at 5 h.
    AlertRecord("st-1", ST, 20 * H, ("HOTEL_MULTI_CITY", "LATE_NIGHT_CASH")),
    AlertRecord("st-1", ST, 5 * H, ("HOTEL_MULTI_CITY", "MANY_SMALL_PAYERS")),
    AlertRecord("st-2", ST, 40 * H, ("LATE_NIGHT_CASH", "MANY_SMALL_PAYERS")),
    AlertRecord("neg-1", ST, 7 * H, ("HOTEL_MULTI_CITY", "LATE_NIGHT_CASH")),  # false alert
    AlertRecord("lt-1", ST, 101 * H, ("HOTEL_MULTI_CITY", "STRUCTURING")),  # wrong typology
    AlertRecord("bg-1", ST, 9 * H, ("HOTEL_MULTI_CITY", "STRUCTURING")),  # unlabelled account
    AlertRecord("lt-1", LT, 103 * H, ("WAGE_CAPTURE", "STRUCTURING")),
    AlertRecord("sm-1", SM, 50 * H, ("CASH_IN_WIRE_OUT", "STRUCTURING")),
]
HITS = [
    HitRecord("st-1", "HOTEL_MULTI_CITY", 4 * H, 3),
    HitRecord("neg-1", "HOTEL_MULTI_CITY", 6 * H, 2),
    HitRecord("neg-2", "HOTEL_MULTI_CITY", 6 * H, 1),  # hit, never alerted
    HitRecord("bg-1", "HOTEL_MULTI_CITY", 8 * H, 1),
    HitRecord("lt-1", "HOTEL_MULTI_CITY", 100 * H, 1),
    HitRecord("st-3", "MANY_SMALL_PAYERS", 1 * H, 4),  # hit on a missed account
]


@pytest.fixture(scope="module")
def result():
    return evaluate(
        TRUTH,
        ALERTS,
        HITS,
        typologies=[ST, LT, SM],
        indicators=["HOTEL_MULTI_CITY", "FUNNEL_ACCOUNT"],
        population=100,
    )


def by_typology(result, typ):
    return next(t for t in result.typologies if t.typology == typ)


def by_code(result, code):
    return next(i for i in result.indicators if i.code == code)


def test_sex_trafficking_precision_recall_and_false_alerts(result):
    st = by_typology(result, ST)
    assert st.alerts == 6
    # accounts alerted for ST: st-1, st-2, neg-1, lt-1, bg-1 = 5; of them ST truth: st-1, st-2
    assert st.accounts_alerted == 5
    assert st.true_positives == 2
    assert st.precision == pytest.approx(2 / 5)
    assert st.recall == pytest.approx(2 / 3)  # st-3 missed
    assert st.missed == ("st-3",)
    assert st.hard_negatives_alerted == 1 and st.hard_negative_rate == pytest.approx(1 / 4)
    assert st.wrong_typology == 1  # lt-1
    assert st.background_alerted == 1  # bg-1


def test_time_to_detect_uses_first_alert_per_account_in_event_time(result):
    st = by_typology(result, ST).time_to_detect_ms
    # st-1: first alert 5 h - start 0 = 5 h; st-2: 40 h - 10 h = 30 h.
    assert st.n == 2
    assert st.median == pytest.approx(17.5 * H)
    assert st.p90 == pytest.approx(30 * H)  # nearest rank: ceil(0.9 * 2) = 2nd value
    lt = by_typology(result, LT)
    assert (lt.precision, lt.recall, lt.time_to_detect_ms.median) == (1.0, 1.0, 3 * H)
    sm = by_typology(result, SM)
    assert sm.recall == 1.0 and sm.time_to_detect_ms.n == 0  # start unknown: left out
    assert sm.time_to_detect_ms.median is None


def test_overall_rates(result):
    assert result.positives == 5
    assert result.detected_any == 4  # all but st-3
    assert result.recall_any == pytest.approx(4 / 5)
    assert result.hard_negatives == 4 and result.hard_negatives_alerted == 1
    assert result.hard_negative_rate == pytest.approx(0.25)
    # 100 accounts, 9 labelled -> 91 unlabelled; bg-1 alerted
    assert result.background_alerted == 1
    assert result.background_rate == pytest.approx(1 / 91)
    assert result.alerts == len(ALERTS)


def test_per_indicator_hits_alerts_and_precision(result):
    hotel = by_code(result, "HOTEL_MULTI_CITY")
    assert hotel.hits == 3 + 2 + 1 + 1 + 1
    # accounts hit: st-1, neg-1, neg-2, bg-1, lt-1; positives among them: st-1, lt-1
    assert hotel.accounts_hit == 5
    assert hotel.positives_hit == 2 and hotel.hard_negatives_hit == 2
    assert hotel.precision == pytest.approx(2 / 5)
    assert hotel.recall == pytest.approx(2 / 5)  # 5 labelled positives in all
    # alerts with HOTEL: st-1 x2, neg-1, lt-1 (ST), bg-1 = 5 alerts on 4 accounts;
    # the alert's typology matches the truth only on st-1.
    assert hotel.alerts == 5 and hotel.accounts_alerted == 4
    assert hotel.alerted_positives == 1
    assert hotel.alert_precision == pytest.approx(1 / 4)

    msp = by_code(result, "MANY_SMALL_PAYERS")
    assert (msp.hits, msp.accounts_hit, msp.positives_hit) == (4, 1, 1)
    assert msp.alerts == 2 and msp.alert_precision == 1.0

    structuring = by_code(result, "STRUCTURING")
    assert structuring.hits == 0 and structuring.precision is None  # only seen in alerts
    assert structuring.alerts == 4 and structuring.accounts_alerted == 3  # lt-1, bg-1, sm-1
    # lt-1 (LT alert) and sm-1 match; lt-1's ST alert and bg-1 do not -> accounts lt-1, sm-1
    assert structuring.alerted_positives == 2


def test_requested_rows_are_reported_even_when_empty(result):
    funnel = by_code(result, "FUNNEL_ACCOUNT")
    assert (funnel.hits, funnel.alerts, funnel.precision, funnel.recall) == (0, 0, None, 0.0)
    assert [t.typology for t in result.typologies] == [ST, LT, SM]
    assert [i.code for i in result.indicators][:2] == ["HOTEL_MULTI_CITY", "FUNNEL_ACCOUNT"]


def test_no_truth_and_no_alerts_give_no_ratios():
    empty = evaluate([], [], typologies=[ST])
    st = empty.typologies[0]
    assert (st.precision, st.recall, st.hard_negative_rate) == (None, None, None)
    assert empty.recall_any is None and empty.background_rate is None


def test_distribution_nearest_rank():
    d = distribution([float(v) for v in range(1, 11)])  # 1..10
    assert (d.n, d.median, d.p90) == (10, 5.5, 9.0)
    assert distribution([]).median is None
