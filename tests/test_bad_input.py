"""Bad input gets a clear message next to the field, nothing is saved, markup shows as text."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from prpclinic.audit.models import AuditEvent
from prpclinic.patients.models import Patient
from tests.conftest import Personas, make_patient

VALID = {
    "given_name": "Lena",
    "family_name": "Hofer",
    "date_of_birth": "1990-06-01",
    "sex": "female",
    "phone": "",
    "email": "",
    "address": "",
    "fitzpatrick_skin_type": "",
    "allergies": "",
    "current_medications": "",
    "notes": "",
    "mrn": "",
}


def _error_next_to(page: str, field: str) -> str:
    """The error list rendered right before the field's input, as the user sees it."""
    start = page.index(f'id="id_{field}_error"')
    return page[start : page.index(f'id="id_{field}"', start)]


def _post(client: Client, **changes: str) -> tuple[int, str]:
    response = client.post("/patients/new/", VALID | changes)
    return response.status_code, response.content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("date_of_birth", "2023-02-30", "Enter a real date of birth"),
        ("date_of_birth", "2999-01-01", "cannot be in the future"),
        ("date_of_birth", "1850-01-01", "cannot be before 1900"),
        ("family_name", "H" * 81, "This is too long: at most 80 characters (it has 81)."),
        ("notes", "n" * 4001, "This is too long: at most 4000 characters (it has 4001)."),
        ("email", "not-an-address", "Enter a valid email address."),
        ("sex", "robot", "Select a valid choice."),
    ],
)
def test_bad_values_are_refused_next_to_their_field(
    field: str, value: str, message: str, personas: Personas, signed_in: Any
) -> None:
    status, page = _post(signed_in("nurse"), **{field: value})
    assert status == 400
    assert message in _error_next_to(page, field)
    assert Patient.objects.count() == 0
    assert not AuditEvent.objects.filter(action="patient.create").exists()


def test_a_duplicate_record_number_is_refused_and_nothing_is_saved(personas: Personas, signed_in: Any) -> None:
    existing = make_patient(personas.clinic_a, mrn="A000777")
    status, page = _post(signed_in("nurse"), mrn="A000777")
    assert status == 400
    assert "Record number A000777 is already used by another patient of this clinic." in _error_next_to(page, "mrn")
    assert list(Patient.objects.values_list("pk", flat=True)) == [existing.pk]


def test_the_same_record_number_is_fine_in_another_clinic(personas: Personas, signed_in: Any) -> None:
    make_patient(personas.clinic_b, mrn="A000777")
    status, _ = _post(signed_in("nurse"), mrn="A000777")
    assert status == 302


def test_a_script_tag_in_a_name_is_refused_and_shown_as_text(personas: Personas, signed_in: Any) -> None:
    status, page = _post(signed_in("nurse"), given_name="<script>alert(1)</script>")
    assert status == 400
    assert "A name may contain letters, spaces, hyphens, apostrophes and full stops only" in _error_next_to(
        page, "given_name"
    )
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert Patient.objects.count() == 0


def test_markup_in_free_text_is_stored_but_shown_as_text(personas: Personas, signed_in: Any) -> None:
    client = signed_in("nurse")
    status, _ = _post(client, notes='<img src=x onerror="alert(1)">')
    assert status == 302
    page = client.get(f"/patients/{Patient.objects.get().pk}/").content.decode()
    assert "<img src=x" not in page and "&lt;img src=x" in page


def test_names_in_other_scripts_and_with_apostrophes_are_welcome(personas: Personas, signed_in: Any) -> None:
    status, _ = _post(signed_in("nurse"), given_name="Zoë-Ann", family_name="O'Brien Yılmaz")
    assert status == 302


def test_an_edit_with_a_bad_value_changes_nothing(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a, phone="+43 1 111")
    other = make_patient(personas.clinic_a, mrn="A000900")
    response = signed_in("nurse").post(
        f"/patients/{patient.pk}/edit/", VALID | {"mrn": other.mrn, "phone": "+43 1 222"}
    )
    assert response.status_code == 400
    patient.refresh_from_db()
    assert patient.phone == "+43 1 111" and patient.mrn != other.mrn
    assert not AuditEvent.objects.filter(action="patient.update").exists()
