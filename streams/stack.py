"""The local stack: one Kafka broker and one Redis server on 127.0.0.1, started without Docker.

`chainbreaker stack up` must work on a fresh clone with nothing but Java 17, Maven and apt
available, so the stack is built from parts a Debian box already has or can fetch:

* Kafka runs from its jars, resolved once from Maven Central into ``CB_KAFKA_CACHE_DIR``
  (outside the repository, shared by every checkout) rather than from a downloaded tarball,
  because Maven Central is reachable where the Apache download mirrors may not be.
* Redis is Debian's ``redis-server``, installed with apt-get when it is missing.
* Prometheus (optional: ``stack up --with-prometheus`` or ``CB_PROMETHEUS=true``) is Debian's
  ``prometheus`` package, installed the same way, scraping the worker's ``CB_METRICS_PORT``
  with the alert rules of ``ops/prometheus/rules.yml``.

Both services run detached in their own session, so they outlive the shell or the pytest run
that started them; their pid files live under ``CB_STACK_DIR`` and are trusted only after
``/proc`` confirms the pid is really our process (a pid file left over from before a reboot may
name an unrelated process). Readiness is the real thing (Kafka answers metadata and lists the
broker, Redis answers PING), polled against a deadline, never a fixed sleep. Every failure is a
`StackError` whose message says what to do about it.

When ``CB_KAFKA_BOOTSTRAP`` or ``CB_REDIS_URL`` is set, that service is someone else's: the
stack starts nothing for it and only checks that it answers.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from config import settings as settings_module
from config.settings import ConfigError, Settings

log = logging.getLogger(__name__)

KAFKA = "kafka"
REDIS = "redis"
PROMETHEUS = "prometheus"

# Deadlines. Kafka's first start formats storage and warms a JVM on a 2-core box; Redis is
# ready in milliseconds unless it replays a large append-only file.
KAFKA_READY_TIMEOUT_S = 90.0
REDIS_READY_TIMEOUT_S = 20.0
EXTERNAL_CHECK_TIMEOUT_S = 15.0
STATUS_CHECK_TIMEOUT_S = 3.0
PROMETHEUS_READY_TIMEOUT_S = 30.0
PROMETHEUS_SCRAPE_INTERVAL = "5s"
STOP_TIMEOUT_S = {KAFKA: 30.0, REDIS: 15.0, PROMETHEUS: 15.0}
KILL_TIMEOUT_S = 5.0
LOG_TAIL_LINES = 30

# What Maven resolves next to kafka_2.13. Kafka 4.x declares slf4j-api 1.7.36, which cannot
# see an SLF4J 2 provider and silently falls back to the NOP logger (an empty broker log), so
# slf4j-api 2.x is pinned explicitly: a direct dependency wins Maven's version mediation, and
# SLF4J 2 still serves code compiled against the 1.7 API.
LOG4J_VERSION = "2.24.3"
SLF4J_VERSION = "2.0.16"
DEPENDENCY_PLUGIN_VERSION = "3.8.1"

JAVA_MIN_MAJOR = 17
JAVA_HELP = "Java 17 or newer is required for Kafka 4.x: apt-get install openjdk-17-jre-headless"
MVN_HELP = (
    "Maven (mvn) is required once, to fetch the Kafka {version} jars into {libs}: "
    "apt-get install maven (later runs reuse the jars and do not need Maven)"
)


class StackError(Exception):
    """The stack cannot be brought up, checked or stopped; the message says what to do."""


@dataclass(frozen=True)
class ServiceStatus:
    """One service as `up`, `down` or `status` left it.

    ``action`` is what this call did or found, in words for the report: "started",
    "already running", "stopped", "not running", "external, reachable", ...
    ``pid`` is None for external services and for services that are not running.
    """

    name: str
    address: str
    external: bool
    running: bool
    pid: int | None
    action: str
    log: Path | None = None


@dataclass(frozen=True)
class StackReport:
    """What one `up`, `down` or `status` call did, service by service."""

    command: str
    services: tuple[ServiceStatus, ...]
    elapsed_s: float

    def service(self, name: str) -> ServiceStatus:
        for svc in self.services:
            if svc.name == name:
                return svc
        raise KeyError(name)

    @property
    def kafka(self) -> ServiceStatus:
        return self.service(KAFKA)

    @property
    def redis(self) -> ServiceStatus:
        return self.service(REDIS)

    @property
    def all_running(self) -> bool:
        return all(svc.running for svc in self.services)

    def render(self) -> str:
        """A short human report, one line per service."""
        lines = []
        for svc in self.services:
            state = "running" if svc.running else "stopped"
            where = "external" if svc.external else "local"
            pid = f"pid {svc.pid}" if svc.pid else "-"
            lines.append(
                f"{svc.name:<10} {state:<8} {pid:<11} {where:<9} {svc.address}  ({svc.action})"
            )
            if svc.log is not None and svc.running and not svc.external:
                lines.append(f"{'':<10} log: {svc.log}")
            if svc.name == PROMETHEUS and svc.running:
                lines.append(f"{'':<10} graphs: {svc.address}/graph  alerts: {svc.address}/alerts")
        lines.append(f"{self.command} took {self.elapsed_s:.1f} s")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


# --------------------------------------------------------------------------- paths


@dataclass(frozen=True)
class _Paths:
    root: Path
    lock: Path
    kafka_dir: Path
    kafka_data: Path
    kafka_props: Path
    kafka_log4j: Path
    kafka_log: Path
    kafka_pid: Path
    cluster_id: Path
    redis_dir: Path
    redis_conf: Path
    redis_log: Path
    redis_pid: Path
    prometheus_dir: Path
    prometheus_config: Path
    prometheus_data: Path
    prometheus_log: Path
    prometheus_pid: Path


def _paths(s: Settings) -> _Paths:
    root = s.stack_dir
    kafka = root / "kafka"
    redis_dir = root / "redis"
    return _Paths(
        root=root,
        lock=root / ".stack.lock",
        kafka_dir=kafka,
        kafka_data=kafka / "data",
        kafka_props=kafka / "server.properties",
        kafka_log4j=kafka / "log4j2.xml",
        kafka_log=kafka / "kafka.log",
        kafka_pid=kafka / "kafka.pid",
        cluster_id=kafka / "cluster.id",
        redis_dir=redis_dir,
        redis_conf=redis_dir / "redis.conf",
        redis_log=redis_dir / "redis.log",
        redis_pid=redis_dir / "redis.pid",
        prometheus_dir=root / "prometheus",
        prometheus_config=root / "prometheus" / "prometheus.yml",
        prometheus_data=root / "prometheus" / "data",
        prometheus_log=root / "prometheus" / "prometheus.log",
        prometheus_pid=root / "prometheus" / "prometheus.pid",
    )


def _pid_file(service: str, p: _Paths) -> Path:
    return {KAFKA: p.kafka_pid, REDIS: p.redis_pid, PROMETHEUS: p.prometheus_pid}[service]


def _log_file(service: str, p: _Paths) -> Path:
    return {KAFKA: p.kafka_log, REDIS: p.redis_log, PROMETHEUS: p.prometheus_log}[service]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise stack changes: two `up` calls at once (parallel test workers) would otherwise
    both see no broker and start two."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- processes

# Children started by this interpreter, so they can be reaped: a dead child that nobody waits
# for stays a zombie and would look alive to a plain "does /proc/<pid> exist" check.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _reap(pid: int) -> None:
    """Collect the exit status of a child we started, if it has exited. Other pids are left
    alone: a zombie counts as dead anyway, and its status may belong to someone else's Popen."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        _CHILDREN.pop(pid, None)


