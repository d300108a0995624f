"""The evidence timeline (desk/chart.py): lanes, time range, ticks, valid SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from desk import chart
from tests.processors.test_sar import T0, make_alert

DAY = chart.DAY_MS
SVG = "{http://www.w3.org/2000/svg}"


def spread_alert() -> dict:
    alert = make_alert()
    alert["first_event_time"] = T0 - 5 * DAY
    alert["last_event_time"] = T0
    for i, hit in enumerate(alert["indicators"]):
        hit["detected_event_time"] = T0 - (2 - i) * DAY
    return alert


def test_lanes_follow_each_indicator_window() -> None:
    alert = spread_alert()
    lanes = chart.lanes(alert)
    assert [lane["code"] for lane in lanes] == [h["code"] for h in alert["indicators"]]
    first = lanes[0]
    assert first["fired"] == T0 - 2 * DAY
    assert first["window_start"] == T0 - 9 * DAY  # 7-day window before it fired
    assert first["events_from"] == T0 - 5 * DAY  # no evidence before the alert's first event
    assert [lane["events"] for lane in lanes] == [3, 2, 1]
    start, end = chart.domain(alert, lanes)
    assert (start, end) == (T0 - 9 * DAY, T0)


def test_ticks_are_round_and_few() -> None:
    start, end = T0 - 9 * DAY, T0
    ticks = chart.ticks(start, end)
    assert 2 <= len(ticks) <= chart.MAX_TICKS
    assert all(start <= t <= end for t in ticks)
    step = ticks[1] - ticks[0]
    assert step in chart.STEPS_MS and all(t % step == 0 for t in ticks)
    assert len(chart.ticks(T0, T0 + 3 * chart.HOUR_MS)) >= 3  # hours for a short alert


def test_svg_is_well_formed_with_one_lane_per_indicator() -> None:
    alert = spread_alert()
    alert["indicators"][0]["code"] = "A<B&C"  # escaped, not markup
    svg = chart.timeline_svg(alert)
    root = ET.fromstring(svg)
    lanes = root.findall(f"{SVG}g")
    assert [g.get("data-indicator") for g in lanes] == [
        "A<B&C",
        "LATE_NIGHT_CASH",
        "MANY_SMALL_PAYERS",
    ]
    for g in lanes:
        assert g.find(f"{SVG}rect[@class='events']") is not None
        assert g.find(f"{SVG}path[@class='fired']") is not None
    xs = [float(g.find(f"{SVG}path").get("d").split()[0][1:]) for g in lanes]
    assert xs == sorted(xs) and xs[0] < xs[-1]  # fired one day apart, left to right
    assert root.find(f"{SVG}title").text.startswith(
        f"Evidence timeline of alert {alert['alert_id']}"
    )
    assert "<script" not in svg
