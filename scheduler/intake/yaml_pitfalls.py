"""The plain-scalar traps of YAML that people writing French fall into, told in their words.

French typography puts a space before ``:``, so ``text: Exposition : les oiseaux`` is a
YAML error ("mapping values are not allowed here"); ``Atelier #lecture`` silently loses
everything after ``#`` (a comment); a value starting with ``@``, `````, ``*``, ``&``, ``!``
or ``%`` is an error or means something else. :func:`find_pitfalls` reads the raw lines
and says, French first then English, how to write each one: in quotes, or as a block
(``text: |`` on its own line, the text indented below).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_KEY_VALUE = re.compile(r"^(?P<indent>\s*)(?:-\s+)?(?P<key>[A-Za-z_][\w-]*):[ \t]+(?P<value>.*)$")
# Values that are not plain scalars: quoted, block, flow collections.
_NOT_PLAIN = ('"', "'", "|", ">", "[", "{")
# Keys holding people's words, the only ones looked at (an anchor elsewhere is meant).
# " #word" in them is a hashtag lost as a comment ("  # a note", with a space after #, is
# taken for the comment it looks like).
_HASHTAG = re.compile(r"\s#\S")
_PROSE = frozenset({"text", "title", "alt", "author", "campaign"})
_STARTS = {
    "@": ("« @ », réservé en YAML", "'@', reserved in YAML"),
    "`": ("« ` », réservé en YAML", "'`', reserved in YAML"),
    "*": ("« * », qui y désigne un alias", "'*', which there names an alias"),
    "&": ("« & », qui y définit une ancre", "'&', which there defines an anchor"),
    "!": ("« ! », qui y désigne un type", "'!', which there names a type"),
    "%": ("« % », qui y annonce une directive", "'%', which there starts a directive"),
}


@dataclass(frozen=True)
class Pitfall:
    line: int  # 1-based
    key: str
    message: str


def find_pitfalls(text: str) -> list[Pitfall]:
    """Every plain value on a ``key: value`` line that YAML will not read as written."""
    found: list[Pitfall] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _KEY_VALUE.match(line)
        if match is None:
            continue
        key, value = match["key"], match["value"].rstrip()
        if key not in _PROSE or not value or value.startswith(_NOT_PLAIN) or value.startswith("#"):
            continue
        message = _problem(key, value)
        if message is not None:
            found.append(Pitfall(line=number, key=key, message=message))
    return found


def _problem(key: str, value: str) -> str | None:
    if value.startswith("!!"):
        return None  # an explicit YAML tag is meant as one (and refused as such)
    if value[0] in _STARTS:
        french, english = _STARTS[value[0]]
        return _advice(
            key, value, f"la valeur commence par {french}", f"the value starts with {english}"
        )
    if " : " in value or value.endswith(" :"):
        return _advice(
            key, value,
            "« : » précédé d'une espace y commence une nouvelle clé",
            "' : ' there starts a new key",
        )  # fmt: skip
    if _HASHTAG.search(value):
        return _advice(
            key, value,
            "tout ce qui suit « # » après une espace y est un commentaire, donc perdu",
            "everything after ' #' there is a comment, so it is dropped",
        )  # fmt: skip
    return None


def _advice(key: str, value: str, french: str, english: str) -> str:
    quoted = value.replace("\\", "\\\\").replace('"', '\\"')
    if len(quoted) > 40:
        quoted = quoted[:39] + "…"
    return (
        f'dans {key}, {french} : mettez la valeur entre guillemets ({key}: "{quoted}") ou '
        f"écrivez {key}: | seul sur sa ligne et le texte en dessous, en retrait — in {key}, "
        f'{english}: put the value in quotes ({key}: "{quoted}") or write {key}: | alone on '
        "its line with the text indented below"
    )
