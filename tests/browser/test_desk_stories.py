"""The desk in Debian's chromium: the stories of issue 14, point 8, and axe-core on every
page. Screenshots go to $RELAIS_DESK_SCREENSHOTS when set (`make screenshots`)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scheduler.db.models import Delivery, DeliveryEvent
from scheduler.delivery.transitions import transaction
from tests.browser.pages import log_in, serious_violations, tab_to
from tests.browser.site import Site, full_day, local, pending_with_picture
from tests.unit.web.desk_support import tiny_png


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    opened = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="fr-CH")
    dialogs: list[str] = []
    opened.on("page", lambda page: page.on("dialog", lambda d: dialogs.append(d.message)))
    yield opened
    opened.close()
    assert not dialogs, f"a script ran in the page: {dialogs}"


def shoot(page: Any, name: str, tmp_path: Path) -> None:
    target = Path(os.environ.get("RELAIS_DESK_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"{name}.png"), full_page=True)


def states(site: Site, key_part: str) -> set[str]:
    with transaction(site.app.sessions) as session:
        rows = session.query(Delivery).all()
        return {d.state for d in rows if key_part in d.post.key}


def events(site: Site, key_part: str) -> list[DeliveryEvent]:
    with transaction(site.app.sessions) as session:
        found = [
            event
            for delivery in session.query(Delivery).all()
            if key_part in delivery.post.key
            for event in session.query(DeliveryEvent).filter_by(delivery_id=delivery.id)
        ]
        session.expunge_all()
        return found


def test_contributor_writes_a_post_with_a_picture_and_sees_it_pending(
    site: Site, context: Any, tmp_path: Path
) -> None:
    page = context.new_page()
    log_in(page, site.url, "marie")
    page.click("text=Écrire une publication")
    page.fill("#title", "Heure du conte d'hiver")
    page.fill("#text", "Des histoires d'hiver pour les 4-8 ans, mercredi à 10 h.")
    picture = tmp_path / "conteuse.png"
    picture.write_bytes(tiny_png(12, 8))
    page.set_input_files("#picture_0", str(picture))
    page.fill("#alt_0", "Une conteuse et des enfants assis en cercle")
    page.check("input[name=to][value=facebook]")
    page.check("input[name=to][value=twitter]")
    page.check("input[name=when][value=at]")
    page.fill("#at", f"{site.day(1).isoformat()}T16:00")
    page.click("button[value=check]")
    assert "Ce que chaque compte recevra" in page.content()
    assert "Conservée : conteuse.png" in page.inner_text("form.post-form")
    assert serious_violations(page) == []
    shoot(page, "write", tmp_path)
    page.click("button[value=save]")
    page.wait_for_url(f"{site.url}/mine")
    assert "Enregistrée" in page.inner_text(".flash")
    [saved] = (site.app.config.inbox_dir / "eaux-vives").glob("*heure-du-conte*.yaml")
    old = saved.stat().st_mtime - 60
    os.utime(saved, (old, old))  # settled, as intake wants a finished file
    report = site.app.intake().scan()
    assert report.queued and not report.rejected, report
    page.goto(f"{site.url}/calendar?view=week&day={site.day(1).isoformat()}")
    entry = page.locator(".entry", has_text="Heure du conte d'hiver").first
    assert "attend l'éditeur" in entry.inner_text()
    page.goto(f"{site.url}/mine")
    assert "Heure du conte d'hiver" in page.inner_text("table.posts")
    assert serious_violations(page) == []


def test_editor_approves_from_the_queue_and_reads_why_a_move_is_held(
    site: Site, context: Any, tmp_path: Path
) -> None:
    key = pending_with_picture(site, "lecture-contes", "Lecture de contes au parc.")
    full, moved_id = full_day(site)
    page = context.new_page()
    log_in(page, site.url, "paul")
    page.click("text=En attente de l'éditeur")
    article = page.locator("article.post", has_text="lecture-contes")
    assert article.locator("img[alt='Des enfants écoutent une conteuse']").count() == 2
    assert "sur 280 au plus" in article.inner_text()  # X's limit, counted by X's rules
    assert serious_violations(page) == []
    shoot(page, "queue", tmp_path)
    with page.expect_navigation():
        article.locator("button", has_text="Approuver sur tous les comptes").click()
    assert "fait" in page.inner_text(".flash")
    assert states(site, key) == {"scheduled"}
    page.goto(f"{site.url}/delivery/{moved_id}")
    page.fill(f"#when-{moved_id}", f"{full.isoformat()}T15:00")
    with page.expect_navigation():
        page.click(f"form:has(#when-{moved_id}) button")
    flashed = page.inner_text(".flash")
    assert "facebook : retenue" in flashed and "daily_cap" in flashed, flashed
    with transaction(site.app.sessions) as session:
        moved = session.get(Delivery, moved_id)
        # A fixed time on a full day is not rolled elsewhere: it is held for the editor.
        assert moved is not None and moved.state == "held"
        assert moved.due_at == local(full, 15)
        actors = {e.actor for e in session.query(DeliveryEvent).filter_by(delivery_id=moved_id)}
    assert "paul" in actors
    assert serious_violations(page) == []
    shoot(page, "delivery", tmp_path)


def test_a_contributors_approval_is_refused(site: Site, context: Any) -> None:
    key = pending_with_picture(site, "refus", "Un post à approuver.", day_offset=4)
    page = context.new_page()
    log_in(page, site.url, "marie")
    page.goto(f"{site.url}/queue")
    assert page.locator("button", has_text="Approuver").count() == 0
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    answer = page.evaluate(
        """async ([csrf, ref]) => {
            const body = new URLSearchParams({csrf, ref});
            const r = await fetch('/act/approve', {method: 'POST', body});
            return {status: r.status, text: await r.text()};
        }""",
        [csrf, key],
    )
    assert answer["status"] == 403 and "éditeur" in answer["text"]
    assert states(site, key) == {"pending_approval"}


def test_html_in_a_post_stays_text(site: Site, context: Any) -> None:
    hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script><b>gras</b>'
    key = pending_with_picture(site, "hostile", hostile, day_offset=6)
    page = context.new_page()
    log_in(page, site.url, "paul")
    page.goto(f"{site.url}/queue")
    article = page.locator("article.post", has_text="hostile")
    assert hostile in article.locator(".sends").first.inner_text()
    assert article.locator(".sends b, .sends script, .sends img").count() == 0
    with transaction(site.app.sessions) as session:
        [delivery_id] = [d.id for d in session.query(Delivery) if d.post.key == key][:1]
    page.goto(f"{site.url}/delivery/{delivery_id}")
    assert hostile in page.inner_text(".sends")


def test_the_desk_works_with_the_keyboard_alone(site: Site, context: Any) -> None:
    key = pending_with_picture(site, "clavier", "Approuvée au clavier.", day_offset=7)
    page = context.new_page()
    page.goto(f"{site.url}/login")
    page.keyboard.type("paul")  # the name field has the focus
    page.keyboard.press("Tab")
    page.keyboard.type("mot de passe de test")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/calendar")
    tab_to(page, "En attente de l'éditeur")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/queue")
    tab_to(page, "Approuver sur tous les comptes", "clavier")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "pending_approval" not in states(site, key)
    assert {e.actor for e in events(site, key) if e.to_state == "approved"} == {"paul"}


def test_every_page_passes_axe_and_is_shot(site: Site, context: Any, tmp_path: Path) -> None:
    page = context.new_page()
    page.goto(f"{site.url}/login")
    assert serious_violations(page) == []
    shoot(page, "login", tmp_path)
    log_in(page, site.url, "paul")
    pages = {
        "calendar-month": "/calendar",
        "calendar-week": f"/calendar?view=week&day={site.day(3).isoformat()}",
        "calendar-filtered": "/calendar?library=cite&state=scheduled",
        "mine": "/mine",
        "settings": "/settings",
        "queue-empty-or-not": "/queue",
    }
    found: dict[str, list[dict[str, Any]]] = {}
    for name, path in pages.items():
        page.goto(site.url + path)
        found[name] = serious_violations(page)
        if not re.search(r"filtered|empty", name):
            shoot(page, name, tmp_path)
    assert found == {name: [] for name in pages}


def test_filters_apply_on_change_and_the_admin_page_passes_axe(
    site: Site, context: Any, tmp_path: Path
) -> None:
    page = context.new_page()
    log_in(page, site.url, "anne")
    page.select_option("#f-library", "cite")  # htmx refreshes the content, no button
    page.wait_for_url(re.compile(r".*library=cite.*"))
    libraries = {text.strip() for text in page.locator(".entry .lib").all_inner_texts()}
    assert libraries <= {"Bibliothèque de la Cité"} and libraries
    assert serious_violations(page) == []
    page.goto(f"{site.url}/admin")
    assert "Anne" in page.inner_text("table.posts")
    assert serious_violations(page) == []
    shoot(page, "admin", tmp_path)
