"""The WordPress connector and its client, against the WordPress 6.1 fake."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.base import Outgoing
from connectors.credentials import Secret, credentials_for
from connectors.errors import Ambiguous, AuthExpired, Permanent, RateLimited, Retryable
from connectors.handover import HandedOver, Liveness
from connectors.wordpress import WordPressConnector, content_html, excerpt_for, slug_for
from connectors.wordpress_api import (
    NewPost,
    WordPressClient,
    WordPressRefusal,
    wordpress_client_for,
)
from tests.connectors.cases.wordpress import settings
from tests.connectors.contract import media_item, mp4_bytes, outgoing, png_bytes
from tests.fakes.wordpress import (
    APPLICATION_PASSWORD,
    SITE,
    WordPressFake,
    recorded,
)
from tests.fakes.wsgi import WsgiApp, serve, session_for
from tests.support import FakeClock

AUTH = ("editor", APPLICATION_PASSWORD)
AUTHOR_CAPABILITIES = ["read", "edit_posts", "edit_published_posts", "publish_posts"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> WordPressFake:
    return WordPressFake(clock)


def connect(tmp_path: Path, clock: FakeClock, app: WsgiApp, **options: Any) -> WordPressConnector:
    return WordPressConnector(settings(tmp_path, **options), clock, session=session_for(app))


def client_at(base_url: str, session: requests.Session, clock: FakeClock) -> WordPressClient:
    return WordPressClient(
        base_url=base_url,
        username="editor",
        password=Secret(APPLICATION_PASSWORD),
        session=session,
        timeout=5,
        clock=clock,
    )


def post_of(kind: str, tmp_path: Path, clock: FakeClock, **changes: Any) -> Outgoing:
    return dataclasses.replace(outgoing(kind, tmp_path, due_at=clock.now()), **changes)  # type: ignore[arg-type]


def answering(
    status: int, when: Callable[[dict[str, Any]], bool], app: WsgiApp, **headers: str
) -> WsgiApp:
    """``app``, except that requests matching ``when`` get ``status`` and no body."""

    def middleware(environ: dict[str, Any], start_response: Any) -> Any:
        if when(environ):
            start_response(f"{status} X", [(k.replace("_", "-"), v) for k, v in headers.items()])
            return [b"<html>proxy</html>"]
        return app(environ, start_response)

    return middleware


def creating_post(environ: dict[str, Any]) -> bool:
    return bool(
        environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == "/wp-json/wp/v2/posts"
    )


# -- what ends up on the blog ------------------------------------------------------------


def test_categories_and_tags_are_created_once_and_then_reused(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    existing = fake.add_term("tags", "Escalade")  # another case: WordPress sees the same name
    connector = connect(tmp_path, clock, fake)
    first = connector.publish(post_of("text", tmp_path, clock))
    second = connector.publish(post_of("text", tmp_path, clock))
    one, two = fake.posts[int(first.platform_id)], fake.posts[int(second.platform_id)]
    assert fake.term_names("categories", one["categories"]) == ["Agenda"]
    assert one["tags"][0] == existing
    assert fake.term_names("tags", one["tags"]) == ["Escalade", "bibliothèque"]
    assert (two["categories"], two["tags"]) == (one["categories"], one["tags"])
    assert len(fake.terms["categories"]) == 2 and len(fake.terms["tags"]) == 2


def test_a_name_the_search_misses_is_taken_from_term_exists(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    # WordPress stores "Arts &amp; culture"; a search for "Arts & culture" finds nothing.
    existing = fake.add_term("categories", "Arts & culture")
    connector = connect(tmp_path, clock, fake, categories=["Arts & culture"])
    published = connector.publish(post_of("text", tmp_path, clock))
    assert fake.posts[int(published.platform_id)]["categories"] == [existing]


def test_an_author_cannot_create_a_missing_category(tmp_path: Path, clock: FakeClock) -> None:
    fake = WordPressFake(clock, capabilities=[*AUTHOR_CAPABILITIES, "upload_files"])
    connector = connect(tmp_path, clock, fake, categories=["Nouveautés"])
    with pytest.raises(Permanent) as raised:
        connector.publish(post_of("text", tmp_path, clock))
    assert "Sorry, you are not allowed to create terms in this taxonomy." in raised.value.message
    assert "create the category in Posts > Categories" in raised.value.message
    assert raised.value.http_status == 403
    assert fake.created() == []


def test_the_first_image_is_featured_the_others_inline_all_attached_with_alt_text(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    connector = connect(tmp_path, clock, fake)
    post = post_of("images", tmp_path, clock)
    published = connector.publish(post)
    blog_post = fake.posts[int(published.platform_id)]
    media = [fake.media[key] for key in sorted(fake.media)]
    assert len(media) == 3
    assert blog_post["featured_media"] == media[0]["id"]
    assert [m["post"] for m in media] == [blog_post["id"]] * 3
    assert [m["alt_text"] for m in media] == ["Photo 0", "Photo 1", "Photo 2"]
    content = blog_post["content"]["raw"]
    assert media[0]["source_url"] not in content
    for item in media[1:]:
        assert f'<img src="{item["source_url"]}" alt="{item["alt_text"]}"/>' in content
    assert media[0]["source_url"].endswith(f"/{slug_for(post)}-1.jpg")


def test_a_post_handed_over_early_is_scheduled_by_wordpress(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    connector = connect(tmp_path, clock, fake, schedule_ahead="3d")
    assert connector.lead_time == timedelta(days=3)
    assert connector.min_lead_time == timedelta(minutes=2)
    due = clock.now() + timedelta(days=2, hours=3)
    post = dataclasses.replace(post_of("text", tmp_path, clock), due_at=due)
    published = connector.publish(post)
    blog_post = fake.posts[int(published.platform_id)]
    assert blog_post["status"] == "future"
    assert blog_post["date_gmt"] == due.strftime("%Y-%m-%dT%H:%M:%S")
    assert blog_post["link"].endswith(f"/?p={blog_post['id']}")
    # The permalink it will have once WordPress publishes it, not /?p=ID.
    assert published.url == f"{SITE}/{due:%Y/%m/%d}/{slug_for(post)}/"


def test_a_due_post_is_published_now_and_its_permalink_returned(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    connector = connect(tmp_path, clock, fake)
    post = dataclasses.replace(post_of("link", tmp_path, clock), due_at=clock.now())
    clock.advance(minutes=5)  # dispatch is late: the post is dated when it goes out
    published = connector.publish(post)
    blog_post = fake.posts[int(published.platform_id)]
    assert blog_post["status"] == "publish"
    assert blog_post["date_gmt"] == clock.now().strftime("%Y-%m-%dT%H:%M:%S")
    assert published.url == blog_post["link"] == f"{SITE}/{clock.now():%Y/%m/%d}/{slug_for(post)}/"
    assert blog_post["slug"] == slug_for(post)
    assert blog_post["title"]["raw"] == "Goûter de l'Escalade"
    assert blog_post["excerpt"]["raw"] == "Trois collègues déguisées pour le goûter de l'Escalade !"
    link = "https://www.example.org/agenda/escalade"
    assert blog_post["content"]["raw"].endswith(f'<p><a href="{link}">{link}</a></p>')


# -- exactly once ------------------------------------------------------------------------


def test_the_slug_is_deterministic_per_delivery(tmp_path: Path, clock: FakeClock) -> None:
    post = post_of("text", tmp_path, clock, delivery_id="1a2b3c4d-0000-4000-8000-000000000000")
    assert slug_for(post) == "gouter-de-l-escalade-1a2b3c4d"
    assert slug_for(dataclasses.replace(post, text="autre")) == slug_for(post)
    other = dataclasses.replace(post, delivery_id="9f8e7d6c-0000-4000-8000-000000000000")
    assert slug_for(other) != slug_for(post)
    untitled = dataclasses.replace(post, title=None, text="Fermeture exceptionnelle. Désolés !")
    assert slug_for(untitled) == "fermeture-exceptionnelle-1a2b3c4d"


def test_a_lost_answer_is_reconciled_by_slug_and_never_posted_twice(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    connector = connect(tmp_path, clock, fake)
    post = post_of("image", tmp_path, clock)
    fake.fail_next_create("ambiguous")
    with pytest.raises(Ambiguous):
        connector.publish(post)
    found = connector.find(post)
    assert found is not None and found.platform_id == str(fake.created()[0]["id"])
    again = connector.publish(post)  # a retry looks the slug up before creating
    assert again == found
    assert len(fake.created()) == 1 and len(fake.media) == 1
    lookups = [r for r in fake.requests if r["method"] == "GET" and r["path"].endswith("/posts")]
    assert lookups[-1]["query"] == {
        "slug": slug_for(post),
        "status": "publish,future,draft,pending,private",
        "context": "edit",
    }


def test_a_retry_reuses_the_media_it_already_uploaded(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    connector = connect(tmp_path, clock, fake)
    post = post_of("image", tmp_path, clock)
    fake.fail_next_create("retryable")
    with pytest.raises(Retryable):
        connector.publish(post)
    assert len(fake.media) == 1 and fake.created() == []
    published = connector.publish(post)
    assert len(fake.media) == 1
    assert fake.posts[int(published.platform_id)]["featured_media"] == next(iter(fake.media))


def test_find_sees_a_post_a_person_turned_into_a_draft(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    connector = connect(tmp_path, clock, fake)
    post = post_of("text", tmp_path, clock)
    published = connector.publish(post)
    fake.posts[int(published.platform_id)]["status"] = "draft"
    found = connector.find(post)
    assert found is not None and found.platform_id == published.platform_id


# -- errors ------------------------------------------------------------------------------


def test_a_server_error_on_the_create_is_ambiguous_but_on_a_lookup_retryable(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    on_create = connect(tmp_path, clock, answering(502, creating_post, fake))
    with pytest.raises(Ambiguous) as raised:
        on_create.publish(post_of("text", tmp_path, clock))
    assert raised.value.http_status == 502

    def any_get(environ: dict[str, Any]) -> bool:
        return bool(environ["REQUEST_METHOD"] == "GET")

    on_lookup = connect(tmp_path, clock, answering(503, any_get, fake))
    with pytest.raises(Retryable):
        on_lookup.publish(post_of("text", tmp_path, clock))
    with pytest.raises(Retryable):
        on_lookup.find(post_of("text", tmp_path, clock))


def test_a_rate_limit_waits_for_retry_after(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    connector = connect(tmp_path, clock, fake)
    fake.fail_next_create("rate_limited")
    with pytest.raises(RateLimited) as raised:
        connector.publish(post_of("text", tmp_path, clock))
    assert raised.value.until == clock.now() + timedelta(seconds=120)


def test_a_redirect_is_reported_as_a_wrong_base_url(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    redirected = answering(301, lambda _: True, fake, Location="https://www.blog.example.org/")
    with pytest.raises(Permanent) as raised:
        connect(tmp_path, clock, redirected).publish(post_of("text", tmp_path, clock))
    assert "set base_url" in raised.value.message and "https://www.blog.example.org/" in (
        raised.value.message
    )


def test_a_revoked_password_pauses_the_account_without_showing_it(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    connector = connect(tmp_path, clock, fake)
    fake.expire_credentials()
    for call in (connector.publish, connector.find):
        with pytest.raises(AuthExpired) as raised:
            call(post_of("text", tmp_path, clock))
        assert "create a new Application Password in Users > Profile" in raised.value.message
        assert APPLICATION_PASSWORD not in raised.value.message


# -- requests the real WordPress refuses -------------------------------------------------


def test_an_invalid_status_gets_wordpress_own_refusal(
    clock: FakeClock, fake: WordPressFake
) -> None:
    session = session_for(fake)
    answer = session.post(
        f"{SITE}/wp-json/wp/v2/posts",
        json={"title": "Bad status", "status": "published"},
        auth=AUTH,
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json() == recorded("error-400-create-post-invalid-status.json")
    answer = session.post(
        f"{SITE}/wp-json/wp/v2/posts",
        json={"title": "Bad date", "status": "future", "date_gmt": "tomorrow"},
        auth=AUTH,
        timeout=5,
    )
    assert answer.json() == recorded("error-400-create-post-invalid-date.json")
    assert fake.created() == []


def test_an_unknown_field_is_refused_and_surfaces_as_permanent(
    clock: FakeClock, fake: WordPressFake
) -> None:
    client = client_at(SITE, session_for(fake), clock)
    with pytest.raises(WordPressRefusal) as raised:
        client._call("POST", "/wp/v2/posts", json={"title": "x", "feature_media": 3}, creates=True)
    assert raised.value.http_status == 400
    assert "Invalid parameter(s): feature_media" in raised.value.message
    with pytest.raises(Permanent):  # a wrong type, through the client's own create
        client.create_post(
            NewPost(title="x", content="", excerpt="", slug="x", date_gmt=None, tags=(-1,))
        )
    assert fake.created() == []


def test_an_upload_without_content_disposition_is_refused(fake: WordPressFake) -> None:
    answer = session_for(fake).post(
        f"{SITE}/wp-json/wp/v2/media",
        data=png_bytes(),
        headers={"Content-Type": "image/png"},
        auth=AUTH,
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json() == recorded("error-400-upload-media-no-content-disposition.json")
    assert fake.media == {}


def test_a_file_that_is_not_the_image_it_claims_is_refused(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    fake_png = media_item(tmp_path, "clip.png", mp4_bytes(1000), "image/png", "Pas une image")
    connector = connect(tmp_path, clock, fake)
    with pytest.raises(Permanent) as raised:
        connector.publish(post_of("text", tmp_path, clock, media=(fake_png,)))
    assert "Sorry, you are not allowed to upload this file type." in raised.value.message
    assert fake.created() == [] and fake.media == {}


# -- verify, options, check, render ------------------------------------------------------


def test_verify_names_the_user_or_says_what_is_missing(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    verdict = connect(tmp_path, clock, fake).verify()
    assert verdict.ok and "(user 'editor', id 2, editor)" in verdict.message
    nobody = dataclasses.replace(
        settings(tmp_path),
        credentials=credentials_for("blog", state_dir=tmp_path / "state", environment={}),
    )
    verdict = WordPressConnector(nobody, clock, session=session_for(fake)).verify()
    assert not verdict.ok and "RELAIS_BLOG_APPLICATION_PASSWORD" in verdict.message
    contributor = WordPressFake(clock, capabilities=["read", "edit_posts"])
    verdict = connect(tmp_path, clock, contributor).verify()
    assert not verdict.ok and "publish_posts and upload_files" in verdict.message


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"base_url": "http://blog.example.org"}, "must use https://"),
        ({"base_url": "blog.example.org"}, "not an https:// address"),
        ({"api_key": "x"}, "api_key"),
        ({"schedule_ahead": "soon"}, "schedule_ahead"),
    ],
)
def test_unusable_options_are_refused(
    tmp_path: Path, clock: FakeClock, options: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        WordPressConnector(settings(tmp_path, **options), clock)


def test_check_refuses_video_and_image_types_wordpress_does_not_take(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    connector = connect(tmp_path, clock, fake)
    heic = media_item(tmp_path, "photo.heic", b"....ftypheic", "image/heic", "Photo")
    video = media_item(tmp_path, "clip.mp4", mp4_bytes(100), "video/mp4", "Film")
    problems = connector.check(post_of("text", tmp_path, clock, media=(heic, video)))
    messages = " | ".join(problem.message for problem in problems)
    assert "photo.heic is image/heic" in messages and "clip.mp4 is video" in messages
    assert connector.check(post_of("image", tmp_path, clock)) == []


def test_render_is_the_html_wordpress_receives(tmp_path: Path, clock: FakeClock) -> None:
    post = post_of(
        "link",
        tmp_path,
        clock,
        text="**Goûter** de l'Escalade\nà 16 h.\n\nInscriptions à l'accueil.",
    )
    html = content_html(post, [])
    assert html == (
        "<p><strong>Goûter</strong> de l'Escalade<br>\nà 16 h.</p>\n"
        "<p>Inscriptions à l'accueil.</p>\n"
        '<p><a href="https://www.example.org/agenda/escalade">'
        "https://www.example.org/agenda/escalade</a></p>"
    )
    rendered = connect(tmp_path, clock, WordPressFake(clock)).render(post)
    assert (rendered.text, rendered.length) == (html, len(html))
    linked = dataclasses.replace(post, text="Voir https://www.example.org/agenda/escalade")
    assert content_html(linked, []).count("https://www.example.org/agenda/escalade") == 1
    assert excerpt_for(post.text) == "Goûter de l'Escalade à 16 h."


# -- the client for other connectors, and a daemon on loopback ---------------------------


def test_wordpress_client_for_uploads_media_with_alt_text(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    client = wordpress_client_for(settings(tmp_path), session_for(fake))
    assert "abcd" not in repr(client)
    image = tmp_path / "affiche.png"
    image.write_bytes(png_bytes())
    uploaded = client.upload_media(
        image, mime_type="image/png", filename="Affiche été.png", alt="L'affiche"
    )
    media = fake.media[uploaded.id]
    assert uploaded.source_url == media["source_url"]
    assert media["source_url"].endswith("/Affiche-ete.png")
    assert media["alt_text"] == "L'affiche" and media["mime_type"] == "image/png"


def test_a_blog_on_loopback_http_is_reached_over_real_http(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    with serve(fake) as base_url:
        connector = WordPressConnector(settings(tmp_path, base_url=base_url), clock)
        published = connector.publish(post_of("image", tmp_path, clock))
    assert published.platform_id == str(fake.created()[0]["id"])


@pytest.fixture
def hangs_up() -> Iterator[str]:
    """A server that reads each request and closes the connection without answering."""
    server = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)

    threading.Thread(target=run, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def test_a_connection_broken_after_sending_is_ambiguous_only_for_the_create(
    hangs_up: str, clock: FakeClock
) -> None:
    client = client_at(hangs_up, requests.Session(), clock)
    with pytest.raises(Ambiguous):
        client.create_post(NewPost(title="x", content="", excerpt="", slug="x", date_gmt=None))
    with pytest.raises(Retryable):
        client.post_by_slug("x")


def test_a_refused_connection_is_retryable(clock: FakeClock) -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    client = client_at(f"http://127.0.0.1:{port}", requests.Session(), clock)
    with pytest.raises(Retryable):
        client.create_post(NewPost(title="x", content="", excerpt="", slug="x", date_gmt=None))


def test_no_secret_reaches_logs_or_errors(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    connector = connect(tmp_path, clock, fake)
    connector.publish(post_of("image", tmp_path, clock))
    fake.expire_credentials()
    with pytest.raises(AuthExpired) as raised:
        connector.publish(post_of("text", tmp_path, clock))
    shown = (
        caplog.text + str(raised.value) + repr(raised.value.__cause__) + connector.verify().message
    )
    for part in APPLICATION_PASSWORD.split():
        assert part not in shown


# -- handed over, then seen live (or not) ------------------------------------------------------


def scheduled_post(tmp_path: Path, clock: FakeClock) -> Outgoing:
    due = clock.now() + timedelta(hours=5)
    return dataclasses.replace(post_of("text", tmp_path, clock), due_at=due)


def test_a_future_post_is_handed_over_and_live_once_wordpress_publishes_it(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    connector = connect(tmp_path, clock, fake, schedule_ahead="1d")
    post = scheduled_post(tmp_path, clock)
    answer = connector.publish(post)
    assert isinstance(answer, HandedOver)
    assert answer.live_at == post.due_at
    assert connector.confirm(post, answer.platform_id).liveness == Liveness.PENDING
    clock.advance(hours=5, minutes=15)
    seen = connector.confirm(post, answer.platform_id)
    assert seen.liveness == Liveness.LIVE
    assert seen.url == f"{SITE}/{post.due_at:%Y/%m/%d}/{slug_for(post)}/"


def test_a_missed_schedule_stays_pending_and_says_why(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    fake.cron_runs = False
    connector = connect(tmp_path, clock, fake, schedule_ahead="1d")
    post = scheduled_post(tmp_path, clock)
    answer = connector.publish(post)
    clock.advance(hours=6)
    seen = connector.confirm(post, answer.platform_id)
    assert seen.liveness == Liveness.PENDING
    assert seen.reason is not None and "WP-Cron" in seen.reason


def test_a_scheduled_post_unpublished_or_deleted_on_the_blog_is_not_live(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    connector = connect(tmp_path, clock, fake, schedule_ahead="1d")
    post = scheduled_post(tmp_path, clock)
    answer = connector.publish(post)
    fake.posts[int(answer.platform_id)]["status"] = "draft"
    clock.advance(hours=6)
    seen = connector.confirm(post, answer.platform_id)
    assert seen.liveness == Liveness.NOT_LIVE
    assert seen.reason is not None and "draft" in seen.reason
    del fake.posts[int(answer.platform_id)]
    seen = connector.confirm(post, answer.platform_id)
    assert seen.liveness == Liveness.NOT_LIVE


def test_a_future_post_is_trashed_or_moved_on_the_blog(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    connector = connect(tmp_path, clock, fake, schedule_ahead="1d")
    post = scheduled_post(tmp_path, clock)
    answer = connector.publish(post)
    later = clock.now() + timedelta(hours=9)
    assert connector.change_problem(post, clock.now() + timedelta(seconds=30)) is not None
    assert connector.change_problem(post, later) is None
    connector.reschedule(post, answer.platform_id, later)
    stored = fake.posts[int(answer.platform_id)]
    assert (stored["status"], stored["date_gmt"]) == ("future", later.strftime("%Y-%m-%dT%H:%M:%S"))
    connector.withdraw(post, answer.platform_id)
    connector.withdraw(post, answer.platform_id)  # again after a crash: no harm
    assert fake.posts[int(answer.platform_id)]["status"] == "trash"


def test_a_post_without_categories_goes_to_the_default_category(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    connector = connect(tmp_path, clock, fake, categories=[])
    published = connector.publish(post_of("text", tmp_path, clock))
    assert fake.posts[int(published.platform_id)]["categories"] == [1]  # Uncategorized


def test_the_same_image_twice_keeps_each_alt_text(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    connector = connect(tmp_path, clock, fake)
    post = post_of("image", tmp_path, clock)
    first = post.media[0]
    again = dataclasses.replace(first, alt="La même affiche, en détail")
    post = dataclasses.replace(post, media=(first, again))
    published = connector.publish(post)
    blog_post = fake.posts[int(published.platform_id)]
    featured = fake.media[blog_post["featured_media"]]
    assert featured["alt_text"] == first.alt
    assert sorted(m["alt_text"] for m in fake.media.values()) == sorted([first.alt, again.alt])
    assert 'alt="La même affiche, en détail"' in blog_post["content"]["raw"]


def test_note_keys_fit_the_delivery_note_column(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    from connectors.base import MemoryNotes
    from scheduler.db.models import DeliveryNote

    connector = connect(tmp_path, clock, fake)
    post = post_of("images", tmp_path, clock)
    connector.publish(post)
    assert isinstance(post.notes, MemoryNotes)
    width = DeliveryNote.__table__.c.key.type.length
    assert post.notes.values and all(len(key) <= width for key in post.notes.values)


def test_a_post_reconciled_after_its_answer_was_lost_gets_its_images_attached(
    tmp_path: Path, clock: FakeClock, fake: WordPressFake
) -> None:
    connector = connect(tmp_path, clock, fake)
    post = post_of("images", tmp_path, clock)
    fake.fail_next_create("ambiguous")  # created, answer lost: the images are not attached
    with pytest.raises(Ambiguous):
        connector.publish(post)
    assert {m["post"] for m in fake.media.values()} == {None}
    found = connector.find(post)
    assert found is not None
    assert {m["post"] for m in fake.media.values()} == {int(found.platform_id)}
