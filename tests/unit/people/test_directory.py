"""The directory of people: one place, checked writes, Argon2 passwords, feed tokens."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from scheduler.app import App
from scheduler.db.models import PersonRow
from scheduler.delivery.transitions import transaction
from scheduler.people.directory import Directory, PersonError
from scheduler.people.passwords import WeakPassword
from scheduler.people.person import Role


def directory_of(app: App) -> Directory:
    return Directory(
        sessions=app.sessions,
        clock=app.clock,
        known_libraries=tuple(app.config.libraries),
        default_language=app.config.language,
    )


def test_add_get_list_by_role_and_library(any_app: App) -> None:
    people = directory_of(any_app)
    marie = people.add("marie", role=Role.CONTRIBUTOR, libraries=["eaux-vives"])
    people.add("paul", role=Role.EDITOR, display_name="Paul Martin", email="paul@example.org")
    assert marie.language == "fr" and marie.libraries == ("eaux-vives",)
    assert [p.name for p in people.list()] == ["marie", "paul"]
    assert people.get("paul") is not None and people.get("paul").display_name == "Paul Martin"  # type: ignore[union-attr]
    assert [p.name for p in people.by_role(Role.EDITOR)] == ["paul"]
    assert [p.name for p in people.by_library("eaux-vives")] == ["marie"]
    assert people.get("nobody") is None


def test_writes_are_checked(app: App) -> None:
    people = directory_of(app)
    with pytest.raises(PersonError, match="unknown library"):
        people.add("x", role=Role.CONTRIBUTOR, libraries=["atlantis"])
    with pytest.raises(PersonError, match="at least one --library"):
        people.add("y", role=Role.CONTRIBUTOR)
    with pytest.raises(PersonError, match="not a login name"):
        people.add("Jean Dupont", role=Role.EDITOR)
    with pytest.raises(PersonError, match="relais speaks"):
        people.add("z", role=Role.EDITOR, language="de")
    people.add("paul", role=Role.EDITOR)
    with pytest.raises(PersonError, match="exists already"):
        people.add("paul", role=Role.ADMIN)


def test_a_notify_url_never_holds_a_secret_in_clear(app: App) -> None:
    people = directory_of(app)
    with pytest.raises(PersonError, match="holds a password"):
        people.add("a", role=Role.EDITOR, notify_url="mailtos://relais:hunter22@mail.example.org")
    kept = people.add(
        "b", role=Role.EDITOR, notify_url="mailtos://relais:{SMTP_PASSWORD}@mail.example.org"
    )
    assert kept.notify_url == "mailtos://relais:{SMTP_PASSWORD}@mail.example.org"


def test_update_changes_only_what_is_given(app: App) -> None:
    people = directory_of(app)
    people.add("marie", role=Role.CONTRIBUTOR, libraries=["eaux-vives"], email="m@example.org")
    changed = people.update("marie", language="en", digest=True)
    assert (changed.language, changed.digest, changed.email) == ("en", True, "m@example.org")
    cleared = people.update("marie", email=None, role=Role.EDITOR, libraries=[])
    assert cleared.email is None and cleared.is_editor and cleared.libraries == ()
    with pytest.raises(PersonError, match="no person"):
        people.update("nobody", digest=True)


def test_passwords_are_argon2_and_verified(app: App) -> None:
    people = directory_of(app)
    people.add("paul", role=Role.EDITOR)
    assert people.verify_password("paul", "anything at all") is None  # no password yet
    with pytest.raises(WeakPassword):
        people.set_password("paul", "short")
    people.set_password("paul", "correct horse battery")
    with transaction(app.sessions) as session:
        stored = session.scalars(select(PersonRow.password_hash)).one()
    assert stored is not None and stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    person = people.verify_password("paul", "correct horse battery")
    assert person is not None and person.has_password
    assert people.verify_password("paul", "wrong horse battery") is None
    assert people.verify_password("nobody", "correct horse battery") is None


def test_remove_and_feed_tokens(app: App) -> None:
    people = directory_of(app)
    people.add("paul", role=Role.EDITOR)
    token = people.new_feed_token("paul")
    assert people.by_feed_token(token).name == "paul"  # type: ignore[union-attr]
    renewed = people.new_feed_token("paul")
    assert people.by_feed_token(token) is None and people.by_feed_token(renewed) is not None
    people.revoke_feed_token("paul")
    assert people.by_feed_token(renewed) is None
    people.remove("paul")
    assert people.list() == []


def test_roles() -> None:
    from datetime import UTC, datetime

    from scheduler.people.person import Person

    def person(role: Role, libraries: tuple[str, ...]) -> Person:
        return Person(
            name="x", display_name="x", role=role, libraries=libraries, email=None,
            notify_url=None, language="fr", digest=False, has_password=True,
            created_at=datetime.now(UTC),
        )  # fmt: skip

    contributor = person(Role.CONTRIBUTOR, ("paquis",))
    assert contributor.writes_for("paquis") and not contributor.writes_for("cite")
    assert not contributor.is_editor
    editor = person(Role.EDITOR, ())
    assert editor.writes_for("cite") and editor.is_editor and not editor.is_admin
    assert person(Role.ADMIN, ()).is_admin
