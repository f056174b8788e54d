"""Mastodon: what the server counts, refuses and remembers, beyond the common contract."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from connectors.errors import Ambiguous, AuthExpired, Permanent, RateLimited, Retryable
from connectors.handover import ChangesSchedule, HandedOver, Liveness
from connectors.mastodon import MastodonConnector
from tests.connectors.cases.mastodon import build, settings
from tests.connectors.contract import outgoing
from tests.fakes.mastodon import MastodonFake
from tests.fakes.wsgi import session_for
from tests.support import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_length_is_counted_as_the_server_counts_it(tmp_path: Path, clock: FakeClock) -> None:
    connector, _fake = build(tmp_path, clock)
    # a URL is 23 whatever its length; a remote mention counts its local part only
    link = "https://www.example.org/agenda/" + "a" * 80
    assert connector.counted_length(f"Voir {link}") == len("Voir ") + 23
    assert connector.counted_length("Merci @marie@mastodon.social !") == len("Merci @marie !")
    # graphemes: a thumb with a skin tone and a decomposed é are one character each
    assert connector.counted_length("👍🏽") == 1
    assert connector.counted_length("e\u0301t\u00e9") == 3


def test_the_content_warning_counts_toward_the_limit(tmp_path: Path, clock: FakeClock) -> None:
    fake = MastodonFake(clock)
    connector = MastodonConnector(
        settings(tmp_path, content_warning="Travaux"), clock, session=session_for(fake)
    )
    post = outgoing("text", tmp_path, due_at=clock.now(), text="x" * 495)
    assert connector.render(post).length == 495 + len("Travaux")
    assert connector.check(post)  # 502 > 500


def test_the_servers_own_limits_are_kept_for_offline_checks(
    tmp_path: Path, clock: FakeClock
) -> None:
    fake = MastodonFake(clock)
    fake.max_characters = 1000  # this server allows longer posts
    connector = MastodonConnector(settings(tmp_path), clock, session=session_for(fake))
    long_post = outgoing("text", tmp_path, due_at=clock.now(), text="é" * 900)
    assert connector.check(long_post)  # before: the default 500
    assert connector.verify().ok
    # a connector built later (relais check) reads the copy in the state folder
    offline = MastodonConnector(settings(tmp_path), clock, session=session_for(MastodonFake(clock)))
    assert offline.check(long_post) == []
    assert "1000 characters" in connector.verify().message


def test_a_resend_after_a_lost_answer_returns_the_same_status(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build(tmp_path, clock)
    post = outgoing("image", tmp_path, due_at=clock.now())
    fake.fail_next_create("ambiguous")
    with pytest.raises(Ambiguous):
        connector.publish(post)
    clock.advance(minutes=10)
    again = connector.publish(post)  # same Idempotency-Key, within the server's hour
    assert [status["id"] for status in fake.created()] == [again.platform_id]
    keys = {r["path"] for r in fake.requests if r["method"] == "POST"}
    assert keys == {"/api/v1/statuses", "/api/v2/media"}
    assert sum(r["path"] == "/api/v2/media" for r in fake.requests) == 1  # noted, not re-sent


def test_alt_text_language_and_visibility_are_sent(tmp_path: Path, clock: FakeClock) -> None:
    fake = MastodonFake(clock)
    connector = MastodonConnector(
        settings(tmp_path, visibility="unlisted", language="en"), clock, session=session_for(fake)
    )
    connector.publish(outgoing("images", tmp_path, due_at=clock.now()))
    [status] = fake.created()
    assert status["visibility"] == "unlisted"
    assert status["language"] == "en"
    assert [media["description"] for media in status["media"]] == ["Photo 0", "Photo 1", "Photo 2"]


def test_a_video_still_processing_is_retried_not_uploaded_again(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build(tmp_path, clock)
    post = outgoing("video", tmp_path, due_at=clock.now())
    assert connector.check(post) == []
    for _attempt in range(2):  # uploaded (202), then still processing when asked (206)
        with pytest.raises(Retryable) as waiting:
            connector.publish(post)
        assert waiting.value.retry_after == timedelta(minutes=1)
        assert fake.created() == []
        clock.advance(minutes=1)
    published = connector.publish(post)
    assert [status["id"] for status in fake.created()] == [published.platform_id]
    assert sum(r["path"] == "/api/v2/media" for r in fake.requests) == 1


def test_native_scheduling_can_be_found_moved_and_cancelled(
    tmp_path: Path, clock: FakeClock
) -> None:
    fake = MastodonFake(clock)
    connector = MastodonConnector(
        settings(tmp_path, schedule_ahead="1d"), clock, session=session_for(fake)
    )
    assert connector.lead_time == timedelta(days=1)
    post = outgoing("text", tmp_path, due_at=clock.now() + timedelta(hours=2))
    handed = connector.publish(post)
    assert handed.platform_id.startswith("scheduled/") and handed.url is None
    assert fake.created() == [] and len(fake.scheduled) == 1
    assert connector.find(post) == handed
    assert isinstance(connector, ChangesSchedule)
    later = clock.now() + timedelta(hours=5)
    assert connector.change_problem(post, later) is None
    connector.reschedule(post, handed.platform_id, later)
    [scheduled] = fake.scheduled.values()
    assert datetime.fromisoformat(scheduled["scheduled_at"]) == later
    too_soon = connector.change_problem(post, clock.now() + timedelta(minutes=2))
    assert too_soon is not None and "5 minutes" in too_soon
    connector.withdraw(post, handed.platform_id)
    assert fake.scheduled == {}
    connector.withdraw(post, handed.platform_id)  # again after a crash: still withdrawn


def test_a_scheduled_status_is_confirmed_live_once_the_server_posted_it(
    tmp_path: Path, clock: FakeClock
) -> None:
    fake = MastodonFake(clock)
    connector = MastodonConnector(
        settings(tmp_path, schedule_ahead="1d"), clock, session=session_for(fake)
    )
    post = outgoing("text", tmp_path, due_at=clock.now() + timedelta(hours=2))
    handed = connector.publish(post)
    assert isinstance(handed, HandedOver) and handed.live_at == post.due_at
    assert connector.confirm(post, handed.platform_id).liveness == Liveness.PENDING
    clock.advance(hours=2, minutes=1)
    fake.run_scheduled()
    confirmed = connector.confirm(post, handed.platform_id)
    assert confirmed.liveness == Liveness.LIVE and confirmed.url
    fake.statuses.clear()  # a server that dropped it
    assert connector.confirm(post, handed.platform_id).liveness == Liveness.NOT_LIVE


def test_a_post_due_within_five_minutes_is_sent_at_once(tmp_path: Path, clock: FakeClock) -> None:
    fake = MastodonFake(clock)
    connector = MastodonConnector(
        settings(tmp_path, schedule_ahead="1d"), clock, session=session_for(fake)
    )
    published = connector.publish(
        outgoing("text", tmp_path, due_at=clock.now() + timedelta(minutes=3))
    )
    assert not published.platform_id.startswith("scheduled/")
    assert len(fake.created()) == 1


def test_a_rate_limit_waits_until_the_iso_reset(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build(tmp_path, clock)
    fake.fail_next_create("rate_limited")
    with pytest.raises(RateLimited) as limited:
        connector.publish(outgoing("text", tmp_path, due_at=clock.now()))
    assert limited.value.until == clock.now() + timedelta(minutes=5)


def test_the_server_refuses_what_check_would_have_refused(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build(tmp_path, clock)
    post = outgoing("text", tmp_path, due_at=clock.now(), text="é" * 501)
    with pytest.raises(Permanent, match="character limit of 500"):
        connector.publish(post)
    assert fake.created() == []


def test_a_revoked_token_pauses_and_says_how_to_renew(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build(tmp_path, clock)
    fake.expire_credentials()
    with pytest.raises(AuthExpired, match="Preferences > Development"):
        connector.publish(outgoing("text", tmp_path, due_at=clock.now()))


def test_find_ignores_statuses_older_than_the_first_attempt(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, _fake = build(tmp_path, clock)
    old = outgoing("text", tmp_path, due_at=clock.now())
    connector.publish(old)
    clock.advance(days=1)
    # the same text sent again a day later by another delivery is a different status
    newer = dataclasses.replace(old, delivery_id="another", notes=type(old.notes)())
    assert connector.find(newer) is None


def test_a_search_that_cannot_reach_back_to_the_first_attempt_asks_a_person(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build(tmp_path, clock)
    post = outgoing("text", tmp_path, due_at=clock.now(), text="Le message cherché")
    fake.fail_next_create("retryable")
    with pytest.raises(Retryable):
        connector.publish(post)  # nothing created, but the attempt is noted
    for number in range(40):  # the account posts a lot meanwhile
        other = outgoing("text", tmp_path, due_at=clock.now(), text=f"Autre {number}")
        connector.publish(other)
    with pytest.raises(Permanent, match="more than 40 statuses"):
        connector.find(post)
