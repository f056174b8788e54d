"""Bluesky's rich text: facets on UTF-8 byte offsets, and record keys derived from a delivery.

Facets follow the official client's detection (bluesky-social/atproto,
``packages/api/src/rich-text/detection.ts`` and ``util.ts``): a mention is ``@`` + a
handle with a dot, preceded by the start, a space or ``(``; a link is an ``http(s)://``
address, without a trailing ``.,;:!?`` or an unbalanced ``)``; a hashtag is ``#`` + a
word that is not only digits, without trailing punctuation, at most 64 graphemes.
Offsets count bytes of the UTF-8 text (``app.bsky.richtext.facet#byteSlice``): counting
code points or UTF-16 units puts every facet after an accented letter or an emoji in
the wrong place, the classic bug of other tools.

A post's record key must be a TID (``app.bsky.feed.post`` has ``"key": "tid"``; the PDS
refuses others for known lexicons): 13 characters of base32-sortable, 53 bits of
microseconds then 10 bits of "clock id". relais derives it from the moment of the first
attempt and the delivery id, so every resend of one delivery names the same record and a
second post cannot be created (atproto specs: record-key, tid).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import regex

from connectors.text_count import graphemes

FacetKind = Literal["mention", "link", "tag"]
MAX_TAG_GRAPHEMES = 64

_MENTION = re.compile(r"(^|\s|\()@([a-zA-Z0-9.-]+)\b")
_URL = re.compile(r"(^|\s|\()(https?://\S+)", re.IGNORECASE)
_INVISIBLE = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
_TAG = regex.compile(
    rf"(^|\s)[#＃]((?!\ufe0f)[^\s{_INVISIBLE}]*[^\d\s\p{{P}}{_INVISIBLE}]+[^\s{_INVISIBLE}]*)?"
)
_TRAILING_PUNCTUATION = regex.compile(r"\p{P}+$")
_HANDLE = re.compile(r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]*)$")
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, kw_only=True)
class Facet:
    """A feature on bytes ``[byte_start, byte_end)`` of the UTF-8 text; ``value`` is the
    handle (to resolve to a DID), the full URI or the tag without ``#``."""

    kind: FacetKind
    byte_start: int
    byte_end: int
    value: str


def detect_facets(text: str) -> list[Facet]:
    facets: list[Facet] = []

    def byte_offset(index: int) -> int:
        return len(text[:index].encode("utf-8"))

    for match in _MENTION.finditer(text):
        handle = match.group(2).rstrip(".-")
        if not _HANDLE.match(handle):
            continue  # probably not a handle
        start = match.start(2) - 1
        facets.append(
            Facet(
                kind="mention",
                byte_start=byte_offset(start),
                byte_end=byte_offset(start + 1 + len(handle)),
                value=handle,
            )
        )
    for match in _URL.finditer(text):
        uri, start = _trimmed(match.group(2)), match.start(2)
        facets.append(
            Facet(
                kind="link",
                byte_start=byte_offset(start),
                byte_end=byte_offset(start + len(uri)),
                value=uri,
            )
        )
    for tag_match in _TAG.finditer(text):
        tag = tag_match.group(2)
        if not tag:
            continue
        tag = _TRAILING_PUNCTUATION.sub("", tag.strip())
        if not tag or graphemes(tag) > MAX_TAG_GRAPHEMES:
            continue
        start = tag_match.start() + len(tag_match.group(1))
        facets.append(
            Facet(
                kind="tag",
                byte_start=byte_offset(start),
                byte_end=byte_offset(start + 1 + len(tag)),
                value=tag,
            )
        )
    return sorted(facets, key=lambda facet: facet.byte_start)


def shorten_links(text: str) -> tuple[str, list[Facet]]:
    """The text with each http(s) address shown short, as Bluesky's app writes them
    (``toShortUrl`` in bluesky-social/social-app: host and path without the scheme, past
    30 characters the first 27 and ``...``), and the link facets that keep the full
    address. A link tagged for UTM is 120 characters; Bluesky allows 300 in all."""
    pieces: list[str] = []
    facets: list[Facet] = []
    position = 0
    size = 0
    for match in _URL.finditer(text):
        uri, start = _trimmed(match.group(2)), match.start(2)
        before = text[position:start]
        display = _short(uri)
        pieces += [before, display]
        size += len(before.encode("utf-8"))
        facets.append(
            Facet(
                kind="link",
                byte_start=size,
                byte_end=size + len(display.encode("utf-8")),
                value=uri,
            )
        )
        size += len(display.encode("utf-8"))
        position = start + len(uri)
    pieces.append(text[position:])
    return "".join(pieces), facets


def _trimmed(uri: str) -> str:
    if uri[-1] in ".,;:!?":
        uri = uri[:-1]
    if uri.endswith(")") and "(" not in uri:
        uri = uri[:-1]
    return uri


def _short(uri: str) -> str:
    shown = re.sub(r"^https?://", "", uri, flags=re.IGNORECASE)
    if shown.endswith("/") and shown.count("/") == 1:
        shown = shown[:-1]
    return shown if len(shown) <= 30 else shown[:27] + "..."


def record_key(delivery_id: str, first_attempt: datetime) -> str:
    """The TID of a delivery's post: the first attempt's microseconds, and a clock id
    taken from the delivery id (two deliveries sent in the same microsecond differ)."""
    microseconds = int(first_attempt.timestamp() * 1_000_000) & ((1 << 53) - 1)
    clock_id = int.from_bytes(hashlib.sha256(delivery_id.encode()).digest()[:2], "big") & 0x3FF
    value = (microseconds << 10) | clock_id
    characters = []
    for _ in range(13):
        characters.append(_TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(characters))


_TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")


def is_tid(value: str) -> bool:
    return _TID.match(value) is not None
