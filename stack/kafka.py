"""Kafka for the local stack: one KRaft broker+controller on 127.0.0.1, run from its jars.

Kafka runs from its jars, resolved once from Maven Central into ``CB_KAFKA_CACHE_DIR``
(outside the repository, shared by every checkout) rather than from a downloaded tarball,
because Maven Central is reachable where the Apache download mirrors may not be. Java 17+ and
Maven come from the Debian/Ubuntu archive when missing (stack/packages.py); Maven is needed
once, to fetch the jars.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

from access.secrets import env_file, new_password, write_secret
from config import clients
from config.settings import Settings
from stack import packages
from stack.paths import StackPaths
from stack.process import (
    LOG_TAIL_LINES,
    StackError,
    await_ready,
    launch,
    live_cmdline,
    locked,
    rotate,
    running_pid,
)

log = logging.getLogger(__name__)

# Kafka's first start formats storage and warms a JVM on a 2-core box.
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0

# What Maven resolves next to kafka_2.13. Kafka 4.x declares slf4j-api 1.7.36, which cannot
# see an SLF4J 2 provider and silently falls back to the NOP logger (an empty broker log), so
# slf4j-api 2.x is pinned explicitly: a direct dependency wins Maven's version mediation, and
# SLF4J 2 still serves code compiled against the 1.7 API.
LOG4J_VERSION = "2.24.3"
SLF4J_VERSION = "2.0.16"
DEPENDENCY_PLUGIN_VERSION = "3.8.1"

JAVA_MIN_MAJOR = packages.JAVA_MIN_MAJOR
JAVA_HELP = (
    f"Java {JAVA_MIN_MAJOR} or newer is required for Kafka 4.x "
    f"(on Debian/Ubuntu: apt-get install {packages.JAVA_PACKAGES[0]})"
)
NO_KAFKA = "set CB_KAFKA_BOOTSTRAP to a running Kafka"


# --------------------------------------------------------------------------- Java and Maven


def java_version(java: str) -> int | None:
    """The major version `java -version` reports (1.8 style counts as 8); None if unreadable."""
    try:
        probe = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', probe.stderr + probe.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_392" style
        major = int(match.group(2))
    return major


def java_candidates() -> list[str]:
    """Java executables to try, in order: JAVA_HOME, PATH, then Debian's /usr/lib/jvm."""
    found = []
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        found.append(str(Path(java_home) / "bin" / "java"))
    on_path = shutil.which("java")
    if on_path:
        found.append(on_path)
    found += sorted(str(p) for p in Path("/usr/lib/jvm").glob("*/bin/java"))
    return [c for c in dict.fromkeys(found) if os.access(c, os.X_OK)]


def find_java(
    candidates: list[str], version_of: Callable[[str], int | None]
) -> tuple[str | None, list[str]]:
    """(the first candidate running Java 17+, or None; what the others are, for the error)."""
    seen = []
    for java in candidates:
        major = version_of(java)
        if major is not None and major >= JAVA_MIN_MAJOR:
            return java, seen
        seen.append(f"{java} is Java {major}" if major else f"{java} -version is unreadable")
    return None, seen


def java() -> str:
    """Path of a Java 17+ executable, installing a runtime with apt-get when there is none."""
    found, seen = find_java(java_candidates(), java_version)
    if found:
        return found
    log.info("no Java %d+ found (%s)", JAVA_MIN_MAJOR, "; ".join(seen) or "no java at all")
    packages.install_java(NO_KAFKA)
    found, seen = find_java(java_candidates(), java_version)
    if found is None:
        raise StackError(f"{JAVA_HELP}; found {'; '.join(seen) or 'none'}")
    return found


def maven(version: str, libs: Path) -> str:
    """Path of mvn, installing Debian's maven when it is missing (needed once per version)."""
    return packages.ensure_binary(
        "maven",
        "mvn",
        f"fetch the Kafka {version} jars into {libs} yourself, or {NO_KAFKA}",
        "Maven (mvn), needed once to fetch the Kafka jars",
    )


