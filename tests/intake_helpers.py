"""Form data for the screening pages (shared by the intake tests)."""

from __future__ import annotations

from typing import Any

from prpclinic.intake import rules
from tests.factories_intake import eligible_answers


def form_data(treatment: str, **answers: Any) -> dict[str, str]:
    """What a filled-in questionnaire posts: harmless answers, changed by ``answers`` (bool/date/str)."""
    data: dict[str, str] = {}
    merged = eligible_answers(treatment) | answers
    for question in rules.questions_for(treatment):
        value = merged.get(question.key)
        if question.kind == "yes_no":
            if value is not None:
                data[question.key] = "yes" if value else "no"
        elif question.kind == "lab":
            if value:
                data[question.key] = str(value["value"])
                data[f"{question.key}_date"] = str(value["date"])
        elif value:
            data[question.key] = str(value)
    return data
