"""Institution case handling against the real Redis and Kafka: read/claim/ack, reclaim, show,
dispose (round trip through the dispositions topic), note privacy, the CLI's credentials.

Cases are put on the stream by the router's own enqueue code, so the entry format is the real
one; the analyst side connects with the institution's ACL user, never the admin URL.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from config.names import case_index_key, disposition_topic
from institutions import acl
from institutions.cli import client_from_args
from institutions.client import CaseClient, CaseError, CaseNotFound
from institutions.dispositions import DispositionError, build_disposition, note_problem
from schemas.codec import codec_for
from streams.router import CaseQueues
from streams.topics import ensure_topics
from tests.processors.test_sar import make_alert
from tests.support import ROOT, isolated_env, operator_redis, settings_for, wait_for
from tests.support import consumer as support_consumer

pytestmark = pytest.mark.integration
INST = "bank-us-01"


@pytest.fixture
def env(tmp_path, stack) -> dict[str, str]:
    return isolated_env(tmp_path, CB_STACK_DIR=str(tmp_path / "stack"), CB_CASE_CLAIM_IDLE_S="1")


@pytest.fixture
def admin(env):
    client = operator_redis(settings_for(env))
    yield client
    client.close()


@pytest.fixture
def granted(env, admin):
    settings = settings_for(env)
    grant = acl.grant(admin, settings, INST)
    yield grant
    acl.revoke(admin, settings, INST)


def enqueue(env, admin, *alerts: dict) -> list[int | None]:
    """The router's own enqueue path (Lua SET NX + XADD)."""
    return CaseQueues(admin, settings_for(env)).enqueue([(a, None) for a in alerts])


def new_alert(account: str = "acct-42", institution: str = INST) -> dict:
    return make_alert(alert_id=uuid.uuid4().hex, institution=institution, account=account)


def analyst(env, grant, consumer: str) -> CaseClient:
    return CaseClient(grant.url, settings_for(env), INST, consumer)