# --------------------------------------------------------------------------- jars


# The pom's text is the cache key of the jars in CB_KAFKA_CACHE_DIR, which every checkout on
# the machine shares (libs_complete compares its hash): any change to it, its comment included
# (which still names the module it was first written in), makes every checkout fetch the
# jars again and replace them under brokers running from them. Change it only with the jars.
def kafka_pom(version: str) -> str:
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


def kafka_major(version: str) -> int:
    head = version.split(".", 1)[0]
    if not head.isdigit():
        raise StackError(f"CB_KAFKA_VERSION must look like 4.1.1, got {version!r}")
    return int(head)


def libs_complete(libs: Path, marker: Path, recipe: str) -> bool:
    try:
        data = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    jars = data.get("jars") or []
    return data.get("recipe") == recipe and all((libs / jar).is_file() for jar in jars)


def kafka_libs(s: Settings) -> Path:
    """The directory of Kafka runtime jars, fetched with Maven on first use only.

    The jars land in a staging directory that is renamed into place, and a marker (the jar
    list plus a hash of the pom) is written last, so an interrupted download is redone rather
    than trusted; a changed recipe (another log4j pin, say) is fetched again.
    """
    version = s.kafka_version
    if kafka_major(version) < 4:
        raise StackError(
            f"CB_KAFKA_VERSION={version}: the local stack runs Kafka 4.x (KRaft, log4j2); "
            "use 4.0.0 or newer"
        )
    home = s.kafka_cache_dir / f"kafka-{version}"
    libs = home / "libs"
    marker = home / "libs.complete"
    pom = kafka_pom(version)
    recipe = hashlib.sha256(pom.encode()).hexdigest()
    if libs_complete(libs, marker, recipe):
        return libs
    with locked(home / ".lock"):
        if libs_complete(libs, marker, recipe):
            return libs
        mvn = maven(version, libs)
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


# The broker's own principal: the controller listener, inter-broker traffic, and the operator
# (the stack creating topics, SCRAM users and ACLs) log in as it, with SASL/PLAIN, because
# SCRAM credentials live in the metadata log and cannot authenticate the broker that serves
# it. Only this user is in the PLAIN login module, so no other principal can use PLAIN.
BROKER_USER = "broker"
STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def _jaas(password: str) -> str:
    return (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{BROKER_USER}" password="{password}" user_{BROKER_USER}="{password}";'
    )


def security_properties(s: Settings, admin_password: str) -> dict[str, str]:
    """SASL/SCRAM on the client listener, PLAIN for the broker's own principal only, and the
    StandardAuthorizer: no ACL, no access (docs/reliability.md#kafka-principals-and-acls)."""
    if s.kafka_security == "plaintext":
        return {}
    return {
        "listener.name.client.sasl.enabled.mechanisms": "SCRAM-SHA-512,SCRAM-SHA-256,PLAIN",
        "listener.name.client.scram-sha-512.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
        "listener.name.client.scram-sha-256.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
        "listener.name.client.plain.sasl.jaas.config": _jaas(admin_password),
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": _jaas(admin_password),
        "sasl.mechanism.controller.protocol": "PLAIN",
        "authorizer.class.name": STANDARD_AUTHORIZER,
        "super.users": f"User:{BROKER_USER}",
        "allow.everyone.if.no.acl.found": "false",
    }


def kafka_properties(
    s: Settings, p: StackPaths, admin_password: str = "<from credentials/kafka-admin.env>"
) -> dict[str, str]:
    """server.properties of a single combined broker+controller sized for a small dev box."""
    client = f"127.0.0.1:{s.kafka_port}"
    controller = f"127.0.0.1:{s.kafka_controller_port}"
    protocol = "PLAINTEXT" if s.kafka_security == "plaintext" else "SASL_PLAINTEXT"
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "listeners": f"CLIENT://{client},CONTROLLER://{controller}",
        "advertised.listeners": f"CLIENT://{client},CONTROLLER://{controller}",
        "listener.security.protocol.map": f"CLIENT:{protocol},CONTROLLER:{protocol}",
        "inter.broker.listener.name": "CLIENT",
        "controller.listener.names": "CONTROLLER",
        "controller.quorum.bootstrap.servers": controller,
        **security_properties(s, admin_password),
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


