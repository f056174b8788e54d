"""One language's words and formats: gettext, ngettext, and dates the way that language
writes them (Babel's CLDR data: "mercredi 2 décembre 2026, 10:00" / "Wednesday, ...")."""

from __future__ import annotations

import functools
import gettext as gettext_module
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel import dates as babel_dates
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("fr", "en")
DOMAIN = "relais"
LOCALES_DIR = Path(__file__).parent / "locales"


def N_(message: str) -> str:
    """Marks a message for the catalogues where it is defined; translated where shown."""
    return message


def catalogue_path(language: str) -> Path:
    return LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def _translations(language: str) -> gettext_module.GNUTranslations:
    with catalogue_path(language).open("rb") as po:
        catalogue = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return gettext_module.GNUTranslations(compiled)


@functools.lru_cache(maxsize=4096)
def _clock_text(language: str, hour: int, minute: int) -> str:
    # A calendar page shows thousands of times of day; Babel formats each one only once.
    return babel_dates.format_time(
        datetime(2000, 1, 3, hour, minute), format="short", locale=language
    )


@functools.lru_cache(maxsize=4096)
def _day_text(language: str, day: date) -> str:
    return babel_dates.format_skeleton("yMMMEd", day, locale=language)


@dataclass(frozen=True)
class Translator:
    """Words and date formats of one language, times shown in ``zone``."""

    language: str
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    def gettext(self, message: str) -> str:
        return _translations(self.language).gettext(message)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        return _translations(self.language).ngettext(singular, plural, count)

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.language)

    def format_date(self, day: date, form: str = "full") -> str:
        """``full``: "mercredi 2 décembre 2026"; ``medium``: "2 déc. 2026"."""
        return babel_dates.format_date(day, format=form, locale=self.language)

    def format_day_month(self, day: date) -> str:
        """A day in a calendar's header: "mer. 2 déc." / "Wed, Dec 2"."""
        return babel_dates.format_skeleton("MMMEd", day, locale=self.language)

    def format_month(self, day: date) -> str:
        """A month's title: "décembre 2026" / "December 2026"."""
        return babel_dates.format_skeleton("yMMMM", day, locale=self.language)

    def format_datetime(self, moment: datetime, form: str = "short-day") -> str:
        """An aware moment in the local time zone: by default "jeu. 3 déc. 2026, 16:00" /
        "Thu, Dec 3, 2026, 4:00 PM"; else Babel's ``full``, ``long``, ``medium``, ``short``."""
        if form != "short-day":
            return babel_dates.format_datetime(
                moment, format=form, tzinfo=self.zone, locale=self.language
            )
        local = moment.astimezone(self.zone)
        return f"{_day_text(self.language, local.date())}, {self.format_time(moment)}"

    def format_time(self, moment: datetime) -> str:
        """The local time of day: "10:00" / "10:00 AM"."""
        local = moment.astimezone(self.zone)
        return _clock_text(self.language, local.hour, local.minute)


def translator(language: str, zone: ZoneInfo | None = None) -> Translator:
    """The translator of ``language`` (fr or en)."""
    if language not in LANGUAGES:
        raise ValueError(f"relais speaks {', '.join(LANGUAGES)}, not {language!r}")
    return Translator(language, zone or ZoneInfo("UTC"))
