"""Kafka principals against the real broker: no login, no access; each role only its job.

Every test provisions its own app id (tests/support.isolated_env: a SCRAM user per role with
its topic ACLs, access/grant.py) on the shared SASL/SCRAM broker, then tries what a role must
not do and checks that the broker itself refuses it (TOPIC_AUTHORIZATION_FAILED), as well as
what it must be able to do.
"""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from access import kafka_acl
from config import clients
from config.names import disposition_topic
from streams.topics import ensure_topics
from tests.support import institution_producer, isolated_env, producer, settings_for

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(stack, tmp_path):
    s = settings_for(isolated_env(tmp_path, CB_INSTITUTIONS="bank-a,bank-b"))
    if s.kafka_security == "plaintext":
        pytest.skip("CB_KAFKA_SECURITY=plaintext: no authentication to test")
    ensure_topics(s)  # as the worker, which may create the app's topics
    return s


def deliver(p: Producer, topic: str, value: bytes = b"x", key: bytes = b"acct-1"):
    """Produce one record and wait for its delivery report: None, or the broker's error."""
    report: list = []
    p.produce(topic, value=value, key=key, on_delivery=lambda err, _m: report.append(err))
    remaining = p.flush(30)
    assert remaining == 0 and len(report) == 1, "no delivery report within 30 s"
    return report[0]


def test_a_client_without_credentials_gets_nothing(settings) -> None:
    """PLAINTEXT to the SASL listener, and SASL with a wrong password: no metadata at all."""
    anonymous = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "anon",
                          "log_level": 0})  # fmt: skip
    with pytest.raises(KafkaException):
        anonymous.list_topics(timeout=5)
    anonymous.close()
    login = clients.kafka_login(settings, clients.PUBLISHER)
    wrong = Consumer({
        "bootstrap.servers": settings.kafka_bootstrap, "group.id": "wrong", "log_level": 0,
        "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": login.username, "sasl.password": login.password + "x",
    })  # fmt: skip
    with pytest.raises(KafkaException):
        wrong.list_topics(timeout=10)
    wrong.close()


def test_the_publisher_writes_payments_and_nothing_else(settings) -> None:
    p = producer(settings, clients.PUBLISHER)
    assert deliver(p, settings.topic_payments) is None
    for topic in (
        settings.topic_rules,
        settings.topic_intel,
        settings.topic_alerts,
        disposition_topic(settings.topic_dispositions, "bank-a"),
    ):
        err = deliver(p, topic)
        assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, topic
    # Nor may it read the payments it wrote (another institution's payments are there too).
    reader = Consumer(clients.kafka_config(settings, clients.PUBLISHER, {
        "group.id": f"{settings.app_id}-spy", "log_level": 0}))  # fmt: skip
    reader.assign([TopicPartition(settings.topic_payments, 0, 0)])
    message = reader.poll(10)
    reader.close()
    assert message is not None and message.error() is not None
    assert message.error().code() in (
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
    )


def test_only_the_rule_owner_writes_rules(settings) -> None:
    assert deliver(producer(settings, clients.RULES), settings.topic_rules, value=b"{}") is None
    for role in (clients.PUBLISHER, clients.INTEL, clients.WORKER):
        err = deliver(producer(settings, role), settings.topic_rules)
        assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, role


def test_an_institution_writes_its_own_dispositions_only(settings) -> None:
    own = disposition_topic(settings.topic_dispositions, "bank-a")
    other = disposition_topic(settings.topic_dispositions, "bank-b")
    a = institution_producer(settings, "bank-a")
    assert deliver(a, own) is None
    err = deliver(a, other)
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    for topic in (settings.topic_payments, settings.topic_rules, settings.topic_intel):
        err = deliver(a, topic)
        assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, topic
    # Nor may any other role write an institution's dispositions.
    for role in (clients.PUBLISHER, clients.WORKER):
        err = deliver(producer(settings, role), own)
        assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, role


def test_every_acl_is_an_allow_for_its_own_principal(settings) -> None:
    """What `access show` lists: the publisher holds exactly WRITE and DESCRIBE on payments."""
    access = kafka_acl.KafkaAccess(settings)
    publisher = kafka_acl.role_username(settings, clients.PUBLISHER)
    held = {(b.name, b.operation.name) for b in access.bindings_of(publisher)}
    assert held == {(settings.topic_payments, "WRITE"), (settings.topic_payments, "DESCRIBE")}
    unknown = f"nobody-{uuid.uuid4().hex[:6]}"
    assert access.bindings_of(unknown) == []
