"""The catalogues: every message of the code and templates exists in French and English."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po

from scheduler.i18n import LANGUAGES, translator
from scheduler.i18n.extract import extract_messages
from scheduler.i18n.translator import DOMAIN, catalogue_path


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_has_a_translation(language: str) -> None:
    with catalogue_path(language).open("rb") as po:
        catalogue = read_po(po, locale=language, domain=DOMAIN)
    missing = []
    for message in extract_messages():
        if not message.id:
            continue
        found = catalogue.get(message.id, context=message.context)
        strings = found.string if found else None
        texts = strings if isinstance(strings, tuple) else (strings,)
        if found is None or found.fuzzy or not all(texts):
            first = message.id[0] if isinstance(message.id, tuple) else message.id
            missing.append(f"{first!r} ({message.locations[0][0]}:{message.locations[0][1]})")
    assert not missing, (
        f"{catalogue_path(language)} lacks {len(missing)} translations; run `make messages` "
        "and fill them in:\n" + "\n".join(missing)
    )


def test_dates_are_written_the_languages_way() -> None:
    zurich = ZoneInfo("Europe/Zurich")
    french, english = translator("fr", zurich), translator("en", zurich)
    assert french.format_date(date(2026, 12, 2)) == "mercredi 2 décembre 2026"
    assert english.format_date(date(2026, 12, 2)) == "Wednesday, December 2, 2026"
    assert french.format_month(date(2026, 12, 2)) == "décembre 2026"
    moment = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # 10:00 in Zurich
    assert french.format_time(moment) == "10:00"
    assert english.format_time(moment).startswith("10:00")


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="relais speaks"):
        translator("de")
