"""The account state's stored form: constant-space replay recognition, bounded size at any
account age, and in-place upgrade from the JSON format the previous build left in its changelog.

``fixtures/account_state_v3.json`` was written by that build's own code (format 3, commit
b14591e): an account half-way through a sex-trafficking pattern with 1,024 remembered ids, and
an alerted account whose alert an analyst closed as a false positive.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from pathlib import Path

import cramjam
import msgspec
import pytest

from processors import feedback
from processors import rules as rules_mod
from processors.engine import Engine
from processors.state import (
    COMPRESSED,
    FORMAT,
    RECENT_CAP,
    AccountState,
    StateCache,
    alert_record,
)
from processors.validation import to_event
from tests.processors.test_engine import (
    DAY,
    HOUR,
    NOW,
    T0,
    alerts_of,
    feed,
    night_cash,
    rec,
    sex_pattern,
)
from tests.processors.test_indicators import p2p_in

LEGACY = json.loads((Path(__file__).parent / "fixtures" / "account_state_v3.json").read_text())
#: format 4 (MessagePack, alert records and senders in the clear), written by that build's own
#: code (commit 85fbc4c): an alerted account with nine small credits from four payers
V4 = json.loads((Path(__file__).parent / "fixtures" / "account_state_v4.json").read_text())
#: format 5 (the same row, uncompressed), written by that build (commit f7fd7b3) from V4
V5 = json.loads((Path(__file__).parent / "fixtures" / "account_state_v5.json").read_text())
GROCERY = {"merchant_id": "shop", "mcc": "5411"}


@pytest.fixture
def engine() -> Engine:
    from processors import rules

    return Engine(rules.load())


def grocery(i: int, t: int) -> dict:
    return rec(f"g{i:06d}", t, merchant=GROCERY)


# --- replays ---------------------------------------------------------------------------------


def test_a_record_at_or_below_the_last_applied_offset_is_a_replay(engine):
    state = AccountState()
    pattern = sex_pattern()
    results = [
        engine.step(state, to_event(r, NOW), NOW, partition=3, offset=100 + i)
        for i, r in enumerate(pattern)
    ]
    alert = alerts_of(results)[0]
    blob = state.dumps()
    restored = AccountState.loads(blob)
    # Kafka redelivers the whole tail after a crash: every one is skipped, the trigger
    # (the last event) re-emits its alert, and the state is unchanged.
    again = [
        engine.step(restored, to_event(r, NOW), NOW, partition=3, offset=100 + i)
        for i, r in enumerate(pattern)
    ]
    assert all(r.duplicate for r in again)
    assert alerts_of(again) == [alert]
    assert restored.dumps() == blob


def test_an_offset_on_another_partition_is_not_taken_for_a_replay(engine):
    state = AccountState()
    engine.step(state, to_event(grocery(0, T0), NOW), NOW, partition=0, offset=500)
    res = engine.step(state, to_event(grocery(1, T0 + HOUR), NOW), NOW, partition=1, offset=7)
    assert not res.duplicate
    assert state.offsets[0] == [1, 7]


def test_an_id_sent_again_under_a_new_offset_is_a_duplicate_while_recent(engine):
    state = AccountState()
    engine.step(state, to_event(grocery(0, T0), NOW), NOW, partition=0, offset=1)
    resent = engine.step(state, to_event(grocery(0, T0), NOW), NOW, partition=0, offset=2)
    assert resent.duplicate
    # The ring is bounded: once RECENT_CAP newer payments came (within a day here), an id
    # sent yet again counts as new. That is the documented price of constant space.
    for i in range(1, RECENT_CAP + 1):
        engine.step(state, to_event(grocery(i, T0 + i * 60_000), NOW), NOW, 0, 2 + i)
    late = engine.step(state, to_event(grocery(0, T0), NOW), NOW, 0, 100)
    assert not late.duplicate


def test_the_id_ring_is_bounded_in_time(engine):
    state = AccountState()
    engine.step(state, to_event(grocery(0, T0), NOW), NOW)
    engine.step(state, to_event(grocery(1, T0 + 2 * DAY), NOW), NOW)
    assert len(state.rings[0]) == 2  # the first id is more than a day behind the watermark


def test_offline_without_offsets_duplicates_are_caught_by_id(engine):
    state = AccountState()
    first = alerts_of(feed(engine, state, sex_pattern()))
    again = feed(engine, state, sex_pattern()[-2:])
    assert all(r.duplicate for r in again) and alerts_of(again) == first


# --- size at any age -----------------------------------------------------------------------


def test_stored_size_does_not_grow_with_history(engine):
    """A year of card payments every 10 minutes: once the longest horizon (SUSTAINING_SPEND's
    17 weeks) has filled, the stored state stops growing (the previous format grew to ~25 KB
    on its 1,024 remembered ids)."""
    state, now = AccountState(), T0 + 400 * DAY
    sizes = {}
    for i in range(50_000):
        engine.step(state, to_event(grocery(i, T0 + i * 600_000), now), now, 0, i)
        if i + 1 in (20_000, 50_000):
            sizes[i + 1] = len(state.dumps())
    assert sizes[50_000] <= sizes[20_000] + 16
    assert sizes[50_000] < 1_024


# --- stored form and upgrade in place ------------------------------------------------------


def test_round_trip_is_exact(engine):
    state = AccountState()
    alert = alerts_of(feed(engine, state, sex_pattern()))[0]
    d = feedback.Disposition(
        "d1", alert["alert_id"], "bank-1", "acct-1", "SEX_TRAFFICKING", ("LATE_NIGHT_CASH",),
        "FALSE_POSITIVE", NOW, alert["rule_set_version"],
    )  # fmt: skip
    assert feedback.apply_disposition(state, d, 720, partition=0, offset=9)
    blob = state.dumps()
    restored = AccountState.loads(blob)
    assert restored.dumps() == blob
    assert (restored.offsets, restored.rings, restored.slots, restored.alerts) == (
        state.offsets, state.rings, state.slots, state.alerts,
    )  # fmt: skip
    assert restored.suppressions == state.suppressions and set(restored.hits) == set(state.hits)


def test_unknown_format_is_refused():
    blob = msgspec.msgpack.encode([99, 0])
    with pytest.raises(ValueError, match="format 99"):
        AccountState.loads(blob)
    assert FORMAT == 6
    with pytest.raises(ValueError, match="not a format 6 row"):  # compressed, inner row 5
        AccountState.loads(
            COMPRESSED + bytes(cramjam.lz4.compress_block(base64.b64decode(V5["state"])))
        )


def test_legacy_state_keeps_its_history_and_completes_the_pattern():
    """The upgrade: a half-built pattern from the old changelog completes under the new
    build, raising exactly the alert an un-upgraded run raises (under the rule-set version
    the fixture was recorded with; alerts carry the schema's network field since issue 12,
    null on an account's own alert)."""
    from processors import rules

    doc = rules.default_document()
    doc["version"] = LEGACY["alert"]["rule_set_version"]
    engine = Engine(rules.parse(doc))
    old = AccountState.loads(LEGACY["half_pattern"].encode())
    assert set(old.hits) == {"HOTEL_MULTI_CITY"} and "LATE_NIGHT_CASH" in old.slots
    last = night_cash("n2", T0 + 2 * DAY + 23 * HOUR)
    (alert,) = engine.step(old, to_event(last, NOW), NOW, partition=0, offset=1).alerts
    assert alert == {**LEGACY["alert"], "network": None}
    # Written back in the new format it is a fraction of the old size (1,024 ids gone).
    assert len(old.dumps()) < len(LEGACY["half_pattern"]) / 8


def test_legacy_state_recognises_the_redeliveries_a_crash_may_bring(engine):
    """Offsets are unknown in a legacy state, so the newest remembered ids stand in: the
    payments a restart redelivers right after the upgrade are skipped."""
    old = AccountState.loads(LEGACY["half_pattern"].encode())
    before = old.dumps()
    for r in (
        rec("h2", 0),
        rec("n1", 0),
        rec("g01499", 0, merchant=GROCERY),
    ):  # the newest ids it had applied
        r["event_time"] = T0 + 2 * DAY
        assert engine.step(old, to_event(r, NOW), NOW, partition=0, offset=5).duplicate
    assert old.dumps() == before


def test_legacy_suppressions_and_dispositions_carry_over(engine):
    old = AccountState.loads(LEGACY["alerted_and_disposed"].encode())
    alert = LEGACY["alert"]
    assert alert["alert_id"] in old.suppressions
    d = feedback.Disposition(
        "disp-1", alert["alert_id"], "bank-1", "acct-1", "SEX_TRAFFICKING",
        ("HOTEL_MULTI_CITY", "LATE_NIGHT_CASH"), "FALSE_POSITIVE", NOW, alert["rule_set_version"],
    )  # fmt: skip
    assert not feedback.apply_disposition(old, d, 720, partition=0, offset=3)  # applied before
    # The trigger redelivered re-emits the stored alert record.
    trigger = night_cash("n2", T0 + 2 * DAY + 23 * HOUR)
    again = engine.step(old, to_event(trigger, NOW), NOW, partition=0, offset=4)
    assert again.duplicate and again.alerts == [alert]


# --- decoded states kept between batches ---------------------------------------------------


def test_state_cache_reuses_a_state_only_for_the_bytes_it_wrote():
    cache = StateCache(capacity=2)
    state = AccountState(watermark=5)
    blob = cache.store(b"a", state)
    assert cache.load(b"a", bytes(blob)) is state  # equal bytes, e.g. read back from RocksDB
    other = AccountState(watermark=6).dumps()  # a changelog restore wrote something else
    fresh = cache.load(b"a", other)
    assert fresh is not state and fresh.watermark == 6
    assert cache.load(b"a", None) == AccountState()  # nothing stored: a new account
    cache.store(b"b", AccountState())
    cache.store(b"c", AccountState())
    assert len(cache) == 2 and cache.load(b"a", blob) is not state  # least recent went


def test_a_failed_step_is_not_left_in_the_cache():
    """A step that fails half-way leaves the cached object half-changed: the pipeline
    forgets it, so the next payment starts from the stored bytes. The failure here is a
    corrupt slot: STRUCTURING appends the new entry, then cannot order it."""
    from config.settings import load
    from streams.pipeline import DeadLetter, PaymentPipeline

    pipe = PaymentPipeline(load(), rules_mod.load())
    corrupt = AccountState(slots={"STRUCTURING": [["not a time", "x"]]}).dumps()
    first = pipe.apply(to_event(grocery(0, T0), NOW), corrupt, NOW, 0, 0)
    stored = pipe.states.store(b"acct-1", first.state.state)  # written: a batch of one
    near_limit = rec("s1", T0 + HOUR, amount_minor=950_000, channel="CASH_DEPOSIT",
                     direction="CREDIT")  # fmt: skip
    assert isinstance(pipe.apply(to_event(near_limit, NOW), stored, NOW, 0, 1), DeadLetter)
    after = pipe.apply(to_event(grocery(2, T0 + 2 * HOUR), NOW), stored, NOW, 0, 2)
    assert after.state.state.slots["STRUCTURING"] == [["not a time", "x"]]


def test_a_failed_step_inside_a_batch_is_undone_and_the_batch_keeps_the_rest():
    """Within a batch the account's state is not encoded between payments (one encode per
    batch), so a step failing half-way cannot fall back to bytes written after the last
    payment: the state is rebuilt from the batch's stored bytes and the payments before."""
    from config.settings import load
    from streams.pipeline import DeadLetter, PaymentPipeline

    pipe = PaymentPipeline(load(), rules_mod.load())
    corrupt = AccountState(slots={"STRUCTURING": [["not a time", "x"]]}).dumps()
    first = pipe.apply(to_event(grocery(0, T0), NOW), corrupt, NOW, 0, 0)
    work = first.state
    near_limit = rec("s1", T0 + HOUR, amount_minor=950_000, channel="CASH_DEPOSIT",
                     direction="CREDIT")  # fmt: skip
    failed = pipe.apply(to_event(near_limit, NOW), work, NOW, 0, 1)
    assert isinstance(failed, DeadLetter)
    # The first payment is still applied (its offset remembered), the failed one is not.
    assert work.state.slots["STRUCTURING"] == [["not a time", "x"]]
    assert work.state.offsets[0] == [0, 0] and len(work.redo) == 1
    assert work.state.is_replay(0, 0, 0) and not work.state.is_replay(0, 0, 1)
    after = pipe.apply(to_event(grocery(2, T0 + 2 * HOUR), NOW), work, NOW, 0, 2)
    assert after.state is work and work.state.offsets[0] == [0, 2]
    assert AccountState.loads(pipe.states.store(b"acct-1", work.state)) == work.state


def test_a_batch_encodes_an_account_once_and_the_cache_matches_only_what_was_written():
    """Payments of one account in one batch change one decoded state, encoded at the end.
    Until then the cache pairs no bytes with it: a batch that never writes (an error, a
    rebalance) leaves the table's older bytes, and those are decoded afresh."""
    from config.settings import load
    from streams.pipeline import PaymentPipeline

    pipe = PaymentPipeline(load(), rules_mod.load())
    key = b"acct-1"
    blob = pipe.states.store(key, AccountState())  # the account as the last batch wrote it
    cached = pipe.states.load(key, blob)
    one = pipe.apply(to_event(grocery(0, T0), NOW), blob, NOW, 0, 0)
    assert one.state.state is cached and one.state.base == blob
    assert pipe.states.peek(key) is None  # changed, not encoded: the table is the truth
    assert pipe.states.load(key, blob) is not cached  # the old bytes no longer match it
    two = pipe.apply(to_event(grocery(1, T0 + HOUR), NOW), one.state, NOW, 0, 1)
    assert two.state is one.state and len(two.state.redo) == 2
    # A redelivery inside the batch is recognised by the offset the state already holds.
    dup = pipe.apply(to_event(grocery(1, T0 + HOUR), NOW), two.state, NOW, 0, 1)
    assert dup.duplicate and dup.state is None
    written = pipe.states.store(key, two.state.state)
    assert pipe.states.peek(key) == written
    assert pipe.states.load(key, written) is two.state.state
    assert AccountState.loads(written).offsets[0] == [0, 1]


def test_touched_unpairs_a_cached_state_from_its_bytes():
    cache = StateCache(capacity=4)
    state = AccountState(watermark=5)
    blob = cache.store(b"a", state)
    state.watermark = 9
    cache.touched(b"a", state)
    assert cache.peek(b"a") is None and cache.load(b"a", blob).watermark == 5
    other = AccountState(watermark=1)
    cache.touched(b"b", other)  # never cached: nothing to unpair, nothing kept
    assert cache.peek(b"b") is None and len(cache) == 1
    assert cache.load(b"a", cache.store(b"a", state)) is state


def test_an_invalidated_cache_decodes_afresh():
    """A rebalance (reported from the consumer's thread) invalidates the cache: nothing
    cached is used after it, even for bytes that match."""
    cache = StateCache(capacity=10)
    state = AccountState(watermark=1)
    blob = cache.store(b"a", state)
    cache.invalidate()
    assert cache.peek(b"a") is None
    again = cache.load(b"a", blob)
    assert again is not state and again == AccountState.loads(blob)
    cache.store(b"a", again)
    assert cache.peek(b"a") == blob  # usable again once refilled


@pytest.mark.parametrize("fixture", [V4, V5], ids=["format 4", "format 5"])
def test_format_4_and_5_states_keep_their_alert_and_their_payers(fixture: dict):
    """The upgrades from formats 4 and 5: the stored alert is re-emitted for its replayed
    trigger, exactly as written; the payers kept in the clear (format 4) are the same payers
    as the digests the new build keeps (a payer seen before is not counted twice), so
    MANY_SMALL_PAYERS fires at the fifth payer, not at the tenth payment from four."""
    from processors import rules

    engine = Engine(rules.load())
    old = AccountState.loads(base64.b64decode(fixture["state"]))
    (entry,) = old.alerts.values()
    assert alert_record(entry) == V4["alert"] and entry[0] == V4["alert"]["alert_id"]
    assert all(isinstance(e[2], int) for e in old.slots["MANY_SMALL_PAYERS"])
    trigger = next(r for r in sex_pattern() if r["event_id"] == entry[1])
    again = engine.step(old, to_event(trigger, NOW), NOW, partition=0, offset=3)
    assert again.duplicate and again.alerts == [V4["alert"]]
    t = max(e[0] for e in old.slots["MANY_SMALL_PAYERS"]) + HOUR
    tenth = engine.step(old, to_event(p2p_in("p9", t, "payer-0"), NOW), NOW, 0, 200)
    assert "MANY_SMALL_PAYERS" not in {h.code for h in tenth.hits}  # still four payers
    fifth = engine.step(old, to_event(p2p_in("p10", t + HOUR, "payer-4"), NOW), NOW, 0, 201)
    assert "MANY_SMALL_PAYERS" in {h.code for h in fifth.hits}
    restored = AccountState.loads(old.dumps())  # written back as format 6
    assert old.dumps()[:1] == COMPRESSED
    assert restored.dumps() == old.dumps() and restored.alerts == old.alerts


def test_states_are_stored_compressed(engine):
    """Format 6 is format 5's row behind one byte, LZ4-compressed: a collector's state
    (forty small credits from forty payers, ids as publishers send them: UUIDs) costs well
    at most 0.7 of its row in RocksDB, the changelog and the broker, and loads back
    the same."""
    state = AccountState()
    rng = random.Random(5)
    for i in range(40):
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        engine.step(state, to_event(p2p_in(event_id, T0 + i * HOUR, f"payer-{i}"), NOW), NOW, 0, i)
    blob = state.dumps()
    row = msgspec.msgpack.decode(bytes(cramjam.lz4.decompress_block(blob[1:])))
    assert blob[:1] == COMPRESSED and row[0] == FORMAT
    assert len(blob) < len(msgspec.msgpack.encode(row)) * 0.7
    assert AccountState.loads(blob).dumps() == blob


def test_alert_records_are_stored_compressed(engine):
    """A stored alert costs a fraction of its record (it is read back only on a replay)."""
    state = AccountState()
    (alert,) = alerts_of(feed(engine, state, sex_pattern()))
    (entry,) = state.alerts.values()
    assert alert_record(entry) == alert
    assert len(entry[4]) < len(msgspec.msgpack.encode(alert)) * 0.7


def test_cached_slot_encodings_give_exactly_the_full_encoding(engine):
    """dumps() reuses each detector slot's bytes while the slot is unchanged (the engine
    drops them when it changes the slot), and each active hit's while it is the same hit.
    Over a simulated population with every typology, and after round trips through the
    stored form, a state must encode exactly as it does with nothing cached, in the row
    format 6 always had."""
    from simulator.simulation import generate

    start = T0 - 40 * DAY
    records, _truth = generate(5, 100, 40, start, "k" * 32, scenarios=12)
    states: dict[str, AccountState] = {}
    checked = reused = 0
    for i, record in enumerate(records):
        ev = to_event(record, NOW)
        state = states.setdefault(ev.account_id, AccountState())
        engine.step(state, ev, NOW, 0, i)
        before = len(state.encoded) + sum(
            1 for code, (hit, _) in state.encoded_hits.items() if state.hits.get(code) is hit
        )
        blob = state.dumps()
        reused += before
        fresh = AccountState.loads(blob)
        assert fresh.encoded == {}
        assert fresh.dumps() == blob  # encoded from the lists, nothing cached
        row = msgspec.msgpack.decode(cramjam.lz4.decompress_block(blob[1:]))
        assert row[0] == FORMAT and row[4] == state.slots
        assert row[5] == [hit.to_state() for hit in state.hits.values()]
        if i % 7 == 0:  # an account decoded afresh mid-history keeps encoding correctly
            states[ev.account_id] = fresh
        checked += 1
    assert checked > 4_000 and reused > checked  # the cache was exercised, not bypassed
