"""One place for every setting, read from the environment.

Everything has a default that works for the local stack, so a fresh clone runs with no
configuration. A bad value fails at start with an error that names the variable: a worker
that silently falls back to a default port or partition count is worse than one that refuses
to start.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from config import names

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the environment variable."""


def _env(name: str, environ: dict[str, str]) -> str | None:
    value = environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


#: Kafka's batch codecs, as aiokafka (through cramjam) and librdkafka both read them.
PRODUCER_CODECS = ("none", "lz4", "zstd", "gzip", "snappy")


def _int(name: str, default: int, environ: dict[str, str], lo: int, hi: int) -> int:
    raw = _env(name, environ)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _float(name: str, default: float, environ: dict[str, str], lo: float, hi: float) -> float:
    raw = _env(name, environ)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _str(name: str, default: str, environ: dict[str, str]) -> str:
    raw = _env(name, environ)
    return default if raw is None else raw


def _choice(name: str, default: str, choices: tuple[str, ...], environ: dict[str, str]) -> str:
    value = _str(name, default, environ)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _bool(name: str, default: bool, environ: dict[str, str]) -> bool:
    raw = _env(name, environ)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _port(name: str, default: int, environ: dict[str, str]) -> int:
    return _int(name, default, environ, 1, 65535)


def _host_port(name: str, value: str) -> None:
    for part in value.split(","):
        host, sep, port = part.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{name} must be host:port[,host:port...], got {value!r}")


_INSTITUTION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_institution_id(name: str, value: str | None) -> str | None:
    """Institution ids become Redis key names, ACL key patterns and usernames: no glob or
    separator characters, so one institution's pattern can never match another's keys."""
    if value is not None and not _INSTITUTION_ID.fullmatch(value):
        raise ConfigError(
            f"{name}: institution ids may hold letters, digits, '.', '_' and '-' (max 64), "
            f"got {value!r}"
        )
    return value


def _institutions(name: str, environ: dict[str, str]) -> tuple[str, ...]:
    raw = _env(name, environ)
    if raw is None:
        return ("bank-us-01", "msb-us-02", "cu-ca-03")  # the simulator's institutions
    if raw.lower() == "none":
        return ()
    ids = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    for value in ids:
        check_institution_id(name, value)
    return ids


def _bind_address(name: str, default: str, environ: dict[str, str]) -> str:
    value = _str(name, default, environ)
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ConfigError(
            f"{name} must be an IP address to listen on (127.0.0.1, ::1, 0.0.0.0), got {value!r}"
        ) from None
    return value


KAFKA_SECURITY = ("scram", "plaintext")
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


def _kafka_login(environ: dict[str, str]) -> tuple[str | None, str | None]:
    """CB_KAFKA_USERNAME and CB_KAFKA_PASSWORD, both or neither (the password is never echoed)."""
    user = _env("CB_KAFKA_USERNAME", environ)
    password = _env("CB_KAFKA_PASSWORD", environ)
    if (user is None) != (password is None):
        missing = "CB_KAFKA_PASSWORD" if password is None else "CB_KAFKA_USERNAME"
        raise ConfigError(
            f"CB_KAFKA_USERNAME and CB_KAFKA_PASSWORD go together; {missing} is not set"
        )
    if user is not None and ("," in user or "=" in user):
        raise ConfigError(f"CB_KAFKA_USERNAME may not hold ',' or '=', got {user!r}")
    return user, password


def _redis_url(name: str, environ: dict[str, str]) -> str | None:
    value = _env(name, environ)
    if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"{name} must start with redis://, rediss:// or unix://")
    return value


