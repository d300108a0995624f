"""How every process reaches Kafka and Redis, and as whom: addresses and credentials in one place.

Each client works in a *role*, and each role is its own principal with only the rights it
needs (access/ grants them):

==================  ====================================================================
Kafka role          what it may do
==================  ====================================================================
``worker``          the worker and the case router: read payments, dispositions, intel and
                    rules; write alerts, dead letters and its internal topics
``publisher``       write the payments topic, nothing else
``intel``           the intel topic (contributors)
``rules``           the rules topic (rule owners)
``institution:ID``  write that institution's dispositions topic, nothing else
``admin``           the operator: create topics, principals and ACLs (the local broker's
                    super user)
==================  ====================================================================

Redis roles: ``operator`` (the admin URL, CB_REDIS_URL: grants users, reads every queue) and
``router`` (appends cases, nothing else). Institutions' analysts use their own Redis user
through institutions/credentials.py.

Where credentials come from, first match wins:

1. the process's own principal: CB_KAFKA_USERNAME / CB_KAFKA_PASSWORD (every Kafka client of
   the process uses it), CB_ROUTER_REDIS_URL, credentials inside CB_REDIS_URL;
2. the role's credentials file under the stack directory, which `chainbreaker stack up` (or
   `chainbreaker access grant`) writes, mode 0600: ``<stack>/credentials/<app>/<role>.env``
   (an env file: ``set -a; . worker.env`` works, and so does a container's env_file);
3. nothing: a PLAINTEXT Kafka (CB_KAFKA_SECURITY=plaintext) needs no login, and a Redis
   without users answers as its default user.

A SCRAM Kafka without credentials for the role is a configuration error that names what to
set: the client would only fail later with an authentication error. Passwords never appear
in a repr, a log line or an error message (``redact`` strips them from URLs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from config.settings import ConfigError, Settings

ADMIN = "admin"
WORKER = "worker"
PUBLISHER = "publisher"
INTEL = "intel"
RULES = "rules"
APP_ROLES = (WORKER, PUBLISHER, INTEL, RULES)  # one principal each, per app id
INSTITUTION_PREFIX = "institution:"

OPERATOR = "operator"
ROUTER = "router"

ENV_KAFKA_USERNAME = "CB_KAFKA_USERNAME"
ENV_KAFKA_PASSWORD = "CB_KAFKA_PASSWORD"
ENV_KAFKA_MECHANISM = "CB_KAFKA_SASL_MECHANISM"
ENV_ROUTER_REDIS_URL = "CB_ROUTER_REDIS_URL"
ENV_REDIS_URL = "CB_REDIS_URL"


class MissingCredentials(ConfigError):
    """A role has no credentials where they are looked for; the message says what to set."""


@dataclass(frozen=True)
class KafkaLogin:
    username: str
    password: str = field(repr=False)
    mechanism: str = "SCRAM-SHA-512"


def institution_role(institution: str) -> str:
    return f"{INSTITUTION_PREFIX}{institution}"


def credentials_dir(settings: Settings) -> Path:
    """Where the stack keeps the credentials it generates (0700)."""
    return settings.stack_dir / "credentials"


def role_file(settings: Settings, role: str) -> Path:
    """The credentials file of a Kafka role (an institution's is the one `cases grant` writes,
    which also holds its Redis URL)."""
    if role == ADMIN:
        return credentials_dir(settings) / "kafka-admin.env"
    if role.startswith(INSTITUTION_PREFIX):
        institution = role[len(INSTITUTION_PREFIX) :]
        return settings.stack_dir / "institutions" / settings.app_id / f"{institution}.env"
    if role not in APP_ROLES:
        raise ValueError(f"unknown Kafka role {role!r}")
    return credentials_dir(settings) / settings.app_id / f"{role}.env"


def operator_file(settings: Settings) -> Path:
    return credentials_dir(settings) / "redis-operator.env"


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (what `set -a; . file` reads too); comments and blanks skipped."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip().strip("'\"")
    return out


def _missing(role: str, path: Path, what: str) -> MissingCredentials:
    own = "CB_ROUTER_REDIS_URL" if role == ROUTER else "CB_KAFKA_USERNAME and CB_KAFKA_PASSWORD"
    return MissingCredentials(
        f"no {what} for the {role} role: {path} does not exist. Run `chainbreaker stack up` "
        "(local stack) or `chainbreaker access grant` (operator), or give this process its "
        f"own principal with {own}"
    )


def kafka_login(settings: Settings, role: str) -> KafkaLogin | None:
    """The principal a client in ``role`` logs in as; None on a PLAINTEXT Kafka."""
    if settings.kafka_security == "plaintext":
        return None
    if settings.kafka_username and settings.kafka_password:
        return KafkaLogin(
            settings.kafka_username, settings.kafka_password, settings.kafka_sasl_mechanism
        )
    path = role_file(settings, role)
    try:
        env = read_env_file(path)
    except OSError:
        raise _missing(role, path, "Kafka credentials") from None
    user, password = env.get(ENV_KAFKA_USERNAME), env.get(ENV_KAFKA_PASSWORD)
    if not user or not password:
        raise MissingCredentials(
            f"{path} holds no {ENV_KAFKA_USERNAME}/{ENV_KAFKA_PASSWORD} for the {role} role"
        )
    return KafkaLogin(user, password, env.get(ENV_KAFKA_MECHANISM) or "SCRAM-SHA-512")


def kafka_config(
    settings: Settings, role: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A confluent-kafka (librdkafka) configuration for ``role``: the address and the login,
    then ``extra`` (the client's own settings)."""
    config: dict[str, Any] = {"bootstrap.servers": settings.kafka_bootstrap}
    login = kafka_login(settings, role)
    if login is not None:
        config.update(
            {
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": login.mechanism,
                "sasl.username": login.username,
                "sasl.password": login.password,
            }
        )
    config.update(extra or {})
    return config


