"""The desk's HTML pages: sign-in, queue, case, feedback. Server-rendered, forms only.

Every POST carries the session's CSRF token (or, for sign-in, the HMAC token of the sign-in
cookie) and answers with a redirect (post/redirect/get), so a reload never repeats an action.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from config.names import disposition_topic
from desk import chart, queue, sar_pdf, service
from desk.auth import (
    ANALYST_REF,
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    Session,
)
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
from institutions.client import UNASSIGNED
from institutions.dispositions import OUTCOMES
from processors.indicators import CATALOG
from processors.sar import iso_utc

log = logging.getLogger("desk")

OUTCOME_LABELS = {
    "confirmed": "Confirmed: SAR filed",
    "valuable": "Valuable (no filing yet)",
    "false-positive": "False positive",
}


def _idle(ms: int) -> str:
    s = ms // 1000
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"


def _num(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.3g}"


def _render(
    request: Request,
    name: str,
    session: Session | None,
    status: int = 200,
    **context: Any,
) -> Response:
    desk = desk_of(request)
    flash = []
    if session is not None:
        flash, session.flash = session.flash, []
    base = {
        "session": session,
        "flash": flash,
        "error": None,
        "iso": iso_utc,
        "num": _num,
        "idle": _idle,
        "UNASSIGNED": UNASSIGNED,
    }
    return desk.templates.TemplateResponse(request, name, {**base, **context}, status_code=status)


def _signin_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)


def _safe_next(value: str | None) -> str:
    """Only a path of this site: never //host or a scheme (no open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/queue"


async def _posted(request: Request, session: Session) -> dict[str, str]:
    """The form of a POST, once its origin and CSRF token check out."""
    form = await request.form()
    if not same_origin(request) or not session.check_csrf(form.get("csrf")):  # type: ignore[arg-type]
        raise HttpError(403, "this form is stale or came from elsewhere; reload the page")
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _error_page(request: Request, session: Session | None, exc: HttpError) -> Response:
    if exc.status == 401:
        return _signin_redirect(request)
    return _render(request, "error.html", session, exc.status, message=exc.message)


# --------------------------------------------------------------------------- sign-in


async def login_form(request: Request) -> Response:
    if session_of(request) is not None:
        return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    return _login_page(request)


def _login_page(
    request: Request, error: str | None = None, status: int = 200, **values: str
) -> Response:
    desk = desk_of(request)
    nonce, token = desk.guard.issue(request.cookies.get(SIGNIN_COOKIE))
    response = _render(
        request,
        "login.html",
        None,
        status,
        error=error,
        signin_token=token,
        next=_safe_next(request.query_params.get("next") or values.get("next")),
        institution=values.get("institution", ""),
        analyst=values.get("analyst", ""),
    )
    set_cookie(request, response, SIGNIN_COOKIE, nonce)
    return response


async def login(request: Request) -> Response:
    desk = desk_of(request)
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    institution = fields.get("institution", "").strip()
    analyst = fields.get("analyst", "").strip()
    # What the sign-in form shows again on failure: not the password, and the analyst
    # reference only when it is a valid one (it is free text until checked).
    keep = {"next": fields.get("next", "")}
    if institution in desk.known_institutions:
        keep["institution"] = institution
    if ANALYST_REF.fullmatch(analyst):
        keep["analyst"] = analyst
    if not same_origin(request) or not desk.guard.check(
        request.cookies.get(SIGNIN_COOKIE), fields.get("signin_token")
    ):
        return _login_page(request, "The sign-in form expired; try again.", 403, **keep)
    session = await open_session(request, desk, institution, fields.get("password", ""), analyst)
    if isinstance(session, Refused) and session.wait_s > 0:
        return _login_page(
            request,
            f"Too many failed sign-ins; try again in {session.wait_s:.0f} s.",
            429,
            **keep,
        )
    if isinstance(session, Refused):
        return _login_page(request, f"Sign-in refused: {session.reason}.", 401, **keep)
    response = RedirectResponse(_safe_next(fields.get("next")), status_code=303)
    set_cookie(request, response, SESSION_COOKIE, session.token)
    response.delete_cookie(SIGNIN_COOKIE, path="/")
    return response