@dataclass(frozen=True)
class Settings:
    # Where Kafka and Redis are. Unset -> the project's own local stack on these ports.
    kafka_bootstrap: str
    kafka_external: bool
    redis_url: str
    redis_external: bool
    kafka_port: int
    kafka_controller_port: int
    redis_port: int
    # Local stack.
    stack_dir: Path
    kafka_version: str
    kafka_heap: str
    kafka_cache_dir: Path
    # Optional local Prometheus (Debian's package), scraping the worker's metrics port.
    prometheus: bool
    prometheus_port: int
    # Topics.
    topic_payments: str
    topic_alerts: str
    topic_dead_letter: str
    topic_dispositions: str  # analysts' outcomes, keyed by account_id
    topic_intel: str  # compacted shared-intelligence feed of keyed hashes
    topic_rules: str  # compacted: the rule set in force
    topic_identity_links: str  # payments re-keyed by shared identifier (repartition)
    topic_account_signals: str  # cross-account findings, re-keyed back to the account
    partitions: int
    replication: int
    # Worker.
    app_id: str
    state_dir: Path
    metrics_port: int
    metrics_bind: str
    rocksdb_block_cache_mb: int
    session_timeout_s: int
    commit_interval_ms: int
    embedded_router: bool
    uvloop: bool  # the worker's event loop: uvloop (libuv) rather than asyncio's own
    gc_gen0_threshold: int  # allocations between the worker's youngest garbage collections
    batch_max: int
    batch_within_ms: int
    batch_settle_ms: int
    batch_backlog_within_ms: int  # how long a batch may grow while the worker is far behind
    state_cache_accounts: int  # decoded account states kept between batches (0 = none)
    producer_linger_ms: int  # how long the worker's producer gathers records per request
    producer_compression: str  # codec of the worker's produced batches ("none" for none)
    max_future_skew_s: int
    case_dedup_ttl_s: int
    # Delivery: analyst feedback and case handling.
    fp_suppress_hours: int
    case_claim_idle_s: int
    # Avro framing and registry.
    schema_registry_url: str | None
    # Privacy: key for the keyed hashes of identifiers that producers of events compute.
    hash_key: str
    rules_file: Path | None
    log_level: str
    # Read by processors/__init__.py at import (it cannot import this module); checked here
    # too, so `chainbreaker` commands fail with the same ConfigError as any other setting.
    native: str
    # Institutions (issue #4): whose Redis ACL users `stack up` grants, and the case CLI's
    # own credentials (an institution's URL, never the admin one).
    institutions: tuple[str, ...] = ("bank-us-01", "msb-us-02", "cu-ca-03")
    cases_redis_url: str | None = None
    cases_institution: str | None = None
    # The analysts' desk (desk/, `chainbreaker desk`): where it listens, how long a signed-in
    # session lives, and how many failed sign-ins lock a client or an institution out.
    desk_port: int = 18080
    desk_bind: str = "127.0.0.1"
    desk_session_idle_s: int = 1800
    desk_session_max_s: int = 8 * 3600
    desk_signin_failures: int = 5
    desk_signin_lockout_s: int = 300
    # Who this process is (issue #13). Kafka: SCRAM listeners unless CB_KAFKA_SECURITY is
    # plaintext; an explicit principal applies to every client of the process, otherwise each
    # client takes its role's credentials file (config/clients.py). Secrets never in repr.
    kafka_security: str = "scram"
    kafka_username: str | None = None
    kafka_password: str | None = field(default=None, repr=False)
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"
    # The case router's own Redis user (append to case streams, nothing else).
    router_redis_url: str | None = field(default=None, repr=False)
    extra: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def redis_queue_prefix(self) -> str:
        return names.case_stream_prefix(self.app_id)

    def case_stream(self, institution_id: str) -> str:
        return names.case_stream(self.app_id, institution_id)


