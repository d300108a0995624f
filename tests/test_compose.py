"""docker-compose.yml agrees with the settings defaults and the local stack (no Docker needed).

Docker users and `chainbreaker stack up` users must get the same topics, the same host ports
and the same broker behaviour; this catches the compose file drifting from streams/settings.py
or streams/stack.py.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from streams import settings
from streams import stack as st

ROOT = settings.PROJECT_ROOT
COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def defaults() -> settings.Settings:
    return settings.load({})  # the built-in defaults, whatever the caller's environment holds


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the "KEY=value" form
        env = dict(item.split("=", 1) for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def _published(service: dict[str, Any]) -> dict[int, tuple[str, int]]:
    """container port -> (host ip, host port), from "ip:host:container" entries."""
    result = {}
    for entry in service.get("ports") or []:
        ip, host, container = str(entry).split(":")
        result[int(container.split("/")[0])] = (ip, int(host))
    return result


def _listeners(value: str) -> dict[str, str]:
    """ "NAME://host:port,..." -> {NAME: "host:port"}."""
    return dict(part.split("://", 1) for part in value.split(","))


def test_services_and_images(compose: dict[str, Any], defaults: settings.Settings) -> None:
    assert compose.get("name") == "chainbreaker"
    services = compose["services"]
    assert {"kafka", "redis", "worker", "simulator"} <= set(services)
    assert services["kafka"]["image"] == f"apache/kafka:{defaults.kafka_version}"
    assert services["redis"]["image"] == "redis:7"
    assert services["worker"]["command"] == ["chainbreaker", "worker"]
    assert services["simulator"]["profiles"] == ["demo"]
    assert services["simulator"]["command"] == [
        "chainbreaker",
        "simulate",
        "--publish",
        "--rate",
        "200",
    ]
    for name in ("worker", "simulator"):
        build = services[name]["build"]
        assert (ROOT / build["context"] / build["dockerfile"]).is_file()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "pip install ." in dockerfile


def test_host_ports_match_settings(compose: dict[str, Any], defaults: settings.Settings) -> None:
    services = compose["services"]
    kafka = _published(services["kafka"])
    redis = _published(services["redis"])
    worker = _published(services["worker"])
    assert kafka[defaults.kafka_port] == ("127.0.0.1", defaults.kafka_port)
    assert redis[6379] == ("127.0.0.1", defaults.redis_port)
    assert worker[defaults.metrics_port] == ("127.0.0.1", defaults.metrics_port)
    # Loopback only, like the local stack.
    for service in services.values():
        assert all(ip == "127.0.0.1" for ip, _ in _published(service).values())


def test_kafka_listeners(compose: dict[str, Any], defaults: settings.Settings) -> None:
    env = _env(compose["services"]["kafka"])
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    listeners = _listeners(env["KAFKA_LISTENERS"])
    advertised = _listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    protocol_map = env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    protocols = dict(part.split(":") for part in protocol_map.split(","))
    assert set(listeners) == set(protocols)
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in listeners
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] not in advertised
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    # The host sees the broker where the settings default says it is ...
    assert defaults.kafka_bootstrap in advertised.values()
    # ... and containers reach it through the service name.
    assert "kafka:9092" in advertised.values()
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@")


def test_kafka_behaves_like_the_local_stack(
    compose: dict[str, Any], defaults: settings.Settings
) -> None:
    """Every broker property of streams/stack.py that is not about addresses or paths."""
    env = _env(compose["services"]["kafka"])
    local = st._kafka_properties(defaults, st._paths(defaults))
    addressing = {
        "listeners",
        "advertised.listeners",
        "listener.security.protocol.map",
        "inter.broker.listener.name",
        "controller.listener.names",
        "controller.quorum.bootstrap.servers",
        "log.dirs",
    }
    for key, value in local.items():
        if key in addressing:
            continue
        variable = "KAFKA_" + key.upper().replace(".", "_")
        assert env.get(variable) == value, f"{variable} should be {value!r} as in stack.py"


def test_worker_environment_is_valid_settings(
    compose: dict[str, Any], defaults: settings.Settings
) -> None:
    services = compose["services"]
    known = set(settings.documented_variables())
    for name in ("worker", "simulator"):
        env = _env(services[name])
        unknown = {key for key in env if key.startswith("CB_")} - known
        assert not unknown, f"{name} sets variables settings.py does not read: {unknown}"
        loaded = settings.load(env)  # the real validation, as the container will do it
        assert loaded.topic_payments == defaults.topic_payments
        assert loaded.topic_alerts == defaults.topic_alerts
        assert loaded.topic_dead_letter == defaults.topic_dead_letter
        assert loaded.partitions == defaults.partitions
        assert loaded.metrics_port == defaults.metrics_port
        assert loaded.kafka_external and loaded.redis_external

        kafka_env = _env(services["kafka"])
        assert (
            loaded.kafka_bootstrap in _listeners(kafka_env["KAFKA_ADVERTISED_LISTENERS"]).values()
        )
        redis_host_port = loaded.redis_url.split("//", 1)[1].split("/", 1)[0]
        host, port = redis_host_port.split(":")
        assert host in services and int(port) in _published(services[host])


def test_depends_on_and_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("kafka", "redis"):
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
        test = services[name]["healthcheck"]["test"]
        assert test and test[0] in ("CMD", "CMD-SHELL")
    assert "kafka-broker-api-versions.sh" in " ".join(services["kafka"]["healthcheck"]["test"])
    assert "redis-cli ping" in " ".join(services["redis"]["healthcheck"]["test"])
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {target: {"condition": "service_started"} for target in depends}
        for target, spec in depends.items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = spec.get("condition", "service_started")
            assert condition in ("service_started", "service_healthy")
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{target} has no healthcheck"
    assert services["worker"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["worker"]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for volume in service.get("volumes") or []:
            source = str(volume).split(":", 1)[0]
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name} uses undeclared volume {source}"