async def logout(request: Request) -> Response:
    session = session_of(request)
    if session is not None:
        try:
            await _posted(request, session)
        except HttpError as exc:
            return _error_page(request, session, exc)
        desk_of(request).sessions.close(session.token)
        log.info("signed out: institution %s, analyst %s", session.institution, session.analyst)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def home(request: Request) -> Response:
    return RedirectResponse("/queue" if session_of(request) else "/login", status_code=303)


async def healthz(request: Request) -> Response:
    return Response("ok\n", media_type="text/plain")


# --------------------------------------------------------------------------- queue


async def queue_page(request: Request) -> Response:
    session = session_of(request)
    if session is None:
        return _signin_redirect(request)
    desk = desk_of(request)
    try:
        filters = queue.Filters.parse(dict(request.query_params), CATALOG)
    except queue.FilterError as exc:
        return _render(request, "error.html", session, 400, message=str(exc))
    try:
        snap = await call(session, desk, service.snapshot)
    except HttpError as exc:
        return _error_page(request, session, exc)
    rows = queue.select(snap.rows, filters, session.analyst)
    return _render(
        request,
        "queue.html",
        session,
        filters=filters,
        rows=rows,
        counts=queue.counts(snap.rows, session.analyst),
        snap=snap,
        views=queue.VIEWS,
        sorts=queue.SORTS,
        typologies=queue.TYPOLOGIES,
        severities=queue.SEVERITIES,
        indicators=sorted(CATALOG),
        claim_idle_s=desk.settings.case_claim_idle_s,
        urlencode=urlencode,
    )


async def take_next(request: Request) -> Response:
    return await _action(request, "take")


async def reclaim(request: Request) -> Response:
    return await _action(request, "reclaim")


async def _action(request: Request, what: str, ref: str | None = None) -> Response:
    session = session_of(request)
    if session is None:
        return _signin_redirect(request)
    desk = desk_of(request)
    back = "/queue"
    try:
        form = await _posted(request, session)
        back = _safe_next(form.get("back")) if form.get("back") else back
        if what == "take":
            case = await call(session, desk, service.take_next)
            if case is None:
                session.flash.append("No new cases.")
                return RedirectResponse(back, status_code=303)
            session.flash.append(f"Case {case.entry_id} is now on your desk.")
            return RedirectResponse(f"/cases/{case.entry_id}", status_code=303)
        if what == "reclaim":
            cases = await call(session, desk, service.reclaim)
            session.flash.append(
                f"Reclaimed {len(cases)} case(s) idle for more than "
                f"{desk.settings.case_claim_idle_s} s."
            )
            return RedirectResponse("/queue?view=mine", status_code=303)
        assert ref is not None
        if what == "claim":
            case = await call(session, desk, service.claim, ref)
            session.flash.append(f"Case {case.entry_id} is now on your desk.")
            return RedirectResponse(f"/cases/{case.entry_id}", status_code=303)
        if what == "release":
            case = await call(session, desk, service.release, ref)
            session.flash.append(f"Case {case.entry_id} released: anyone may claim it.")
            return RedirectResponse(f"/cases/{case.entry_id}", status_code=303)
        raise AssertionError(what)
    except HttpError as exc:
        return _error_page(request, session, exc)


# --------------------------------------------------------------------------- case


async def case_page(request: Request) -> Response:
    session = session_of(request)
    if session is None:
        return _signin_redirect(request)
    return await _case_response(request, session, request.path_params["ref"])


async def _case_response(
    request: Request, session: Session, ref: str, error: str | None = None, status: int = 200
) -> Response:
    desk = desk_of(request)
    try:
        current = await call(session, desk, service.view, ref)
    except HttpError as exc:
        return _error_page(request, session, exc)
    alert = current.case.alert
    draft = service.sar.draft(alert)
    return _render(
        request,
        "case.html",
        session,
        status,
        error=error,
        current=current,
        alert=alert,
        mine=current.mine(session.client),
        chart=Markup(chart.timeline_svg(alert)),  # built from escaped parts (desk/chart.py)
        sar=draft.data,
        network=alert.get("network"),
        outcomes=OUTCOME_LABELS,
    )