def _proc_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    _reap(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the command name, which is in parentheses and may hold spaces.
    state = stat.rpartition(")")[2].split()[:1]
    return bool(state) and state[0] not in ("Z", "X")


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _is_ours(pid: int, service: str, p: _Paths) -> bool:
    """Whether pid is the service this stack directory started, not just any live process.

    Kafka is recognised by its main class and our server.properties path on the command line.
    Redis rewrites its own command line to "redis-server host:port", so it is recognised by
    that name plus its working directory, which its `dir` setting makes our redis directory.
    """
    if pid <= 0 or not _proc_alive(pid):
        return False
    argv = _cmdline(pid)
    if not argv:
        return False
    if service == KAFKA:
        return "kafka.Kafka" in argv and str(p.kafka_props) in argv
    if service == PROMETHEUS:
        return argv[0].endswith("prometheus") and f"--config.file={p.prometheus_config}" in argv
    if "redis-server" not in argv[0]:
        return False
    try:
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return False
    return cwd == p.redis_dir


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _listener_pid(port: int) -> int | None:
    """The pid listening on TCP port (any address), found through /proc; None if unknown."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{cols[9]}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        return int(proc.name)
        except OSError:
            continue
    return None


def _service_port(service: str, s: Settings) -> int:
    return {KAFKA: s.kafka_port, REDIS: s.redis_port, PROMETHEUS: s.prometheus_port}[service]


def _running_pid(service: str, s: Settings, p: _Paths) -> tuple[int | None, bool]:
    """(pid of our running service or None, whether a stale pid file was found).

    Falls back to whoever listens on the service port, so a deleted pid file does not make us
    start a second copy or report "port in use" about our own broker; that pid file is rewritten.
    """
    pid_file = _pid_file(service, p)
    pid = _read_pid(pid_file)
    if pid is not None and _is_ours(pid, service, p):
        return pid, False
    owner = _listener_pid(_service_port(service, s))
    if owner is not None and _is_ours(owner, service, p):
        pid_file.write_text(f"{owner}\n")
        return owner, False
    return None, pid is not None


def _port_free(port: int) -> bool:
    """Whether we could listen on 127.0.0.1:port. SO_REUSEADDR as the servers use it, so
    connections in TIME_WAIT do not count, while any listener on 127.0.0.1 or 0.0.0.0 does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_in_use_error(port: int, variable: str) -> StackError:
    owner = _listener_pid(port)
    who = ""
    if owner is not None:
        argv = " ".join(_cmdline(owner))
        who = f" (pid {owner}: {argv[:100]})" if argv else f" (pid {owner})"
    return StackError(
        f"port {port} ({variable}) is already in use by another process{who}; "
        f"stop it or set {variable} to a free port"
    )


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read()
    except OSError:
        return f"    ({path} does not exist)"
    text = data.decode(errors="replace").splitlines()[-lines:]
    if not text:
        return f"    ({path} is empty)"
    return "\n".join(f"    {line}" for line in text)


def _launch(argv: list[str], cwd: Path, log_path: Path, pid_path: Path) -> subprocess.Popen[bytes]:
    """Start a server detached from us (own session, no terminal, output to its log)."""
    with open(log_path, "ab") as out:
        child = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    _CHILDREN[child.pid] = child
    pid_path.write_text(f"{child.pid}\n")
    return child


def _stop_pid(pid: int, service: str, timeout: float) -> str:
    """SIGTERM, wait for a clean exit up to timeout, then SIGKILL. Returns what happened."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_gone(pid, timeout):
        return "stopped"
    log.warning("%s (pid %d) ignored SIGTERM for %.0f s; sending SIGKILL", service, pid, timeout)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if _wait_gone(pid, KILL_TIMEOUT_S):
        return f"killed after {timeout:.0f} s"
    raise StackError(f"{service} (pid {pid}) survived SIGKILL; check `ps -o stat {pid}`")


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _proc_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        # It may have died between our poll and the /proc read: collect its exit status.
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=1.0)
    return True


# --------------------------------------------------------------------------- readiness


def _split_bootstrap(bootstrap: str) -> list[tuple[str, int]]:
    hosts = []
    for part in bootstrap.split(","):
        host, _, port = part.strip().rpartition(":")
        hosts.append((host.strip("[]"), int(port)))
    return hosts


def _accepts(hosts: list[tuple[str, int]], timeout: float) -> bool:
    for host, port in hosts:
        try:
            with socket.create_connection((host, port), timeout=max(0.05, timeout)):
                return True
        except OSError:
            continue
    return False


def _quiet_logger() -> logging.Logger:
    """librdkafka logs every refused connection; while we poll a starting broker that is
    expected, and the last error ends up in our own message anyway."""
    quiet = logging.getLogger(f"{__name__}.rdkafka")
    if not quiet.handlers:
        quiet.addHandler(logging.NullHandler())
        quiet.propagate = False
    return quiet


def _await_kafka(
    bootstrap: str,
    timeout: float,
    *,
    broker_id: int | None = None,
    child: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
) -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    hosts = _split_bootstrap(bootstrap)
    deadline = time.monotonic() + timeout
    last = "nothing answered yet"
    admin = None
    while True:
        if child is not None and child.poll() is not None:
            raise StackError(
                f"Kafka exited during startup (exit code {child.returncode}); "
                f"last lines of {log_path}:\n{_tail(log_path) if log_path else ''}"
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            where = f"; last lines of {log_path}:\n{_tail(log_path)}" if log_path else ""
            raise StackError(
                f"Kafka at {bootstrap} did not answer metadata within {timeout:.0f} s "
                f"(last error: {last}){where}"
            )
        # A plain connect first: cheap, silent, and it keeps librdkafka from entering its
        # reconnect backoff before the broker has even opened its port.
        if not _accepts(hosts, min(1.0, remaining)):
            last = f"connection refused or timed out at {bootstrap}"
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
            continue
        if admin is None:
            admin = AdminClient(
                {
                    "bootstrap.servers": bootstrap,
                    "socket.connection.setup.timeout.ms": 3000,
                    "reconnect.backoff.max.ms": 500,
                    "logger": _quiet_logger(),
                }
            )
        try:
            metadata = admin.list_topics(timeout=max(0.5, min(5.0, remaining)))
        except KafkaException as exc:
            last = str(exc.args[0] if exc.args else exc)
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
            continue
        if metadata.brokers and (broker_id is None or broker_id in metadata.brokers):
            return
        last = f"metadata lists brokers {sorted(metadata.brokers)}"
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


def _await_redis(
    url: str,
    timeout: float,
    *,
    child: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
) -> None:
    import redis

    deadline = time.monotonic() + timeout
    last = "nothing answered yet"
    client = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=2.0)
    try:
        while True:
            if child is not None and child.poll() is not None:
                raise StackError(
                    f"redis-server exited during startup (exit code {child.returncode}); "
                    f"last lines of {log_path}:\n{_tail(log_path) if log_path else ''}"
                )
            if time.monotonic() >= deadline:
                where = f"; last lines of {log_path}:\n{_tail(log_path)}" if log_path else ""
                raise StackError(
                    f"Redis at {url} did not answer PING within {timeout:.0f} s "
                    f"(last error: {last}){where}"
                )
            try:
                if client.ping():
                    return
                last = "PING did not answer PONG"
            except (redis.exceptions.AuthenticationError, redis.exceptions.AuthorizationError):
                raise StackError(
                    f"Redis at {url} refused our credentials; put the right user:password "
                    f"in CB_REDIS_URL"
                ) from None
            except (redis.exceptions.RedisError, OSError) as exc:
                # Includes BusyLoadingError while an append-only file is replayed.
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    finally:
        client.close()


def wait_for_kafka(bootstrap: str, timeout: float = 30.0) -> None:
    """Block until the Kafka cluster at bootstrap answers a metadata request that lists at
    least one broker; raise StackError with the last error once timeout seconds have passed."""
    _await_kafka(bootstrap, timeout)


def wait_for_redis(url: str, timeout: float = 10.0) -> None:
    """Block until the Redis server at url answers PING; raise StackError after timeout s."""
    _await_redis(url, timeout)


# --------------------------------------------------------------------------- Kafka


def _java() -> str:
    """Path of a Java 17+ executable (JAVA_HOME first, then PATH)."""
    candidates = []
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidates.append(str(Path(java_home) / "bin" / "java"))
    found = shutil.which("java")
    if found:
        candidates.append(found)
    java = next((c for c in candidates if os.access(c, os.X_OK)), None)
    if java is None:
        raise StackError(f"java was not found on PATH. {JAVA_HELP}")
    try:
        probe = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"could not run {java} -version ({exc}). {JAVA_HELP}") from None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', probe.stderr + probe.stdout)
    if match is None:
        raise StackError(f"could not read the Java version from `{java} -version`. {JAVA_HELP}")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_392" style
        major = int(match.group(2))
    if major < JAVA_MIN_MAJOR:
        raise StackError(f"{java} is Java {major}. {JAVA_HELP}")
    return java


def _kafka_pom(version: str) -> str:
    deps = [
        ("org.apache.kafka", "kafka_2.13", version),
        ("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
        ("org.apache.logging.log4j", "log4j-slf4j2-impl", LOG4J_VERSION),
        ("org.slf4j", "slf4j-api", SLF4J_VERSION),
    ]
    dep_xml = "\n".join(
        f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>"
        for g, a, v in deps
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by chainbreaker's streams/stack.py: the runtime jars of a Kafka broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.chainbreaker</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
{dep_xml}
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>{DEPENDENCY_PLUGIN_VERSION}</version>
      </plugin>
    </plugins>
  </build>
</project>
"""


def _kafka_major(version: str) -> int:
    head = version.split(".", 1)[0]
    if not head.isdigit():
        raise StackError(f"CB_KAFKA_VERSION must look like 4.1.1, got {version!r}")
    return int(head)


def _libs_complete(libs: Path, marker: Path, recipe: str) -> bool:
    try:
        data = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    jars = data.get("jars") or []
    return data.get("recipe") == recipe and all((libs / jar).is_file() for jar in jars)


def _kafka_libs(s: Settings) -> Path:
    """The directory of Kafka runtime jars, fetched with Maven on first use only.

    The jars land in a staging directory that is renamed into place, and a marker (the jar
    list plus a hash of the pom) is written last, so an interrupted download is redone rather
    than trusted; a changed recipe (another log4j pin, say) is fetched again.
    """
    version = s.kafka_version
    if _kafka_major(version) < 4:
        raise StackError(
            f"CB_KAFKA_VERSION={version}: the local stack runs Kafka 4.x (KRaft, log4j2); "
            "use 4.0.0 or newer"
        )
    home = s.kafka_cache_dir / f"kafka-{version}"
    libs = home / "libs"
    marker = home / "libs.complete"
    pom = _kafka_pom(version)
    recipe = hashlib.sha256(pom.encode()).hexdigest()
    if _libs_complete(libs, marker, recipe):
        return libs
    with _locked(home / ".lock"):
        if _libs_complete(libs, marker, recipe):
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise StackError(MVN_HELP.format(version=version, libs=libs))
        (home / "pom.xml").write_text(pom)
        staging = home / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        log.info("fetching Kafka %s jars with Maven into %s (first run only)", version, libs)
        argv = [
            mvn,
            "-q",
            "-B",
            "-Dstyle.color=never",
            "-f",
            str(home / "pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ]
        try:
            run = subprocess.run(
                argv, capture_output=True, text=True, timeout=1800, check=False, cwd=home
            )
        except subprocess.TimeoutExpired:
            raise StackError(
                f"mvn did not finish fetching Kafka {version} within 30 minutes; "
                "check access to Maven Central (https://repo.maven.apache.org)"
            ) from None
        output = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout + run.stderr).strip()
        if run.returncode != 0:
            tail = "\n".join(f"    {line}" for line in output.splitlines()[-LOG_TAIL_LINES:])
            raise StackError(
                f"mvn could not fetch the Kafka {version} jars (exit {run.returncode}); check "
                f"access to Maven Central and that CB_KAFKA_VERSION={version} exists:\n{tail}"
            )
        jars = sorted(path.name for path in staging.glob("*.jar"))
        if f"kafka_2.13-{version}.jar" not in jars:
            raise StackError(f"mvn finished but {staging} holds no kafka_2.13-{version}.jar")
        slf4j = [jar for jar in jars if jar.startswith("slf4j-api-")]
        if slf4j != [f"slf4j-api-{SLF4J_VERSION}.jar"]:
            raise StackError(
                f"expected slf4j-api {SLF4J_VERSION} among the Kafka jars, got {slf4j}"
            )
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
        marker.write_text(json.dumps({"recipe": recipe, "version": version, "jars": jars}))
    return libs


def _kafka_properties(s: Settings, p: _Paths) -> dict[str, str]:
    """server.properties of a single combined broker+controller sized for a small dev box."""
    plain = f"127.0.0.1:{s.kafka_port}"
    controller = f"127.0.0.1:{s.kafka_controller_port}"
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "listeners": f"PLAINTEXT://{plain},CONTROLLER://{controller}",
        "advertised.listeners": f"PLAINTEXT://{plain},CONTROLLER://{controller}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "controller.quorum.bootstrap.servers": controller,
        "log.dirs": str(p.kafka_data),
        # One node: every internal topic must make do with one replica.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        # Fewer internal partitions than the production default of 50: the first consumer
        # group and the first transaction each create them, and 50 is slow on 2 cores.
        "offsets.topic.num.partitions": "8",
        "transaction.state.log.num.partitions": "8",
        "num.partitions": str(s.partitions),
        # Tests and the worker create their topics explicitly; a typo must not create one.
        "auto.create.topics.enable": "false",
        # A lone consumer joins at once instead of waiting 3 s for more members.
        "group.initial.rebalance.delay.ms": "0",
        # Threads and buffers for 2 cores and a 512 MB heap.
        "num.network.threads": "2",
        "num.io.threads": "4",
        "background.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
        "num.replica.fetchers": "1",
        "log.cleaner.threads": "1",
        "log.cleaner.dedupe.buffer.size": str(32 * 1024 * 1024),
        # broker.session.timeout.ms stays at its 9 s default although a restart after a crash
        # (not after `down`) waits that long for the old registration to be fenced: a shorter
        # session would let a GC pause on a busy 2-core box fence the only broker.
    }


# Keys whose change means a running broker no longer matches the settings.
_KAFKA_IDENTITY_KEYS = ("listeners", "controller.quorum.bootstrap.servers", "log.dirs")


def _render_properties(props: dict[str, str]) -> str:
    header = "# Generated by chainbreaker's streams/stack.py on every start; edits are lost."
    body = "\n".join(f"{key}={value}" for key, value in props.items())
    return f"{header}\n{body}\n"


def _parse_properties(text: str) -> dict[str, str]:
    props = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            props[key.strip()] = value.strip()
    return props


_LOG4J2_XML = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by chainbreaker's streams/stack.py. Everything goes to stdout, which the stack
     sends to kafka.log next to this file, so JVM errors and broker logs share one file.
     shutdownHook is off so the broker's own shutdown messages still get logged. -->
<Configuration status="WARN" shutdownHook="disable">
  <Appenders>
    <Console name="stdout" target="SYSTEM_OUT">
      <PatternLayout pattern="[%d{yyyy-MM-dd HH:mm:ss,SSS}] %-5p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="INFO">
      <AppenderRef ref="stdout"/>
    </Root>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="kafka.network.RequestChannel$" level="WARN"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Logger name="kafka.authorizer.logger" level="WARN"/>
    <Logger name="org.apache.kafka.common.config.AbstractConfig" level="WARN"/>
    <!-- Several INFO lines per partition on every topic created or deleted by tests. -->
    <Logger name="kafka.cluster.Partition" level="WARN"/>
    <Logger name="kafka.log.LogManager" level="WARN"/>
    <Logger name="org.apache.kafka.storage.internals.log" level="WARN"/>
    <Logger name="org.apache.kafka.controller.PartitionChangeBuilder" level="WARN"/>
  </Loggers>
</Configuration>
"""


def _jvm_flags(s: Settings, p: _Paths) -> list[str]:
    return [
        f"-Xmx{s.kafka_heap}",
        f"-Xms{s.kafka_heap}",
        # Kafka's own defaults from kafka-server-start.sh / kafka-run-class.sh.
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent",
        "-XX:MaxInlineLevel=15",
        # Die loudly rather than limp on after an OutOfMemoryError with a half-working broker.
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={p.kafka_log4j}",
        f"-Dkafka.logs.dir={p.kafka_dir}",
    ]


def _classpath(libs: Path) -> str:
    return f"{libs}/*"


def _new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (like
    `kafka-storage random-uuid`, which also avoids a leading '-' that looks like an option)."""
    while True:
        cid = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def _format_kafka(java: str, libs: Path, s: Settings, p: _Paths) -> bool:
    """Format storage on the first start only; True if it formatted."""
    if (p.kafka_data / "meta.properties").is_file():
        return False
    # No meta.properties: nothing usable is there (an interrupted format at most).
    shutil.rmtree(p.kafka_data, ignore_errors=True)
    cluster_id = p.cluster_id.read_text().strip() if p.cluster_id.is_file() else ""
    if not cluster_id:
        cluster_id = _new_cluster_id()
        p.cluster_id.write_text(f"{cluster_id}\n")
    argv = [
        java,
        "-Xmx256m",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={p.kafka_log4j}",
        "-cp",
        _classpath(libs),
        "kafka.tools.StorageTool",
        "format",
        "--standalone",
        "-t",
        cluster_id,
        "-c",
        str(p.kafka_props),
    ]
    try:
        run = subprocess.run(
            argv, capture_output=True, text=True, timeout=120, check=False, cwd=p.kafka_dir
        )
    except subprocess.TimeoutExpired:
        raise StackError("kafka StorageTool format did not finish within 120 s") from None
    output = (run.stdout + run.stderr).strip()
    with open(p.kafka_log, "a") as handle:
        handle.write(f"$ {' '.join(argv)}\n{output}\n")
    if run.returncode != 0:
        tail = "\n".join(f"    {line}" for line in output.splitlines()[-LOG_TAIL_LINES:])
        raise StackError(
            f"formatting Kafka storage in {p.kafka_data} failed (exit {run.returncode}):\n{tail}"
        )
    return True


def _rotate(log_path: Path) -> None:
    """Keep one previous log, so the tail we show on failure belongs to this start."""
    if log_path.exists():
        log_path.replace(log_path.with_name(log_path.name + ".1"))


def _start_kafka(
    s: Settings, p: _Paths, java: str, libs: Path
) -> tuple[subprocess.Popen[bytes], bool]:
    p.kafka_dir.mkdir(parents=True, exist_ok=True)
    p.kafka_props.write_text(_render_properties(_kafka_properties(s, p)))
    p.kafka_log4j.write_text(_LOG4J2_XML)
    _rotate(p.kafka_log)
    formatted = _format_kafka(java, libs, s, p)
    argv = [java, *_jvm_flags(s, p), "-cp", _classpath(libs), "kafka.Kafka", str(p.kafka_props)]
    return _launch(argv, p.kafka_dir, p.kafka_log, p.kafka_pid), formatted


# --------------------------------------------------------------------------- Redis


def _redis_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _redis_config(s: Settings, p: _Paths) -> str:
    return "\n".join(
        [
            "# Generated by chainbreaker's streams/stack.py on every start; edits are lost.",
            "bind 127.0.0.1",
            "protected-mode yes",
            f"port {s.redis_port}",
            "daemonize no",
            "supervised no",
            f"pidfile {_redis_quote(str(p.redis_pid))}",
            f"logfile {_redis_quote(str(p.redis_log))}",
            "loglevel notice",
            f"dir {_redis_quote(str(p.redis_dir))}",
            # The case queues are Redis Streams; an alert must survive a restart.
            "appendonly yes",
            "appendfsync everysec",
            # The append-only file is the durable copy; periodic RDB snapshots would only add
            # fork() pauses on a small box.
            'save ""',
            "always-show-logo no",
            "",
        ]
    )


def _apt_prefix(
    package: str = "redis-server", otherwise: str = "set CB_REDIS_URL to a running Redis"
) -> list[str]:
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") is None:
        raise StackError(
            f"{package} is not installed and installing it needs root: run "
            f"`apt-get install -y {package}` as root, or {otherwise}"
        )
    # Never hang on a password prompt nobody can see (CI, pytest): -n fails instead.
    return ["sudo"] if sys.stdin is not None and sys.stdin.isatty() else ["sudo", "-n"]


def _which(binary: str) -> str | None:
    path = f"/usr/bin/{binary}"
    return shutil.which(binary) or (path if os.access(path, os.X_OK) else None)


def _apt_install(package: str, binary: str, otherwise: str, missing_hint: str) -> str:
    """Path of binary, installing Debian's package with apt-get when it is missing."""
    found = _which(binary)
    if found:
        return found
    if shutil.which("apt-get") is None:
        raise StackError(
            f"{binary} is not installed and apt-get is not available: install {missing_hint} "
            f"with your package manager, or {otherwise}"
        )
    prefix = _apt_prefix(package, otherwise)
    if prefix:  # sudo resets the environment; hand the variable through explicitly
        prefix = [*prefix, "env", "DEBIAN_FRONTEND=noninteractive"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*prefix, "apt-get", "install", "-y", "--no-install-recommends", package]

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                argv, capture_output=True, text=True, env=env, timeout=900, check=False
            )
        except subprocess.TimeoutExpired:
            raise StackError(f"`{' '.join(argv)}` did not finish within 15 minutes") from None

    log.info("%s not found; installing %s with apt-get", binary, package)
    result = run(install)
    if result.returncode != 0:
        # A fresh image has no package lists, so apt cannot find the package at all.
        log.info("apt-get install failed; running apt-get update and retrying")
        update = run([*prefix, "apt-get", "update"])
        result = run(install) if update.returncode == 0 else update
    if result.returncode != 0:
        tail = "\n".join(
            f"    {line}" for line in (result.stdout + result.stderr).splitlines()[-15:]
        )
        raise StackError(
            f"could not install {package} with apt-get (exit {result.returncode}); install "
            f"it yourself (`apt-get install -y {package}`) or {otherwise}:\n{tail}"
        )
    found = _which(binary)
    if found is None:
        raise StackError(f"apt-get installed {package} but {binary} is not on PATH (/usr/bin)")
    return found


