"""The worker's Faust consumer against the real broker: the end of a changelog recovery.

Regression test for the restarted-worker stall (streams/transport.py). It replays, with the
timing forced, what Faust's Recovery does to the consumer while a fetch is in flight: only a
changelog partition is active, the fetch waits for data, recovery ends and pauses that
partition (the active set is now empty), new changelog data wakes the fetch, and then the
input partition is resumed. Faust's stock consumer lets that woken fetch take the input
partition's buffered records and drops them, so the resumed partition delivers nothing.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from faust.types import TP

from processors import rules as rules_mod
from streams.topics import ensure_topics
from streams.transport import Consumer
from streams.worker import build_app
from tests.support import isolated_env, producer, settings_for

pytestmark = pytest.mark.integration


async def until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.01)


async def delivered(consumer, timeout: float) -> list[tuple[TP, int]]:
    """One Faust fetch round, as its fetcher service runs it: what reaches the streams."""
    return [(tp, message.offset) async for tp, message in consumer.getmany(timeout=timeout)]


def test_input_records_buffered_when_recovery_ends_are_delivered_after_resume(stack, tmp_path):
    settings = settings_for(isolated_env(tmp_path))
    ensure_topics(settings)
    backlog = producer(settings)
    for n in range(3):
        backlog.produce(settings.topic_payments, key=b"acct-1", value=b"p%d" % n, partition=0)
    assert backlog.flush(30) == 0
    app = build_app(settings, rules_mod.load(settings.rules_file))
    payments = TP(settings.topic_payments, 0)
    changelog = TP(settings.topic_dispositions, 0)  # stands in for a changelog partition

    async def scenario() -> tuple[list, list, int]:
        consumer = app.consumer
        assert isinstance(consumer, Consumer)
        thread = consumer._thread
        await thread.start()
        try:
            kafka = thread._consumer

            def assign() -> None:
                kafka.assign([payments, changelog])
                kafka.seek(payments, 0)
                kafka.seek(changelog, 0)

            await thread.call_thread(assign)
            fetcher = kafka._fetcher
            # As after a restart: the input backlog is fetched and buffered by aiokafka
            # while Faust has only the changelog partition active.
            await until(lambda: payments in fetcher._records, 30, "the backlog to be buffered")
            consumer.resume_partitions({changelog})
            during = asyncio.ensure_future(delivered(consumer, timeout=20))
            await until(lambda: fetcher._fetch_waiters, 10, "the fetch to wait for data")
            consumer.pause_partitions({changelog})  # "Done reading from changelog topics"
            backlog.produce(settings.topic_dispositions, key=b"acct-1", value=b"c", partition=0)
            assert backlog.flush(30) == 0
            first = await during
            consumer.resume_partitions({payments})  # on_recovery_completed
            second = await delivered(consumer, timeout=10)
            state = kafka._subscription.subscription.assignment.state_value(payments)
            return first, second, state.position
        finally:
            await thread.stop()

    first, second, position = asyncio.run(scenario())
    assert not any(tp == payments for tp, _ in first), "input delivered while paused"
    assert second == [(payments, 0), (payments, 1), (payments, 2)]
    assert position == 3
