"""take_settled on a real Faust stream over an in-memory channel (no broker is contacted).

A light trickle must come out at once, not after ``within``; a backlog in batches of at
most ``max``, in order, nothing lost or repeated; and a batch's events stay unacknowledged
while the caller holds the batch.
"""

from __future__ import annotations

import asyncio

import faust

from streams.batching import take_settled


def run(tmp_path, scenario):
    """Run ``scenario(channel, stream)`` on a fresh loop; a channel never reaches a broker."""

    async def main():
        loop = asyncio.get_running_loop()
        app = faust.App("batching-test", broker="kafka://127.0.0.1:1", datadir=str(tmp_path))
        app.loop = loop
        app.flow_control.resume()  # a worker resumes it once partitions are assigned
        channel = app.channel(loop=loop, maxsize=2000)
        stream = channel.stream(loop=loop)
        async with stream:  # the stream's service runs the background drainer
            return await asyncio.wait_for(scenario(loop, channel, stream), 20)

    return asyncio.run(main())


def test_a_lone_event_is_handed_over_after_settle_not_within(tmp_path):
    async def scenario(loop, channel, stream):
        t0 = loop.time()
        await channel.send(value="one")
        async for batch in take_settled(stream, 100, settle=0.005, within=10.0):
            return [e.value for e in batch], loop.time() - t0

    values, waited = run(tmp_path, scenario)
    assert values == ["one"]
    assert waited < 2.0  # within is 10 s: the batch did not wait for it


def test_a_backlog_comes_in_full_batches_in_order(tmp_path):
    async def scenario(loop, channel, stream):
        for i in range(1000):
            await channel.send(value=i)
        got: list[list[int]] = []
        async for batch in take_settled(stream, 300, settle=0.05, within=10.0):
            got.append([e.value for e in batch])
            if sum(map(len, got)) >= 1000:
                return got

    got = run(tmp_path, scenario)
    assert [v for b in got for v in b] == list(range(1000))
    assert max(map(len, got)) == 300
    assert len(got[0]) == 300  # the backlog was all there: the first batch is a full one


def test_events_are_acked_only_after_their_batch(tmp_path):
    async def scenario(loop, channel, stream):
        for i in range(10):
            await channel.send(value=i)
        acked: list[int] = []
        real_ack = stream.ack

        async def spy(event):
            acked.append(event.value)
            return await real_ack(event)

        stream.ack = spy
        seen: list[int] = []
        async for batch in take_settled(stream, 4, settle=0.01, within=10.0):
            # While the caller holds a batch, none of its events is acknowledged yet.
            assert not set(acked) & {e.value for e in batch}
            seen += [e.value for e in batch]
            if len(seen) == 10:
                return acked, seen

    acked, seen = run(tmp_path, scenario)
    assert seen == list(range(10))
    # The two batches the caller had finished with; the one it left by return is not acked.
    assert acked == list(range(8))


def _trickle(backlog):
    """Ten events, a pause of 20 settles, ten more: the first batch's size."""

    async def scenario(loop, channel, stream):
        async def feed():
            for i in range(10):
                await channel.send(value=i)
            await asyncio.sleep(0.2)
            for i in range(10, 20):
                await channel.send(value=i)

        feeder = asyncio.ensure_future(feed())
        batches = take_settled(
            stream, 20, settle=0.01, within=0.05, backlog=backlog, within_backlog=5.0
        )
        async for batch in batches:
            await feeder
            return [e.value for e in batch]

    return scenario


def test_far_behind_a_batch_outlasts_pauses_between_fetches(tmp_path):
    """Behind by at least a full batch, a pause does not end the batch (the records are
    on the broker): it fills up to max, here well before within_backlog."""
    assert run(tmp_path, _trickle(lambda: 10_000)) == list(range(20))


def test_keeping_up_a_pause_ends_the_batch(tmp_path):
    assert run(tmp_path, _trickle(lambda: 3)) == list(range(10))