def _redis_server() -> str:
    """Path of redis-server, installing Debian's package when it is missing."""
    return _apt_install(
        "redis-server",
        "redis-server",
        "set CB_REDIS_URL to a running Redis",
        "Redis 7 (redis-server)",
    )


def _start_redis(s: Settings, p: _Paths, binary: str) -> subprocess.Popen[bytes]:
    p.redis_dir.mkdir(parents=True, exist_ok=True)
    p.redis_conf.write_text(_redis_config(s, p))
    _rotate(p.redis_log)
    return _launch([binary, str(p.redis_conf)], p.redis_dir, p.redis_log, p.redis_pid)


# --------------------------------------------------------------------------- Prometheus

RULES_FILE = settings_module.PROJECT_ROOT / "ops" / "prometheus" / "rules.yml"


def prometheus_binaries() -> tuple[str, str]:
    """(prometheus, promtool), installing Debian's ``prometheus`` package when missing.

    Debian's maintainer script tries to start its own service on :9090. There is no init
    system to do that in a container or CI, and where there is one (policy-rc.d allowing it)
    a listener on 9090 that only appeared during our install is stopped again: our instance
    runs from CB_STACK_DIR with its own configuration and port.
    """
    if _which("prometheus") and _which("promtool"):
        return _which("prometheus"), _which("promtool")  # type: ignore[return-value]
    before = _listener_pid(9090)
    hint = "Prometheus 2.x (prometheus, promtool)"
    binary = _apt_install("prometheus", "prometheus", "start Prometheus yourself", hint)
    after = _listener_pid(9090)
    if after is not None and after != before and _cmdline(after)[:1] == [binary]:
        log.info("stopping the Prometheus service the Debian package started (pid %d)", after)
        with contextlib.suppress(StackError):
            _stop_pid(after, PROMETHEUS, STOP_TIMEOUT_S[PROMETHEUS])
    promtool = _which("promtool")
    if promtool is None:
        raise StackError("apt-get installed prometheus but promtool is not on PATH (/usr/bin)")
    return binary, promtool