def cli(env, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "cases", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_read_claims_once_and_ack_closes(env, admin, granted) -> None:
    first, second = new_alert(), new_alert()
    assert all(enqueue(env, admin, first, second))
    ana, other = analyst(env, granted, "ana"), analyst(env, granted, "bob")

    got = ana.read(count=10, block_ms=2000)
    assert [c.alert_id for c in got] == [first["alert_id"], second["alert_id"]]
    assert got[0].alert == first  # the full alert, as the router stored it
    assert got[0].fields["severity"] == "MEDIUM"
    assert other.read(count=10, block_ms=100) == []  # delivered once, to ana only

    pending = ana.pending()
    assert [(p.entry_id, p.consumer) for p in pending] == [(c.entry_id, "ana") for c in got]
    assert [c.entry_id for c in ana.mine()] == [c.entry_id for c in got]

    assert ana.ack(got[0].entry_id) == 1
    assert ana.ack(got[0].entry_id) == 0  # already closed
    assert [p.entry_id for p in ana.pending()] == [got[1].entry_id]
    assert ana.get(second["alert_id"]).entry_id == got[1].entry_id  # lookup by alert id
    with pytest.raises(CaseNotFound):
        ana.get(uuid.uuid4().hex)


def test_reclaim_only_after_idle(env, admin, granted) -> None:
    alert = new_alert()
    enqueue(env, admin, alert)
    ana, bob = analyst(env, granted, "ana"), analyst(env, granted, "bob")
    [case] = ana.read(count=1, block_ms=2000)

    assert bob.reclaim(min_idle_s=3600) == []  # a fresh claim is not taken away
    assert [p.consumer for p in bob.pending()] == ["ana"]

    # CB_CASE_CLAIM_IDLE_S=1 in this test: once ana has sat on it for a second, bob gets it.
    reclaimed = wait_for(lambda: bob.reclaim(), 30, "the case to pass the claim idle time")
    assert [c.alert_id for c in reclaimed] == [alert["alert_id"]]
    [row] = bob.pending()
    assert (row.entry_id, row.consumer, row.deliveries) == (case.entry_id, "bob", 2)
    assert bob.ack(case.entry_id) == 1
    assert bob.pending() == []


def test_show_json_and_table(env, admin, granted) -> None:
    alert = new_alert()
    enqueue(env, admin, alert)
    cred = str(granted.credentials)

    out = cli(env, "show", alert["alert_id"], "--json", "--credentials", cred)
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["alert"] == alert
    assert shown["outcome"] is None and shown["pending"] is None
    entry = shown["entry_id"]
    analyst(env, granted, "ana").read(count=1, block_ms=2000)
    held = json.loads(cli(env, "show", entry, "--json", "--credentials", cred).stdout)
    assert held["pending"]["consumer"] == "ana" and held["pending"]["deliveries"] == 1

    table = cli(env, "show", entry, "--credentials", cred)
    assert table.returncode == 0, table.stderr
    for text in ("HOTEL_MULTI_CITY", "FINTRAC-2016-OA003", "Evidence", "38(h)", "ev-1, ev-2",
                 "pending on", "ana (idle"):  # fmt: skip
        assert text in table.stdout

    missing = cli(env, "show", "1-1", "--credentials", cred)
    assert missing.returncode == 1 and "no case with entry id 1-1" in missing.stderr


def test_cli_never_falls_back_to_the_admin_url(env) -> None:
    bare = {k: v for k, v in env.items() if not k.startswith("CB_CASES_")}
    out = cli(bare, "read", "--block", "0")
    assert out.returncode == 1
    assert "no institution credentials" in out.stderr
    with pytest.raises(CaseError, match="no institution credentials"):
        client_from_args(None, None, INST, "ana", settings_for(bare))


def test_institution_is_read_from_the_url_user(env, granted) -> None:
    client = client_from_args(granted.url, None, None, "ana", settings_for(env))
    assert client.institution_id == INST
    from_file = client_from_args(None, str(granted.credentials), None, "ana", settings_for(env))
    assert from_file.institution_id == INST and from_file.stream == client.stream


def _consume_dispositions(settings, expect: int, timeout: float = 90, institution=INST) -> list:
    topic = disposition_topic(settings.topic_dispositions, institution)
    consumer = support_consumer(settings, f"test-{uuid.uuid4().hex}")
    consumer.subscribe([topic])
    got: list = []
    try:

        def poll():
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append(msg)
            return len(got) >= expect

        wait_for(poll, timeout, f"{expect} disposition(s) on {topic}")
    finally:
        consumer.close()
    return got


def test_dispose_round_trip(env, admin, granted) -> None:
    settings = settings_for(env)
    ensure_topics(settings)
    alert = new_alert(account="acct-77")
    enqueue(env, admin, alert)
    ana = analyst(env, granted, "ana")
    [case] = ana.read(count=1, block_ms=2000)
    cred = str(granted.credentials)

    out = cli(
        env, "dispose", case.entry_id, "--outcome", "false-positive", "--analyst", "an-17",
        "--note", "Payroll agency on 2026-11-20, documented.", "--json",
        "--credentials", cred, "--consumer", "ana",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    sent = json.loads(out.stdout)

    [msg] = _consume_dispositions(settings, 1)
    assert msg.key() == b"acct-77"
    record = codec_for("disposition", settings.schema_registry_url).decode(msg.value())
    assert record == sent
    assert record["outcome"] == "FALSE_POSITIVE"
    assert record["alert_id"] == alert["alert_id"]
    assert record["indicator_codes"] == ["HOTEL_MULTI_CITY", "LATE_NIGHT_CASH", "MANY_SMALL_PAYERS"]
    assert record["typology"] == "SEX_TRAFFICKING" and record["rule_set_version"] == "2026.11.0"
    assert record["analyst_id"] == "an-17" and record["note"].startswith("Payroll agency")
    assert len(record["disposition_id"]) == 32

    assert ana.pending() == []  # acknowledged after delivery
    assert ana.outcome(alert["alert_id"])["outcome"] == "FALSE_POSITIVE"
    again = cli(env, "dispose", case.entry_id, "--outcome", "valuable", "--analyst", "an-17",
                "--credentials", cred)  # fmt: skip
    assert again.returncode == 1 and "already disposed" in again.stderr


@pytest.mark.parametrize(
    ("note", "problem"),
    [
        ("spoke to her at jane.doe@example.org", "e-mail address"),
        ("customer called from +1 (555) 010-9999", "phone-number-like"),
        ("number 5550109999 on file", "phone-number-like"),
    ],
)
def test_dispose_rejects_pii_in_note_and_keeps_the_case(env, admin, granted, note, problem):
    alert = new_alert()
    enqueue(env, admin, alert)
    ana = analyst(env, granted, "ana")
    [case] = ana.read(count=1, block_ms=2000)
    out = cli(env, "dispose", alert["alert_id"], "--outcome", "confirmed", "--analyst", "an-1",
              "--note", note, "--credentials", str(granted.credentials))  # fmt: skip
    assert out.returncode == 1
    assert problem in out.stderr
    assert [p.entry_id for p in ana.pending()] == [case.entry_id]  # still open
    assert ana.outcome(alert["alert_id"]) is None


def test_note_check_allows_case_language() -> None:
    assert note_problem("Reviewed 2026-11-20T10:00 with team 3; 4 hotels, USD 1,250.") is None
    # what an analyst records after filing: references after their label
    for note in ("SAR filed, ref 2026-118", "BSA ID 31000123456789", "STR #4455667 filed",
                 "case no. 2026/00412 reopened", "Reference: 7788990011"):  # fmt: skip
        assert note_problem(note) is None, note
    assert note_problem("ref 2026-118, she gave +1 555 010 9999") is not None
    assert note_problem("filed; customer number 5550109999") is not None
    assert note_problem("call 020 7946 0000") is not None
    assert note_problem("x" * 5000) is not None
    alert = make_alert()
    with pytest.raises(DispositionError, match="outcome must be one of"):
        build_disposition(alert, "maybe", "an-1")
    with pytest.raises(DispositionError, match="pseudonymous"):
        build_disposition(alert, "valuable", "jane@example.org")
    record = build_disposition(alert, "confirmed", "an-1", "  ", decided_at_ms=5)
    assert record["outcome"] == "CONFIRMED_SAR_FILED" and record["note"] is None
    assert record["decided_at"] == 5
    codec = codec_for("disposition", None)
    assert codec.decode(codec.encode(record)) == record


def test_worker_alert_end_to_end_through_the_institution_queue(tmp_path, stack) -> None:
    """Payments -> real worker -> router -> the institution's ACL user reads, drafts, disposes."""
    from tests.streams.test_worker_integration import publish, ring_events
    from tests.support import WorkerProcess

    env = isolated_env(tmp_path, CB_STACK_DIR=str(tmp_path / "stack"))
    settings = settings_for(env)
    admin = operator_redis(settings)
    grant = acl.grant(admin, settings, "bank-test")  # the support builders' institution
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        ring = ring_events("e2e")
        publish(settings, ring)
        worker.wait_metric("chainbreaker_cases_enqueued_total", 1, timeout=90)

        client = CaseClient(grant.url, settings, "bank-test", "ana")
        [case] = client.read(count=10, block_ms=5000)
        assert set(case.alert["evidence_event_ids"]) == {e["event_id"] for e in ring}

        draft = cli(env, "sar", case.alert_id, "--json", "--credentials", str(grant.credentials))
        assert draft.returncode == 0, draft.stderr
        data = json.loads(draft.stdout)
        assert data["sar_key_term"] == "HUMAN TRAFFICKING FIN-2020-A008"
        assert data["sar_field"] == "38(h)"
        assert {r["indicator"] for r in data["evidence"]} == {"HOTEL_MULTI_CITY", "LATE_NIGHT_CASH"}

        record = client.dispose(case.alert_id, "confirmed", "an-3")
        [msg] = _consume_dispositions(settings, 1, institution="bank-test")
        decoded = codec_for("disposition", None).decode(msg.value())
        assert decoded["disposition_id"] == record["disposition_id"]
        assert decoded["outcome"] == "CONFIRMED_SAR_FILED"
        assert sorted(decoded["indicator_codes"]) == ["HOTEL_MULTI_CITY", "LATE_NIGHT_CASH"]
        assert client.pending() == []
    finally:
        worker.stop()
        acl.revoke(admin, settings, "bank-test")
        admin.close()


def test_lookup_by_alert_id_is_one_index_read(env, admin, granted, monkeypatch) -> None:
    alerts = [new_alert() for _ in range(5)]
    times = enqueue(env, admin, *alerts)
    ana = analyst(env, granted, "ana")

    def no_scan(*args, **kwargs):
        raise AssertionError("looked up by scanning the stream")

    monkeypatch.setattr(ana.redis, "xrevrange", no_scan)
    for alert, enqueued_ms in zip(alerts, times, strict=True):
        case = ana.get(alert["alert_id"])
        assert case.alert == alert and int(case.entry_id.split("-")[0]) == enqueued_ms


def test_lookup_by_alert_id_pages_through_the_stream(env, admin, granted, monkeypatch) -> None:
    """Cases enqueued before the index existed (none in it) are still found, by a scan."""
    import institutions.client as cases_module

    monkeypatch.setattr(cases_module, "SCAN_CHUNK", 2)
    alerts = [new_alert() for _ in range(5)]
    enqueue(env, admin, *alerts)
    admin.delete(case_index_key(settings_for(env).app_id, INST))
    ana = analyst(env, granted, "ana")
    for alert in (alerts[0], alerts[2], alerts[4]):  # oldest needs three pages, newest one
        assert ana.get(alert["alert_id"]).alert == alert
    with pytest.raises(CaseNotFound):
        ana.get(uuid.uuid4().hex)


def test_undelivered_disposition_fails_clearly_and_keeps_the_case(env, admin, granted) -> None:
    from dataclasses import replace

    from institutions.dispositions import DispositionProducer

    alert = new_alert()
    enqueue(env, admin, alert)
    ana = analyst(env, granted, "ana")
    [case] = ana.read(count=1, block_ms=2000)
    nowhere = replace(settings_for(env), kafka_bootstrap="127.0.0.1:1")  # nothing listens
    producer = DispositionProducer(nowhere, INST, timeout_s=2)
    with pytest.raises(DispositionError, match="not delivered.*the case stays open"):
        ana.dispose(case.entry_id, "valuable", "an-1", producer=producer)
    assert [p.entry_id for p in ana.pending()] == [case.entry_id]
    assert ana.outcome(alert["alert_id"]) is None


def test_enqueue_survives_a_redis_that_forgot_the_script(env, admin) -> None:
    """The router runs its script by SHA; a restarted Redis answers NOSCRIPT, and the batch
    must still land once, the script loaded again."""
    queues = CaseQueues(admin, settings_for(env))
    first, second, again = new_alert(), new_alert(), new_alert()
    assert all(queues.enqueue([(first, None)]))
    admin.script_flush()  # what a restart does to the script cache
    assert all(queues.enqueue([(second, None), (again, None)]))
    assert queues.enqueue([(second, None)]) == [None]  # still deduplicated
    ids = {
        json.loads(fields[b"alert"])["alert_id"]
        for _, fields in admin.xrange(settings_for(env).case_stream(INST))
    }
    assert {first["alert_id"], second["alert_id"], again["alert_id"]} <= ids