async def claim(request: Request) -> Response:
    return await _action(request, "claim", request.path_params["ref"])


async def release(request: Request) -> Response:
    return await _action(request, "release", request.path_params["ref"])


async def dispose(request: Request) -> Response:
    session = session_of(request)
    if session is None:
        return _signin_redirect(request)
    desk = desk_of(request)
    ref = request.path_params["ref"]
    try:
        form = await _posted(request, session)
        outcome = form.get("outcome", "")
        if outcome not in OUTCOMES:
            raise HttpError(422, f"choose an outcome: {', '.join(OUTCOME_LABELS.values())}")
        record = await call(session, desk, service.dispose, ref, outcome, form.get("note"))
    except HttpError as exc:
        if exc.status in (409, 422, 502, 503):
            # The note is not shown again: it was refused for what it holds, or was not sent.
            return await _case_response(request, session, ref, exc.message, exc.status)
        return _error_page(request, session, exc)
    topic = disposition_topic(desk.settings.topic_dispositions, session.institution)
    session.flash.append(
        f"Disposed as {record['outcome']}: sent to {topic} "
        f"(disposition {record['disposition_id']}); the case is closed."
    )
    log.info(
        "disposed: institution %s, alert %s, %s by %s",
        session.institution,
        record["alert_id"],
        record["outcome"],
        session.analyst,
    )
    return RedirectResponse(f"/cases/{ref}", status_code=303)


async def sar_markdown(request: Request) -> Response:
    return await _sar_file(request, "md")


async def sar_pdf_file(request: Request) -> Response:
    return await _sar_file(request, "pdf")


async def _sar_file(request: Request, kind: str) -> Response:
    session = session_of(request)
    if session is None:
        if request.url.path.startswith("/api/"):
            return unauthorized()
        return _signin_redirect(request)
    desk = desk_of(request)
    try:
        draft = await call(session, desk, service.sar_draft, request.path_params["ref"])
    except HttpError as exc:
        return _error_page(request, session, exc)
    name = f"sar-draft-{draft.data['alert_id']}.{kind}"
    disposition = {"content-disposition": f'attachment; filename="{name}"'}
    if kind == "md":
        return Response(draft.markdown, media_type="text/markdown", headers=disposition)
    body = await run_in_threadpool(sar_pdf.render, draft.data)
    return Response(body, media_type="application/pdf", headers=disposition)


# --------------------------------------------------------------------------- feedback


async def feedback_page(request: Request) -> Response:
    session = session_of(request)
    if session is None:
        return _signin_redirect(request)
    try:
        fb = await call(session, desk_of(request), service.feedback)
    except HttpError as exc:
        return _error_page(request, session, exc)
    return _render(request, "feedback.html", session, fb=fb)


async def favicon(request: Request) -> Response:
    return Response(status_code=204)


ROUTES = [
    Route("/", home),
    Route("/favicon.ico", favicon),
    Route("/healthz", healthz),
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/queue", queue_page),
    Route("/queue/take", take_next, methods=["POST"]),
    Route("/queue/reclaim", reclaim, methods=["POST"]),
    Route("/cases/{ref}", case_page),
    Route("/cases/{ref}/claim", claim, methods=["POST"]),
    Route("/cases/{ref}/release", release, methods=["POST"]),
    Route("/cases/{ref}/dispose", dispose, methods=["POST"]),
    Route("/cases/{ref}/sar.md", sar_markdown),
    Route("/cases/{ref}/sar.pdf", sar_pdf_file),
    Route("/api/cases/{ref}/sar.md", sar_markdown),
    Route("/api/cases/{ref}/sar.pdf", sar_pdf_file),
    Route("/feedback", feedback_page),
]
