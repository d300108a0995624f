"""Per-institution Redis ACL users: each institution reads and works its own case queue only.

The worker and the router write every institution's queue as Redis's admin (default) user. An
institution's analysts must see their own cases and nothing else, so each institution gets its
own ACL user whose key patterns name exactly two keys, its case stream and its outcomes hash,
and whose commands are the handful the consumer-group workflow needs (`ACL_COMMANDS`). No
KEYS/SCAN, no FLUSH*, no CONFIG, no pub/sub: a leaked institution password exposes one queue.

Users are created at runtime with ACL SETUSER, so the shared redis-server never restarts.
Without an aclfile they live until Redis restarts; `chainbreaker stack up` grants them again
from the stored credentials, with the same passwords. ACL SAVE is called only when Redis was
started with an aclfile (the local stack's is not).

Passwords come from `secrets` and are stored 0600 under the stack directory, one env file per
institution, so re-granting is idempotent and the operator can hand over exactly one file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import redis

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


def _glob_escape(key: str) -> str:
    for char in "\\*?[]":
        key = key.replace(char, "\\" + char)
    return key


def acl_rules(settings: Settings, institution: str, password: str) -> list[str]:
    """The full ACL SETUSER rule list; `reset` first, so a re-grant removes any drift."""
    keys = [settings.case_stream(institution), outcomes_key(settings.app_id, institution)]
    return [
        "reset",
        "on",
        f">{password}",
        *(f"~{_glob_escape(k)}" for k in keys),
        f"%R~{_glob_escape(case_index_key(settings.app_id, institution))}",
        "resetchannels",
        "-@all",
        *(f"+{c}" for c in ACL_COMMANDS),
    ]


def _write_secret(path: Path, text: str) -> None:
    """0600 from the first byte (never world-readable, even briefly), replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _stored_password(path: Path, user: str) -> str | None:
    try:
        stored = read_credentials(path)
    except OSError:
        return None
    stored_user, password = url_credentials(stored.get(ENV_URL, ""))
    return password if stored_user == user else None


def _save_acl_if_configured(admin: redis.Redis) -> None:
    try:
        config = admin.config_get("aclfile")
    except redis.ResponseError:  # CONFIG disabled (managed Redis): nothing we can save
        return
    value = config.get("aclfile") or config.get(b"aclfile")
    if value:
        admin.execute_command("ACL", "SAVE")


def grant(
    admin: redis.Redis, settings: Settings, institution: str, *, rotate: bool = False
) -> Grant:
    """Create or re-apply the institution's ACL user and store its URL (0600).

    Idempotent: the stored password is kept unless ``rotate``. Also creates the analysts
    consumer group (and the stream), so the institution's first read finds the group.
    """
    check_institution_id("institution", institution)
    user = username(settings, institution)
    path = credentials_path(settings, institution)
    password = None if rotate else _stored_password(path, user)
    action = "re-applied (password kept)" if password else ("rotated" if rotate else "created")
    password = password or secrets.token_urlsafe(32)
    admin.execute_command("ACL", "SETUSER", user, *acl_rules(settings, institution, password))
    if rotate:  # sessions opened with the old password must not outlive it
        with contextlib.suppress(redis.ResponseError):
            admin.execute_command("CLIENT", "KILL", "USER", user)
    _save_acl_if_configured(admin)
    with contextlib.suppress(redis.ResponseError):  # BUSYGROUP: it exists already
        admin.xgroup_create(
            settings.case_stream(institution), ANALYSTS_GROUP, id="0", mkstream=True
        )
    url = institution_url(settings.redis_url, user, password)
    _write_secret(
        path,
        f"# chainbreaker: Redis credentials of institution {institution} (app "
        f"{settings.app_id}).\n# Secret: hand this file to that institution only.\n"
        f"{ENV_APP}={settings.app_id}\n{ENV_INSTITUTION}={institution}\n{ENV_URL}={url}\n",
    )
    return Grant(institution, user, url, path, action)


def revoke(admin: redis.Redis, settings: Settings, institution: str) -> bool:
    """Delete the institution's user (disconnecting it) and its stored credentials."""
    user = username(settings, institution)
    deleted = int(admin.execute_command("ACL", "DELUSER", user) or 0) > 0
    _save_acl_if_configured(admin)
    credentials_path(settings, institution).unlink(missing_ok=True)
    return deleted


def grant_all(settings: Settings) -> list[Grant]:
    """Grant every CB_INSTITUTIONS institution on the admin Redis (what `stack up` calls)."""
    admin = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=5)
    try:
        return [grant(admin, settings, inst) for inst in settings.institutions]
    finally:
        admin.close()
