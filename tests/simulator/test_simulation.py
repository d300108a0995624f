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

from backtest.reading import read_avro
from processors import rules
from processors.engine import Engine
from processors.state import AccountState
from processors.validation import to_event
from publisher.pacing import TokenBucket
from schemas.codec import AvroCodec, schema_json
from simulator import cli as simulate_cli
from simulator import lookalikes, scenarios, simulation
from simulator.cli import parse_start
from simulator.clock import DAY_MS
from simulator.simulation import generate
from simulator.watchlists import rules_overlay
from simulator.world import keyed_hash

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
    _, truth = generate(3, 3000, 14, START, KEY, rings=0)
    kinds = Counter(s.typology for s in truth)
    assert kinds == {"SEX_TRAFFICKING": 2, "LABOUR_TRAFFICKING": 2, "HUMAN_SMUGGLING": 2, "NONE": 6}
    # Six look-alikes: the first six kinds in turn; no groups below eight scenarios.
    assert {s.kind for s in truth if s.typology == "NONE"} == set(lookalikes.NEGATIVE_KINDS[:6])
    assert {s.kind for s in truth if s.typology != "NONE"} == {
        kinds[n] for kinds in scenarios.SCENARIO_VARIANTS.values() for n in (0, 1)
    }
    _, few = generate(3, 50, 3, START, KEY)
    assert {s.typology for s in few} >= set(scenarios.TYPOLOGIES)
    assert len({s.account_id for s in few}) == len(few)


def test_engine_catches_every_scenario_and_no_look_alike():
    """The whole point of the scenarios: recall 1.0 and no hard-negative alert, default rules."""
    accounts, days = 3000, 14
    events, truth = generate(7, accounts, days, START, KEY, rings=0)  # per account only
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
    rc = simulate_cli.main(["--seed", "5", "--accounts", "120", "--days", "2", "--out", str(out)])
    assert rc == 0
    lines = out.read_text().splitlines()
    truth = json.loads((tmp_path / "traffic.truth.json").read_text())
    assert lines and {t["typology"] for t in truth} >= set(scenarios.TYPOLOGIES)
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
        simulate_cli.main(["--accounts", "50", "--days", "1", "--limit", "7", "--out", str(out)])
        == 0
    )
    assert len(out.read_text().splitlines()) == 7


# --- scenario variants, multi-account scenarios and their look-alikes --------------------------

MONTH = 30


@pytest.fixture(scope="module")
def world():
    """A month with every variant (4 scenarios per typology) and 3 groups of each kind."""
    sim = simulation.build(9, 1500, MONTH, START, KEY, scenarios=12, groups=3)
    return list(sim.events), sim.truth, sim.watchlists


def _by_kind(world) -> dict[str, dict[str, list[dict]]]:
    """kind -> account -> that account's events."""
    events, truth, _ = world
    kind_of = {t.account_id: t.kind for t in truth}
    out: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for rec in events:
        kind = kind_of.get(rec["account_id"])
        if kind is not None:
            out[kind][rec["account_id"]].append(rec)
    return out


