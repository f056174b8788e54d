from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.base import AccountSettings, MediaItem, Outgoing, Published
from connectors.errors import Permanent
from connectors.static_blog import StaticBlogConnector

ATOM = "{http://www.w3.org/2005/Atom}"
SITE = "https://blog.library.example/"
NOW = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
DUE_AT = datetime(2024, 5, 1, 22, 30, tzinfo=UTC)  # already 2 May in Zurich
DELIVERY = "0f8e2a4c-1111-4222-8333-944455556666"


class FixedClock:
    def __init__(self) -> None:
        self.moment = NOW

    def now(self) -> datetime:
        return self.moment


def make_connector(
    tmp_path: Path, clock: FixedClock | None = None, **options: Any
) -> StaticBlogConnector:
    settings = AccountSettings(
        name="blog",
        kind="static_blog",
        base_dir=tmp_path,
        options={"output": "site", "site_url": SITE, **options},
    )
    return StaticBlogConnector(settings, clock or FixedClock())


def make_poster(tmp_path: Path) -> MediaItem:
    store = tmp_path / "store"
    store.mkdir(exist_ok=True)
    poster = store / "poster.jpg"
    poster.write_bytes(b"\xff\xd8 not really a jpeg")
    return MediaItem(
        path=poster,
        alt="The reading club poster",
        mime_type="image/jpeg",
        size=poster.stat().st_size,
        sha256="c0ffee" + "0" * 58,
    )


def make_outgoing(delivery_id: str = DELIVERY, **changes: Any) -> Outgoing:
    values: dict[str, Any] = {
        "delivery_id": delivery_id,
        "post_id": "p-1",
        "account": "blog",
        "library": "central",
        "author": "Ana Lima",
        "title": "Summer reading: the club is back! Ça commence",
        "text": "The summer reading club starts on Monday.",
        "link": "https://library.example/summer",
        "media": (),
        "due_at": DUE_AT,
        "tags": ("reading", "summer"),
    }
    values.update(changes)
    return Outgoing(**values)


def front_matter(page: Path) -> dict[str, Any]:
    front = page.read_text(encoding="utf-8").split("---\n", 2)[1]
    loaded = yaml.safe_load(front)
    assert isinstance(loaded, dict)
    return loaded


def posts(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "site" / "posts").glob("*.md"))


def test_publish_writes_one_page_with_front_matter_and_body(tmp_path: Path) -> None:
    poster = make_poster(tmp_path)
    connector = make_connector(tmp_path)

    published = connector.publish(make_outgoing(media=(poster,)))

    slug = "2024-05-01-summer-reading-the-club-is-back-ca-commence-0f8e2a4c"
    assert published == Published(platform_id=slug, url=f"{SITE}posts/{slug}/")
    [page] = posts(tmp_path)
    assert page.name == f"{slug}.md"
    media_name = "c0ffee000000-poster.jpg"
    assert front_matter(page) == {
        "title": "Summer reading: the club is back! Ça commence",
        "date": "2024-05-01T22:30:00+00:00",
        "published": "2024-05-01T09:30:00+00:00",
        "author": "Ana Lima",
        "library": "central",
        "link": "https://library.example/summer",
        "tags": ["reading", "summer"],
        "media": [
            {
                "file": f"media/{media_name}",
                "alt": "The reading club poster",
                "mime_type": "image/jpeg",
            }
        ],
        "delivery_id": DELIVERY,
        "post_id": "p-1",
    }
    body = page.read_text(encoding="utf-8").split("---\n", 2)[2]
    assert "The summer reading club starts on Monday." in body
    assert "<https://library.example/summer>" in body
    assert f"![The reading club poster]({SITE}media/{media_name})" in body


