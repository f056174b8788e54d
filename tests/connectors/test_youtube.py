"""The YouTube connector against the fake, beyond the shared contract."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaFileUpload

from connectors.base import AccountSettings, Outgoing, Published
from connectors.credentials import credentials_for
from connectors.errors import AuthExpired, Permanent, RateLimited, Retryable
from connectors.handover import HandedOver, Liveness
from connectors.youtube import YouTubeConnector
from connectors.youtube_upload import (
    SESSION_NOTE,
    VIDEO_NOTE,
    error_details,
    translate,
    transport,
)
from tests.connectors.cases.youtube import connector_for, environment
from tests.connectors.contract import media_item, outgoing, png_bytes
from tests.fakes.wsgi import WsgiHttp, serve
from tests.fakes.youtube import GoogleError, YouTubeFake
from tests.support import FakeClock

UNIT = 256 * 1024


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> YouTubeFake:
    return YouTubeFake(clock=clock.now)


def video_post(tmp_path: Path, clock: FakeClock, **changes: Any) -> Outgoing:
    post = outgoing("video", tmp_path, due_at=clock.now(), account="youtube")
    return dataclasses.replace(post, **changes) if changes else post


def with_thumbnail(post: Outgoing, tmp_path: Path, mime_type: str = "image/png") -> Outgoing:
    image = media_item(tmp_path, "cover.png", png_bytes(), mime_type, "Affiche")
    return dataclasses.replace(post, media=(*post.media, image))


def api(fake: YouTubeFake) -> Any:
    """The real client, authorised the way the connector does it, for hand-made requests."""
    connector = connector_for(fake, Path("/nonexistent"), FakeClock())
    return connector._api()


# -- what is sent ----------------------------------------------------------------------------


def test_a_post_due_later_is_uploaded_private_with_publish_at_its_due_time(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    connector = connector_for(fake, tmp_path, clock)
    due = clock.now() + timedelta(hours=6)
    post = video_post(tmp_path, clock, due_at=due, link="https://www.example.org/escalade")
    published = connector.publish(post)
    video = fake.created()[0]
    assert video["status"]["privacyStatus"] == "private"
    assert video["status"]["publishAt"] == "2026-12-09T15:00:00Z"
    assert video["snippet"]["description"] == connector.render(post).text
    assert video["snippet"]["description"].endswith("\nhttps://www.example.org/escalade")
    assert video["snippet"]["title"] == "Goûter de l'Escalade"
    assert video["snippet"]["categoryId"] == "27"
    assert video["snippet"]["tags"] == ["escalade", "bibliothèque"]
    assert published.url == f"https://www.youtube.com/watch?v={video['id']}"
    assert connector.lead_time == timedelta(hours=12)
    assert connector.min_lead_time == timedelta(minutes=15)


def test_a_post_due_now_is_public_at_once(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    connector_for(fake, tmp_path, clock).publish(video_post(tmp_path, clock))
    assert fake.created()[0]["status"]["privacyStatus"] == "public"
    assert "publishAt" not in fake.created()[0]["status"]


def test_the_upload_is_chunked_and_logs_its_progress_per_chunk(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake, caplog: pytest.LogCaptureFixture
) -> None:
    connector = connector_for(fake, tmp_path, clock, chunk_size=UNIT)
    post = video_post(tmp_path, clock)
    with caplog.at_level(logging.INFO, logger="connectors.youtube_upload"):
        connector.publish(post)
    (session,) = fake.sessions.values()
    assert session.chunks == [(0, UNIT - 1), (UNIT, 2 * UNIT - 1), (2 * UNIT, 600_031)]
    progress = [r for r in caplog.records if r.getMessage().startswith("video upload")]
    assert [r.getMessage() for r in progress] == [
        "video upload 43%",
        "video upload 87%",
        "video upload 100%",
    ]
    for record in progress:
        ids = record.fields  # type: ignore[attr-defined]
        assert ids["delivery_id"] == post.delivery_id and ids["account"] == "youtube"


def test_the_session_is_noted_before_the_first_byte_is_sent(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    seen: list[int] = []

    class Notes(dict[str, str]):
        def put(self, key: str, value: str) -> None:
            if key == SESSION_NOTE:
                seen.extend(len(s.received) for s in fake.sessions.values())
            self[key] = value

    post = video_post(tmp_path, clock, notes=Notes())
    connector_for(fake, tmp_path, clock).publish(post)
    assert seen == [0]
    assert post.notes.get(SESSION_NOTE) is not None
    assert post.notes.get(VIDEO_NOTE) == fake.created()[0]["id"]


def test_thumbnail_and_playlist_are_set_after_the_upload(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    connector = connector_for(fake, tmp_path, clock, playlist_id="PLmercredi")
    post = with_thumbnail(video_post(tmp_path, clock), tmp_path)
    assert connector.check(post) == []
    video_id = connector.publish(post).platform_id
    assert fake.thumbnails[video_id] == png_bytes()
    [item] = fake.playlists["PLmercredi"]
    assert item["snippet"]["resourceId"] == {"kind": "youtube#video", "videoId": video_id}


# -- interruptions ----------------------------------------------------------------------------


def test_a_server_error_on_a_chunk_is_retried_by_resuming_not_restarting(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    connector = connector_for(fake, tmp_path, clock, chunk_size=UNIT)
    post = video_post(tmp_path, clock)
    original = fake.chunk
    calls = {"n": 0}

    def second_chunk_fails(request: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            fake.fail_next_chunk(503)
        return original(request)

    fake.chunk = second_chunk_fails  # type: ignore[method-assign]
    with pytest.raises(Retryable):
        connector.publish(post)
    assert fake.created() == []
    connector.publish(post)
    (session,) = fake.sessions.values()
    assert session.chunks == [(0, UNIT - 1), (UNIT, 2 * UNIT - 1), (2 * UNIT, 600_031)]
    assert len(fake.created()) == 1


def test_find_resumes_an_interrupted_upload_and_returns_the_video(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    connector = connector_for(fake, tmp_path, clock, chunk_size=UNIT)
    post = video_post(tmp_path, clock)
    fake.lose_next_chunk_answer()
    with pytest.raises(Exception) as raised:
        connector.publish(post)
    assert type(raised.value).__name__ == "Ambiguous"
    (session,) = fake.sessions.values()
    assert session.chunks == [(0, UNIT - 1)] and fake.created() == []

    found = connector_for(fake, tmp_path, clock, chunk_size=UNIT).find(post)
    assert isinstance(found, Published)
    assert found.platform_id == fake.created()[0]["id"]
    assert session.chunks == [(0, UNIT - 1), (UNIT, 2 * UNIT - 1), (2 * UNIT, 600_031)]
    assert fake.created()[0]["bytes"] == post.media[0].path.read_bytes()


def test_an_expired_session_without_a_video_is_not_found(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    connector = connector_for(fake, tmp_path, clock, chunk_size=UNIT)
    post = video_post(tmp_path, clock)
    fake.lose_next_chunk_answer()
    with pytest.raises(Exception, match="upload session is noted"):
        connector.publish(post)
    fake.expire_sessions()
    assert connector.find(post) is None
    assert fake.created() == []


def test_an_expired_session_whose_video_exists_is_found_in_the_uploads(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    connector = connector_for(fake, tmp_path, clock)
    post = video_post(tmp_path, clock)
    fake.fail_next_create("ambiguous")
    with pytest.raises(Exception, match="upload session is noted"):
        connector.publish(post)
    fake.expire_sessions()
    found = connector.find(post)
    assert found is not None and found.platform_id == fake.created()[0]["id"]


def test_dead_credentials_during_reconciliation_pause_the_account(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    """The session is gone, so only the channel's uploads can tell: with a revoked grant,
    find raises AuthExpired (Connector.find's contract), not a Retryable forever."""
    post = video_post(tmp_path, clock)
    fake.fail_next_create("ambiguous")
    with pytest.raises(Exception, match="upload session is noted"):
        connector_for(fake, tmp_path, clock).publish(post)
    restarted = connector_for(fake, tmp_path, clock)  # a new daemon: no access token yet
    fake.expire_sessions()
    fake.expire_credentials()
    with pytest.raises(AuthExpired, match="relais accounts resume youtube"):
        restarted.find(post)


# -- errors -----------------------------------------------------------------------------------


def test_quota_exceeded_waits_for_midnight_pacific_time(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    fake.fail_next_create("rate_limited")
    with pytest.raises(RateLimited) as raised:
        connector_for(fake, tmp_path, clock).publish(video_post(tmp_path, clock))
    # 2026-12-09 09:00 UTC is 01:00 in Los Angeles; the quota resets at 00:00 PST the next day.
    assert raised.value.until == datetime(2026, 12, 10, 8, 0, tzinfo=UTC)
    assert "quota" in raised.value.message


def test_the_upload_limit_waits_a_day(tmp_path: Path, clock: FakeClock, fake: YouTubeFake) -> None:
    fake.refuse_next_create(
        GoogleError(
            400,
            "uploadLimitExceeded",
            "The user has exceeded the number of videos they may upload.",
        )
    )
    with pytest.raises(RateLimited) as raised:
        connector_for(fake, tmp_path, clock).publish(video_post(tmp_path, clock))
    assert raised.value.until == clock.now() + timedelta(hours=24)


@pytest.mark.parametrize(
    ("code", "reason"),
    [(403, "rateLimitExceeded"), (403, "userRateLimitExceeded"), (429, "rateLimitExceeded")],
)
def test_rate_limits_and_server_errors_are_retried(
    code: int, reason: str, tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    fake.refuse_next_create(GoogleError(code, reason, "Too many requests."))
    with pytest.raises(Retryable):
        connector_for(fake, tmp_path, clock).publish(video_post(tmp_path, clock))


def test_a_rejected_access_token_is_refreshed_once(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    connector = connector_for(fake, tmp_path, clock)
    assert connector.verify().ok
    fake.access_tokens.clear()  # Google revoked the access token, not the grant
    connector.publish(video_post(tmp_path, clock))
    assert [path for _, path in fake.requests].count("/token") == 2
    assert len(fake.created()) == 1


def test_a_revoked_grant_pauses_the_account_with_the_steps_and_no_secret(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = list(environment(fake).values())
    connector = connector_for(fake, tmp_path, clock)
    fake.expire_credentials()
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthExpired) as raised:
        connector.publish(video_post(tmp_path, clock))
    message = raised.value.message
    assert "invalid_grant" in message
    assert "RELAIS_YOUTUBE_REFRESH_TOKEN" in message and "relais accounts resume youtube" in message
    for secret in secrets:
        assert secret not in message and secret not in caplog.text
        assert secret not in repr(raised.value)


def test_a_refresh_token_google_rotates_is_saved(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    fake.rotate_refresh_tokens = True
    connector = connector_for(fake, tmp_path, clock)
    assert connector.verify().ok
    saved = (tmp_path / "state" / "tokens" / "youtube" / "refresh_token").read_text()
    assert saved in fake.refresh_tokens


def test_missing_credentials_are_named_by_verify(tmp_path: Path, clock: FakeClock) -> None:
    settings = AccountSettings(
        name="youtube",
        kind="youtube",
        base_dir=tmp_path,
        credentials=credentials_for("youtube", state_dir=tmp_path, environment={}),
    )
    verdict = YouTubeConnector(settings, clock, http=WsgiHttp(YouTubeFake())).verify()
    assert not verdict.ok and "RELAIS_YOUTUBE_" in verdict.message


# -- requests the real API refuses ---------------------------------------------------------------


def test_an_unknown_video_field_is_refused_as_youtube_does(
    tmp_path: Path, fake: YouTubeFake
) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00" * 1000)
    request = (
        api(fake)
        .videos()
        .insert(
            part="snippet,status",
            body={"snippet": {"title": "Escalade", "colour": "rouge"}},
            media_body=MediaFileUpload(str(path), mimetype="video/mp4", resumable=True),
        )
    )
    with pytest.raises(HttpError) as raised:
        request.next_chunk()
    assert raised.value.resp.status == 400
    reason, message = error_details(raised.value.content)
    assert reason == "invalid"
    assert message == (
        "Invalid JSON payload received. Unknown name \"colour\" at 'resource.snippet': "
        "Cannot find field."
    )
    error = translate(raised.value, datetime.now(UTC), str)
    assert isinstance(error, Permanent) and error.message == message


def test_an_unknown_part_and_a_wrong_media_type_are_refused(
    tmp_path: Path, fake: YouTubeFake
) -> None:
    with pytest.raises(HttpError) as raised:
        api(fake).channels().list(part="snippets", mine=True).execute()
    assert raised.value.resp.status == 400 and b"unknownPart" in raised.value.content
    gif = tmp_path / "cover.gif"
    gif.write_bytes(b"GIF89a" + b"\x00" * 100)
    with pytest.raises(HttpError) as raised:
        api(fake).thumbnails().set(
            videoId="x", media_body=MediaFileUpload(str(gif), mimetype="image/gif")
        ).execute()
    assert raised.value.resp.status == 400 and b"Media type 'image/gif'" in raised.value.content


def test_a_gif_thumbnail_is_refused_offline(tmp_path: Path, clock: FakeClock) -> None:
    connector = connector_for(YouTubeFake(), tmp_path, clock)
    post = with_thumbnail(video_post(tmp_path, clock), tmp_path, mime_type="image/gif")
    assert any("thumbnail" in problem.message for problem in connector.check(post))


def test_a_grant_without_the_youtube_scope_uploads_but_cannot_manage_playlists(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    fake = YouTubeFake(clock=clock.now, scopes=["https://www.googleapis.com/auth/youtube.upload"])
    connector = connector_for(fake, tmp_path, clock, playlist_id="PLmercredi")
    published = connector.publish(video_post(tmp_path, clock))
    assert published.platform_id == fake.created()[0]["id"]
    assert fake.playlists["PLmercredi"] == []
    assert "insufficient authentication scopes" in caplog.text
    verdict = connector.verify()
    assert not verdict.ok and "re-authorise" in verdict.message


# -- offline checks and options ----------------------------------------------------------------


def test_title_description_and_media_are_checked_offline(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    connector = connector_for(fake, tmp_path, clock)
    post = video_post(tmp_path, clock, title="T" * 101, text="<b>gras</b>")
    messages = [problem.message for problem in connector.check(post)]
    assert any("101 characters" in m and "100" in m for m in messages)
    assert any("'<' and '>'" in m for m in messages)
    no_video = dataclasses.replace(video_post(tmp_path, clock), media=())
    assert any("video" in p.message for p in connector.check(no_video))
    rendered = connector.render(video_post(tmp_path, clock, text="é" * 10))
    assert (rendered.length, rendered.counted_as, rendered.limit) == (20, "bytes", 5000)


def test_options_are_strict(tmp_path: Path, clock: FakeClock, fake: YouTubeFake) -> None:
    with pytest.raises(ValueError, match="colour"):
        connector_for(fake, tmp_path, clock, colour="red")
    with pytest.raises(ValueError, match="256 KiB"):
        connector_for(fake, tmp_path, clock, chunk_size=300_000)


# -- over real HTTP --------------------------------------------------------------------------------


def test_it_uploads_over_loopback_http_with_the_production_transport(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    with serve(fake) as url:
        fake.base_url = url
        settings = AccountSettings(
            name="youtube",
            kind="youtube",
            base_dir=tmp_path,
            options={"api_base": url + "/", "token_uri": url + "/token", "chunk_size": UNIT},
            credentials=credentials_for(
                "youtube", state_dir=tmp_path / "state", environment=environment(fake)
            ),
        )
        connector = YouTubeConnector(settings, clock, http=transport(10))
        published = connector.publish(video_post(tmp_path, clock))
    assert published.platform_id == fake.created()[0]["id"]
    assert len(next(iter(fake.sessions.values())).chunks) == 3


def test_a_refused_connection_is_retried(tmp_path: Path, clock: FakeClock) -> None:
    with serve(YouTubeFake()) as url:
        pass  # the port is closed again: nothing listens there any more
    settings = AccountSettings(
        name="youtube",
        kind="youtube",
        base_dir=tmp_path,
        options={"api_base": url + "/", "token_uri": url + "/token"},
        credentials=credentials_for(
            "youtube", state_dir=tmp_path, environment=environment(YouTubeFake())
        ),
    )
    connector = YouTubeConnector(settings, clock, http=transport(5))
    with pytest.raises(Retryable):
        connector.publish(video_post(tmp_path, clock))


# -- handed over, then seen live (or not) ------------------------------------------------------


def test_a_video_scheduled_with_publish_at_is_handed_over_not_published(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    connector = connector_for(fake, tmp_path, clock)
    due = clock.now() + timedelta(hours=6)
    answer = connector.publish(video_post(tmp_path, clock, due_at=due))
    assert isinstance(answer, HandedOver)
    assert answer.live_at == due
    assert answer.platform_id == fake.created()[0]["id"]


def test_a_scheduled_video_public_and_processed_after_its_time_is_live(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    connector = connector_for(fake, tmp_path, clock)
    post = video_post(tmp_path, clock, due_at=clock.now() + timedelta(hours=6))
    answer = connector.publish(post)
    assert connector.confirm(post, answer.platform_id).liveness == Liveness.PENDING
    clock.advance(hours=6, minutes=15)
    seen = connector.confirm(post, answer.platform_id)
    assert seen.liveness == Liveness.LIVE
    assert seen.url == f"https://www.youtube.com/watch?v={answer.platform_id}"


def test_the_private_lock_of_an_unaudited_project_goes_to_a_person_with_the_audit_steps(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    fake.lock_uploads_private = True
    connector = connector_for(fake, tmp_path, clock)
    post = video_post(tmp_path, clock, due_at=clock.now() + timedelta(hours=6))
    answer = connector.publish(post)
    clock.advance(hours=6, minutes=15)
    seen = connector.confirm(post, answer.platform_id)
    assert seen.liveness == Liveness.NOT_LIVE
    assert seen.reason is not None
    assert "private" in seen.reason
    assert "audit" in seen.reason
    assert "https://support.google.com/youtube/contact/yt_api_form" in seen.reason


def test_a_video_rejected_after_processing_is_not_live_with_youtubes_reason(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    fake.reject_next_upload("duplicate")
    connector = connector_for(fake, tmp_path, clock)
    post = video_post(tmp_path, clock, due_at=clock.now() + timedelta(hours=6))
    answer = connector.publish(post)
    clock.advance(hours=6, minutes=15)
    seen = connector.confirm(post, answer.platform_id)
    assert seen.liveness == Liveness.NOT_LIVE
    assert seen.reason is not None and "rejected" in seen.reason and "duplicate" in seen.reason


def test_a_deleted_video_is_not_live(tmp_path: Path, clock: FakeClock, fake: YouTubeFake) -> None:
    connector = connector_for(fake, tmp_path, clock)
    post = video_post(tmp_path, clock, due_at=clock.now() + timedelta(hours=6))
    answer = connector.publish(post)
    fake.videos.clear()
    clock.advance(hours=7)
    seen = connector.confirm(post, answer.platform_id)
    assert seen.liveness == Liveness.NOT_LIVE
    assert seen.reason is not None and "no longer on the channel" in seen.reason


def test_accounts_check_says_when_this_projects_uploads_stay_private(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    connector = connector_for(fake, tmp_path, clock)
    post = video_post(tmp_path, clock, due_at=clock.now() + timedelta(hours=6))
    connector.publish(post)
    clock.advance(hours=7)
    assert connector.verify().ok
    fake.lock_uploads_private = True
    connector.publish(video_post(tmp_path, clock, due_at=clock.now() + timedelta(hours=6)))
    clock.advance(hours=7)
    verdict = connector.verify()
    assert not verdict.ok
    assert "locked private" in verdict.message and "audit" in verdict.message


def test_a_scheduled_video_is_moved_or_made_private_on_youtube(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    connector = connector_for(fake, tmp_path, clock)
    post = video_post(tmp_path, clock, due_at=clock.now() + timedelta(hours=6))
    answer = connector.publish(post)
    later = clock.now() + timedelta(days=1)
    assert connector.change_problem(post, clock.now() + timedelta(minutes=5)) is not None
    connector.reschedule(post, answer.platform_id, later)
    assert fake.created()[0]["status"]["publishAt"] == later.strftime("%Y-%m-%dT%H:%M:%SZ")
    connector.withdraw(post, answer.platform_id)
    status = fake.created()[0]["status"]
    assert status["privacyStatus"] == "private" and "publishAt" not in status
    clock.advance(days=2)
    assert connector.confirm(post, answer.platform_id).liveness == Liveness.NOT_LIVE


def test_cancel_can_delete_the_video_as_the_account_option_says(
    tmp_path: Path, clock: FakeClock, fake: YouTubeFake
) -> None:
    connector = connector_for(fake, tmp_path, clock, on_cancel="delete")
    post = video_post(tmp_path, clock, due_at=clock.now() + timedelta(hours=6))
    answer = connector.publish(post)
    connector.withdraw(post, answer.platform_id)
    connector.withdraw(post, answer.platform_id)  # again after a crash: no harm
    assert fake.created() == []
