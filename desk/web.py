"""What the pages and the API share: the desk's state, the signed-in session of a request,
CSRF checks, security headers, and Redis/case errors turned into HTTP answers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import jinja2
import redis
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config.settings import Settings
from desk.auth import (
    SESSION_COOKIE,
    Session,
    Sessions,
    SignInError,
    SignInGuard,
    SignInThrottle,
    connect,
    loggable,
)
from institutions.client import CaseError, CaseNotFound
from institutions.dispositions import DispositionError

log = logging.getLogger("desk")
HERE = Path(__file__).resolve().parent
T = TypeVar("T")

# No script at all: the desk is plain documents and forms.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


@dataclass
class Desk:
    settings: Settings
    sessions: Sessions
    throttle: SignInThrottle
    guard: SignInGuard
    templates: Jinja2Templates
    signin_delay_s: float
    known_institutions: set[str]


def templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return Jinja2Templates(env=env)


def desk_of(request: Request) -> Desk:
    return request.app.state.desk


def session_of(request: Request) -> Session | None:
    return desk_of(request).sessions.get(request.cookies.get(SESSION_COOKIE))


def secure(request: Request) -> bool:
    """Cookies get the Secure flag when the desk is reached over HTTPS (a TLS proxy in front);
    on http://127.0.0.1 a browser would refuse to send them back otherwise."""
    return request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name, value, path="/", httponly=True, samesite="strict", secure=secure(request)
    )


def same_origin(request: Request) -> bool:
    """Browsers send Origin on every POST; one from elsewhere is a cross-site request."""
    origin = request.headers.get("origin")
    if origin is None:  # not a browser, or an old one: the CSRF token still has to match
        return True
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def call(session: Session, desk: Desk, fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking CaseClient operation off the event loop; errors become HttpError."""
    try:
        return await run_in_threadpool(fn, session.client, *args)
    except CaseNotFound:
        # Not the reference back: it is whatever was typed into the address bar.
        raise HttpError(404, f"no such case in {session.institution}'s queue") from None
    except DispositionError as exc:
        # Refused (the note, the outcome) or not delivered: Kafka did not take it, the case
        # stays open and a retry may work (dispositions.py says so in its message).
        undelivered = "retry when Kafka is back" in str(exc) or "could not queue" in str(exc)
        raise HttpError(503 if undelivered else 422, str(exc)) from None
    except CaseError as exc:
        raise HttpError(409, str(exc)) from None
    except redis.exceptions.NoPermissionError:
        raise HttpError(403, "not permitted for this institution's user") from None
    except redis.exceptions.AuthenticationError:
        # Revoked or rotated by the operator: this session's password no longer works.
        desk.sessions.close(session.token)
        raise HttpError(401, "the institution's credentials changed; sign in again") from None
    except redis.exceptions.ConnectionError as exc:
        raise HttpError(503, f"the case store (Redis) cannot be reached: {exc}") from None
    except redis.exceptions.ResponseError as exc:
        raise HttpError(502, f"the case store refused: {exc}") from None


def unauthorized() -> JSONResponse:
    return JSONResponse({"error": "sign in first: POST /api/session"}, status_code=401)


class SecurityHeaders:
    """Headers every answer carries: no framing, no sniffing, no referrer, no caching of
    case data, and a Content-Security-Policy that allows no script."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    # same-origin, not no-referrer: under no-referrer browsers send
                    # `Origin: null` on form posts, and the origin check needs the real one.
                    (b"referrer-policy", b"same-origin"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                ]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass
class Refused:
    """Why a sign-in did not open a session: locked out for ``wait_s``, or ``reason`` (safe
    to show: never which half of the login was wrong)."""

    wait_s: float = 0.0
    reason: str = ""


async def open_session(
    request: Request, desk: Desk, institution: str, password: str, analyst: str, via: str = ""
) -> Session | Refused:
    """The one sign-in path of the pages and the API: the lockout, the login as the
    institution's Redis user, the throttle's bookkeeping, and a new session token."""
    client_key = f"addr:{request.client.host if request.client else '?'}"
    keys = (client_key, f"inst:{institution}")
    shown = loggable(institution, desk.known_institutions)
    wait = desk.throttle.wait_s(*keys)
    if wait > 0:
        log.warning("sign-in refused (locked out %.0f s): institution %s", wait, shown)
        return Refused(wait_s=wait)
    try:
        client = await run_in_threadpool(connect, desk.settings, institution, password, analyst)
    except SignInError as exc:
        desk.throttle.failed(*keys)
        log.warning("sign-in failed%s: institution %s (%s)", via, shown, exc)
        await asyncio.sleep(desk.signin_delay_s)  # every failure costs the guesser time
        return Refused(reason=str(exc))
    desk.throttle.succeeded(client_key)
    desk.known_institutions.add(client.institution_id)
    desk.sessions.close(request.cookies.get(SESSION_COOKIE))  # a new token at every sign-in
    session = desk.sessions.open(client)
    log.info("signed in%s: institution %s, analyst %s", via, session.institution, session.analyst)
    return session