def test_media_are_copied_under_their_hash_prefix(tmp_path: Path) -> None:
    poster = make_poster(tmp_path)

    make_connector(tmp_path).publish(make_outgoing(media=(poster,)))

    copied = tmp_path / "site" / "media" / "c0ffee000000-poster.jpg"
    assert copied.read_bytes() == poster.path.read_bytes()
    leftovers = [p for p in (tmp_path / "site").rglob(".*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_missing_media_is_a_permanent_error(tmp_path: Path) -> None:
    poster = make_poster(tmp_path)
    poster.path.unlink()

    with pytest.raises(Permanent, match="missing"):
        make_connector(tmp_path).publish(make_outgoing(media=(poster,)))
    assert posts(tmp_path) == []


def test_the_slug_uses_the_configured_zone_for_the_date(tmp_path: Path) -> None:
    connector = make_connector(tmp_path, timezone="Europe/Zurich")

    published = connector.publish(make_outgoing())

    assert published.platform_id.startswith("2024-05-02-summer-reading")
    assert front_matter(posts(tmp_path)[0])["date"] == "2024-05-02T00:30:00+02:00"


def test_publishing_twice_keeps_one_page(tmp_path: Path) -> None:
    clock = FixedClock()
    connector = make_connector(tmp_path, clock)
    first = connector.publish(make_outgoing())
    clock.moment = NOW + timedelta(minutes=5)

    second = connector.publish(make_outgoing())

    assert second == first
    [page] = posts(tmp_path)
    assert front_matter(page)["published"] == "2024-05-01T09:30:00+00:00"


def test_a_retitled_delivery_still_finds_its_first_page(tmp_path: Path) -> None:
    connector = make_connector(tmp_path)
    first = connector.publish(make_outgoing())

    again = connector.publish(make_outgoing(title="A different title"))

    assert again == first
    assert len(posts(tmp_path)) == 1


def test_a_colliding_id_prefix_never_overwrites_another_page(tmp_path: Path) -> None:
    connector = make_connector(tmp_path)
    other = DELIVERY[:8] + "-ffff-4fff-8fff-ffffffffffff"
    connector.publish(make_outgoing())

    published = connector.publish(make_outgoing(other))

    assert published.platform_id.endswith(other)
    assert len(posts(tmp_path)) == 2
    assert connector.find(make_outgoing()) != published


def test_find_returns_the_page_or_none_for_another_delivery(tmp_path: Path) -> None:
    connector = make_connector(tmp_path)
    published = connector.publish(make_outgoing())

    assert connector.find(make_outgoing()) == published
    assert connector.find(make_outgoing("99999999-0000-4000-8000-000000000000")) is None


def test_find_before_anything_was_written_returns_none(tmp_path: Path) -> None:
    assert make_connector(tmp_path).find(make_outgoing()) is None


def test_find_confirms_the_delivery_id_in_the_front_matter(tmp_path: Path) -> None:
    connector = make_connector(tmp_path)
    published = connector.publish(make_outgoing())
    page = posts(tmp_path)[0]
    page.write_text(
        page.read_text(encoding="utf-8").replace(DELIVERY, "someone-else"), encoding="utf-8"
    )

    assert published.platform_id in page.name
    assert connector.find(make_outgoing()) is None


def test_the_feed_is_atom_with_the_newest_entries_first(tmp_path: Path) -> None:
    clock = FixedClock()
    connector = make_connector(tmp_path, clock, title="Central library", feed_entries=2)
    published = []
    for day in range(3):
        clock.moment = NOW + timedelta(days=day)
        outgoing = make_outgoing(
            f"{day}0000000-0000-4000-8000-000000000000",
            title=f"Post {day}",
            due_at=DUE_AT + timedelta(days=day),
        )
        published.append(connector.publish(outgoing))

    root = ET.parse(tmp_path / "site" / "feed.xml").getroot()

    assert root.tag == f"{ATOM}feed"
    assert root.findtext(f"{ATOM}title") == "Central library"
    assert root.findtext(f"{ATOM}id") == SITE
    entries = root.findall(f"{ATOM}entry")
    assert [entry.findtext(f"{ATOM}title") for entry in entries] == ["Post 2", "Post 1"]
    links = [entry.find(f"{ATOM}link") for entry in entries]
    assert [link.get("href") for link in links if link is not None] == [
        published[2].url,
        published[1].url,
    ]
    ids = [entry.findtext(f"{ATOM}id") for entry in entries]
    assert ids == [
        "tag:blog.library.example,2024-05-03:delivery/20000000-0000-4000-8000-000000000000",
        "tag:blog.library.example,2024-05-02:delivery/10000000-0000-4000-8000-000000000000",
    ]
    assert entries[0].findtext(f"{ATOM}updated") == "2024-05-03T09:30:00+00:00"
    assert root.findtext(f"{ATOM}updated") == "2024-05-03T09:30:00+00:00"


def test_entry_ids_stay_the_same_when_the_feed_is_rewritten(tmp_path: Path) -> None:
    connector = make_connector(tmp_path)
    connector.publish(make_outgoing())
    feed = tmp_path / "site" / "feed.xml"
    before = ET.parse(feed).getroot().findtext(f"{ATOM}entry/{ATOM}id")

    connector.publish(make_outgoing("7" * 8 + "-0000-4000-8000-000000000000", title="Next"))

    ids = [e.text for e in ET.parse(feed).getroot().iter(f"{ATOM}id")]
    assert before in ids


def test_a_broken_page_is_left_out_of_the_feed(tmp_path: Path) -> None:
    connector = make_connector(tmp_path)
    connector.publish(make_outgoing())
    (tmp_path / "site" / "posts" / "hand-written.md").write_text("no front matter\n")

    connector.publish(make_outgoing("22222222-0000-4000-8000-000000000000", title="Two"))

    root = ET.parse(tmp_path / "site" / "feed.xml").getroot()
    assert len(root.findall(f"{ATOM}entry")) == 2


def test_check_requires_a_title(tmp_path: Path) -> None:
    connector = make_connector(tmp_path)

    for title in (None, "", "   "):
        problems = connector.check(make_outgoing(title=title))
        assert [problem.field for problem in problems] == ["title"], title
    assert connector.check(make_outgoing()) == []


@pytest.mark.parametrize(
    "options",
    [
        {"output": "site"},
        {"site_url": SITE},
        {"output": "site", "site_url": "https://blog.library.example"},
        {"output": "site", "site_url": "ftp://blog.library.example/"},
        {"output": "site", "site_url": SITE, "feed_entries": 0},
        {"output": "site", "site_url": SITE, "timezone": "Mars/Olympus"},
        {"output": "site", "site_url": SITE, "theme": "dark"},
    ],
)
def test_bad_options_raise_a_value_error_naming_the_account(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    settings = AccountSettings(name="blog", kind="static_blog", base_dir=tmp_path, options=options)

    with pytest.raises(ValueError, match="account 'blog'"):
        StaticBlogConnector(settings, FixedClock())


@pytest.mark.parametrize("output", ["blocker", "blocker/site"])
def test_an_output_folder_that_cannot_be_made_is_a_permanent_error(
    tmp_path: Path, output: str
) -> None:
    # A file where the folder should be fails for root too, unlike chmod.
    (tmp_path / "blocker").write_text("not a folder")
    connector = make_connector(tmp_path, output=output)

    with pytest.raises(Permanent, match="blocker") as raised:
        connector.publish(make_outgoing())

    assert isinstance(raised.value.__cause__, OSError)
    # Connector.find's contract: it cannot look there, so it does not say "not found".
    with pytest.raises(Permanent, match="blocker"):
        connector.find(make_outgoing())