def prometheus_config(
    s: Settings, *, interval: str = PROMETHEUS_SCRAPE_INTERVAL, rules: Path = RULES_FILE
) -> str:
    """prometheus.yml scraping the worker (or standalone router) on CB_METRICS_PORT."""
    return "\n".join(
        [
            "# Generated by chainbreaker's streams/stack.py on every start; edits are lost.",
            "global:",
            f"  scrape_interval: {interval}",
            f"  evaluation_interval: {interval}",
            "rule_files:",
            f"  - {json.dumps(str(rules))}",
            "scrape_configs:",
            "  - job_name: chainbreaker-worker",
            "    static_configs:",
            f'      - targets: ["127.0.0.1:{s.metrics_port}"]',
            "",
        ]
    )


def prometheus_argv(binary: str, config: Path, data: Path, port: int) -> list[str]:
    return [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=7d",
        "--web.enable-lifecycle",
    ]


def prometheus_url(s: Settings) -> str:
    return f"http://127.0.0.1:{s.prometheus_port}"


def _await_prometheus(
    url: str, timeout: float, child: subprocess.Popen[bytes] | None, log_path: Path
) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    last = "nothing answered yet"
    while True:
        if child is not None and child.poll() is not None:
            raise StackError(
                f"Prometheus exited during startup (exit code {child.returncode}); "
                f"last lines of {log_path}:\n{_tail(log_path)}"
            )
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as resp:
                if resp.status == 200:
                    return
                last = f"HTTP {resp.status}"
        except OSError as exc:
            last = str(exc)
        if time.monotonic() >= deadline:
            raise StackError(
                f"Prometheus at {url} was not ready within {timeout:.0f} s (last error: "
                f"{last}); last lines of {log_path}:\n{_tail(log_path)}"
            )
        time.sleep(0.1)


