"""The local stack as a whole: `up`, `down` and `status` over Kafka, Redis and Prometheus.

One Kafka broker and one Redis server on 127.0.0.1, started without Docker (stack/kafka.py,
stack/redis.py), plus Prometheus when asked (stack/prometheus.py). Every port is checked
before anything starts, so a conflict leaves the machine as it was; a service this call
started that does not become ready is stopped again before the error.

When ``CB_KAFKA_BOOTSTRAP`` or ``CB_REDIS_URL`` is set, that service is someone else's: the
stack starts nothing for it and only checks that it answers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from redis import RedisError

from config import clients
from config.settings import ConfigError, Settings
from stack import desk, kafka, prometheus, redis
from stack.paths import KAFKA, PROMETHEUS, REDIS, StackPaths, paths
from stack.process import (
    StackError,
    locked,
    port_free,
    port_in_use_error,
    stop_if_started,
    stop_pid,
    wait_gone,
)
from stack.status import ServiceStatus, StackReport

EXTERNAL_CHECK_TIMEOUT_S = 15.0
STATUS_CHECK_TIMEOUT_S = 3.0
STOP_TIMEOUT_S = {KAFKA: kafka.STOP_TIMEOUT_S, REDIS: redis.STOP_TIMEOUT_S}


def _address(service: str, s: Settings) -> str:
    return s.kafka_bootstrap if service == KAFKA else clients.redact(s.redis_url)


def _external(service: str, s: Settings) -> bool:
    return s.kafka_external if service == KAFKA else s.redis_external


def _running(service: str, s: Settings, p: StackPaths) -> tuple[int | None, bool]:
    return kafka.running(s, p) if service == KAFKA else redis.running(s, p)


def _answers(service: str, s: Settings, timeout: float) -> None:
    if service == KAFKA:
        try:
            auth = kafka.admin_auth(s)
        except clients.MissingCredentials:
            if not s.kafka_external:
                raise
            # Someone else's Kafka and no operator login for it here: that it accepts
            # connections is all this process can check (its clients log in as their roles).
            kafka.await_port(s.kafka_bootstrap, timeout)
            return
        kafka.await_kafka(s.kafka_bootstrap, timeout, auth=auth)
    else:
        redis.await_redis(clients.redis_url(s, clients.OPERATOR), timeout)


def _check_external(service: str, s: Settings, timeout: float) -> None:
    variable = "CB_KAFKA_BOOTSTRAP" if service == KAFKA else "CB_REDIS_URL"
    try:
        _answers(service, s, timeout)
    except StackError as exc:
        raise StackError(
            f"{exc}. {variable} points at an external {service} that does not answer; start "
            f"it, fix {variable}, or unset it to use the local stack"
        ) from None


def up(
    settings: Settings,
    *,
    kafka_timeout: float = kafka.READY_TIMEOUT_S,
    redis_timeout: float = redis.READY_TIMEOUT_S,
    with_prometheus: bool | None = None,
) -> StackReport:
    """Start what is not running yet and return once everything answers.

    Prometheus is started too when ``with_prometheus`` (default: CB_PROMETHEUS) is true.

    Idempotent: services that already run from this stack directory are left alone (reported
    as "already running", same pid) after a readiness check. All ports are checked before
    anything starts, so a conflict leaves the machine as it was. If a service we started does
    not become ready, everything this call started is stopped again before the error.
    """
    started_at = time.monotonic()
    s = settings
    p = paths(s)
    local = [svc for svc in (KAFKA, REDIS) if not _external(svc, s)]
    results: dict[str, ServiceStatus] = {}
    for service in (KAFKA, REDIS):
        if _external(service, s):
            _check_external(service, s, EXTERNAL_CHECK_TIMEOUT_S)
            results[service] = ServiceStatus(
                service, _address(service, s), True, True, None, "external, reachable"
            )
    if local:
        with locked(p.lock):
            results.update(_up_local(s, p, local, kafka_timeout, redis_timeout))
            _grant(s, local)
    services = tuple(results[svc] for svc in (KAFKA, REDIS))
    if s.prometheus if with_prometheus is None else with_prometheus:
        with locked(p.lock):
            services += (prometheus.up(s, p),)
    return StackReport("up", services, time.monotonic() - started_at)


def _grant(s: Settings, local: list[str]) -> None:
    """The app's principals, the router's user and the institutions' users on the services
    this stack runs (access/grant.py, institutions/acl.py); idempotent, passwords kept."""
    from access.grant import grant_app

    try:
        grant_app(s, kafka=KAFKA in local, redis_users=REDIS in local)
    except (RuntimeError, ConfigError, RedisError) as exc:
        raise StackError(f"the stack is up but granting the app's access failed: {exc}") from None
    if REDIS in local and s.institutions:
        redis.grant_institutions(s)


def _refresh_kafka_logins(s: Settings) -> None:
    """A broker this call started authenticates SCRAM users again only once their credentials
    are rewritten (access/grant.py refresh_kafka_logins says why)."""
    from access.grant import refresh_kafka_logins

    try:
        refresh_kafka_logins(s)
    except (RuntimeError, ConfigError) as exc:
        raise StackError(f"Kafka is up but refreshing its SCRAM logins failed: {exc}") from None


def stop_service(settings: Settings, service: str, *, kill: bool = False) -> str:
    """Stop one local service, SIGTERM (a clean shutdown) or SIGKILL (a crash), and wait until
    it is gone; `start_service` brings it back. For fault tests and operators; the other
    service and every client are left alone."""
    s = settings
    p = paths(s)
    if _external(service, s):
        raise StackError(f"{service} is external: not ours to stop")
    with locked(p.lock):
        pid, _stale = _running(service, s, p)
        if pid is None:
            return "not running"
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            action = "killed" if wait_gone(pid, STOP_TIMEOUT_S[service]) else "still there"
        else:
            action = stop_pid(pid, service, STOP_TIMEOUT_S[service])
        p.pid_file(service).unlink(missing_ok=True)
        return action


def start_service(settings: Settings, service: str, timeout: float | None = None) -> ServiceStatus:
    """Start one local service stopped by `stop_service` and wait until it answers (up to
    ``timeout``: a broker restarted after a crash first waits out its old registration), without
    granting anything: what it comes back with is what it kept (its data, its aclfile)."""
    s = settings
    p = paths(s)
    with locked(p.lock):
        return _up_local(
            s,
            p,
            [service],
            timeout or kafka.READY_TIMEOUT_S,
            timeout or redis.READY_TIMEOUT_S,
        )[service]


def _check_ports(s: Settings, to_start: list[str], running: dict[str, int]) -> None:
    """Every port we are about to bind, checked before anything starts."""
    ports: list[tuple[int, str]] = []
    if KAFKA in to_start:
        ports += [
            (s.kafka_port, "CB_KAFKA_PORT"),
            (s.kafka_controller_port, "CB_KAFKA_CONTROLLER_PORT"),
        ]
    if REDIS in to_start:
        ports.append((s.redis_port, "CB_REDIS_PORT"))
    seen: dict[int, str] = {}
    for port, variable in ports:
        if port in seen:
            raise StackError(f"{variable} and {seen[port]} are both {port}; they must differ")
        seen[port] = variable
    kafka_ports = (s.kafka_port, s.kafka_controller_port)
    if REDIS in to_start and KAFKA in running and s.redis_port in kafka_ports:
        raise StackError(f"CB_REDIS_PORT={s.redis_port} is a port of the running Kafka")
    for port, variable in ports:
        if not port_free(port):
            raise port_in_use_error(port, variable)


def _up_local(
    s: Settings, p: StackPaths, local: list[str], kafka_timeout: float, redis_timeout: float
) -> dict[str, ServiceStatus]:
    running: dict[str, int] = {}
    for service in local:
        pid, _stale = _running(service, s, p)
        if pid is not None:
            if service == KAFKA:
                kafka.check_drift(pid, s, p)
            else:
                redis.check_drift(pid, s, p)
            running[service] = pid
    to_start = [svc for svc in local if svc not in running]
    _check_ports(s, to_start, running)

    # Prerequisites (installed when missing), before any process starts.
    java: str | None = None
    libs: Path | None = None
    redis_binary: str | None = None
    if KAFKA in to_start:
        java = kafka.java()
        libs = kafka.kafka_libs(s)
    if REDIS in to_start:
        redis_binary = redis.server()

    children: dict[str, subprocess.Popen[bytes]] = {}
    formatted = False
    try:
        # Redis first: it is up in milliseconds, while the JVM warms up.
        if redis_binary is not None:
            children[REDIS] = redis.start(s, p, redis_binary)
        if java is not None and libs is not None:
            children[KAFKA], formatted = kafka.start(s, p, java, libs)
        if REDIS in local:
            redis.await_redis(
                clients.redis_url(s, clients.OPERATOR),
                redis_timeout,
                child=children.get(REDIS),
                log_path=p.redis_log,
            )
        if KAFKA in local:
            kafka.await_kafka(
                s.kafka_bootstrap,
                kafka_timeout,
                broker_id=1,
                child=children.get(KAFKA),
                log_path=p.kafka_log,
                auth=kafka.admin_auth(s),
            )
    except BaseException:
        stop_if_started(children)
        for service in children:
            p.pid_file(service).unlink(missing_ok=True)
        raise
    if KAFKA in children:
        _refresh_kafka_logins(s)

    results: dict[str, ServiceStatus] = {}
    for service in local:
        if service in running:
            pid, action = running[service], "already running"
        else:
            pid = children[service].pid
            action = "started, storage formatted" if service == KAFKA and formatted else "started"
        results[service] = ServiceStatus(
            service, _address(service, s), False, True, pid, action, p.log_file(service)
        )
    return results


def down(settings: Settings, wipe: bool = False) -> StackReport:
    """Stop the services this stack directory started; keep their data unless wipe.

    SIGTERM first (Kafka shuts down cleanly, Redis flushes its append-only file), SIGKILL
    after a deadline. External services are never touched. With wipe, the Kafka and Redis data
    and the worker state under CB_STACK_DIR are deleted as well: the worker's local state is
    only meaningful together with the Kafka log it was built from.
    """
    started_at = time.monotonic()
    s = settings
    p = paths(s)
    results: dict[str, ServiceStatus] = {}
    for service in (KAFKA, REDIS):
        if _external(service, s):
            results[service] = ServiceStatus(
                service, _address(service, s), True, False, None, "external, left alone"
            )
    local = [svc for svc in (KAFKA, REDIS) if not _external(svc, s)]
    if local and (p.root.exists() or wipe):
        with locked(p.lock):
            pids = {svc: _running(svc, s, p)[0] for svc in local}
            for pid in pids.values():
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
            for service, pid in pids.items():
                action = "not running"
                if pid is not None:
                    action = stop_pid(pid, service, STOP_TIMEOUT_S[service])
                p.pid_file(service).unlink(missing_ok=True)
                results[service] = ServiceStatus(
                    service, _address(service, s), False, False, None, action
                )
            if wipe:
                _wipe(s, p)
                for service in local:
                    old = results[service]
                    results[service] = ServiceStatus(
                        old.name, old.address, False, False, None, f"{old.action}, data wiped"
                    )
        if wipe:
            p.lock.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                p.root.rmdir()  # only if nothing else lives there
    for service in local:
        results.setdefault(
            service, ServiceStatus(service, _address(service, s), False, False, None, "not running")
        )
    services = tuple(results[svc] for svc in (KAFKA, REDIS))
    # Then what the demo adds to the stack: the analysts' desk and Prometheus.
    for stopped in (desk.down(s, p, wipe), prometheus.down(s, p, wipe)):
        if stopped is not None:
            services += (stopped,)
    return StackReport("down", services, time.monotonic() - started_at)


def _wipe(s: Settings, p: StackPaths) -> None:
    """Delete what the stack owns under stack_dir, and nothing else: CB_STACK_DIR could point
    somewhere shared by mistake, so no blanket rmtree of it."""
    # Institutions' and roles' credentials name users of the Kafka and Redis wiped.
    targets = [p.kafka_dir, p.redis_dir, p.root / "institutions", clients.credentials_dir(s)]
    if s.state_dir.is_relative_to(p.root) and s.state_dir != p.root:
        targets.append(s.state_dir)
    for target in targets:
        shutil.rmtree(target, ignore_errors=True)
        if target.exists():
            raise StackError(f"could not delete {target}; remove it by hand")


def status(settings: Settings) -> StackReport:
    """Report each service: running or not, pid, address, external or local. Changes nothing.

    A local service counts as running when its process is alive and really ours; an external
    one when it answers within a few seconds.
    """
    started_at = time.monotonic()
    s = settings
    p = paths(s)
    services = []
    for service in (KAFKA, REDIS):
        address = _address(service, s)
        if _external(service, s):
            try:
                _answers(service, s, STATUS_CHECK_TIMEOUT_S)
                reachable, action = True, "external, reachable"
            except StackError:
                reachable, action = False, "external, not reachable"
            services.append(ServiceStatus(service, address, True, reachable, None, action))
            continue
        pid, stale = _running(service, s, p) if p.root.exists() else (None, False)
        action = "running" if pid else ("not running (stale pid file)" if stale else "not running")
        services.append(
            ServiceStatus(
                service, address, False, pid is not None, pid, action, p.log_file(service)
            )
        )
    for extra in (prometheus.status(s, p), desk.status(s, p)):
        if extra is not None:
            services.append(extra)
    return StackReport("status", tuple(services), time.monotonic() - started_at)


__all__ = ["KAFKA", "PROMETHEUS", "REDIS", "ServiceStatus", "StackError", "StackReport",
           "down", "status", "up"]  # fmt: skip
