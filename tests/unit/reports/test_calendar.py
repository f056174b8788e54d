"""The editorial calendar as iCalendar: one event per delivery, read back with icalendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event

from scheduler.app import App
from scheduler.db.models import Delivery, Post
from scheduler.delivery.transitions import transaction
from scheduler.reports.calendar import calendar_ics
from tests.support import FakeClock, make_app, queue_delivery

ZONE = ZoneInfo("Europe/Zurich")
START = datetime(2026, 12, 1, tzinfo=UTC)
END = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(tmp_path: Path, clock: FakeClock) -> App:
    return make_app(tmp_path, clock)


def queue(
    app: App,
    *,
    due_at: datetime,
    key: str,
    account: str = "facebook",
    state: str = "scheduled",
    title: str | None = "Titre",
    text: str = "Bonjour",
    url: str | None = None,
) -> str:
    """A delivery in any state (queue_delivery gives a scheduled one of library redaction)."""
    delivery_id = queue_delivery(app, account=account, due_at=due_at, key=key, text=text)
    with transaction(app.sessions) as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        # Set directly, not through change_state: the calendar reads states, whatever the path.
        delivery.state = state
        delivery.url = url
        post = session.get(Post, delivery.post_id)
        assert post is not None
        post.title = title
    return delivery_id


def events(app: App, **window: datetime) -> list[Event]:
    ics = calendar_ics(
        app.sessions, zone=ZONE, start=window.get("start", START), end=window.get("end", END)
    )
    return Calendar.from_ical(ics).events


def test_the_calendar_names_itself_and_its_zone(app: App) -> None:
    ics = calendar_ics(app.sessions, zone=ZONE, start=START, end=END, name="Bibliothèques")

    calendar = Calendar.from_ical(ics)
    assert str(calendar["VERSION"]) == "2.0"
    assert "relais" in str(calendar["PRODID"])
    assert str(calendar["X-WR-CALNAME"]) == "Bibliothèques"
    assert str(calendar["X-WR-TIMEZONE"]) == "Europe/Zurich"
    assert list(calendar.walk("VEVENT")) == []


def test_one_event_per_delivery_with_its_details(app: App, clock: FakeClock) -> None:
    due = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)
    clock.advance(hours=1)
    delivery_id = queue(
        app,
        due_at=due,
        key="redaction/escalade",
        title="Goûter de l'Escalade",
        text="Venez nombreux, mercredi, à la bibliothèque.",
        state="published",
        url="https://example.org/p/1",
    )

    (event,) = events(app)

    assert str(event["UID"]) == f"{delivery_id}@relais"
    assert event.decoded("DTSTART") == due
    assert event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert event["DTSTART"].to_ical() == b"20261209T090000Z"
    assert event.decoded("DURATION") == timedelta(minutes=15)
    assert event.decoded("DTSTAMP") == datetime(2026, 12, 9, 10, 0, tzinfo=UTC)
    assert str(event["SUMMARY"]) == "[facebook] Goûter de l'Escalade (redaction)"
    assert event.categories == ["redaction", "facebook"]
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["URL"]) == "https://example.org/p/1"
    description = str(event["DESCRIPTION"])
    for part in (
        "redaction/escalade",
        "Library: redaction",
        "Account: facebook",
        "State: published",
        "Venez nombreux, mercredi, à la bibliothèque.",
        "https://example.org/p/1",
    ):
        assert part in description


def test_without_a_title_the_summary_is_the_start_of_the_text(app: App) -> None:
    text = "Nouveaux horaires\npour les fêtes : la bibliothèque ferme à 16 h les 24 et 31."
    queue(app, due_at=datetime(2026, 12, 9, 9, 0, tzinfo=UTC), key="a/b", title=None, text=text)

    (event,) = events(app)

    start = "Nouveaux horaires pour les fêtes : la bibliothèque ferme à 1"
    assert len(start) == 60
    assert str(event["SUMMARY"]) == f"[facebook] {start} (redaction)"
    assert "URL" not in event


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("pending_approval", "TENTATIVE"),
        ("approved", "TENTATIVE"),
        ("held", "TENTATIVE"),
        ("scheduled", "CONFIRMED"),
        ("sending", "CONFIRMED"),
        ("retry_wait", "CONFIRMED"),
        ("unknown", "CONFIRMED"),
        ("published", "CONFIRMED"),
        ("missed", "CANCELLED"),
        ("failed", "CANCELLED"),
    ],
)
def test_the_status_says_what_became_of_the_delivery(app: App, state: str, status: str) -> None:
    queue(app, due_at=datetime(2026, 12, 9, 9, 0, tzinfo=UTC), key="a/b", state=state)

    (event,) = events(app)

    assert str(event["STATUS"]) == status


@pytest.mark.parametrize("state", ["cancelled", "rejected"])
def test_withdrawn_deliveries_are_left_out(app: App, state: str) -> None:
    queue(app, due_at=datetime(2026, 12, 9, 9, 0, tzinfo=UTC), key="gone/post", state=state)
    kept = queue(app, due_at=datetime(2026, 12, 9, 10, 0, tzinfo=UTC), key="kept/post")

    assert [str(event["UID"]) for event in events(app)] == [f"{kept}@relais"]


def test_only_deliveries_due_in_the_window(app: App) -> None:
    start = datetime(2026, 12, 9, tzinfo=UTC)
    end = datetime(2026, 12, 10, tzinfo=UTC)
    queue(app, due_at=start - timedelta(minutes=1), key="a/before")
    first = queue(app, due_at=start, key="b/first")
    last = queue(app, due_at=end - timedelta(minutes=1), key="c/last")
    queue(app, due_at=end, key="d/at-end")

    uids = [str(event["UID"]) for event in events(app, start=start, end=end)]

    assert uids == [f"{first}@relais", f"{last}@relais"]


def test_the_same_queue_gives_the_same_bytes(app: App, clock: FakeClock) -> None:
    for hour, account in [(9, "twitter"), (9, "facebook"), (12, "blog")]:
        queue(
            app,
            due_at=datetime(2026, 12, 9, hour, 0, tzinfo=UTC),
            key=f"{account}/post",
            account=account,
        )

    first = calendar_ics(app.sessions, zone=ZONE, start=START, end=END)
    clock.advance(hours=5)  # the export's own time must not show in it
    second = calendar_ics(app.sessions, zone=ZONE, start=START, end=END)

    assert first == second
    summaries = [str(event["SUMMARY"]) for event in Calendar.from_ical(first).walk("VEVENT")]
    assert [summary.split("]")[0] for summary in summaries] == ["[facebook", "[twitter", "[blog"]


def test_a_naive_window_is_refused(app: App) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        calendar_ics(app.sessions, zone=ZONE, start=datetime(2026, 12, 1), end=END)