def _up_prometheus(s: Settings, p: _Paths) -> ServiceStatus:
    """Start (or keep) our Prometheus; a changed scrape configuration is reloaded in place."""
    config = prometheus_config(s)
    pid, _stale = _running_pid(PROMETHEUS, s, p)
    if pid is not None:
        if f"--web.listen-address=127.0.0.1:{s.prometheus_port}" not in _cmdline(pid):
            raise StackError(
                f"Prometheus (pid {pid}) is running on another port than {s.prometheus_port} "
                "(CB_PROMETHEUS_PORT); run `chainbreaker stack down` and then `up` again"
            )
        action = "already running"
        if p.prometheus_config.read_text() != config:
            p.prometheus_config.write_text(config)
            os.kill(pid, signal.SIGHUP)  # Prometheus reloads its configuration on SIGHUP
            action = "already running, configuration reloaded"
        _await_prometheus(prometheus_url(s), PROMETHEUS_READY_TIMEOUT_S, None, p.prometheus_log)
        return ServiceStatus(
            PROMETHEUS, prometheus_url(s), False, True, pid, action, p.prometheus_log
        )
    if not _port_free(s.prometheus_port):
        raise _port_in_use_error(s.prometheus_port, "CB_PROMETHEUS_PORT")
    binary, _promtool = prometheus_binaries()
    p.prometheus_dir.mkdir(parents=True, exist_ok=True)
    p.prometheus_config.write_text(config)
    _rotate(p.prometheus_log)
    argv = prometheus_argv(binary, p.prometheus_config, p.prometheus_data, s.prometheus_port)
    child = _launch(argv, p.prometheus_dir, p.prometheus_log, p.prometheus_pid)
    try:
        _await_prometheus(prometheus_url(s), PROMETHEUS_READY_TIMEOUT_S, child, p.prometheus_log)
    except BaseException:
        if child.poll() is None:
            with contextlib.suppress(StackError):
                _stop_pid(child.pid, PROMETHEUS, 10.0)
        p.prometheus_pid.unlink(missing_ok=True)
        raise
    return ServiceStatus(
        PROMETHEUS, prometheus_url(s), False, True, child.pid, "started", p.prometheus_log
    )


