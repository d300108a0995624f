"""docker-compose.yml agrees with the settings defaults and the local stack (no Docker needed).

Docker users and `chainbreaker stack up` users must get the same topics, the same host ports
and the same broker behaviour; this catches the compose file drifting from config/settings.py
or stack/kafka.py.
"""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
import yaml

from config import settings
from stack import kafka
from stack.paths import paths

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
    assert services["desk"]["command"] == ["chainbreaker", "desk"]
    desk_env = _env(services["desk"])
    assert _published(services["desk"]) == {
        int(desk_env["CB_DESK_PORT"]): ("127.0.0.1", defaults.desk_port)
    }
    assert services["simulator"]["profiles"] == ["demo"]
    assert services["simulator"]["command"] == [
        "chainbreaker",
        "simulate",
        "--publish",
        "--rate",
        "200",
    ]
    for name in ("worker", "simulator", "desk"):
        build = services[name]["build"]
        assert (ROOT / build["context"] / build["dockerfile"]).is_file()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "pip install '.[native]'" in dockerfile
    # The image runs the compiled build of processors/ and refuses to start without it.
    assert "python scripts/build_native.py" in dockerfile and "CB_NATIVE=require" in dockerfile
    # pip install . needs every package pyproject names: the image copies each one.
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for top in {name.split(".")[0] for name in packages["packages"]}:
        assert f"COPY {top} ./{top}" in dockerfile, top


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
    # SASL on every listener, as the local stack (no PLAINTEXT unless asked for).
    assert set(protocols.values()) == {"SASL_PLAINTEXT"}
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
    """Every broker property of stack/kafka.py that is not about addresses or paths."""
    env = _env(compose["services"]["kafka"])
    local = kafka.kafka_properties(defaults, paths(defaults))
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
        # Per-listener settings (the listeners are named differently) are checked below.
        if key in addressing or key.startswith("listener.name."):
            continue
        variable = "KAFKA_" + key.upper().replace(".", "_")
        assert env.get(variable) == value, f"{variable} should be {value!r} as in stack.py"
    # Each listener's mechanisms and login modules, as the local stack's client listener
    # (the image maps '.' to '_' and '-' to '___' in variable names).
    for name in ("INTERNAL", "EXTERNAL"):
        for key, value in local.items():
            if not key.startswith("listener.name.client."):
                continue
            rest = key.removeprefix("listener.name.client.")
            variable = f"KAFKA_LISTENER_NAME_{name}_" + rest.upper().replace("-", "___").replace(
                ".", "_"
            )
            if "plain.sasl.jaas" in key:  # the broker's password comes from the secret
                assert env[variable] == value.replace(
                    "<from credentials/kafka-admin.env>", "${CB_KAFKA_ADMIN_PASSWORD}"
                ), variable
            else:
                assert env.get(variable) == value, variable


def test_secrets_are_required_and_never_written_here(compose: dict[str, Any]) -> None:
    """Compose refuses to start without the two secrets (`${VAR:?message}`), and no password
    is written in the file itself."""
    text = COMPOSE.read_text()
    for secret in ("CB_KAFKA_ADMIN_PASSWORD", "CB_REDIS_OPERATOR_PASSWORD"):
        assert f"${{{secret}:?" in text, secret
    services = compose["services"]
    redis_cmd = " ".join(services["redis"]["command"])
    assert "--aclfile /data/users.acl" in redis_cmd and "user default off" in redis_cmd
    assert "--user operator" in " ".join(services["redis"]["healthcheck"]["test"])
    access = services["access"]
    assert "chainbreaker access grant" in " ".join(access["command"])
    assert "chainbreaker cases grant" in " ".join(access["command"])
    for name in ("worker", "router", "simulator"):
        env = _env(services[name])
        assert "CB_KAFKA_PASSWORD" not in env and "@" not in env.get("CB_REDIS_URL", "")
        assert settings.load(env).stack_dir == settings.load(_env(access)).stack_dir
        mounts = [str(v) for v in services[name].get("volumes") or []]
        assert any(m.startswith("access:") for m in mounts), name
    for name in ("worker", "router"):
        condition = services[name]["depends_on"]["access"]["condition"]
        assert condition == "service_completed_successfully"


