from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from scheduler.intake.media import MediaError, MediaRef, resolve_media

JPEG = bytes.fromhex("ffd8ffe000104a4649460001") + b"\x00" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isommp41" + b"\x00" * 200
OTHER_BRAND_MP4 = b"\x00\x00\x00\x14ftypavc1\x00\x00\x00\x00avc1" + b"\x00" * 200


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    root = tmp_path / "inbox"
    (root / "eaux-vives").mkdir(parents=True)
    return Path(os.path.realpath(root))


def resolve(
    inbox: Path, reference: str, *, max_bytes: int = 10_000, alt: str | None = None
) -> MediaRef:
    return resolve_media(
        reference, alt=alt, base_dir=inbox / "eaux-vives", root=inbox, max_bytes=max_bytes
    )


def refused(inbox: Path, reference: str, *, max_bytes: int = 10_000) -> str:
    with pytest.raises(MediaError) as caught:
        resolve(inbox, reference, max_bytes=max_bytes)
    return str(caught.value)


def test_a_jpeg_is_measured_sniffed_and_hashed(inbox: Path) -> None:
    photo = inbox / "eaux-vives" / "escalade.jpg"
    photo.write_bytes(JPEG)

    ref = resolve(inbox, "escalade.jpg", alt="Trois bibliothécaires")

    assert ref == MediaRef(
        source=photo,
        alt="Trois bibliothécaires",
        mime_type="image/jpeg",
        size=len(JPEG),
        sha256=hashlib.sha256(JPEG).hexdigest(),
    )


def test_a_subfolder_and_an_uppercase_extension_are_fine(inbox: Path) -> None:
    (inbox / "eaux-vives" / "photos").mkdir()
    (inbox / "eaux-vives" / "photos" / "A.PNG").write_bytes(PNG)

    assert resolve(inbox, "photos/A.PNG").mime_type == "image/png"


@pytest.mark.parametrize(
    ("name", "content"), [("v.mp4", MP4), ("v.mov", MP4), ("v.mp4", OTHER_BRAND_MP4)]
)
def test_videos_of_the_iso_media_family_are_accepted(
    inbox: Path, name: str, content: bytes
) -> None:
    (inbox / "eaux-vives" / name).write_bytes(content)

    assert resolve(inbox, name).mime_type.startswith("video/")


def test_a_file_elsewhere_in_the_inbox_may_be_reached_with_dotdot(inbox: Path) -> None:
    (inbox / "shared.jpg").write_bytes(JPEG)

    assert resolve(inbox, "../shared.jpg").source == inbox / "shared.jpg"


def test_dotdot_out_of_the_inbox_is_refused(inbox: Path) -> None:
    (inbox.parent / "secret.jpg").write_bytes(JPEG)

    assert refused(inbox, "../../secret.jpg") == (
        "'../../secret.jpg' points outside the inbox; put the file next to the post"
    )


@pytest.mark.parametrize("reference", ["/etc/passwd", "~/photo.jpg", "C:\\photos\\a.jpg"])
def test_absolute_paths_are_refused(inbox: Path, reference: str) -> None:
    assert "is an absolute path" in refused(inbox, reference)


def test_a_symlink_out_of_the_inbox_is_refused_without_opening_its_target(
    inbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (inbox / "eaux-vives" / "passwd.jpg").symlink_to("/etc/passwd")
    opened: list[str] = []
    real_open = os.open

    def spying_open(path: str, flags: int, *args: int) -> int:
        opened.append(os.fspath(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", spying_open)

    message = refused(inbox, "passwd.jpg")

    assert message == (
        "'passwd.jpg' is a symbolic link to a file outside the inbox; "
        "copy the file itself next to the post"
    )
    assert opened == []


def test_a_symlink_inside_the_inbox_is_followed(inbox: Path) -> None:
    (inbox / "original.jpg").write_bytes(JPEG)
    (inbox / "eaux-vives" / "link.jpg").symlink_to(inbox / "original.jpg")

    assert resolve(inbox, "link.jpg").source == inbox / "original.jpg"


def test_a_jpg_that_is_really_text_is_refused(inbox: Path) -> None:
    (inbox / "eaux-vives" / "photo.jpg").write_text("not a picture at all\n")

    assert (
        refused(inbox, "photo.jpg") == "'photo.jpg' is named .jpg but holds no image or video data"
    )


def test_a_png_named_jpg_is_refused_with_the_right_name(inbox: Path) -> None:
    (inbox / "eaux-vives" / "photo.jpg").write_bytes(PNG)

    assert refused(inbox, "photo.jpg") == (
        "'photo.jpg' is named .jpg but holds PNG data; rename it to .png"
    )


def test_an_empty_file_is_refused(inbox: Path) -> None:
    (inbox / "eaux-vives" / "photo.jpg").write_bytes(b"")

    assert refused(inbox, "photo.jpg") == "'photo.jpg' is empty"


def test_an_unsupported_extension_is_refused_before_reading(inbox: Path) -> None:
    (inbox / "eaux-vives" / "doc.pdf").write_bytes(b"%PDF-1.4")

    assert refused(inbox, "doc.pdf") == (
        "'doc.pdf': .pdf cannot be published; use gif, jpeg, jpg, m4v, mov, mp4, png, webp"
    )


def test_a_missing_file_suggests_a_close_name(inbox: Path) -> None:
    (inbox / "eaux-vives" / "escalade.jpg").write_bytes(JPEG)

    assert refused(inbox, "escalde.jpg") == (
        "'escalde.jpg' does not exist (names are relative to the post file's folder); "
        "did you mean 'escalade.jpg'?"
    )


def test_a_directory_is_not_a_media_file(inbox: Path) -> None:
    (inbox / "eaux-vives" / "album.jpg").mkdir()

    assert refused(inbox, "album.jpg") == "'album.jpg' is a folder, not a regular file"


def test_an_oversized_file_is_refused(inbox: Path) -> None:
    (inbox / "eaux-vives" / "big.jpg").write_bytes(JPEG + b"\x00" * 5000)

    assert refused(inbox, "big.jpg", max_bytes=2000) == (
        "'big.jpg' is 5.2 kB; media files may be at most 2.0 kB"
    )
