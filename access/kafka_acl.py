"""Kafka principals (SASL/SCRAM users) and the topic ACLs of each role.

The broker runs the StandardAuthorizer with ``allow.everyone.if.no.acl.found=false``: a
principal can do exactly what is listed here. Per app id (CB_APP_ID) and its configured topic
names:

=====================  =====================================================================
principal              rights
=====================  =====================================================================
``<app>-worker``       read payments, intel, rules and every institution's dispositions
                       topic (prefix ``<dispositions>.``); read and write alerts, identity
                       links and account signals; write dead letters; everything on the
                       topics Faust creates (the tables' changelogs, the assignor's topic,
                       by name); create its topics; its consumer groups
``<app>-publisher``    write payments; nothing else (not the rules, not the dispositions)
``<app>-intel``        read and write the intel topic (contributors)
``<app>-rules``        read and write the rules topic (rule owners)
``<app>.<id>``         write ``<dispositions>.<id>``; nothing else
=====================  =====================================================================

Reading a topic needs READ on it and on the consumer group; compacted feeds are read by
assignment (no group join), so they need the topic only. Names without a dot for the roles and
with one for institutions, as for the Redis users: a role can never be taken for an
institution.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from config import clients, names
from config.settings import Settings

SCRAM_ITERATIONS = 8192
TIMEOUT_S = 30.0

READ, WRITE, DESCRIBE, CREATE, ALL = (
    AclOperation.READ,
    AclOperation.WRITE,
    AclOperation.DESCRIBE,
    AclOperation.CREATE,
    AclOperation.ALL,
)
TOPIC, GROUP = ResourceType.TOPIC, ResourceType.GROUP
LITERAL, PREFIXED = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED


def role_username(settings: Settings, role: str) -> str:
    """The Kafka user of an app role, or of an institution (``institution:<id>``)."""
    if role.startswith(clients.INSTITUTION_PREFIX):
        return f"{settings.app_id}.{role[len(clients.INSTITUTION_PREFIX) :]}"
    if role not in clients.APP_ROLES:
        raise ValueError(f"unknown role {role!r}")
    return f"{settings.app_id}-{role}"


def principal(username: str) -> str:
    return f"User:{username}"


def _of_user(username: str) -> AclBindingFilter:
    """Every ACL binding that names the user, whatever its resource or operation."""
    return AclBindingFilter(
        ResourceType.ANY,
        None,
        ResourcePatternType.ANY,
        principal(username),
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )


def _allow(
    user: str, restype: ResourceType, name: str, pattern: ResourcePatternType, ops: Iterable
) -> list[AclBinding]:
    return [
        AclBinding(restype, name, pattern, principal(user), "*", op, AclPermissionType.ALLOW)
        for op in ops
    ]


def faust_topics(settings: Settings) -> list[str]:
    """The topics Faust creates for the worker (streams/worker.py's tables)."""
    app = settings.app_id
    tables = ("account-state", "identity-groups")
    return [f"{app}-__assignor-__leader", *(f"{app}-{t}-changelog" for t in tables)]


def dispositions_prefix(settings: Settings) -> str:
    return names.disposition_topic(settings.topic_dispositions, "")


def role_bindings(settings: Settings, role: str) -> list[AclBinding]:
    """Every ACL of one role (app roles) or institution (``institution:<id>``)."""
    s = settings
    user = role_username(s, role)
    if role.startswith(clients.INSTITUTION_PREFIX):
        institution = role[len(clients.INSTITUTION_PREFIX) :]
        topic = names.disposition_topic(s.topic_dispositions, institution)
        return _allow(user, TOPIC, topic, LITERAL, (WRITE, DESCRIBE))
    if role == clients.PUBLISHER:
        return _allow(user, TOPIC, s.topic_payments, LITERAL, (WRITE, DESCRIBE))
    if role == clients.INTEL:
        return _allow(user, TOPIC, s.topic_intel, LITERAL, (READ, WRITE, DESCRIBE, CREATE))
    if role == clients.RULES:
        return _allow(user, TOPIC, s.topic_rules, LITERAL, (READ, WRITE, DESCRIBE, CREATE))
    bindings: list[AclBinding] = []
    for topic in (s.topic_payments, s.topic_intel, s.topic_rules):
        bindings += _allow(user, TOPIC, topic, LITERAL, (READ, DESCRIBE, CREATE))
    bindings += _allow(user, TOPIC, dispositions_prefix(s), PREFIXED, (READ, DESCRIBE, CREATE))
    for topic in (s.topic_alerts, s.topic_identity_links, s.topic_account_signals):
        bindings += _allow(user, TOPIC, topic, LITERAL, (READ, WRITE, DESCRIBE, CREATE))
    bindings += _allow(user, TOPIC, s.topic_dead_letter, LITERAL, (WRITE, DESCRIBE, CREATE))
    # Faust's own topics, by name (a prefix would also cover any topic an operator named
    # <app>-rules or the like): the tables' changelogs and the assignor's topic.
    for topic in faust_topics(s):
        bindings += _allow(user, TOPIC, topic, LITERAL, (ALL,))
    # Consumer groups: <app> (Faust), <app>-case-router, <app>-*-feed.
    bindings += _allow(user, GROUP, s.app_id, LITERAL, (READ, DESCRIBE))
    bindings += _allow(user, GROUP, f"{s.app_id}-", PREFIXED, (READ, DESCRIBE))
    return bindings


class KafkaAccess:
    """The operator's handle: users and ACLs, through the admin role's login."""

    def __init__(self, settings: Settings, timeout: float = TIMEOUT_S) -> None:
        self.settings = settings
        self.timeout = timeout
        self.admin = AdminClient(clients.kafka_config(settings, clients.ADMIN, {"log_level": 3}))

    def _wait(self, futures: dict, what: str) -> None:
        for key, future in futures.items():
            try:
                future.result(timeout=self.timeout)
            except KafkaException as exc:
                raise RuntimeError(f"{what} failed for {key}: {exc.args[0]}") from None

    def upsert_user(self, username: str, password: str) -> None:
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
        change = UserScramCredentialUpsertion(username, info, password.encode())
        self._wait(self.admin.alter_user_scram_credentials([change]), "SCRAM upsert")

    def delete_user(self, username: str) -> None:
        change = UserScramCredentialDeletion(username, ScramMechanism.SCRAM_SHA_512)
        try:
            self._wait(self.admin.alter_user_scram_credentials([change]), "SCRAM delete")
        except RuntimeError as exc:
            if "RESOURCE_NOT_FOUND" not in str(exc) and "not found" not in str(exc).lower():
                raise

    def grant(self, bindings: list[AclBinding]) -> None:
        if bindings:
            self._wait(self.admin.create_acls(bindings), "ACL create")

    def set_bindings(self, username: str, bindings: list[AclBinding]) -> None:
        """Make the user's ACLs exactly ``bindings``: missing ones created, and any other the
        user holds (a right an older version granted) deleted, without a moment with none."""
        self.grant(bindings)

        def ident(b) -> tuple:
            return (b.restype, b.name, b.resource_pattern_type, b.operation, b.permission_type)

        wanted = {ident(b) for b in bindings}
        stale = [b for b in self.bindings_of(username) if ident(b) not in wanted]
        if stale:
            filters = [
                AclBindingFilter(
                    b.restype,
                    b.name,
                    b.resource_pattern_type,
                    b.principal,
                    b.host,
                    b.operation,
                    b.permission_type,
                )  # fmt: skip
                for b in stale
            ]
            self._wait(self.admin.delete_acls(filters), "ACL delete")

    def revoke_all(self, username: str) -> None:
        """Every ACL naming the user, whatever its resource."""
        self._wait(self.admin.delete_acls([_of_user(username)]), "ACL delete")

    def bindings_of(self, username: str) -> list[AclBinding]:
        found = self.admin.describe_acls(_of_user(username))
        return list(found.result(timeout=self.timeout))

    def ensure_topics(self, specs: dict[str, tuple[int, dict[str, str]]]) -> None:
        """Create missing topics (as the operator: a role may only create its own)."""
        from confluent_kafka.admin import NewTopic

        existing = self.admin.list_topics(timeout=self.timeout).topics
        missing = [
            NewTopic(name, partitions, self.settings.replication, config=config)
            for name, (partitions, config) in specs.items()
            if name not in existing
        ]
        if not missing:
            return
        for name, future in self.admin.create_topics(missing).items():
            try:
                future.result(timeout=self.timeout)
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise RuntimeError(f"could not create topic {name!r}: {exc}") from None


def await_login(settings: Settings, login: clients.KafkaLogin, timeout: float = TIMEOUT_S) -> None:
    """Until the broker accepts ``login`` (a new SCRAM user, or new ACLs, takes effect once the
    broker has applied the metadata record, a moment after the controller committed it)."""
    from confluent_kafka import Consumer

    config = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": login.mechanism,
        "sasl.username": login.username,
        "sasl.password": login.password,
        "group.id": f"{login.username}-probe",
        "log_level": 0,
    }
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        consumer = Consumer(config)
        try:
            consumer.list_topics(timeout=min(5.0, max(0.5, deadline - time.monotonic())))
            return
        except KafkaException as exc:
            last = str(exc.args[0] if exc.args else exc)
        finally:
            consumer.close()
        time.sleep(0.1)
    raise RuntimeError(f"Kafka did not accept the new user {login.username} in time ({last})")
