"""Time in the simulated world: units, local hours of day, and when things happen.

Everything is UTC milliseconds plus a city's UTC offset (geography.utc_offset); the helpers
here pick instants at a local hour, inside a window, or spread over an episode, each from the
seeded generator they are given (never the global one), so a seed replays exactly.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MIN_MS = 60_000
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def at_hour(rng: random.Random, t_from: int, offset: int, hour: int) -> int:
    """First instant >= t_from whose local hour is ``hour`` (random second within it)."""
    off = offset * MIN_MS
    local = t_from + off
    cand = local - local % DAY_MS + hour * HOUR_MS + rng.randrange(3600) * 1000
    if cand < local:
        cand += DAY_MS
    return cand - off


def cum(weights: Sequence[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


ALL_HOURS = range(24)
# Card spending by local hour: mostly daytime, a thin tail into the night.
SHOPPING_HOURS = cum(
    [0.3, 0.2, 0.1, 0.1, 0.1, 0.3, 1, 2.5, 4, 5, 6, 7, 8, 7, 6, 6, 7, 8, 8, 6, 4, 2.5, 1.2, 0.6]
)
# ATM use by local hour; about 3.5% falls in 22:00-06:00.
ATM_HOURS = cum(
    [0.2, 0.1, 0.05, 0.05, 0.05, 0.2, 0.8, 2, 4, 5, 6, 6, 6, 6, 5, 5, 5, 5, 4, 3, 2, 1, 0.5, 0.3]
)
DAY_HOURS = tuple(range(8, 19))
BUSINESS_HOURS = tuple(range(9, 17))
ACH_HOURS = (3, 4, 5, 6)
NIGHT_HOURS = (22, 23, 0, 1, 2, 3, 4, 5)


def in_window(rng: random.Random, t_from: int, t_to: int, off: int, hours: Sequence[int]) -> int:
    """A time in one of ``hours`` local if [t_from, t_to) has one; else anywhere in the window.

    Short runs compress scenarios into less than a day per step; keeping every event inside
    its step matters more there than the hour of day.
    """
    t = at_hour(rng, t_from, off, rng.choice(hours))
    if t < t_to:
        return t
    return rng.randrange(t_from, max(t_from + 1, t_to))


def episode_starts(rng: random.Random, lo: int, hi: int, length: int, gap: int) -> list[int]:
    """One or two episode start times that fit [lo, hi); the second only if there is room."""
    room = hi - lo - length
    if room <= 0:
        return [lo]
    first = lo + rng.randrange(0, max(1, min(room, 4 * DAY_MS)))
    starts = [first]
    second = first + length + gap
    if second + length <= hi and rng.random() < 0.6:
        starts.append(second + rng.randrange(0, max(1, min(hi - second - length, 3 * DAY_MS))))
    return starts


def episode(rng: random.Random, lo: int, hi: int, length: int) -> int:
    """Start of one episode of ``length`` inside [lo, hi): early enough to finish in the run."""
    room = hi - lo - length
    return lo + (rng.randrange(0, min(room, 10 * DAY_MS)) if room > 0 else 0)


def times(rng: random.Random, t0: int, span: int, n: int, off: int, hours: Sequence[int]) -> list:
    """``n`` sorted times in [t0, t0 + span), each at one of ``hours`` local where possible."""
    out = []
    for _ in range(n):
        t = t0 + rng.randrange(max(1, span - HOUR_MS))
        out.append(in_window(rng, t, t0 + span, off, hours))
    return sorted(out)
