"""Pacing a producer to a rate: replaying traffic at the speed a payment processor sends it.

The demo and `simulate --publish --rate` send simulated traffic at a steady rate rather than
as fast as possible, so the worker's latency is measured under a load it can keep up with.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class TokenBucket:
    """Paces to ``rate`` events/s with a small burst; waits by blocking, never by spinning."""

    def __init__(self, rate: float, wait: Callable[[float], Any] = time.sleep) -> None:
        self.rate = rate
        self.burst = max(1.0, rate / 20)  # at most 50 ms of events at once
        self.tokens = self.burst
        self.last = time.monotonic()
        self._wait = wait

    def take(self) -> None:
        while True:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            # Never less than 1 ms: librdkafka's poll() counts whole milliseconds, so a shorter
            # wait returns at once and the loop spins a core.
            self._wait(max(0.001, (1 - self.tokens) / self.rate))
