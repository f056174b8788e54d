"""The editor's buttons: approve, approve a whole post, reject, move, cancel, retry, and
an admin's resume of a paused account. Each goes through the same function as the CLI
(scheduler.delivery.editor), recorded under the person's name, and says what the rules
did with it (the `why` of the delivery) when they moved or held it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scheduler.delivery import editor
from scheduler.delivery.editor import Decision, SelectionError
from scheduler.delivery.states import State
from scheduler.i18n import N_, Translator
from scheduler.people.person import Person
from scheduler.web.auth import Forbidden, check_csrf, logged_in
from scheduler.web.context import Desk, back, desk_of, flash
from scheduler.web.labels import state_label

EDITORS_ONLY = N_("Only an editor may do this. Ask the network's editor.")
ADMINS_ONLY = N_("Only an administrator may do this.")
NOT_YOURS = N_("You may withdraw only the posts of your libraries.")


async def act(request: Request) -> Response:
    desk = desk_of(request)
    person = logged_in(request, desk.people, desk.trusted_header)
    form = await request.form()
    check_csrf(request, form)
    action = request.path_params["action"]
    reference = str(form.get("ref", "")).strip()
    t = desk.translator_for(person)
    app = desk.app
    try:
        if action == "cancel":
            _may_withdraw(desk, person, reference)
            reason = str(form.get("reason", "")).strip() or None
            decisions = editor.cancel(
                app.sessions, app.clock, [reference], by=person.name, reason=reason
            )
            _tell(request, t, decisions)
        elif action == "resume":
            if not person.is_admin:
                raise Forbidden(ADMINS_ONLY)
            count = editor.resume_account(
                app.sessions, app.clock, reference, by=person.name, placement=app.placement()
            )
            flash(
                request,
                t.ngettext("%(num)d post placed again.", "%(num)d posts placed again.", count)
                % {"num": count},
            )
        elif not person.is_editor:
            raise Forbidden(EDITORS_ONLY)
        elif action in ("approve", "approve_all"):
            decisions = editor.approve(
                app.sessions, app.clock, [reference], by=person.name, placement=app.placement()
            )
            _tell(request, t, decisions)
            _why(desk, request, t, [d.delivery_id for d in decisions if d.done])
        elif action == "reject":
            reason = str(form.get("reason", "")).strip()
            if not reason:
                flash(
                    request, t.gettext("Say why you reject it: the contributor reads it."), "error"
                )
                return back(request, "/queue")
            _tell(request, t, editor.reject(
                app.sessions, app.clock, [reference], by=person.name, reason=reason
            ))  # fmt: skip
        elif action == "move":
            when = _local_moment(desk, str(form.get("when", "")))
            if when is None:
                flash(request, t.gettext("Give a date and a time to move it to."), "error")
                return back(request, "/calendar")
            moved = editor.move(
                app.sessions, app.clock, reference, when, by=person.name, placement=app.placement()
            )
            _why(desk, request, t, [moved.id], asked=when)
        elif action == "retry":
            decisions = editor.retry(
                app.sessions, app.clock, [reference], by=person.name, placement=app.placement()
            )
            _tell(request, t, decisions)
        else:
            return Response("unknown action\n", status_code=404, media_type="text/plain")
    except SelectionError:
        flash(request, t.gettext("This post or delivery does not exist (any more)."), "error")
    return back(request, "/queue")


def _may_withdraw(desk: Desk, person: Person, reference: str) -> None:
    if person.is_editor:
        return
    with desk.reads() as session:
        chosen = editor.select_deliveries(session, [reference])
        libraries = {delivery.post.library for delivery in chosen}
    if not libraries or not all(person.writes_for(library) for library in libraries):
        raise Forbidden(NOT_YOURS)


def _local_moment(desk: Desk, text: str) -> datetime | None:
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        return None
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=desk.app.config.zone)


def _tell(request: Request, t: Translator, decisions: Sequence[Decision]) -> None:
    for decision in decisions:
        if decision.done:
            message = t.gettext("%(account)s: done (%(state)s).") % {
                "account": decision.account,
                "state": state_label(t, decision.note),
            }
            flash(request, message)
        else:
            state = decision.note.removeprefix("left as ")
            flash(
                request,
                t.gettext("%(account)s: nothing done, it is %(state)s.")
                % {"account": decision.account, "state": state_label(t, state)},
                "error",
            )


def _why(
    desk: Desk,
    request: Request,
    t: Translator,
    delivery_ids: Sequence[str],
    *,
    asked: datetime | None = None,
) -> None:
    """Where the rules put each delivery, and why, when that is not simply as asked."""
    for delivery_id in delivery_ids:
        story = editor.explain(desk.reads, delivery_id)
        row = story.delivery
        reason = next((event[4] for event in reversed(story.events) if event[4]), None)
        if row.state == State.HELD:
            flash(
                request,
                t.gettext("%(account)s: held by the house rules: %(reason)s")
                % {"account": row.account, "reason": row.reason or reason or "-"},
                "warning",
            )
        elif row.due_at is not None and (asked is None or row.due_at != asked):
            flash(
                request,
                t.gettext("%(account)s: placed on %(when)s (%(reason)s)")
                % {
                    "account": row.account,
                    "when": t.format_datetime(row.due_at),
                    "reason": reason or "-",
                },
                "warning" if asked is not None else "info",
            )
        elif asked is not None:
            flash(
                request,
                t.gettext("%(account)s: moved to %(when)s.")
                % {"account": row.account, "when": t.format_datetime(asked)},
            )


ACTION_ROUTES = [Route("/act/{action}", act, methods=["POST"])]
