"""Batches from a Faust stream that are as large as the backlog and no later than needed.

Faust's ``take_events(max, within)`` hands over a batch when ``max`` events are buffered or
``within`` has passed, and only then. A short ``within`` keeps latency low when traffic is
light but cuts a backlog into many small batches, and every batch costs a round of table
writes, producer requests, commits and broker work on the cores the broker shares: on this
machine the worker drained a backlog at about 800 events/s with 5 ms and 1,350 with 50 ms
(docs/benchmarks.md). A long ``within`` makes every lone event wait for it.

``take_settled`` hands the batch over as soon as the buffer stops growing for ``settle``
seconds (nothing more is waiting in the consumer: light traffic pays about ``settle``), at
``max`` events, or ``within`` after the batch's first event while a backlog keeps it growing.

A worker far behind (``backlog()`` at least ``max`` records when a batch starts: after a
restart, an outage upstream, a burst) lets its batch grow for ``within_backlog`` instead,
and a pause between two fetches does not end it (the records are there). Taking events off
the stream costs Faust about as much as detecting on them, so a short ``within`` cuts a
backlog into batches of a few hundred, and every batch writes each account it touched once:
larger batches write fewer, larger-per-batch but fewer-per-event states (docs/benchmarks.md).
The events of a backlog wait anyway; paced traffic, which the worker keeps up with, still
goes at ``within``.

The stream's own acks are off while this runs, and a batch's events are acked only when the
caller asks for the next batch, that is after it has processed them; a crash or an error
before then leaves them unacked, so they are delivered again (and recognised as seen by the
account state, processors/state.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any


async def take_settled(
    stream: Any,
    max_: int,
    settle: float,
    within: float,
    backlog: Callable[[], int] | None = None,
    within_backlog: float = 0.0,
) -> AsyncIterator[list[Any]]:
    events: list[Any] = []
    full = asyncio.Event()
    open_ = asyncio.Event()  # cleared while the caller holds a batch, or the buffer is full
    open_.set()

    async def collect(value: Any) -> Any:
        # Runs in the stream's passive drainer, once per event, with the event current.
        while not open_.is_set():
            await open_.wait()
        event = stream.current_event
        if event is None:  # pragma: no cover (Faust sets it before its processors run)
            raise RuntimeError("take_settled: the stream has no current event")
        events.append(event)
        if len(events) >= max_:
            full.set()
            open_.clear()
        return value

    loop = asyncio.get_running_loop()
    acks = stream.enable_acks
    stream.enable_acks = False
    stream.add_processor(collect)
    # The stream is drained in the background into ``collect``, as take_events does.
    stream._enable_passive(stream.channel.__aiter__())
    try:
        while not stream.should_stop:
            first_at = 0.0
            limit = within
            behind = False
            seen = 0
            while not full.is_set():
                await stream.wait_for_stopped(full, timeout=settle)
                n = len(events)
                if n == 0:
                    continue
                if seen == 0:
                    first_at = loop.time()
                    behind = backlog is not None and backlog() >= max_
                    limit = max(within, within_backlog) if behind else within
                elif (n == seen and not behind) or loop.time() - first_at >= limit:
                    break
                seen = n
            open_.clear()  # no await since the check: the batch is exactly ``events``
            batch = list(events)
            # Closed here (the agent stopped, or the caller raised), the batch stays unacked:
            # its offsets are not committed and it is delivered again. Faust's take_events
            # acks it in a finally, which would let a failed batch be committed.
            yield batch
            events.clear()
            for event in batch:
                await stream.ack(event)
            full.clear()
            open_.set()
    finally:
        stream.enable_acks = acks
        stream._processors.remove(collect)


def partition_backlog(consumer: Any, read_offsets: Any, committed: Any, tp: Any) -> int | None:
    """Records of ``tp`` beyond what the stream has taken, from the consumer's last fetch
    response (highwater) and the stream's read offset, or the committed offset when that is
    further (the monitor keeps a read offset across a revoke and re-assignment, and the
    consumer seeks to the committed one on assignment). None while either is unknown.
    Memory only, no broker round trip."""
    highwater = consumer.highwater(tp)
    read = read_offsets.get(tp)
    known = [o for o in (None if read is None else read + 1, committed.get(tp)) if o is not None]
    if highwater is None or not known:
        return None
    return max(highwater - max(known), 0)


def consumer_backlog(app: Any, topic: str) -> Callable[[], int]:
    """How many records of ``topic`` this worker's assigned partitions hold beyond what its
    stream has taken (:func:`partition_backlog`, as the lag metric, streams/worker.py)."""

    def backlog() -> int:
        consumer = app.consumer
        read = app.monitor.tp_read_offsets
        committed = getattr(consumer, "_committed_offset", {})
        return sum(
            partition_backlog(consumer, read, committed, tp) or 0
            for tp in consumer.assignment()
            if tp.topic == topic
        )

    return backlog
