"""Redis users besides the institutions' (institutions/acl.py): the operator and the router.

* ``default`` is disabled: nothing is reachable without a user and password.
* ``operator`` holds every right. Operator commands (`cases grant`, `stack up`, the demo's
  view of every queue) use it; no long-running service does.
* ``<app>-router`` is the case router's: it appends cases and maintains what goes with them,
  and can read none of them. Redis 7 selectors tie each command to its keys, so SET works on
  the dedup keys only (a SET on a case stream would replace the stream), XADD on the case
  streams only, HSET write-only on the case index. The Lua script runs with the same rights
  (Redis checks every command a script calls against the caller's ACL), and the stream
  commands it may use for the queue metrics (XLEN, XINFO GROUPS, XPENDING) return counts
  and ids, never an entry. No XRANGE/XREAD/XREADGROUP/XINFO STREAM, no DEL, no KEYS.

With an aclfile (the local stack and compose run with one) every change is saved with ACL
SAVE, so users survive a Redis restart.
"""

from __future__ import annotations

import redis

from config import names
from config.settings import Settings

OPERATOR_USER = "operator"

# The router's commands, each with the only keys it may touch.
ROUTER_SELECTORS = (
    ("case-ids", "~", ("set",)),
    ("cases", "~", ("xadd", "xlen", "xinfo|groups", "xpending")),
    ("case-index", "%W~", ("hset",)),
    ("case-enqueued", "~", ("zadd", "zremrangebyscore", "zrange")),
)


def glob_escape(key: str) -> str:
    for char in "\\*?[]":
        key = key.replace(char, "\\" + char)
    return key


def router_user(settings: Settings) -> str:
    """`<app>-router`: no dot, so never mistaken for an institution's `<app>.<id>` user."""
    return f"{settings.app_id}-router"


def _pattern(settings: Settings, kind: str) -> str:
    return f"{glob_escape(settings.app_id)}:{kind}:*"


def router_rules(settings: Settings, password: str) -> list[str]:
    """ACL SETUSER rules of the router user (`reset` first: a re-grant removes any drift)."""
    institutions = glob_escape(names.institutions_key(settings.app_id))
    root_keys = [f"~{_pattern(settings, kind)}" for kind, _, _ in ROUTER_SELECTORS]
    selectors = [
        f"({mode}{_pattern(settings, kind)} " + " ".join(f"+{c}" for c in commands) + ")"
        for kind, mode, commands in ROUTER_SELECTORS
    ]
    selectors.append(f"(~{institutions} +sadd +smembers)")
    return [
        "reset",
        "on",
        f">{password}",
        "resetchannels",
        # The root keys are those EVALSHA declares; the root commands run no key command.
        *root_keys,
        "-@all",
        "+ping",
        "+echo",
        "+evalsha",
        "+script|load",
        "+script|exists",
        *selectors,
    ]


def operator_rules(password: str) -> list[str]:
    return ["reset", "on", f">{password}", "~*", "&*", "+@all"]


def set_user(admin: redis.Redis, user: str, rules: list[str]) -> None:
    admin.execute_command("ACL", "SETUSER", user, *rules)
    save_if_aclfile(admin)


def delete_user(admin: redis.Redis, user: str) -> bool:
    deleted = int(admin.execute_command("ACL", "DELUSER", user) or 0) > 0
    save_if_aclfile(admin)
    return deleted


def save_if_aclfile(admin: redis.Redis) -> None:
    """ACL SAVE when Redis runs with an aclfile (else it has nowhere to save)."""
    try:
        config = admin.config_get("aclfile")
    except redis.ResponseError:  # CONFIG disabled (a managed Redis): nothing we can save
        return
    value = config.get("aclfile") or config.get(b"aclfile")
    if value:
        admin.execute_command("ACL", "SAVE")
