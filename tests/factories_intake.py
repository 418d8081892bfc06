"""Test factory of the intake app: a real screening, evaluated by the rules, that finds the patient eligible."""

from __future__ import annotations

from typing import Any

from prpclinic.intake import rules


def eligible_answers(treatment: str) -> dict[str, Any]:
    """Answers that fire no rule of ``treatment``: every yes/no as the harmless answer, no drugs, no labs."""
    answers: dict[str, Any] = {}
    for question in rules.questions_for(treatment):
        if question.kind == "yes_no":
            firing = {rule.fires_on for rule in rules.rules_for(treatment) if rule.question == question.key}
            answers[question.key] = not firing.pop()
        else:
            answers[question.key] = None
    return answers


def screened_eligible(*, clinic: Any, patient: Any, treatment: str, by: Any) -> Any:
    """Record an eligible screening for ``patient`` as ``by`` through the service (audited, like staff do).

    ``by`` needs the ``screening.record`` permission (a physician or nurse); the screening is the
    one ``screening_blocker`` reads.
    """
    from prpclinic.intake.services import screening_record
    from tests.conftest import clinic_request

    request = clinic_request(by, clinic)
    screening = screening_record(
        request=request, patient_id=patient.pk, treatment=treatment, answers=eligible_answers(treatment)
    )
    assert screening.result == "eligible", screening.fired
    return screening
