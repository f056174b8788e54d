"""The X connector against the spec-checking fake, through its own requests client."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from urllib3.exceptions import NewConnectionError, ProtocolError

from connectors.base import AccountSettings, Published
from connectors.credentials import credentials_for
from connectors.errors import Ambiguous, AuthExpired, Permanent, RateLimited, Retryable
from connectors.x import XConnector
from connectors.x_api import XHttpError, translate
from tests.connectors.cases.x import x_account
from tests.connectors.contract import outgoing
from tests.fakes.wsgi import serve, session_for
from tests.fakes.x import DUPLICATE, Answer, OAuth1Keys, XFake, problem
from tests.support import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# -- publishing ---------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["oauth1", "oauth2"])
def test_images_are_uploaded_with_their_alt_text_and_attached(
    auth: str, tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = x_account(tmp_path, clock, auth=auth)
    post = outgoing("images", tmp_path, due_at=clock.now())
    published = connector.publish(post)
    [tweet] = fake.created()
    assert published == Published(
        platform_id=tweet["id"], url=f"https://x.com/i/web/status/{tweet['id']}"
    )
    assert len(tweet["media"]) == 3
    alts = [fake.media[m]["metadata"]["alt_text"]["text"] for m in tweet["media"]]
    assert alts == ["Photo 0", "Photo 1", "Photo 2"]
    assert ("POST", "/2/media/upload") in fake.requests


def test_a_video_goes_up_in_chunks_and_waits_for_processing_without_sleeping(
    tmp_path: Path, clock: FakeClock
) -> None:
    fake = XFake(clock, processing_polls=3)
    sleeps: list[float] = []
    connector, _ = x_account(tmp_path, clock, fake=fake, options={"chunk_bytes": 256 * 1024})
    connector.sleep = sleeps.append
    connector.publish(outgoing("video", tmp_path, due_at=clock.now()))
    appends = [path for method, path in fake.requests if path.endswith("/append")]
    assert len(appends) == 3  # 600 kB in 256 KiB segments
    assert sleeps == [2.0, 2.0, 2.0]  # check_after_secs, three STATUS polls
    [media] = fake.media.values()
    assert media["state"] == "succeeded" and media["category"] == "tweet_video"


def test_the_text_x_receives_is_the_rendered_one(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = x_account(tmp_path, clock)
    post = outgoing("link", tmp_path, due_at=clock.now())
    rendered = connector.render(post)
    assert rendered.text == (
        "Trois collègues déguisées pour le goûter de l'Escalade !\n"
        "#escalade #bibliothèque\nhttps://www.example.org/agenda/escalade"
    )
    connector.publish(post)
    assert fake.created()[0]["text"] == rendered.text


# -- counting and checking ------------------------------------------------------------


def test_links_count_23_and_emoji_2(tmp_path: Path, clock: FakeClock) -> None:
    connector, _ = x_account(tmp_path, clock, options={"hashtags": False})
    base = outgoing("link", tmp_path, due_at=clock.now())
    long_link = dataclasses.replace(base, text="a" * 256, link="https://example.org/" + "x" * 90)
    assert connector.render(long_link).length == 256 + 1 + 23
    assert connector.check(long_link) == []
    emoji = dataclasses.replace(base, text="😀" * 141, link=None)
    [problem_] = connector.check(emoji)
    assert problem_.message.startswith("the text is 282 characters as X counts them")
    assert "at most 280" in problem_.message


def test_a_video_cannot_share_a_post_with_images(tmp_path: Path, clock: FakeClock) -> None:
    connector, _ = x_account(tmp_path, clock)
    images = outgoing("images", tmp_path, due_at=clock.now())
    video = outgoing("video", tmp_path, due_at=clock.now())
    mixed = dataclasses.replace(images, media=images.media[:1] + video.media)
    assert any("must be alone" in p.message for p in connector.check(mixed))


# -- errors -------------------------------------------------------------------------------


def test_a_duplicate_refusal_returns_the_post_already_there(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = x_account(tmp_path, clock)
    post = outgoing("link", tmp_path, due_at=clock.now())
    earlier = fake.add_tweet(
        connector.render(post).text, created_at=clock.now() - timedelta(hours=3)
    )
    published = connector.publish(post)
    assert published.platform_id == earlier["id"]
    assert len(fake.created()) == 1


def test_a_duplicate_that_cannot_be_found_fails_with_xs_words(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = x_account(tmp_path, clock)
    fake.answer_next("createPosts", problem(403, "Forbidden", DUPLICATE))
    with pytest.raises(Permanent, match="duplicate content"):
        connector.publish(outgoing("text", tmp_path, due_at=clock.now()))


def test_rate_limit_waits_until_xs_reset_header(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = x_account(tmp_path, clock)
    reset = clock.now() + timedelta(minutes=11)
    fake.answer_next(
        "createPosts",
        Answer(
            429,
            {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank"},
            {"x-rate-limit-reset": str(int(reset.timestamp()))},
            "application/problem+json",
        ),
    )
    with pytest.raises(RateLimited) as raised:
        connector.publish(outgoing("text", tmp_path, due_at=clock.now()))
    assert raised.value.until == reset


def test_a_server_error_on_create_is_ambiguous_but_on_media_retryable(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = x_account(tmp_path, clock)
    fake.answer_next("createPosts", problem(503, "Service Unavailable", "Service Unavailable"))
    with pytest.raises(Ambiguous):
        connector.publish(outgoing("text", tmp_path, due_at=clock.now()))
    fake.answer_next("mediaUpload", problem(503, "Service Unavailable", "Service Unavailable"))
    with pytest.raises(Retryable):
        connector.publish(outgoing("image", tmp_path, due_at=clock.now()))
    assert fake.created() == []


def test_connection_errors_are_ambiguous_only_once_the_request_went_out() -> None:
    now = datetime(2026, 12, 9, tzinfo=UTC)
    reset = requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError()))
    refused = requests.ConnectionError(NewConnectionError(None, "refused"))  # type: ignore[arg-type]
    assert isinstance(translate(reset, account="x", doing="t", creating=True, now=now), Ambiguous)
    assert isinstance(translate(refused, account="x", doing="t", creating=True, now=now), Retryable)
    lost = requests.ReadTimeout("read timed out")
    assert isinstance(translate(lost, account="x", doing="t", creating=False, now=now), Retryable)


# -- requests the real API rejects --------------------------------------------------------


def test_an_unknown_field_on_create_is_refused_by_the_spec(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = x_account(tmp_path, clock, auth="oauth1")
    http = connector._wire().http
    with pytest.raises(XHttpError) as raised:
        http.send("POST", "/2/tweets", json={"text": "Bonjour", "media_ids": ["1"]})
    assert raised.value.response.status_code == 400
    assert raised.value.response.headers["Content-Type"] == "application/problem+json"
    assert "'media_ids' was unexpected" in str(raised.value)
    mapped = translate(raised.value, account="x", doing="t", creating=True, now=clock.now())
    assert isinstance(mapped, Permanent) and "media_ids" in mapped.message
    assert fake.created() == []


def test_a_wrong_media_category_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = x_account(tmp_path, clock, auth="oauth1")
    uploader = connector._wire().uploader
    image = outgoing("image", tmp_path, due_at=clock.now()).media[0]
    with pytest.raises(Exception) as raised:
        uploader.upload_simple("photo.png", image.path.read_bytes(), "image/png", "tweet_photo")
    mapped = translate(raised.value, account="x", doing="t", creating=False, now=clock.now())
    assert isinstance(mapped, Permanent) and mapped.http_status == 400
    assert "tweet_photo" in mapped.message
    assert fake.media == {}


def test_an_image_sent_as_video_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    connector, _ = x_account(tmp_path, clock, auth="oauth1")
    image = outgoing("image", tmp_path, due_at=clock.now()).media[0]
    video_named = dataclasses.replace(image, mime_type="video/mp4")
    post = dataclasses.replace(outgoing("text", tmp_path, due_at=clock.now()), media=(video_named,))
    with pytest.raises(Permanent, match="not a video"):
        connector.publish(post)


def test_a_token_without_media_write_cannot_upload(tmp_path: Path, clock: FakeClock) -> None:
    fake = XFake(clock, scopes=frozenset({"tweet.read", "tweet.write", "users.read"}))
    connector, _ = x_account(tmp_path, clock, fake=fake)
    with pytest.raises(Permanent, match=r"media\.write") as raised:
        connector.publish(outgoing("image", tmp_path, due_at=clock.now()))
    assert raised.value.http_status == 403


def test_a_wrong_consumer_secret_fails_the_signature(tmp_path: Path, clock: FakeClock) -> None:
    fake = XFake(clock, oauth1=OAuth1Keys(consumer_secret="the-real-one"))
    connector, _ = x_account(tmp_path, clock, auth="oauth1", fake=fake)
    fake.oauth1 = OAuth1Keys(consumer_secret="rotated-in-the-console")
    verdict = connector.verify()
    assert not verdict.ok and "refused the credentials" in verdict.message
    with pytest.raises(AuthExpired):
        connector.publish(outgoing("text", tmp_path, due_at=clock.now()))


def test_an_unknown_query_parameter_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    connector, _ = x_account(tmp_path, clock, auth="oauth1")
    http = connector._wire().uploader.http
    with pytest.raises(Exception) as raised:
        http.send("GET", "/2/media/upload", params={"command": "STATUS", "media_id": "1",
                                                    "verbose": "1"})  # fmt: skip
    assert raised.value.response.status_code == 400  # type: ignore[attr-defined]
    assert "[verbose] is not one of" in str(raised.value)


# -- OAuth 2.0 renewal ------------------------------------------------------------------------


@pytest.mark.parametrize("client_secret", [None, "confidential-secret"])
def test_an_expired_token_is_renewed_and_the_rotated_refresh_token_saved(
    client_secret: str | None, tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = x_account(tmp_path, clock, client_secret=client_secret)
    fake.expire_access_tokens()
    connector.publish(outgoing("text", tmp_path, due_at=clock.now()))
    assert fake.refreshes == 1 and len(fake.created()) == 1
    saved = tmp_path / "state" / "tokens" / "x" / "refresh_token"
    assert saved.read_text() in fake.refresh_tokens  # the old one is dead, this one lives
    assert (saved.stat().st_mode & 0o777) == 0o600
    # A restarted daemon (a new connector) reads the saved pair before the environment.
    restarted, _ = x_account(tmp_path, clock, fake=fake, client_secret=client_secret)
    assert restarted.verify().ok
    assert fake.refreshes == 1


def test_the_token_is_renewed_before_it_expires(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = x_account(tmp_path, clock)
    fake.expire_access_tokens()
    assert connector.verify().ok  # 401, renewed, the new token lives 2 h
    clock.advance(hours=2)
    assert connector.verify().ok  # renewed ahead instead of failing first
    assert fake.refreshes == 2


def test_a_refused_refresh_pauses_the_account_with_what_to_do(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = x_account(tmp_path, clock)
    fake.expire_credentials()
    with pytest.raises(AuthExpired) as raised:
        connector.publish(outgoing("text", tmp_path, due_at=clock.now()))
    assert "Value passed for the token was invalid" in raised.value.message
    assert "authorise relais again" in raised.value.message


def test_no_secret_reaches_a_log_line(
    tmp_path: Path,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Other tests configure logging with dictConfig, which disables loggers made earlier.
    for name in ("connectors.x", "connectors.x_api", "requests_oauthlib", "oauthlib"):
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)
    connector, fake = x_account(tmp_path, clock)
    fake.expire_access_tokens()
    with caplog.at_level(logging.DEBUG):
        connector.publish(outgoing("image", tmp_path, due_at=clock.now()))
    secrets = connector.settings.secrets()
    for name in ("access_token", "refresh_token"):
        value = secrets.get(name).reveal()
        assert value not in caplog.text and value not in repr(connector.__dict__)
    assert "renewed the X access token" in caplog.text and "posted on X" in caplog.text


# -- credentials and verify -----------------------------------------------------------------


def test_missing_credentials_say_where_to_put_them(tmp_path: Path, clock: FakeClock) -> None:
    settings = AccountSettings(
        name="x",
        kind="x",
        base_dir=tmp_path,
        options={"auth": "oauth1"},
        credentials=credentials_for("x", state_dir=tmp_path / "state", environment={}),
    )
    connector = XConnector(settings, clock, session=session_for(XFake(clock)))
    verdict = connector.verify()
    assert not verdict.ok and "RELAIS_X_CONSUMER_KEY" in verdict.message
    with pytest.raises(AuthExpired, match="RELAIS_X_CONSUMER_KEY"):
        connector.publish(outgoing("text", tmp_path, due_at=clock.now()))


def test_verify_names_the_account(tmp_path: Path, clock: FakeClock) -> None:
    connector, _ = x_account(tmp_path, clock, auth="oauth1")
    verdict = connector.verify()
    assert verdict.ok and "@bge" in verdict.message and "1500000000000000001" in verdict.message


def test_unknown_options_are_refused(tmp_path: Path, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="tokn"):
        x_account(tmp_path, clock, options={"tokn": "x"})


# -- reconciliation -------------------------------------------------------------------------


def test_find_matches_the_text_x_rewrote(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = x_account(tmp_path, clock)
    post = dataclasses.replace(
        outgoing("link", tmp_path, due_at=clock.now()), text="Lecture & goûter <enfants>"
    )
    fake.fail_next_create("ambiguous")
    with pytest.raises(Ambiguous):
        connector.publish(post)
    clock.advance(minutes=5)
    found = connector.find(post)
    assert found is not None and found.platform_id == fake.created()[0]["id"]


def test_find_ignores_the_same_text_posted_before_the_attempt(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = x_account(tmp_path, clock)
    post = outgoing("text", tmp_path, due_at=clock.now())
    fake.add_tweet(connector.render(post).text, created_at=clock.now() - timedelta(days=2))
    post.notes.put("x.sent_at", clock.now().isoformat())
    assert connector.find(post) is None


def test_find_reads_further_pages(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = x_account(tmp_path, clock)
    post = outgoing("text", tmp_path, due_at=clock.now())
    post.notes.put("x.sent_at", clock.now().isoformat())
    target = fake.add_tweet(connector.render(post).text)
    for n in range(150):
        fake.add_tweet(f"Autre message {n}")
    found = connector.find(post)
    assert found is not None and found.platform_id == target["id"]


# -- over real HTTP on loopback (api_base) ---------------------------------------------------


def test_a_daemon_can_be_pointed_at_a_fake_on_loopback(tmp_path: Path, clock: FakeClock) -> None:
    fake = XFake(clock)
    keys = fake.oauth1
    environment = {
        "RELAIS_X_CONSUMER_KEY": keys.consumer_key,
        "RELAIS_X_CONSUMER_SECRET": keys.consumer_secret,
        "RELAIS_X_ACCESS_TOKEN": keys.access_token,
        "RELAIS_X_ACCESS_TOKEN_SECRET": keys.access_token_secret,
    }
    with serve(fake) as base_url:
        settings = AccountSettings(
            name="x",
            kind="x",
            base_dir=tmp_path,
            options={"auth": "oauth1", "api_base": base_url, "timeout": "5s"},
            credentials=credentials_for("x", state_dir=tmp_path, environment=environment),
        )
        connector = XConnector(settings, clock)  # its own session, as in production
        assert connector.verify().ok
        connector.publish(outgoing("image", tmp_path, due_at=clock.now()))
    assert len(fake.created()) == 1 and len(fake.created()[0]["media"]) == 1
