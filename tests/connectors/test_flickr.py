"""Flickr: machine tags, albums, several images, idempotent publish, errors, rejections."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from flickrapi.shorturl import encode

from connectors.base import MemoryNotes, Outgoing, Published
from connectors.errors import Ambiguous, AuthExpired, Permanent, RateLimited, Retryable
from connectors.flickr import FlickrConnector, clean_tag, delivery_tag, tag_field
from scheduler.logs import quiet_chatty_libraries
from tests.connectors.cases.flickr import build_connector, secrets_environment
from tests.connectors.contract import outgoing
from tests.fakes import flickr as fake_flickr
from tests.fakes.flickr import FlickrFake
from tests.fakes.wsgi import serve
from tests.support import FakeClock

SECRETS = (fake_flickr.API_SECRET, fake_flickr.OAUTH_TOKEN_SECRET, fake_flickr.OAUTH_TOKEN)


def post(tmp_path: Path, clock: FakeClock, kind: str = "image", **changes: object) -> Outgoing:
    item = outgoing(kind, tmp_path, due_at=clock.now())  # type: ignore[arg-type]
    return dataclasses.replace(item, **changes)  # type: ignore[arg-type]


# -- what is sent ----------------------------------------------------------------------


def test_each_photo_carries_the_delivery_machine_tag_and_the_post_tags(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_connector(tmp_path, clock)
    item = post(tmp_path, clock, tags=("escalade", "bibliothèque des Eaux-Vives"))
    published = connector.publish(item)
    [photo] = fake.created()
    assert published == Published(
        platform_id=photo["id"], url=f"https://flic.kr/p/{encode(photo['id'])}"
    )
    assert clean_tag(delivery_tag(item.delivery_id)) in photo["machine_tags"]
    assert "relais:image=1" in photo["machine_tags"]
    assert photo["tags"] == ["escalade", "bibliothèquedeseauxvives"]
    assert photo["title"] == "Goûter de l'Escalade"
    assert photo["is_public"] is True


def test_tags_with_spaces_are_quoted_and_machine_tags_follow() -> None:
    field = tag_field(("#escalade", "fête de l'Escalade", 'dit "x"'), "d-1", 2)
    assert field == 'escalade "fête de l\'Escalade" "dit x" relais:delivery=d1 relais:image=2'
    assert delivery_tag("odd id") == "relais:delivery=oddid"


def test_the_machine_tag_value_has_no_punctuation_flickr_could_normalise() -> None:
    # Flickr documents that it drops punctuation from tags in search, but not how a machine
    # tag's value is normalised: a UUID's hyphens are left out, letters and digits only.
    tag = delivery_tag("0b5c6a52-1d0e-4a5e-9f7e-3c2b1a0f9e8d")
    assert tag == "relais:delivery=0b5c6a521d0e4a5e9f7e3c2b1a0f9e8d"


def test_a_free_account_at_its_1000_photos_is_reported_as_such(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_connector(tmp_path, clock)
    fake.photo_cap = len(fake.created())  # a free account already at its limit
    with pytest.raises(Permanent) as refused:
        connector.publish(post(tmp_path, clock))
    assert "1,000" in refused.value.message and "Pro" in refused.value.message


def test_description_is_escaped_and_the_link_is_an_anchor(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build_connector(tmp_path, clock)
    item = post(tmp_path, clock, text="Tom & Jerry <3", link="https://example.org/a?b=1&c=2")
    rendered = connector.render(item)
    assert rendered.text == (
        'Tom &amp; Jerry &lt;3\n\n<a href="https://example.org/a?b=1&amp;c=2">'
        "https://example.org/a?b=1&amp;c=2</a>"
    )
    assert rendered.length == len(rendered.text) and rendered.limit == 65_535
    connector.publish(item)
    assert fake.created()[0]["description"] == rendered.text


def test_private_account_uploads_private_photos(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build_connector(tmp_path, clock, is_public=False)
    connector.publish(post(tmp_path, clock))
    assert fake.created()[0]["is_public"] is False


def test_check_refuses_a_long_title_too_many_tags_and_videos_offline(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_connector(tmp_path, clock)
    item = post(tmp_path, clock, "video", title="t" * 300, tags=tuple(f"t{n}" for n in range(74)))
    messages = " | ".join(problem.message for problem in connector.check(item))
    assert "300 characters" in messages and "255" in messages
    assert "74 tags" in messages and "at most 73" in messages
    assert "clip.mp4 is video" in messages
    assert fake.requests == []


def test_unknown_options_are_refused(tmp_path: Path, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="albm"):
        build_connector(tmp_path, clock, albm="Escalade")


# -- albums ----------------------------------------------------------------------------


def test_the_album_is_created_when_missing_then_reused(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build_connector(tmp_path, clock, album="Escalade 2026")
    first = connector.publish(post(tmp_path, clock))
    second = connector.publish(post(tmp_path, clock))
    [album] = fake.albums.values()
    assert album.title == "Escalade 2026"
    assert album.photos == [first.platform_id, second.platform_id]
    assert fake.requests.count("flickr.photosets.create") == 1
    assert fake.requests.count("flickr.photosets.addPhoto") == 1


def test_an_existing_album_is_found_by_title(tmp_path: Path, clock: FakeClock) -> None:
    fake = FlickrFake()
    fake.add_album("Autre album")
    existing = fake.add_album("Escalade & co")
    connector, _ = build_connector(tmp_path, clock, fake, album="Escalade & co")
    published = connector.publish(post(tmp_path, clock, "images"))
    assert len(fake.albums) == 2
    assert existing.photos[0] == published.platform_id and len(existing.photos) == 3
    assert "flickr.photosets.create" not in fake.requests


def test_a_lost_album_answer_is_retried_without_uploading_again(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_connector(tmp_path, clock, album="Escalade")
    item = post(tmp_path, clock)
    fake.fail_next_call("flickr.photosets.create", 106, "Write operation failed")
    with pytest.raises(Retryable, match="Write operation failed"):
        connector.publish(item)
    published = connector.publish(item)
    assert len(fake.created()) == 1
    [album] = fake.albums.values()
    assert album.photos == [published.platform_id]


# -- several images, idempotency, reconciliation ---------------------------------------


def test_several_images_are_each_uploaded_and_tagged_with_their_position(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_connector(tmp_path, clock)
    item = post(tmp_path, clock, "images")
    published = connector.publish(item)
    photos = fake.created()
    assert [p["machine_tags"][1] for p in photos] == [f"relais:image={n}" for n in (1, 2, 3)]
    assert published.platform_id == photos[0]["id"]
    fresh = dataclasses.replace(item, notes=MemoryNotes())
    assert connector.find(fresh) == published


def test_publish_after_a_failure_between_two_images_uploads_only_the_missing_ones(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_connector(tmp_path, clock)
    item = post(tmp_path, clock, "images")
    fake_fail_on_second_upload(fake)  # upload 1 succeeds, upload 2 answers code 105
    with pytest.raises(Retryable, match="Service currently unavailable"):
        connector.publish(item)
    assert len(fake.created()) == 1
    published = connector.publish(item)
    assert len(fake.created()) == 3
    assert published.platform_id == fake.created()[0]["id"]


def fake_fail_on_second_upload(fake: FlickrFake) -> None:
    uploads = 0
    route = fake._route

    def failing_second(request: object) -> object:
        nonlocal uploads
        if getattr(request, "path", "") == "/services/upload/":
            uploads += 1
            if uploads == 2:
                fake.fail_next_create("retryable")
        return route(request)  # type: ignore[arg-type]

    fake._route = failing_second  # type: ignore[method-assign,assignment]


def test_a_crash_that_lost_the_notes_is_recovered_by_the_machine_tag(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_connector(tmp_path, clock)
    item = post(tmp_path, clock, "images")
    fake_fail_on_second_upload(fake)
    with pytest.raises(Retryable):
        connector.publish(item)
    # The daemon died: a new attempt starts with no notes; the search finds image 1.
    connector.publish(dataclasses.replace(item, notes=MemoryNotes()))
    assert [p["machine_tags"][1] for p in fake.created()] == [
        "relais:image=1",
        "relais:image=2",
        "relais:image=3",
    ]


def test_find_does_not_call_a_partial_post_published_and_says_what_is_missing(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    connector, fake = build_connector(tmp_path, clock)
    item = post(tmp_path, clock, "images")
    fake_fail_on_second_upload(fake)
    with pytest.raises(Retryable):
        connector.publish(item)
    with caplog.at_level(logging.ERROR, logger="connectors.flickr"):
        assert connector.find(dataclasses.replace(item, notes=MemoryNotes())) is None
    assert "images [2, 3] are missing" in caplog.text
    assert fake.created()[0]["id"] in caplog.text


def test_an_ambiguous_second_image_is_found_and_not_uploaded_twice(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_connector(tmp_path, clock)
    item = post(tmp_path, clock, "images")
    uploads = 0
    route = fake._route

    def lose_second_answer(request: object) -> object:
        nonlocal uploads
        if getattr(request, "path", "") == "/services/upload/":
            uploads += 1
            if uploads == 2:
                fake.fail_next_create("ambiguous")
        return route(request)  # type: ignore[arg-type]

    fake._route = lose_second_answer  # type: ignore[method-assign,assignment]
    with pytest.raises(Ambiguous):
        connector.publish(item)
    assert connector.find(item) is None  # image 3 never went
    connector.publish(item)  # what a person's "retry" does: only image 3 goes
    assert len(fake.created()) == 3
    assert connector.find(dataclasses.replace(item, notes=MemoryNotes())) is not None


# -- errors ----------------------------------------------------------------------------


def test_rate_limit_waits_for_retry_after_or_an_hour(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build_connector(tmp_path, clock)
    fake.retry_after = "120"
    fake.fail_next_create("rate_limited")
    with pytest.raises(RateLimited) as raised:
        connector.publish(post(tmp_path, clock))
    assert raised.value.until == clock.now() + timedelta(seconds=120)
    fake.retry_after = None
    fake.fail_next_create("rate_limited")
    with pytest.raises(RateLimited) as raised:
        connector.publish(post(tmp_path, clock))
    assert raised.value.until == clock.now() + timedelta(hours=1)


@pytest.mark.parametrize("created", [True, False])
def test_a_5xx_on_upload_is_ambiguous(tmp_path: Path, clock: FakeClock, created: bool) -> None:
    connector, fake = build_connector(tmp_path, clock)
    fake.fail_next_upload_status(502, create=created)
    with pytest.raises(Ambiguous, match="HTTP 502") as raised:
        connector.publish(post(tmp_path, clock))
    assert raised.value.http_status == 502
    assert len(fake.created()) == int(created)


def test_a_failed_search_is_retryable_and_dead_credentials_pause_in_find_too(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_connector(tmp_path, clock)
    item = post(tmp_path, clock)
    fake.fail_next_call("flickr.photos.search", 105, "Service currently unavailable")
    with pytest.raises(Retryable):
        connector.find(item)
    fake.expire_credentials()
    # Connector.find's contract: dead credentials pause the account, in find as in publish.
    with pytest.raises(AuthExpired, match="Invalid auth token"):
        connector.find(item)
    with pytest.raises(AuthExpired, match="Invalid auth token"):
        connector.publish(item)


def test_a_refused_connection_is_retryable(tmp_path: Path, clock: FakeClock) -> None:
    fake = FlickrFake()
    with serve(fake) as base:
        wired, _ = build_connector(
            tmp_path, clock, fake, api_base=base, upload_base="http://127.0.0.1:9"
        )
        connector = FlickrConnector(wired.settings, clock)  # real HTTP, nothing listens on 9
        with pytest.raises(Retryable, match="could not connect"):
            connector.publish(post(tmp_path, clock))
    assert fake.created() == []


def test_over_real_http_the_endpoint_options_reach_a_loopback_fake(
    tmp_path: Path, clock: FakeClock
) -> None:
    fake = FlickrFake()
    with serve(fake) as base:
        settings_connector, _ = build_connector(
            tmp_path, clock, fake, api_base=base, upload_base=base + "/"
        )
        connector = FlickrConnector(settings_connector.settings, clock)  # its own session
        assert connector.verify().ok
        published = connector.publish(post(tmp_path, clock, "images"))
    assert published.platform_id == fake.created()[0]["id"]


# -- rejections the real API makes -------------------------------------------------------


def test_an_unsigned_upload_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    fake = FlickrFake()
    item = post(tmp_path, clock)
    with serve(fake) as base:
        answer = requests.post(
            base + "/services/upload/",
            data={"title": "x", "api_key": fake_flickr.API_KEY},
            files={"photo": ("p.png", item.media[0].path.read_bytes())},
            timeout=5,
        )
    assert answer.status_code == 200
    assert '<err code="97" msg="Missing signature" />' in answer.text
    assert fake.created() == []


def test_a_wrong_secret_is_an_invalid_signature_and_pauses_the_account(
    tmp_path: Path, clock: FakeClock
) -> None:
    environment = secrets_environment() | {"RELAIS_FLICKR_API_SECRET": "not-the-secret"}
    connector, fake = build_connector(tmp_path, clock, environment=environment)
    with pytest.raises(AuthExpired, match=r"Invalid signature \(code 96\)"):
        connector.publish(post(tmp_path, clock))
    assert fake.created() == []


def test_unknown_methods_missing_and_unknown_arguments_are_refused(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_connector(tmp_path, clock)
    connector.publish(post(tmp_path, clock))
    client = connector._connect()
    with pytest.raises(Permanent, match=r'Method "flickr.photosets.make" not found \(code 112\)'):
        client.call("flickr.photosets.make", title="x")
    with pytest.raises(Permanent, match=r"Photo not found \(code 2\)"):
        client.call("flickr.photosets.create", title="Escalade")
    with pytest.raises(Permanent, match="HTTP 400"):
        client.call("flickr.photos.search", user_id="me", machine_tag="relais:delivery=x")
    assert fake.albums == {}


def test_a_read_only_token_cannot_upload_and_verify_says_so(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, _ = build_connector(tmp_path, clock, FlickrFake(token_perms="read"))
    verdict = connector.verify()
    assert not verdict.ok and "perms=read" in verdict.message and "perms=write" in verdict.message
    with pytest.raises(AuthExpired, match="Insufficient permissions"):
        connector.publish(post(tmp_path, clock))


def test_a_not_recognised_file_is_permanent_with_flickrs_words(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, _ = build_connector(tmp_path, clock)
    item = post(tmp_path, clock)
    item.media[0].path.write_bytes(b"not an image")
    with pytest.raises(Permanent, match=r"Filetype was not recognised \(code 5\)"):
        connector.publish(item)


# -- verify and secrets ------------------------------------------------------------------


def test_verify_names_the_user_and_the_album(tmp_path: Path, clock: FakeClock) -> None:
    connector, _ = build_connector(tmp_path, clock, album="Escalade")
    verdict = connector.verify()
    assert verdict.ok
    assert verdict.message == (
        "posts as Flickr user 'bibliotheques-geneve' (id 12345678@N00) with perms=write, "
        "into the album 'Escalade'"
    )


def test_missing_secrets_say_where_to_put_them(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build_connector(tmp_path, clock, environment={})
    verdict = connector.verify()
    assert not verdict.ok and "RELAIS_FLICKR_API_KEY" in verdict.message
    with pytest.raises(AuthExpired, match="RELAIS_FLICKR_API_KEY"):
        connector.publish(post(tmp_path, clock))
    assert fake.requests == []


def test_no_secret_reaches_logs_or_errors(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    quiet_chatty_libraries()  # what the daemon's logging setup does
    caplog.set_level(logging.DEBUG)
    connector, fake = build_connector(tmp_path, clock)
    connector.publish(post(tmp_path, clock))
    fake.expire_credentials()
    with pytest.raises(AuthExpired) as raised:
        connector.publish(post(tmp_path, clock))
    for secret in SECRETS:
        assert secret not in caplog.text
        assert secret not in str(raised.value)
    assert fake_flickr.API_KEY not in caplog.text


def test_the_fake_answers_test_login_and_refuses_a_malformed_machine_tag_query(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, _ = build_connector(tmp_path, clock)
    client = connector._connect()
    login = client.call("flickr.test.login")
    assert login["user"]["id"] == fake_flickr.USER_NSID
    with pytest.raises(Permanent, match=r"No valid machine tags \(code 11\)"):
        client.call("flickr.photos.search", user_id="me", machine_tags="9relais:delivery=x")
