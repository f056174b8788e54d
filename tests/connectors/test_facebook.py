"""The Facebook Page connector: scheduling, duplicates, rejections, against the fake Graph API."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from requests import PreparedRequest, Response
from werkzeug.wrappers import Request

from connectors.base import AccountSettings, MemoryNotes
from connectors.credentials import Secret
from connectors.errors import Permanent, RateLimited, Retryable
from connectors.facebook import FacebookPageConnector
from connectors.graph import GRAPH_VERSION, GraphClient, GraphError, publish_error
from connectors.handover import HandedOver, Liveness
from tests.connectors.cases.facebook import build_facebook
from tests.connectors.contract import media_item, outgoing
from tests.fakes.wsgi import ResetBeforeSending, WsgiAdapter, session_for
from tests.support import FakeClock


def test_a_post_due_two_hours_ahead_is_scheduled_natively_and_found(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_facebook(tmp_path, clock)
    due = clock.now() + timedelta(hours=2)
    assert connector.lead_time == timedelta(hours=24)
    assert connector.min_lead_time == timedelta(minutes=11)
    post = outgoing("text", tmp_path, due_at=due)

    published = connector.publish(post)

    [scheduled] = fake.scheduled()
    assert scheduled["id"] == published.platform_id
    assert scheduled["scheduled_publish_time"] == due
    [(_, _, sent)] = [r for r in fake.requests if r[1].endswith("/feed")]
    assert sent["published"] == "false"
    assert sent["scheduled_publish_time"] == str(int(due.timestamp()))
    clock.advance(minutes=5)
    assert connector.find(post) == published


def test_photos_of_a_scheduled_post_are_uploaded_unpublished_and_attached(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_facebook(tmp_path, clock)
    post = outgoing("images", tmp_path, due_at=clock.now() + timedelta(hours=3))

    connector.publish(post)

    uploads = [params for _, path, params in fake.requests if path.endswith("/photos")]
    assert [(u["published"], u["temporary"]) for u in uploads] == [("false", "true")] * 3
    [feed] = [params for _, path, params in fake.requests if path.endswith("/feed")]
    attached = [json.loads(v)["media_fbid"] for k, v in sorted(feed.items()) if "attached" in k]
    assert attached == fake.posts[0]["photos"] and len(attached) == 3


def test_a_post_due_now_is_published_at_once(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build_facebook(tmp_path, clock)
    connector.publish(outgoing("link", tmp_path, due_at=clock.now()))
    [(_, _, sent)] = [r for r in fake.requests if r[1].endswith("/feed")]
    assert "scheduled_publish_time" not in sent
    assert sent["link"] == "https://www.example.org/agenda/escalade"
    assert sent["link"] not in sent["message"]  # the link travels as a preview
    assert fake.scheduled() == []


def test_a_video_goes_to_the_video_host_with_title_and_description(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_facebook(tmp_path, clock)
    urls: list[str] = []

    class Recording(WsgiAdapter):
        def send(self, request: PreparedRequest, **kwargs: Any) -> Response:  # type: ignore[override]
            urls.append(str(request.url))
            return super().send(request, **kwargs)

    connector.session.mount("https://", Recording(fake))
    post = outgoing("video", tmp_path, due_at=clock.now())
    published = connector.publish(post)
    assert urls == [f"https://graph-video.facebook.com/{GRAPH_VERSION}/{fake.page_id}/videos"]
    [video] = fake.videos
    assert video["title"] == post.title and video["description"].startswith(post.text)
    assert published.url == f"https://www.facebook.com/{fake.page_id}/videos/{video['id']}"


def test_a_duplicate_refusal_returns_the_post_already_made(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_facebook(tmp_path, clock)
    post = outgoing("text", tmp_path, due_at=clock.now())
    first = connector.publish(post)
    clock.advance(minutes=2)

    again = connector.publish(post)  # e.g. a retry after an error that hid a success

    assert again == first
    assert len(fake.created()) == 1


def test_a_duplicate_of_someone_elses_older_post_fails_with_facebooks_words(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_facebook(tmp_path, clock)
    connector.publish(outgoing("text", tmp_path, due_at=clock.now()))
    clock.advance(days=1)
    mine = outgoing("text", tmp_path, due_at=clock.now())  # same text, a new delivery
    with pytest.raises(Permanent, match="identical to the last one"):
        connector.publish(mine)
    assert len(fake.created()) == 1


def test_a_missing_permission_is_refused_by_facebook_and_fails(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_facebook(tmp_path, clock)
    fake.permissions.discard("pages_manage_posts")
    with pytest.raises(Permanent, match=r"\(#200\).*pages_manage_posts") as raised:
        connector.publish(outgoing("text", tmp_path, due_at=clock.now()))
    assert raised.value.http_status == 403
    assert fake.created() == []


def test_an_unknown_parameter_is_refused_by_the_fake_as_by_facebook(
    tmp_path: Path, clock: FakeClock
) -> None:
    _, fake = build_facebook(tmp_path, clock)
    client = GraphClient(
        api_base="https://graph.facebook.com",
        token=Secret(fake.page_token),
        session=session_for(fake),
        timeout=5,
    )
    with pytest.raises(GraphError) as raised:
        client.post(f"{fake.page_id}/feed", {"message": "Bonjour", "privacy": "EVERYONE"})
    assert raised.value.http_status == 400 and raised.value.code == 100
    failure = publish_error(
        raised.value, account="facebook", doing="posting", creating=True, now=clock.now()
    )
    assert isinstance(failure, Permanent) and "privacy" in failure.message


def test_a_file_that_is_not_an_image_is_refused_as_a_photo(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_facebook(tmp_path, clock)
    fake_photo = media_item(tmp_path, "notes.png", b"%PDF-1.7 not a picture", "image/png", "x")
    post = dataclasses.replace(outgoing("text", tmp_path, due_at=clock.now()), media=(fake_photo,))
    with pytest.raises(Permanent, match="file type is not supported"):
        connector.publish(post)
    assert fake.created() == []


def test_page_throttling_waits_for_the_time_facebook_estimates(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_facebook(tmp_path, clock)
    fake.fail_next_create("rate_limited")
    with pytest.raises(RateLimited) as raised:
        connector.publish(outgoing("text", tmp_path, due_at=clock.now()))
    # X-Business-Use-Case-Usage said estimated_time_to_regain_access: 12 (minutes).
    assert raised.value.until == clock.now() + timedelta(minutes=12)


def test_a_connection_that_fails_before_sending_is_retried(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_facebook(tmp_path, clock)

    def refuse(request: Request) -> None:
        if request.path.endswith("/feed"):
            raise ResetBeforeSending("connection refused")

    fake.before = refuse
    with pytest.raises(Retryable):
        connector.publish(outgoing("text", tmp_path, due_at=clock.now()))
    assert fake.created() == []


def test_the_token_never_shows_in_errors_or_logs(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    connector, fake = build_facebook(tmp_path, clock)
    fake.fail_next_create("auth_expired")
    with pytest.raises(Exception) as raised:
        connector.publish(outgoing("text", tmp_path, due_at=clock.now()))
    shown = [str(raised.value), repr(raised.value), str(raised.value.__cause__), caplog.text]
    assert all(fake.page_token not in text for text in shown)


def test_verify_names_the_page_or_where_the_token_goes(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build_facebook(tmp_path, clock)
    verdict = connector.verify()
    assert verdict.ok and "Bibliothèques de Genève" in verdict.message
    assert fake.page_id in verdict.message
    bare = AccountSettings(
        name="facebook",
        kind="facebook_page",
        base_dir=tmp_path,
        options={"page_id": fake.page_id},
        state_dir=tmp_path / "empty",
    )
    verdict = FacebookPageConnector(bare, clock, session=session_for(fake)).verify()
    assert not verdict.ok and "RELAIS_FACEBOOK_PAGE_TOKEN" in verdict.message


def test_hashtags_and_the_link_of_a_photo_post_are_in_its_message(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, _ = build_facebook(tmp_path, clock)
    post = dataclasses.replace(
        outgoing("image", tmp_path, due_at=clock.now()), link="https://example.org/a"
    )
    text = connector.render(post).text
    assert text.endswith("https://example.org/a\n\n#escalade #bibliothèque")


@pytest.mark.parametrize(
    "options",
    [{"page_id": "123", "colour": "blue"}, {"page_id": "123", "schedule_ahead": "40d"}, {}],
)
def test_unusable_options_are_refused(
    tmp_path: Path, clock: FakeClock, options: dict[str, object]
) -> None:
    settings = AccountSettings(name="fb", kind="facebook_page", base_dir=tmp_path, options=options)
    with pytest.raises(ValueError, match="account 'fb'"):
        FacebookPageConnector(settings, clock)


def test_find_without_a_send_note_asks_nothing(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build_facebook(tmp_path, clock)
    post = dataclasses.replace(outgoing("text", tmp_path, due_at=clock.now()), notes=MemoryNotes())
    assert connector.find(post) is None
    assert fake.requests == []


# -- handed over, then seen live (or not) ------------------------------------------------------


def test_a_scheduled_post_is_handed_over_and_live_once_facebook_published_it(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, _ = build_facebook(tmp_path, clock)
    due = clock.now() + timedelta(hours=2)
    post = outgoing("text", tmp_path, due_at=due)
    answer = connector.publish(post)
    assert isinstance(answer, HandedOver)
    assert answer.live_at == due
    assert connector.confirm(post, answer.platform_id).liveness == Liveness.PENDING
    clock.advance(hours=2, minutes=15)
    seen = connector.confirm(post, answer.platform_id)
    assert seen.liveness == Liveness.LIVE
    assert seen.url == f"https://www.facebook.com/{answer.platform_id}"


def test_a_scheduled_post_deleted_on_the_page_is_not_live(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build_facebook(tmp_path, clock)
    post = outgoing("text", tmp_path, due_at=clock.now() + timedelta(hours=2))
    answer = connector.publish(post)
    fake.posts.clear()
    clock.advance(hours=3)
    seen = connector.confirm(post, answer.platform_id)
    assert seen.liveness == Liveness.NOT_LIVE
    assert seen.reason is not None and "no longer on the Page" in seen.reason


def test_a_scheduled_video_is_handed_over_and_live_once_published(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, _ = build_facebook(tmp_path, clock)
    post = outgoing("video", tmp_path, due_at=clock.now() + timedelta(hours=2))
    answer = connector.publish(post)
    assert isinstance(answer, HandedOver)
    clock.advance(hours=3)
    assert connector.confirm(post, answer.platform_id).liveness == Liveness.LIVE


def test_a_post_due_now_is_not_handed_over(tmp_path: Path, clock: FakeClock) -> None:
    connector, _ = build_facebook(tmp_path, clock)
    answer = connector.publish(outgoing("text", tmp_path, due_at=clock.now()))
    assert not isinstance(answer, HandedOver)


def test_accounts_check_refuses_a_user_token_where_the_page_token_is_needed(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build_facebook(tmp_path, clock)
    assert connector.verify().ok
    fake.user_tokens.add(fake.page_token)  # the stored token is a person's, not the Page's
    verdict = connector.verify()
    assert not verdict.ok
    assert "Page token" in verdict.message and "/me/accounts" in verdict.message


def test_photo_alt_text_is_sent(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build_facebook(tmp_path, clock)
    connector.publish(outgoing("image", tmp_path, due_at=clock.now()))
    [upload] = [params for _, path, params in fake.requests if path.endswith("/photos")]
    assert upload["alt_text_custom"] == "Une marmite"