# --------------------------------------------------------------------------- drift


def _check_drift(service: str, pid: int, s: Settings, p: _Paths) -> None:
    """Refuse to call a running service "ready" when it listens somewhere else than the
    settings say (a port changed since `up`): clients would connect to nothing."""
    if service == KAFKA:
        try:
            running = _parse_properties(p.kafka_props.read_text())
        except OSError:
            return
        wanted = _kafka_properties(s, p)
        changed = [k for k in _KAFKA_IDENTITY_KEYS if running.get(k) != wanted[k]]
        if changed:
            raise StackError(
                f"Kafka (pid {pid}) is running with other settings ({', '.join(changed)}: "
                f"{running.get(changed[0])} instead of {wanted[changed[0]]}); run "
                "`chainbreaker stack down` and then `up` again"
            )
    else:
        # Redis sets its process title to "<binary> <bind>:<port>".
        title = " ".join(_cmdline(pid))
        if "redis-server" in title and not title.endswith(f":{s.redis_port}"):
            raise StackError(
                f"Redis (pid {pid}) is running as {title!r}, not on port {s.redis_port} "
                "(CB_REDIS_PORT); run `chainbreaker stack down` and then `up` again"
            )


# --------------------------------------------------------------------------- public API


def _address(service: str, s: Settings) -> str:
    return s.kafka_bootstrap if service == KAFKA else s.redis_url


