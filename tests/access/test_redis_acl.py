"""Redis users against the real server: nobody gets in without a user, and the router's user
appends cases without being able to read one.

(Institution-against-institution isolation is tests/institutions/test_acl.py.)
"""

from __future__ import annotations

import uuid

import pytest
import redis

from access import redis_acl
from config import clients
from config.names import (
    ANALYSTS_GROUP,
    case_enqueued_key,
    case_index_key,
    dedup_key,
    institutions_key,
    outcomes_key,
)
from streams.router import CaseQueueMetrics, CaseQueues
from tests.processors.test_sar import make_alert
from tests.support import isolated_env, operator_redis, settings_for

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(stack, tmp_path):
    return settings_for(isolated_env(tmp_path))


def test_nothing_without_a_user(settings) -> None:
    """The default user is disabled: an unauthenticated client cannot even PING."""
    anonymous = redis.Redis.from_url(settings.redis_url)  # no user, no password
    for call in (
        anonymous.ping,
        lambda: anonymous.xrange(settings.case_stream("bank-test")),
        lambda: anonymous.keys("*"),
    ):
        with pytest.raises(redis.exceptions.AuthenticationError):
            call()
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis.from_url(settings.redis_url, username="default", password="").ping()
    wrong = clients.user_url(settings.redis_url, redis_acl.OPERATOR_USER, "not-the-password")
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis.from_url(wrong).ping()
    # Locked either way: off, or (Redis before 7.2, stack/redis.py says why) behind a password
    # nobody holds; never the open "nopass".
    admin = operator_redis(settings)
    default = admin.acl_getuser("default")
    assert "nopass" not in default["flags"]
    assert "off" in default["flags"] or len(default["passwords"]) == 1


def test_the_router_appends_cases_it_cannot_read(settings) -> None:
    admin = operator_redis(settings)
    router = redis.Redis.from_url(clients.redis_url(settings, clients.ROUTER))
    alert = make_alert(alert_id=uuid.uuid4().hex, institution="bank-test")
    stream = settings.case_stream("bank-test")
    admin.xgroup_create(stream, ANALYSTS_GROUP, id="0", mkstream=True)

    # Its job: the Lua enqueue (SET NX + XADD + HSET + ZADD), once per alert id.
    queues = CaseQueues(router, settings)
    [enqueued] = queues.enqueue([(alert, None)])
    assert enqueued is not None
    assert queues.enqueue([(alert, None)]) == [None]  # the duplicate is refused
    entries = admin.xrange(stream)
    assert len(entries) == 1 and entries[0][1][b"alert_id"] == alert["alert_id"].encode()
    # ... and the queue metrics, from counts and ids alone.
    CaseQueueMetrics(router, settings).refresh()

    # Reading a case, in every way Redis offers: refused.
    entry_id = entries[0][0]
    for call in (
        lambda: router.xrange(stream),
        lambda: router.xrevrange(stream),
        lambda: router.xread({stream: "0"}),
        lambda: router.xreadgroup(ANALYSTS_GROUP, "spy", {stream: ">"}),
        lambda: router.xinfo_stream(stream),
        lambda: router.execute_command("XINFO", "STREAM", stream, "FULL"),
        lambda: router.xclaim(stream, ANALYSTS_GROUP, "spy", 0, [entry_id]),
        lambda: router.hget(case_index_key(settings.app_id, "bank-test"), alert["alert_id"]),
        lambda: router.hgetall(outcomes_key(settings.app_id, "bank-test")),
        lambda: router.get(dedup_key(settings.app_id, "bank-test", alert["alert_id"])),
        lambda: router.dump(stream),
        lambda: router.keys("*"),
        lambda: router.scan(0),
        # ... or destroying one: a SET on the stream key would replace the stream.
        lambda: router.set(stream, "x"),
        lambda: router.delete(stream),
        lambda: router.xdel(stream, entry_id),
        lambda: router.xtrim(stream, maxlen=0),
        lambda: router.eval("return redis.call('XRANGE', KEYS[1], '-', '+')", 1, stream),
        lambda: router.flushall(),
        lambda: router.execute_command("ACL", "LIST"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            call()
    assert len(admin.xrange(stream)) == 1  # nothing changed
    assert admin.zcard(case_enqueued_key(settings.app_id, "bank-test")) == 1
    assert admin.sismember(institutions_key(settings.app_id), "bank-test")


def test_the_router_user_is_scoped_to_its_app(settings, tmp_path) -> None:
    other = settings_for(isolated_env(tmp_path / "other"))
    router = redis.Redis.from_url(clients.redis_url(settings, clients.ROUTER))
    alert = make_alert(alert_id=uuid.uuid4().hex, institution="bank-test")
    with pytest.raises(redis.exceptions.NoPermissionError):
        CaseQueues(router, other).enqueue([(alert, None)])
