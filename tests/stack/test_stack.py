"""The local stack manager against the real Kafka and Redis.

The shared stack from the session fixture is never stopped here: other tests use it. Tests
that need a stack of their own point CB_STACK_DIR at a temporary directory and use free ports,
and stop whatever they started.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from config import clients, settings
from stack import cli as stack_cli
from stack import services as st
from stack.kafka import admin_auth, wait_for_kafka
from stack.redis import wait_for_redis

PORT_VARIABLES = ("CB_KAFKA_PORT", "CB_KAFKA_CONTROLLER_PORT", "CB_REDIS_PORT")


def _free_ports(count: int) -> list[int]:
    """Distinct ports nobody listens on (all bound at once, so no duplicates)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def _foreign_listener(port: int) -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        yield sock


def _private_env(stack_dir: Path, **extra: str) -> dict[str, str]:
    """Settings for a throwaway stack: own directory, free ports, the shared jar cache."""
    kafka, controller, redis = _free_ports(3)
    env = {
        "CB_STACK_DIR": str(stack_dir),
        "CB_KAFKA_CACHE_DIR": str(settings.load().kafka_cache_dir),
        "CB_KAFKA_PORT": str(kafka),
        "CB_KAFKA_CONTROLLER_PORT": str(controller),
        "CB_REDIS_PORT": str(redis),
    }
    env.update(extra)
    return env


@pytest.fixture
def private_stack(tmp_path: Path) -> Iterator[Path]:
    """A stack directory of our own; anything started in it is stopped afterwards.

    `down` only touches processes whose identity matches this directory, so it cannot stop
    the shared stack even though these settings carry the default ports.
    """
    stack_dir = tmp_path / "stack"
    yield stack_dir
    if stack_dir.exists():
        st.down(settings.load({"CB_STACK_DIR": str(stack_dir)}))


def _shared() -> settings.Settings:
    shared = settings.load()
    if shared.kafka_external or shared.redis_external:
        pytest.skip("CB_KAFKA_BOOTSTRAP / CB_REDIS_URL are set: the shared stack is external")
    return shared


@pytest.fixture
def running(stack: st.StackReport) -> st.StackReport:
    """The shared stack as it is now: the fault tests (tests/reliability) restart its broker
    and Redis, so their pids may differ from the session's first `up`."""
    return st.status(_shared())


@pytest.mark.integration
def test_up_is_idempotent(running: st.StackReport) -> None:
    shared = _shared()
    first = st.up(shared)
    second = st.up(shared)
    for name in (st.KAFKA, st.REDIS):
        assert first.service(name).running
        assert second.service(name).action == "already running"
        assert second.service(name).pid == first.service(name).pid == running.service(name).pid
    assert "already running" in second.render()


@pytest.mark.integration
def test_status_reports_both_services(running: st.StackReport) -> None:
    shared = _shared()
    report = st.status(shared)
    assert report.command == "status"
    assert report.all_running
    assert report.kafka.address == shared.kafka_bootstrap == f"127.0.0.1:{shared.kafka_port}"
    assert report.redis.address == clients.redact(shared.redis_url)
    for name in (st.KAFKA, st.REDIS):
        svc = report.service(name)
        assert svc.pid == running.service(name).pid
        assert not svc.external
        assert svc.log is not None and svc.log.is_file()
    # The pids are the real servers, listening where the report says.
    wait_for_kafka(shared.kafka_bootstrap, timeout=10, auth=admin_auth(shared))
    wait_for_redis(clients.redis_url(shared), timeout=5)


@pytest.mark.integration
def test_cli_status_exit_code_and_report(
    running: st.StackReport, capsys: pytest.CaptureFixture[str]
) -> None:
    _shared()
    assert stack_cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert f"pid {running.kafka.pid}" in out and f"pid {running.redis.pid}" in out


@pytest.mark.integration
@pytest.mark.parametrize("variable", PORT_VARIABLES)
def test_taken_port_names_the_variable_and_starts_nothing(
    private_stack: Path, variable: str
) -> None:
    env = _private_env(private_stack)
    taken = int(env[variable])
    with _foreign_listener(taken), pytest.raises(st.StackError) as raised:
        st.up(settings.load(env))
    message = str(raised.value)
    assert f"port {taken} ({variable}) is already in use by another process" in message
    assert f"set {variable} to a free port" in message
    # Nothing was started: no pid files, and the other ports are still free.
    assert not list(private_stack.rglob("*.pid"))
    for other in PORT_VARIABLES:
        if other != variable:
            assert _port_free(int(env[other])), other
    assert not any(svc.running for svc in st.status(settings.load(env)).services)


