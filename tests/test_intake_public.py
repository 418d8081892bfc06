"""The patients' pre-visit questionnaire: sent anonymously, kept pending, matched and filed by staff."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.test import Client
from django.utils import timezone

from prpclinic.audit.models import AuditEvent
from prpclinic.intake.models import Screening, Submission
from prpclinic.intake.selectors import screening_blocker
from prpclinic.patients.models import Patient
from tests.conftest import Personas, make_patient
from tests.intake_helpers import form_data

URL = "/info/clinic-a/prp_scalp/screening/"


def _person(**changes: str) -> dict[str, str]:
    return {
        "given_name": "Lena",
        "family_name": "Huber",
        "date_of_birth": "1979-06-02",
        "sex": "female",
        "phone": "+43 660 1234567",
        "email": "",
        "website": "",
    } | changes


def _send(client: Client | None = None, **answers: Any) -> Any:
    return (client or Client()).post(URL, _person() | form_data("prp_scalp", **answers))


def test_a_patient_sends_the_questionnaire_without_signing_in_and_sees_nothing_back(personas: Personas) -> None:
    client = Client()
    page = client.get(URL)
    assert page.status_code == 200
    assert (
        "Before your PRP for hair loss visit at Clinic A" in page.text and "Do you smoke or use tobacco?" in page.text
    )
    response = _send(client, tobacco=True)
    assert response.status_code == 302 and response["Location"] == "/info/clinic-a/prp_scalp/screening/thanks/"
    thanks = client.get(response["Location"])
    assert thanks.status_code == 200 and "Lena" not in thanks.text and "Huber" not in thanks.text
    submission = Submission.objects.get()
    assert (submission.status, submission.patient, submission.clinic) == ("pending", None, personas.clinic_a)
    assert submission.answers["tobacco"] is True
    assert Screening.objects.count() == 0 and Patient.objects.count() == 0
    event = AuditEvent.objects.get(action="screening.questionnaire_received")
    assert event.changes == {"treatment": "prp_scalp"} and event.actor is None


def test_staff_match_a_questionnaire_to_the_patient_and_file_it_in_the_chart(
    personas: Personas, signed_in: Any
) -> None:
    patient = make_patient(personas.clinic_a, given_name="Lena", family_name="Huber", date_of_birth=dt.date(1979, 6, 2))
    make_patient(personas.clinic_a, given_name="Otto", family_name="Other", date_of_birth=dt.date(1950, 1, 1))
    _send(anticoagulants=True)
    submission = Submission.objects.get()
    nurse = signed_in("nurse")
    inbox = nurse.get("/screening/inbox/")
    assert "Huber, Lena" in inbox.text and f"/screening/inbox/{submission.pk}/" in inbox.text
    page = nurse.get(f"/screening/inbox/{submission.pk}/")
    assert f'value="{patient.pk}"' in page.text and "Other, Otto" not in page.text
    response = nurse.post(f"/screening/inbox/{submission.pk}/file/", {"patient": str(patient.pk)})
    screening = Screening.objects.get(patient=patient)
    assert response.status_code == 302 and response["Location"] == f"/screening/{screening.pk}/"
    assert (screening.source, screening.result, screening.recorded_by) == (
        "questionnaire",
        "needs_review",
        personas.nurse,
    )
    submission.refresh_from_db()
    assert (submission.status, submission.patient, submission.screening) == ("filed", patient, screening)
    assert "Huber, Lena" not in nurse.get("/screening/inbox/").text
    assert "awaits a physician's review" in screening_blocker(
        clinic_id=personas.clinic_a.pk, patient_id=patient.pk, treatment="prp_scalp"
    )
    assert nurse.post(f"/screening/inbox/{submission.pk}/file/", {"patient": str(patient.pk)}).status_code == 400


def test_filing_can_register_the_sender_as_a_new_patient(personas: Personas, signed_in: Any) -> None:
    _send()
    submission = Submission.objects.get()
    response = signed_in("physician").post(f"/screening/inbox/{submission.pk}/file/", {"patient": "new"})
    assert response.status_code == 302
    patient = Patient.objects.get(clinic=personas.clinic_a)
    assert (patient.given_name, patient.family_name, patient.date_of_birth, patient.phone) == (
        "Lena",
        "Huber",
        dt.date(1979, 6, 2),
        "+43 660 1234567",
    )
    assert screening_blocker(clinic_id=personas.clinic_a.pk, patient_id=patient.pk, treatment="prp_scalp") is None


def test_the_inbox_search_is_a_post_and_finds_patients_by_name(personas: Personas, signed_in: Any) -> None:
    make_patient(personas.clinic_a, given_name="Lena", family_name="Huber-Maier", date_of_birth=dt.date(1980, 1, 1))
    _send()
    submission = Submission.objects.get()
    page = signed_in("nurse").post(f"/screening/inbox/{submission.pk}/", {"q": "huber-maier"})
    assert page.status_code == 200 and "Huber-Maier, Lena" in page.text


def test_bad_input_on_the_public_form_gives_messages_and_saves_nothing(personas: Personas) -> None:
    data = _person(date_of_birth=(timezone.localdate() + dt.timedelta(days=2)).isoformat(), phone="") | form_data(
        "prp_scalp"
    )
    del data["septicemia"]
    response = Client().post(URL, data)
    assert response.status_code == 400
    assert "The date of birth cannot be in the future." in response.text
    assert "Give a phone number or an e-mail address so that we can reach you." in response.text
    assert '<ul class="errorlist" id="id_septicemia_error"><li>Answer yes or no.</li>' in response.text
    assert Submission.objects.count() == 0


def test_a_bot_filling_the_hidden_field_sees_the_thank_you_page_and_nothing_is_stored(personas: Personas) -> None:
    response = Client().post(URL, _person(website="http://spam.example") | form_data("prp_scalp"))
    assert response.status_code == 302
    assert Submission.objects.count() == 0


def test_a_flood_from_one_sender_is_refused_after_five_an_hour(personas: Personas) -> None:
    client = Client()
    for _ in range(5):
        assert _send(client).status_code == 302
    refused = _send(client)
    assert refused.status_code == 400 and "Too many questionnaires were sent just now." in refused.text
    assert Submission.objects.count() == 5


def test_an_oversized_post_is_refused_unread(personas: Personas) -> None:
    response = Client().post(URL, _person(family_name="x" * 40_000) | form_data("prp_scalp"))
    assert response.status_code == 413 and Submission.objects.count() == 0


def test_an_unknown_clinic_or_treatment_answers_404(personas: Personas) -> None:
    assert Client().get("/info/no-such-clinic/prp_scalp/screening/").status_code == 404
    assert Client().get("/info/clinic-a/botox/screening/").status_code == 404


def test_a_discarded_questionnaire_is_kept_with_who_and_why(personas: Personas, signed_in: Any) -> None:
    _send()
    submission = Submission.objects.get()
    nurse = signed_in("nurse")
    assert nurse.post(f"/screening/inbox/{submission.pk}/discard/", {"reason": ""}).status_code == 400
    response = nurse.post(f"/screening/inbox/{submission.pk}/discard/", {"reason": "Sent twice"})
    assert response.status_code == 302
    submission.refresh_from_db()
    assert (submission.status, submission.discard_reason, submission.handled_by) == (
        "discarded",
        "Sent twice",
        personas.nurse,
    )
    assert "Huber" not in nurse.get("/screening/inbox/").text
    assert AuditEvent.objects.filter(action="screening.questionnaire_discarded").count() == 1


def test_another_clinic_cannot_see_or_file_the_questionnaire(personas: Personas, signed_in: Any) -> None:
    _send()
    submission = Submission.objects.get()
    other = signed_in("other_physician")
    assert "Huber" not in other.get("/screening/inbox/").text
    assert other.get(f"/screening/inbox/{submission.pk}/").status_code == 404
    assert other.post(f"/screening/inbox/{submission.pk}/file/", {"patient": "new"}).status_code == 404
