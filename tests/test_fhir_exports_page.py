"""The clinic admin's exports page tells a patient-level export from a whole-clinic one."""

from __future__ import annotations

from typing import Any

import pytest

from prpclinic.fhir.models import ExportJob, ExportLevel
from tests.conftest import Personas, make_patient

pytestmark = pytest.mark.django_db


def test_exports_page_names_the_level_and_how_many_patients(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    common = {"clinic": personas.clinic_a, "request_url": "https://example.test/fhir/R4/Patient/$export"}
    ExportJob.objects.create(**common, level=ExportLevel.PATIENT, patients=[patient.pk], types=["Procedure"])
    ExportJob.objects.create(**common, level=ExportLevel.PATIENT, patients=[])
    ExportJob.objects.create(**common, level=ExportLevel.SYSTEM)
    page = signed_in("admin").get("/interop/exports/").content.decode()
    assert "Procedure (patient level: 1 patient)" in page
    assert "all (patient level: all patients)" in page
    assert page.count("patient level") == 2
