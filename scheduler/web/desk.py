"""The desk's composition: the Starlette application, its middleware and its routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from scheduler.app import App
from scheduler.db.engines import make_engine
from scheduler.delivery.transitions import make_sessions
from scheduler.people.directory import Directory
from scheduler.web.actions import ACTION_ROUTES
from scheduler.web.auth import CsrfRefused, Forbidden, LoginThrottle, NotLoggedIn, current_person
from scheduler.web.context import STATIC_DIR, Desk, desk_of
from scheduler.web.pages import PAGE_ROUTES
from scheduler.web.queue_view import PreviewCache
from scheduler.web.render import make_environment
from scheduler.web.writing import WRITING_ROUTES

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def build_desk(app: App, *, secret_key: str) -> Starlette:
    settings = app.config.web
    reads = make_sessions(make_engine(app.config.database_url, reader=True))
    desk = Desk(
        app=app,
        people=Directory(
            sessions=app.sessions,
            clock=app.clock,
            known_libraries=tuple(app.config.libraries),
            default_language=app.config.language,
            readers=reads,
        ),
        reads=reads,
        environment=make_environment(),
        throttle=LoginThrottle(clock=app.clock),
        previews=PreviewCache(),
    )
    web = Starlette(
        routes=[
            *PAGE_ROUTES,
            *ACTION_ROUTES,
            *WRITING_ROUTES,
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=secret_key,
                session_cookie="relais_desk",
                max_age=int(settings.session_max_age.total_seconds()),
                same_site="strict",
                https_only=settings.secure_cookies,
            )
        ],
        exception_handlers={
            NotLoggedIn: _to_login,
            Forbidden: _forbidden,
            CsrfRefused: _csrf_refused,
        },
    )
    web.state.desk = desk
    web.add_middleware(_SecurityHeaders)
    return web


class _SecurityHeaders:
    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend((k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items())
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


async def _to_login(request: Request, _error: Exception) -> Response:
    if request.method == "GET":
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(wanted, safe='')}", status_code=303)
    return RedirectResponse("/login", status_code=303)


async def _forbidden(request: Request, error: Exception) -> Response:
    desk = desk_of(request)
    person = current_person(request, desk.people, desk.trusted_header)
    t = desk.translator_for(person)
    return desk.render(
        request,
        "refused.html",
        person,
        {"message": t.gettext(str(error)) if str(error) else t.gettext("Not allowed.")},
        status_code=403,
    )


async def _csrf_refused(request: Request, _error: Exception) -> Response:
    desk = desk_of(request)
    person = current_person(request, desk.people, desk.trusted_header)
    t = desk.translator_for(person)
    message = t.gettext("This form has expired. Go back, reload the page and try again.")
    return desk.render(request, "refused.html", person, {"message": message}, status_code=403)
