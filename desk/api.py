"""The desk's JSON API (docs/desk-api.md): the same sign-in, the same operations as the pages.

An institution that wires its own case system signs in once (POST /api/session with JSON),
keeps the session cookie, and sends the returned CSRF token as X-CSRF-Token on every call
that changes something. Request bodies must be JSON (Content-Type: application/json), which
a cross-site HTML form cannot send.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from config.names import disposition_topic
from desk import queue, service
from desk.auth import SESSION_COOKIE, Session
from desk.web import (
    HttpError,
    Refused,
    call,
    desk_of,
    open_session,
    same_origin,
    session_of,
    set_cookie,
    unauthorized,
)
from institutions.client import Case
from institutions.dispositions import OUTCOMES
from processors.indicators import CATALOG

log = logging.getLogger("desk")
BODY_MAX = 16_384


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HttpError(415, "send the body as JSON (Content-Type: application/json)")
    body = await request.body()
    if len(body) > BODY_MAX:
        raise HttpError(413, f"the body is larger than {BODY_MAX} bytes")
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        raise HttpError(400, "the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise HttpError(400, "the body must be a JSON object")
    return value


def _changing(request: Request, session: Session) -> None:
    """A call that changes something: same origin, and the session's CSRF token."""
    if not same_origin(request) or not session.check_csrf(request.headers.get("x-csrf-token")):
        raise HttpError(403, "missing or wrong X-CSRF-Token (GET /api/session returns it)")


def _who(session: Session, desk) -> dict[str, Any]:
    return {
        "institution": session.institution,
        "analyst": session.analyst,
        "csrf_token": session.csrf,
        "idle_timeout_s": desk.settings.desk_session_idle_s,
        "max_age_s": desk.settings.desk_session_max_s,
    }


def _case(case: Case) -> dict[str, Any]:
    return case.to_json()


async def session_info(request: Request) -> Response:
    session = session_of(request)
    if session is None:
        return unauthorized()
    return JSONResponse(_who(session, desk_of(request)))


async def sign_in(request: Request) -> Response:
    desk = desk_of(request)
    try:
        body = await _json(request)
    except HttpError as exc:
        return _error(exc.status, exc.message)
    if not same_origin(request):
        return _error(403, "cross-origin sign-in refused")
    institution = str(body.get("institution", "")).strip()
    session = await open_session(
        request,
        desk,
        institution,
        str(body.get("password", "")),
        str(body.get("analyst", "")),
        via=" (API)",
    )
    if isinstance(session, Refused) and session.wait_s > 0:
        return JSONResponse(
            {"error": f"too many failed sign-ins; try again in {session.wait_s:.0f} s"},
            status_code=429,
            headers={"retry-after": str(int(session.wait_s) + 1)},
        )
    if isinstance(session, Refused):
        return _error(401, f"sign-in refused: {session.reason}")
    response = JSONResponse(_who(session, desk))
    set_cookie(request, response, SESSION_COOKIE, session.token)
    return response


async def sign_out(request: Request) -> Response:
    session = session_of(request)
    if session is None:
        return unauthorized()
    try:
        _changing(request, session)
    except HttpError as exc:
        return _error(exc.status, exc.message)
    desk_of(request).sessions.close(session.token)
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def _run(request: Request, changing: bool, work) -> Response:
    session = session_of(request)
    if session is None:
        return unauthorized()
    try:
        if changing:
            _changing(request, session)
        return JSONResponse(await work(session, desk_of(request)))
    except HttpError as exc:
        return _error(exc.status, exc.message)


async def list_cases(request: Request) -> Response:
    async def work(session: Session, desk) -> dict[str, Any]:
        try:
            filters = queue.Filters.parse(dict(request.query_params), CATALOG)
        except queue.FilterError as exc:
            raise HttpError(400, str(exc)) from None
        snap = await call(session, desk, service.snapshot)
        rows = queue.select(snap.rows, filters, session.analyst)
        return {
            "view": filters.view,
            "sort": filters.sort,
            "counts": queue.counts(snap.rows, session.analyst),
            "window": snap.window,
            "truncated": snap.truncated,
            "cases": [row.to_json() for row in rows],
        }

    return await _run(request, False, work)


async def get_case(request: Request) -> Response:
    ref = request.path_params["ref"]

    async def work(session: Session, desk) -> dict[str, Any]:
        return (await call(session, desk, service.view, ref)).to_json()

    return await _run(request, False, work)


async def take_next(request: Request) -> Response:
    async def work(session: Session, desk) -> dict[str, Any]:
        case = await call(session, desk, service.take_next)
        return {"case": _case(case) if case else None}

    return await _run(request, True, work)


async def reclaim(request: Request) -> Response:
    async def work(session: Session, desk) -> dict[str, Any]:
        cases = await call(session, desk, service.reclaim)
        return {"cases": [_case(c) for c in cases]}

    return await _run(request, True, work)


async def claim(request: Request) -> Response:
    ref = request.path_params["ref"]

    async def work(session: Session, desk) -> dict[str, Any]:
        return {"case": _case(await call(session, desk, service.claim, ref))}

    return await _run(request, True, work)


async def release(request: Request) -> Response:
    ref = request.path_params["ref"]

    async def work(session: Session, desk) -> dict[str, Any]:
        return {"case": _case(await call(session, desk, service.release, ref))}

    return await _run(request, True, work)


async def dispose(request: Request) -> Response:
    ref = request.path_params["ref"]

    async def work(session: Session, desk) -> dict[str, Any]:
        body = await _json(request)
        outcome = body.get("outcome")
        if outcome not in OUTCOMES:
            raise HttpError(422, f"outcome must be one of {', '.join(OUTCOMES)}")
        note = body.get("note")
        if note is not None and not isinstance(note, str):
            raise HttpError(422, "note must be a string")
        record = await call(session, desk, service.dispose, ref, outcome, note)
        log.info(
            "disposed (API): institution %s, alert %s, %s by %s",
            session.institution,
            record["alert_id"],
            record["outcome"],
            session.analyst,
        )
        topic = disposition_topic(desk.settings.topic_dispositions, session.institution)
        return {"disposition": record, "topic": topic}

    return await _run(request, True, work)


async def sar_json(request: Request) -> Response:
    ref = request.path_params["ref"]

    async def work(session: Session, desk) -> dict[str, Any]:
        draft = await call(session, desk, service.sar_draft, ref)
        return {"sar": draft.data, "markdown": draft.markdown}

    return await _run(request, False, work)


async def feedback(request: Request) -> Response:
    async def work(session: Session, desk) -> dict[str, Any]:
        return (await call(session, desk, service.feedback)).to_json()

    return await _run(request, False, work)


ROUTES = [
    Route("/api/session", session_info, methods=["GET"]),
    Route("/api/session", sign_in, methods=["POST"]),
    Route("/api/session", sign_out, methods=["DELETE"]),
    Route("/api/cases", list_cases, methods=["GET"]),
    Route("/api/cases/next", take_next, methods=["POST"]),
    Route("/api/cases/reclaim", reclaim, methods=["POST"]),
    Route("/api/cases/{ref}", get_case, methods=["GET"]),
    Route("/api/cases/{ref}/claim", claim, methods=["POST"]),
    Route("/api/cases/{ref}/release", release, methods=["POST"]),
    Route("/api/cases/{ref}/dispose", dispose, methods=["POST"]),
    Route("/api/cases/{ref}/sar", sar_json, methods=["GET"]),
    Route("/api/feedback", feedback, methods=["GET"]),
]
