"""The same contract, run over every platform connector against its fake."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.base import Published
from connectors.errors import (
    Ambiguous,
    AuthExpired,
    Permanent,
    PublishError,
    RateLimited,
    Retryable,
)
from connectors.registry import KINDS
from tests.connectors import cases
from tests.connectors.contract import ErrorClass, PlatformCase, outgoing
from tests.fakes.local_files import remove_faults
from tests.support import FakeClock

CASES: list[PlatformCase] = [
    importlib.import_module(f"{cases.__name__}.{module.name}").CASE
    for module in pkgutil.iter_modules(cases.__path__)
]
EXPECTED = {
    "retryable": Retryable,
    "rate_limited": RateLimited,
    "auth_expired": AuthExpired,
    "permanent": Permanent,
    "ambiguous": Ambiguous,
}


def by_kind() -> list[tuple[PlatformCase, str]]:
    return [(case, kind) for case in CASES for kind in case.kinds]


def by_error() -> list[tuple[PlatformCase, ErrorClass]]:
    """Each platform with each class of error it can answer."""
    return [(case, error) for case in CASES for error in case.errors]


def raised_for(case: PlatformCase, error: ErrorClass) -> type[PublishError]:
    return case.raises.get(error, EXPECTED[error])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def no_fault_left() -> Iterator[None]:
    """A file-system fault that did not fire must not reach the next test."""
    yield
    remove_faults()


def test_every_connector_kind_has_its_case() -> None:
    """The suite runs over every connector, the offline ones included."""
    covered = {"facebook_page" if case.name == "facebook" else case.name for case in CASES}
    assert covered == set(KINDS)


@pytest.mark.parametrize(("case", "kind"), by_kind(), ids=lambda v: getattr(v, "name", v))
def test_a_valid_post_of_each_kind_is_created_once(
    case: PlatformCase, kind: str, tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = case.build(tmp_path, clock)
    post = outgoing(kind, tmp_path, due_at=clock.now(), title=case.title)  # type: ignore[arg-type]
    assert connector.check(post) == []
    published = connector.publish(post)
    created = fake.created()
    assert len(created) == 1
    assert published.platform_id == str(created[0]["id"])
    # Reconciliation must name the same item the publish did, not merely find something.
    found = connector.find(post)
    assert found is not None
    assert found == published


@pytest.mark.parametrize(("case", "error"), by_error(), ids=lambda v: getattr(v, "name", v))
def test_each_platform_error_maps_to_its_class(
    case: PlatformCase, error: ErrorClass, tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = case.build(tmp_path, clock)
    post = outgoing(case.kinds[0], tmp_path, due_at=clock.now(), title=case.title)
    fake.fail_next_create(error)
    with pytest.raises(raised_for(case, error)) as raised:
        connector.publish(post)
    if isinstance(raised.value, RateLimited):
        assert raised.value.until > clock.now()
    if isinstance(raised.value, Permanent):
        assert raised.value.message  # the platform's own words
    expected_created = 1 if error == "ambiguous" else 0
    assert len(fake.created()) == expected_created


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_a_lost_response_is_found_by_reconciliation(
    case: PlatformCase, tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = case.build(tmp_path, clock)
    post = outgoing(case.kinds[0], tmp_path, due_at=clock.now(), title=case.title)
    fake.fail_next_create("ambiguous")
    with pytest.raises(raised_for(case, "ambiguous")):
        connector.publish(post)
    clock.advance(minutes=3)
    found = connector.find(post)
    assert isinstance(found, Published)
    assert found.platform_id == str(fake.created()[0]["id"])
    other = dataclasses.replace(
        outgoing(case.kinds[0], tmp_path, due_at=clock.now(), title=case.title),
        text="Un autre message, jamais envoyé.",
    )
    assert connector.find(other) is None


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_dead_credentials_pause_the_account(
    case: PlatformCase, tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = case.build(tmp_path, clock)
    assert connector.verify().ok
    fake.expire_credentials()
    with pytest.raises(case.dead_credentials):
        connector.publish(outgoing(case.kinds[0], tmp_path, due_at=clock.now(), title=case.title))
    verdict = connector.verify()
    assert not verdict.ok and verdict.message


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_dead_credentials_during_reconciliation_raise_auth_expired(
    case: PlatformCase, tmp_path: Path, clock: FakeClock
) -> None:
    """``Connector.find``'s contract: dead credentials are AuthExpired (dispatch pauses the
    account and looks again after it is resumed), never retried forever as Retryable. An
    offline account has no credentials: an unusable folder is Permanent (a person looks)."""
    connector, fake = case.build(tmp_path, clock)
    post = outgoing(case.kinds[0], tmp_path, due_at=clock.now(), title=case.title)
    fake.fail_next_create("ambiguous")
    with pytest.raises(raised_for(case, "ambiguous")):
        connector.publish(post)
    fake.expire_credentials()
    clock.advance(minutes=3)
    if case.finds_without_credentials:
        found = connector.find(post)
        assert found is not None and found.platform_id == str(fake.created()[0]["id"])
        return
    with pytest.raises(case.dead_credentials) as raised:
        connector.find(post)
    assert raised.value.message


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_an_over_long_text_is_refused_offline_with_its_count(
    case: PlatformCase, tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = case.build(tmp_path, clock)
    if case.max_text_length is None:
        # A platform without a limit takes a very long text as it is.
        post = outgoing(case.kinds[0], tmp_path, due_at=clock.now(), text="é" * 100_000)
        assert connector.check(post) == []
        return
    long_text = "é" * (case.max_text_length + 1)
    post = outgoing(case.kinds[0], tmp_path, due_at=clock.now(), title=case.title, text=long_text)
    problems = connector.check(post)
    assert problems
    assert any(str(case.max_text_length) in problem.message for problem in problems)
    assert fake.created() == []


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_nothing_is_sent_by_check_or_find(
    case: PlatformCase, tmp_path: Path, clock: FakeClock
) -> None:
    connector, fake = case.build(tmp_path, clock)
    post = outgoing(case.kinds[0], tmp_path, due_at=clock.now() + timedelta(days=1))
    connector.check(post)
    assert connector.find(post) is None
    assert fake.created() == []