def load(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    kafka_port = _port("CB_KAFKA_PORT", 19092, env)
    controller_port = _port("CB_KAFKA_CONTROLLER_PORT", 19093, env)
    redis_port = _port("CB_REDIS_PORT", 16379, env)
    if controller_port == kafka_port:
        raise ConfigError("CB_KAFKA_CONTROLLER_PORT must differ from CB_KAFKA_PORT")
    prometheus_port = _port("CB_PROMETHEUS_PORT", 19090, env)

    bootstrap = _env("CB_KAFKA_BOOTSTRAP", env)
    if bootstrap is not None:
        _host_port("CB_KAFKA_BOOTSTRAP", bootstrap)
    redis_url = _env("CB_REDIS_URL", env)
    if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            f"CB_REDIS_URL must start with redis://, rediss:// or unix://, got {redis_url!r}"
        )
    registry = _env("CB_SCHEMA_REGISTRY_URL", env)
    if registry is not None and not registry.startswith(("http://", "https://")):
        raise ConfigError(f"CB_SCHEMA_REGISTRY_URL must be an http(s) URL, got {registry!r}")

    stack_dir = Path(_str("CB_STACK_DIR", str(PROJECT_ROOT / ".stack"), env)).resolve()
    heap = _str("CB_KAFKA_HEAP", "512m", env)
    if not (heap[:-1].isdigit() and heap[-1].lower() in "mg"):
        raise ConfigError(f"CB_KAFKA_HEAP must look like 512m or 1g, got {heap!r}")
    rules = _env("CB_RULES_FILE", env)
    if rules is not None and not Path(rules).is_file():
        raise ConfigError(f"CB_RULES_FILE points at {rules!r}, which is not a file")
    app_id = _str("CB_APP_ID", "chainbreaker", env)
    if not app_id.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"CB_APP_ID may hold letters, digits, '-' and '_' only, got {app_id!r}")
    desk_idle = _int("CB_DESK_SESSION_IDLE_S", 1800, env, 60, 86_400)
    desk_max = _int("CB_DESK_SESSION_MAX_S", 8 * 3600, env, 300, 7 * 86_400)
    if desk_max < desk_idle:
        raise ConfigError(
            f"CB_DESK_SESSION_MAX_S ({desk_max}) must not be shorter than "
            f"CB_DESK_SESSION_IDLE_S ({desk_idle})"
        )
    kafka_user, kafka_password = _kafka_login(env)
    hash_key = _str("CB_HASH_KEY", "chainbreaker-local-dev-key", env)
    if len(hash_key) < 16:
        raise ConfigError("CB_HASH_KEY must be at least 16 characters")

    return Settings(
        kafka_bootstrap=bootstrap or f"127.0.0.1:{kafka_port}",
        kafka_external=bootstrap is not None,
        redis_url=redis_url or f"redis://127.0.0.1:{redis_port}/0",
        redis_external=redis_url is not None,
        kafka_port=kafka_port,
        kafka_controller_port=controller_port,
        redis_port=redis_port,
        stack_dir=stack_dir,
        kafka_version=_str("CB_KAFKA_VERSION", "4.1.1", env),
        kafka_heap=heap,
        kafka_cache_dir=Path(
            _str("CB_KAFKA_CACHE_DIR", str(Path.home() / ".cache" / "chainbreaker"), env)
        ).resolve(),
        prometheus=_bool("CB_PROMETHEUS", False, env),
        prometheus_port=prometheus_port,
        topic_payments=_str("CB_TOPIC_PAYMENTS", "payments", env),
        topic_alerts=_str("CB_TOPIC_ALERTS", "alerts", env),
        topic_dead_letter=_str("CB_TOPIC_DEAD_LETTER", "payments-dlq", env),
        topic_dispositions=_str("CB_TOPIC_DISPOSITIONS", "dispositions", env),
        topic_intel=_str("CB_TOPIC_INTEL", "intel", env),
        topic_rules=_str("CB_TOPIC_RULES", "rules", env),
        topic_identity_links=_str("CB_TOPIC_IDENTITY_LINKS", "identity-links", env),
        topic_account_signals=_str("CB_TOPIC_ACCOUNT_SIGNALS", "account-signals", env),
        partitions=_int("CB_PARTITIONS", 4, env, 1, 1024),
        replication=_int("CB_REPLICATION", 1, env, 1, 5),
        app_id=app_id,
        state_dir=Path(_str("CB_STATE_DIR", str(stack_dir / "worker-state"), env)).resolve(),
        metrics_port=_port("CB_METRICS_PORT", 19464, env),
        metrics_bind=_str("CB_METRICS_BIND", "127.0.0.1", env),
        rocksdb_block_cache_mb=_int("CB_ROCKSDB_BLOCK_CACHE_MB", 64, env, 8, 65536),
        embedded_router=_bool("CB_EMBEDDED_ROUTER", True, env),
        uvloop=_bool("CB_UVLOOP", True, env),
        gc_gen0_threshold=_int("CB_GC_GEN0_THRESHOLD", 50_000, env, 700, 10_000_000),
        session_timeout_s=_int("CB_SESSION_TIMEOUT_S", 10, env, 6, 300),
        commit_interval_ms=_int("CB_COMMIT_INTERVAL_MS", 1000, env, 50, 600_000),
        batch_max=_int("CB_BATCH_MAX", 2_000, env, 1, 100_000),
        batch_within_ms=_int("CB_BATCH_WITHIN_MS", 50, env, 1, 10_000),
        batch_settle_ms=_int("CB_BATCH_SETTLE_MS", 2, env, 1, 1_000),
        batch_backlog_within_ms=_int("CB_BATCH_BACKLOG_WITHIN_MS", 500, env, 1, 60_000),
        state_cache_accounts=_int("CB_STATE_CACHE_ACCOUNTS", 20_000, env, 0, 10_000_000),
        producer_linger_ms=_int("CB_PRODUCER_LINGER_MS", 5, env, 0, 1_000),
        producer_compression=_choice("CB_PRODUCER_COMPRESSION", "none", PRODUCER_CODECS, env),
        max_future_skew_s=_int("CB_MAX_FUTURE_SKEW_S", 300, env, 0, 86_400),
        case_dedup_ttl_s=_int("CB_CASE_DEDUP_TTL_S", 30 * 86_400, env, 60, 10 * 365 * 86_400),
        fp_suppress_hours=_int("CB_FP_SUPPRESS_HOURS", 30 * 24, env, 0, 10 * 365 * 24),
        case_claim_idle_s=_int("CB_CASE_CLAIM_IDLE_S", 900, env, 1, 30 * 86_400),
        schema_registry_url=registry,
        hash_key=hash_key,
        rules_file=Path(rules) if rules else None,
        log_level=_choice("CB_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"), env),
        native=_choice("CB_NATIVE", "auto", ("auto", "off", "require"), env),
        institutions=_institutions("CB_INSTITUTIONS", env),
        cases_redis_url=_redis_url("CB_CASES_REDIS_URL", env),
        cases_institution=check_institution_id(
            "CB_CASES_INSTITUTION", _env("CB_CASES_INSTITUTION", env)
        ),
        desk_port=_port("CB_DESK_PORT", 18080, env),
        desk_bind=_bind_address("CB_DESK_BIND", "127.0.0.1", env),
        desk_session_idle_s=desk_idle,
        desk_session_max_s=desk_max,
        desk_signin_failures=_int("CB_DESK_SIGNIN_FAILURES", 5, env, 1, 1000),
        desk_signin_lockout_s=_int("CB_DESK_SIGNIN_LOCKOUT_S", 300, env, 1, 86_400),
        kafka_security=_choice("CB_KAFKA_SECURITY", "scram", KAFKA_SECURITY, env),
        kafka_username=kafka_user,
        kafka_password=kafka_password,
        kafka_sasl_mechanism=_choice(
            "CB_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", SASL_MECHANISMS, env
        ),
        router_redis_url=_redis_url("CB_ROUTER_REDIS_URL", env),
    )


def documented_variables() -> list[str]:
    """Names of every CB_* variable read here (tests/project/test_docs.py checks that
    docs/configuration.md documents each, with those the rest of the code reads)."""
    import re

    source = Path(__file__).read_text()
    return sorted(set(re.findall(r'"(CB_[A-Z0-9_]+)"', source)))


__all__ = [
    "ConfigError",
    "PROJECT_ROOT",
    "Settings",
    "check_institution_id",
    "documented_variables",
    "fields",
    "load",
]
