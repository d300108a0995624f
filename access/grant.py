"""Provision one app id: its Kafka principals with their ACLs, its router's Redis user, and the
credentials file of each role (config/clients.py reads them).

Idempotent: a stored password is kept and re-applied (SCRAM upsert, ACL SETUSER), so running
it again after a Redis or Kafka restart, or on every `stack up`, changes nothing a client
holds. ``rotate=True`` issues new passwords.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import redis

from access import kafka_acl, redis_acl
from access.secrets import env_file, new_password, write_secret
from config import clients
from config.settings import Settings


@dataclass(frozen=True)
class RoleGrant:
    role: str
    kafka_user: str | None
    credentials: Path


def _stored(path: Path, key: str) -> str | None:
    try:
        return clients.read_env_file(path).get(key)
    except OSError:
        return None


def _stored_redis_password(path: Path, user: str) -> str | None:
    from urllib.parse import unquote, urlsplit

    url = _stored(path, clients.ENV_ROUTER_REDIS_URL)
    if not url:
        return None
    parts = urlsplit(url)
    if parts.username and unquote(parts.username) == user and parts.password:
        return unquote(parts.password)
    return None


def kafka_secured(settings: Settings) -> bool:
    return settings.kafka_security != "plaintext"


def grant_app(
    settings: Settings,
    *,
    rotate: bool = False,
    kafka: bool = True,
    redis_users: bool = True,
    redis_admin: redis.Redis | None = None,
) -> list[RoleGrant]:
    """Every app role: its Kafka user and ACLs (when ``kafka`` and Kafka is secured), the
    router's Redis user (when ``redis_users``), and ``<stack>/credentials/<app>/<role>.env``
    holding what was granted (what a previous grant stored for the other service is kept)."""
    s = settings
    access = kafka_acl.KafkaAccess(s) if kafka and kafka_secured(s) else None
    logins: list[clients.KafkaLogin] = []
    grants = []
    admin = redis_admin
    if admin is None and redis_users:
        admin = redis.Redis.from_url(
            clients.redis_url(s, clients.OPERATOR), socket_connect_timeout=5
        )
    try:
        for role in clients.APP_ROLES:
            path = clients.role_file(s, role)
            try:
                values = clients.read_env_file(path)
            except OSError:
                values = {}
            username = None
            if access is not None:
                username = kafka_acl.role_username(s, role)
                stored = None
                if not rotate and values.get(clients.ENV_KAFKA_USERNAME) == username:
                    stored = values.get(clients.ENV_KAFKA_PASSWORD)
                password = stored or new_password()
                access.upsert_user(username, password)
                access.set_bindings(username, kafka_acl.role_bindings(s, role))
                values[clients.ENV_KAFKA_USERNAME] = username
                values[clients.ENV_KAFKA_PASSWORD] = password
                values[clients.ENV_KAFKA_MECHANISM] = "SCRAM-SHA-512"
                logins.append(clients.KafkaLogin(username, password))
            if role == clients.WORKER and admin is not None:
                user = redis_acl.router_user(s)
                redis_password = None if rotate else _stored_redis_password(path, user)
                redis_password = redis_password or new_password()
                redis_acl.set_user(admin, user, redis_acl.router_rules(s, redis_password))
                values[clients.ENV_ROUTER_REDIS_URL] = clients.user_url(
                    s.redis_url, user, redis_password
                )
            write_secret(
                path,
                env_file(
                    f"chainbreaker: credentials of the {role} role of app {s.app_id}.\n"
                    "Secret: give it to the process that plays this role only.",
                    values,
                ),
            )
            grants.append(RoleGrant(role, username, path))
    finally:
        if redis_admin is None and admin is not None:
            admin.close()
    for login in logins:
        kafka_acl.await_login(s, login)
    return grants


def revoke_app(settings: Settings, redis_admin: redis.Redis | None = None) -> None:
    """Delete the app roles' Kafka users and ACLs, the router user and the files."""
    s = settings
    if kafka_secured(s):
        access = kafka_acl.KafkaAccess(s)
        for role in clients.APP_ROLES:
            username = kafka_acl.role_username(s, role)
            access.revoke_all(username)
            access.delete_user(username)
    admin = redis_admin or redis.Redis.from_url(
        clients.redis_url(s, clients.OPERATOR), socket_connect_timeout=5
    )
    try:
        redis_acl.delete_user(admin, redis_acl.router_user(s))
    finally:
        if redis_admin is None:
            admin.close()
    for role in clients.APP_ROLES:
        clients.role_file(s, role).unlink(missing_ok=True)


def grant_institution_kafka(
    settings: Settings, institution: str, password: str
) -> clients.KafkaLogin | None:
    """The institution's Kafka user, allowed to write its own dispositions topic only. The
    topic is created here (as the operator), so the institution's first disposition does not
    wait for a worker to start. None on a PLAINTEXT Kafka."""
    from streams.topics import disposition_specs

    s = settings
    if not kafka_secured(s):
        return None
    access = kafka_acl.KafkaAccess(s)
    access.ensure_topics(disposition_specs(s, [institution]))
    role = clients.institution_role(institution)
    username = kafka_acl.role_username(s, role)
    access.upsert_user(username, password)
    access.set_bindings(username, kafka_acl.role_bindings(s, role))
    login = clients.KafkaLogin(username, password)
    kafka_acl.await_login(s, login)
    return login


def revoke_institution_kafka(settings: Settings, institution: str) -> None:
    if not kafka_secured(settings):
        return
    access = kafka_acl.KafkaAccess(settings)
    username = kafka_acl.role_username(settings, clients.institution_role(institution))
    access.revoke_all(username)
    access.delete_user(username)


def refresh_kafka_logins(settings: Settings) -> int:
    """Write every SCRAM credential the stack directory holds again; returns how many.

    Observed with Kafka 4.1.1 in combined broker+controller mode (the local stack): after the
    broker restarts, its SCRAM authenticator rejects every user created before the restart
    ("invalid credentials") although the controller still has them, until each credential is
    written again (tests/reliability/test_broker_outage.py found it). The local stack calls
    this whenever it starts the broker; with another Kafka, run `chainbreaker access grant`
    and `cases grant` after a broker restart if logins fail.
    """
    from confluent_kafka.admin import (
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    if not kafka_secured(settings):
        return 0
    logins: dict[str, clients.KafkaLogin] = {}
    roots = [clients.credentials_dir(settings), settings.stack_dir / "institutions"]
    for path in sorted(f for root in roots for f in root.glob("*/*.env")):
        try:
            env = clients.read_env_file(path)
        except OSError:
            continue
        user, password = env.get(clients.ENV_KAFKA_USERNAME), env.get(clients.ENV_KAFKA_PASSWORD)
        mechanism = env.get(clients.ENV_KAFKA_MECHANISM) or "SCRAM-SHA-512"
        if user and password and mechanism == "SCRAM-SHA-512":
            logins[user] = clients.KafkaLogin(user, password, mechanism)
    if not logins:
        return 0
    access = kafka_acl.KafkaAccess(settings)
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, kafka_acl.SCRAM_ITERATIONS)
    changes = [
        UserScramCredentialUpsertion(u, info, x.password.encode()) for u, x in logins.items()
    ]
    access._wait(access.admin.alter_user_scram_credentials(changes), "SCRAM refresh")
    kafka_acl.await_login(settings, next(iter(logins.values())))
    return len(logins)
