"""Per-institution Redis ACL users: each institution reads and works its own case queue only.

The router writes every institution's queue as its own append-only user (access/redis_acl.py).
An institution's analysts must see their own cases and nothing else, so each institution gets
its own ACL user whose key patterns name exactly two keys, its case stream and its outcomes hash,
and whose commands are the handful the consumer-group workflow needs (`ACL_COMMANDS`). No
KEYS/SCAN, no FLUSH*, no CONFIG, no pub/sub: a leaked institution password exposes one queue.

Users are created at runtime with ACL SETUSER, so the shared redis-server never restarts, and
saved with ACL SAVE to the aclfile Redis runs with (the local stack's and compose's do), so
they survive a Redis restart. `chainbreaker stack up` grants them again anyway, with the same
passwords.

The same grant gives the institution its Kafka principal (`<app>.<institution>`, SASL/SCRAM),
which may write its own dispositions topic and nothing else (access/grant.py), when Kafka is
secured. Both passwords come from `secrets` and are stored 0600 under the stack directory,
one env file per institution, so re-granting is idempotent and the operator can hand over
exactly one file.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import redis

from access import grant as access_grant
from access.redis_acl import glob_escape, save_if_aclfile
from access.secrets import env_file, new_password, write_secret
from config import clients
from config.names import ANALYSTS_GROUP, case_index_key, outcomes_key
from config.settings import Settings, check_institution_id
from institutions.credentials import (
    ENV_APP,
    ENV_INSTITUTION,
    ENV_URL,
    credentials_path,
    institution_url,
    read_credentials,
    url_credentials,
    username,
)

# What an institution's analyst may run, on its own keys only. XGROUP CREATE lets the client
# create the analysts group on first use; everything else is the read/claim/ack/reclaim cycle,
# inspection, and the outcome hash. (redis-py's CLIENT SETINFO on connect may be refused:
# redis-py ignores that, and the subcommand does not exist before Redis 7.2.)
ACL_COMMANDS = (
    "ping",
    "echo",
    "xreadgroup",
    "xack",
    "xclaim",
    "xautoclaim",
    "xpending",
    "xrange",
    "xrevrange",
    "xlen",
    "xinfo|stream",
    "xinfo|groups",
    "xinfo|consumers",
    "xgroup|create",
    "xgroup|createconsumer",
    "hset",
    "hget",
    "hgetall",
)


@dataclass(frozen=True)
class Grant:
    """What `grant` did: the institution's user, its URL and where the URL is stored."""

    institution: str
    username: str
    url: str
    credentials: Path
    action: str  # "created", "re-applied (password kept)", "rotated"


def acl_rules(settings: Settings, institution: str, password: str) -> list[str]:
    """The full ACL SETUSER rule list; `reset` first, so a re-grant removes any drift."""
    keys = [settings.case_stream(institution), outcomes_key(settings.app_id, institution)]
    return [
        "reset",
        "on",
        f">{password}",
        *(f"~{glob_escape(k)}" for k in keys),
        f"%R~{glob_escape(case_index_key(settings.app_id, institution))}",
        "resetchannels",
        "-@all",
        *(f"+{c}" for c in ACL_COMMANDS),
    ]


def _stored_password(path: Path, user: str) -> str | None:
    try:
        stored = read_credentials(path)
    except OSError:
        return None
    stored_user, password = url_credentials(stored.get(ENV_URL, ""))
    return password if stored_user == user else None


def _stored_kafka_password(path: Path, user: str) -> str | None:
    try:
        stored = read_credentials(path)
    except OSError:
        return None
    if stored.get(clients.ENV_KAFKA_USERNAME) != user:
        return None
    return stored.get(clients.ENV_KAFKA_PASSWORD)


def grant(
    admin: redis.Redis, settings: Settings, institution: str, *, rotate: bool = False
) -> Grant:
    """Create or re-apply the institution's ACL user (and Kafka principal) and store its
    credentials (0600).

    Idempotent: the stored passwords are kept unless ``rotate``. Also creates the analysts
    consumer group (and the stream), so the institution's first read finds the group.
    """
    check_institution_id("institution", institution)
    user = username(settings, institution)
    path = credentials_path(settings, institution)
    password = None if rotate else _stored_password(path, user)
    action = "re-applied (password kept)" if password else ("rotated" if rotate else "created")
    password = password or new_password()
    admin.execute_command("ACL", "SETUSER", user, *acl_rules(settings, institution, password))
    if rotate:  # sessions opened with the old password must not outlive it
        with contextlib.suppress(redis.ResponseError):
            admin.execute_command("CLIENT", "KILL", "USER", user)
    save_if_aclfile(admin)
    with contextlib.suppress(redis.ResponseError):  # BUSYGROUP: it exists already
        admin.xgroup_create(
            settings.case_stream(institution), ANALYSTS_GROUP, id="0", mkstream=True
        )
    values = {
        ENV_APP: settings.app_id,
        ENV_INSTITUTION: institution,
        ENV_URL: institution_url(settings.redis_url, user, password),
    }
    kafka_password = None if rotate else _stored_kafka_password(path, user)
    login = access_grant.grant_institution_kafka(
        settings, institution, kafka_password or new_password()
    )
    if login is not None:
        values[clients.ENV_KAFKA_USERNAME] = login.username
        values[clients.ENV_KAFKA_PASSWORD] = login.password
        values[clients.ENV_KAFKA_MECHANISM] = login.mechanism
    write_secret(
        path,
        env_file(
            f"chainbreaker: credentials of institution {institution} (app {settings.app_id}):\n"
            "its Redis user (case queue) and Kafka principal (dispositions).\n"
            "Secret: hand this file to that institution only.",
            values,
        ),
    )
    return Grant(institution, user, values[ENV_URL], path, action)


def revoke(admin: redis.Redis, settings: Settings, institution: str) -> bool:
    """Delete the institution's user (disconnecting it) and its stored credentials."""
    user = username(settings, institution)
    deleted = int(admin.execute_command("ACL", "DELUSER", user) or 0) > 0
    save_if_aclfile(admin)
    access_grant.revoke_institution_kafka(settings, institution)
    credentials_path(settings, institution).unlink(missing_ok=True)
    return deleted


def grant_all(settings: Settings) -> list[Grant]:
    """Grant every CB_INSTITUTIONS institution on the admin Redis (what `stack up` calls)."""
    admin = redis.Redis.from_url(
        clients.redis_url(settings, clients.OPERATOR), socket_connect_timeout=5
    )
    try:
        return [grant(admin, settings, inst) for inst in settings.institutions]
    finally:
        admin.close()