# Keys whose change means a running broker no longer matches the settings (a broker started
# before the stack had authentication has other listeners and protocols too).
IDENTITY_KEYS = (
    "listeners",
    "listener.security.protocol.map",
    "controller.quorum.bootstrap.servers",
    "log.dirs",
)


def admin_password(s: Settings) -> str:
    """The broker principal's password, generated once and kept 0600 in the credentials
    directory as an env file the admin role reads (config/clients.py)."""
    path = clients.role_file(s, clients.ADMIN)
    try:
        stored = clients.read_env_file(path).get(clients.ENV_KAFKA_PASSWORD)
    except OSError:
        stored = None
    if stored:
        return stored
    password = new_password()
    write_secret(
        path,
        env_file(
            "chainbreaker: the local broker's own principal (super user, SASL/PLAIN).\n"
            "The operator's: topics, SCRAM users and ACLs. Never give it to a service.",
            {
                clients.ENV_KAFKA_USERNAME: BROKER_USER,
                clients.ENV_KAFKA_PASSWORD: password,
                clients.ENV_KAFKA_MECHANISM: "PLAIN",
            },
        ),
    )
    return password


def render_properties(props: dict[str, str]) -> str:
    header = "# Generated by chainbreaker's stack/kafka.py on every start; edits are lost."
    body = "\n".join(f"{key}={value}" for key, value in props.items())
    return f"{header}\n{body}\n"


def parse_properties(text: str) -> dict[str, str]:
    props = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            props[key.strip()] = value.strip()
    return props


LOG4J2_XML = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by chainbreaker's stack/kafka.py. Everything goes to stdout, which the stack
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


def jvm_flags(s: Settings, p: StackPaths) -> list[str]:
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