def _external(service: str, s: Settings) -> bool:
    return s.kafka_external if service == KAFKA else s.redis_external


def _check_external(service: str, s: Settings, timeout: float) -> None:
    variable = "CB_KAFKA_BOOTSTRAP" if service == KAFKA else "CB_REDIS_URL"
    try:
        if service == KAFKA:
            _await_kafka(s.kafka_bootstrap, timeout)
        else:
            _await_redis(s.redis_url, timeout)
    except StackError as exc:
        raise StackError(
            f"{exc}. {variable} points at an external {service} that does not answer; start "
            f"it, fix {variable}, or unset it to use the local stack"
        ) from None


def up(
    settings: Settings,
    *,
    kafka_timeout: float = KAFKA_READY_TIMEOUT_S,
    redis_timeout: float = REDIS_READY_TIMEOUT_S,
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
    p = _paths(s)
    local = [svc for svc in (KAFKA, REDIS) if not _external(svc, s)]
    results: dict[str, ServiceStatus] = {}
    for service in (KAFKA, REDIS):
        if _external(service, s):
            _check_external(service, s, EXTERNAL_CHECK_TIMEOUT_S)
            results[service] = ServiceStatus(
                service, _address(service, s), True, True, None, "external, reachable"
            )
    if local:
        with _locked(p.lock):
            results.update(_up_local(s, p, local, kafka_timeout, redis_timeout))
            if REDIS in local and s.institutions:
                _grant_institutions(s)
    services = tuple(results[svc] for svc in (KAFKA, REDIS))
    if s.prometheus if with_prometheus is None else with_prometheus:
        with _locked(p.lock):
            services += (_up_prometheus(s, p),)
    return StackReport("up", services, time.monotonic() - started_at)


def _grant_institutions(s: Settings) -> None:
    """Give each CB_INSTITUTIONS institution its Redis ACL user (institutions/acl.py).

    Runtime ACL users do not survive a Redis restart (the stack runs without an aclfile), so
    every `up` re-applies them from the stored credentials, passwords unchanged. Only for the
    Redis we run: an external Redis's users are its operator's (`chainbreaker cases grant`).
    """
    import redis

    from institutions import acl, credentials

    try:
        grants = acl.grant_all(s)
    except redis.RedisError as exc:
        raise StackError(
            f"Redis is up but granting the institutions' ACL users failed ({exc}); "
            "check CB_INSTITUTIONS or set it to none"
        ) from None
    where = credentials.credentials_path(s, "x").parent
    log.info(
        "institutions: ACL users for %s (credentials in %s)",
        ", ".join(g.institution for g in grants),
        where,
    )


def _up_local(
    s: Settings, p: _Paths, local: list[str], kafka_timeout: float, redis_timeout: float
) -> dict[str, ServiceStatus]:
    running: dict[str, int] = {}
    for service in local:
        pid, _stale = _running_pid(service, s, p)
        if pid is not None:
            _check_drift(service, pid, s, p)
            running[service] = pid
    to_start = [svc for svc in local if svc not in running]

    # Every port we are about to bind, checked before anything starts.
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
        if not _port_free(port):
            raise _port_in_use_error(port, variable)

    # Prerequisites, before any process starts.
    java: str | None = None
    libs: Path | None = None
    redis_binary: str | None = None
    if KAFKA in to_start:
        java = _java()
        libs = _kafka_libs(s)
    if REDIS in to_start:
        redis_binary = _redis_server()

    results: dict[str, ServiceStatus] = {}
    children: dict[str, subprocess.Popen[bytes]] = {}
    formatted = False
    try:
        # Redis first: it is up in milliseconds, while the JVM warms up.
        if redis_binary is not None:
            children[REDIS] = _start_redis(s, p, redis_binary)
        if java is not None and libs is not None:
            children[KAFKA], formatted = _start_kafka(s, p, java, libs)
        if REDIS in local:
            _await_redis(
                s.redis_url, redis_timeout, child=children.get(REDIS), log_path=p.redis_log
            )
        if KAFKA in local:
            _await_kafka(
                s.kafka_bootstrap,
                kafka_timeout,
                broker_id=1,
                child=children.get(KAFKA),
                log_path=p.kafka_log,
            )
    except BaseException:
        for service, child in children.items():
            if child.poll() is None:
                with contextlib.suppress(StackError):
                    _stop_pid(child.pid, service, 10.0)
            _pid_file(service, p).unlink(missing_ok=True)
        raise

    for service in local:
        if service in running:
            pid, action = running[service], "already running"
        else:
            pid = children[service].pid
            action = "started, storage formatted" if service == KAFKA and formatted else "started"
        results[service] = ServiceStatus(
            service, _address(service, s), False, True, pid, action, _log_file(service, p)
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
    p = _paths(s)
    results: dict[str, ServiceStatus] = {}
    for service in (KAFKA, REDIS):
        if _external(service, s):
            results[service] = ServiceStatus(
                service, _address(service, s), True, False, None, "external, left alone"
            )
    local = [svc for svc in (KAFKA, REDIS) if not _external(svc, s)]
    if local and (p.root.exists() or wipe):
        with _locked(p.lock):
            pids = {svc: _running_pid(svc, s, p)[0] for svc in local}
            for pid in pids.values():
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
            for service, pid in pids.items():
                action = "not running"
                if pid is not None:
                    action = _stop_pid(pid, service, STOP_TIMEOUT_S[service])
                _pid_file(service, p).unlink(missing_ok=True)
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
    prometheus = _down_prometheus(s, p, wipe)
    if prometheus is not None:
        services += (prometheus,)
    return StackReport("down", services, time.monotonic() - started_at)


def _down_prometheus(s: Settings, p: _Paths, wipe: bool) -> ServiceStatus | None:
    """Stop our Prometheus if it runs; None when there was none to report on."""
    if not p.prometheus_dir.exists():
        return None
    pid, _stale = _running_pid(PROMETHEUS, s, p)
    action = "not running"
    if pid is not None:
        action = _stop_pid(pid, PROMETHEUS, STOP_TIMEOUT_S[PROMETHEUS])
    p.prometheus_pid.unlink(missing_ok=True)
    if wipe:
        shutil.rmtree(p.prometheus_dir, ignore_errors=True)
        action += ", data wiped"
        with contextlib.suppress(OSError):
            p.root.rmdir()
    if pid is None and not wipe and not s.prometheus:
        return None
    return ServiceStatus(PROMETHEUS, prometheus_url(s), False, False, None, action)


def _wipe(s: Settings, p: _Paths) -> None:
    """Delete what the stack owns under stack_dir, and nothing else: CB_STACK_DIR could point
    somewhere shared by mistake, so no blanket rmtree of it."""
    # Institutions' credentials (institutions/credentials.py) name users of the Redis being wiped.
    targets = [p.kafka_dir, p.redis_dir, p.root / "institutions"]
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
    p = _paths(s)
    services = []
    for service in (KAFKA, REDIS):
        address = _address(service, s)
        if _external(service, s):
            try:
                if service == KAFKA:
                    _await_kafka(address, STATUS_CHECK_TIMEOUT_S)
                else:
                    _await_redis(address, STATUS_CHECK_TIMEOUT_S)
                reachable, action = True, "external, reachable"
            except StackError:
                reachable, action = False, "external, not reachable"
            services.append(ServiceStatus(service, address, True, reachable, None, action))
            continue
        pid, stale = _running_pid(service, s, p) if p.root.exists() else (None, False)
        action = "running" if pid else ("not running (stale pid file)" if stale else "not running")
        services.append(
            ServiceStatus(
                service, address, False, pid is not None, pid, action, _log_file(service, p)
            )
        )
    pid = None
    if p.prometheus_dir.exists():
        pid, _stale = _running_pid(PROMETHEUS, s, p)
    if pid is not None or s.prometheus:
        services.append(
            ServiceStatus(
                PROMETHEUS,
                prometheus_url(s),
                False,
                pid is not None,
                pid,
                "running" if pid else "not running",
                p.prometheus_log,
            )
        )
    return StackReport("status", tuple(services), time.monotonic() - started_at)


def main(argv: list[str] | None = None) -> int:
    """`chainbreaker stack up|down|status [--wipe]`.

    Exit code 0 on success (for status: everything running), 1 otherwise; failures print
    the StackError message, not a traceback.
    """
    parser = argparse.ArgumentParser(
        prog="chainbreaker stack",
        description="Run the local Kafka broker and Redis server on 127.0.0.1.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="start Kafka and Redis (no-op if they already run)")
    start.add_argument(
        "--with-prometheus",
        action="store_true",
        help="also start Prometheus (Debian package) scraping the worker; or CB_PROMETHEUS=true",
    )
    stop = commands.add_parser("down", help="stop them; data is kept")
    stop.add_argument(
        "--wipe", action="store_true", help="also delete the Kafka, Redis and worker data"
    )
    commands.add_parser("status", help="show what runs where (exit 1 if anything is down)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    try:
        s = settings_module.load()
        if args.command == "up":
            report = up(s, with_prometheus=args.with_prometheus or s.prometheus)
        elif args.command == "down":
            report = down(s, wipe=args.wipe)
        else:
            report = status(s)
    except (StackError, ConfigError) as exc:
        print(f"chainbreaker stack {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"chainbreaker stack {args.command}: interrupted", file=sys.stderr)
        return 1
    print(report.render())
    if args.command == "status" and not report.all_running:
        return 1
    return 0


__all__ = [
    "ServiceStatus",
    "StackError",
    "StackReport",
    "down",
    "main",
    "prometheus_binaries",
    "prometheus_config",
    "prometheus_url",
    "status",
    "up",
    "wait_for_kafka",
    "wait_for_redis",
]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
