"""No clear identifier anywhere: payments whose holders' phones, e-mails, addresses and names
are known in clear go in through the publisher's hashing path (`chainbreaker publish
--hash-identifiers`), raise alerts (a shared-phone ring and a per-account pattern), are
worked as cases (SAR drafts, dispositions with notes) and feed the intel topic; then every
topic of the app, every Redis key, the worker's and the router's logs, both metrics pages and
the SAR drafts are scanned for any of the clear values (tests/privacy.py). None may appear,
while the same scan does find them in the input file (so it can find what it looks for).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from institutions import acl
from institutions.client import CaseClient
from tests.privacy import LeakScan
from tests.reliability.harness import lags
from tests.streams.test_worker_integration import ring_events
from tests.support import (
    HOUR_MS,
    ROOT,
    WorkerProcess,
    free_port,
    isolated_env,
    midnight_days_ago,
    operator_redis,
    payment,
    settings_for,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INSTITUTION = "bank-test"  # tests.support.payment()'s
SHARED_PHONE = "+1 (555) 014-4477"
CLEAR = {
    "shared phone": SHARED_PHONE,
    "phone": "+44 20 7946 0321",
    "e-mail 0": "maria.quintero@example.org",
    "e-mail 1": "j.okafor+cash@example.net",
    "e-mail 2": "lwei.transfers@example.com",
    "address 0": "1200 Harbor Blvd Apt 4, Reno NV 89501",
    "address 1": "77 Calle de la Luna, Fresno CA 93701",
    "passenger": "Ana Beatriz Quintero",
    "counterparty": "Olumide Okafor",
    "device": "android-3f9e-77c1-device-serial-0042",
}


def clear_records() -> list[dict]:
    """A shared-phone ring of three structuring accounts (the cross-account indicator) and a
    hotel-and-night-cash pattern (per-account), every record carrying clear identifiers."""
    out = []
    t0 = midnight_days_ago(6)
    for i in range(3):
        for j in range(3):
            counterparty = {"account_id": f"own-{i}-{j}", "institution_id": "far",
                            "country": "GT", "name": CLEAR["counterparty"]}  # fmt: skip
            at = t0 + i * 86_400_000 + j * HOUR_MS
            rec = payment(f"ring{i}-w{j}", at, f"ring-{i}", channel="WIRE",
                          amount_minor=280_000, counterparty=counterparty)  # fmt: skip
            rec["holder_phone"] = SHARED_PHONE
            rec["holder_email"] = CLEAR[f"e-mail {i}"]
            rec["holder_address"] = CLEAR[f"address {i % 2}"]
            rec["device_id"] = CLEAR["device"]
            out.append(rec)
    for rec in ring_events("clear", account="acct-clear"):
        rec["holder_phone"] = CLEAR["phone"]
        rec["holder_email"] = CLEAR["e-mail 0"]
        rec["holder_address"] = CLEAR["address 0"]
        rec["passenger_names"] = [CLEAR["passenger"]]
        out.append(rec)
    out.sort(key=lambda r: r["event_time"])
    return out


def cli(env, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env={**env, "TQDM_DISABLE": "1"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=300,
    )


def test_no_clear_identifier_reaches_any_topic_key_log_page_or_draft(stack, tmp_path) -> None:
    env = isolated_env(tmp_path, CB_STACK_DIR=str(tmp_path / "stack"),
                       CB_EMBEDDED_ROUTER="false")  # fmt: skip
    settings = settings_for(env)
    admin = operator_redis(settings)
    grant = acl.grant(admin, settings, INSTITUTION)
    source = tmp_path / "clear.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in clear_records()) + "\n")

    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    router_env = {**env, "CB_METRICS_PORT": str(free_port())}
    router_log = open(tmp_path / "router.log", "ab")  # noqa: SIM115 - closed below
    router = subprocess.Popen([sys.executable, "-m", "cli", "router"], env=router_env, cwd=ROOT,
                              stdout=router_log, stderr=subprocess.STDOUT,
                              start_new_session=True)  # fmt: skip
    outputs: dict[str, str] = {}
    try:
        published = cli(env, "publish", "--hash-identifiers", str(source))
        outputs["publish"] = published.stdout + published.stderr
        assert published.returncode == 0, outputs["publish"]
        # A contributor lists the shared phone on the intel feed (hashed before it is sent).
        intel = cli(env, "intel", "add", "--kind", "phone", "--value", SHARED_PHONE, "--category",
                    "sex_ad_identifier", "--source", "test", "--confidence", "0.9")  # fmt: skip
        outputs["intel"] = intel.stdout + intel.stderr
        assert intel.returncode == 0, outputs["intel"]

        analyst = CaseClient(grant.url, settings, INSTITUTION, "ana")
        cases = wait_for(lambda: len(c := analyst.read(count=20, block_ms=500) + analyst.mine())
                         >= 3 and c, 240, "the ring's and the pattern's cases")  # fmt: skip
        creds = str(grant.credentials)
        # The analyst writes the identifiers into a note by mistake: refused, nothing sent.
        for leak in (CLEAR["phone"], CLEAR["e-mail 1"]):
            refused = cli(env, "cases", "dispose", cases[0].alert_id, "--credentials", creds,
                          "--outcome", "valuable", "--analyst", "an-1",
                          "--note", f"customer reachable at {leak}")  # fmt: skip
            assert refused.returncode == 1 and "note" in refused.stderr
            outputs[f"refused {leak}"] = refused.stdout + refused.stderr
        drafts = []
        for n, case in enumerate({c.alert_id: c for c in cases}.values()):
            for fmt in ("--json", None):
                out = tmp_path / f"sar-{n}{'.json' if fmt else '.md'}"
                args = ["cases", "sar", case.alert_id, "--credentials", creds, "--out", str(out)]
                done = cli(env, *args, *([fmt] if fmt else []))
                assert done.returncode == 0, done.stderr
                drafts.append(out)
            outcome = "false-positive" if n % 2 else "confirmed"
            done = cli(env, "cases", "dispose", case.alert_id, "--credentials", creds,
                       "--outcome", outcome, "--analyst", f"an-{n}",
                       "--note", f"Reviewed 2026-12-0{n + 1}; ref 2026-{n}18.")  # fmt: skip
            assert done.returncode == 0, done.stderr
            outputs[f"dispose {n}"] = done.stdout + done.stderr
        worker.wait_metric("chainbreaker_dispositions_total", len(drafts) // 2, timeout=120)
        wait_for(lambda: sum(lags(settings).values()) == 0, 300, "the pipeline to drain")

        scan = LeakScan(CLEAR)
        assert scan.data("input", source.read_bytes()), "the scan must find the clear input"
        scan.findings.clear()
        topics = sorted(
            t
            for t in scan_topics(settings)
            if t.startswith(f"{settings.app_id}-") or t in app_topics(settings)
        )
        records = scan.kafka_topics(settings, topics)
        keys = scan.redis_keys(settings, f"{settings.app_id}:*")
        for path in (tmp_path / "worker.log", tmp_path / "router.log", *drafts):
            scan.file(path)
        for where, text in outputs.items():
            scan.data(f"command output ({where})", text)
        scan.url(f"http://127.0.0.1:{settings.metrics_port}/metrics")
        scan.url(f"http://127.0.0.1:{router_env['CB_METRICS_PORT']}/metrics")
    finally:
        worker.stop()
        router.terminate()
        router.wait(30)
        router_log.close()
        acl.revoke(admin, settings, INSTITUTION)
        admin.close()
    print(
        f"\nno clear identifiers: {len(CLEAR)} clear values in {len(CLEAR) * 8}+ forms; "
        f"scanned {len(topics)} topics ({records} records), {keys} Redis keys, 2 logs, "
        f"{len(drafts)} SAR drafts, 2 metrics pages, {len(outputs)} command outputs: "
        f"{scan.places} places, {scan.scanned_bytes:,} bytes, {len(scan.findings)} findings"
    )
    assert records > 0 and keys > 0 and len(drafts) >= 6
    assert scan.findings == [], scan.report()


def app_topics(settings) -> set[str]:
    from config.names import disposition_topic

    return {
        settings.topic_payments,
        settings.topic_alerts,
        settings.topic_dead_letter,
        settings.topic_intel,
        settings.topic_rules,
        settings.topic_identity_links,
        settings.topic_account_signals,
        *(disposition_topic(settings.topic_dispositions, i) for i in (INSTITUTION,)),
    }


def scan_topics(settings) -> list[str]:
    from confluent_kafka.admin import AdminClient

    from config import clients

    admin = AdminClient(clients.kafka_config(settings, clients.ADMIN))
    return list(admin.list_topics(timeout=30).topics)