def faust_credentials(settings: Settings, role: str = WORKER) -> Any:
    """Faust's broker_credentials for ``role`` (aiokafka underneath), or None."""
    login = kafka_login(settings, role)
    if login is None:
        return None
    from faust import SASLCredentials

    return SASLCredentials(
        username=login.username, password=login.password, mechanism=login.mechanism
    )


def redis_url(settings: Settings, role: str = OPERATOR) -> str:
    """The Redis URL of ``role`` with its user and password."""
    if role == ROUTER:
        if settings.router_redis_url:
            return settings.router_redis_url
        path = role_file(settings, WORKER)  # the router runs as the worker's service
        try:
            url = read_env_file(path).get(ENV_ROUTER_REDIS_URL)
        except OSError:
            url = None
        if not url:
            raise _missing("router", path, "Redis user")
        return url
    if role != OPERATOR:
        raise ValueError(f"unknown Redis role {role!r}")
    parts = urlsplit(settings.redis_url)
    if parts.username or parts.password or "password=" in parts.query:
        return settings.redis_url
    try:
        url = read_env_file(operator_file(settings)).get(ENV_REDIS_URL)
    except OSError:
        url = None
    return url or settings.redis_url


def user_url(admin_url: str, user: str, password: str) -> str:
    """The admin URL's host, port and db with another user and password (an institution's,
    the router's)."""
    parts = urlsplit(admin_url)
    # Never carry the admin's credentials over, wherever the admin URL put them.
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query) if k not in ("username", "password")]
    )
    parts = parts._replace(query=query)
    userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}"
    if parts.scheme == "unix":  # unix://user:password@/path/to/redis.sock?db=0
        return urlunsplit(("unix", f"{userinfo}@", parts.path, parts.query, ""))
    host = parts.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{userinfo}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/0", parts.query, ""))


def redact(url: str) -> str:
    """The URL without its password (for logs, errors and `stack status`)."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
