"""The desk's pages: login, the shared calendar, the editor's queue, a delivery's story,
a contributor's own posts, and the person's settings (calendar feed)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from scheduler.db.models import AccountState, Delivery
from scheduler.delivery.editor import SelectionError, explain, list_deliveries
from scheduler.delivery.states import State
from scheduler.delivery.transitions import transaction
from scheduler.web.actions import ADMINS_ONLY
from scheduler.web.auth import Forbidden, check_csrf, log_in, log_out, logged_in
from scheduler.web.calendar_view import Filters, build_calendar, month_range, week_range
from scheduler.web.context import back, desk_of, flash
from scheduler.web.feeds import feed
from scheduler.web.queue_view import preview_delivery, waiting_posts

MEDIA_NAME = re.compile(r"^[0-9a-f]{64}\.[a-z0-9]{1,5}$")
STATE_CHOICES = (
    "pending_approval", "approved", "scheduled", "handed_over", "published", "failed",
    "needs_attention", "held", "cancelled", "rejected",
)  # fmt: skip


async def login_page(request: Request) -> Response:
    desk = desk_of(request)
    return desk.render(request, "login.html", None, {"next": request.query_params.get("next")})


async def login(request: Request) -> Response:
    desk = desk_of(request)
    form = await request.form()
    check_csrf(request, form)
    name = str(form.get("name", "")).strip().lower()
    password = str(form.get("password", ""))
    address = request.client.host if request.client else "-"
    t = desk.translator_for(None)
    if desk.throttle.blocked(name, address):
        message = t.gettext("Too many failed logins. Wait a quarter of an hour and try again.")
        return desk.render(
            request, "login.html", None, {"error": message, "next": None}, status_code=429
        )
    person = desk.people.verify_password(name, password) if name and password else None
    if person is None:
        desk.throttle.failed(name, address)
        message = t.gettext("Wrong name or password.")
        return desk.render(
            request, "login.html", None, {"error": message, "next": None}, status_code=401
        )
    desk.throttle.succeeded(name)
    log_in(request, person)
    return back(request, "/calendar")


async def logout(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form)
    log_out(request)
    return RedirectResponse("/login", status_code=303)


async def home(request: Request) -> Response:
    return RedirectResponse("/calendar", status_code=303)


async def health(_request: Request) -> Response:
    return PlainTextResponse("ok\n")


def _day(text: str | None, default: date) -> date:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


async def calendar(request: Request) -> Response:
    desk = desk_of(request)
    person = logged_in(request, desk.people, desk.trusted_header)
    config = desk.app.config
    params = request.query_params
    today = desk.app.clock.now().astimezone(config.zone).date()
    view = "week" if params.get("view") == "week" else "month"
    shown = _day(params.get("day"), today)
    start, days = week_range(shown) if view == "week" else month_range(shown)
    filters = Filters(
        library=params.get("library") or None,
        account=params.get("account") or None,
        state=params.get("state") or None,
    )
    days_shown = build_calendar(
        desk.reads,
        zone=config.zone,
        rules=config.rules(),
        series=config.series,
        start=start,
        days=days,
        filters=filters,
        today=today,
    )
    step = timedelta(days=7) if view == "week" else timedelta(days=31)
    previous = (shown.replace(day=1) - timedelta(days=1)) if view == "month" else shown - step
    following = (shown.replace(day=28) + timedelta(days=4)) if view == "month" else shown + step
    return desk.render(
        request,
        "calendar.html",
        person,
        {
            "view": view,
            "shown": shown,
            "today": today,
            "days": days_shown,
            "filters": filters,
            "previous": previous.isoformat(),
            "following": following.isoformat(),
            "states": STATE_CHOICES,
            "query": {k: v for k, v in params.items() if k in ("library", "account", "state")},
        },
    )


async def queue(request: Request) -> Response:
    desk = desk_of(request)
    person = logged_in(request, desk.people, desk.trusted_header)
    posts = waiting_posts(
        desk.reads,
        connectors=desk.app.connectors,
        media_root=desk.app.store.root,
        now=desk.app.clock.now(),
        cache=desk.previews,
        libraries=None if person.is_editor else frozenset(person.libraries),
    )
    return desk.render(request, "queue.html", person, {"posts": posts})


async def delivery(request: Request) -> Response:
    desk = desk_of(request)
    person = logged_in(request, desk.people, desk.trusted_header)
    try:
        story = explain(desk.reads, request.path_params["delivery_id"])
    except SelectionError:
        t = desk.translator_for(person)
        return desk.render(
            request, "refused.html", person,
            {"message": t.gettext("No such delivery.")}, status_code=404,
        )  # fmt: skip
    with transaction(desk.reads) as session:
        row = session.get(Delivery, story.delivery.id)
        assert row is not None
        preview = preview_delivery(
            row, row.post, desk.app.connectors, desk.app.store.root, desk.app.clock.now()
        )
    return desk.render(
        request,
        "delivery.html",
        person,
        {"row": story.delivery, "events": story.events, "preview": preview},
    )


async def mine(request: Request) -> Response:
    """A contributor's libraries' posts and their states (an editor's: every library)."""
    desk = desk_of(request)
    person = logged_in(request, desk.people, desk.trusted_header)
    rows = [
        row
        for row in list_deliveries(desk.reads, zone=desk.app.config.zone)
        if person.sees_library(row.library)
    ]
    rows.sort(key=lambda row: (row.due_at is None, row.due_at), reverse=True)
    return desk.render(request, "mine.html", person, {"rows": rows[:300], "State": State})


async def settings(request: Request) -> Response:
    desk = desk_of(request)
    person = logged_in(request, desk.people, desk.trusted_header)
    return desk.render(
        request,
        "settings.html",
        person,
        {"feed_token": request.session.pop("new_feed_token", None)},
    )


async def new_feed(request: Request) -> Response:
    desk = desk_of(request)
    person = logged_in(request, desk.people, desk.trusted_header)
    check_csrf(request, await request.form())
    request.session["new_feed_token"] = desk.people.new_feed_token(person.name)
    return RedirectResponse("/settings", status_code=303)


async def revoke_feed(request: Request) -> Response:
    desk = desk_of(request)
    person = logged_in(request, desk.people, desk.trusted_header)
    check_csrf(request, await request.form())
    desk.people.revoke_feed_token(person.name)
    flash(request, desk.translator_for(person).gettext("The calendar link no longer works."))
    return RedirectResponse("/settings", status_code=303)


async def admin(request: Request) -> Response:
    """The people and the accounts: who uses the desk, which accounts are paused."""
    desk = desk_of(request)
    person = logged_in(request, desk.people, desk.trusted_header)
    if not person.is_admin:
        raise Forbidden(ADMINS_ONLY)
    with transaction(desk.reads) as session:
        paused = {
            row.account: row.paused_reason or ""
            for row in session.scalars(select(AccountState).where(AccountState.paused))
        }
    return desk.render(
        request, "admin.html", person, {"people": desk.people.list(), "paused": paused}
    )


async def media(request: Request) -> Response:
    desk = desk_of(request)
    logged_in(request, desk.people, desk.trusted_header)
    name = request.path_params["name"]
    path = desk.app.store.path(name)
    if not MEDIA_NAME.match(name) or not path.is_file():
        return PlainTextResponse("not found\n", status_code=404)
    return FileResponse(path, headers={"cache-control": "private, max-age=86400"})


PAGE_ROUTES = [
    Route("/", home),
    Route("/healthz", health),
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/calendar", calendar),
    Route("/queue", queue),
    Route("/delivery/{delivery_id}", delivery),
    Route("/mine", mine),
    Route("/settings", settings),
    Route("/admin", admin),
    Route("/settings/feed", new_feed, methods=["POST"]),
    Route("/settings/feed/revoke", revoke_feed, methods=["POST"]),
    Route("/feed/{token}.ics", feed),
    Route("/media/{name}", media),
]
