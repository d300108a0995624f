"""The analysts' desk as a background process of the local stack, for `make demo`.

`chainbreaker desk` serves in the foreground; the demo wants it to outlive itself, so the user
can open the printed address after the traffic stops. Like Prometheus here, it runs detached
from CB_STACK_DIR/desk with a pid file and a log, answers on 127.0.0.1:CB_DESK_PORT (ready
once /healthz does), and `stack down` stops it. It is started with this checkout's Python and
environment, and holds no credentials of its own: analysts sign in.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from pathlib import Path

from config.settings import PROJECT_ROOT, Settings
from stack.paths import StackPaths
from stack.process import (
    StackError,
    await_ready,
    cwd_of,
    http_ok_probe,
    launch,
    live_cmdline,
    port_free,
    port_in_use_error,
    rotate,
    running_pid,
    stop_pid,
)
from stack.status import ServiceStatus

DESK = "desk"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


def _dir(p: StackPaths) -> Path:
    return p.root / DESK


def _pid(p: StackPaths) -> Path:
    return _dir(p) / "desk.pid"


def log_path(p: StackPaths) -> Path:
    return _dir(p) / "desk.log"


def url(s: Settings) -> str:
    host = s.desk_bind if s.desk_bind not in ("0.0.0.0", "::") else "127.0.0.1"
    return f"http://{host}:{s.desk_port}"


def command(s: Settings) -> list[str]:
    return [sys.executable, "-m", "cli", "desk", "--port", str(s.desk_port), "--bind", s.desk_bind]


def is_ours(pid: int) -> bool:
    argv = live_cmdline(pid)
    return argv[1:4] == ["-m", "cli", "desk"] and cwd_of(pid) == PROJECT_ROOT


def running(s: Settings, p: StackPaths) -> tuple[int | None, bool]:
    return running_pid(_pid(p), s.desk_port, is_ours)


def await_desk(
    address: str, timeout: float, child: subprocess.Popen[bytes] | None, log: Path
) -> None:
    await_ready(
        http_ok_probe(f"{address}/healthz"),
        timeout,
        not_ready=f"the desk at {address} did not answer",
        name="the desk",
        child=child,
        log_path=log,
    )


def up(s: Settings, p: StackPaths) -> ServiceStatus:
    """Start (or keep) the background desk on CB_DESK_PORT."""
    pid, _stale = running(s, p)
    if pid is not None:
        if f"{s.desk_port}" not in live_cmdline(pid):
            raise StackError(
                f"the desk (pid {pid}) runs on another port than {s.desk_port} (CB_DESK_PORT); "
                "run `chainbreaker stack down` first"
            )
        await_desk(url(s), READY_TIMEOUT_S, None, log_path(p))
        return ServiceStatus(DESK, url(s), False, True, pid, "already running", log_path(p))
    if not port_free(s.desk_port):
        raise port_in_use_error(s.desk_port, "CB_DESK_PORT")
    _dir(p).mkdir(parents=True, exist_ok=True)
    rotate(log_path(p))
    child = launch(command(s), PROJECT_ROOT, log_path(p), _pid(p))
    try:
        await_desk(url(s), READY_TIMEOUT_S, child, log_path(p))
    except BaseException:
        if child.poll() is None:
            with contextlib.suppress(StackError):
                stop_pid(child.pid, DESK, STOP_TIMEOUT_S)
        _pid(p).unlink(missing_ok=True)
        raise
    return ServiceStatus(DESK, url(s), False, True, child.pid, "started", log_path(p))


def down(s: Settings, p: StackPaths, wipe: bool) -> ServiceStatus | None:
    """Stop the background desk if there is one; None when there was none to report on."""
    if not _dir(p).exists():
        return None
    pid, _stale = running(s, p)
    action = stop_pid(pid, DESK, STOP_TIMEOUT_S) if pid is not None else "not running"
    _pid(p).unlink(missing_ok=True)
    if wipe:
        shutil.rmtree(_dir(p), ignore_errors=True)
    if pid is None:
        return None
    return ServiceStatus(DESK, url(s), False, False, None, action)


def status(s: Settings, p: StackPaths) -> ServiceStatus | None:
    pid = running(s, p)[0] if _dir(p).exists() else None
    if pid is None:
        return None
    return ServiceStatus(DESK, url(s), False, True, pid, "running", log_path(p))
