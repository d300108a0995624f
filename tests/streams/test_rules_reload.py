"""Rule hot reload: a rule set published to the compacted rules topic takes effect in a
running worker without a restart; an invalid one is rejected and the old one stays."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from config import clients
from processors import rules as rules_mod
from schemas.codec import AvroCodec
from streams import rules_feed
from tests.support import (
    HOUR_MS,
    WorkerProcess,
    hotel,
    isolated_env,
    midnight_days_ago,
    operator_redis,
    producer,
    settings_for,
    wait_for,
)

EVENTS = AvroCodec("payment_event")


def hotel_only_rules(version: str) -> dict:
    """The default rules, re-versioned, where three hotel cities alone raise an alert."""
    doc = rules_mod.default_document()
    doc["version"] = version
    doc["indicators"]["HOTEL_MULTI_CITY"]["weights"]["SEX_TRAFFICKING"] = 1.0
    return doc


def hotels(prefix: str, account: str) -> list[dict]:
    d3, d2, d1 = midnight_days_ago(3), midnight_days_ago(2), midnight_days_ago(1)
    return [
        hotel(f"{prefix}-1", d3 + 15 * HOUR_MS, "Reno", account),
        hotel(f"{prefix}-2", d2 + 15 * HOUR_MS, "Fresno", account),
        hotel(f"{prefix}-3", d1 + 15 * HOUR_MS, "Boise", account),
    ]


def publish_events(settings, records) -> None:
    p = producer(settings)
    for rec in records:
        p.produce(settings.topic_payments, key=rec["account_id"].encode(), value=EVENTS.encode(rec))
    assert p.flush(30) == 0


def case_versions(settings) -> dict[str, str]:
    """account -> rule-set version of its case, from the case queue."""
    client = operator_redis(settings)
    out = {}
    for _, fields in client.xrange(settings.case_stream("bank-test")):
        alert = json.loads(fields[b"alert"])
        out[alert["account_id"]] = alert["rule_set_version"]
    return out


# --- unit ------------------------------------------------------------------------------------


def test_decode_accepts_a_valid_document_and_names_the_bad_key_otherwise() -> None:
    good = json.dumps(hotel_only_rules("v-good")).encode()
    assert rules_feed.decode(good).version == "v-good"

    bad = hotel_only_rules("v-bad")
    bad["indicators"]["HOTEL_MULTI_CITY"]["params"]["min_citiez"] = 3
    with pytest.raises(rules_mod.RuleError, match=r"indicators\.HOTEL_MULTI_CITY\.params"):
        rules_feed.decode(json.dumps(bad).encode())
    with pytest.raises(rules_mod.RuleError, match="not valid JSON"):
        rules_feed.decode(b"{not json")
    with pytest.raises(rules_mod.RuleError, match="tombstone"):
        rules_feed.decode(None)


def test_rules_validate_cli_names_the_bad_key(tmp_path: Path, capsys) -> None:
    bad = hotel_only_rules("v-bad")
    bad["typologies"]["SEX_TRAFFICKING"]["threshold"] = -1
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    assert rules_feed.main(["validate", str(path)]) == 2
    out = capsys.readouterr().out
    assert "typologies.SEX_TRAFFICKING.threshold" in out and "nothing published" in out


# --- against the real broker -----------------------------------------------------------------


@pytest.mark.integration
def test_running_worker_takes_a_new_rule_set_and_keeps_it_over_a_bad_one(
    stack, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path)
    settings = settings_for(env)
    default_version = rules_mod.load().version
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        worker.wait_metric("chainbreaker_rule_set_info", 1, 90, f'version="{default_version}"')

        # Under the default rules, hotels in three cities alone are not enough to alert.
        publish_events(settings, hotels("before", "acct-before"))
        worker.wait_metric("chainbreaker_events_processed_total", 3, 90)

        new_rules = tmp_path / "rules.json"
        new_rules.write_text(json.dumps(hotel_only_rules("2026.11.99-reload")))
        cli = [sys.executable, "-m", "cli", "rules", "publish", str(new_rules)]
        done = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        assert settings.topic_rules in done.stdout
        worker.wait_metric("chainbreaker_rule_set_info", 1, 60, 'version="2026.11.99-reload"')
        assert worker.metric("chainbreaker_rule_set_reloads_total") == 1

        publish_events(settings, hotels("after", "acct-after"))
        wait_for(lambda: "acct-after" in case_versions(settings), 60, "a case under new rules")

        # Something bypasses validation and writes a broken rule set: it is rejected.
        broken = hotel_only_rules("2026.11.100-broken")
        broken["indicators"]["NO_SUCH_INDICATOR"] = {"enabled": True, "weights": {}}
        p = producer(settings, clients.RULES)  # a rule owner, bypassing `rules publish`
        p.produce(settings.topic_rules, key=rules_feed.RULES_KEY, value=json.dumps(broken))
        assert p.flush(30) == 0
        worker.wait_metric("chainbreaker_rule_set_rejected_total", 1, 60)
        assert "NO_SUCH_INDICATOR" in worker.log_tail(200)

        publish_events(settings, hotels("later", "acct-later"))
        wait_for(lambda: "acct-later" in case_versions(settings), 60, "a case after rejection")
        versions = case_versions(settings)
        assert "acct-before" not in versions
        assert versions["acct-after"] == "2026.11.99-reload"
        assert versions["acct-later"] == "2026.11.99-reload"
        assert worker.metric("chainbreaker_rule_set_info", 'version="2026.11.99-reload"') == 1
    finally:
        worker.stop()

    # A restarted worker runs what the fleet runs: the newest valid rule set on the topic.
    restarted = WorkerProcess(env, tmp_path / "restarted.log").start()
    try:
        restarted.wait_metric("chainbreaker_rule_set_info", 1, 90, 'version="2026.11.99-reload"')
        assert restarted.metric("chainbreaker_rule_set_rejected_total") == 1
    finally:
        restarted.stop()
