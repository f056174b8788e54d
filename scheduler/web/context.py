"""What every handler of the desk needs: the :class:`Desk` (queue, clock, people,
templates), found on ``request.app.state.desk``, and the small helpers of a response
(messages shown once, redirects back to the page a form came from)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from scheduler.app import App
from scheduler.i18n import Translator, translator
from scheduler.people.directory import Directory
from scheduler.people.person import Person
from scheduler.web.auth import LoginThrottle, csrf_token
from scheduler.web.queue_view import PreviewCache
from scheduler.web.render import page, words

STATIC_DIR = Path(__file__).parent / "static"
# Colours of the libraries, in the order of config.yaml; each has a 4.5:1 contrast with
# white text (WCAG AA), so a badge stays readable.
LIBRARY_COLOURS = (
    "#1f5f99", "#8a3b12", "#2e6b2f", "#7a2a7a", "#9b1c31", "#225c5c",
    "#5b4a14", "#3d3d8f", "#6b4226", "#4a4a4a",
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Desk:
    app: App
    people: Directory
    environment: Environment
    throttle: LoginThrottle
    previews: PreviewCache
    # The pages read through their own engine (scheduler.db.engines, ``reader``): on SQLite
    # a page never holds the write lock the daemon's claims need. Decisions use the app's.
    reads: sessionmaker[Session]

    @property
    def trusted_header(self) -> str | None:
        return self.app.config.web.trusted_user_header

    def translator_for(self, person: Person | None) -> Translator:
        language = person.language if person else self.app.config.language
        return translator(language, self.app.config.zone)

    def colours(self) -> dict[str, int]:
        """Each library's colour, as the number of its ``lib-N`` class in desk.css."""
        return {
            key: index % len(LIBRARY_COLOURS) for index, key in enumerate(self.app.config.libraries)
        }

    def render(
        self,
        request: Request,
        template: str,
        person: Person | None,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
    ) -> HTMLResponse:
        t = self.translator_for(person)
        config = self.app.config
        full = {
            **words(t),
            "request": request,
            "person": person,
            "csrf": csrf_token(request),
            "flash": request.session.pop("flash", []),
            "libraries": {key: library.name for key, library in config.libraries.items()},
            "accounts": {name: account.label or name for name, account in config.accounts.items()},
            "colours": self.colours(),
            "zone": config.zone,
            **(context or {}),
        }
        return page(self.environment, request, template, full, status_code=status_code)


def desk_of(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


def flash(request: Request, message: str, kind: str = "info") -> None:
    request.session.setdefault("flash", []).append({"kind": kind, "text": message})


def back(request: Request, default: str) -> RedirectResponse:
    """Back where the form came from, if that is a page of the desk (never another site)."""
    target = request.query_params.get("next") or default
    if not target.startswith("/") or target.startswith("//"):
        target = default
    return RedirectResponse(target, status_code=303)
