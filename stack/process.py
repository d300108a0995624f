"""Processes of the local stack: start detached, recognise our own, wait until ready, stop.

Every service (Kafka, Redis, Prometheus) runs detached in its own session, so it outlives the
shell or the pytest run that started it. Its pid file is trusted only after /proc confirms the
pid is really our process (a pid file left over from before a reboot may name an unrelated
process). Readiness is the real thing (the service answers), polled against a deadline, never
a fixed sleep. Every failure is a :class:`StackError` whose message says what to do about it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

KILL_TIMEOUT_S = 5.0
LOG_TAIL_LINES = 30


class StackError(Exception):
    """The stack cannot be brought up, checked or stopped; the message says what to do."""


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
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


def proc_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    _reap(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the command name, which is in parentheses and may hold spaces.
    state = stat.rpartition(")")[2].split()[:1]
    return bool(state) and state[0] not in ("Z", "X")


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def live_cmdline(pid: int) -> list[str]:
    """The command line of a live (not zombie) process; empty if there is none."""
    if pid <= 0 or not proc_alive(pid):
        return []
    return cmdline(pid)


def cwd_of(pid: int) -> Path | None:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def listener_pid(port: int) -> int | None:
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


def running_pid(
    pid_file: Path, port: int, is_ours: Callable[[int], bool]
) -> tuple[int | None, bool]:
    """(pid of our running service or None, whether a stale pid file was found).

    Falls back to whoever listens on the service port, so a deleted pid file does not make us
    start a second copy or report "port in use" about our own server; that pid file is
    rewritten. ``is_ours`` tells our process from any other (a pid file may be stale).
    """
    pid = read_pid(pid_file)
    if pid is not None and is_ours(pid):
        return pid, False
    owner = listener_pid(port)
    if owner is not None and is_ours(owner):
        pid_file.write_text(f"{owner}\n")
        return owner, False
    return None, pid is not None


def port_free(port: int) -> bool:
    """Whether we could listen on 127.0.0.1:port. SO_REUSEADDR as the servers use it, so
    connections in TIME_WAIT do not count, while any listener on 127.0.0.1 or 0.0.0.0 does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_in_use_error(port: int, variable: str) -> StackError:
    owner = listener_pid(port)
    who = ""
    if owner is not None:
        argv = " ".join(cmdline(owner))
        who = f" (pid {owner}: {argv[:100]})" if argv else f" (pid {owner})"
    return StackError(
        f"port {port} ({variable}) is already in use by another process{who}; "
        f"stop it or set {variable} to a free port"
    )


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
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


def rotate(log_path: Path) -> None:
    """Keep one previous log, so the tail we show on failure belongs to this start."""
    if log_path.exists():
        log_path.replace(log_path.with_name(log_path.name + ".1"))


def launch(argv: list[str], cwd: Path, log_path: Path, pid_path: Path) -> subprocess.Popen[bytes]:
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


def stop_pid(pid: int, service: str, timeout: float) -> str:
    """SIGTERM, wait for a clean exit up to timeout, then SIGKILL. Returns what happened."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_gone(pid, timeout):
        return "stopped"
    log.warning("%s (pid %d) ignored SIGTERM for %.0f s; sending SIGKILL", service, pid, timeout)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if wait_gone(pid, KILL_TIMEOUT_S):
        return f"killed after {timeout:.0f} s"
    raise StackError(f"{service} (pid {pid}) survived SIGKILL; check `ps -o stat {pid}`")


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while proc_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        # It may have died between our poll and the /proc read: collect its exit status.
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=1.0)
    return True


def stop_if_started(children: dict[str, subprocess.Popen[bytes]]) -> None:
    """After a failed start: stop what this call started (best effort)."""
    for service, child in children.items():
        if child.poll() is None:
            with contextlib.suppress(StackError):
                stop_pid(child.pid, service, 10.0)


# --------------------------------------------------------------------------- readiness


def await_ready(
    probe: Callable[[float], str | None],
    timeout: float,
    *,
    not_ready: str,
    name: str,
    child: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
    interval: float = 0.1,
) -> None:
    """Poll ``probe`` until it reports ready, the child we started exits, or ``timeout``.

    ``probe(remaining_s)`` returns None when the service answers, else why not (the last
    reason ends up in the error). ``not_ready`` starts the timeout message ("Redis at ... did
    not answer PING"); ``name`` names the process in the exit message. A probe may raise
    StackError itself for an answer that waiting will not change (wrong credentials).
    """
    deadline = time.monotonic() + timeout
    last = "nothing answered yet"
    while True:
        if child is not None and child.poll() is not None:
            raise StackError(
                f"{name} exited during startup (exit code {child.returncode}); "
                f"last lines of {log_path}:\n{tail(log_path) if log_path else ''}"
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            where = f"; last lines of {log_path}:\n{tail(log_path)}" if log_path else ""
            raise StackError(f"{not_ready} within {timeout:.0f} s (last error: {last}){where}")
        problem = probe(remaining)
        if problem is None:
            return
        last = problem
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def http_ok_probe(url: str) -> Callable[[float], str | None]:
    """A probe for await_ready: ready when ``url`` (a readiness endpoint) answers HTTP 200."""

    def probe(_remaining: float) -> str | None:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return None if resp.status == 200 else f"HTTP {resp.status}"
        except OSError as exc:
            return str(exc)

    return probe