def _local_hour(rec) -> int:
    return (rec["event_time"] // 60_000 + rec["utc_offset_minutes"]) // 60 % 24


def _beneficiary(rec) -> tuple[str, str]:
    cp = rec["counterparty"]
    return cp["account_id"], cp["institution_id"]


def test_every_variant_and_group_kind_is_generated(world):
    _, truth, _ = world
    kinds = {t.kind for t in truth}
    for variants in scenarios.SCENARIO_VARIANTS.values():
        assert set(variants) <= kinds
    assert set(scenarios.GROUP_KINDS) <= kinds
    assert set(lookalikes.NEGATIVE_GROUP_KINDS) <= kinds
    assert set(lookalikes.NEGATIVE_KINDS) <= kinds


def test_ground_truth_is_consistent(world):
    events, truth, _ = world
    accounts = [t.account_id for t in truth]
    assert len(set(accounts)) == len(accounts)  # one label per account
    end = START + MONTH * DAY_MS
    times: dict[str, list[int]] = defaultdict(list)
    for rec in events:
        times[rec["account_id"]].append(rec["event_time"])
    by_scenario: dict[str, list] = defaultdict(list)
    for t in truth:
        by_scenario[t.scenario_id].append(t)
        assert START <= t.start_ms <= t.end_ms <= end, t
        if t.typology != "NONE":  # the labelled span holds that account's scenario events
            inside = [x for x in times[t.account_id] if t.start_ms <= x <= t.end_ms]
            assert inside and min(inside) == t.start_ms and max(inside) == t.end_ms, t
    for sid, rows in by_scenario.items():
        assert len({(r.typology, r.kind) for r in rows}) == 1, sid
        group = (
            rows[0].kind in scenarios.GROUP_KINDS or rows[0].kind in lookalikes.NEGATIVE_GROUP_KINDS
        )
        assert (len(rows) > 1) == group, sid
        if rows[0].kind in scenarios.GROUP_KINDS:
            assert rows[0].typology == scenarios.GROUP_KINDS[rows[0].kind]


def test_shared_identifier_groups_share_a_phone_and_couples_share_with_two(world):
    events, truth, _ = world
    scenario = {t.account_id: t for t in truth}
    phones: dict[str, set[str]] = defaultdict(set)  # phone hash -> accounts
    devices: dict[str, set[str]] = defaultdict(set)
    for rec in events:
        phones[rec["holder_phone_hash"]].add(rec["account_id"])
        if rec["device_hash"]:
            devices[rec["device_hash"]].add(rec["account_id"])
    shared = {p: accts for p, accts in phones.items() if len(accts) > 1}
    kinds = Counter()
    for accts in shared.values():
        labels = {(scenario[a].scenario_id, scenario[a].kind) for a in accts}
        assert len(labels) == 1, labels  # only the accounts of one group share a phone
        kind = labels.pop()[1]
        kinds[kind] += 1
        if kind in ("labour_shared_identifier", "smuggling_shared_identifier"):
            assert len(accts) >= 3
            sid = scenario[next(iter(accts))].scenario_id
            assert accts == {t.account_id for t in truth if t.scenario_id == sid}
        else:
            assert kind == "hard_negative_couple" and len(accts) == 2
    assert kinds["labour_shared_identifier"] >= 1 and kinds["smuggling_shared_identifier"] >= 1
    assert kinds["hard_negative_couple"] >= 1
    # Labour victims' accounts were opened by one person: the device is shared too.
    shared_devices = [accts for accts in devices.values() if len(accts) >= 3]
    assert {scenario[next(iter(a))].kind for a in shared_devices} == {"labour_shared_identifier"}
    # The shared-identifier group is active within one week (the indicator's window).
    for t0 in {t.scenario_id for t in truth if t.kind == "labour_shared_identifier"}:
        starts = [t.start_ms for t in truth if t.scenario_id == t0]
        assert max(starts) - min(starts) < 7 * DAY_MS


def test_common_beneficiary_many_small_senders_and_family_pool_few(world):
    by_kind = _by_kind(world)
    _, truth, _ = world
    for scenario_id in {t.scenario_id for t in truth if t.kind == "smuggling_common_beneficiary"}:
        members = {t.account_id for t in truth if t.scenario_id == scenario_id}
        sends = [
            r
            for a in members
            for r in by_kind["smuggling_common_beneficiary"][a]
            if r["direction"] == "DEBIT" and r["channel"] == "REMITTANCE"
        ]
        beneficiaries = Counter(_beneficiary(r) for r in sends)
        target, _ = beneficiaries.most_common(1)[0]
        to_target = [r for r in sends if _beneficiary(r) == target]
        senders = {r["account_id"] for r in to_target}
        assert len(senders) >= 5
        assert all(r["amount_minor"] < 300_000 for r in to_target)  # each under $3,000
        assert target[1] in ("BNMXMXMM", "BAGUGTGC", "BMILHNTE")  # abroad, in a corridor
        first = {}
        for r in to_target:
            first[r["account_id"]] = min(first.get(r["account_id"], 1 << 62), r["event_time"])
        assert max(first.values()) - min(first.values()) < 2 * DAY_MS  # same/consecutive days
        cities = {r["location"]["city"] for r in to_target}
        assert len(cities) >= 2
    pools = defaultdict(set)
    for a, recs in by_kind["hard_negative_family_pool"].items():
        for r in recs:
            if r["channel"] == "REMITTANCE":
                pools[_beneficiary(r)].add(a)
                assert r["amount_minor"] < 300_000
    assert pools and all(2 <= len(s) <= 4 for s in pools.values())


def test_sex_ring_online_has_the_newer_footprints(world):
    by_kind = _by_kind(world)
    _, _, lists = world
    for recs in by_kind["sex_ring_online"].values():
        ads = [
            r
            for r in recs
            if r["merchant"]
            and r["merchant"]["mcc"] == "7311"
            and r["channel"] == "CARD_NOT_PRESENT"
        ]
        assert (
            len([r for r in ads if r["amount_minor"] % 300 == 0 and r["amount_minor"] < 10_000])
            >= 3
        )
        assert {r["merchant"]["merchant_id"] for r in ads} <= set(lists.ad_site_merchant_ids)
        crypto = [r for r in recs if r["channel"] == "CRYPTO"]
        prepaid = [r for r in recs if r["merchant"] and r["merchant"]["mcc"] == "6540"]
        night_venues = [
            r
            for r in recs
            if r["merchant"]
            and r["merchant"]["mcc"] in ("7297", "7298")
            and (_local_hour(r) >= 22 or _local_hour(r) < 6)
        ]
        assert crypto or prepaid  # at most one footprint dropped
        for r in crypto:
            assert HEX64.match(r["wallet_address_hash"]) and r["amount_minor"] % 300 == 0
        assert sum(map(bool, (len(crypto) >= 3, len(prepaid) >= 4, len(night_venues) >= 3))) >= 2


def test_labour_variants_have_the_fields_their_detectors_need(world):
    by_kind = _by_kind(world)
    _, _, lists = world
    recruiters = set(lists.recruiters)
    for recs in by_kind["labour_recruiter"].values():
        assert any(
            r["counterparty"] and r["counterparty"]["account_id"] in recruiters for r in recs
        )
        passengers = {h for r in recs for h in r["passenger_name_hashes"]}
        assert len(passengers) >= 3
        workers = {r["counterparty"]["ultimate_party_hash"] for r in recs if r["payroll"]}
        assert len(workers) >= 3
    for recs in by_kind["labour_front_business"].values():
        assert {r["account_type"] for r in recs} == {"BUSINESS"}
        assert not [r for r in recs if r["direction"] == "DEBIT" and r["payroll"]]
        cash_weeks = {
            (r["event_time"] - START) // (7 * DAY_MS)
            for r in recs
            if r["direction"] == "CREDIT" and r["channel"] == "CASH_DEPOSIT"
        }
        assert len(cash_weeks) >= 4
        loads = [r for r in recs if r["merchant"] and r["merchant"]["mcc"] == "6540"]
        assert len(loads) >= 5
    for recs in by_kind["labour_shared_identifier"].values():
        assert any(
            r["counterparty"] and r["counterparty"]["account_id"] in recruiters for r in recs
        )


def test_smuggling_variants_have_the_fields_their_detectors_need(world):
    by_kind = _by_kind(world)
    for recs in by_kind["smuggling_structuring"].values():
        cash = [r for r in recs if r["channel"] == "CASH_DEPOSIT" and r["direction"] == "CREDIT"]
        assert len([r for r in cash if 900_000 <= r["amount_minor"] < 1_000_000]) >= 3
        wires = [
            r
            for r in recs
            if r["channel"] == "WIRE" and r["counterparty"]["country"] in ("MX", "GT", "HN")
        ]
        assert len(wires) >= 3
    for recs in by_kind["smuggling_transport"].values():
        assert len({h for r in recs for h in r["passenger_name_hashes"]}) >= 2


def test_look_alikes_of_the_night_indicators_stay_innocent(world):
    """Bar staff, night auditors and legitimate salons show one habit, never a pattern."""
    by_kind = _by_kind(world)
    for kind in ("hard_negative_bar_staff", "hard_negative_hotel_worker"):
        for recs in by_kind[kind].values():
            night_cash = sorted(
                r["event_time"]
                for r in recs
                if r["channel"] in ("ATM", "CASH_DEPOSIT", "CASH_WITHDRAWAL")
                and (_local_hour(r) >= 22 or _local_hour(r) < 6)
            )
            for i in range(len(night_cash) - 2):  # never three in a week
                assert night_cash[i + 2] - night_cash[i] > 7 * DAY_MS
    for recs in by_kind["hard_negative_salon"].values():
        assert any(r["purpose"] == "TAXS" for r in recs)
        assert any(r["direction"] == "DEBIT" and r["payroll"] for r in recs)


def test_every_scenario_alerts_with_the_world_watchlists_and_no_look_alike(world):
    """Offline, with the cross-account links and the simulated watchlists in the rule set."""
    from processors import replay

    events, truth, lists = world
    ruleset = rules.parse(rules_overlay(rules.default_document(), lists))
    assert ruleset.version.endswith("+sim")
    result = replay.run(events, Engine(ruleset), START + (MONTH + 1) * DAY_MS)
    alerted: dict[str, set[str]] = defaultdict(set)
    for alert in result.alerts.values():
        alerted[alert["account_id"]].add(alert["typology"])
    missed = [
        (t.kind, t.account_id)
        for t in truth
        if t.typology != "NONE" and t.typology not in alerted[t.account_id]
    ]
    false = [
        (t.kind, sorted(alerted[t.account_id]))
        for t in truth
        if t.typology == "NONE" and alerted[t.account_id]
    ]
    # The relatives who pay one collector abroad (not a customer) carry the senders' side of
    # the finding, which is context (COMMON_BENEFICIARY, docs/detection.md): paying a
    # smuggler's fee at a remittance counter does not make a relative a smuggler, so they
    # alert only with enough smuggling footprints of their own. Everyone else must alert.
    context = {t.account_id for t in truth if t.kind == "smuggling_common_beneficiary"}
    assert [m for m in missed if m[1] not in context] == []
    assert false == []


def test_rules_overlay_fills_the_watchlists_only(world):
    _, _, lists = world
    doc = rules.default_document()
    out = rules_overlay(doc, lists, "sim.9")
    assert out["version"] == doc["version"] + "+sim.9"
    params = {code: spec.get("params", {}) for code, spec in out["indicators"].items()}
    assert params["AD_SITE_PAYMENTS"]["merchant_ids"] == list(lists.ad_site_merchant_ids)
    assert params["UNLICENSED_RECRUITER"]["recruiters"] == list(lists.recruiters)
    assert params["CRYPTO_SMALL_MULTIPLES"]["dark_web_wallets"] == list(lists.dark_web_wallets)
    assert params["INTEL_IDENTIFIER_MATCH"]["identifiers"] == list(lists.intel_identifiers)
    assert lists.recruiters and lists.dark_web_wallets and lists.ad_site_merchant_ids
    for h in (*lists.recruiters, *lists.dark_web_wallets, *lists.intel_identifiers):
        assert HEX64.match(h)
    doc["indicators"]["AD_SITE_PAYMENTS"]["params"]["merchant_ids"] = []
    assert out["indicators"]["AD_SITE_PAYMENTS"] != doc["indicators"]["AD_SITE_PAYMENTS"]  # a copy
    rules.parse(out)  # still a valid rule set


def test_groups_are_deterministic_byte_for_byte(tmp_path):
    def dump(seed: int) -> bytes:
        sim = simulation.build(seed, 400, 8, START, KEY, scenarios=6, groups=3)
        lines = [json.dumps(r, separators=(",", ":")) for r in sim.events]
        truth = json.dumps([t.__repr__() for t in sim.truth])
        return ("\n".join(lines) + truth + json.dumps(sim.watchlists.as_dict())).encode()

    first = dump(13)
    assert hashlib.sha256(first).digest() == hashlib.sha256(dump(13)).digest()
    assert first != dump(14)
    assert b"smuggling_common_beneficiary" in first


def test_main_writes_rules_with_watchlists(tmp_path):
    out = tmp_path / "traffic.jsonl"
    args = ["--seed", "3", "--accounts", "400", "--days", "8", "--scenarios", "9", "--groups", "3"]
    assert simulate_cli.main([*args, "--out", str(out)]) == 0
    doc = json.loads((tmp_path / "traffic.rules.json").read_text())
    ruleset = rules.parse(doc)
    assert ruleset.version.endswith("+sim.3")
    assert doc["indicators"]["UNLICENSED_RECRUITER"]["params"]["recruiters"]
    truth = json.loads((tmp_path / "traffic.truth.json").read_text())
    assert {t["kind"] for t in truth} >= set(scenarios.GROUP_KINDS)


def test_stream_is_lazy():
    """Only the day being generated is held: the first event comes before the month is built."""
    sim = simulation.build(2, 50_000, 30, START, KEY)  # the whole month takes ~90 s
    t0 = time.perf_counter()
    first = next(sim.events)
    assert first["event_time"] < START + DAY_MS
    assert time.perf_counter() - t0 < 30


def test_long_runs_show_the_travelling_ring_sustaining_its_victims():
    """SUSTAINING_SPEND needs an 8-week baseline; runs of 12 weeks or more generate the shift."""
    from processors import replay

    days = scenarios.SUSTAIN_MIN_DAYS + 2
    sim = simulation.build(4, 300, days, START, KEY, scenarios=7, groups=0)
    travel = {t.account_id for t in sim.truth if t.kind == "sex_ring_travel"}
    assert travel
    result = replay.run(sim.events, Engine(rules.load()), START + (days + 1) * DAY_MS)
    sustaining = {acct for acct, code in result.hits if code == "SUSTAINING_SPEND"}
    assert sustaining == travel


def test_labour_group_forwards_wages_to_one_account(world):
    """WAGE_FORWARDING's shape: >= 3 workers each send >= 80% of a wage to one account within a
    day of payday (the fixture's seed gives a forwarding group)."""
    by_kind = _by_kind(world)
    forwarded: dict[tuple[str, str], set[str]] = defaultdict(set)
    for acct, recs in by_kind["labour_shared_identifier"].items():
        wages = [r for r in recs if r["direction"] == "CREDIT" and r["payroll"]]
        assert wages
        for r in recs:
            if r["direction"] != "DEBIT" or r["payroll"] or r["counterparty"] is None:
                continue
            for wage in wages:
                soon = 0 <= r["event_time"] - wage["event_time"] <= DAY_MS
                if soon and r["amount_minor"] >= 0.8 * wage["amount_minor"]:
                    forwarded[_beneficiary(r)].add(acct)
    assert forwarded and max(len(s) for s in forwarded.values()) >= 3


NOW_FAR = 1_900_000_000_000  # later than any simulated event


def test_avro_output_holds_the_same_events_as_json_lines(tmp_path):
    args = ["--seed", "9", "--accounts", "80", "--days", "2", "--start", "2026-03-02T00:00:00Z"]
    assert simulate_cli.main([*args, "--out", str(tmp_path / "ev.jsonl")]) == 0
    assert simulate_cli.main([*args, "--out", str(tmp_path / "ev.avro")]) == 0
    lines = [json.loads(x) for x in (tmp_path / "ev.jsonl").read_text().splitlines()]
    records = list(read_avro(tmp_path / "ev.avro"))
    assert len(records) == len(lines) > 0
    # Avro fills the schema's defaults where the JSON leaves a field out; nothing else differs.
    assert [to_event(r, NOW_FAR) for r in records] == [to_event(r, NOW_FAR) for r in lines]
    assert (tmp_path / "ev.truth.json").exists() and (tmp_path / "ev.rules.json").exists()


def test_avro_output_needs_a_file(capsys):
    with pytest.raises(SystemExit):
        simulate_cli.main(["--accounts", "5", "--days", "1", "--out", "-", "--format", "avro"])
    assert "needs --out FILE" in capsys.readouterr().err


def test_rings_label_roles_and_their_members_pay_each_other():
    """Issue 12's harder scenarios (simulator/scenarios/rings.py): every ring account has a
    role; a transfer between two members is a debit on one and a credit on the other, each
    naming the other; look-alike rings are labelled NONE."""
    sim = simulation.build(5, 3000, 21, START, KEY, scenarios=3, groups=0, rings=2)
    events = list(sim.events)
    rings = [t for t in sim.truth if t.scenario_id.startswith("ring-")]
    assert {t.kind for t in rings if t.typology != "NONE"} == {
        "ring_smuggling_collector",
        "ring_labour_controller",
        "ring_sex_controller",
    }
    assert {t.typology for t in rings if t.kind.startswith("hard_negative")} == {"NONE"}
    roles = {(t.kind, t.role) for t in rings}
    assert ("ring_smuggling_collector", "collector") in roles
    assert ("ring_smuggling_collector", "sender") in roles
    assert ("ring_labour_controller", "controller") in roles
    assert ("ring_labour_controller", "worker") in roles
    assert ("ring_sex_controller", "victim") in roles
    assert all(t.role for t in rings)
    members = {t.account_id for t in rings}
    debits = {
        (r["account_id"], r["counterparty"]["account_id"], r["amount_minor"])
        for r in events
        if r["direction"] == "DEBIT"
        and r["account_id"] in members
        and (r.get("counterparty") or {}).get("account_id") in members
    }
    credits = {
        (r["counterparty"]["account_id"], r["account_id"], r["amount_minor"])
        for r in events
        if r["direction"] == "CREDIT"
        and r["account_id"] in members
        and (r.get("counterparty") or {}).get("account_id") in members
    }
    assert debits and debits == credits
