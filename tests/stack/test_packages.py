"""Which Debian package gives the stack its Java, and which java it runs (stack/packages.py,
stack/kafka.py). Pure decision logic with the archive's answers as data; the last test asks
this machine's apt for real (simulated install, nothing changes)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from stack import packages
from stack.kafka import find_java
from stack.packages import choose_java_package, java_major, parse_candidate

# What `apt-cache policy` offered on each release (candidate versions, None: not in the archive).
RELEASES = {
    "debian-12": {
        "openjdk-17-jre-headless": "17.0.15+6-1~deb12u1",
        "default-jre-headless": "2:1.17-74",
        "openjdk-21-jre-headless": None,
    },
    "debian-11": {
        "openjdk-17-jre-headless": "17.0.13+11-2~deb11u1",
        "default-jre-headless": "2:1.11-72",
        "openjdk-21-jre-headless": None,
    },
    "debian-13": {
        "openjdk-17-jre-headless": None,
        "default-jre-headless": "2:1.21-76",
        "openjdk-21-jre-headless": "21.0.8+9-1",
    },
    "ubuntu-22.04": {
        "openjdk-17-jre-headless": "17.0.16+8~us1-0ubuntu1~22.04.1",
        "default-jre-headless": "2:1.11-72build2",
        "openjdk-21-jre-headless": "21.0.8+9~us1-0ubuntu1~22.04.1",
    },
    "debian-10-only-11": {
        "openjdk-17-jre-headless": None,
        "default-jre-headless": "2:1.11-71",
        "openjdk-21-jre-headless": None,
    },
    "no-package-lists": {},
}


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        ("debian-12", "openjdk-17-jre-headless"),
        ("debian-11", "openjdk-17-jre-headless"),
        ("debian-13", "default-jre-headless"),  # the default is 21 there: good enough
        ("ubuntu-22.04", "openjdk-17-jre-headless"),
        ("debian-10-only-11", None),  # Java 11 would not run Kafka 4
        ("no-package-lists", None),
    ],
)
def test_java_package_is_the_first_offering_17_or_newer(release, expected) -> None:
    offered = RELEASES[release]
    assert choose_java_package(offered.get) == expected


def test_default_jre_is_skipped_when_it_is_older_than_17() -> None:
    offered = {"default-jre-headless": "2:1.11-72build2", "openjdk-21-jre-headless": "21.0.8"}
    assert choose_java_package(offered.get) == "openjdk-21-jre-headless"


@pytest.mark.parametrize(
    ("package", "version", "major"),
    [
        ("openjdk-17-jre-headless", "17.0.15+6-1~deb12u1", 17),
        ("openjdk-21-jre-headless", "21.0.8+9-1", 21),
        ("default-jre-headless", "2:1.17-74", 17),
        ("default-jre-headless", "2:1.11-72build2", 11),
        ("default-jre-headless", "1.21-75", 21),
        ("default-jre-headless", "garbage", None),
    ],
)
def test_java_major_of_a_package(package, version, major) -> None:
    assert java_major(package, version) == major


def test_candidate_is_read_from_apt_cache_policy() -> None:
    policy = (
        "default-jre-headless:\n  Installed: (none)\n  Candidate: 2:1.17-74\n  Version table:\n"
        "     2:1.17-74 500\n"
    )
    assert parse_candidate(policy) == "2:1.17-74"
    assert parse_candidate("foo:\n  Installed: (none)\n  Candidate: (none)\n") is None
    assert parse_candidate("N: Unable to locate package foo\n") is None
    assert parse_candidate("") is None


def test_find_java_takes_the_first_17_or_newer_and_says_what_else_it_saw() -> None:
    versions = {"/opt/jdk11/bin/java": 11, "/usr/bin/java": 8, "/usr/lib/jvm/java-17/bin/java": 17}
    found, seen = find_java(list(versions), versions.get)
    assert found == "/usr/lib/jvm/java-17/bin/java"
    assert seen == ["/opt/jdk11/bin/java is Java 11", "/usr/bin/java is Java 8"]
    found, seen = find_java(["/usr/bin/java"], lambda _j: None)
    assert found is None and "unreadable" in seen[0]
    assert find_java([], versions.get) == (None, [])


def test_without_apt_get_the_error_names_what_to_install(monkeypatch) -> None:
    monkeypatch.setattr(packages.shutil, "which", lambda _name: None)
    with pytest.raises(packages.StackError) as raised:
        packages.install_java("set CB_KAFKA_BOOTSTRAP to a running Kafka")
    message = str(raised.value)
    assert "apt-get is not available" in message and "Java 17" in message
    assert packages.SUPPORTED in message and "CB_KAFKA_BOOTSTRAP" in message


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="not a Debian/Ubuntu system")
def test_this_machines_archive_offers_what_setup_installs() -> None:
    """The packages setup would install exist here and resolve (apt-get -s: nothing changes)."""
    java = choose_java_package(packages.apt_candidate)
    if java is None:
        pytest.skip("no package lists on this machine (apt-get update has never run)")
    for package in (java, "maven", "redis-server", "prometheus"):
        sim = subprocess.run(
            ["apt-get", "install", "-s", "--no-install-recommends", package],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert sim.returncode == 0, f"{package}: {sim.stderr[-500:]}"