@pytest.mark.integration
def test_shared_broker_is_foreign_to_another_stack_dir(
    running: st.StackReport, private_stack: Path
) -> None:
    """The shared Kafka is someone else's process from a private stack's point of view."""
    shared = _shared()
    env = _private_env(private_stack, CB_KAFKA_PORT=str(shared.kafka_port))
    with pytest.raises(st.StackError, match=rf"port {shared.kafka_port} \(CB_KAFKA_PORT\)") as e:
        st.up(settings.load(env))
    assert f"pid {running.kafka.pid}" in str(e.value)  # names the process that holds the port
    assert not list(private_stack.rglob("*.pid"))


@pytest.mark.integration
def test_external_services_start_nothing(running: st.StackReport, private_stack: Path) -> None:
    shared = _shared()
    env = _private_env(
        private_stack,
        CB_KAFKA_BOOTSTRAP=shared.kafka_bootstrap,
        CB_REDIS_URL=clients.redis_url(shared),  # the operator's URL, with its password
    )
    external = settings.load(env)

    report = st.up(external)
    for name in (st.KAFKA, st.REDIS):
        svc = report.service(name)
        assert svc.external and svc.running and svc.pid is None
        assert svc.action == "external, reachable"
    assert not private_stack.exists()  # not even a directory
    assert _port_free(external.kafka_port) and _port_free(external.redis_port)

    assert st.status(external).all_running
    stopped = st.down(external)
    assert all(svc.action == "external, left alone" for svc in stopped.services)
    # The shared stack behind the external addresses is untouched.
    after = st.status(shared)
    assert after.all_running
    assert after.kafka.pid == running.kafka.pid and after.redis.pid == running.redis.pid


@pytest.mark.integration
def test_external_kafka_with_private_redis_lifecycle(
    running: st.StackReport, private_stack: Path
) -> None:
    """Only the local half starts; down stops it, frees its port and removes its pid file."""
    shared = _shared()
    # No institutions: granting one needs the (external) Kafka's operator login.
    env = _private_env(private_stack, CB_KAFKA_BOOTSTRAP=shared.kafka_bootstrap,
                       CB_INSTITUTIONS="none")  # fmt: skip
    mixed = settings.load(env)

    report = st.up(mixed)
    assert report.kafka.external and report.kafka.pid is None
    assert report.redis.action == "started" and report.redis.pid
    assert report.redis.pid != running.redis.pid
    assert not (private_stack / "kafka").exists()
    wait_for_redis(clients.redis_url(mixed), timeout=5)

    stopped = st.down(mixed)
    assert stopped.redis.action == "stopped" and not stopped.redis.running
    assert not (private_stack / "redis" / "redis.pid").exists()
    assert _port_free(mixed.redis_port)
    assert (private_stack / "redis" / "appendonlydir").is_dir()  # data kept

    st.down(mixed, wipe=True)
    assert not private_stack.exists()
    assert st.status(shared).all_running


def test_unreachable_external_kafka_fails_with_the_variable(
    private_stack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(st, "EXTERNAL_CHECK_TIMEOUT_S", 1.0)
    (dead,) = _free_ports(1)
    env = _private_env(private_stack, CB_KAFKA_BOOTSTRAP=f"127.0.0.1:{dead}")
    with pytest.raises(st.StackError, match="CB_KAFKA_BOOTSTRAP"):
        st.up(settings.load(env))
    assert not private_stack.exists()


def test_stale_pid_files_are_not_trusted(private_stack: Path) -> None:
    """After a reboot a pid file may name an unrelated live process (here: pytest itself)."""
    env = _private_env(private_stack)
    for service in (st.KAFKA, st.REDIS):
        (private_stack / service).mkdir(parents=True)
        (private_stack / service / f"{service}.pid").write_text(f"{os.getpid()}\n")
    report = st.status(settings.load(env))
    for svc in report.services:
        assert not svc.running and svc.pid is None
        assert svc.action == "not running (stale pid file)"


def test_cli_prints_the_error_without_traceback(
    private_stack: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = _private_env(private_stack)
    for name in ("CB_KAFKA_BOOTSTRAP", "CB_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with _foreign_listener(int(env["CB_REDIS_PORT"])):
        assert stack_cli.main(["up"]) == 1
    err = capsys.readouterr().err
    assert "(CB_REDIS_PORT) is already in use" in err
    assert "Traceback" not in err
    assert stack_cli.main(["status"]) == 1  # nothing runs in the private stack
