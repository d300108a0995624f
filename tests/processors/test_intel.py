"""The shared intelligence feed without a broker: normalising, hashing, the index, the CSV
reader and the four detectors that consult the index (fire on a listed identifier, not on a
near miss, an expired entry, a removed entry or an entry of another category)."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors import rules
from processors.engine import Engine
from processors.intel import (
    IntelEntry,
    IntelError,
    IntelIndex,
    entry_key,
    hash_identifier,
    keyed_hash,
    normalise,
    parse_key,
)
from processors.state import AccountState
from processors.validation import to_event
from schemas.codec import AvroCodec
from simulator import simulation, world
from streams.intel_feed import make_entry, parse_expires, read_csv
from tests.support import card_record as rec

KEY = "consortium-test-key-0123456789"
HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NOW = T0 + 60 * DAY


# --- normalising and hashing -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, raw, canonical",
    [
        ("phone", "+1 (555) 123-4567", "+15551234567"),
        ("phone", "  0044 20 7946.0958 ", "+442079460958"),
        ("email", "  Jane.Doe@Example.ORG ", "jane.doe@example.org"),
        ("address", "12  Main St.,\tApt #4\n Springfield", "12 main st apt 4 springfield"),
        ("name", "  ANNA-Maria  O'Neil ", "anna maria o neil"),
        ("wallet", " 0xAbC123dEF ", "0xabc123def"),
        ("wallet", " bc1QxyZ ", "bc1QxyZ"),  # bech32/base58: case is kept as written
        ("merchant", "  ESCORTADS-0042 ", "ESCORTADS-0042"),
        ("device", " dev-1 ", "dev-1"),
    ],
)
def test_normalise_gives_one_canonical_form(kind, raw, canonical):
    assert normalise(kind, raw) == canonical


@pytest.mark.parametrize(
    "kind, raw, why",
    [
        ("phone", "555 123 4567", "country code"),  # ambiguous without a country code
        ("phone", "+1 555 CALL NOW", "only digits"),
        ("phone", "+12", "digits"),
        ("email", "not-an-address", "local@domain"),
        ("email", "a@b@c", "local@domain"),
        ("address", " ,.; ", "nothing left"),
        ("merchant", "   ", "empty"),
        ("iban", "DE89 3704", "not one of"),
    ],
)
def test_bad_identifiers_are_refused_without_echoing_them(kind, raw, why):
    with pytest.raises(IntelError, match=why) as exc:
        normalise(kind, raw)
    if raw.strip(" ,.;"):
        assert raw.strip() not in str(exc.value)


def test_hash_matches_what_the_simulator_and_producers_compute(monkeypatch):
    # The payment contract hashes E.164 phones and lower-cased e-mails; so does the simulator.
    assert hash_identifier(KEY, "phone", "+1 (555) 123-4567") == world.keyed_hash(
        KEY, "+15551234567"
    )
    assert hash_identifier(KEY, "email", " User7.42@Example.org") == world.keyed_hash(
        KEY, "user7.42@example.org"
    )
    # the simulator hashes through the same function, and its phones are already E.164
    seen: list[str] = []
    monkeypatch.setattr(world, "intel_keyed_hash", lambda k, v: seen.append(v) or "0" * 64)
    simulation.build(seed=3, accounts=20, days=1, start_ms=T0, hash_key=KEY, scenarios=0)
    phones = [v for v in seen if v.startswith("+")]
    assert len(phones) == 20
    assert all(normalise("phone", v) == v for v in phones)
    # a different key, a different hash: the feed is useless without the consortium key
    assert hash_identifier("another-key-0123456789", "phone", "+15551234567") != keyed_hash(
        KEY, "+15551234567"
    )


def test_keys_round_trip_and_reject_junk():
    digest = keyed_hash(KEY, "x")
    assert parse_key(entry_key("phone", digest)) == ("phone", digest)
    for junk in (None, b"phone", b"phone:abc", b"fax:" + digest.encode(), b"\xff:" + b"0" * 64):
        with pytest.raises(IntelError):
            parse_key(junk)


def test_entry_record_round_trips_through_its_avro_contract():
    entry = make_entry(KEY, "phone", "+1 555 123 4567", "sex_ad_identifier", "ngo-x", "0.9",
                       "2027-01-01", now_ms=T0)  # fmt: skip
    codec = AvroCodec("intel_entry")
    data = codec.encode(entry.to_record())
    assert IntelEntry.from_record(codec.decode(data)) == entry
    assert entry.expires_ms == 1_798_761_600_000  # 2027-01-01T00:00:00Z
    assert b"555" not in data and b"+1" not in data  # only the hash travels


@pytest.mark.parametrize(
    "field, value, why",
    [
        ("category", "Sex Ads!", "category"),
        ("source", "", "source"),
        ("confidence", "1.5", "at most 1"),
        ("confidence", "0", "greater than 0"),
        ("confidence", "high", "not a number"),
        ("expires", "next year", "expires"),
    ],
)
def test_make_entry_validates_every_field(field, value, why):
    args = {"category": "ad_site", "source": "ngo-x", "confidence": "0.8", "expires": None}
    args[field] = value
    with pytest.raises(IntelError, match=why):
        make_entry(KEY, "merchant", "m-1", **args)


def test_expires_accepts_dates_and_timestamps_in_utc():
    assert parse_expires("2027-01-01") == parse_expires("2027-01-01T00:00:00+00:00")
    assert parse_expires("2027-01-01T01:00:00+01:00") == parse_expires("2027-01-01")
    assert parse_expires("") is None and parse_expires(None) is None


def test_csv_import_is_all_or_nothing_and_names_lines_not_values(tmp_path: Path):
    good = tmp_path / "good.csv"
    good.write_text(
        "kind,value,category,source,confidence,expires\n"
        "phone,+1 555 000 1111,sex_ad_identifier,ngo-x,0.9,2027-01-01\n"
        "merchant,ADS-1,ad_site,ngo-x,1,\n"
    )
    entries = read_csv(KEY, good)
    assert [e.kind for e in entries] == ["phone", "merchant"]
    assert entries[0].hash == hash_identifier(KEY, "phone", "+15550001111")
    assert entries[1].expires_ms is None

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "kind,value,category,source,confidence,expires\n"
        "phone,+1 555 000 1111,sex_ad_identifier,ngo-x,0.9,\n"
        "phone,555 000 2222,sex_ad_identifier,ngo-x,0.9,\n"
    )
    with pytest.raises(IntelError, match="line 3: phone") as exc:
        read_csv(KEY, bad)
    assert "2222" not in str(exc.value)

    headless = tmp_path / "headless.csv"
    headless.write_text("kind,value\nphone,+15550001111\n")
    with pytest.raises(IntelError, match="missing column"):
        read_csv(KEY, headless)


# --- the index ---------------------------------------------------------------------------------


def entry(kind: str, value: str, category: str, expires: int | None = None, source="ngo-x"):
    return IntelEntry(kind, hash_identifier(KEY, kind, value), category, source, 0.9, expires, T0)


def test_index_add_remove_and_expiry_by_event_time():
    index = IntelIndex(KEY)
    e = entry("phone", "+15551234567", "sex_ad_identifier", expires=T0 + DAY)
    index.put(e)
    assert len(index) == 1 and index.count("phone") == 1
    assert index.match("phone", e.hash, T0) is e
    assert index.match("phone", e.hash, T0 + DAY - 1) is e
    assert index.match("phone", e.hash, T0 + DAY) is None  # expired for events from then on
    assert index.get("phone", e.hash) is e  # still held: an older event still matches
    assert index.match("email", e.hash, T0) is None  # kinds do not mix
    assert index.match("phone", None, T0) is None
    assert index.remove("phone", e.hash) is True
    assert index.match("phone", e.hash, T0) is None and len(index) == 0
    assert index.remove("phone", e.hash) is False


def test_index_hashes_merchant_ids_once_and_bounds_the_cache(monkeypatch):
    index = IntelIndex(KEY)
    index.put(entry("merchant", "ADS-1", "ad_site"))
    assert index.match_merchant(" ADS-1 ".strip(), T0).category == "ad_site"
    assert index.match_merchant("ADS-2", T0) is None
    monkeypatch.setattr(IntelIndex, "MERCHANT_CACHE_MAX", 4)
    for i in range(10):
        index.merchant_hash(f"m-{i}")
    assert len(index._merchant_hashes) <= 4
    assert index.merchant_hash("ADS-1") == hash_identifier(KEY, "merchant", "ADS-1")


# --- detectors ---------------------------------------------------------------------------------


def run(index: IntelIndex | None, records: list[dict]) -> tuple[list, list]:
    engine = Engine(rules.load(), intel=index)
    state = AccountState()
    hits, alerts = [], []
    for r in records:
        out = engine.step(state, to_event(r, NOW), NOW)
        hits += out.hits
        alerts += out.alerts
    return hits, alerts


def codes(hits) -> set[str]:
    return {h.code for h in hits}


PHONE = "+1 555 123 4567"
PHONE_HASH = hash_identifier(KEY, "phone", PHONE)


def test_holder_phone_in_the_feed_fires_and_explains_without_the_value():
    index = IntelIndex(KEY)
    index.put(entry("phone", PHONE, "sex_ad_identifier", source="ads-watch"))
    hits, alerts = run(index, [rec("e1", T0, holder_phone_hash=PHONE_HASH)])
    hit = next(h for h in hits if h.code == "INTEL_IDENTIFIER_MATCH")
    assert "sex_ad_identifier from ads-watch, confidence 0.90" in hit.explanation
    assert "phone" in hit.explanation
    assert PHONE_HASH not in hit.explanation and "555" not in hit.explanation
    assert [a["typology"] for a in alerts] == ["SEX_TRAFFICKING"]  # weight 1.8 alone suffices


@pytest.mark.parametrize(
    "field, kind, value",
    [
        ("holder_email_hash", "email", "a@example.org"),
        ("holder_address_hash", "address", "1 Main St"),
        ("device_hash", "device", "dev-9"),
        ("wallet_address_hash", "wallet", "bc1qlisted"),
    ],
)
def test_every_holder_identifier_kind_is_looked_up(field, kind, value):
    index = IntelIndex(KEY)
    index.put(entry(kind, value, "sex_ad_identifier"))
    hits, _ = run(index, [rec("e1", T0, **{field: hash_identifier(KEY, kind, value)})])
    assert "INTEL_IDENTIFIER_MATCH" in codes(hits)


def test_passenger_name_on_a_ticket_in_the_feed_fires():
    index = IntelIndex(KEY)
    index.put(entry("name", "Anna Doe", "sex_ad_identifier"))
    names = [hash_identifier(KEY, "name", "someone else"), hash_identifier(KEY, "name", "ANNA DOE")]
    hits, _ = run(index, [rec("e1", T0, passenger_name_hashes=names)])
    assert "INTEL_IDENTIFIER_MATCH" in codes(hits)


def test_near_misses_do_not_fire():
    index = IntelIndex(KEY)
    index.put(entry("phone", PHONE, "sex_ad_identifier", expires=T0 + DAY))
    near = [
        rec("a", T0, holder_phone_hash=hash_identifier(KEY, "phone", "+1 555 123 4568")),
        rec("b", T0, holder_phone_hash=keyed_hash("other-consortium-key-01", "+15551234567")),
        rec("c", T0, holder_email_hash=PHONE_HASH),  # the right hash under the wrong kind
        rec("d", T0 + DAY, holder_phone_hash=PHONE_HASH),  # at the expiry instant
    ]
    for r in near:
        hits, alerts = run(index, [r])
        assert "INTEL_IDENTIFIER_MATCH" not in codes(hits), r["event_id"]
        assert alerts == []
    # and without an index (the backtest, or a worker without the feed) nothing changes
    hits, _ = run(None, [rec("e", T0, holder_phone_hash=PHONE_HASH)])
    assert hits == []


def test_a_removed_entry_stops_matching_in_a_running_engine():
    index = IntelIndex(KEY)
    index.put(entry("phone", PHONE, "sex_ad_identifier"))
    engine = Engine(rules.load(), intel=index)
    assert engine.step(AccountState(), to_event(rec("e1", T0, holder_phone_hash=PHONE_HASH),
                                                NOW), NOW).hits  # fmt: skip
    index.remove("phone", PHONE_HASH)
    out = engine.step(AccountState(), to_event(rec("e2", T0, holder_phone_hash=PHONE_HASH),
                                               NOW), NOW)  # fmt: skip
    assert not out.hits


def test_rule_set_lists_still_work_beside_the_feed():
    doc = rules.default_document()
    doc["indicators"]["INTEL_IDENTIFIER_MATCH"]["params"]["identifiers"] = [PHONE_HASH]
    engine = Engine(rules.parse(doc), intel=IntelIndex(KEY))
    out = engine.step(AccountState(), to_event(rec("e1", T0, holder_phone_hash=PHONE_HASH),
                                               NOW), NOW)  # fmt: skip
    (hit,) = out.hits
    assert "rule set's intel list" in hit.explanation


def test_engine_gives_the_index_to_copies_not_to_the_rule_sets_detectors():
    ruleset = rules.load()
    index = IntelIndex(KEY)
    engine = Engine(ruleset, intel=index)
    users = [d for d in engine._detectors if getattr(d, "intel", None) is index]
    assert sorted(d.code for d in users) == [
        "AD_SITE_PAYMENTS", "CRYPTO_SMALL_MULTIPLES", "INTEL_IDENTIFIER_MATCH",
        "UNLICENSED_RECRUITER",
    ]  # fmt: skip
    assert all(getattr(d, "intel", None) is None for d in ruleset.detectors)


def ad_payment(event_id: str, t: int, merchant_id: str, amount_minor: int = 2_500) -> dict:
    merchant = {"merchant_id": merchant_id, "mcc": "5999", "city": "Reno", "country": "US"}
    return rec(event_id, t, channel="CARD_NOT_PRESENT", merchant=merchant,
               amount_minor=amount_minor)  # fmt: skip


def test_ad_site_merchant_in_the_feed_counts_as_watchlisted():
    index = IntelIndex(KEY)
    index.put(entry("merchant", "ESCORTADS-1", "ad_site", source="ad-census"))
    index.put(entry("merchant", "MASSAGE-1", "illicit_massage_business"))
    listed = [ad_payment(f"e{i}", T0 + i * HOUR, " ESCORTADS-1") for i in range(5)]
    hits, _ = run(index, listed)
    (hit,) = [h for h in hits if h.code == "AD_SITE_PAYMENTS"]
    assert "ad_site from ad-census, confidence 0.90" in hit.explanation
    assert hit.measured == 5
    # another category, another merchant, or four payments only: no hit
    other = [ad_payment(f"o{i}", T0 + i * HOUR, "MASSAGE-1") for i in range(5)]
    unlisted = [ad_payment(f"u{i}", T0 + i * HOUR, "ESCORTADS-2") for i in range(5)]
    for records in (other, unlisted, listed[:4]):
        hits, _ = run(index, records)
        assert "AD_SITE_PAYMENTS" not in codes(hits)


def test_unlicensed_recruiter_merchant_or_account_in_the_feed_fires():
    index = IntelIndex(KEY)
    index.put(entry("merchant", "VISA-AGENCY-7", "unlicensed_recruiter", source="labour-min"))
    acct_hash = hash_identifier(KEY, "account", "DE89370400440532013000")
    index.put(IntelEntry("account", acct_hash, "unlicensed_recruiter", "labour-min", 0.7, None,
                         T0))  # fmt: skip
    by_merchant = ad_payment("m1", T0, "VISA-AGENCY-7", amount_minor=90_000)
    by_account = rec("a1", T0, channel="WIRE", amount_minor=150_000,
                     counterparty={"account_id": acct_hash})  # fmt: skip
    for r in (by_merchant, by_account):
        hits, _ = run(index, [r])
        (hit,) = [h for h in hits if h.code == "UNLICENSED_RECRUITER"]
        assert "from labour-min" in hit.explanation
    # a credit from the agency, or the agency listed under another category: no hit
    refund = rec(
        "r1", T0, direction="CREDIT", channel="WIRE", counterparty={"account_id": acct_hash}
    )
    assert "UNLICENSED_RECRUITER" not in codes(run(index, [refund])[0])
    other = IntelIndex(KEY)
    other.put(entry("merchant", "VISA-AGENCY-7", "ad_site"))
    assert "UNLICENSED_RECRUITER" not in codes(run(other, [by_merchant])[0])


def test_dark_web_wallet_in_the_feed_fires_crypto_not_the_identifier_match():
    index = IntelIndex(KEY)
    index.put(entry("wallet", "bc1qdarkmarket", "dark_web_market", source="chain-intel"))
    wallet = hash_identifier(KEY, "wallet", " bc1qdarkmarket ")
    hits, _ = run(index, [rec("c1", T0, channel="CRYPTO", amount_minor=20_000,
                              wallet_address_hash=wallet)])  # fmt: skip
    assert codes(hits) == {"CRYPTO_SMALL_MULTIPLES"}  # one red flag, one indicator
    (hit,) = hits
    assert "dark_web_market from chain-intel" in hit.explanation
    # expired before the payment: no hit
    stale = IntelIndex(KEY)
    stale.put(entry("wallet", "bc1qdarkmarket", "dark_web_market", expires=T0))
    assert run(stale, [rec("c2", T0, channel="CRYPTO", amount_minor=20_000,
                           wallet_address_hash=wallet)])[0] == []  # fmt: skip


# --- the replica's record handling (no broker: a stand-in message) ---------------------------


class FakeMessage:
    def __init__(self, key: bytes | None, value: bytes | None) -> None:
        self._key, self._value = key, value

    def key(self):
        return self._key

    def value(self):
        return self._value

    def topic(self):
        return "intel"

    def partition(self):
        return 0

    def offset(self):
        return 7


def bare_feed(index: IntelIndex):
    from streams.intel_feed import IntelFeed

    feed = IntelFeed.__new__(IntelFeed)  # no consumer: only handle is exercised
    feed.index, feed.codec, feed.rejected = index, AvroCodec("intel_entry"), 0
    feed.settings = None
    updates: list[tuple[str, str]] = []
    feed._on_update = lambda op, kind: updates.append((op, kind))
    return feed, updates


def test_replica_applies_puts_and_tombstones_and_skips_junk(caplog):
    index = IntelIndex(KEY)
    feed, updates = bare_feed(index)
    e = entry("phone", PHONE, "sex_ad_identifier")
    codec = AvroCodec("intel_entry")
    feed.handle(FakeMessage(e.key, codec.encode(e.to_record())))
    assert index.get("phone", e.hash) == e
    other = entry("phone", "+1 555 999 0000", "sex_ad_identifier")
    junk = [
        FakeMessage(b"not-a-key", codec.encode(e.to_record())),
        FakeMessage(other.key, codec.encode(e.to_record())),  # value for another key
        FakeMessage(other.key, b"\xc3\x01garbage"),
        FakeMessage(other.key, codec.encode({**other.to_record(), "confidence": 7.0})),
    ]
    for m in junk:
        feed.handle(m)
    assert feed.rejected == 4 and index.get("phone", other.hash) is None
    assert "555" not in caplog.text
    feed.handle(FakeMessage(e.key, None))
    assert index.get("phone", e.hash) is None
    assert [op for op, _ in updates] == ["put"] + ["rejected"] * 4 + ["remove"]
