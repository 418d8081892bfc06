"""Which status an appointment may move to from which: one table, pure Python, no Django import.

booked -> checked in -> in treatment -> completed; a booked or checked-in appointment may instead
end as a no-show or be cancelled (each with a reason). Completed, no-show and cancelled are final:
a patient who comes after all gets a new appointment, so the record of the missed one stays.
"""

from __future__ import annotations

BOOKED = "booked"
CHECKED_IN = "checked_in"
IN_TREATMENT = "in_treatment"
COMPLETED = "completed"
NO_SHOW = "no_show"
CANCELLED = "cancelled"

ALLOWED: dict[str, frozenset[str]] = {
    BOOKED: frozenset({CHECKED_IN, NO_SHOW, CANCELLED}),
    CHECKED_IN: frozenset({IN_TREATMENT, NO_SHOW, CANCELLED}),
    IN_TREATMENT: frozenset({COMPLETED}),
    COMPLETED: frozenset(),
    NO_SHOW: frozenset(),
    CANCELLED: frozenset(),
}

# Moves that need a written reason.
NEEDS_REASON: frozenset[str] = frozenset({NO_SHOW, CANCELLED})

LABELS: dict[str, str] = {
    BOOKED: "booked",
    CHECKED_IN: "checked in",
    IN_TREATMENT: "in treatment",
    COMPLETED: "completed",
    NO_SHOW: "a no-show",
    CANCELLED: "cancelled",
}


def can_move(current: str, target: str) -> bool:
    """True when an appointment in ``current`` may become ``target``."""
    return target in ALLOWED.get(current, frozenset())


def refusal(current: str, target: str) -> str | None:
    """The sentence shown when the move is not allowed; None when it is."""
    if can_move(current, target):
        return None
    if not ALLOWED.get(current):
        return f"This appointment is {LABELS.get(current, current)}: its status can no longer change."
    return f"An appointment that is {LABELS.get(current, current)} cannot become {LABELS.get(target, target)}."


def next_actions(current: str) -> list[str]:
    """The statuses offered as actions on the appointment page, in the order of a visit's day."""
    order = [CHECKED_IN, IN_TREATMENT, COMPLETED, NO_SHOW, CANCELLED]
    return [status for status in order if can_move(current, status)]
