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

The stream's own acks are off while this runs, and a batch's events are acked only when the
caller asks for the next batch, that is after it has processed them; a crash or an error
before then leaves them unacked, so they are delivered again (and recognised as seen by the
account state, processors/state.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any


async def take_settled(
    stream: Any, max_: int, settle: float, within: float
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
            seen = 0
            while not full.is_set():
                await stream.wait_for_stopped(full, timeout=settle)
                n = len(events)
                if n == 0:
                    continue
                if seen == 0:
                    first_at = loop.time()
                elif n == seen or loop.time() - first_at >= within:
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