def classpath(libs: Path) -> str:
    return f"{libs}/*"


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (like
    `kafka-storage random-uuid`, which also avoids a leading '-' that looks like an option)."""
    while True:
        cid = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def format_storage(java_bin: str, libs: Path, s: Settings, p: StackPaths) -> bool:
    """Format storage on the first start only; True if it formatted."""
    if (p.kafka_data / "meta.properties").is_file():
        return False
    # No meta.properties: nothing usable is there (an interrupted format at most).
    shutil.rmtree(p.kafka_data, ignore_errors=True)
    cluster_id = p.cluster_id.read_text().strip() if p.cluster_id.is_file() else ""
    if not cluster_id:
        cluster_id = new_cluster_id()
        p.cluster_id.write_text(f"{cluster_id}\n")
    argv = [
        java_bin,
        "-Xmx256m",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={p.kafka_log4j}",
        "-cp",
        classpath(libs),
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


def start(
    s: Settings, p: StackPaths, java_bin: str, libs: Path
) -> tuple[subprocess.Popen[bytes], bool]:
    """Write the configuration, format storage on the first start, launch the broker."""
    p.kafka_dir.mkdir(parents=True, exist_ok=True)
    # 0600: it holds the broker principal's password (the JAAS lines).
    write_secret(p.kafka_props, render_properties(kafka_properties(s, p, admin_password(s))))
    p.kafka_log4j.write_text(LOG4J2_XML)
    rotate(p.kafka_log)
    formatted = format_storage(java_bin, libs, s, p)
    argv = [java_bin, *jvm_flags(s, p), "-cp", classpath(libs), "kafka.Kafka", str(p.kafka_props)]
    return launch(argv, p.kafka_dir, p.kafka_log, p.kafka_pid), formatted


# --------------------------------------------------------------------------- running


def is_ours(pid: int, p: StackPaths) -> bool:
    """Our broker: its main class and our server.properties path on its command line."""
    argv = live_cmdline(pid)
    return "kafka.Kafka" in argv and str(p.kafka_props) in argv


def running(s: Settings, p: StackPaths) -> tuple[int | None, bool]:
    return running_pid(p.kafka_pid, s.kafka_port, lambda pid: is_ours(pid, p))


def check_drift(pid: int, s: Settings, p: StackPaths) -> None:
    """Refuse to call a running broker "ready" when it listens somewhere else than the
    settings say (a port changed since `up`): clients would connect to nothing."""
    try:
        current = parse_properties(p.kafka_props.read_text())
    except OSError:
        return
    wanted = kafka_properties(s, p)
    changed = [k for k in IDENTITY_KEYS if current.get(k) != wanted[k]]
    if changed:
        raise StackError(
            f"Kafka (pid {pid}) is running with other settings ({', '.join(changed)}: "
            f"{current.get(changed[0])} instead of {wanted[changed[0]]}); run "
            "`chainbreaker stack down` and then `up` again"
        )


# --------------------------------------------------------------------------- readiness


def split_bootstrap(bootstrap: str) -> list[tuple[str, int]]:
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


def await_kafka(
    bootstrap: str,
    timeout: float,
    *,
    broker_id: int | None = None,
    child: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
    auth: dict[str, str] | None = None,
) -> None:
    """Until the cluster answers a metadata request listing a broker (``broker_id`` if given).
    ``auth``: the login settings of the client that asks (config/clients.py)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    hosts = split_bootstrap(bootstrap)
    admin: AdminClient | None = None

    def probe(remaining: float) -> str | None:
        nonlocal admin
        # A plain connect first: cheap, silent, and it keeps librdkafka from entering its
        # reconnect backoff before the broker has even opened its port.
        if not _accepts(hosts, min(1.0, remaining)):
            return f"connection refused or timed out at {bootstrap}"
        if admin is None:
            # librdkafka logs every refused connection of a starting broker, and when the
            # client is dropped an informational line about admin events nobody served
            # (BGQUEUE); the last error is in our own message, so this client logs nothing.
            admin = AdminClient(
                {
                    **(auth or {}),
                    "bootstrap.servers": bootstrap,
                    "socket.connection.setup.timeout.ms": 3000,
                    "reconnect.backoff.max.ms": 500,
                    "log_level": 0,
                }
            )
        try:
            metadata = admin.list_topics(timeout=max(0.5, min(5.0, remaining)))
        except KafkaException as exc:
            return str(exc.args[0] if exc.args else exc)
        if metadata.brokers and (broker_id is None or broker_id in metadata.brokers):
            return None
        return f"metadata lists brokers {sorted(metadata.brokers)}"

    await_ready(
        probe,
        timeout,
        not_ready=f"Kafka at {bootstrap} did not answer metadata",
        name="Kafka",
        child=child,
        log_path=log_path,
    )


def await_port(bootstrap: str, timeout: float) -> None:
    """Until one of the bootstrap servers accepts a TCP connection."""
    hosts = split_bootstrap(bootstrap)
    await_ready(
        lambda remaining: None if _accepts(hosts, min(1.0, remaining)) else "connection refused",
        timeout,
        not_ready=f"Kafka at {bootstrap} did not accept a connection",
        name="Kafka",
    )


def wait_for_kafka(
    bootstrap: str, timeout: float = 30.0, auth: dict[str, str] | None = None
) -> None:
    """Block until the Kafka cluster at bootstrap answers a metadata request that lists at
    least one broker; raise StackError with the last error once timeout seconds have passed."""
    await_kafka(bootstrap, timeout, auth=auth)


def admin_auth(s: Settings) -> dict[str, str]:
    """The operator's login settings for readiness checks (none on a PLAINTEXT Kafka)."""
    config = clients.kafka_config(s, clients.ADMIN)
    config.pop("bootstrap.servers")
    return config
