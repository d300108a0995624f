"""The simulator is the ground truth for tuning and demos, so its promises are tested here:
determinism, contract-valid records, no identifiers in clear, and scenarios that the default
rules must catch next to look-alikes they must not. No Kafka involved.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections import Counter, defaultdict

import pytest

from processors import rules
from processors.engine import Engine
from processors.state import AccountState
from processors.validation import to_event
from schemas.codec import AvroCodec, schema_json
from streams import simulate
from streams.simulate import DAY_MS, TokenBucket, generate, keyed_hash, parse_start

KEY = "unit-test-consortium-key"
START = 1_772_409_600_000  # 2026-03-02T00:00Z: the run crosses the US/Canada DST change
HEX64 = re.compile(r"^[0-9a-f]{64}$")
HASH_FIELDS = (
    "holder_phone_hash",
    "holder_email_hash",
    "holder_address_hash",
    "device_hash",
    "wallet_address_hash",
)


def _run(seed: int, accounts: int = 300, days: float = 6, scenarios: int | None = None):
    events, truth = generate(seed, accounts, days, START, KEY, scenarios)
    return list(events), truth


@pytest.fixture(scope="module")
def small():
    return _run(21)


def test_same_seed_gives_identical_output(small):
    again = _run(21)
    assert again == small
    assert len(small[0]) > 1000


def test_different_seed_gives_different_output(small):
    other, other_truth = _run(22)
    assert [r["amount_minor"] for r in other[:200]] != [r["amount_minor"] for r in small[0][:200]]
    assert {s.account_id for s in other_truth} != {s.account_id for s in small[1]}


def test_records_roundtrip_through_avro_and_pass_validation(small):
    codec = AvroCodec("payment_event")
    names = [f["name"] for f in schema_json("payment_event.avsc")["fields"]]
    now = START + 7 * DAY_MS
    for rec in small[0]:
        assert list(rec) == names
        assert codec.decode(codec.encode(rec)) == rec
        to_event(rec, now)


def test_event_order_and_ids(small):
    events = small[0]
    times = [r["event_time"] for r in events]
    assert times == sorted(times)
    assert times[0] >= START and times[-1] < START + 6 * DAY_MS
    ids = [r["event_id"] for r in events]
    assert len(set(ids)) == len(ids)
    assert ids[:3] == ["sim-21-0", "sim-21-1", "sim-21-2"]


def test_identifiers_only_as_keyed_hashes(small):
    assert (
        keyed_hash(KEY, "+15551234567")
        == hmac.new(KEY.encode(), b"+15551234567", hashlib.sha256).hexdigest()
    )
    email = re.compile(r"[^@\s]+@[^@\s]+")
    phone = re.compile(r"^\+?\d[\d ().-]{6,}$")
    for rec in small[0]:
        for name in HASH_FIELDS:
            assert rec[name] is None or HEX64.match(rec[name]), (name, rec[name])
        for h in rec["passenger_name_hashes"]:
            assert HEX64.match(h)
        cp = rec["counterparty"]
        if cp is not None:
            for name in ("name_hash", "ultimate_party_hash"):
                assert cp[name] is None or HEX64.match(cp[name]), (name, cp[name])
        text = json.dumps(rec)
        assert not email.search(text)
        assert not [s for s in _strings(rec) if s.startswith("+") and phone.match(s)]


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_default_scenario_mix():
    _, truth = generate(3, 3000, 14, START, KEY)
    kinds = Counter(s.typology for s in truth)
    assert kinds == {"SEX_TRAFFICKING": 2, "LABOUR_TRAFFICKING": 2, "HUMAN_SMUGGLING": 2, "NONE": 6}
    assert {s.kind for s in truth if s.typology == "NONE"} == set(simulate.NEGATIVE_KINDS)
    _, few = generate(3, 50, 3, START, KEY)
    assert {s.typology for s in few} >= set(simulate.TYPOLOGIES)
    assert len({s.account_id for s in few}) == len(few)


def test_engine_catches_every_scenario_and_no_look_alike():
    """The whole point of the scenarios: recall 1.0 and no hard-negative alert, default rules."""
    accounts, days = 3000, 14
    events, truth = generate(7, accounts, days, START, KEY)
    engine = Engine(rules.load())
    now = START + days * DAY_MS + 3_600_000
    states: dict[str, AccountState] = defaultdict(AccountState)
    alerted: dict[str, set[str]] = defaultdict(set)
    n, last = 0, 0
    t0 = time.perf_counter()
    for rec in events:
        assert rec["event_time"] >= last
        last = rec["event_time"]
        ev = to_event(rec, now)
        for alert in engine.step(states[ev.account_id], ev, now).alerts:
            alerted[ev.account_id].add(alert["typology"])
        n += 1
    elapsed = time.perf_counter() - t0

    positives = [s for s in truth if s.typology != "NONE"]
    negatives = [s for s in truth if s.typology == "NONE"]
    caught = [s for s in positives if s.typology in alerted[s.account_id]]
    false_neg = [s for s in negatives if alerted[s.account_id]]
    special = {s.account_id for s in truth}
    background = [a for a, t in alerted.items() if t and a not in special]
    by_typ = Counter(t for a in alerted.values() for t in a)
    print(
        f"\n{n} events ({n / elapsed:,.0f}/s generate+validate+engine); alerts by typology "
        f"{dict(by_typ)}; recall {len(caught)}/{len(positives)}; hard negatives alerted "
        f"{len(false_neg)}/{len(negatives)}; background accounts alerted {len(background)}"
    )
    assert n > 30_000
    assert len(positives) >= 6 and len(negatives) >= 4
    assert [s.kind for s in positives if s not in caught] == []
    assert [(s.kind, sorted(alerted[s.account_id])) for s in false_neg] == []
    assert len(background) <= accounts // 200


def test_scenarios_survive_short_runs():
    """Short demos compress the scenarios; they must still alert."""
    events, truth = generate(11, 200, 1.5, START, KEY, scenarios=9)
    engine = Engine(rules.load())
    now = START + 2 * DAY_MS
    states: dict[str, AccountState] = defaultdict(AccountState)
    alerted: dict[str, set[str]] = defaultdict(set)
    for rec in events:
        ev = to_event(rec, now)
        for alert in engine.step(states[ev.account_id], ev, now).alerts:
            alerted[ev.account_id].add(alert["typology"])
    for s in truth:
        if s.typology == "NONE":
            assert not alerted[s.account_id], s
        else:
            assert s.typology in alerted[s.account_id], s


def test_parse_start():
    now = 1_800_000_000_000
    assert parse_start(None, now, 14) == now - 14 * DAY_MS
    assert parse_start("now", now, 14) == now
    assert parse_start("now-2d", now, 14) == now - 2 * DAY_MS
    assert parse_start("now-90m", now, 14) == now - 90 * 60_000
    assert parse_start("2026-03-02T00:00:00Z", now, 14) == START
    assert parse_start("2026-03-02T00:00:00", now, 14) == START
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_start("yesterday", now, 14)


def test_token_bucket_paces_without_spinning():
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    bucket = TokenBucket(500.0, wait)
    t0 = time.monotonic()
    for _ in range(150):
        bucket.take()
    elapsed = time.monotonic() - t0
    assert 0.2 <= elapsed < 1.0  # 150 events at 500/s, minus a 25-event burst
    assert len(waits) < 200 and all(w > 0 for w in waits)


def test_main_writes_jsonl_and_truth(tmp_path, capsys):
    out = tmp_path / "traffic.jsonl"
    rc = simulate.main(["--seed", "5", "--accounts", "120", "--days", "2", "--out", str(out)])
    assert rc == 0
    lines = out.read_text().splitlines()
    truth = json.loads((tmp_path / "traffic.truth.json").read_text())
    assert lines and {t["typology"] for t in truth} >= set(simulate.TYPOLOGIES)
    now = int(time.time() * 1000)
    for line in lines:
        rec = json.loads(line)
        assert rec["event_time"] <= now
        to_event(rec, now)
    summary = capsys.readouterr().out
    assert f"simulate: {len(lines)} events, 120 accounts" in summary


def test_main_limit(tmp_path):
    out = tmp_path / "t.jsonl"
    assert (
        simulate.main(["--accounts", "50", "--days", "1", "--limit", "7", "--out", str(out)]) == 0
    )
    assert len(out.read_text().splitlines()) == 7
