"""What people read, in their language: gettext catalogues (Babel) in French and English.

The catalogues are the ``.po`` files under ``locales/``, read at run time (compiled in
memory on first use), so editing a translation needs no build step. Messages are written
in English in the code (``t.gettext("...")``); ``tests/unit/i18n`` fails when a catalogue
lacks one. ``make messages`` extracts them again and merges them into the catalogues.
"""

from scheduler.i18n.translator import LANGUAGES, N_, Translator, translator

__all__ = ["LANGUAGES", "N_", "Translator", "translator"]
