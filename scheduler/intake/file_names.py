"""File names as the system gives them: any bytes but ``/`` and NUL, up to NAME_MAX.

Python hands a name that is not UTF-8 over as a ``str`` with surrogate escapes; it stays
that way for every call to the system (it round-trips to the same bytes) and is shown
escaped (``caf\\xe9.yaml``) wherever a person reads it: a log, a ``.error`` file, a
terminal. Control characters are escaped too, so a name cannot move a terminal's cursor
or recolour it.

A file moved aside keeps its name when it can. When the name is already near NAME_MAX,
the moved copy and its ``.error`` sibling get a shortened name (a prefix, a hash of the
whole name, the suffix), and the ``.error`` text names the original file.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import shutil
import unicodedata
from datetime import datetime
from pathlib import Path

ERROR_SUFFIX = ".error"
_DEFAULT_NAME_MAX = 255


# Characters that reorder what follows on screen (the "Trojan Source" trick).
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def shown(text: str, *, escape_backslash: bool = True) -> str:
    """``text`` safe for a person's eyes: undecodable bytes, control characters and bidi
    controls escaped as ``\\xNN`` (or ``\\uNNNN``), everything else as it is. With
    ``escape_backslash``, a backslash is doubled so that an escape reads unambiguously."""
    out: list[str] = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") or char in _BIDI_CONTROLS:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        elif char == "\\" and escape_backslash:
            out.append("\\\\")
        else:
            out.append(char)
    return "".join(out)


def name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return _DEFAULT_NAME_MAX


def _length(name: str) -> int:
    return len(os.fsencode(name))


def shortened(name: str, limit: int) -> str:
    """``name`` cut to ``limit`` bytes, keeping its suffix and a hash of the whole name
    (two long names sharing a prefix stay apart)."""
    if _length(name) <= limit:
        return name
    stem, suffix = os.path.splitext(name)
    if _length(suffix) > 16:
        stem, suffix = name, ""
    tag = "~" + hashlib.sha256(os.fsencode(name)).hexdigest()[:10]
    room = limit - _length(tag) - _length(suffix)
    raw = os.fsencode(stem)[: max(room, 1)]
    # Do not cut a UTF-8 character in half: drop the bytes of the partial character.
    prefix = raw.decode("utf-8", errors="ignore") if _is_utf8(stem) else os.fsdecode(raw)
    while _length(prefix) > room:
        prefix = prefix[:-1]
    return prefix + tag + suffix


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def free_target(target: Path, now: datetime, *, with_error_file: bool) -> Path:
    """A name in ``target``'s folder taken neither by a file nor by a ``.error``; with
    ``with_error_file``, short enough for its ``.error`` sibling to fit too."""
    target.parent.mkdir(parents=True, exist_ok=True)
    limit = name_max(target.parent) - (len(ERROR_SUFFIX) if with_error_file else 0)
    name = shortened(target.name, limit)

    def taken(candidate: str) -> bool:
        here = target.parent / candidate
        return os.path.lexists(here) or os.path.lexists(here.with_name(candidate + ERROR_SUFFIX))

    if not taken(name):
        return target.with_name(name)
    stem, suffix = os.path.splitext(name)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    for counter in itertools.count():
        extra = f".{stamp}" + (f"-{counter}" if counter else "")
        # Shortened, the hash covers the whole name with its stamp and counter: each try
        # gives another name.
        candidate = shortened(f"{stem}{extra}{suffix}", limit)
        if not taken(candidate):
            return target.with_name(candidate)
    raise AssertionError("unreachable")


def move_aside(source: Path, target: Path, now: datetime, *, with_error_file: bool) -> Path:
    """Move without overwriting: an earlier file of the same name keeps its place."""
    moved = free_target(target, now, with_error_file=with_error_file)
    # Another daemon sharing the inbox may have moved it first; the post is queued once.
    with contextlib.suppress(FileNotFoundError):
        shutil.move(source, moved)
    return moved


def shown_lines(text: str) -> str:
    """Like :func:`shown`, line by line: newlines and tabs kept for layout, every other
    control character escaped (terminal output)."""
    return "\n".join(
        "\t".join(shown(part, escape_backslash=False) for part in line.split("\t"))
        for line in text.split("\n")
    )
