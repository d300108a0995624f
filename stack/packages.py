"""The machine's own packages the local stack needs, installed with apt-get when missing.

redis-server, prometheus, a Java runtime (17 or newer, for Kafka 4) and Maven (once, to fetch
Kafka's jars) come from the Debian/Ubuntu archive, so a bare Debian or Ubuntu machine with
only Python runs `make demo` and `make test` with nothing installed by hand. Installing needs
root: as root apt-get runs directly, otherwise through `sudo -n` (never a password prompt
nobody can see). On a system without apt-get the error names what to install instead.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable

from stack.process import StackError

log = logging.getLogger(__name__)

SUPPORTED = "Debian 12 (bookworm) or newer, Ubuntu 24.04 or newer"
INSTALL_TIMEOUT_S = 900

# Java runtimes Kafka 4.x runs on, in order of preference: the release the project is tested
# with, the distribution's default (only when that is 17 or newer: Debian 11's and Ubuntu
# 20.04's is 11), then 21 (Debian 13 ships no 17).
JAVA_PACKAGES = ("openjdk-17-jre-headless", "default-jre-headless", "openjdk-21-jre-headless")
JAVA_MIN_MAJOR = 17


def which(binary: str) -> str | None:
    """The binary on PATH, or in /usr/bin (where Debian puts it) when PATH lacks it."""
    path = f"/usr/bin/{binary}"
    return shutil.which(binary) or (path if os.access(path, os.X_OK) else None)


def _sudo(package: str, otherwise: str) -> list[str]:
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") is None:
        raise StackError(
            f"{package} is not installed and installing it needs root: run "
            f"`apt-get install -y {package}` as root, or {otherwise}"
        )
    # Never hang on a password prompt nobody can see (CI, pytest): -n fails instead.
    return ["sudo"] if sys.stdin is not None and sys.stdin.isatty() else ["sudo", "-n"]


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            argv, capture_output=True, text=True, env=env, timeout=INSTALL_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise StackError(f"`{' '.join(argv)}` did not finish within 15 minutes") from None


def _apt(package: str, otherwise: str) -> tuple[list[str], dict[str, str]]:
    """The command prefix (sudo or not) and environment apt-get runs with."""
    prefix = _sudo(package, otherwise)
    if prefix:  # sudo resets the environment; hand the variable through explicitly
        prefix = [*prefix, "env", "DEBIAN_FRONTEND=noninteractive"]
    return prefix, {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def no_apt_error(binary: str, missing_hint: str, otherwise: str) -> StackError:
    return StackError(
        f"{binary} is not installed and apt-get is not available: install {missing_hint} "
        f"with your package manager, or {otherwise} (setup installs it by itself on {SUPPORTED})"
    )


def install(package: str, otherwise: str) -> None:
    """apt-get install the package (no recommends), updating the package lists if needed."""
    prefix, env = _apt(package, otherwise)
    command = [*prefix, "apt-get", "install", "-y", "--no-install-recommends", package]
    log.info("installing %s with apt-get", package)
    result = _run(command, env)
    if result.returncode != 0:
        # A fresh image has no package lists, so apt cannot find the package at all.
        log.info("apt-get install failed; running apt-get update and retrying")
        update = _run([*prefix, "apt-get", "update"], env)
        result = _run(command, env) if update.returncode == 0 else update
    if result.returncode != 0:
        tail = "\n".join(
            f"    {line}" for line in (result.stdout + result.stderr).splitlines()[-15:]
        )
        raise StackError(
            f"could not install {package} with apt-get (exit {result.returncode}); install "
            f"it yourself (`apt-get install -y {package}`) or {otherwise}:\n{tail}"
        )


def ensure_binary(package: str, binary: str, otherwise: str, missing_hint: str) -> str:
    """Path of binary, installing Debian's package with apt-get when it is missing."""
    found = which(binary)
    if found:
        return found
    if shutil.which("apt-get") is None:
        raise no_apt_error(binary, missing_hint, otherwise)
    log.info("%s not found", binary)
    install(package, otherwise)
    found = which(binary)
    if found is None:
        raise StackError(f"apt-get installed {package} but {binary} is not on PATH (/usr/bin)")
    return found


