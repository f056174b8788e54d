"""What a notification says, in the reader's language: short, what happened, what to do,
and where to look on the desk when ``web.public_url`` is configured.

Messages are written in English in the code and translated through the gettext catalogues
of ``scheduler.i18n`` (French first); a test fails when a catalogue lacks one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from babel.dates import format_date, format_time

from scheduler.i18n import Translator
from scheduler.notifications.channels import Message
from scheduler.notifications.kinds import Kind

Words: TypeAlias = Translator


@dataclass(frozen=True, kw_only=True)
class About:
    """One notification as its message needs it (a frozen copy of the row)."""

    id: int
    kind: Kind
    created_at: dt.datetime
    post_id: str | None
    delivery_id: str | None
    account: str | None
    library: str | None
    author: str | None
    details: dict[str, Any]


def compose(
    about: About, words: Translator, *, desk: str | None, items: Sequence[About] = ()
) -> Message:
    """The message for one notification; a digest lists ``items``."""
    _ = words.gettext
    d = about.details
    title = d.get("title") or d.get("post_key") or _("(untitled)")
    values = {
        "title": title,
        "account": about.account or "",
        "library": about.library or "",
        "author": about.author or "",
        "reason": d.get("reason") or _("no reason given"),
        "actor": d.get("actor") or "relais",
        "url": d.get("url") or "",
        "post_key": d.get("post_key") or "",
        "delivery": (about.delivery_id or "")[:8],
        "file": d.get("file") or "",
        "series": d.get("series") or "",
        "person": d.get("person") or "",
        "count": d.get("count", 0),
    }
    if "day" in d:
        values["day"] = format_date(dt.date.fromisoformat(d["day"]), "full", locale=words.language)
    if "at" in d:
        moment = dt.datetime.fromisoformat(d["at"]).astimezone(words.zone)
        values["at"] = (
            f"{format_date(moment.date(), 'full', locale=words.language)}, "
            f"{format_time(moment, 'short', tzinfo=words.zone, locale=words.language)}"
        )
    count = int(d.get("count", 0))
    values["found"] = words.ngettext(
        "relais found {count} interrupted send; it looks for it on the platforms.",
        "relais found {count} interrupted sends; it looks for them on the platforms.",
        count,
    ).format(count=count)
    subject_text, lines = _WORDING[about.kind](_, d)
    body = [line.format(**values) for line in lines]
    if about.kind == Kind.FILE_REJECTED:
        body[1:1] = ["", *d.get("problems", []), ""]
    if about.kind == Kind.DIGEST:
        for item in items:
            inner = compose(item, words, desk=None)
            body += ["", f"• {inner.subject}", *(f"  {line}" for line in inner.body.splitlines())]
    link = _desk_link(about, desk)
    if link:
        body += ["", _("On the desk: {link}").format(link=link)]
    return Message(subject=subject_text.format(**values), body="\n".join(body).strip() + "\n")


def _desk_link(about: About, desk: str | None) -> str | None:
    """The desk's page for it (scheduler.web.pages' routes)."""
    if not desk:
        return None
    base = desk.rstrip("/")
    if about.kind == Kind.APPROVAL_WAITING:
        return f"{base}/queue"
    if about.delivery_id:
        return f"{base}/delivery/{about.delivery_id}"
    if about.kind == Kind.FILE_REJECTED:
        return f"{base}/mine"
    if about.kind == Kind.TEST:
        return f"{base}/settings"
    return f"{base}/calendar"


_Wording = tuple[str, list[str]]


def _file_rejected(_: Any, d: dict[str, Any]) -> _Wording:
    return _("Post file not queued: {file}"), [
        _("{file} was not queued. Fix each problem below, then drop the file in the inbox again."),
        _("The file is in the rejected folder; `relais check FILE` shows the same list."),
    ]


def _post_rejected(_: Any, d: dict[str, Any]) -> _Wording:
    return _("Not approved: {title}"), [
        _("{actor} did not approve “{title}” for {account}: {reason}."),
        _("Change the post file and drop it into the inbox again to ask once more."),
    ]


def _published(_: Any, d: dict[str, Any]) -> _Wording:
    lines = [_("“{title}” was published on {account}.")]
    if d.get("url"):
        lines.append(_("Link to share: {url}"))
    return _("Published on {account}: {title}"), lines


def _failed(_: Any, d: dict[str, Any]) -> _Wording:
    return _("Not published on {account}: {title}"), [
        _("“{title}” could not be published on {account}: {reason}."),
        _("Once the cause is fixed, an editor sends it again (`relais retry {delivery}`)."),
    ]


def _cancelled(_: Any, d: dict[str, Any]) -> _Wording:
    return _("Cancelled on {account}: {title}"), [
        _("{actor} cancelled “{title}” on {account}: {reason}."),
    ]


def _missed(_: Any, d: dict[str, Any]) -> _Wording:
    return _("Missed on {account}: {title}"), [
        _("The window of “{title}” closed before it could go out on {account}."),
        _("If it still matters, drop the file again with a new time."),
    ]


def _approval_waiting(_: Any, d: dict[str, Any]) -> _Wording:
    return _("Waiting for your approval: {title}"), [
        _("“{title}” ({library}, by {author}) waits for an editor's approval."),
        _("Approve or reject it on the desk, or with `relais approve {post_key}`."),
    ]


def _needs_attention(_: Any, d: dict[str, Any]) -> _Wording:
    return _("Needs a look: {title} on {account}"), [
        _("relais cannot tell whether “{title}” went out on {account}: {reason}."),
        _("Look on the account: if it is missing there, `relais retry {delivery}` sends it again."),
    ]


def _account_paused(_: Any, d: dict[str, Any]) -> _Wording:
    return _("Account paused: {account}"), [
        _("{account} stopped publishing: its credentials no longer work ({reason})."),
        _("Its posts wait. Renew the credentials, then run `relais accounts resume {account}`."),
    ]


def _token_expiring(_: Any, d: dict[str, Any]) -> _Wording:
    if d.get("today"):
        subject = _("The access of {account} ends today")
    else:
        subject = _("The access of {account} ends on {day}")
    return subject, [
        _("The token relais uses for {account} stops working on {day}."),
        _("Renew it before then, or the account is paused and its posts wait."),
    ]


def _series_empty(_: Any, d: dict[str, Any]) -> _Wording:
    return _("No episode yet: {series}, {at}"), [
        _("The series {series} has no episode for {at}."),
        _("Drop one into the inbox with `series: {series}`."),
    ]


def _daemon_recovered(_: Any, d: dict[str, Any]) -> _Wording:
    return _("relais restarted after a crash"), [
        "{found}",
        _("`relais status` shows what needs a person."),
    ]


def _digest(_: Any, d: dict[str, Any]) -> _Wording:
    return _("relais: the news of {day}"), [_("What happened since the last summary:")]


def _test(_: Any, d: dict[str, Any]) -> _Wording:
    return _("relais: test message"), [
        _("This is a test message for {person}. If you read it, relais can reach you here."),
    ]


_WORDING = {
    Kind.FILE_REJECTED: _file_rejected,
    Kind.POST_REJECTED: _post_rejected,
    Kind.PUBLISHED: _published,
    Kind.FAILED: _failed,
    Kind.CANCELLED: _cancelled,
    Kind.MISSED: _missed,
    Kind.APPROVAL_WAITING: _approval_waiting,
    Kind.NEEDS_ATTENTION: _needs_attention,
    Kind.ACCOUNT_PAUSED: _account_paused,
    Kind.TOKEN_EXPIRING: _token_expiring,
    Kind.SERIES_EMPTY: _series_empty,
    Kind.DAEMON_RECOVERED: _daemon_recovered,
    Kind.DIGEST: _digest,
    Kind.TEST: _test,
}
