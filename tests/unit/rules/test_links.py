"""Links: UTM tags on the library's own sites, and blog first, then social."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from scheduler.app import App
from scheduler.delivery.editor import list_deliveries
from scheduler.rules.links import LinksConfig, LinkTagger
from tests.support import FakeClock, drop, make_app

LINKS = {"utm_domains": ["example.org"], "utm_sources": {"twitter": "x"}}
tagger = LinkTagger(config=LinksConfig.model_validate(LINKS))


def test_own_sites_are_tagged_per_platform_and_others_left_alone() -> None:
    tagged = tagger.tag(
        "https://catalogue.example.org/notice/1?lang=fr", account="facebook", campaign="Escalade"
    )
    assert tagged is not None
    assert parse_qs(urlsplit(tagged).query) == {
        "lang": ["fr"],
        "utm_source": ["facebook"],
        "utm_medium": ["social"],
        "utm_campaign": ["escalade"],
    }
    assert "utm_source=x" in (
        tagger.tag("https://example.org/", account="twitter", campaign=None) or ""
    )
    assert tagger.tag("https://www.unige.ch/", account="facebook", campaign="c") == (
        "https://www.unige.ch/"
    )
    assert tagger.tag("https://example.org/?utm_source=mail", account="facebook", campaign="c") == (
        "https://example.org/?utm_source=mail"
    )
    assert tagger.tag("https://notexample.org/", account="facebook", campaign="c") == (
        "https://notexample.org/"
    )


POST = """\
library: redaction
author: communication
title: Escalade
text: La marmite !
link: https://www.example.org/agenda/escalade
campaign: Escalade 2026
to: [facebook, twitter]
"""


def test_queued_links_carry_the_tags_of_their_account(tmp_path: Path) -> None:
    app = make_app(tmp_path, FakeClock(), links=LINKS)
    drop(app.config, "redaction/escalade.yaml", POST)
    app.intake().scan()
    app.dispatcher().run_due()
    sent = {
        account: json.loads((tmp_path / "out" / f"{account}.jsonl").read_text())["link"]
        for account in ("facebook", "twitter")
    }
    assert sent["facebook"].endswith(
        "utm_source=facebook&utm_medium=social&utm_campaign=escalade-2026"
    )
    assert "utm_source=x&" in sent["twitter"]


ARTICLE = """\
id: chronique-film
library: redaction
author: communication
title: Un film pour les longues soirées
text: Deux heures de cinéma.
to: [blog]
"""
ANNOUNCE = """\
library: redaction
author: communication
text: Notre chronique de la semaine est en ligne !
announces: chronique-film
to: [facebook]
"""


def test_an_announcement_waits_for_its_blog_article_and_links_to_it(tmp_path: Path) -> None:
    clock = FakeClock()
    app: App = make_app(tmp_path, clock, links={"utm_domains": ["localhost"]})
    drop(app.config, "redaction/annonce.yaml", ANNOUNCE)
    app.intake().scan()
    [waiting] = list_deliveries(app.sessions, zone=app.config.zone)
    assert waiting.state == "approved"
    assert waiting.reason == "waits for the blog article of post 'chronique-film' to be published"

    drop(app.config, "redaction/chronique.yaml", ARTICLE)
    app.intake().scan()
    app.dispatcher().run_due()  # the article goes out first
    assert app.placement().place_approved() == 1
    app.dispatcher().run_due()
    rows = {row.account: row for row in list_deliveries(app.sessions, zone=app.config.zone)}
    assert rows["blog"].state == rows["facebook"].state == "published"
    [line] = (tmp_path / "out" / "facebook.jsonl").read_text().splitlines()
    link = json.loads(line)["link"]
    assert rows["blog"].url is not None and link.startswith(rows["blog"].url)
    assert "utm_source=facebook" in link


def test_campaign_slugs_keep_accented_letters_readable() -> None:
    from scheduler.rules.links import campaign_slug

    assert campaign_slug("Printemps des poètes 2027") == "printemps-des-poetes-2027"
    assert campaign_slug("Œuvres d'Ève à Genève — Straße") == "oeuvres-d-eve-a-geneve-strasse"
    assert campaign_slug("Fête de l'Escalade") == "fete-de-l-escalade"
