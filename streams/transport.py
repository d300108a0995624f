"""Faust's aiokafka transport, with each fetch given a fixed set of partitions.

Why: Faust hands its live ``_active_partitions`` set to aiokafka's
``Fetcher.fetched_records``, which runs on the consumer thread, re-reads the set whenever
a fetch wakes it, and takes an *empty* set to mean "every assigned partition". During a
changelog recovery only the changelog partitions are active; when recovery ends, Faust
pauses them and only later (``Recovery.on_recovery_completed``) resumes the input
partitions. A fetch that runs in between, on the other thread, sees the empty set and
takes the records aiokafka had buffered for the input partitions; Faust's ``getmany`` then
drops them (their partitions are not active) and aiokafka's position is already past them.
The committed-offset seek that follows brings them back only where a committed offset
exists: aiokafka's ``seek_to_committed`` skips partitions with none (or at 0). So a worker
restarted before its first commit could skip its whole backlog and sit idle: the
"restarted worker stall" (docs/known-issues.md).

The fix: hand the consumer thread an immutable snapshot of the active partitions taken
when the fetch is issued. Faust issues a fetch only while the set is non-empty, so the
snapshot never means "all partitions"; an empty one is refused all the same.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP


class Consumer(faust_aiokafka.Consumer):
    """aiokafka consumer whose fetches see the active partitions as they were when issued."""

    async def _getmany(self, active_partitions: Set[TP] | None, timeout: float) -> Any:
        if active_partitions is None:  # client-only apps: no partition filter at all
            return await super()._getmany(None, timeout)
        snapshot = frozenset(active_partitions)
        if not snapshot:  # to aiokafka, no partitions means all of them
            return {}
        return await super()._getmany(snapshot, timeout)


class Transport(faust_aiokafka.Transport):
    """The ``kafka://`` transport with :class:`Consumer`."""

    Consumer = Consumer


def install(app: Any) -> None:
    """Make ``app`` consume through :class:`Transport` (call before the app is used)."""
    app.transport = Transport(app.conf.broker_consumer, app)
