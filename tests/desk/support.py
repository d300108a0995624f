"""Helpers for the desk's integration and browser tests: a real desk server on a free port,
institutions granted on the real Redis, cases put on their queues by the router's own code,
and the scan of every answer for raw personal identifiers.

The scan is the test's own: issue 13's shared "no raw identifier" helper had not landed when
this was written; swap it in when it does.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable

import httpx
import redis
import uvicorn

from config.settings import Settings
from desk.app import create_app
from institutions import acl
from institutions.credentials import url_credentials
from institutions.dispositions import _REFERENCE  # what the note guard lets through
from streams.router import CaseQueues
from tests.processors.test_sar import make_alert
from tests.support import free_port, wait_for

# What the tests try to smuggle into pages: raw identifiers typed into every free-text input.
PLANTED = (
    "jane.doe@example.org",
    "+1 (555) 010-9999",
    "5550109999",
    "Maria Lopez-Garcia",
    "12 Harbour Street",
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_DIGIT_RUN = re.compile(r"(?<![\w])\+?\(?\d[\d\s().-]*\d(?![\w])")
# Numbers the desk shows that are not phone numbers: stream entry ids (ms-seq), ISO dates and
# times, epoch-millisecond fields of the JSON (13 digits, 2001-2033), decimals, and filing
# references after their label ("ref 2026-118"), which the disposition note guard allows, and
# hyphenated ids that start with a letter (acc-611581-0001115, cus-..., sim-...-12: the
# pseudonymous account, customer and event ids alerts carry).
_SAFE = re.compile(
    r"\b[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+\b|\b\d{13}-\d+\b"
    r"|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?Z?)?|(?<![\d.])1\d{12}(?!\d)"
    r"|\d+\.\d+"
)


_SVG = re.compile(r"<svg\b.*?</svg>", re.S)
_SVG_TEXT = re.compile(r"<(?:title|text)\b[^>]*>(.*?)</(?:title|text)>", re.S)


def _svg_words(match: re.Match[str]) -> str:
    """A chart's words (titles, labels) without its coordinates, which are digit runs."""
    return " ; ".join(_SVG_TEXT.findall(match.group()))


def raw_identifiers(text: str, secrets: tuple[str, ...] = ()) -> list[str]:
    """E-mail addresses, phone-number-like digit runs and planted identifiers in ``text``."""
    text = _SVG.sub(_svg_words, text)
    for secret in secrets:  # session tokens are random text, not identifiers
        text = text.replace(secret, " ")
    found = [p for p in PLANTED if p in text]
    found += _EMAIL.findall(text)
    for match in _DIGIT_RUN.finditer(_REFERENCE.sub(" ", _SAFE.sub(" ", text))):
        if sum(ch.isdigit() for ch in match.group()) >= 7:
            found.append(match.group())
    return found


def grant(admin: redis.Redis, settings: Settings, institution: str) -> str:
    """Grant the institution's ACL user; returns its password."""
    password = url_credentials(acl.grant(admin, settings, institution).url)[1]
    assert password
    return password


def alert_for(institution: str, account: str = "acct-42", **changes) -> dict:
    alert = make_alert(alert_id=uuid.uuid4().hex, institution=institution, account=account)
    alert.update(changes)
    return alert


def enqueue(admin: redis.Redis, settings: Settings, *alerts: dict) -> list[str]:
    """The router's own enqueue path; returns the entry ids."""
    CaseQueues(admin, settings).enqueue([(a, None) for a in alerts])
    index = {}
    for a in alerts:
        raw = admin.hget(f"{settings.app_id}:case-index:{a['institution_id']}", a["alert_id"])
        index[a["alert_id"]] = raw.decode()
    return [index[a["alert_id"]] for a in alerts]


class DeskServer:
    """The desk app under uvicorn on 127.0.0.1:<free port>, in a thread of the test."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = create_app(settings, clock=clock)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_config=None, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="desk", daemon=True)

    def __enter__(self) -> DeskServer:
        self.thread.start()
        wait_for(lambda: self.server.started, 30, "the desk server to start")
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)


def api_sign_in(http: httpx.Client, institution: str, password: str, analyst: str) -> str:
    """Sign in through the API; returns the CSRF token (the cookie stays in ``http``)."""
    r = http.post(
        "/api/session", json={"institution": institution, "password": password, "analyst": analyst}
    )
    assert r.status_code == 200, r.text
    return r.json()["csrf_token"]
