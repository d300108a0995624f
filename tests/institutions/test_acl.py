"""Per-institution Redis ACL users: A works its own queue and cannot touch B's (NOPERM).

Runs against the shared Redis with runtime ACL users (no restart); every test uses its own
app id, so user names and keys never collide with other tests or the local stack's users.
"""

from __future__ import annotations

import os
import stat
import uuid

import pytest
import redis

from access.grant import revoke_app
from config import settings as settings_mod
from config.names import (
    ANALYSTS_GROUP,
    case_index_key,
    dedup_key,
    institutions_key,
    outcomes_key,
)
from institutions import acl, credentials
from institutions.client import CaseClient
from stack import services as stack_module
from streams.router import CaseQueues
from tests.processors.test_sar import make_alert
from tests.support import isolated_env, operator_redis, settings_for

pytestmark = pytest.mark.integration
A, B = "bank-a", "bank-b"


@pytest.fixture
def env(tmp_path, stack) -> dict[str, str]:
    return isolated_env(tmp_path, CB_STACK_DIR=str(tmp_path / "stack"))


@pytest.fixture
def admin(env):
    client = operator_redis(settings_for(env))
    yield client
    client.close()


@pytest.fixture
def grants(env, admin):
    settings = settings_for(env)
    out = {inst: acl.grant(admin, settings, inst) for inst in (A, B)}
    yield out
    for inst in out:
        acl.revoke(admin, settings, inst)


def _alert(institution: str) -> dict:
    return make_alert(alert_id=uuid.uuid4().hex, institution=institution)


