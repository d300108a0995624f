"""The analysts' desk as an ASGI app: `create_app(settings)`, served by `chainbreaker desk`.

Starlette (routing, requests, responses, templates through Jinja2) and nothing on the page
that needs a build step or a script: each page is a server-rendered document with forms.
The pages (desk/pages.py) and the JSON API (desk/api.py) share the sign-in and the
operations (desk/service.py), which reach Redis only through the signed-in institution's
CaseClient.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from config.settings import Settings
from desk import api, pages
from desk.auth import Sessions, SignInGuard, SignInThrottle
from desk.web import HERE, Desk, SecurityHeaders, templates

# Every failed sign-in answers this much later (on top of the lockout after
# CB_DESK_SIGNIN_FAILURES of them), so guessing costs time even below the limit.
SIGNIN_DELAY_S = 0.5


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.monotonic,
    signin_delay_s: float = SIGNIN_DELAY_S,
) -> Starlette:
    desk = Desk(
        settings=settings,
        sessions=Sessions(settings.desk_session_idle_s, settings.desk_session_max_s, clock),
        throttle=SignInThrottle(
            settings.desk_signin_failures, settings.desk_signin_lockout_s, clock
        ),
        guard=SignInGuard(),
        templates=templates(),
        signin_delay_s=signin_delay_s,
        known_institutions=set(settings.institutions),
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        desk.sessions.close_all()  # each session's Redis connections

    app = Starlette(
        routes=[
            *api.ROUTES,
            *pages.ROUTES,
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders)],
        lifespan=lifespan,
    )
    app.state.desk = desk
    return app
