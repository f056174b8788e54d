"""What a platform accepts of an image, as data: checked offline, refused by the fakes,
quoted by the docs, and the target of an opt-in conversion.

A connector writes its rules once (``INSTAGRAM_IMAGES`` in :mod:`connectors.instagram`);
``relais check`` calls :func:`image_problems`, the test fakes call :func:`refusal` on the
bytes they download, and :func:`fit` makes a conforming JPEG copy with Pillow.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from connectors.base import MediaItem, Problem

# Pillow's format names, as MIME types.
_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}


@dataclass(frozen=True, kw_only=True)
class ImageRules:
    """``min_ratio`` and ``max_ratio`` bound width / height; ``source`` names the document."""

    platform: str
    formats: frozenset[str]
    max_bytes: int | None = None
    min_ratio: Fraction | None = None
    max_ratio: Fraction | None = None
    source: str = ""

    def describe(self) -> str:
        """One sentence for docs and messages."""
        parts = [" or ".join(sorted(kind.split("/")[1].upper() for kind in self.formats))]
        if self.max_bytes is not None:
            parts.append(f"at most {_size(self.max_bytes)}")
        if self.min_ratio is not None and self.max_ratio is not None:
            parts.append(
                f"width / height from {_ratio(self.min_ratio)} to {_ratio(self.max_ratio)}"
            )
        return ", ".join(parts)


@dataclass(frozen=True, kw_only=True)
class Measured:
    mime_type: str | None  # None: not an image Pillow can read
    width: int
    height: int
    size: int


def measure(data: bytes) -> Measured:
    try:
        with Image.open(io.BytesIO(data)) as image:
            mime = _MIME.get(image.format or "")
            width, height = image.size
    except (UnidentifiedImageError, OSError):
        return Measured(mime_type=None, width=0, height=0, size=len(data))
    return Measured(mime_type=mime, width=width, height=height, size=len(data))


def violations(rules: ImageRules, found: Measured) -> list[str]:
    """What is wrong with an image, in words; empty when the platform takes it."""
    wrong: list[str] = []
    if found.mime_type is None or found.mime_type not in rules.formats:
        kind = found.mime_type.split("/")[1].upper() if found.mime_type else "not an image"
        wrong.append(f"it is {kind}; {rules.platform} takes {rules.describe()}")
    if rules.max_bytes is not None and found.size > rules.max_bytes:
        wrong.append(
            f"it is {_size(found.size)}; {rules.platform} takes at most {_size(rules.max_bytes)}"
        )
    if found.height and (rules.min_ratio is not None or rules.max_ratio is not None):
        ratio = Fraction(found.width, found.height)
        low = rules.min_ratio is not None and ratio < rules.min_ratio
        high = rules.max_ratio is not None and ratio > rules.max_ratio
        if low or high:
            wrong.append(
                f"it is {found.width}×{found.height} (width / height {float(ratio):.2f}); "
                f"{rules.platform} takes {_ratio(rules.min_ratio)} to {_ratio(rules.max_ratio)}"
            )
    return wrong


def image_problems(
    rules: ImageRules, item: MediaItem, *, convertible: bool = False
) -> list[Problem]:
    """``relais check``: the image's problems, each naming the file; ``convertible`` (the
    account converts images) leaves out what :func:`fit` repairs."""
    if not item.mime_type.startswith("image/") or not item.path.is_file():
        return []
    wrong = violations(rules, measure(item.path.read_bytes()))
    if convertible:
        return []
    hint = " (or set the account option convert_images: true)"
    return [Problem(field="media", message=f"{item.path.name}: {text}{hint}") for text in wrong]


def refusal(rules: ImageRules, data: bytes) -> str | None:
    """For the fakes: the first reason the platform refuses these bytes, or None."""
    wrong = violations(rules, measure(data))
    return wrong[0] if wrong else None


def fit(rules: ImageRules, source: Path, target: Path) -> Path:
    """A JPEG copy of ``source`` within ``rules``: padded with white to the nearest allowed
    ratio (nothing is cropped off a poster), scaled down and recompressed until it is small
    enough. Written to ``target`` (atomically) unless it is already there."""
    if target.exists():
        return target
    with Image.open(source) as opened:
        image = opened.convert("RGB")
    width, height = image.size
    ratio = Fraction(width, height)
    if rules.min_ratio is not None and ratio < rules.min_ratio:
        width = _ceil(height * rules.min_ratio)
    elif rules.max_ratio is not None and ratio > rules.max_ratio:
        height = _ceil(width / rules.max_ratio)
    if (width, height) != image.size:
        canvas = Image.new("RGB", (width, height), "white")
        canvas.paste(image, ((width - image.width) // 2, (height - image.height) // 2))
        image = canvas
    data = _jpeg(image, quality=90)
    while rules.max_bytes is not None and len(data) > rules.max_bytes:
        image = image.resize((max(1, image.width * 4 // 5), max(1, image.height * 4 // 5)))
        data = _jpeg(image, quality=85)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(data)
    partial.replace(target)
    return target


def _jpeg(image: Image.Image, *, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _ceil(value: Fraction) -> int:
    return -(-value.numerator // value.denominator)


def _ratio(value: Fraction | None) -> str:
    if value is None:
        return "any"
    if value < 1:
        return f"{value.numerator}:{value.denominator}"
    return f"{float(value):g}:1"


def _size(count: int) -> str:
    return f"{count / 1024 / 1024:g} MiB" if count >= 1024 * 1024 else f"{count} bytes"