# --------------------------------------------------------------------------- which Java


def parse_candidate(policy: str) -> str | None:
    """The candidate version in `apt-cache policy PACKAGE` output; None if there is none."""
    match = re.search(r"^\s*Candidate:\s*(\S+)", policy, re.MULTILINE)
    if match is None or match.group(1) == "(none)":
        return None
    return match.group(1)


def java_major(package: str, version: str) -> int | None:
    """The Java release a runtime package installs: openjdk-<N>-jre-headless is N; Debian's
    default-jre-headless is versioned 2:1.<N>-<rev> (2:1.17-74 is Java 17)."""
    named = re.fullmatch(r"openjdk-(\d+)-jre(?:-headless)?", package)
    if named:
        return int(named.group(1))
    default = re.fullmatch(r"(?:\d+:)?1\.(\d+)[-+~.].*", version)
    return int(default.group(1)) if default else None


def choose_java_package(candidate: Callable[[str], str | None]) -> str | None:
    """The first of JAVA_PACKAGES the archive offers with Java 17 or newer, else None.

    ``candidate(package)`` is the version apt would install (apt-cache policy), or None.
    """
    for package in JAVA_PACKAGES:
        version = candidate(package)
        if version is None:
            continue
        major = java_major(package, version)
        if major is not None and major >= JAVA_MIN_MAJOR:
            return package
    return None


def apt_candidate(package: str) -> str | None:
    """What `apt-cache policy` says apt would install for the package (no root needed)."""
    try:
        out = subprocess.run(
            ["apt-cache", "policy", package], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_candidate(out.stdout)


def install_java(otherwise: str) -> str:
    """Install a Java 17+ runtime with apt-get; returns the package installed."""
    if shutil.which("apt-get") is None:
        raise no_apt_error("Java 17 or newer", "a Java 17+ runtime (OpenJDK 17)", otherwise)
    package = choose_java_package(apt_candidate)
    if package is None:  # no package lists yet (a fresh image): fetch them, then decide
        prefix, env = _apt(JAVA_PACKAGES[0], otherwise)
        _run([*prefix, "apt-get", "update"], env)
        package = choose_java_package(apt_candidate)
    if package is None:
        raise StackError(
            f"no Java {JAVA_MIN_MAJOR}+ runtime in this system's package archive (tried "
            f"{', '.join(JAVA_PACKAGES)}); install one yourself, or {otherwise}"
        )
    install(package, otherwise)
    return package


# --------------------------------------------------------------------------- the test browser

# The desk's browser tests drive the system's Chromium through its WebDriver; both come from
# the distribution (Debian: chromium, chromium-driver), never a browser download of our own.
CHROMIUM_HINT = "Chromium and its WebDriver (Debian: chromium chromium-driver)"


def ensure_chromium() -> tuple[str, str]:
    """(chromium, chromedriver), installing Debian's packages with apt-get when missing."""
    otherwise = "install Chromium and chromedriver yourself and put them on PATH"
    browser = ensure_binary("chromium", "chromium", otherwise, CHROMIUM_HINT)
    driver = ensure_binary("chromium-driver", "chromedriver", otherwise, CHROMIUM_HINT)
    return browser, driver


# The SAR PDF test reads the rendered text back with poppler's pdftotext (Debian:
# poppler-utils); without it the test checks the document's structure only.
PDFTOTEXT_HINT = "pdftotext (Debian: poppler-utils)"


def ensure_pdftotext() -> str:
    """pdftotext, installing Debian's poppler-utils with apt-get when missing."""
    otherwise = "install poppler-utils yourself and put pdftotext on PATH"
    return ensure_binary("poppler-utils", "pdftotext", otherwise, PDFTOTEXT_HINT)
