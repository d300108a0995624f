"""The worker's batch view of account-state: one encode and one write per account per batch.

A pure unit test: the table is a dictionary standing in for Faust's (the view only reads its
store and hands its writes, by partition, to the table's writer); the kill, scale-out and
upgrade tests run the same view and streams/changelog.py on the real table, broker and
changelog.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from config.settings import load
from processors import rules as rules_mod
from processors.state import AccountState
from processors.validation import to_event
from streams.pipeline import DeadLetter, PaymentPipeline, Pending
from streams.worker import BatchView
from tests.processors.test_engine import HOUR, NOW, T0, rec


class Table(dict):
    """Faust's table as far as BatchView uses it: ``data.get`` and item assignment."""

    name = "account-state"

    def __init__(self) -> None:
        super().__init__()
        self.data = self
        self.writes: list[tuple[bytes, bytes]] = []
        self.writer = self

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes.append((key, value))
        super().__setitem__(key, value)

    async def write(self, by_partition: dict[int, list[tuple[bytes, bytes]]]) -> None:
        for partition, items in by_partition.items():
            assert partition == 0  # every event here is on partition 0
            for key, value in items:
                self[key] = value


class Event:
    """A stream event: the view groups writes by its message's partition."""

    message = SimpleNamespace(partition=0)


def flush(view: BatchView) -> None:
    asyncio.run(view.flush())


def grocery(i: int, t: int, account: str = "acct-1"):
    return to_event(
        rec(f"g{i:04d}", t, account_id=account, merchant={"merchant_id": "shop", "mcc": "5411"}),
        NOW,
    )


def test_a_batch_writes_each_account_once_with_every_payment_and_its_offset():
    pipe = PaymentPipeline(load({}), rules_mod.load())
    table = Table()
    view = BatchView(table, pipe.states)
    events = [grocery(i, T0 + i * HOUR, "acct-1" if i % 3 else "acct-2") for i in range(9)]
    for offset, ev in enumerate(events):
        key = ev.account_id.encode()
        out = pipe.apply(ev, view.get(Event(), key), NOW, 0, offset)
        assert out.state is not None and isinstance(out.state, Pending)
        view.put(Event(), key, out.state)
    assert table.writes == []  # nothing encoded or written before the flush
    flush(view)
    assert sorted(k for k, _ in table.writes) == [b"acct-1", b"acct-2"]
    one = AccountState.loads(table[b"acct-1"])
    two = AccountState.loads(table[b"acct-2"])
    assert one.offsets[0] == [0, 8] and two.offsets[0] == [0, 6]
    # Each payment's id is in its account's ring (6 and 3 of them).
    assert len(one.rings[0]) == 2 * 6 and len(two.rings[0]) == 2 * 3
    # The next batch takes the written bytes from the cache, not the table, and matches them.
    nxt = BatchView(table, pipe.states)
    assert nxt.get(Event(), b"acct-1") == table[b"acct-1"]
    again = pipe.apply(events[8], nxt.get(Event(), b"acct-1"), NOW, 0, 8)
    assert again.duplicate and again.state is None  # a redelivery: nothing to write


def test_a_batch_that_never_flushes_leaves_the_table_and_the_cache_agreeing():
    """An error or a rebalance between a batch's steps and its write: the next batch must
    start from what the table holds, not from the object the lost batch changed."""
    pipe = PaymentPipeline(load({}), rules_mod.load())
    table = Table()
    view = BatchView(table, pipe.states)
    out = pipe.apply(grocery(0, T0), view.get(Event(), b"acct-1"), NOW, 0, 0)
    view.put(Event(), b"acct-1", out.state)
    flush(view)
    written = table[b"acct-1"]
    lost = BatchView(table, pipe.states)
    out = pipe.apply(grocery(1, T0 + HOUR), lost.get(Event(), b"acct-1"), NOW, 0, 1)
    lost.put(Event(), b"acct-1", out.state)  # ... and the batch ends before its flush
    retry = BatchView(table, pipe.states)
    stored = retry.get(Event(), b"acct-1")
    assert stored == written  # read from the table: the cache no longer vouches for it
    redelivered = pipe.apply(grocery(1, T0 + HOUR), stored, NOW, 0, 1)
    assert not redelivered.duplicate  # its effect was never written, so it is applied now


def test_a_signal_keyed_by_another_account_leaves_that_accounts_batch_state_alone():
    from processors.links import Signal

    pipe = PaymentPipeline(load({}), rules_mod.load())
    view = BatchView(Table(), pipe.states)
    out = pipe.apply(grocery(0, T0), view.get(Event(), b"acct-1"), NOW, 0, 0)
    view.put(Event(), b"acct-1", out.state)
    before = out.state.state.dumps()
    signal = Signal(
        signal_id="s1",
        code="SHARED_IDENTIFIER",
        institution_id="bank-1",
        account_id="acct-2",
        customer_id="c2",
        event_time=T0,
        measured=3.0,
        threshold=3.0,
        window_seconds=86_400,
        explanation="three accounts share a phone",
        partition=0,
    )
    refused = pipe.apply_signal(
        signal.dumps(), view.get(Event(), b"acct-1"), NOW, 0, 5, key=b"acct-1"
    )
    assert isinstance(refused, DeadLetter) and refused.reason == "invalid_field"
    assert out.state.state.dumps() == before
