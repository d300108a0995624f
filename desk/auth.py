"""Signing in to the desk: Redis checks the password, the session holds that institution's client.

An analyst signs in with the institution's credentials, i.e. its Redis ACL user's password
(`chainbreaker cases grant` wrote it to the institution's credentials file), and a
pseudonymous analyst reference of their own. The desk keeps no password list: it opens a
connection as `<app>.<institution>` and Redis says yes or no. Every Redis call of the session
then runs on that connection, so what another institution's queue holds is refused by Redis
(NOPERM), not merely left off a page.

Sessions live in this process's memory, keyed by a random token in an HttpOnly, SameSite=Strict
cookie; they end after CB_DESK_SESSION_IDLE_S without a request or CB_DESK_SESSION_MAX_S after
sign-in, at sign-out, or when the desk restarts. Each has its own CSRF token, which every form
(and every API call that changes something) must carry. The sign-in form, which has no session
yet, carries a token bound by HMAC to a random cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from config.settings import ConfigError, Settings, check_institution_id
from institutions.client import UNASSIGNED, CaseClient
from institutions.credentials import institution_url, username

SESSION_COOKIE = "cb_desk_session"
SIGNIN_COOKIE = "cb_desk_signin"
PASSWORD_MAX = 512
ANALYST_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
REDIS_TIMEOUT_S = 10.0


def loggable(institution: str, known: set[str]) -> str:
    """The institution as typed, for logs and the form again, only if it is one this desk
    knows (CB_INSTITUTIONS, or signed in to before): whoever typed the password into the
    institution field must not find it in the log or on the screen."""
    return institution if institution in known else "(an institution id not known here)"


class SignInError(Exception):
    """Why a sign-in was refused, in words safe to show (never which half was wrong)."""


def check_analyst(ref: str) -> str:
    """The analyst's reference names their consumer in the group and signs dispositions: a
    pseudonym of the institution's (an-17), never a name, e-mail or phone number."""
    ref = (ref or "").strip()
    if not ANALYST_REF.fullmatch(ref) or ref == UNASSIGNED:
        raise SignInError(
            "the analyst reference must be 1 to 64 letters, digits, '.', '_' or '-' "
            f"(your institution's pseudonymous id, e.g. an-17; not {UNASSIGNED!r})"
        )
    if sum(ch.isdigit() for ch in ref) >= 10:
        raise SignInError("the analyst reference must be a pseudonymous id, not a phone number")
    return ref


def connect(settings: Settings, institution: str, password: str, analyst: str) -> CaseClient:
    """A CaseClient connected as the institution's ACL user, or SignInError."""
    try:
        check_institution_id("institution", institution)
    except ConfigError:
        raise SignInError("unknown institution or wrong password") from None
    if not password or len(password) > PASSWORD_MAX:
        raise SignInError("unknown institution or wrong password")
    analyst = check_analyst(analyst)
    url = institution_url(settings.redis_url, username(settings, institution), password)
    conn = redis.Redis.from_url(
        url, socket_connect_timeout=5, socket_timeout=REDIS_TIMEOUT_S, health_check_interval=30
    )
    try:
        conn.ping()
    except redis.exceptions.AuthenticationError:
        conn.close()
        raise SignInError("unknown institution or wrong password") from None
    except redis.exceptions.ConnectionError as exc:
        conn.close()
        raise SignInError(f"the case store (Redis) cannot be reached: {exc}") from None
    client = CaseClient(conn, settings, institution, consumer=analyst)
    try:
        client.ensure_group()
    except redis.exceptions.NoPermissionError:
        conn.close()
        raise SignInError(
            f"this user may not work {institution}'s queue; ask the operator to run "
            f"`chainbreaker cases grant {institution}`"
        ) from None
    return client


@dataclass
class Session:
    token: str
    csrf: str
    client: CaseClient
    created: float
    seen: float
    flash: list[str] = field(default_factory=list)

    @property
    def institution(self) -> str:
        return self.client.institution_id

    @property
    def analyst(self) -> str:
        return self.client.consumer

    def check_csrf(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf, str(token))


class Sessions:
    """Signed-in sessions, in memory. Expired ones are closed on their next use or sweep."""

    def __init__(
        self, idle_s: float, max_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.idle_s = idle_s
        self.max_s = max_s
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, client: CaseClient) -> Session:
        now = self.clock()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), client, now, now)
        with self._lock:
            self._sessions[session.token] = session
        self.sweep()
        return session

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.seen >= self.idle_s or now - session.created >= self.max_s

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[token]
                expired = session
            else:
                session.seen = now
                return session
        expired.client.redis.close()
        return None

    def close(self, token: str | None) -> bool:
        with self._lock:
            session = self._sessions.pop(token or "", None)
        if session is None:
            return False
        session.client.redis.close()
        return True

    def sweep(self) -> int:
        now = self.clock()
        with self._lock:
            gone = [t for t, s in self._sessions.items() if self._expired(s, now)]
            closed = [self._sessions.pop(t) for t in gone]
        for session in closed:
            session.client.redis.close()
        return len(closed)

    def close_all(self) -> None:
        with self._lock:
            closed = list(self._sessions.values())
            self._sessions.clear()
        for session in closed:
            session.client.redis.close()

    def __len__(self) -> int:
        return len(self._sessions)


class SignInGuard:
    """CSRF for the sign-in form, which has no session yet: the form's token is an HMAC of a
    random cookie under a key that lives as long as this process."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def issue(self, nonce: str | None = None) -> tuple[str, str]:
        """(cookie nonce, form token); pass the browser's nonce to keep it."""
        nonce = nonce if nonce and len(nonce) <= 64 else secrets.token_urlsafe(24)
        return nonce, self._token(nonce)

    def _token(self, nonce: str) -> str:
        return hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()

    def check(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token:
            return False
        return hmac.compare_digest(self._token(nonce), str(token))


class SignInThrottle:
    """Failed sign-ins per key (the client's address, the institution): after ``limit``
    failures within ``window_s`` the key is refused until the oldest of them is that old.

    Locking by institution too means someone guessing from many addresses is stopped, at the
    price that they can keep an institution's analysts out for the lockout period: the
    operator sees it in the desk's log (failures are logged, without the password).
    """

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def wait_s(self, *keys: str) -> float:
        """Seconds until these keys may try again (0: now)."""
        now = self.clock()
        with self._lock:
            waits = [
                self.window_s - (now - times[-self.limit])
                for key in keys
                if len(times := self._recent(key, now)) >= self.limit
            ]
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                times.append(now)
                while len(times) > self.limit:
                    times.popleft()
                self._failures[key] = times

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
