"""Counting text as the fediverse platforms count it: grapheme clusters, not code points.

Mastodon and Bluesky both count user-perceived characters (an emoji with a skin tone, a
flag or an accented letter written as two code points is one), which Python's ``len``
does not. The ``regex`` module's ``\\X`` is the Unicode extended grapheme cluster of
UAX #29, the same segmentation as ActiveSupport's ``grapheme_length`` (Mastodon) and
JavaScript's ``Intl.Segmenter`` (Bluesky's clients).
"""

from __future__ import annotations

import regex

_GRAPHEME = regex.compile(r"\X")


def graphemes(text: str) -> int:
    """How many user-perceived characters ``text`` has."""
    return len(_GRAPHEME.findall(text))
