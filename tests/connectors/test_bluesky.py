"""Bluesky: facets on byte offsets, one record per delivery, sessions kept, link cards."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.bluesky import BlueskyConnector
from connectors.bluesky_text import detect_facets, is_tid, record_key
from connectors.errors import Ambiguous, AuthExpired, RateLimited
from tests.connectors.cases.bluesky import build, settings
from tests.connectors.contract import media_item, outgoing, png_bytes
from tests.fakes.bluesky import PDS, BlueskyFake
from tests.fakes.wsgi import HttpxWsgiTransport
from tests.support import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_facets_point_at_utf8_bytes_not_characters() -> None:
    text = "Café 🎉 avec @marie.bsky.social #Escalade! Voir https://example.org/agenda."
    encoded = text.encode("utf-8")
    found = {facet.kind: facet for facet in detect_facets(text)}
    sliced = {kind: encoded[f.byte_start : f.byte_end].decode() for kind, f in found.items()}
    assert sliced == {
        "mention": "@marie.bsky.social",
        "tag": "#Escalade",
        "link": "https://example.org/agenda",
    }
    assert found["tag"].value == "Escalade"
    # counting code points instead would put the mention 4 places too early (é and 🎉)
    assert found["mention"].byte_start == text.index("@") + 4


def test_numbers_and_plain_words_are_not_tags_or_mentions() -> None:
    assert detect_facets("Ouvert le #1 et le 12, écrivez à info@example (sans point)") == []


def test_a_delivery_always_gets_the_same_valid_record_key(clock: FakeClock) -> None:
    key = record_key("3e8539e8-8de6-4e55-a033-e4e20a7476c3", clock.now())
    assert is_tid(key) and len(key) == 13
    assert key == record_key("3e8539e8-8de6-4e55-a033-e4e20a7476c3", clock.now())
    assert key != record_key("83f5a1be-5473-480e-aa66-750b3e85f684", clock.now())


def test_the_record_carries_facets_language_and_a_resolved_mention(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build(tmp_path, clock)
    post = outgoing(
        "text", tmp_path, due_at=clock.now(), text="Merci @marie.bsky.social et #Escalade 🎉"
    )
    connector.publish(post)
    [record] = fake.created()
    features = [facet["features"][0] for facet in record["facets"]]
    assert {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:mariebibliotheque"} in (
        features
    )
    assert record["langs"] == ["fr"]


def test_a_resend_after_a_lost_answer_finds_the_record(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build(tmp_path, clock)
    post = outgoing("text", tmp_path, due_at=clock.now())
    fake.fail_next_create("ambiguous")
    with pytest.raises(Ambiguous):
        connector.publish(post)
    clock.advance(minutes=30)
    again = connector.publish(post)  # the same key: found, not created twice
    assert [record["id"] for record in fake.created()] == [again.platform_id]
    assert again.url and again.url.startswith("https://bsky.app/profile/")


def test_the_account_password_is_refused_before_any_request(
    tmp_path: Path, clock: FakeClock
) -> None:
    fake = BlueskyFake(clock)
    connector = BlueskyConnector(
        settings(tmp_path, password="hunter2-my-real-password"),
        clock,
        transport=HttpxWsgiTransport(fake),
    )
    verdict = connector.verify()
    assert not verdict.ok and "app password" in verdict.message
    assert fake.sessions_created == 0


def test_the_session_is_kept_and_refreshed_by_relais_clock(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build(tmp_path, clock)
    connector.publish(outgoing("text", tmp_path, due_at=clock.now()))
    # a restarted daemon reuses the saved session instead of logging in again
    restarted = BlueskyConnector(settings(tmp_path), clock, transport=HttpxWsgiTransport(fake))
    restarted.publish(outgoing("text", tmp_path, due_at=clock.now()))
    assert fake.sessions_created == 1
    clock.advance(hours=3)  # the access token (2 h) has expired: refreshed, not re-created
    restarted.publish(outgoing("text", tmp_path, due_at=clock.now()))
    assert fake.sessions_created == 1
    assert len(fake.created()) == 3
    assert any(r["path"].endswith("refreshSession") for r in fake.requests)


def test_images_carry_alt_text_and_aspect_ratio(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build(tmp_path, clock)
    picture = media_item(tmp_path, "wide.png", png_bytes(40, 20), "image/png", "Une façade")
    connector.publish(
        dataclasses.replace(outgoing("text", tmp_path, due_at=clock.now()), media=(picture,))
    )
    [record] = fake.created()
    [image] = record["embed"]["images"]
    assert image["alt"] == "Une façade"
    assert (image["aspectRatio"]["width"], image["aspectRatio"]["height"]) == (40, 20)


def test_a_link_gets_a_card_from_the_pages_open_graph_tags(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build(tmp_path, clock)
    fake.pages["https://www.example.org/agenda/escalade"] = (
        "text/html",
        b'<html><head><meta property="og:title" '
        b'content="L\'Escalade \xc3\xa0 la biblioth\xc3\xa8que">'
        b'<meta property="og:description" content="Marmite et chocolat">'
        b'<meta property="og:image" content="/img/marmite.png"></head></html>',
    )
    fake.pages["https://www.example.org/img/marmite.png"] = ("image/png", png_bytes())
    connector.publish(outgoing("link", tmp_path, due_at=clock.now()))
    [record] = fake.created()
    external = record["embed"]["external"]
    assert external["title"] == "L'Escalade à la bibliothèque"
    assert external["description"] == "Marmite et chocolat"
    assert external["thumb"]["mimeType"] == "image/png"


def test_a_page_that_cannot_be_read_gives_a_card_from_the_post(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build(tmp_path, clock)
    connector.publish(outgoing("link", tmp_path, due_at=clock.now()))
    [record] = fake.created()
    assert record["embed"]["external"]["title"] == "Goûter de l'Escalade"
    assert "thumb" not in record["embed"]["external"]


def test_length_is_counted_in_graphemes(tmp_path: Path, clock: FakeClock) -> None:
    connector, _fake = build(tmp_path, clock)
    decomposed = "e\u0301" * 300  # 600 code points, 300 graphemes: accepted
    assert connector.check(outgoing("text", tmp_path, due_at=clock.now(), text=decomposed)) == []
    assert connector.check(outgoing("text", tmp_path, due_at=clock.now(), text="é" * 301))


def test_a_big_image_is_refused_offline(tmp_path: Path, clock: FakeClock) -> None:
    connector, _fake = build(tmp_path, clock)
    big = dataclasses.replace(
        media_item(tmp_path, "big.png", png_bytes(), "image/png", "grande"), size=2_500_000
    )
    post = dataclasses.replace(outgoing("text", tmp_path, due_at=clock.now()), media=(big,))
    assert any("2000000" in problem.message for problem in connector.check(post))


def test_a_rate_limit_waits_for_the_announced_reset(tmp_path: Path, clock: FakeClock) -> None:
    connector, fake = build(tmp_path, clock)
    fake.fail_next_create("rate_limited")
    with pytest.raises(RateLimited) as limited:
        connector.publish(outgoing("text", tmp_path, due_at=clock.now()))
    assert limited.value.until == clock.now() + timedelta(minutes=5)


def test_a_revoked_app_password_pauses_the_account(tmp_path: Path, clock: FakeClock) -> None:
    fake = BlueskyFake(clock)
    fake.expire_credentials()
    connector = BlueskyConnector(settings(tmp_path), clock, transport=HttpxWsgiTransport(fake))
    with pytest.raises(AuthExpired, match="app password"):
        connector.publish(outgoing("text", tmp_path, due_at=clock.now()))
    assert PDS.startswith("https://")


def test_long_links_are_shown_short_and_kept_whole_in_their_facet(
    tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = build(tmp_path, clock)
    link = "https://www.example.org/agenda/heure-du-conte?utm_source=bluesky&utm_medium=social"
    post = dataclasses.replace(
        outgoing("text", tmp_path, due_at=clock.now(), text="L'heure du conte 📚"), link=link
    )
    rendered = connector.render(post)
    assert rendered.text == "L'heure du conte 📚\nwww.example.org/agenda/heur..."
    connector.publish(post)
    [record] = fake.created()
    [facet] = record["facets"]
    shown = record["text"].encode()[facet["index"]["byteStart"] : facet["index"]["byteEnd"]]
    assert shown.decode() == "www.example.org/agenda/heur..."
    assert facet["features"][0]["uri"] == link
