"""The Instagram connector: containers, quota, reconciliation and media hosts."""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.wrappers import Request

from connectors.base import AccountSettings, MediaItem, Outgoing
from connectors.credentials import Secret
from connectors.errors import Permanent, RateLimited, Retryable
from connectors.graph import GraphClient, GraphError
from connectors.instagram import CONTAINER_NOTE, InstagramConnector
from connectors.media_host import PublicBaseUrlHost, WordPressMediaHost
from tests.connectors.cases.instagram import PUBLIC_BASE, build_instagram
from tests.connectors.cases.wordpress import settings as wordpress_settings
from tests.connectors.contract import media_item, mp4_bytes, outgoing, png_bytes
from tests.fakes.wordpress import SITE, WordPressFake
from tests.fakes.wsgi import WsgiAdapter, session_for
from tests.support import FakeClock


def test_an_exhausted_quota_waits_until_the_window_frees(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build_instagram(tmp_path, clock)
    fake.quota_total = 1
    first_at = clock.now()
    connector.publish(outgoing("image", tmp_path, due_at=clock.now()))
    clock.advance(hours=2)

    with pytest.raises(RateLimited) as raised:
        connector.publish(outgoing("image", tmp_path, due_at=clock.now(), text="Autre chose"))

    assert raised.value.until == first_at + timedelta(hours=24)
    assert len(fake.created()) == 1


def test_a_container_that_fails_transiently_is_replaced_on_the_next_attempt(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_instagram(tmp_path, clock)
    post = outgoing("image", tmp_path, due_at=clock.now())
    fake.fail_next_container(2207003)  # "it takes too long to download the media"

    with pytest.raises(Retryable, match="new container"):
        connector.publish(post)
    failed = post.notes.get(CONTAINER_NOTE)
    published = connector.publish(post)

    assert post.notes.get(CONTAINER_NOTE) != failed
    assert len(fake.containers) == 2
    assert [item["id"] for item in fake.created()] == [published.platform_id]


def test_a_container_refused_for_good_fails_the_post(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build_instagram(tmp_path, clock)
    fake.fail_next_container(2207004)  # the image is too large
    with pytest.raises(Permanent, match="2207004"):
        connector.publish(outgoing("image", tmp_path, due_at=clock.now()))
    assert fake.created() == []


def test_a_reel_is_polled_with_the_injected_sleep(tmp_path: Path, clock: FakeClock) -> None:
    sleeps: list[float] = []
    connector, fake = build_instagram(tmp_path, clock, sleeps=sleeps)
    published = connector.publish(outgoing("video", tmp_path, due_at=clock.now()))
    assert sleeps == [5.0, 5.0]  # two IN_PROGRESS answers, then FINISHED
    assert fake.created()[0]["media_type"] == "VIDEO"
    assert published.url == f"https://www.instagram.com/p/Fake{published.platform_id}/"


def test_a_slow_reel_gives_up_then_resumes_with_the_same_container(
    tmp_path: Path, clock: FakeClock
) -> None:
    sleeps: list[float] = []
    connector, fake = build_instagram(
        tmp_path, clock, sleeps=sleeps, options={"container_wait": 15, "poll_interval": 5}
    )
    fake.video_polls = 100
    post = outgoing("video", tmp_path, due_at=clock.now())
    with pytest.raises(Retryable, match="still processing"):
        connector.publish(post)
    assert sleeps == [5.0, 5.0]
    for container in fake.containers.values():
        container["polls_left"] = 0  # Instagram has finished meanwhile
    connector.publish(post)
    assert len(fake.containers) == 1 and len(fake.created()) == 1


def test_a_container_that_expires_before_publishing_is_made_again(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_instagram(tmp_path, clock)
    moved: list[bool] = []

    def expire_once(request: Request) -> None:
        if request.path.endswith("/media_publish") and not moved:
            moved.append(True)
            clock.advance(hours=25)  # the container is now older than 24 h

    fake.before = expire_once
    connector.publish(outgoing("image", tmp_path, due_at=clock.now()))
    assert len(fake.containers) == 2 and len(fake.created()) == 1


def test_a_container_never_published_is_not_found(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build_instagram(tmp_path, clock)
    fake.quota_total = 0
    post = outgoing("image", tmp_path, due_at=clock.now())
    with pytest.raises(RateLimited):
        connector.publish(post)
    assert post.notes.get(CONTAINER_NOTE)  # made, FINISHED, not published
    assert connector.find(post) is None


def test_media_uploaded_to_the_blog_is_fetched_from_its_source_url(
    tmp_path: Path, clock: FakeClock
) -> None:
    wordpress = WordPressFake(clock)
    blog = wordpress_settings(tmp_path)
    connector, fake = build_instagram(tmp_path, clock, accounts={"blog": blog}, media_host=None)
    assert isinstance(connector.media_host, WordPressMediaHost)
    # The blog is reached through the same session, and what it serves is on the public web.
    connector.session.mount(SITE, WsgiAdapter(wordpress))
    fake.public = wordpress.files

    connector.publish(outgoing("image", tmp_path, due_at=clock.now()))

    [media] = wordpress.media.values()
    assert media["alt_text"] == "Une marmite"
    create = [p for _, path, p in fake.requests if path.endswith(f"{fake.ig_user_id}/media")]
    assert create[0]["image_url"] == media["source_url"]
    assert create[0]["alt_text"] == "Une marmite"
    assert len(fake.created()) == 1


def test_a_media_host_account_that_is_not_configured_is_refused(
    tmp_path: Path, clock: FakeClock
) -> None:
    with pytest.raises(ValueError, match="media_host_account 'blog'"):
        build_instagram(tmp_path, clock, accounts={}, media_host=None)


def test_a_video_behind_an_image_url_is_refused_by_check_and_by_instagram(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_instagram(tmp_path, clock)
    clip = media_item(tmp_path, "clip.mp4", mp4_bytes(), "video/mp4", "film")
    wrong = MediaItem(path=clip.path, alt=None, mime_type="image/jpeg", size=1, sha256="0")
    post = dataclasses.replace(outgoing("image", tmp_path, due_at=clock.now()), media=(wrong,))
    assert any("not an image" in problem.message for problem in connector.check(post))
    # 2207052 "media fetch failed" is also what a good file gets when Meta's fetch fails:
    # retried (a bounded number of attempts), since check refuses the bad files first.
    with pytest.raises(Retryable, match="Only photo or video"):
        connector.publish(post)
    assert fake.created() == []


def test_an_unknown_container_parameter_is_refused_as_by_instagram(
    tmp_path: Path, clock: FakeClock
) -> None:
    _, fake = build_instagram(tmp_path, clock)
    media_item(tmp_path, "photo.png", png_bytes(), "image/png", "x")
    client = GraphClient(
        api_base="https://graph.facebook.com",
        token=Secret(fake.ig_token),
        session=session_for(fake),
        timeout=5,
    )
    with pytest.raises(GraphError) as raised:
        client.post(
            f"{fake.ig_user_id}/media", {"image_url": PUBLIC_BASE + "photo.png", "location": "x"}
        )
    assert (raised.value.http_status, raised.value.code) == (400, 100)
    assert fake.containers == {}


def test_captions_are_checked_for_hashtags_mentions_and_mixed_media(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, _ = build_instagram(tmp_path, clock)
    tags = " ".join(f"#t{n}" for n in range(31))
    mentions = " ".join(f"@u{n}" for n in range(21))
    post = outgoing("image", tmp_path, due_at=clock.now(), text=f"{tags} {mentions}")
    clip = media_item(tmp_path, "clip.mp4", mp4_bytes(), "video/mp4", "film")
    mixed = dataclasses.replace(post, media=(*post.media, clip))
    messages = [problem.message for problem in connector.check(mixed)]
    assert any("hashtags" in m and "30" in m for m in messages)
    assert any("mentions" in m and "20" in m for m in messages)
    assert any("one video alone" in m for m in messages)


def test_the_public_base_url_host_uses_the_stored_file_name(tmp_path: Path) -> None:
    item = media_item(tmp_path, "ab cd.jpg", b"\xff\xd8\xff", "image/jpeg", "x")
    assert PublicBaseUrlHost("https://m.example/s").public_url(item) == (
        "https://m.example/s/ab%20cd.jpg"
    )


@pytest.mark.parametrize(
    "options",
    [
        {"ig_user_id": "1"},
        {"ig_user_id": "1", "public_media_base_url": "https://a/", "media_host_account": "b"},
        {"ig_user_id": "1", "public_media_base_url": "https://a/", "caption": "x"},
    ],
)
def test_unusable_options_are_refused(
    tmp_path: Path, clock: FakeClock, options: dict[str, object]
) -> None:
    settings = AccountSettings(name="ig", kind="instagram", base_dir=tmp_path, options=options)
    with pytest.raises(ValueError, match="account 'ig'"):
        InstagramConnector(settings, clock)


# -- what Instagram refuses, from its documented image specifications -------------------------


def picture(tmp_path: Path, name: str, width: int, height: int, fmt: str = "JPEG") -> MediaItem:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (120, 80, 40)).save(buffer, format=fmt)
    mime = {"JPEG": "image/jpeg", "PNG": "image/png"}[fmt]
    return media_item(tmp_path, name, buffer.getvalue(), mime, "Une affiche")


def image_post(tmp_path: Path, clock: FakeClock, item: MediaItem) -> Outgoing:
    return dataclasses.replace(outgoing("text", tmp_path, due_at=clock.now()), media=(item,))


@pytest.mark.parametrize(
    ("name", "width", "height", "fmt", "said"),
    [
        ("portrait-3-4.jpg", 300, 400, "JPEG", "width / height 0.75"),
        ("portrait-9-16.jpg", 270, 480, "JPEG", "width / height 0.56"),
        ("panorama.jpg", 600, 200, "JPEG", "width / height 3.00"),
        ("affiche.png", 400, 400, "PNG", "it is PNG"),
    ],
)
def test_check_refuses_what_instagram_refuses_and_so_does_the_fake(
    tmp_path: Path, clock: FakeClock, name: str, width: int, height: int, fmt: str, said: str
) -> None:
    connector, fake = build_instagram(tmp_path, clock)
    post = image_post(tmp_path, clock, picture(tmp_path, name, width, height, fmt))
    problems = connector.check(post)
    assert any(said in problem.message for problem in problems), problems
    with pytest.raises(Permanent):
        connector.publish(post)
    assert fake.created() == []


def test_an_image_over_8_mib_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    connector, _ = build_instagram(tmp_path, clock)
    big = picture(tmp_path, "big.jpg", 400, 400)
    big.path.write_bytes(big.path.read_bytes() + b"\0" * (8 * 1024 * 1024))
    big = dataclasses.replace(big, size=big.path.stat().st_size)
    post = image_post(tmp_path, clock, big)
    assert any("8 MiB" in problem.message for problem in connector.check(post))
    with pytest.raises(Permanent, match="less than 8 MiB"):
        connector.publish(post)


def test_images_within_the_limits_pass_check_and_publish(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build_instagram(tmp_path, clock)
    for name, width, height in (("a.jpg", 400, 500), ("b.jpg", 400, 400), ("c.jpg", 764, 400)):
        post = image_post(tmp_path, clock, picture(tmp_path, name, width, height))
        assert connector.check(post) == []
        connector.publish(post)
    assert len(fake.created()) == 3


def test_convert_images_makes_a_jpeg_fitted_to_4_5_kept_in_the_media_store(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_instagram(tmp_path, clock, options={"convert_images": True})
    phone = picture(tmp_path, "telephone.png", 300, 400, "PNG")
    post = image_post(tmp_path, clock, phone)
    assert connector.check(post) == []
    connector.publish(post)
    [copy] = [path for path in tmp_path.glob("*.jpg") if path.name.startswith(phone.sha256)]
    with Image.open(copy) as converted:
        assert converted.format == "JPEG"
        assert converted.size == (320, 400)  # padded to 4:5, nothing cropped
    assert len(fake.created()) == 1


def test_media_fetch_failed_is_retried(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build_instagram(tmp_path, clock)
    post = image_post(tmp_path, clock, picture(tmp_path, "ok.jpg", 400, 400))
    fake.fail_next_fetch()
    with pytest.raises(Retryable):
        connector.publish(post)
    connector.publish(post)
    assert len(fake.created()) == 1


def test_media_not_ready_at_publish_waits_and_publishes_the_same_container(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_instagram(tmp_path, clock)
    post = image_post(tmp_path, clock, picture(tmp_path, "ok.jpg", 400, 400))
    fake.not_ready_at_publish = 1
    with pytest.raises(Retryable) as raised:
        connector.publish(post)
    assert raised.value.retry_after is not None
    container = post.notes.get(CONTAINER_NOTE)
    connector.publish(post)
    assert post.notes.get(CONTAINER_NOTE) == container
    assert len(fake.containers) == 1 and len(fake.created()) == 1


def test_the_docs_state_the_image_limits_the_connector_uses() -> None:
    from connectors.instagram import INSTAGRAM_IMAGES
    from tests.paths import REPOSITORY

    page = (REPOSITORY / "docs" / "platforms" / "instagram.md").read_text(encoding="utf-8")
    assert f"Images: {INSTAGRAM_IMAGES.describe()}" in " ".join(page.split())


def test_media_host_uploads_are_noted_per_delivery_so_a_restart_does_not_upload_again(
    tmp_path: Path, clock: FakeClock
) -> None:
    wordpress = WordPressFake(clock)
    blog = wordpress_settings(tmp_path)
    post = outgoing("image", tmp_path, due_at=clock.now())
    for _ in range(2):  # the second connector is the daemon after a restart
        connector, fake = build_instagram(tmp_path, clock, accounts={"blog": blog}, media_host=None)
        connector.session.mount(SITE, WsgiAdapter(wordpress))
        fake.public = wordpress.files
        fake.fail_next_fetch()  # Meta's fetch fails: the attempt ends before publishing
        with pytest.raises(Retryable):
            connector.publish(post)
    assert len(wordpress.media) == 1
