"""The demo's background desk (stack/desk.py): started detached, answering, kept by a second
`up`, reported by `status`, stopped by `stack down`."""

from __future__ import annotations

import urllib.request

import pytest

from config import settings
from stack import desk
from stack import services as st
from stack.paths import paths
from stack.process import StackError, port_free, proc_alive
from tests.support import free_port

pytestmark = pytest.mark.integration


def test_background_desk_lifecycle(tmp_path) -> None:
    s = settings.load({"CB_STACK_DIR": str(tmp_path / "stack"), "CB_DESK_PORT": str(free_port())})
    p = paths(s)
    try:
        started = desk.up(s, p)
        assert started.action == "started" and started.running
        with urllib.request.urlopen(f"{desk.url(s)}/healthz", timeout=5) as resp:
            assert resp.read() == b"ok\n"
        again = desk.up(s, p)
        assert (again.action, again.pid) == ("already running", started.pid)
        assert any(svc.name == "desk" and svc.running for svc in st.status(s).services)

        report = st.down(s)
        [stopped] = [svc for svc in report.services if svc.name == "desk"]
        assert stopped.action == "stopped" and not proc_alive(started.pid)
        assert port_free(s.desk_port)
        assert all(svc.name != "desk" for svc in st.status(s).services)
    finally:
        desk.down(s, p, wipe=True)


def test_taken_desk_port_names_the_variable(tmp_path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        s = settings.load({"CB_STACK_DIR": str(tmp_path / "stack"), "CB_DESK_PORT": str(port)})
        with pytest.raises(StackError, match="CB_DESK_PORT"):
            desk.up(s, paths(s))