def test_institution_reads_own_queue_but_not_another(env, admin, grants) -> None:
    settings = settings_for(env)
    a_alert, b_alert = _alert(A), _alert(B)
    CaseQueues(admin, settings).enqueue([(a_alert, None), (b_alert, None)])
    a = CaseClient(grants[A].url, settings, A, "ana")
    b = CaseClient(grants[B].url, settings, B, "bob")

    # Each works its own queue.
    [own] = a.read(count=10, block_ms=2000)
    assert own.alert_id == a_alert["alert_id"]
    [b_case] = b.read(count=10, block_ms=2000)
    assert b.pending()[0].entry_id == b_case.entry_id

    # A's user, aimed at B's stream: no read, no group read, no ack, no claim.
    a_on_b = CaseClient(grants[A].url, settings, B, "ana")
    raw = a.redis
    b_stream = settings.case_stream(B)
    with pytest.raises(redis.exceptions.NoPermissionError):
        raw.xrange(b_stream)
    with pytest.raises(redis.exceptions.NoPermissionError):
        raw.xreadgroup(ANALYSTS_GROUP, "ana", {b_stream: "0"})
    with pytest.raises(redis.exceptions.NoPermissionError):
        raw.xack(b_stream, ANALYSTS_GROUP, b_case.entry_id)
    for call in (  # claim, delete or trim B's cases, read B's outcomes
        lambda: raw.xclaim(b_stream, ANALYSTS_GROUP, "ana", 0, [b_case.entry_id]),
        lambda: raw.xdel(b_stream, b_case.entry_id),
        lambda: raw.delete(b_stream),
        lambda: raw.xtrim(b_stream, maxlen=0),
        lambda: raw.hgetall(outcomes_key(settings.app_id, B)),
        lambda: raw.xpending_range(b_stream, ANALYSTS_GROUP, "-", "+", 10),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            call()
    with pytest.raises(redis.exceptions.NoPermissionError):
        a_on_b.reclaim(min_idle_s=0)
    with pytest.raises(redis.exceptions.NoPermissionError):
        a_on_b.get(b_alert["alert_id"])
    with pytest.raises(redis.exceptions.NoPermissionError):
        raw.hget(case_index_key(settings.app_id, B), b_alert["alert_id"])
    # Its own case index it may read (lookup by alert id) but not write.
    assert (
        raw.hget(case_index_key(settings.app_id, A), a_alert["alert_id"]) == own.entry_id.encode()
    )
    with pytest.raises(redis.exceptions.NoPermissionError):
        raw.hset(case_index_key(settings.app_id, A), "forged", "0-1")
    # ... so B's case is still pending, on B's analyst.
    assert [(p.entry_id, p.consumer) for p in b.pending()] == [(b_case.entry_id, "bob")]

    # Nothing else either: the router's keys, key listing, writes to the stream, admin.
    for call in (
        lambda: raw.get(dedup_key(settings.app_id, A, a_alert["alert_id"])),
        lambda: raw.smembers(institutions_key(settings.app_id)),
        lambda: raw.keys("*"),
        lambda: raw.scan(0),
        lambda: raw.xadd(settings.case_stream(A), {"alert_id": "forged"}),
        lambda: raw.xdel(settings.case_stream(A), own.entry_id),
        lambda: raw.delete(settings.case_stream(A)),
        lambda: raw.flushall(),
        lambda: raw.config_get("*"),
        lambda: raw.execute_command("ACL", "LIST"),
        lambda: raw.eval("return 1", 0),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            call()
    assert a.ack(own.entry_id) == 1  # and it still works its own


def test_a_user_granted_before_the_case_index_still_finds_cases_by_alert_id(
    env, admin, grants
) -> None:
    settings = settings_for(env)
    alert = _alert(A)
    CaseQueues(admin, settings).enqueue([(alert, None)])
    _, password = credentials.url_credentials(grants[A].url)
    old_rules = [r for r in acl.acl_rules(settings, A, password) if not r.startswith("%")]
    admin.execute_command("ACL", "SETUSER", credentials.username(settings, A), *old_rules)
    client = CaseClient(grants[A].url, settings, A, "ana")
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.redis.hget(case_index_key(settings.app_id, A), alert["alert_id"])
    assert client.get(alert["alert_id"]).alert == alert  # by scanning the stream


def test_grant_is_idempotent_rotate_changes_password(env, admin, grants) -> None:
    settings = settings_for(env)
    first = grants[A]
    assert first.action == "created"
    mode = stat.S_IMODE(os.stat(first.credentials).st_mode)
    assert mode == 0o600
    again = acl.grant(admin, settings, A)
    assert again.url == first.url and again.action.startswith("re-applied")

    old = redis.Redis.from_url(first.url)
    assert old.ping()
    rotated = acl.grant(admin, settings, A, rotate=True)
    assert rotated.url != first.url
    assert credentials.read_credentials(rotated.credentials)["CB_CASES_REDIS_URL"] == rotated.url
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis.from_url(first.url).ping()
    assert redis.Redis.from_url(rotated.url).ping()

    assert acl.revoke(admin, settings, A)
    assert not rotated.credentials.exists()
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis.from_url(rotated.url).ping()


def test_stack_up_grants_configured_institutions(stack) -> None:
    """`stack up` on the local stack grants CB_INSTITUTIONS (here one, under a fresh app id)."""
    base = {k: v for k, v in os.environ.items() if k not in ("CB_REDIS_URL", "CB_KAFKA_BOOTSTRAP")}
    tag = f"t{uuid.uuid4().hex[:8]}"
    settings = settings_mod.load({**base, "CB_APP_ID": tag, "CB_INSTITUTIONS": "inst-x"})
    if settings.redis_external:
        pytest.skip("Redis is external: stack up grants nothing")
    admin = operator_redis(settings)
    try:
        report = stack_module.up(settings)
        assert report.redis.running
        path = credentials.credentials_path(settings, "inst-x")
        url = credentials.read_credentials(path)["CB_CASES_REDIS_URL"]
        client = CaseClient(url, settings, "inst-x", "ana")
        assert client.read(count=1, block_ms=100) == []
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.redis.xrange(settings.case_stream("other"))
    finally:
        acl.revoke(admin, settings, "inst-x")
        revoke_app(settings)
        credentials.credentials_path(settings, "inst-x").parent.rmdir()
        admin.delete(settings.case_stream("inst-x"))
        admin.close()


@pytest.mark.parametrize(
    ("admin_url", "expected"),
    [
        ("redis://127.0.0.1:16379/0", "redis://app.bank-a:pw@127.0.0.1:16379/0"),
        ("redis://admin:secret@redis:6379/2", "redis://app.bank-a:pw@redis:6379/2"),
        ("rediss://h:1/0?password=secret&ssl_cert_reqs=none",
         "rediss://app.bank-a:pw@h:1/0?ssl_cert_reqs=none"),
        ("unix:///run/redis.sock?db=1", "unix://app.bank-a:pw@/run/redis.sock?db=1"),
    ],
)  # fmt: skip
def test_institution_url_never_carries_admin_credentials(admin_url, expected) -> None:
    assert credentials.institution_url(admin_url, "app.bank-a", "pw") == expected
    assert "secret" not in credentials.institution_url(admin_url, "app.bank-a", "pw")


def test_rules_name_only_the_institutions_keys() -> None:
    settings = settings_mod.load({"CB_APP_ID": "app"})
    rules = acl.acl_rules(settings, "bank-a", "pw")
    assert rules[:3] == ["reset", "on", ">pw"]
    assert [r for r in rules if r.startswith("~")] == [
        "~app:cases:bank-a",
        "~app:case-outcomes:bank-a",
    ]
    assert [r for r in rules if r.startswith("%")] == ["%R~app:case-index:bank-a"]
    assert "-@all" in rules and "+xadd" not in rules and "+eval" not in rules
    assert credentials.institution_from_username(settings, "app.bank-a") == "bank-a"
    assert credentials.institution_from_username(settings, "other.bank-a") is None
