"""Per-person calendar feeds: an iCalendar URL with a secret token instead of a login,
so the network's calendar shows in Outlook or on a phone. A new token revokes the old.

Editors' feeds include the posts waiting for approval; contributors' do not. ``?library=``
narrows a feed to one library; without it the feed has the whole network.
"""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from scheduler.reports.calendar import calendar_ics
from scheduler.web.context import desk_of

FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=120)


async def feed(request: Request) -> Response:

    desk = desk_of(request)
    person = desk.people.by_feed_token(request.path_params["token"])
    if person is None:
        return PlainTextResponse("unknown or revoked calendar link\n", status_code=404)
    library = request.query_params.get("library")
    if library is not None and library not in desk.app.config.libraries:
        return PlainTextResponse("unknown library\n", status_code=404)
    now = desk.app.clock.now()
    body = calendar_ics(
        desk.reads,
        zone=desk.app.config.zone,
        start=now - FEED_PAST,
        end=now + FEED_AHEAD,
        name=f"relais — {desk.app.config.libraries[library].name}" if library else "relais",
        libraries=[library] if library else None,
        with_pending=person.is_editor,
    )
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"cache-control": "private, no-store"},
    )
