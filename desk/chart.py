"""The case page's evidence timeline: one lane per indicator, as server-rendered SVG.

What the alert tells about time, per indicator: the look-back window its measurement covers,
ending at the event that made it fire (detected_event_time), and how many events make up the
measurement; for the whole alert, the first and last evidence event times. The alert does not
carry each event's own time, so the chart draws, per lane, the window (thin), the stretch of
it where its events can lie, from the alert's first evidence event on (thick), the firing
event (a diamond) and the number of events, over the alert's evidence span (shaded). Event
times and places come from the institution's own records, as the SAR draft says.

Hand-written SVG: a few rectangles and lines, no chart library, no script; the page stays a
plain server-rendered document that Content-Security-Policy can lock down.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

WIDTH = 820
LABEL_W = 190
RIGHT_PAD = 70
TOP = 34
LANE_H = 30
BOTTOM = 26
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# Tick spacings to choose from, so a window of hours or of weeks gets a handful of ticks.
STEPS_MS = (
    HOUR_MS, 3 * HOUR_MS, 6 * HOUR_MS, 12 * HOUR_MS,
    DAY_MS, 2 * DAY_MS, 7 * DAY_MS, 14 * DAY_MS, 30 * DAY_MS, 90 * DAY_MS,
)  # fmt: skip
MAX_TICKS = 8


def _utc(ms: int, fmt: str) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime(fmt)


def lanes(alert: dict[str, Any]) -> list[dict[str, Any]]:
    """Per indicator: window start, where its events can start, fire time, event count."""
    first = int(alert["first_event_time"])
    out = []
    for hit in alert["indicators"]:
        fired = int(hit["detected_event_time"])
        window_start = fired - int(hit["window_seconds"]) * 1000
        out.append(
            {
                "code": hit["code"],
                "window_start": window_start,
                "events_from": min(fired, max(window_start, first)),
                "fired": fired,
                "events": len(hit["event_ids"]),
            }
        )
    return out


def domain(alert: dict[str, Any], rows: list[dict[str, Any]]) -> tuple[int, int]:
    """The time range drawn: every window and the evidence span, never empty."""
    start = min([int(alert["first_event_time"]), *(r["window_start"] for r in rows)])
    end = max([int(alert["last_event_time"]), *(r["fired"] for r in rows)])
    if end - start < HOUR_MS:
        end = start + HOUR_MS
    return start, end


def ticks(start: int, end: int) -> list[int]:
    """Tick times on round UTC boundaries, at most MAX_TICKS of them."""
    span = end - start
    step = next((s for s in STEPS_MS if span / s <= MAX_TICKS), STEPS_MS[-1])
    first = -(-start // step) * step  # the first multiple of step at or after start
    return list(range(first, end + 1, step))


def timeline_svg(alert: dict[str, Any]) -> str:
    rows = lanes(alert)
    start, end = domain(alert, rows)
    plot_w = WIDTH - LABEL_W - RIGHT_PAD
    height = TOP + LANE_H * max(1, len(rows)) + BOTTOM

    def x(ms: int) -> float:
        return round(LABEL_W + (ms - start) / (end - start) * plot_w, 1)

    span_ms = end - start
    fmt = "%m-%d" if span_ms > 3 * DAY_MS else "%m-%d %H:%M"
    first, last = int(alert["first_event_time"]), int(alert["last_event_time"])
    title = (
        f"Evidence timeline of alert {alert['alert_id']}: {len(rows)} indicator(s), "
        f"evidence from {_utc(first, '%Y-%m-%d %H:%M')} to {_utc(last, '%Y-%m-%d %H:%M')} UTC"
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" role="img" '
        f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
        f'font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect class="evidence-span" x="{x(first)}" y="{TOP - 6}" '
        f'width="{max(2.0, x(last) - x(first))}" height="{LANE_H * len(rows) + 6}" '
        f'fill="#fde9c9"><title>evidence span {escape(_utc(first, "%Y-%m-%d %H:%M"))} to '
        f"{escape(_utc(last, '%Y-%m-%d %H:%M'))} UTC</title></rect>",
    ]
    axis_y = TOP + LANE_H * len(rows)
    for tick in ticks(start, end):
        out.append(
            f'<line x1="{x(tick)}" y1="{TOP - 10}" x2="{x(tick)}" y2="{axis_y}" '
            f'stroke="#d0d4da" stroke-width="1"/>'
            f'<text x="{x(tick)}" y="{axis_y + 16}" text-anchor="middle" fill="#4a5361">'
            f"{escape(_utc(tick, fmt))}</text>"
        )
    out.append(
        f'<text x="{LABEL_W}" y="{TOP - 16}" fill="#4a5361">UTC; shaded: the alert\'s '
        f"evidence span; diamond: the event that made the indicator fire</text>"
    )
    for i, row in enumerate(rows):
        y = TOP + i * LANE_H + LANE_H // 2
        code = escape(row["code"])
        events = row["events"]
        tip = (
            f"{row['code']}: {events} event(s); window "
            f"{_utc(row['window_start'], '%Y-%m-%d %H:%M')} to "
            f"{_utc(row['fired'], '%Y-%m-%d %H:%M')} UTC"
        )
        fx = x(row["fired"])
        out.append(
            f'<g class="lane" data-indicator="{code}"><title>{escape(tip)}</title>'
            f'<text x="{LABEL_W - 8}" y="{y + 4}" text-anchor="end" fill="#1d2733">{code}</text>'
            f'<line x1="{x(row["window_start"])}" y1="{y}" x2="{fx}" y2="{y}" '
            f'stroke="#8aa4c8" stroke-width="2"/>'
            f'<rect class="events" x="{x(row["events_from"])}" y="{y - 6}" '
            f'width="{max(3.0, fx - x(row["events_from"]))}" height="12" rx="3" '
            f'fill="#2f6fb3"/>'
            f'<path class="fired" d="M{fx} {y - 8} L{fx + 7} {y} L{fx} {y + 8} L{fx - 7} {y} Z" '
            f'fill="#c0392b"/>'
            f'<text x="{fx + 11}" y="{y + 4}" fill="#1d2733">{events} ev</text></g>'
        )
    out.append(
        f'<line x1="{LABEL_W}" y1="{axis_y}" x2="{LABEL_W + plot_w}" y2="{axis_y}" '
        f'stroke="#4a5361" stroke-width="1"/>'
    )
    out.append("</svg>")
    return "".join(out)
