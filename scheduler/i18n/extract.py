"""Find every message in the code and templates, and merge them into the catalogues.

``python -m scheduler.i18n.extract`` (``make messages``) adds the new messages to each
``.po`` file (empty, for a translator to fill) and marks the vanished ones obsolete. The
test of the catalogues uses :func:`extract_messages` to fail on a missing translation.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from scheduler.i18n.translator import DOMAIN, LANGUAGES, catalogue_path

SCHEDULER_DIR = Path(__file__).parent.parent
METHOD_MAP = [
    ("**.py", "python"),
    ("**/templates/**.html", "jinja2.ext:babel_extract"),
]
OPTIONS_MAP = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}


def extract_messages() -> Catalog:
    template = Catalog(domain=DOMAIN, project="relais")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(SCHEDULER_DIR), METHOD_MAP, OPTIONS_MAP
    ):
        template.add(
            message,
            None,
            [(filename, lineno)],
            auto_comments=comments,
            context=context,
        )
    return template


def update_catalogues() -> None:
    template = extract_messages()
    for language in LANGUAGES:
        path = catalogue_path(language)
        with path.open("rb") as po:
            catalogue = read_po(po, locale=language, domain=DOMAIN)
        catalogue.update(template, no_fuzzy_matching=True)
        with path.open("wb") as po:
            write_po(po, catalogue, width=100, omit_header=False, sort_output=True)


if __name__ == "__main__":
    update_catalogues()
