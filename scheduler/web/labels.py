"""Words for the queue's states and timings, marked for the catalogues."""

from __future__ import annotations

from scheduler.i18n import N_, Translator

STATE_LABELS = {
    "pending_approval": N_("waiting for the editor"),
    "approved": N_("approved"),
    "scheduled": N_("scheduled"),
    "claimed": N_("going out"),
    "sending": N_("going out"),
    "handed_over": N_("handed over"),
    "published": N_("published"),
    "retry_wait": N_("will be tried again"),
    "failed": N_("failed"),
    "unknown": N_("being checked"),
    "needs_attention": N_("needs a person"),
    "held": N_("held"),
    "missed": N_("missed"),
    "cancelled": N_("cancelled"),
    "rejected": N_("rejected"),
}
# How connectors count a text (RenderedText.counted_as).
UNIT_LABELS = {
    "characters": N_("characters"),
    "characters as X counts them": N_("characters as X counts them"),
    "HTML characters": N_("HTML characters"),
    "bytes": N_("bytes"),
}
ROLE_LABELS = {
    "contributor": N_("contributor"),
    "editor": N_("editor"),
    "admin": N_("administrator"),
}


def state_label(t: Translator, state: str) -> str:
    """A state as people read it; a state added later shows by its name until translated."""
    label = STATE_LABELS.get(state)
    return t.gettext(label) if label else state.replace("_", " ")


def unit_label(t: Translator, unit: str) -> str:
    label = UNIT_LABELS.get(unit)
    return t.gettext(label) if label else unit
