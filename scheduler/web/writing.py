"""The post form: a contributor writes a post, sees ``relais check``'s problems next to
the fields and each platform's preview, then saves it into their library's inbox folder."""

from __future__ import annotations

import filetype
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from scheduler.i18n import N_
from scheduler.intake.check import InvalidFile, check_files
from scheduler.people.person import Person
from scheduler.web.auth import Forbidden, check_csrf, logged_in
from scheduler.web.context import Desk, desk_of, flash
from scheduler.web.post_draft import (
    PICTURE_SLOTS,
    Drafts,
    PostForm,
    field_of_line,
    key_lines,
    post_yaml,
    publish_draft,
    slug,
)

PICTURE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
NO_LIBRARY = N_("You write for no library; ask an administrator to add one to your name.")
NOT_YOUR_LIBRARY = N_("You may write only for your libraries.")


def _drafts(desk: Desk) -> Drafts:
    return Drafts(desk.app.config.path(desk.app.config.state_dir) / "desk-drafts")


def _writable(desk: Desk, person: Person) -> list[str]:
    return [key for key in desk.app.config.libraries if person.writes_for(key)]


async def write_page(request: Request) -> Response:
    desk = desk_of(request)
    person = logged_in(request, desk.people, desk.trusted_header)
    libraries = _writable(desk, person)
    if not libraries:
        raise Forbidden(NO_LIBRARY)
    form = PostForm(library=libraries[0], author=person.name)
    draft = _drafts(desk).new()
    _remember(request, draft)
    return _form_page(desk, request, person, form, draft, problems={}, previews=())


async def write(request: Request) -> Response:
    desk = desk_of(request)
    person = logged_in(request, desk.people, desk.trusted_header)
    limit = desk.app.config.web.max_upload_bytes
    data = await request.form(max_files=PICTURE_SLOTS, max_fields=60, max_part_size=limit)
    check_csrf(request, data)
    t = desk.translator_for(person)
    draft = str(data.get("draft", ""))
    if draft not in request.session.get("drafts", []):
        flash(request, t.gettext("This draft has expired; start again."), "error")
        return RedirectResponse("/write", status_code=303)
    form = _read_form(data, person)
    if form.library not in _writable(desk, person):
        raise Forbidden(NOT_YOUR_LIBRARY)
    drafts = _drafts(desk)
    problems: dict[str, list[str]] = {}
    for slot in range(PICTURE_SLOTS):
        if data.get(f"drop_{slot}"):
            drafts.drop_picture(draft, slot)
        upload = data.get(f"picture_{slot}")
        if isinstance(upload, UploadFile) and upload.filename:
            content = await upload.read(limit + 1)
            kind = filetype.guess_mime(content[:8192]) if content else None
            if len(content) > limit:
                problems.setdefault("media", []).append(
                    t.gettext("%(file)s is too large (at most %(size)d MB).")
                    % {"file": upload.filename, "size": limit // (1024 * 1024)}
                )
            elif kind not in PICTURE_TYPES:
                problems.setdefault("media", []).append(
                    t.gettext("%(file)s is not a JPEG, PNG, GIF or WebP picture.")
                    % {"file": upload.filename}
                )
            else:
                drafts.keep_picture(draft, slot, upload.filename, content)
    pictures = drafts.pictures(draft)
    text = post_yaml(form.post_file(pictures, "media/"))
    path = drafts.write(draft, text)
    lines = key_lines(text)
    now = desk.app.clock.now()
    [report] = check_files([path], config=desk.app.config, connectors=desk.app.connectors, now=now)
    if isinstance(report, InvalidFile):
        for problem in report.problems:
            problems.setdefault(field_of_line(lines, problem.line), []).append(problem.message)
    previews = () if isinstance(report, InvalidFile) else report.previews
    if problems or data.get("action") != "save":
        status = 422 if problems else 200
        return _form_page(desk, request, person, form, draft, problems, previews, status)
    key = f"{now.astimezone(desk.app.config.zone):%Y-%m-%d}-{slug(form.title or form.text)}"
    key = f"{key}-{draft[:6].lower().replace('_', 'x').replace('-', 'x')}"
    publish_draft(drafts, draft, form, desk.app.config.inbox_dir, key)
    flash(
        request,
        t.gettext("Saved. relais takes it from the inbox within a few seconds (%(key)s).")
        % {"key": key},
    )
    return RedirectResponse("/mine", status_code=303)


def _read_form(data: FormData, person: Person) -> PostForm:
    def text(name: str) -> str:
        value = data.get(name, "")
        return value if isinstance(value, str) else ""

    return PostForm(
        library=text("library"),
        author=person.name,
        title=text("title"),
        text=text("text"),
        link=text("link"),
        accounts=tuple(v for v in data.getlist("to") if isinstance(v, str)),
        when=text("when") or "next",
        at=text("at"),
        window_from=text("window_from"),
        window_until=text("window_until"),
        series=text("series"),
        alts=tuple(text(f"alt_{slot}") for slot in range(PICTURE_SLOTS)),
    )


def _remember(request: Request, draft: str) -> None:
    drafts = [d for d in request.session.get("drafts", []) if isinstance(d, str)]
    request.session["drafts"] = [*drafts[-4:], draft]


def _form_page(
    desk: Desk,
    request: Request,
    person: Person,
    form: PostForm,
    draft: str,
    problems: dict[str, list[str]],
    previews: tuple[object, ...],
    status_code: int = 200,
) -> Response:
    config = desk.app.config
    return desk.render(
        request,
        "write.html",
        person,
        {
            "form": form,
            "draft": draft,
            "problems": problems,
            "previews": previews,
            "writable": _writable(desk, person),
            "pictures": _drafts(desk).pictures(draft),
            "slots": range(PICTURE_SLOTS),
            "series_names": sorted(config.series),
            "now_local": desk.app.clock.now().astimezone(config.zone).strftime("%Y-%m-%dT%H:%M"),
        },
        status_code=status_code,
    )


WRITING_ROUTES = [
    Route("/write", write_page, methods=["GET"]),
    Route("/write", write, methods=["POST"]),
]
