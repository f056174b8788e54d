"""Pages from Jinja2 templates: autoescaped always, words from the person's catalogue."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from scheduler.i18n import Translator
from scheduler.web.labels import ROLE_LABELS, state_label, unit_label

TEMPLATES_DIR = Path(__file__).parent / "templates"


def make_environment() -> Environment:
    # Autoescape on every template: a post's text is data, never markup.
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


def words(t: Translator) -> dict[str, Any]:
    """What every template gets to speak the person's language."""

    def gettext(message: str, **values: Any) -> str:
        text = t.gettext(message)
        return text % values if values else text

    def ngettext(singular: str, plural: str, count: int, **values: Any) -> str:
        return t.ngettext(singular, plural, count) % {"num": count, **values}

    return {
        "_": gettext,
        "gettext": gettext,
        "ngettext": ngettext,
        "t": t,
        "lang": t.language,
        "state_label": lambda state: state_label(t, state),
        "unit_label": lambda unit: unit_label(t, unit),
        "role_label": lambda role: t.gettext(ROLE_LABELS.get(role) or role),
    }


def page(
    environment: Environment,
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
) -> HTMLResponse:
    html = environment.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code)
