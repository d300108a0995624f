"""Payment amounts, in minor units (cents), drawn from the seeded generator."""

from __future__ import annotations

import random


def money(rng: random.Random, lo: float, hi: float) -> int:
    return int(round(rng.uniform(lo, hi) * 100))


def spend(rng: random.Random, median: float, lo: float, hi: float) -> int:
    """Skewed purchase amount: most small, a few large, as card spending is."""
    value = median * rng.lognormvariate(0.0, 0.55)
    return int(round(min(hi, max(lo, value)) * 100))
