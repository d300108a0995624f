"""Settings from the environment: defaults, and errors that name the variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config import settings
from config.settings import ConfigError


def error_for(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as info:
        settings.load(env)
    return str(info.value)


def test_defaults_from_an_empty_environment():
    s = settings.load({})
    assert s.kafka_external is False and s.redis_external is False
    # Without external services the stack's own ports are used for both addresses.
    assert s.kafka_bootstrap == f"127.0.0.1:{s.kafka_port}"
    assert s.redis_url == f"redis://127.0.0.1:{s.redis_port}/0"
    assert len({s.kafka_port, s.kafka_controller_port, s.redis_port}) == 3
    assert s.schema_registry_url is None and s.rules_file is None
    assert s.embedded_router is True
    assert s.log_level == "INFO"
    assert len(s.hash_key) >= 16
    assert s.partitions >= 1 and s.replication >= 1
    assert s.stack_dir.is_absolute() and s.state_dir.is_absolute()
    assert s.redis_queue_prefix == f"{s.app_id}:cases:"
    assert s.case_stream("bank-1") == f"{s.app_id}:cases:bank-1"


def test_blank_values_count_as_unset():
    assert settings.load({"CB_KAFKA_PORT": "  ", "CB_LOG_LEVEL": ""}) == settings.load({})


def test_load_does_not_read_os_environ_when_given_a_mapping(monkeypatch):
    monkeypatch.setenv("CB_KAFKA_PORT", "not-a-port")
    settings.load({})  # must not raise
    with pytest.raises(ConfigError):
        settings.load()


def test_values_are_read():
    s = settings.load(
        {
            "CB_KAFKA_PORT": "29092",
            "CB_PARTITIONS": "12",
            "CB_APP_ID": "cb-test_1",
            "CB_EMBEDDED_ROUTER": "off",
            "CB_LOG_LEVEL": "DEBUG",
        }
    )
    assert s.kafka_port == 29092 and s.kafka_bootstrap == "127.0.0.1:29092"
    assert s.partitions == 12 and s.app_id == "cb-test_1"
    assert s.embedded_router is False and s.log_level == "DEBUG"


@pytest.mark.parametrize(
    "var,value",
    [
        ("CB_KAFKA_PORT", "ninety"),
        ("CB_KAFKA_PORT", "0"),
        ("CB_KAFKA_PORT", "65536"),
        ("CB_REDIS_PORT", "-1"),
        ("CB_METRICS_PORT", "1.5"),
        ("CB_KAFKA_CONTROLLER_PORT", "x"),
        ("CB_KAFKA_BOOTSTRAP", "localhost"),
        ("CB_KAFKA_BOOTSTRAP", "localhost:port"),
        ("CB_KAFKA_BOOTSTRAP", "a:9092,:9093"),
        ("CB_KAFKA_BOOTSTRAP", "a:99999"),
        ("CB_REDIS_URL", "http://localhost:6379"),
        ("CB_REDIS_URL", "localhost:6379"),
        ("CB_SCHEMA_REGISTRY_URL", "registry:8081"),
        ("CB_KAFKA_HEAP", "512"),
        ("CB_KAFKA_HEAP", "1t"),
        ("CB_KAFKA_HEAP", "m"),
        ("CB_KAFKA_HEAP", "lots"),
        ("CB_EMBEDDED_ROUTER", "maybe"),
        ("CB_EMBEDDED_ROUTER", "2"),
        ("CB_HASH_KEY", "short-key"),
        ("CB_HASH_KEY", "x" * 15),
        ("CB_RULES_FILE", "/nonexistent/rules.json"),
        ("CB_LOG_LEVEL", "VERBOSE"),
        ("CB_LOG_LEVEL", "info"),
        ("CB_APP_ID", "has space"),
        ("CB_PARTITIONS", "0"),
        ("CB_REPLICATION", "6"),
        ("CB_MAX_FUTURE_SKEW_S", "-1"),
        ("CB_DESK_PORT", "0"),
        ("CB_DESK_PORT", "http"),
        ("CB_DESK_BIND", "localhost"),
        ("CB_DESK_BIND", "127.0.0.1:8080"),
        ("CB_DESK_SESSION_IDLE_S", "10"),
        ("CB_DESK_SESSION_MAX_S", "forever"),
        ("CB_DESK_SIGNIN_FAILURES", "0"),
        ("CB_DESK_SIGNIN_LOCKOUT_S", "-5"),
        ("CB_GC_GEN0_THRESHOLD", "0"),
        ("CB_GC_GEN0_THRESHOLD", "lots"),
    ],
)
def test_config_error_names_the_variable(var, value):
    msg = error_for({var: value})
    assert var in msg


def test_equal_kafka_and_controller_ports():
    msg = error_for({"CB_KAFKA_PORT": "20000", "CB_KAFKA_CONTROLLER_PORT": "20000"})
    assert "CB_KAFKA_CONTROLLER_PORT" in msg and "CB_KAFKA_PORT" in msg
    # The default controller port must also clash when only the Kafka port moves onto it.
    default_controller = settings.load({}).kafka_controller_port
    msg = error_for({"CB_KAFKA_PORT": str(default_controller)})
    assert "CB_KAFKA_CONTROLLER_PORT" in msg


def test_desk_settings() -> None:
    s = settings.load({})
    assert (s.desk_port, s.desk_bind) == (18080, "127.0.0.1")  # loopback unless told
    assert s.desk_session_idle_s <= s.desk_session_max_s
    s = settings.load(
        {
            "CB_DESK_PORT": "28080",
            "CB_DESK_BIND": "::1",
            "CB_DESK_SESSION_IDLE_S": "600",
            "CB_DESK_SESSION_MAX_S": "3600",
            "CB_DESK_SIGNIN_FAILURES": "3",
            "CB_DESK_SIGNIN_LOCKOUT_S": "60",
        }
    )
    assert (s.desk_port, s.desk_bind, s.desk_session_idle_s, s.desk_session_max_s) == (
        28080,
        "::1",
        600,
        3600,
    )
    assert (s.desk_signin_failures, s.desk_signin_lockout_s) == (3, 60)
    msg = error_for({"CB_DESK_SESSION_IDLE_S": "7200", "CB_DESK_SESSION_MAX_S": "3600"})
    assert "CB_DESK_SESSION_MAX_S" in msg and "CB_DESK_SESSION_IDLE_S" in msg


def test_rules_file_directory_is_not_a_file(tmp_path: Path):
    assert "CB_RULES_FILE" in error_for({"CB_RULES_FILE": str(tmp_path)})


def test_rules_file_that_exists_is_accepted(tmp_path: Path):
    path = tmp_path / "rules.json"
    path.write_text("{}")
    assert settings.load({"CB_RULES_FILE": str(path)}).rules_file == path


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("1", True),
        ("TRUE", True),
        ("yes", True),
        ("on", True),
        ("0", False),
        ("False", False),
        ("no", False),
        ("OFF", False),
    ],
)
def test_bool_spellings(raw, expected):
    assert settings.load({"CB_EMBEDDED_ROUTER": raw}).embedded_router is expected


@pytest.mark.parametrize("heap", ["512m", "1g", "2G", "768M"])
def test_heap_spellings(heap):
    assert settings.load({"CB_KAFKA_HEAP": heap}).kafka_heap == heap


def test_external_kafka_flag():
    s = settings.load({"CB_KAFKA_BOOTSTRAP": "kafka-1:9092,kafka-2:9092"})
    assert s.kafka_external is True and s.redis_external is False
    assert s.kafka_bootstrap == "kafka-1:9092,kafka-2:9092"


def test_external_redis_flag():
    for url in ("redis://cache:6379/2", "rediss://user:pw@cache:6380/0", "unix:///tmp/r.sock"):
        s = settings.load({"CB_REDIS_URL": url})
        assert s.redis_external is True and s.kafka_external is False
        assert s.redis_url == url


def test_schema_registry_url_is_kept():
    s = settings.load({"CB_SCHEMA_REGISTRY_URL": "http://registry:8081"})
    assert s.schema_registry_url == "http://registry:8081"


def test_documented_variables_lists_every_variable_read():
    names = settings.documented_variables()
    assert names == sorted(set(names))
    assert all(re.fullmatch(r"CB_[A-Z0-9_]+", n) for n in names)
    for var in (
        "CB_KAFKA_BOOTSTRAP",
        "CB_KAFKA_PORT",
        "CB_KAFKA_CONTROLLER_PORT",
        "CB_REDIS_URL",
        "CB_REDIS_PORT",
        "CB_KAFKA_HEAP",
        "CB_EMBEDDED_ROUTER",
        "CB_HASH_KEY",
        "CB_RULES_FILE",
        "CB_LOG_LEVEL",
        "CB_SCHEMA_REGISTRY_URL",
        "CB_APP_ID",
        "CB_PARTITIONS",
        "CB_MAX_FUTURE_SKEW_S",
    ):
        assert var in names
    # Every variable documented is one load() actually validates or reads: setting each to an
    # absurd value either fails with an error naming it or changes the resulting settings.
    baseline = settings.load({})
    for var in names:
        try:
            changed = settings.load({var: "@@bogus@@"})
        except ConfigError as exc:
            assert var in str(exc)
        else:
            assert changed != baseline, f"{var} has no effect on settings"