def test_worker_environment_is_valid_settings(
    compose: dict[str, Any], defaults: settings.Settings
) -> None:
    services = compose["services"]
    known = set(settings.documented_variables())
    for name in ("worker", "simulator", "desk"):
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
    redis_check = " ".join(services["redis"]["healthcheck"]["test"])
    assert "redis-cli" in redis_check and "ping" in redis_check
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {target: {"condition": "service_started"} for target in depends}
        for target, spec in depends.items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = spec.get("condition", "service_started")
            assert condition in (
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            )
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


# --- observability: Prometheus, Grafana and the standalone router (issue #5) -----------------


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """container path -> host path (bind mounts) or volume name."""
    out = {}
    for volume in service.get("volumes") or []:
        source, target = str(volume).split(":")[:2]
        out[target] = source
    return out


def test_prometheus_and_grafana_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    assert prometheus["image"].startswith("prom/prometheus:v")
    assert grafana["image"].startswith("grafana/grafana:")
    # The same host port as the local stack's Prometheus (CB_PROMETHEUS_PORT).
    assert _published(prometheus)[9090] == ("127.0.0.1", settings.load({}).prometheus_port)
    assert _published(grafana)[3000][0] == "127.0.0.1"
    # Configuration and rules come from the repository, read-only; data in named volumes.
    prom_mounts = _mounts(prometheus)
    config_path = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    config_in_container = config_path.split("=", 1)[1]
    assert prom_mounts[config_in_container] == "./ops/prometheus/prometheus.yml"
    config = yaml.safe_load((ROOT / "ops/prometheus/prometheus.yml").read_text())
    for rule_file in config["rule_files"]:
        assert (ROOT / prom_mounts[rule_file].removeprefix("./")).is_file(), rule_file
    tsdb = next(a for a in prometheus["command"] if a.startswith("--storage.tsdb.path="))
    assert prom_mounts[tsdb.split("=", 1)[1]] in compose["volumes"]

    graf_mounts = _mounts(grafana)
    assert graf_mounts["/etc/grafana/provisioning"] == "./grafana/provisioning"
    provider = yaml.safe_load(
        (ROOT / "grafana/provisioning/dashboards/chainbreaker.yml").read_text()
    )
    path = provider["providers"][0]["options"]["path"]
    assert (ROOT / graf_mounts[path].removeprefix("./")).is_dir()
    assert list((ROOT / graf_mounts[path].removeprefix("./")).glob("*.json"))
    home = _env(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / graf_mounts[path].removeprefix("./") / home.rsplit("/", 1)[1]).is_file()
    assert graf_mounts["/var/lib/grafana"] in compose["volumes"]
    assert grafana["depends_on"]["prometheus"]["condition"] == "service_healthy"
    for name in ("prometheus", "grafana", "router", "worker"):
        test = services[name]["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL")


def test_grafana_datasource_points_at_the_prometheus_service(compose: dict[str, Any]) -> None:
    provisioning = ROOT / "grafana/provisioning/datasources/prometheus.yml"
    datasource = yaml.safe_load(provisioning.read_text())["datasources"][0]
    host, port = datasource["url"].removeprefix("http://").split(":")
    assert host in compose["services"] and host == "prometheus"
    assert int(port) in _published(compose["services"][host])
    assert datasource["uid"] == "prometheus"  # the dashboards refer to it by this uid


def test_prometheus_scrapes_worker_and_router(
    compose: dict[str, Any], defaults: settings.Settings
) -> None:
    services = compose["services"]
    config = yaml.safe_load((ROOT / "ops/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for job, service in (("chainbreaker-worker", "worker"), ("chainbreaker-router", "router")):
        targets = [t for sc in jobs[job]["static_configs"] for t in sc["targets"]]
        assert targets == [f"{service}:{defaults.metrics_port}"]
        loaded = settings.load(_env(services[service]))
        assert loaded.metrics_port == defaults.metrics_port
        assert loaded.metrics_bind == "0.0.0.0"  # reachable from the Prometheus container


def test_router_runs_on_its_own(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["router"]["command"] == ["chainbreaker", "router"]
    assert services["router"]["image"] == services["worker"]["image"]
    # Exactly one router: the worker's embedded one is off.
    assert settings.load(_env(services["worker"])).embedded_router is False
    assert (
        settings.load(_env(services["router"])).app_id
        == settings.load(_env(services["worker"])).app_id
    )
