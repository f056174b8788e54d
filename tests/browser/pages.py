"""What the browser stories do on a page: log in, tab to a control, run axe-core."""

from __future__ import annotations

from typing import Any

from tests.browser.site import AXE, PASSWORD

SERIOUS = ("serious", "critical")


def log_in(page: Any, url: str, name: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{url}/calendar")


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core run in the page: the serious and critical WCAG violations it finds."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    assert page.evaluate("() => axe.version") == "4.14.1"
    violations: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""
    )
    return [v for v in violations if v["impact"] in SERIOUS]


def tab_to(page: Any, *texts: str, limit: int = 120) -> None:
    """Press Tab until the focused element's text (or value) contains every one of ``texts``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => (document.activeElement.innerText || document.activeElement.value || '')"
        )
        if all(text in focused for text in texts):
            return
    raise AssertionError(f"Tab never reached {texts!r}")
