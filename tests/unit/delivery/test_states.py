"""The state machine as data: what it allows, what it refuses, and how it says so."""

from __future__ import annotations

import itertools

import pytest

from scheduler.delivery.states import (
    FINAL,
    TOUCHED,
    TRANSITIONS,
    UNSENT,
    IllegalTransition,
    State,
    check_transition,
)

# States from which dispatch would send again.
SENDS_AGAIN = {State.SCHEDULED, State.CLAIMED, State.RETRY_WAIT}


def test_every_listed_transition_is_allowed() -> None:
    for current, targets in TRANSITIONS.items():
        for wanted in targets:
            check_transition("d-1", current, wanted)


def test_every_other_transition_is_refused_naming_the_delivery_and_both_states() -> None:
    refused = [
        (current, wanted)
        for current, wanted in itertools.product(State, State)
        if wanted not in TRANSITIONS[current]
    ]
    assert refused
    for current, wanted in refused:
        with pytest.raises(IllegalTransition) as raised:
            check_transition("d-42", current, wanted)
        assert (raised.value.current, raised.value.wanted) == (current, wanted)
        assert str(raised.value) == f"delivery d-42 cannot go from {current} to {wanted}"


def test_what_may_have_reached_the_platform_is_never_sent_again_blindly() -> None:
    # A person sends such a post again (needs_attention -> approved, `relais retry`); the one
    # exception is unknown -> scheduled, which dispatch takes once, and only after a look-up
    # that the connector declares authoritative said "never created" (test_dispatcher.py:
    # test_an_authoritative_never_created_is_sent_again_once_by_itself and the next test).
    assert not TRANSITIONS[State.HANDED_OVER] & SENDS_AGAIN
    assert TRANSITIONS[State.UNKNOWN] & SENDS_AGAIN == {State.SCHEDULED}
    for state in (State.UNKNOWN, State.HANDED_OVER):
        assert State.APPROVED not in TRANSITIONS[state], state
    # From sending, only a definite "not sent" (a refusal to retry) waits for another try.
    assert TRANSITIONS[State.SENDING] & SENDS_AGAIN == {State.RETRY_WAIT}


def test_a_claim_goes_back_but_a_send_does_not() -> None:
    assert State.SCHEDULED in TRANSITIONS[State.CLAIMED]
    assert State.SCHEDULED not in TRANSITIONS[State.SENDING]
    assert TRANSITIONS[State.SCHEDULED] & {State.SENDING, State.PUBLISHED} == set()


def test_the_groups_of_states_agree_with_the_machine() -> None:
    assert set(TRANSITIONS) == set(State)
    assert not UNSENT & TOUCHED
    for state in FINAL - {State.FAILED, State.REJECTED}:
        assert TRANSITIONS[state] == frozenset(), state  # nothing more happens to these
    # A person's second chance: failed is sent again, rejected comes back for approval.
    assert TRANSITIONS[State.FAILED] == {State.APPROVED}
    assert TRANSITIONS[State.REJECTED] == {State.PENDING_APPROVAL}
